"""Tests for deeplinear.overlaps against plain loops and closed forms written here."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deeplinear import metrics, overlaps
from test_metrics import SETTINGS, gaussian, haar, seeds, widths


@SETTINGS
@given(widths, seeds)
def test_overlap_against_a_plain_loop(ks, seed):
    rng = np.random.default_rng(seed)
    Ws = gaussian(ks, rng)
    got = overlaps.overlap(Ws)
    assert len(got) == len(Ws) - 1
    for i, (Wi, Wn) in enumerate(zip(Ws[:-1], Ws[1:])):
        U = np.linalg.svd(Wi, full_matrices=False)[0]
        Vt = np.linalg.svd(Wn, full_matrices=False)[2]
        expected = [[abs(float(Vt[j] @ U[:, l])) for l in range(U.shape[1])] for j in range(Vt.shape[0])]
        np.testing.assert_allclose(got[i], expected, atol=1e-12)
    # the released alignment score is each row's best match, averaged
    np.testing.assert_allclose([M.max(axis=1).mean() for M in got], metrics.alignment(Ws), atol=1e-12)


def test_overlap_of_an_aligned_network_is_the_permutation_of_its_sorting():
    """W_1 = Q_1 diag(s) Q_0^T, W_2 = Q_2 diag(t) Q_1^T: the sorted SVDs list Q_1's columns in the order of
    decreasing |s| and |t|, so the overlap is the permutation matrix between the two orders."""
    rng = np.random.default_rng(4)
    Q0, Q1, Q2 = haar(4, rng), haar(4, rng), haar(4, rng)
    s, t = np.array([1.0, -3.0, 2.0, 0.5]), np.array([2.5, 0.7, -1.0, 4.0])
    Ws = [Q1 @ np.diag(s) @ Q0.T, Q2 @ np.diag(t) @ Q1.T]
    order_s, order_t = np.argsort(-abs(s)), np.argsort(-abs(t))
    expected = (order_t[:, None] == order_s[None, :]).astype(float)  # row j: v_j = ±q_{order_t[j]}
    np.testing.assert_allclose(overlaps.overlap(Ws)[0], expected, atol=1e-12)
    # corresponding columns pair q_{order_t[j]} with q_{order_s[j]}: they agree in no column here
    assert not np.any(order_s == order_t)
    assert overlaps.corresponding_columns(Ws)[0] == pytest.approx(0.0, abs=1e-12)
    assert metrics.alignment(Ws)[0] == pytest.approx(1.0)
    # the same order in both layers: every column corresponds
    Ws_sorted = [Q1 @ np.diag([4.0, 3.0, 2.0, 1.0]) @ Q0.T, Q2 @ np.diag([-8.0, 6.0, 4.0, -2.0]) @ Q1.T]
    assert overlaps.corresponding_columns(Ws_sorted)[0] == pytest.approx(1.0)


def test_corresponding_columns_closed_form_rotation():
    """W_1 = diag(2, 1), W_2 = diag(2, 1) R(theta)^T: v_j(W_2) = R e_j up to sign, so each pair meets at cos theta."""
    theta = 0.4
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    Ws = [np.diag([2.0, 1.0]), np.diag([2.0, 1.0]) @ R.T]
    assert overlaps.corresponding_columns(Ws)[0] == pytest.approx(np.cos(theta), abs=1e-12)


@SETTINGS
@given(widths, seeds)
def test_corresponding_columns_against_a_plain_loop(ks, seed):
    Ws = gaussian(ks, np.random.default_rng(seed))
    expected = []
    for Wi, Wn in zip(Ws[:-1], Ws[1:]):
        U = np.linalg.svd(Wi, full_matrices=False)[0]
        V = np.linalg.svd(Wn, full_matrices=False)[2].T
        r = min(U.shape[1], V.shape[1])
        expected.append(sum(abs(float(U[:, j] @ V[:, j])) for j in range(r)) / r)
    np.testing.assert_allclose(overlaps.corresponding_columns(Ws), expected, atol=1e-10)
    assert overlaps.corresponding_columns([Ws[0]]).shape == (0,)


@SETTINGS
@given(st.lists(st.integers(1, 5), min_size=2, max_size=4), st.integers(1, 3), seeds)
def test_overlap_and_corresponding_columns_stacked_equal_per_member(ks, S, seed):
    rng = np.random.default_rng(seed)
    members = [gaussian(ks, rng) for _ in range(S)]
    stack = [np.stack(layer) for layer in zip(*members)]
    np.testing.assert_allclose(
        overlaps.corresponding_columns(stack), [overlaps.corresponding_columns(Ws) for Ws in members], atol=1e-12
    )
    for i, M in enumerate(overlaps.overlap(stack)):
        np.testing.assert_allclose(M, [overlaps.overlap(Ws)[i] for Ws in members], atol=1e-12)
