"""Tests for deeplinear.impossibility (Section 5.2) and the helpers chapters 06 and 07 added elsewhere:
metrics.traceless_alignment_defect, bases.scores_over_bases and losses.mse_learning_rate.

References: numpy's least squares and pseudo-inverse, plain loops over singular vectors, finite
differences, closed forms, and the library's metrics applied one at a time.
"""

import numpy as np
import pytest
from scipy import sparse

from deeplinear import aligned, bases, impossibility, losses, metrics, structures
from deeplinear.network import gradients


def best_match_loop(A, B):
    """Mean over columns a of A of max over columns b of B of |<a, b>| (plain loops)."""
    return np.mean([max(abs(float(a @ b)) for b in B.T) for a in A.T])


# -- Proposition 3 ---------------------------------------------------------------------------------
def test_pinv_solution_is_least_squares():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((4, 9)), rng.standard_normal((3, 9))
    P = impossibility.pinv_solution(X, Y)
    np.testing.assert_allclose(P, np.linalg.lstsq(X.T, Y.T, rcond=None)[0].T, atol=1e-12)
    np.testing.assert_allclose(P, Y @ np.linalg.pinv(X), atol=1e-12)
    with pytest.raises(ValueError, match="n >= k_0"):
        impossibility.pinv_solution(X[:, :3], Y[:, :3])


def test_proposition3_scores_against_plain_loops():
    rng = np.random.default_rng(1)
    k, d = 4, 3
    Qs = [aligned.random_orthogonal(k, rng=rng) for _ in range(d + 1)]
    Ws = aligned.aligned_network(Qs, [np.linspace(1.0, 2.0, k) * (i + 1) for i in range(d)])
    X = rng.standard_normal((k, 7))
    np.testing.assert_allclose(impossibility.proposition3_scores(Ws, X), [1.0, 1.0], atol=1e-9)
    Ws = [rng.standard_normal((k, k)) for _ in range(d)]
    P = Ws[2] @ Ws[1] @ Ws[0]  # interpolating, so P = f
    U_P, _, Vt_P = np.linalg.svd(P)
    V_Wd = np.linalg.svd(Ws[-1].T)[2].T  # right singular vectors of W_d^T
    U_W1t = np.linalg.svd(Ws[0].T)[0]
    expected = [best_match_loop(V_Wd, U_P), best_match_loop(Vt_P.T, U_W1t)]
    np.testing.assert_allclose(impossibility.proposition3_scores(Ws, X), expected, atol=1e-10)


# -- Proposition 4 ---------------------------------------------------------------------------------
def defect_loop(W, V):
    """delta(W) with explicit sums over entries."""
    M = W.T @ W
    k = len(M)
    B = V.T @ M @ V
    off = sum(B[i, j] ** 2 for i in range(k) for j in range(k) if i != j)
    t = np.trace(M) / k
    den = sum((M[i, j] - (t if i == j else 0.0)) ** 2 for i in range(k) for j in range(k))
    return np.sqrt(off / den)


def test_singular_basis_defect_closed_forms():
    rng = np.random.default_rng(2)
    V = aligned.random_orthogonal(5, rng=rng)
    W = np.diag([1.0, 2.0, 3.0, 4.0, 5.0]) @ V.T  # right singular vectors V
    assert impossibility.singular_basis_defect(W, V) < 1e-13
    W = rng.standard_normal((5, 5))
    assert impossibility.singular_basis_defect(W, V) == pytest.approx(defect_loop(W, V), rel=1e-12)
    assert impossibility.singular_basis_defect(7 * W, V) == pytest.approx(defect_loop(W, V), rel=1e-12)
    with pytest.raises(ValueError, match="V"):
        impossibility.singular_basis_defect(W, V[:4, :4])


@pytest.mark.parametrize(
    "S",
    [
        structures.Toeplitz(4),
        structures.Convolution(2, 3),
        structures.RandomSubspace(4, 4, 5, rng=np.random.default_rng(3)),
    ],
)
def test_partner_objective_value_and_finite_difference_gradient(S):
    rng = np.random.default_rng(4)
    k = S.shape[1]
    V = aligned.random_orthogonal(k, rng=rng)
    fun = impossibility.partner_objective(S, V)
    c = rng.standard_normal(S.dim)
    value, grad = fun(c)
    assert value == pytest.approx(defect_loop(S.matrix(c), V) ** 2, rel=1e-10)
    eps = 1e-6
    fd = np.array([(fun(c + eps * e)[0] - fun(c - eps * e)[0]) / (2 * eps) for e in np.eye(S.dim)])
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-7)


