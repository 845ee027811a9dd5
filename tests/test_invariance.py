"""deeplinear.invariance, chapter 03's runs started as Theorem 1 prescribes, each against an independent
reference: the library's own starts from the same draws, full gradient descent and closed forms of turned
updates. Its ensembles are tested in test_ensembles.py."""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear import aligned, data, invariance, losses, modes, network, theory, train


@pytest.mark.parametrize("kind", ["autoencoding", "factorization", "inversion"])
def test_regression_run_follows_its_budget_and_stays_aligned(kind):
    rng = np.random.default_rng(3)
    X, Y = data.regression_problem(kind, 5, 7, max_condition=20.0, rng=rng)
    ref = theory.aligned_start_on(X, Y, [5] * 4, rng=np.random.default_rng(4))
    run = invariance.regression_run(X, Y, [5] * 4, lr=0.05, steps=2000, rng=np.random.default_rng(4))
    start = invariance.witness_start(X, Y, [5] * 4, lr=0.05, rng=np.random.default_rng(4))
    for W, R in zip(start.Ws, ref):  # the same start as aligned_start_on, from the same draws
        np.testing.assert_array_equal(W, R)
    assert run.lr == start.lr <= run.edge / 2
    assert modes.orders(run.history.loss) >= run.budget_orders == start.budget_orders(2000)
    assert run.history.metrics["invariance"].min() > 1 - 1e-12


def test_regression_run_refuses_data_that_fail_the_condition():
    X, Y = data.random_regression(4, 4, rng=np.random.default_rng(5))
    with pytest.raises(ValueError, match="fail Theorem 1's condition"):
        invariance.regression_run(X, Y, [4] * 3, lr=0.01, steps=10, rng=np.random.default_rng(0))


def test_turn_share_is_zero_on_the_diagonal_and_the_off_diagonal_share_off_it():
    rng = np.random.default_rng(8)
    bases = [aligned.random_orthogonal(3, rng=rng) for _ in range(3)]
    Ws0 = aligned.aligned_network(bases, [np.array([3.0, 2.0, 1.0]), np.array([1.5, 1.0, 0.5])])
    diagonal = aligned.aligned_network(bases, [np.array([3.5, 2.0, 0.5]), np.array([1.5, 1.2, 0.5])])
    assert invariance.turn_share(Ws0, diagonal) < 1e-14
    K = np.array([[0.0, 0.3, 0.0], [0.0, 0.0, 0.0], [0.4, 0.0, 0.0]])
    turned = [Ws0[0] + bases[1] @ (np.diag([0.5, 0, 0]) + K) @ bases[0].T, Ws0[1]]
    assert invariance.turn_share(Ws0, turned) == pytest.approx(0.5 / np.sqrt(0.5**2 + 0.25), rel=1e-10)
    stacked = invariance.turn_share(network.stack([Ws0, Ws0]), network.stack([diagonal, turned]))
    assert stacked.shape == (2,) and stacked[0] < 1e-14


def test_common_bases_takes_the_first_combination_that_finds_them():
    rng = np.random.default_rng(13)
    p = data.matrix_sensing(4, 5, rng=rng)
    found = invariance.common_bases(p.M, p.y, rng=np.random.default_rng(14))
    single = theory.sensing_witness(p.M, p.y, rng=np.random.default_rng(14))
    assert found[0] and found[1] == single[1]
    generic = data.matrix_sensing(4, 5, aligned=False, rng=rng)
    assert not invariance.common_bases(generic.M, generic.y, rng=rng)[0]


def test_generic_sensing_run_starts_on_the_targets_bases():
    problem = data.matrix_sensing(3, 5, aligned=False, rng=np.random.default_rng(16))
    history = invariance.generic_sensing_run(problem, [3] * 4, lr=0.01, steps=300, rng=np.random.default_rng(17))
    start = aligned.aligned_start(problem.V, problem.U, [3] * 4, rng=np.random.default_rng(17))
    # by hand: the plain trainer on the sensing loss from that start, at the same rate
    ref = train(start, None, None, loss=losses.MatrixSensing(problem.M, problem.y), lr=0.01, steps=300)
    np.testing.assert_allclose(history.loss, ref.history.loss, rtol=1e-12)
    assert history.metrics["invariance"][0].min() > 1 - 1e-12  # starts aligned on X*'s bases
    assert history.metrics["invariance"][-1].min() < 1 - 1e-8  # and leaves them: no common bases
