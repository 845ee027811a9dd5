"""deeplinear.modes, the learning rate and step budget of a run from its draw, each against an independent
reference: the conserved quantities of gradient flow, the library's recursion (6) and full gradient descent,
closed forms of balanced chains, and the Gauss-Newton curvature computed from an explicit Jacobian."""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear import TrainingDiverged, aligned, convergence, data, dynamics, invariance, losses, modes, network, train


def test_mode_sigmas_recovers_the_singular_values_of_each_mode():
    rng = np.random.default_rng(0)
    bases = [aligned.random_orthogonal(4, rng=rng) for _ in range(4)]
    sigmas = [rng.uniform(0.5, 1.5, 4) for _ in range(3)]
    Ws = aligned.aligned_network(bases, sigmas)
    np.testing.assert_allclose(modes.mode_sigmas(Ws, bases[0]), np.array(sigmas), rtol=1e-12)
    # a layer that kills a mode: the rectangular last layer keeps 3 of 4
    rect = aligned.aligned_network(
        [bases[0], bases[1], aligned.random_orthogonal(3, rng=rng)], [sigmas[0], sigmas[1][:3]]
    )
    found = modes.mode_sigmas(rect, bases[0])
    assert found.shape == (2, 4) and found[1, 3] < 1e-12 and np.allclose(found[1, :3], sigmas[1][:3])


def test_flow_minimum_keeps_the_imbalance_and_reaches_the_target():
    rng = np.random.default_rng(1)
    s0, target = rng.uniform(0.3, 1.2, (4, 5)), np.array([0.01, 0.5, 1.0, 3.0, 0.0])
    end = modes.flow_minimum(s0, target)
    np.testing.assert_allclose(end.prod(axis=0), target, atol=1e-12)
    diffs = end**2 - s0**2  # the same shift for every layer of a mode
    np.testing.assert_allclose(diffs, np.broadcast_to(diffs[0], diffs.shape), atol=1e-12)
    # against gradient descent at a small rate (the recursion (6) of the library, with lam = 1, lam' = target),
    # for the modes it brings to their targets within the steps (a product shrinking to 0.01 is slow)
    traj = dynamics.singular_value_dynamics(s0[:, 1:4], np.ones(3), target[1:4], lr=1e-3, steps=60000, n=1)
    np.testing.assert_allclose(traj[-1], end[:, 1:4], atol=2e-3)


def test_stable_lr_is_half_the_edge_of_a_balanced_chain():
    """A balanced start (all singular values s0) stays balanced: its minimum has s = p^(1/d) in every layer,
    where the edge of one mode is 2n / (lam d p^(2(d-1)/d))."""
    d, n, lam, p = 4, 3, np.array([2.0]), np.array([5.0])
    lr, edge = modes.stable_lr(1.0, np.full((d, 1), 0.5), p, lam, n, transverse=False)
    expected = 2 * n / (lam[0] * d * p[0] ** (2 * (d - 1) / d))
    assert edge == pytest.approx(expected, rel=1e-9) and lr == pytest.approx(expected / 2, rel=1e-9)
    assert modes.stable_lr(1e-4, np.full((d, 1), 0.5), p, lam, n)[0] == 1e-4  # the cap is lr
    with pytest.raises(ValueError, match="lr must be a positive number"):
        modes.stable_lr(0.0, np.full((d, 1), 0.5), p, lam, n)


def test_mode_losses_is_the_recursion_and_full_gradient_descent():
    rng = np.random.default_rng(2)
    s0, lam, lam_prime = rng.uniform(0.5, 1.0, (3, 4)), rng.uniform(0.5, 2.0, 4), rng.uniform(0.5, 2.0, 4)
    got = modes.mode_losses(s0, lam, lam_prime / lam, lr=0.05, steps=300, n=5)
    traj = dynamics.singular_value_dynamics(s0, lam, lam_prime, lr=0.05, steps=300, n=5)
    np.testing.assert_allclose(got, convergence.reduced_loss(traj, lam, lam_prime, 5), rtol=1e-10)
    # matrix sensing: the coupled G = D^T D of its aligned start, against the trainer on the full network
    p = data.matrix_sensing(4, 6, rng=rng)
    start = invariance.sensing_start(p.M, p.y, [4] * 4, lr=0.01, rng=rng)
    full = train(
        start.Ws, None, None, loss=losses.MatrixSensing(p.M, p.y), lr=start.lr, steps=400, record=1
    ).history.loss
    mine = modes.mode_losses(start.sigmas0, start.G, start.targets, lr=start.lr, steps=400, n=start.n)
    np.testing.assert_allclose(mine, full, rtol=1e-8)


