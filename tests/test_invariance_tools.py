"""Theorem 1's tools for chapter 03: the sensing witness, the least-squares floor, targets with a
prescribed residual, one-step turns of pinned bases and the rank-one chain, each against an
independent reference (the generator's own bases, scipy's least squares, closed forms, finite
differences)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import lstsq

import theorem1_cases
from deeplinear import aligned, data, fixed_bases, network, theory


def test_sensing_witness_finds_the_generators_bases_and_fixes_signs():
    rng = np.random.default_rng(0)
    p = data.matrix_sensing(5, 7, rng=rng)
    holds, off, U, V = theory.sensing_witness(p.M, p.y, rng=rng)
    assert holds is True and off < 1e-12
    for M in p.M:  # every measurement is diagonal in the witness
        D = U.T @ M @ V
        assert np.abs(D - np.diag(np.diag(D))).max() < 1e-12 * np.abs(M).max()
    # the generator's bases agree up to order and sign: |U^T U_gen| is a permutation matrix
    np.testing.assert_allclose(np.sort(np.abs(U.T @ p.U).max(axis=1)), np.ones(5), atol=1e-10)
    # signs make the target's diagonal in the witness non-negative (X* from the generator)
    assert np.all(np.diag(U.T @ p.X_star @ V) >= -1e-12)
    generic = data.matrix_sensing(5, 7, aligned=False, rng=rng)
    holds, off, _, _ = theory.sensing_witness(generic.M, generic.y, rng=rng)
    assert holds is False and off > 1e-3
    with pytest.raises(ValueError, match="M must"):
        theory.sensing_witness(np.ones((3, 2, 4)), np.ones(3), rng=rng)
    with pytest.raises(ValueError, match="y must"):
        theory.sensing_witness(p.M, np.ones(3), rng=rng)


@pytest.mark.parametrize("k, n", [(3, 8), (5, 5), (4, 2)])
def test_least_squares_loss_is_scipys_least_squares(k, n):
    rng = np.random.default_rng(k + n)
    X, Y = rng.standard_normal((k, n)), rng.standard_normal((2, n))
    A = lstsq(X.T, Y.T)[0].T  # min_A ||Y - A X||
    expected = 0.5 * np.sum((Y - A @ X) ** 2) / n
    assert theory.least_squares_loss(X, Y) == pytest.approx(expected, rel=1e-9, abs=1e-24)
    if n <= k:
        assert theory.least_squares_loss(X, Y) < 1e-25
    with pytest.raises(ValueError, match="Y must have n"):
        theory.least_squares_loss(X, Y[:, :1])


def test_targets_for_residual_give_the_prescribed_matrix_of_equation_4():
    rng = np.random.default_rng(1)
    Ws = [rng.standard_normal((4, 3)), rng.standard_normal((2, 4))]
    X = rng.standard_normal((3, 6))
    U, V = aligned.random_orthogonal(2, rng=rng), aligned.random_orthogonal(3, rng=rng)
    D = rng.standard_normal((2, 3))
    Y = theory.targets_for_residual(Ws, X, U, D, V)
    np.testing.assert_allclose(U.T @ (Y - Ws[1] @ Ws[0] @ X) @ X.T @ V, D, atol=1e-11)
    with pytest.raises(ValueError, match="U, D, V"):
        theory.targets_for_residual(Ws, X, U, D[:, :2], V)


def test_pinned_rotation_closed_form_for_a_turned_plane():
    # G = diag(a, b) seen in a basis turned by theta: off-diagonal (a - b) sin cos, twice, over sqrt(a^2 + b^2)
    a, b, theta = 2.0, 0.5, 0.3
    Ws = [np.diag([np.sqrt(a), np.sqrt(b)]), np.eye(2)]
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    expected = np.sqrt(2) * (a - b) * np.sin(theta) * np.cos(theta) / np.hypot(a, b)
    got = fixed_bases.pinned_rotation(Ws, [np.eye(2), R, np.eye(2)], [1])
    # the two Gram matrices: W_1 W_1^T = diag(a, b) and W_2^T W_2 = I (no off-diagonal part)
    assert got == pytest.approx(expected, rel=1e-12)
    net = aligned.aligned_network([np.eye(2), R, np.eye(2)], [[1.0, 0.5], [0.7, 0.2]])
    assert fixed_bases.pinned_rotation(net, [np.eye(2), R, np.eye(2)], [1]) < 1e-15
    with pytest.raises(ValueError, match="inner"):
        fixed_bases.pinned_rotation(Ws, [np.eye(2)] * 3, [2])


def test_one_step_rotation_takes_a_gradient_step_of_each_size():
    rng = np.random.default_rng(2)
    k, n = 3, 5
    bases = [aligned.random_orthogonal(k, rng=rng) for _ in range(3)]
    Ws = aligned.aligned_network(bases, [rng.uniform(0.5, 1, k), rng.uniform(0.5, 1, k)])
    X, Y = rng.standard_normal((k, n)), rng.standard_normal((k, n))
    # reference: the gradient by central differences of the loss, then the closed-form step
    grads = []
    for i, W in enumerate(Ws):
        G = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            E = np.zeros_like(W)
            E[idx] = 1e-6
            plus = [V + E if j == i else V for j, V in enumerate(Ws)]
            minus = [V - E if j == i else V for j, V in enumerate(Ws)]
            G[idx] = (network.loss(plus, X, Y) - network.loss(minus, X, Y)) / 2e-6
        grads.append(G)
    rates = [1e-3, 1e-2]
    expected = [fixed_bases.pinned_rotation([W - t * G for W, G in zip(Ws, grads)], bases, [1]) for t in rates]
    np.testing.assert_allclose(theory.one_step_rotation(Ws, X, Y, bases, [1], rates), expected, rtol=1e-5)


def test_one_step_turn_orders_two_and_three_layers():
    # the chapter's finding: with d = 2 an antisymmetric D turns the shared basis at second order only
    rng = np.random.default_rng(3)
    k, n = 4, 6
    s = np.sort(rng.uniform(0.5, 1.0, k))[::-1]
    Q = [aligned.random_orthogonal(k, rng=rng) for _ in range(5)]
    net2, net3 = aligned.aligned_network(Q[:3], [s, s]), aligned.aligned_network(Q[:2] + Q[3:], [s ** (2 / 3)] * 3)
    X = rng.standard_normal((k, n))
    G = rng.standard_normal((k, k))
    anti = G - G.T + np.diag(rng.standard_normal(k))
    rates = np.geomspace(1e-5, 1e-2, 5)
    for Ws, bases, inner, slope in ((net2, Q[:3], [1], 2.0), (net3, Q[:2] + Q[3:], [1, 2], 1.0)):
        Y = theory.targets_for_residual(Ws, X, bases[-1], anti, bases[0])
        r = theory.one_step_rotation(Ws, X, Y, bases, inner, rates)
        assert np.polyfit(np.log(rates), np.log(r), 1)[0] == pytest.approx(slope, abs=0.05)


def test_rank_one_chain_draws_in_the_documented_order_and_leaks_nothing():
    k, d = 5, 4
    q, Ws = theorem1_cases.rank_one_chain(k, d, np.random.default_rng(7))
    ref = np.random.default_rng(7)  # the documented order, by hand
    q_ref = []
    for _ in range(d - 1):
        Qr, R = np.linalg.qr(ref.standard_normal((k, k)))
        q_ref.append(Qr[:, 0] * (-1.0 if R[0, 0] < 0 else 1.0))
    c1 = ref.uniform(0.5, 1.0) * ref.standard_normal(k) / np.sqrt(k)
    s = [ref.uniform(0.5, 1.0) for _ in range(d - 2)]
    cd = ref.standard_normal(k) / np.sqrt(k)
    expected = [np.outer(q_ref[0], c1)] + [s[i - 1] * np.outer(q_ref[i], q_ref[i - 1]) for i in range(1, d - 1)]
    expected += [np.outer(cd, q_ref[-1])]
    for W, E in zip(Ws, expected):
        np.testing.assert_allclose(W, E, rtol=1e-14)
        assert np.linalg.matrix_rank(W) == 1
    assert fixed_bases.rank_one_leak(Ws, q) < 1e-15
    # a perturbation e e'^T off the chain, orthogonal to q: leak = eps / ||W + eps e e'^T||
    e = np.linalg.svd(q[1][None, :])[2][1]  # a unit vector orthogonal to q_2 (W_2 = s q_2 q_1^T)
    bumped = [Ws[0], Ws[1] + 1e-3 * np.outer(e, q[0])] + Ws[2:]
    assert fixed_bases.rank_one_leak(bumped, q) == pytest.approx(1e-3 / np.linalg.norm(bumped[1]), rel=1e-9)
    with pytest.raises(ValueError, match="d must"):
        theorem1_cases.rank_one_chain(k, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="q must"):
        fixed_bases.rank_one_leak(Ws, q[:1])


def test_aligned_start_on_takes_its_outer_bases_from_the_data():
    rng = np.random.default_rng(4)
    X, Y = data.autoencoding(4, 6, rng=rng)
    Ws = theory.aligned_start_on(X, Y, [4, 5, 4], rng=np.random.default_rng(1))
    U, V = theory.alignment_invariant_witness(X, Y)
    # V_1 = V and U_d = U: W_1 V and U^T W_d are column- and row-wise scaled orthonormal
    C1, C2 = Ws[0] @ V, U.T @ Ws[1]
    np.testing.assert_allclose(C1.T @ C1, np.diag(np.diag(C1.T @ C1)), atol=1e-12)
    np.testing.assert_allclose(C2 @ C2.T, np.diag(np.diag(C2 @ C2.T)), atol=1e-12)
    # outer="svd": the left singular vectors of X and of Y, whatever the data
    X, Y = data.random_regression(3, 5, rng=rng)
    Ws = theory.aligned_start_on(X, Y, [3, 3, 3], outer="svd", rng=np.random.default_rng(2))
    ref = aligned.aligned_start(np.linalg.svd(X)[0], np.linalg.svd(Y)[0], [3, 3, 3], rng=np.random.default_rng(2))
    for W, R in zip(Ws, ref):
        np.testing.assert_array_equal(W, R)
    # outer="auto": the svd start on random data, the witness start where the condition holds
    for W, R in zip(theory.aligned_start_on(X, Y, [3, 3, 3], outer="auto", rng=np.random.default_rng(2)), ref):
        np.testing.assert_array_equal(W, R)
    Xa, Ya = data.autoencoding(3, 5, rng=rng)
    auto = theory.aligned_start_on(Xa, Ya, [3, 3], outer="auto", rng=np.random.default_rng(3))
    for W, R in zip(auto, theory.aligned_start_on(Xa, Ya, [3, 3], rng=np.random.default_rng(3))):
        np.testing.assert_array_equal(W, R)
    with pytest.raises(ValueError, match="outer must be"):
        theory.aligned_start_on(X, Y, [3, 3], outer="identity", rng=rng)
    with pytest.raises(ValueError, match="Theorem 1"):
        theory.aligned_start_on(X, Y, [3, 3], rng=rng)  # random data have no witness


def test_two_layer_cases_build_the_prescribed_D():
    k, n = 4, 7
    cases = theorem1_cases.two_layer_cases(k, n, np.random.default_rng(5))
    assert list(cases) == ["d = 2, antisymmetric D", "d = 2, symmetric D", "d = 3, antisymmetric D"]
    for label, (Ws, X, Y, bases, inner) in cases.items():
        assert len(Ws) == (3 if label.startswith("d = 3") else 2) and inner == list(range(1, len(Ws)))
        f = Ws[-1] @ Ws[0] if len(Ws) == 2 else Ws[2] @ Ws[1] @ Ws[0]
        D = bases[-1].T @ (Y - f @ X) @ X.T @ bases[0]
        off = D - np.diag(np.diag(D))
        if label.startswith("d = 2"):  # exactly the construction: the off-diagonal part has the named symmetry
            sign = -1.0 if "antisymmetric" in label else 1.0
            np.testing.assert_allclose(off.T, sign * off, atol=1e-10)
            assert np.abs(off).max() > 0.1
    # the three-layer network has the two-layer one's end-to-end matrix, so D is the same
    (W1, W2), (V1, V2, V3) = cases["d = 2, antisymmetric D"][0], cases["d = 3, antisymmetric D"][0]
    np.testing.assert_allclose(V3 @ V2 @ V1, W2 @ W1, atol=1e-12)


def test_aligned_start_sensing_is_the_witness_then_the_start():
    p = data.matrix_sensing(4, 6, rng=np.random.default_rng(0))
    Ws = theory.aligned_start_sensing(p.M, p.y, [4, 4, 4], rng=np.random.default_rng(1))
    ref = np.random.default_rng(1)
    _, _, U, V = theory.sensing_witness(p.M, p.y, rng=ref)
    for W, R in zip(Ws, aligned.aligned_start(V, U, [4, 4, 4], rng=ref)):
        np.testing.assert_array_equal(W, R)
    # every measurement sees only the diagonal of the end-to-end matrix in the witness's bases
    P = Ws[1] @ Ws[0]
    Dp = U.T @ P @ V
    np.testing.assert_allclose(Dp, np.diag(np.diag(Dp)), atol=1e-12)
    generic = data.matrix_sensing(4, 6, aligned=False, rng=np.random.default_rng(2))
    with pytest.raises(ValueError, match="no aligned start"):
        theory.aligned_start_sensing(generic.M, generic.y, [4, 4], rng=np.random.default_rng(3))