def test_partner_objective_excludes_multiples_of_the_identity():
    S = structures.Structure(np.eye(3)[None])
    value, grad = impossibility.partner_objective(S, np.eye(3))(np.array([2.0]))
    assert value == 1.0 and np.array_equal(grad, [0.0])


def test_closest_partner_fully_connected_reaches_zero_and_one_dimensional_is_fixed():
    rng = np.random.default_rng(5)
    P = rng.standard_normal((3, 3))
    defect, score = impossibility.closest_partner(structures.RandomSubspace(3, 3, 9, rng=rng), P, restarts=2, rng=rng)
    assert defect < 1e-7 and score > 1 - 1e-6
    S = structures.RandomSubspace(3, 3, 1, rng=rng)  # W = c A: the defect does not depend on c
    defect, _ = impossibility.closest_partner(S, P, restarts=2, rng=rng)
    V = np.linalg.svd(P)[2].T
    assert defect == pytest.approx(defect_loop(S.basis[0], V), rel=1e-10)
    with pytest.raises(ValueError, match="restarts"):
        impossibility.closest_partner(S, P, restarts=0, rng=rng)


def test_partner_sweep_draws_subspace_then_starts_for_each_r():
    P = np.random.default_rng(6).standard_normal((2, 2))
    sweep = impossibility.partner_sweep(P, restarts=1, rng=np.random.default_rng(7))
    rng = np.random.default_rng(7)
    expected = [
        impossibility.closest_partner(structures.RandomSubspace(2, 2, r, rng=rng), P, 1, rng=rng) for r in range(1, 5)
    ]
    np.testing.assert_array_equal(sweep, np.array(expected))
    assert sweep.shape == (4, 2) and sweep[-1, 0] < 1e-7


def test_interpolation_residual_against_scipy_least_squares():
    """The residual of scipy's least-squares fit of Y = F X (row by row), relative to ||Y||."""
    from scipy.linalg import lstsq

    rng = np.random.default_rng(8)
    for k0, kd, n in [(4, 3, 9), (2, 5, 3), (6, 6, 12)]:
        X, Y = rng.standard_normal((k0, n)), rng.standard_normal((kd, n))
        F = lstsq(X.T, Y.T)[0].T
        expected = np.linalg.norm(Y - F @ X) / np.linalg.norm(Y)
        assert impossibility.interpolation_residual(X, Y) == pytest.approx(expected, rel=1e-10)
        assert expected > 0.1  # n > k_0: generic data are not interpolated
    X = rng.standard_normal((5, 4))  # n <= k_0: some F interpolates any Y
    assert impossibility.interpolation_residual(X, rng.standard_normal((3, 4))) < 1e-14
    X = np.vstack([rng.standard_normal((2, 6)), np.zeros((3, 6))])  # rank 2 < n = 6
    Y = rng.standard_normal((2, 6))
    expected = np.linalg.norm(Y - lstsq(X.T, Y.T)[0].T @ X) / np.linalg.norm(Y)
    assert impossibility.interpolation_residual(X, Y) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="non-zero"):
        impossibility.interpolation_residual(X, np.zeros((2, 6)))


@pytest.mark.parametrize("structure", [None, structures.Toeplitz(2)])
def test_search_generic_data_draws_each_data_set_then_searches(structure):
    """The same draws and searches written out: X, then Y, then the search, data set after data set."""
    found, residuals = impossibility.search_generic_data(2, 3, 1, structure, rng=np.random.default_rng(9))
    rng = np.random.default_rng(9)
    for i in range(3):
        X, Y = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
        P = impossibility.pinv_solution(X, Y)  # tested against lstsq above
        if structure is None:
            expected = []
            for r in range(1, 5):
                subspace = structures.RandomSubspace(2, 2, r, rng=rng)
                expected.append(impossibility.closest_partner(subspace, P, 1, rng=rng))
        else:
            expected = impossibility.closest_partner(structure, P, 1, rng=rng)
        np.testing.assert_allclose(found[i], np.array(expected), rtol=1e-12)
        assert residuals[i] == pytest.approx(np.linalg.norm(Y - P @ X) / np.linalg.norm(Y), rel=1e-10)
    assert found.shape == ((3, 4, 2) if structure is None else (3, 2))
    with pytest.raises(ValueError, match="must hold 3 x 3 matrices"):
        impossibility.search_generic_data(3, 1, 1, structures.Toeplitz(2), rng=np.random.default_rng(0))