def test_mode_losses_raise_where_the_mode_dynamics_diverge():
    """Far above the edge the loss overflows: no non-finite loss is returned; TrainingDiverged says where, with the
    finite losses before it, which are the recursion's."""
    s0, lam, targets = np.full((3, 2), 0.8), np.array([1.0, 2.0]), np.array([1.5, 2.0])
    with pytest.raises(TrainingDiverged, match="the mode dynamics diverged at step") as err:
        modes.mode_losses(s0, lam, targets, lr=50.0, steps=500, n=1)
    step, before = err.value.step, err.value.history.loss
    assert 0 < step < 500 and len(before) == step and np.isfinite(before).all() and not np.isfinite(err.value.loss)
    np.testing.assert_array_equal(before, modes.mode_losses(s0, lam, targets, lr=50.0, steps=step - 1, n=1))
    with pytest.raises(ValueError, match="the initial loss is not finite"):
        modes.mode_losses(np.full((3, 2), 1e120), lam, targets, lr=0.1, steps=5, n=1)


def test_orders_counts_whole_orders_with_a_margin():
    assert modes.orders(np.array([1.0, 0.5, 2e-4])) == 3
    assert modes.orders(np.array([1.0, 2e-4]), 0.5) == 3 and modes.orders(np.array([1.0, 5e-4]), 0.5) == 2
    assert modes.orders(np.array([1.0, 0.0])) == modes.MAX_ORDERS
    assert modes.orders(np.array([1.0, 1e-40])) == modes.MAX_ORDERS
    assert modes.orders(np.array([1.0, np.inf])) == 0


def gauss_newton_top(Ws, X):
    """The largest eigenvalue of J^T J / n, J the Jacobian of W_d ... W_1 X, built column by column."""
    columns = []
    for layer, W in enumerate(Ws):
        for j in range(W.size):
            E = np.zeros(W.size)
            E[j] = 1.0
            P = np.eye(Ws[-1].shape[0])
            for i in range(len(Ws) - 1, -1, -1):
                P = P @ (E.reshape(W.shape) if i == layer else Ws[i])
            columns.append((P @ X).ravel())
    J = np.array(columns).T
    return float(np.linalg.eigvalsh(J.T @ J / X.shape[1])[-1])


def test_start_lr_bounds_the_gauss_newton_curvature():
    rng = np.random.default_rng(6)
    for depth in (2, 3):
        Ws = [rng.standard_normal((3, 3)) * 0.7 for _ in range(depth)]
        X = rng.standard_normal((3, 5))
        top = gauss_newton_top(Ws, X)
        bound = 1 / modes.start_lr(Ws, X)
        assert top <= bound <= 10 * depth * top
    stacked = modes.start_lr(network.stack([Ws, Ws]), np.stack([X, 2 * X]))
    np.testing.assert_allclose(stacked, [modes.start_lr(Ws, X), modes.start_lr(Ws, 2 * X)])


def test_train_halving_reruns_a_diverged_member_at_half_its_rate():
    rng = np.random.default_rng(7)
    X, Y = data.random_regression(3, 3, rng=rng)
    Ws = [np.eye(3) * 0.9 for _ in range(3)]
    safe = modes.start_lr(Ws, X)
    res, lr = modes.train_halving(Ws, X, Y, lr=1.0, steps=50)
    assert lr == pytest.approx(float(safe))  # capped at the start
    ref = train(Ws, X, Y, lr=float(safe), steps=50)
    np.testing.assert_array_equal(res.history.loss, ref.history.loss)
    # an ensemble whose second member diverges at its rate: rerun with that member's rate halved
    big, Xs, Ys = network.stack([Ws, Ws]), np.stack([X, X]), np.stack([Y, 3 * Y])
    cap = modes.start_lr(big, Xs)
    with pytest.raises(TrainingDiverged):
        train(big, Xs, Ys, lr=np.array([1e-3, 4 * cap[1]]), steps=3000)
    res, lr = modes.train_halving(big, Xs, Ys, lr=np.array([1e-3, 4 * cap[1]]), steps=3000)
    assert lr[0] == 1e-3 and lr[1] < cap[1]
    assert np.isfinite(res.history.loss).all()
