"""Tests for deeplinear.metrics, each against closed forms or plain reference code written here (the overlaps in
test_overlaps.py, the margin and rank-one ratio in test_directions.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplinear import metrics

SETTINGS = settings(max_examples=25, deadline=None)
widths = st.lists(st.integers(1, 6), min_size=2, max_size=5)
seeds = st.integers(0, 2**32 - 1)


def haar(k, rng):
    Q, R = np.linalg.qr(rng.standard_normal((k, k)))
    return Q * np.sign(np.diag(R))


def aligned(ks, rng):
    """W_i = Q_i Sigma_i Q_{i-1}^T, distinct |sigma| in a random order with random signs."""
    Qs = [haar(k, rng) for k in ks]
    Ws = []
    for i in range(1, len(ks)):
        r = min(ks[i], ks[i - 1])
        s = rng.permutation(np.linspace(0.5, 2.0, r)) * rng.choice([-1, 1], r)
        Sigma = np.zeros((ks[i], ks[i - 1]))
        Sigma[range(r), range(r)] = s
        Ws.append(Qs[i] @ Sigma @ Qs[i - 1].T)
    return Ws


def gaussian(ks, rng):
    return [rng.standard_normal((ks[i], ks[i - 1])) for i in range(1, len(ks))]


def reference_alignment(Ws):
    """Plain loops over singular vectors, as in the description of the released code."""
    out = []
    for Wi, Wn in zip(Ws[:-1], Ws[1:]):
        U = np.linalg.svd(Wi, full_matrices=False)[0]
        Vt = np.linalg.svd(Wn, full_matrices=False)[2]
        best = [max(abs(float(v @ U[:, l])) for l in range(U.shape[1])) for v in Vt]
        out.append(sum(best) / len(best))
    return np.array(out)


# ---------------------------------------------------------------- alignment


@SETTINGS
@given(widths, seeds)
def test_alignment_of_aligned_network(ks, seed):
    """1 where W_{i+1} has no more right singular vectors than W_i has left ones, else r/r'."""
    Ws = aligned(ks, np.random.default_rng(seed))
    expected = [min(1.0, min(ks[i], ks[i - 1]) / min(ks[i], ks[i + 1])) for i in range(1, len(ks) - 1)]
    np.testing.assert_allclose(metrics.alignment(Ws), expected, atol=1e-10)


def test_alignment_mnist_shaped_initialisation():
    """The authors' start W1 = D1 Ux^T, W2 = D2, W3 = Uy D3 (784 -> 1024 -> 64 -> 10, D uniform)."""
    rng = np.random.default_rng(0)
    for ks in [(784, 1024, 64, 10), (49, 64, 16, 10)]:
        D = []
        for i in range(1, 4):
            Di = np.zeros((ks[i], ks[i - 1]))
            r = min(ks[i], ks[i - 1])
            Di[range(r), range(r)] = rng.uniform(0, 1, r)
            D.append(Di)
        Ws = [D[0] @ haar(ks[0], rng).T, D[1], haar(ks[3], rng) @ D[2]]
        np.testing.assert_allclose(metrics.alignment(Ws), [1.0, 1.0], atol=1e-10)


@SETTINGS
@given(st.lists(st.integers(3, 6), min_size=3, max_size=4), seeds)
def test_alignment_gaussian_matches_reference_and_is_below_one(ks, seed):
    Ws = gaussian(ks, np.random.default_rng(seed))
    a = metrics.alignment(Ws)
    np.testing.assert_allclose(a, reference_alignment(Ws), atol=1e-12)
    assert np.all(a < 1 - 1e-6) and np.all(a > 0)


@SETTINGS
@given(st.lists(st.integers(2, 6), min_size=3, max_size=4), seeds, st.floats(0.1, 10))
def test_alignment_invariant_to_change_of_basis_and_rescaling(ks, seed, c):
    rng = np.random.default_rng(seed)
    Ws = gaussian(ks, rng)
    i = int(rng.integers(0, len(Ws) - 1))
    Q = haar(ks[i + 1], rng)
    moved = list(Ws)
    moved[i], moved[i + 1] = Q @ Ws[i], Ws[i + 1] @ Q.T
    np.testing.assert_allclose(metrics.alignment(moved), metrics.alignment(Ws), atol=1e-10)
    scaled = [c * W * (j + 1) for j, W in enumerate(Ws)]
    np.testing.assert_allclose(metrics.alignment(scaled), metrics.alignment(Ws), atol=1e-10)


