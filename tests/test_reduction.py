"""The reduction lemma (deeplinear.reduction) against independent references: plain gradient descent on
the full network (deeplinear.train), scipy's orth, full SVDs of the expanded layers. Training through it
(deeplinear.figure1) is tested in test_figure1.py, which takes its problems from here."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import deeplinear
from deeplinear import aligned, metrics, reduction

WIDTHS = [12, 16, 4, 3]  # k_0 > n: the data have rank n < k_0, so the small network is smaller


def _data(rng, n=5):
    X = rng.standard_normal((WIDTHS[0], n))
    labels = np.arange(n) % WIDTHS[-1]
    Y = np.eye(WIDTHS[-1])[:, labels]  # one-hot columns, also fine for the squared loss
    return X, Y


def _random_start(rng):
    return [rng.standard_normal((b, a)) / np.sqrt(a) for a, b in zip(WIDTHS[:-1], WIDTHS[1:])]


def _aligned_start(rng, X, Y):
    """The MNIST recipe: W_1 = D_1 U_x^T, W_i = D_i, W_d = U_y D_d."""
    return aligned.aligned_start(
        np.linalg.svd(X)[0], np.linalg.svd(Y)[0], WIDTHS, inner="identity", low=0.0, high=1.0, rng=rng
    )


def _starts():
    rng = np.random.default_rng(0)
    X, Y = _data(rng)
    return X, Y, {"random": _random_start(rng), "aligned": _aligned_start(rng, X, Y)}


def _nonzero_vectors(W, tol=1e-10):
    """Reference: a full SVD of W, keeping the singular vectors of singular values above tol * largest."""
    U, s, Vt = np.linalg.svd(W)
    keep = s > tol * s[0]
    return U[:, : len(s)][:, keep], Vt[: len(s)][keep].T


def _match(A, B):
    """Reference best-match score: for each column of A, the largest |cos| with a column of B; their mean."""
    return float(np.mean([max(abs(float(a @ b)) for b in B.T) for a in A.T]))


def test_column_basis_spans_what_scipy_orth_spans():
    rng = np.random.default_rng(1)
    M = rng.standard_normal((9, 3)) @ rng.standard_normal((3, 7))  # rank 3
    P = reduction.column_basis(M)
    Q = scipy.linalg.orth(M, rcond=1e-10)
    assert P.shape == Q.shape == (9, 3)
    np.testing.assert_allclose(P.T @ P, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(P @ P.T, Q @ Q.T, atol=1e-12)
    assert reduction.column_basis(np.zeros((4, 2))).shape == (4, 0)
    assert reduction.column_basis(M, scale=1e12).shape == (9, 0)  # every singular value below tol * scale
    with pytest.raises(ValueError, match="M must be a finite 2-D array"):
        reduction.column_basis(np.ones(3))


@pytest.mark.parametrize("kind", ["random", "aligned"])
def test_expand_of_the_reduced_start_is_the_start_and_the_maps_agree_on_the_data(kind):
    X, Y, starts = _starts()
    Ws = starts[kind]
    red = reduction.reduce_network(Ws, X)
    for W, V in zip(Ws, reduction.expand(red, red.layers)):
        np.testing.assert_allclose(V, W, atol=1e-12)
    assert red.widths[0] == np.linalg.matrix_rank(X) == 5 and red.widths[-1] == WIDTHS[-1]
    assert red.widths[1] < WIDTHS[1]  # the first hidden layer has units the data never reach
    for B in red.bases:
        np.testing.assert_allclose(B.T @ B, np.eye(B.shape[1]), atol=1e-12)
    np.testing.assert_allclose(
        deeplinear.end_to_end(red.layers) @ red.X, deeplinear.end_to_end(Ws) @ X, rtol=1e-12, atol=1e-12
    )
    for loss in ("squared", "cross_entropy"):
        assert deeplinear.loss(red.layers, red.X, Y, loss) == pytest.approx(deeplinear.loss(Ws, X, Y, loss), rel=1e-12)


def test_the_fixed_part_never_meets_the_data():
    X, _, starts = _starts()
    red = reduction.reduce_network(starts["aligned"], X)
    np.testing.assert_allclose(red.fixed @ red.complement.T @ X, 0.0, atol=1e-12)
    assert red.fixed_rank == np.linalg.matrix_rank(starts["aligned"][0] @ red.complement) == WIDTHS[0] - 5
    # a start inside the data's column space: the fixed part is exactly zero
    inside = [starts["random"][0] @ red.bases[0] @ red.bases[0].T, *starts["random"][1:]]
    red_inside = reduction.reduce_network(inside, X)
    assert not red_inside.fixed.any() and red_inside.fixed_rank == 0


def test_cost_ratio_counts_multiply_adds_of_both_networks():
    X, _, starts = _starts()
    red = reduction.reduce_network(starts["random"], X)
    m = red.widths
    full = 12 * 16 + 16 * 4 + 4 * 3
    assert red.cost_ratio == pytest.approx(full / (m[0] * m[1] + m[1] * m[2] + m[2] * m[3]))


def test_a_large_reduction_is_a_small_problem():
    """Data of rank 4 in 400 dimensions: the small network's first layer is 4 wide instead of 400, and a step of it
    makes 1/3350 of the full network's multiply-adds (what that saves in seconds is printed by benchmarks/speed.py,
    not asserted: a wall-clock time depends on the machine and its load)."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((400, 4))
    Ws = [rng.standard_normal((300, 400)) / 20, rng.standard_normal((2, 300)) / 20]
    red = reduction.reduce_network(Ws, X)
    assert red.widths == [4, 6, 2]  # B_1 spans W_1 Q (4 columns) and W_2^T (2 columns)
    assert [A.shape for A in red.layers] == [(6, 4), (2, 6)] and red.X.shape == (4, 4)
    assert red.cost_ratio == (400 * 300 + 300 * 2) / (4 * 6 + 6 * 2) == 3350.0