# -- metrics.traceless_alignment_defect -------------------------------------------------------------
def test_traceless_defect_is_the_commutator_over_traceless_norms():
    rng = np.random.default_rng(19)
    Ws = [rng.standard_normal((5, 4)), rng.standard_normal((3, 5)), rng.standard_normal((3, 3))]
    got = metrics.traceless_alignment_defect(Ws)
    for i in range(2):
        M, N = Ws[i] @ Ws[i].T, Ws[i + 1].T @ Ws[i + 1]
        k = len(M)
        tM, tN = M - np.trace(M) / k * np.eye(k), N - np.trace(N) / k * np.eye(k)
        lib = metrics.alignment_defect(Ws)[i] * np.linalg.norm(M) * np.linalg.norm(N)  # the library's numerator
        assert got[i] == pytest.approx(lib / (np.linalg.norm(tM) * np.linalg.norm(tN)), rel=1e-10)
    sparse_ws = [sparse.csr_matrix(W) for W in Ws]
    np.testing.assert_allclose(metrics.traceless_alignment_defect(sparse_ws), got, rtol=1e-10)
    stacked = [np.stack([W, 2 * W]) for W in Ws]
    np.testing.assert_allclose(metrics.traceless_alignment_defect(stacked), [got, got], rtol=1e-10)


def test_traceless_defect_zero_for_aligned_and_for_identities():
    rng = np.random.default_rng(20)
    Qs = [aligned.random_orthogonal(4, rng=rng) for _ in range(4)]
    Ws = aligned.aligned_network(Qs, [rng.uniform(1, 2, 4) for _ in range(3)])
    assert metrics.traceless_alignment_defect(Ws).max() < 1e-13
    assert np.array_equal(metrics.traceless_alignment_defect([2 * np.eye(3), rng.standard_normal((3, 3))]), [0.0])
    with pytest.raises(ValueError, match="chain"):
        metrics.traceless_alignment_defect([sparse.eye(3), sparse.eye(4)])


# -- bases.scores_over_bases -----------------------------------------------------------------------
def test_scores_over_bases_equals_the_three_separate_calls():
    rng = np.random.default_rng(21)
    s = np.array([2.0, 2.0, 2.0, 1.0, 0.5])  # a repeated singular value: the bases matter
    Qs = [aligned.random_orthogonal(5, rng=rng) for _ in range(4)]
    Ws0 = aligned.aligned_network(Qs, [s] * 3)
    Ws = [W + 0.05 * rng.standard_normal(W.shape) for W in Ws0]
    got = bases.scores_over_bases(Ws0, Ws, draws=6, rng=np.random.default_rng(22))
    rng = np.random.default_rng(22)
    expected = {
        "alignment_initial": bases.alignment_over_bases(Ws0, draws=6, rng=rng),
        "alignment_final": bases.alignment_over_bases(Ws, draws=6, rng=rng),
        "invariance_final": bases.invariance_over_bases(Ws0, Ws, draws=6, rng=rng),
    }
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value)
    assert got["alignment_initial"].min() < 0.99  # the draws do move the score
    with pytest.raises(ValueError, match="same 2-D layer shapes"):
        bases.scores_over_bases(Ws0, Ws[:2], rng=rng)


# -- losses.mse_learning_rate ----------------------------------------------------------------------
def test_mse_learning_rate_step_equals_a_step_on_the_mean_squared_error():
    rng = np.random.default_rng(23)
    Ws = [rng.standard_normal((3, 4)), rng.standard_normal((5, 3))]
    X, Y = rng.standard_normal((4, 6)), rng.standard_normal((5, 6))

    def mse(Ws):
        return np.mean((Ws[1] @ Ws[0] @ X - Y) ** 2)

    eps = 1e-6
    for i, W in enumerate(Ws):
        fd = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            E = np.zeros_like(W)
            E[idx] = eps
            up, down = list(Ws), list(Ws)
            up[i], down[i] = W + E, W - E
            fd[idx] = (mse(up) - mse(down)) / (2 * eps)
        step = losses.mse_learning_rate(0.01, 5) * gradients(Ws, X, Y)[i]
        np.testing.assert_allclose(step, 0.01 * fd, rtol=1e-6, atol=1e-10)
    assert losses.mse_learning_rate(0.01, 784) == 0.01 * 2 / 784
    with pytest.raises(ValueError, match="lr must be a positive number"):
        losses.mse_learning_rate(0.0, 3)
    with pytest.raises(ValueError, match="k_out must be an integer"):
        losses.mse_learning_rate(0.1, 2.5)