# ---------------------------------------------------------------- alignment_defect


@SETTINGS
@given(widths, seeds)
def test_defect_zero_for_aligned_positive_for_gaussian(ks, seed):
    rng = np.random.default_rng(seed)
    assert np.all(metrics.alignment_defect(aligned(ks, rng)) < 1e-13)
    big = [k + 2 for k in ks]
    assert np.all(metrics.alignment_defect(gaussian(big, rng)) > 1e-3)


def test_defect_closed_form():
    """M = diag(a, b), N = [[p, q], [q, r]]: ||[M, N]||_F = sqrt(2) |a - b| |q|."""
    a, b, p, q, r = 4.0, 1.0, 2.0, 0.7, 3.0
    W1 = np.diag([np.sqrt(a), np.sqrt(b)])
    w, E = np.linalg.eigh(np.array([[p, q], [q, r]]))
    W2 = E @ np.diag(np.sqrt(w)) @ E.T  # symmetric square root, W2^T W2 = N
    expected = np.sqrt(2) * abs(a - b) * abs(q) / (np.hypot(a, b) * np.sqrt(p**2 + 2 * q**2 + r**2))
    np.testing.assert_allclose(metrics.alignment_defect([W1, W2]), [expected], rtol=1e-12)
    assert metrics.alignment_defect([W1, np.zeros((3, 2))])[0] == 0.0


def test_defect_handles_repeated_singular_values_where_alignment_fails():
    """W1 = I = R I R^T and W2 = R diag(2, 1) R^T are aligned (U_1 = V_2 = R), but the SVD of W1
    returns a basis of its own, so the best-match score falls to cos 45 degrees."""
    c = np.sqrt(0.5)
    R = np.array([[c, -c], [c, c]])
    Ws = [np.eye(2), R @ np.diag([2.0, 1.0]) @ R.T]
    assert metrics.alignment_defect(Ws)[0] < 1e-15
    assert metrics.alignment(Ws)[0] < 0.99


# ---------------------------------------------------------------- invariance


@SETTINGS
@given(widths, seeds)
def test_invariance_one_when_only_singular_values_change(ks, seed):
    rng = np.random.default_rng(seed)
    Ws0 = gaussian(ks, rng)
    np.testing.assert_allclose(metrics.invariance(Ws0, Ws0), np.ones(len(Ws0)), atol=1e-12)
    Ws = []
    for W in Ws0:
        U, s, Vt = np.linalg.svd(W, full_matrices=False)
        new = rng.permutation(np.linspace(0.3, 3.0, s.size)) * rng.choice([-1, 1], s.size)
        Ws.append((U * new) @ Vt)
    np.testing.assert_allclose(metrics.invariance(Ws0, Ws), np.ones(len(Ws0)), atol=1e-10)
    moved = [W + 0.5 * rng.standard_normal(W.shape) for W in Ws0]
    not_scalar = [i for i, W in enumerate(Ws0) if W.size > 1]
    assert np.all(metrics.invariance(Ws0, moved)[not_scalar] < 1)


@pytest.mark.parametrize("theta", [0.1, 0.4, 0.7])
def test_invariance_closed_form_rotation(theta):
    """W = R(theta) diag(2, 1): U turns by theta, V stays: (cos theta + 1) / 2."""
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    W0 = np.diag([2.0, 1.0])
    np.testing.assert_allclose(metrics.invariance([W0], [R @ W0]), [(np.cos(theta) + 1) / 2], rtol=1e-12)


# ---------------------------------------------------------------- balancedness


@SETTINGS
@given(widths, seeds)
def test_balancedness_direct_formula(ks, seed):
    Ws = gaussian(ks, np.random.default_rng(seed))
    ref = [np.sqrt(np.sum((Ws[i + 1].T @ Ws[i + 1] - Ws[i] @ Ws[i].T) ** 2)) for i in range(len(Ws) - 1)]
    np.testing.assert_allclose(metrics.balancedness(Ws), ref, rtol=1e-12, atol=1e-12)