@pytest.mark.parametrize("kind", ["random", "aligned"])
def test_scores_are_the_library_metrics_of_the_full_network(kind):
    """Full-rank layers: no zero singular values to leave out, so metrics.alignment and the mean of U and V
    invariance (metrics.invariance) on the expanded network, from full SVDs, are the reference."""
    X, Y, starts = _starts()
    Ws = starts[kind]
    red = reduction.reduce_network(Ws, X)
    A = deeplinear.train(red.layers, red.X, Y, lr=0.05, steps=30, loss="cross_entropy").weights
    full = reduction.expand(red, A)
    align, inv = reduction.scores_to(red)(A)
    assert align.shape == (len(Ws) - 1,) and inv.shape == (len(Ws), 2)
    np.testing.assert_allclose(align, metrics.alignment(full), atol=1e-10)
    np.testing.assert_allclose(inv.mean(axis=1), metrics.invariance(Ws, full), atol=1e-10)
    assert inv.min() < 1 - 1e-3  # the singular vectors moved: the scores are not trivially 1
    assert reduction.metrics_deviation(red, A) < 1e-10


def test_scores_leave_out_singular_vectors_of_zero_singular_values():
    """Rank-one layers (Appendix F's start, one output): compare with full SVDs that keep only the nonzero part."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((WIDTHS[0], 5))
    y = np.where(np.arange(5) < 3, 1.0, -1.0)[None, :]
    widths = [*WIDTHS[:-1], 1]
    U_b, _, Vt_b = np.linalg.svd(y @ X.T)
    sigmas = [np.r_[rng.random() + 0.5, np.zeros(min(a, b) - 1)] for a, b in zip(widths[:-1], widths[1:])]
    Ws = aligned.aligned_network([Vt_b.T, np.eye(16), np.eye(4), U_b], sigmas)
    red = reduction.reduce_network(Ws, X)
    assert red.widths[1:-1] == [1, 1] and not red.fixed.any()
    A = deeplinear.train(red.layers, red.X, y, lr=0.05, steps=20, loss="logistic").weights
    full = reduction.expand(red, A)
    now, start = [_nonzero_vectors(W) for W in full], [_nonzero_vectors(W) for W in Ws]
    align, inv = reduction.scores_to(red)(A)
    np.testing.assert_allclose(align, [_match(now[i + 1][1], now[i][0]) for i in range(2)], atol=1e-12)
    expected = [[_match(U, U0), _match(V, V0)] for (U, V), (U0, V0) in zip(now, start)]
    np.testing.assert_allclose(inv, expected, atol=1e-12)
    np.testing.assert_allclose(align, 1.0, atol=1e-12)  # the proposition: the network stays aligned
    assert [U.shape[1] for U, _ in now] == [1, 1, 1]  # rank one: the reference kept one vector per layer
    assert reduction.metrics_deviation(red, A) > 1e-3  # the library's metrics keep the arbitrary vectors


def test_bad_inputs_raise_value_errors():
    X, Y, starts = _starts()
    with pytest.raises(ValueError, match="X must be a finite array"):
        reduction.reduce_network(starts["random"], X[:-1])
    with pytest.raises(ValueError, match="do not chain"):
        reduction.reduce_network([starts["random"][0], starts["random"][0]], X)
    with pytest.raises(ValueError, match="one network, not a stack"):
        reduction.reduce_network([np.ones((2, 16, 12))], X)
    red = reduction.reduce_network(starts["random"], X)
    with pytest.raises(ValueError, match="small network's layer shapes"):
        reduction.expand(red, starts["random"])
