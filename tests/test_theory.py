"""Tests for deeplinear.theory against closed forms, scipy solvers and plain reference loops."""

from functools import reduce

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from deeplinear import aligned, directions, dynamics, metrics, proposition1, separable, theory

SETTINGS = settings(max_examples=20, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def offdiag(M):
    """Largest entry of M off its (rectangular) diagonal, relative to max(|M|)."""
    D = np.zeros_like(M)
    r = min(M.shape)
    D[range(r), range(r)] = M[range(r), range(r)]
    return np.abs(M - D).max() / max(np.abs(M).max(), 1e-300)


def orthonormal(Q):
    return np.abs(Q.T @ Q - np.eye(Q.shape[1])).max() < 1e-12


# ---------------------------------------------------------------- usvd, random_orthogonal


@SETTINGS
@given(st.integers(1, 6), st.integers(1, 6), seeds)
def test_usvd_reconstructs(m, n, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    ref = np.sqrt(np.clip(np.linalg.eigvalsh(A.T @ A if n <= m else A @ A.T), 0, None))
    for r in (None, rng):
        U, Sigma, V = aligned.usvd(A, rng=r)
        assert U.shape == (m, m) and Sigma.shape == (m, n) and V.shape == (n, n)
        assert orthonormal(U) and orthonormal(V) and offdiag(Sigma) == 0
        np.testing.assert_allclose(U @ Sigma @ V.T, A, atol=1e-12)
        np.testing.assert_allclose(np.sort(np.abs(np.diag(Sigma))), np.sort(ref), atol=1e-10)


def test_usvd_with_rng_uses_free_order_and_signs():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    diags = [np.diag(aligned.usvd(A, rng=rng)[1]) for _ in range(20)]
    assert any(np.any(s < 0) for s in diags)
    assert any(np.any(np.diff(np.abs(s)) > 0) for s in diags)  # not sorted decreasingly


def test_random_orthogonal_is_haar():
    rng = np.random.default_rng(0)
    Qs = [aligned.random_orthogonal(3, rng=rng) for _ in range(3000)]
    assert all(orthonormal(Q) for Q in Qs[:50])
    first = np.array([Q[0, 0] for Q in Qs])
    assert abs(first.mean()) < 0.05 and abs((first**2).mean() - 1 / 3) < 0.03  # E = 0, E^2 = 1/k
    dets = np.array([np.linalg.det(Q) for Q in Qs])
    assert 0.4 < np.mean(dets > 0) < 0.6
    angles = [np.arctan2(Q[1, 0], Q[0, 0]) for Q in (aligned.random_orthogonal(2, rng=rng) for _ in range(2000))]
    assert stats.kstest(angles, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


# ---------------------------------------------------------------- aligned_network


@SETTINGS
@given(st.lists(st.integers(1, 6), min_size=2, max_size=5), seeds)
def test_aligned_network_structure(ks, seed):
    rng = np.random.default_rng(seed)
    Qs = [aligned.random_orthogonal(k, rng=rng) for k in ks]
    sig = [rng.standard_normal(min(a, b)) for a, b in zip(ks[1:], ks[:-1])]
    Ws = aligned.aligned_network(Qs, sig)
    r = min(ks)
    for i, W in enumerate(Ws, start=1):
        S = Qs[i].T @ W @ Qs[i - 1]
        assert S.shape == (ks[i], ks[i - 1]) and offdiag(S) < 1e-12
        np.testing.assert_allclose(np.diag(S), sig[i - 1], atol=1e-12)
    prod = reduce(lambda acc, W: W @ acc, Ws)  # eq. (3): U_d (prod Sigma) V_1^T
    mid = np.prod([s[:r] for s in sig], axis=0)
    np.testing.assert_allclose(prod, (Qs[-1][:, :r] * mid) @ Qs[0][:, :r].T, atol=1e-10)


def test_aligned_network_validates():
    rng = np.random.default_rng(0)
    Qs = [np.eye(2), np.eye(3)]
    with pytest.raises(ValueError, match=r"bases\[1\]"):
        aligned.aligned_network([np.eye(2), np.ones((3, 3))], [np.ones(2)])
    with pytest.raises(ValueError, match=r"sigmas\[0\]"):
        aligned.aligned_network(Qs, [np.ones(3)])
    with pytest.raises(ValueError, match="sigmas must hold d = 1"):
        aligned.aligned_network(Qs, [np.ones(2), np.ones(2)])
    with pytest.raises(ValueError, match="bases"):
        aligned.aligned_network([aligned.random_orthogonal(2, rng=rng)], [])


# ---------------------------------------------------------------- Theorem 1 condition and witness


def sensing_like(rng, k0, kd, blocks=3, m=4):
    """X = [V Lx_b P_b^T], Y = [U Ly_b P_b^T]: Y X^T = U (sum Ly Lx^T) V^T, X X^T = V (sum Lx Lx^T) V^T."""
    U, V = aligned.random_orthogonal(kd, rng=rng), aligned.random_orthogonal(k0, rng=rng)
    Xs, Ys = [], []
    for _ in range(blocks):
        P = aligned.random_orthogonal(m, rng=rng)
        Lx, Ly = np.zeros((k0, m)), np.zeros((kd, m))
        Lx[range(min(k0, m)), range(min(k0, m))] = rng.uniform(0.5, 2, min(k0, m))
        Ly[range(min(kd, m)), range(min(kd, m))] = rng.uniform(0.5, 2, min(kd, m))
        Xs.append(V @ Lx @ P.T)
        Ys.append(U @ Ly @ P.T)
    return np.hstack(Xs), np.hstack(Ys)


def positive_cases():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((3, 5))
    X = rng.standard_normal((4, 7))
    cases = {
        "factorisation": (np.eye(5), Y),  # X = I
        "factorisation_square": (np.eye(4), rng.standard_normal((4, 4))),
        "inversion": (rng.standard_normal((4, 4)), np.eye(4)),  # Y = I
        "autoencoding": (X, X),  # Y = X
        "sensing_square": sensing_like(rng, 4, 4),
        "sensing_wide": sensing_like(rng, 5, 3),
        "sensing_tall": sensing_like(rng, 3, 5),
    }
    # repeated eigenvalues of X X^T with a Y X^T that eigh's basis of X X^T does not diagonalise
    V, U, P = (aligned.random_orthogonal(k, rng=rng) for k in (5, 5, 5))
    X = V @ np.diag([1.0, 1.0, 2.0, 2.0, 2.0]) @ P.T
    cases["repeated"] = (X, U @ np.diag([0.3, 1.1, 0.0, 2.5, 0.7]) @ P.T)
    return cases


@pytest.mark.parametrize("name", list(positive_cases()))
def test_theorem1_witness_diagonalises(name):
    X, Y = positive_cases()[name]
    assert theory.alignment_invariant(X, Y)
    U, V = theory.alignment_invariant_witness(X, Y)
    assert U.shape == (Y.shape[0],) * 2 and V.shape == (X.shape[0],) * 2
    assert orthonormal(U) and orthonormal(V)
    assert offdiag(V.T @ X @ X.T @ V) < 1e-10
    assert offdiag(U.T @ Y @ X.T @ V) < 1e-10
    if name == "repeated":  # the clustering matters: eigh's own basis fails
        Q = np.linalg.eigh(X @ X.T)[1]
        assert offdiag(Q.T @ X @ Y.T @ Y @ X.T @ Q) > 1e-3


@SETTINGS
@given(st.integers(2, 6), st.integers(2, 6), st.integers(2, 10), seeds)
def test_theorem1_fails_for_gaussian_data(k0, kd, n, seed):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((k0, n)), rng.standard_normal((kd, n))
    # Independent argument: X X^T has distinct eigenvalues, so V is its eigenbasis up to order and
    # signs; the condition then needs (Y X^T V)^T (Y X^T V) diagonal.
    Q = np.linalg.eigh(X @ X.T)[1]
    C = Q.T @ X @ Y.T @ Y @ X.T @ Q
    expected_fail = offdiag(C) > 1e-6
    assert theory.alignment_invariant(X, Y) is (not expected_fail)
    if expected_fail:
        with pytest.raises(ValueError, match="Theorem 1"):
            theory.alignment_invariant_witness(X, Y)


def test_theorem1_bad_input():
    with pytest.raises(ValueError, match="Y must have n = 3"):
        theory.alignment_invariant(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="X must"):
        theory.alignment_invariant(np.ones(3), np.ones((2, 3)))


# ---------------------------------------------------------------- Corollary 1 against gradient descent


def gd_reference(Ws, X, Y, lr, steps, bases):
    """Plain gradient descent on L = ||Y - W_d...W_1 X||_F^2 / (2n); returns Q_i^T W_i^(t) Q_{i-1}."""
    n, d = X.shape[1], len(Ws)
    Ws = [W.copy() for W in Ws]
    out = []
    for t in range(steps + 1):
        out.append([bases[i + 1].T @ Ws[i] @ bases[i] for i in range(d)])
        if t == steps:
            break
        R = Y - reduce(lambda acc, W: W @ acc, Ws, X)  # residual (k_d, n)
        grads = []
        for i in range(d):
            above = reduce(lambda acc, W: W @ acc, Ws[i + 1 :], np.eye(Ws[i].shape[0]))
            below = reduce(lambda acc, W: W @ acc, Ws[:i], np.eye(X.shape[0]))
            grads.append(-above.T @ R @ X.T @ below.T / n)
        Ws = [W - lr * G for W, G in zip(Ws, grads)]
    return out


def test_gd_reference_gradient_by_finite_differences():
    rng = np.random.default_rng(3)
    Ws = [rng.standard_normal(s) for s in [(3, 2), (4, 3), (2, 4)]]
    X, Y = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))

    def loss(Ws):
        return np.sum((Y - reduce(lambda a, W: W @ a, Ws, X)) ** 2) / (2 * X.shape[1])

    eye = [np.eye(k) for k in (2, 3, 4, 2)]
    lr = 1e-7  # one step: W_i - lr * grad, so grad = (W_i - step_i) / lr to O(lr)
    stepped = gd_reference(Ws, X, Y, lr, 1, eye)[1]
    for i in range(3):
        grad = (Ws[i] - stepped[i]) / lr
        E = np.zeros_like(Ws[i])
        E[1, 0] = 1e-6
        fd = (loss(Ws[:i] + [Ws[i] + E] + Ws[i + 1 :]) - loss(Ws[:i] + [Ws[i] - E] + Ws[i + 1 :])) / 2e-6
        assert grad[1, 0] == pytest.approx(fd, rel=1e-5)


def printed_eq6(s0, lam, lam_p, lr, steps, n):
    """The paper's printed eq. (6): product over ALL j."""
    traj = [s0]
    for _ in range(steps):
        s = traj[-1]
        P = s.prod(axis=0)
        traj.append(s + lr / n * P * (lam_p - P * lam))
    return np.array(traj)


CASES = {  # name: (widths k_0..k_d, data kind)
    "autoencoding_square_d3": ((4, 4, 4, 4), "auto"),
    "factorisation_rect_d3": ((5, 6, 4, 3), "fact"),
    "autoencoding_square_d4": ((3, 3, 3, 3, 3), "auto"),
    "factorisation_rect_d4": ((4, 5, 6, 5, 3), "fact"),
    "sensing_rect_d4": ((3, 4, 5, 4, 5), "sens"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_singular_value_dynamics_matches_gradient_descent(name):
    ks, kind = CASES[name]
    rng = np.random.default_rng(len(name))
    if kind == "auto":
        X = rng.standard_normal((ks[0], 8))
        Y = X
    elif kind == "fact":
        X = np.eye(ks[0])
        Y = rng.standard_normal((ks[-1], ks[0]))
    else:
        X, Y = sensing_like(rng, ks[0], ks[-1])
    n, d, r = X.shape[1], len(ks) - 1, min(ks)
    U, V = theory.alignment_invariant_witness(X, Y)
    lam = np.diag(V.T @ X @ X.T @ V)[:r]
    lam_p = np.diag(U.T @ Y @ X.T @ V)[:r]
    bases = [V] + [aligned.random_orthogonal(k, rng=rng) for k in ks[1:-1]] + [U]
    sig = [rng.uniform(0.5, 1.0, min(a, b)) for a, b in zip(ks[1:], ks[:-1])]
    Ws = aligned.aligned_network(bases, sig)
    scale = np.abs(lam).max() / n
    lr, steps = 0.1 / scale, 60
    projected = gd_reference(Ws, X, Y, lr, steps, bases)
    traj = dynamics.singular_value_dynamics(np.array([s[:r] for s in sig]), lam, lam_p, lr=lr, steps=steps, n=n)
    gd = np.array([[np.diag(S)[:r] for S in step] for step in projected])
    np.testing.assert_allclose(traj, gd, atol=1e-10)
    last = projected[-1]
    assert max(offdiag(S) for S in last) < 1e-10  # bases never move
    for i in range(d):  # entries past r never move
        np.testing.assert_allclose(np.diag(last[i])[r:], sig[i][r:], atol=1e-12)
    assert np.abs(traj[-1] - traj[0]).max() > 1e-2  # something actually happened
    assert np.abs(printed_eq6(traj[0], lam, lam_p, lr, steps, n) - gd).max() > 1e-3  # erratum


def test_singular_value_dynamics_zero_sigma_plain_loop():
    s0 = np.array([[0.0, 1.0, 0.5], [2.0, 0.0, 0.7], [0.3, 0.4, 0.0]])
    lam, lam_p = np.array([1.0, 2.0, 0.5]), np.array([0.5, 1.0, 3.0])
    traj = dynamics.singular_value_dynamics(s0, lam, lam_p, lr=0.3, steps=5, n=2)
    s = s0.copy()
    for t in range(5):
        new = s.copy()
        for i in range(3):
            for k in range(3):
                others = np.prod(np.delete(s[:, k], i))
                new[i, k] = s[i, k] + 0.3 / 2 * others * (lam_p[k] - np.prod(s[:, k]) * lam[k])
        s = new
        np.testing.assert_allclose(traj[t + 1], s, atol=1e-15)
    assert np.all(np.isfinite(traj))


def test_singular_value_dynamics_bad_input():
    s0, lam = np.ones((2, 3)), np.ones(3)
    for kw, name in [
        (dict(lr=-1.0, steps=1, n=1), "lr"),
        (dict(lr=0.1, steps=-1, n=1), "steps"),
        (dict(lr=0.1, steps=1, n=0), "n"),
    ]:
        with pytest.raises(ValueError, match=name):
            dynamics.singular_value_dynamics(s0, lam, lam, **kw)
    with pytest.raises(ValueError, match="lam_prime"):
        dynamics.singular_value_dynamics(s0, lam, np.ones(2), lr=0.1, steps=1, n=1)
    with pytest.raises(ValueError, match="sigmas0"):
        dynamics.singular_value_dynamics(np.ones(3), lam, lam, lr=0.1, steps=1, n=1)


# ---------------------------------------------------------------- Proposition 1


@SETTINGS
@given(st.integers(2, 5), st.integers(1, 4), st.integers(1, 20), seeds)
def test_prop1_rate_formula_and_convergence(d, r, n, seed):
    rng = np.random.default_rng(seed)
    lam, lam_p = rng.uniform(0.2, 3, r), rng.uniform(0.2, 3, r)
    s0 = rng.uniform(0.3, 1.0, (d, r))
    s0 *= np.minimum(1, (0.8 * lam_p / lam / s0.prod(axis=0)) ** (1 / d))
    ref = min(n * np.log(2) / d * s0[i, k] ** 2 * lam[k] / lam_p[k] ** 2 for i in range(d) for k in range(r))
    lr = proposition1.prop1_learning_rate(s0, lam, lam_p, n)
    assert lr == pytest.approx(ref, rel=1e-12)
    prod = dynamics.singular_value_dynamics(s0, lam, lam_p, lr=lr, steps=400, n=n).prod(axis=1)
    target = lam_p / lam
    gap = target - prod  # approaches 0 from above, monotonically
    assert np.all(gap >= -1e-12 * target) and np.all(np.diff(gap, axis=0) <= 1e-12 * target)
    assert np.all(gap[-1] < gap[0])


def test_prop1_hypotheses():
    lam, lam_p = np.array([1.0, 1.0]), np.array([1.0, 2.0])
    with pytest.raises(ValueError, match=r"sigma_k\(W_i\^\(0\)\) > 0"):
        proposition1.prop1_learning_rate(np.array([[0.5, 0.0], [0.5, 0.5]]), lam, lam_p, 3)
    with pytest.raises(ValueError, match=r"fails for k = \[0\]"):
        proposition1.prop1_learning_rate(np.array([[1.0, 1.0], [1.0, 1.0]]), lam, lam_p, 3)
    with pytest.raises(ValueError, match="lam"):
        proposition1.prop1_learning_rate(np.full((2, 2), 0.5), np.array([0.0, 1.0]), lam_p, 3)


# ---------------------------------------------------------------- max_margin


def dual_qp_reference(X, y):
    """Independent solver: SLSQP on the dual max sum(a) - ||Z a||^2 / 2, a >= 0; w = Z a."""
    Z = X * y
    G = Z.T @ Z
    res = optimize.minimize(
        lambda a: 0.5 * a @ G @ a - a.sum(),
        np.full(Z.shape[1], 0.1),
        jac=lambda a: G @ a - 1,
        bounds=[(0, None)] * Z.shape[1],
        method="SLSQP",
        options=dict(ftol=1e-15, maxiter=1000),
    )
    w = Z @ res.x
    return w / np.linalg.norm(w), 1 / np.linalg.norm(w)


def separable_data(rng, k0, n):
    X = rng.standard_normal((k0, n))
    y = np.sign(rng.standard_normal(k0) @ X)
    return X, np.where(y == 0, 1.0, y)


@SETTINGS
@given(st.integers(2, 5), st.integers(1, 15), seeds)
def test_max_margin_certificate_and_qp(k0, n, seed):
    X, y = separable_data(np.random.default_rng(seed), k0, n)
    u, gamma = separable.max_margin(X, y)
    Z = X * y
    m = Z.T @ u
    assert abs(np.linalg.norm(u) - 1) < 1e-12 and abs(m.min() - gamma) < 1e-10
    # KKT certificate for w = u / gamma: feasible, and w = sum_active a_i z_i with a >= 0
    w, active = u / gamma, np.flatnonzero(m <= gamma * (1 + 1e-8))
    assert optimize.nnls(Z[:, active], w)[1] <= 1e-8 * np.linalg.norm(w)
    u_ref, gamma_ref = dual_qp_reference(X, y)
    assert gamma == pytest.approx(gamma_ref, rel=1e-6)
    np.testing.assert_allclose(u, u_ref, atol=1e-5)


@pytest.mark.parametrize("a, b", [(1.0, 2.0), (0.3, 5.0), (2.0, 0.1)])
def test_max_margin_symmetric_two_points(a, b):
    """z_1 = (a, b), z_2 = (a, -b): the nearest point of their segment is (a, 0)."""
    X = np.array([[a, -a], [b, b]])
    u, gamma = separable.max_margin(X, np.array([1.0, -1.0]))
    np.testing.assert_allclose(u, [1.0, 0.0], atol=1e-12)
    assert gamma == pytest.approx(a, rel=1e-12)


def test_max_margin_dominated_point_and_row_labels():
    """z_1 = (1, 0), z_2 = (2, 1): the segment's nearest point to 0 is z_1 itself."""
    u, gamma = separable.max_margin(np.array([[1.0, 2.0], [0.0, 1.0]]), np.array([[1.0, 1.0]]))
    np.testing.assert_allclose(u, [1.0, 0.0], atol=1e-12)
    assert gamma == pytest.approx(1.0, rel=1e-12)


def test_max_margin_agrees_with_metrics_margin():
    X, y = separable_data(np.random.default_rng(5), 3, 20)
    u, gamma = separable.max_margin(X, y)
    assert directions.margin(u, X, y) == pytest.approx(gamma, rel=1e-10)


def test_max_margin_bad_input():
    X = np.array([[1.0, -1.0], [0.5, -0.5]])
    with pytest.raises(ValueError, match="not linearly separable"):
        separable.max_margin(X, np.array([1.0, 1.0]))  # x and -x with one label
    with pytest.raises(ValueError, match="not linearly separable"):
        separable.max_margin(np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([1.0, 1.0]))  # x = 0
    with pytest.raises(ValueError, match="y must"):
        separable.max_margin(X, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="X must"):
        separable.max_margin(np.ones(2), np.ones(2))


def test_witness_diagonal_is_non_negative_for_many_autoencoders():
    """lambda'_k = (U^T Y X^T V)_kk >= 0 even for nearly null modes (seen negative before the fix)."""
    for seed in range(200):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((9, 9))
        U, V = theory.alignment_invariant_witness(X, X)
        diag = np.diag(U.T @ X @ X.T @ V)
        assert diag.min() >= 0, (seed, diag.min())


def test_aligned_start_is_aligned_with_the_given_outer_bases():
    rng = np.random.default_rng(3)
    widths = [5, 4, 6, 3]
    V, U = aligned.random_orthogonal(5, rng=rng), aligned.random_orthogonal(3, rng=rng)
    Ws = aligned.aligned_start(V, U, widths, low=0.25, high=0.75, rng=rng)
    assert [W.shape for W in Ws] == [(4, 5), (6, 4), (3, 6)]
    assert np.max(metrics.alignment_defect(Ws)) < 1e-12
    # W_1 V is Q_1 Sigma_1 (zero beyond column min(k_0, k_1)), U^T W_d is Sigma_d Q_{d-1}^T
    assert np.abs((Ws[0] @ V)[:, 4:]).max() < 1e-12
    for W in Ws:
        s = np.linalg.svd(W, compute_uv=False)
        assert np.all((s[: min(W.shape)] >= 0.25) & (s[: min(W.shape)] < 0.75))
    product = Ws[2] @ Ws[1] @ Ws[0]
    middle = U.T @ product @ V  # rectangular diagonal: the collapse of eq. (3)
    off = middle.copy()
    off[np.arange(3), np.arange(3)] = 0.0
    assert np.abs(off).max() < 1e-12


def test_aligned_start_draws_as_a_plain_construction_does():
    widths = [4, 4, 4]
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    V, U = np.eye(4), np.eye(4)[::-1]
    Ws = aligned.aligned_start(V, U, widths, inner="identity", low=0.0, high=1.0, rng=a)
    s1, s2 = b.random(4), b.random(4)  # the MNIST script's np.random.rand diagonals
    assert np.array_equal(Ws[0], np.diag(s1) @ V.T)
    assert np.array_equal(Ws[1], U @ np.diag(s2))


def test_aligned_start_rejects_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="inner must be"):
        aligned.aligned_start(np.eye(2), np.eye(2), [2, 2], inner="eye", rng=rng)
    with pytest.raises(ValueError, match=r"V must be \(3, 3\)"):
        aligned.aligned_start(np.eye(2), np.eye(2), [3, 2], rng=rng)
    with pytest.raises(ValueError, match="low < high"):
        aligned.aligned_start(np.eye(2), np.eye(2), [2, 2], low=1.0, high=0.5, rng=rng)


def test_relative_commutator_against_the_plain_formula():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((4, 7)), rng.standard_normal((3, 7))
    A, C = X @ X.T, X @ Y.T @ Y @ X.T
    expected = np.sqrt(np.sum((A @ C - C @ A) ** 2)) / (np.sqrt(np.sum(A**2)) * np.sqrt(np.sum(C**2)))
    assert theory.relative_commutator(X, Y) == pytest.approx(expected, rel=1e-12)
    assert theory.relative_commutator(X, X) < 1e-15  # autoencoding: C = A^2 commutes with A


# ---------------------------------------------------------------- collapsed_product (eq. (3))


@SETTINGS
@given(st.lists(st.integers(1, 5), min_size=2, max_size=5), seeds)
def test_collapsed_product_equals_the_multiplied_out_network(ks, seed):
    """Reference: build each W_i = Q_i Sigma_i Q_{i-1}^T with an explicit rectangular Sigma_i and multiply."""
    rng = np.random.default_rng(seed)
    Qs = [np.linalg.qr(rng.standard_normal((k, k)))[0] for k in ks]
    sigmas = [rng.uniform(0.5, 2.0, min(a, b)) * rng.choice([-1, 1], min(a, b)) for a, b in zip(ks[1:], ks[:-1])]
    product = np.eye(ks[0])
    for i in range(1, len(ks)):
        Sigma = np.zeros((ks[i], ks[i - 1]))
        Sigma[range(len(sigmas[i - 1])), range(len(sigmas[i - 1]))] = sigmas[i - 1]
        product = Qs[i] @ Sigma @ Qs[i - 1].T @ product
    got = aligned.collapsed_product(Qs, sigmas)
    assert got.shape == (ks[-1], ks[0])
    np.testing.assert_allclose(got, product, atol=1e-12)
    assert np.linalg.matrix_rank(got, tol=1e-9) <= min(ks)


def test_collapsed_product_closed_form_and_validation():
    """Identity bases: the product of diagonals, truncated to the narrowest width."""
    sigmas = [np.array([2.0, -3.0]), np.array([0.5]), np.array([4.0])]
    got = aligned.collapsed_product([np.eye(2), np.eye(2), np.eye(1), np.eye(3)], sigmas)
    np.testing.assert_allclose(got, [[4.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="sigmas"):
        aligned.collapsed_product([np.eye(2), np.eye(2)], [np.ones(3)])
    with pytest.raises(ValueError, match="orthonormal"):
        aligned.collapsed_product([2 * np.eye(2), np.eye(2)], [np.ones(2)])


def test_collapse_error_against_a_plain_product():
    """Equation (3) measured on aligned networks: the relative difference from the layers multiplied out one by
    one, rounding."""
    rng = np.random.default_rng(12)
    for ks in ([3, 3, 3], [4, 6, 2, 5]):
        Qs = [aligned.random_orthogonal(k, rng=rng) for k in ks]
        sigmas = [rng.uniform(0.5, 2.0, min(a, b)) * rng.choice([-1, 1], min(a, b)) for a, b in zip(ks[1:], ks[:-1])]
        product = np.eye(ks[0])
        for W in aligned.aligned_network(Qs, sigmas):
            product = W @ product
        right = aligned.collapsed_product(Qs, sigmas)
        expected = np.abs(product - right).max() / np.abs(right).max()
        assert aligned.collapse_error(Qs, sigmas) == pytest.approx(expected, abs=1e-16)
        assert aligned.collapse_error(Qs, sigmas) < 1e-14