def test_balancedness_zero_for_balanced_aligned_network():
    rng = np.random.default_rng(2)
    Q0, Q1, Q2 = haar(3, rng), haar(3, rng), haar(3, rng)
    s = np.array([2.0, -1.0, 0.5])
    Ws = [Q1 @ np.diag(s) @ Q0.T, Q2 @ np.diag(s * [-1, 1, -1]) @ Q1.T]
    assert metrics.balancedness(Ws)[0] < 1e-14


# ---------------------------------------------------------------- best match and top alignment


@SETTINGS
@given(st.integers(1, 6), st.integers(0, 5), st.integers(0, 5), seeds)
def test_best_match_against_a_plain_loop(m, p, q, seed):
    rng = np.random.default_rng(seed)
    p, q = min(p, m), min(q, m)
    A, B = haar(m, rng)[:, :p], haar(m, rng)[:, :q]
    if p == 0:
        expected = 1.0  # nothing to match
    elif q == 0:
        expected = 0.0  # nothing to match with
    else:
        expected = sum(max(abs(float(A[:, j] @ B[:, l])) for l in range(q)) for j in range(p)) / p
    assert metrics.best_match(A, B) == pytest.approx(expected, abs=1e-12)


def test_best_match_closed_forms():
    theta = 0.3
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    assert metrics.best_match(R, np.eye(2)) == pytest.approx(np.cos(theta))  # a rotation by theta
    P = np.eye(3)[:, [2, 0, 1]] * np.array([1, -1, 1])
    assert metrics.best_match(P, np.eye(3)) == 1.0  # order and signs don't count
    stack = metrics.best_match(np.stack([R, np.eye(2)]), np.stack([np.eye(2)] * 2))
    np.testing.assert_allclose(stack, [np.cos(theta), 1.0])
    with pytest.raises(ValueError, match="A and B"):
        metrics.best_match(np.eye(3), np.eye(2))


def test_top_alignment_closed_form_on_rank_one_layers():
    """W_i = s_i a_i b_i^T has u_i = ±a_i and v_i = ±b_i, so the value is |<a_i, b_{i+1}>|."""
    rng = np.random.default_rng(3)
    ks = [4, 5, 3, 1]
    a = [rng.standard_normal(k) for k in ks[1:]]
    b = [rng.standard_normal(k) for k in ks[:-1]]
    a, b = [x / np.linalg.norm(x) for x in a], [x / np.linalg.norm(x) for x in b]
    Ws = [2.0 * np.outer(ai, bi) for ai, bi in zip(a, b)]
    expected = [abs(float(a[i] @ b[i + 1])) for i in range(len(Ws) - 1)]
    np.testing.assert_allclose(metrics.top_alignment(Ws), expected, atol=1e-12)
    # aligned with the singular values in the same order in every layer: the top vectors meet
    Qs = [haar(k, rng) for k in (3, 4, 4, 2)]
    Ws = [Qs[i + 1][:, :2] @ np.diag([3.0, 1.0]) @ Qs[i][:, :2].T for i in range(3)]
    np.testing.assert_allclose(metrics.top_alignment(Ws), 1.0, atol=1e-12)
    # aligned in the sense of Definition 2 but with the top directions of W_1 and W_2 crossed: 0
    Ws[1] = Qs[2][:, :2] @ np.diag([1.0, 3.0]) @ Qs[1][:, :2].T
    np.testing.assert_allclose(metrics.top_alignment(Ws)[0], 0.0, atol=1e-12)
    assert metrics.top_alignment([np.ones((2, 3))]).shape == (0,)


@SETTINGS
@given(widths, seeds)
def test_top_alignment_against_a_plain_loop(ks, seed):
    rng = np.random.default_rng(seed)
    Ws = gaussian(ks, rng)
    expected = [abs(float(np.linalg.svd(Wi)[0][:, 0] @ np.linalg.svd(Wn)[2][0])) for Wi, Wn in zip(Ws[:-1], Ws[1:])]
    np.testing.assert_allclose(metrics.top_alignment(Ws), expected, atol=1e-9)


# ---------------------------------------------------------------- stacked input


