"""deeplinear.boundaries, Theorem 1 at two layers and with rank-one layers, each against an independent
reference: the construction redrawn by hand in its documented order, the closed form of the first-order
turn, scipy's principal angles, and the chain's width-one reduction trained by the plain trainer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import subspace_angles

from deeplinear import aligned, boundaries, fixed_bases, modes, network, theory, train


def by_hand(k, n, seed):
    """one_step_turns' two-layer network, data and D's, drawn in the documented order."""
    rng = np.random.default_rng(seed)
    s = np.linspace(1.0, 0.5, k)
    V0, U0 = aligned.random_orthogonal(k, rng=rng), aligned.random_orthogonal(k, rng=rng)
    bases = [V0, aligned.random_orthogonal(k, rng=rng), U0]
    aligned.random_orthogonal(k, rng=rng), aligned.random_orthogonal(k, rng=rng)  # the three-layer network's
    X, G = rng.standard_normal((k, n)), rng.standard_normal((k, k))
    Ds = []
    for off in (G - G.T, G + G.T):
        off = off * (1 - np.eye(k))
        Ds.append(np.diag(rng.standard_normal(k)) + off / np.sqrt(np.mean(off[~np.eye(k, dtype=bool)] ** 2)))
    return s, bases, X, Ds


@pytest.mark.parametrize(("k", "n"), [(2, 2), (2, 40), (5, 7)])
def test_one_step_turns_are_first_order_except_for_two_layers_and_antisymmetric_D(k, n):
    rates = np.geomspace(1e-6, 1e-3, 4)
    rotation, slopes, holds = boundaries.one_step_turns(k, n, rates, rng=np.random.default_rng(k + n))
    assert list(rotation) == list(boundaries.CASES) and holds is False
    assert slopes["d = 2, antisymmetric D"] == pytest.approx(2.0, abs=0.02)
    assert slopes["d = 2, symmetric D"] == pytest.approx(1.0, abs=0.02)
    assert slopes["d = 3, antisymmetric D"] == pytest.approx(1.0, abs=0.02)
    # closed form of the first order, symmetric D: the pinned Gram matrices of the balanced network change by
    # t S (D + D^T) S (both of them), so the turn is t ||off(S (D + D^T) S)|| / ||S^2||
    s, bases, X, (anti, sym) = by_hand(k, n, k + n)
    first = np.diag(s) @ (sym + sym.T) @ np.diag(s)
    expected = np.linalg.norm(first * (1 - np.eye(k))) / np.linalg.norm(s**2)
    assert rotation["d = 2, symmetric D"][0] / rates[0] == pytest.approx(expected, rel=1e-4)
    # the constructed data: the matrix of equation (4) over n is the drawn D, off-diagonal entries of rms 1
    net = aligned.aligned_network(bases, [s, s])
    Y = theory.targets_for_residual(net, X, bases[2], n * anti, bases[0])
    D = bases[2].T @ (Y - net[1] @ net[0] @ X) @ X.T @ bases[0] / n
    np.testing.assert_allclose(D, anti, atol=1e-9)
    np.testing.assert_allclose(D - np.diag(np.diag(D)), -(D - np.diag(np.diag(D))).T, atol=1e-9)


def test_one_step_turns_refuse_what_they_cannot_measure():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n must be at least k"):
        boundaries.one_step_turns(4, 3, [1e-3, 1e-2], rng=rng)
    with pytest.raises(ValueError, match="rates must"):
        boundaries.one_step_turns(4, 4, [1e-3], rng=rng)
    with pytest.raises(ValueError, match="rates must"):
        boundaries.one_step_turns(4, 4, [0.0, 1e-2], rng=rng)


def test_outer_turns_are_the_sines_of_the_principal_angles():
    rng = np.random.default_rng(1)
    k = 5
    start = [rng.standard_normal((k, k)) for _ in range(3)]
    moved = [W + 0.3 * rng.standard_normal((k, k)) for W in start]
    turns = boundaries.outer_turns(start, moved)
    first = [np.linalg.svd(W)[2][0] for W in (start[0], moved[0])]  # leading right singular vectors of W_1
    last = [np.linalg.svd(W)[0][:, 0] for W in (start[-1], moved[-1])]  # leading left ones of W_d
    for turn, (a, b) in zip(turns, (first, last)):
        assert turn == pytest.approx(np.sin(subspace_angles(a[:, None], b[:, None])[0]), rel=1e-9)
    # signs do not matter; a stacked network gives one row per member
    assert boundaries.outer_turns(start, [-W for W in moved]) == pytest.approx(turns, rel=1e-12)
    stacked = boundaries.outer_turns(network.stack([start, start]), network.stack([start, moved]))
    assert stacked.shape == (2, 2) and stacked[0].max() < 1e-14
    np.testing.assert_allclose(stacked[1], turns, rtol=1e-12)
    # a rank-one layer turned by a known angle
    q, b, c = np.eye(k)[0], np.eye(k)[1], np.eye(k)[2]
    W0, W = np.outer(q, b), np.outer(q, np.cos(0.2) * b + np.sin(0.2) * c)
    assert boundaries.outer_turns([W0, W0.T], [W, W0.T]) == pytest.approx([np.sin(0.2), 0.0], abs=1e-15)
    with pytest.raises(ValueError, match="same layer shapes"):
        boundaries.outer_turns(start, moved[:2])


def test_rank_one_problem_and_run():
    rng = np.random.default_rng(9)
    X, Y, q, Ws = boundaries.rank_one_problem(4, 6, 3, rng=rng)
    spectrum = np.linalg.eigvalsh(X @ X.T) / 6
    assert spectrum.min() >= 0.5 - 1e-12 and spectrum.max() <= 2 + 1e-12
    assert np.linalg.matrix_rank(Y @ np.linalg.pinv(X)) == 1 and not theory.alignment_invariant(X, Y)
    assert fixed_bases.rank_one_leak(Ws, q) < 1e-15 and all(np.linalg.matrix_rank(W) == 1 for W in Ws)
    watch = {"leak": lambda W: fixed_bases.rank_one_leak(W, q), "turns": lambda W: boundaries.outer_turns(Ws, W)}
    run = boundaries.rank_one_run(Ws, q, X, Y, lr=0.05, steps=3000, metrics=watch)
    assert run.history.metrics["leak"].max() < 1e-12
    assert run.lr <= 0.05 and run.lr <= run.edge / 2
    assert modes.orders(run.history.loss) >= run.budget_orders >= 6
    # the data fail the condition: V_1 turns away from b and back (zero loss needs W_1's row along b
    # again, X having full row rank); U_d keeps a (every gradient of W_d is a multiple of a on the left)
    turns = run.history.metrics["turns"]
    assert turns[:, 0].max() > 1e-3 and turns[-1, 0] < 1e-6 and turns[:, 1].max() < 1e-13
    with pytest.raises(ValueError, match="n must be at least k"):
        boundaries.rank_one_problem(4, 3, 3, rng=rng)


def test_rank_one_reduction_is_the_chain():
    rng = np.random.default_rng(10)
    X, Y, q, Ws = boundaries.rank_one_problem(3, 5, 4, rng=rng)
    small, lr, edge = boundaries.rank_one_reduction(Ws, q, X, Y, lr=1.0)
    assert [W.shape for W in small] == [(1, 3), (1, 1), (1, 1), (3, 1)]
    np.testing.assert_allclose(network.end_to_end(small), network.end_to_end(Ws), atol=1e-15)
    assert lr == edge / 2  # lr = 1 is above the edge here
    # the plain trainer on the chain and on its reduction: the same losses, step by step
    chain, reduced = train(Ws, X, Y, lr=lr, steps=200, record=1), train(small, X, Y, lr=lr, steps=200, record=1)
    np.testing.assert_allclose(chain.history.loss, reduced.history.loss, rtol=1e-9, atol=1e-12 * chain.history.loss[0])
    with pytest.raises(ValueError, match="q must hold"):
        boundaries.rank_one_reduction(Ws, q[:1], X, Y, lr=0.1)