@SETTINGS
@given(st.lists(st.integers(1, 5), min_size=2, max_size=4), st.integers(1, 3), seeds)
def test_stacked_equals_per_member(ks, S, seed):
    rng = np.random.default_rng(seed)
    members = [gaussian(ks, rng) for _ in range(S)]
    later = [[W + 0.1 * rng.standard_normal(W.shape) for W in Ws] for Ws in members]
    stack = [np.stack(layer) for layer in zip(*members)]
    stack_later = [np.stack(layer) for layer in zip(*later)]
    for f in (metrics.alignment, metrics.alignment_defect, metrics.balancedness, metrics.top_alignment):
        np.testing.assert_allclose(f(stack), [f(Ws) for Ws in members], atol=1e-12)
    np.testing.assert_allclose(
        metrics.invariance(stack, stack_later), [metrics.invariance(a, b) for a, b in zip(members, later)], atol=1e-12
    )


# ---------------------------------------------------------------- bad input


def test_bad_input_names_parameter():
    W = np.ones((3, 2))
    with pytest.raises(ValueError, match="Ws"):
        metrics.alignment([W, np.ones((3, 4))])
    with pytest.raises(ValueError, match="Ws"):
        metrics.alignment([])
    with pytest.raises(ValueError, match="Ws"):
        metrics.alignment_defect([W, np.ones((2, 3, 2))])
    with pytest.raises(ValueError, match="Ws"):
        metrics.balancedness([np.full((2, 2), np.nan)])
    with pytest.raises(ValueError, match="Ws must have the same layer shapes as Ws0"):
        metrics.invariance([W], [np.ones((2, 3))])
    with pytest.raises(ValueError, match="Ws"):
        metrics.top_alignment([W, np.ones((3, 4))])


# ---------------------------------------------------------------- imbalance


@SETTINGS
@given(widths, seeds)
def test_imbalance_direct_formula_and_balancedness_is_its_norm(ks, seed):
    Ws = gaussian(ks, np.random.default_rng(seed))
    D = metrics.imbalance(Ws)
    assert [M.shape for M in D] == [(k, k) for k in ks[1:-1]]
    for i, M in enumerate(D):
        expected = [
            [
                sum(Ws[i + 1][r, a] * Ws[i + 1][r, b] for r in range(ks[i + 2]))
                - sum(Ws[i][a, c] * Ws[i][b, c] for c in range(ks[i]))
                for b in range(ks[i + 1])
            ]
            for a in range(ks[i + 1])
        ]
        np.testing.assert_allclose(M, expected, atol=1e-12)
    np.testing.assert_allclose(metrics.balancedness(Ws), [np.linalg.norm(M) for M in D], rtol=1e-12, atol=1e-14)


def test_imbalance_zero_for_the_minimum_norm_factorisation():
    """W_1 = S^(1/2) V^T, W_2 = U S^(1/2): W_2^T W_2 = S = W_1 W_1^T."""
    rng = np.random.default_rng(5)
    U, s, Vt = np.linalg.svd(rng.standard_normal((3, 3)))
    D = metrics.imbalance([np.sqrt(s)[:, None] * Vt, U * np.sqrt(s)])
    np.testing.assert_allclose(D[0], 0.0, atol=1e-14)
    stack = [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 3))]
    for m in range(2):
        np.testing.assert_allclose(metrics.imbalance(stack)[0][m], metrics.imbalance([W[m] for W in stack])[0])
    with pytest.raises(ValueError, match="Ws"):
        metrics.imbalance([np.ones((3, 2)), np.ones((3, 4))])


def test_registry_entries_flag_exactly_the_metrics_that_take_svds():
    """An entry flagged ``shares_svds`` gives the same values from the shared SVDs as without them; an entry
    not flagged takes no ``svds=`` (the trainer would pass them otherwise)."""
    import inspect

    rng = np.random.default_rng(3)
    Ws = [rng.standard_normal((4, 3)), rng.standard_normal((2, 4))]
    for name, entry in metrics.REGISTRY.items():
        fn = entry(Ws)
        takes_svds = "svds" in inspect.signature(fn).parameters
        assert entry.shares_svds == takes_svds, name
        if entry.shares_svds:
            np.testing.assert_array_equal(fn(Ws, svds=metrics.layer_svds(Ws)), fn(Ws))
