"""deeplinear.bases: scores over random singular bases, against closed forms and the plain metrics."""

import numpy as np
import pytest

from deeplinear import aligned, bases, metrics, overlaps


def rotation(theta):
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def test_singular_subspaces_groups_equal_values_and_chains():
    s = np.array([3.0, 2.0, 2.0, 2.0 - 1e-12, 1.0, 0.0, 0.0])
    groups = bases.singular_subspaces(s, rtol=1e-8)
    assert [g.tolist() for g in groups] == [[0], [1, 2, 3], [4], [5, 6]]
    assert [g.tolist() for g in bases.singular_subspaces(s, rtol=0.0)] == [[0], [1, 2], [3], [4], [5, 6]]
    with pytest.raises(ValueError, match="decreasing"):
        bases.singular_subspaces(np.array([1.0, 2.0]))


def test_random_svd_is_an_svd_and_turns_only_inside_repeated_subspaces():
    rng = np.random.default_rng(0)
    Q0, Q1 = aligned.random_orthogonal(5, rng=rng), aligned.random_orthogonal(5, rng=rng)
    s = np.array([3.0, 2.0, 2.0, 2.0, 0.5])
    W = Q1 @ np.diag(s) @ Q0.T
    U, s_out, V = bases.random_svd(W, rng=rng)
    np.testing.assert_allclose(U @ np.diag(s_out) @ V.T, W, atol=1e-13)
    np.testing.assert_allclose(U.T @ U, np.eye(5), atol=1e-13)
    np.testing.assert_allclose(V.T @ V, np.eye(5), atol=1e-13)
    # distinct singular values keep their vectors up to sign; the repeated ones span the same subspace
    for j in (0, 4):
        assert abs(abs(U[:, j] @ Q1[:, j]) - 1) < 1e-12
    P = Q1[:, 1:4] @ Q1[:, 1:4].T
    np.testing.assert_allclose(P @ U[:, 1:4], U[:, 1:4], atol=1e-12)
    # and two draws differ inside it
    U2 = bases.random_svd(W, rng=rng)[0]
    assert np.abs(U2[:, 1:4] - U[:, 1:4]).max() > 1e-3


def test_draws_do_not_depend_on_the_basis_the_svd_routine_returns(monkeypatch):
    """The same seed gives the same bases whichever basis of a repeated subspace np.linalg.svd picks."""
    rng = np.random.default_rng(1)
    Q0, Q1 = aligned.random_orthogonal(4, rng=rng), aligned.random_orthogonal(4, rng=rng)
    W = Q1 @ np.diag([2.0, 1.0, 1.0, 1.0]) @ Q0.T
    first = bases.random_svd(W, rng=np.random.default_rng(7))
    svd = np.linalg.svd
    R = aligned.random_orthogonal(3, rng=rng)

    def other_basis(A, full_matrices=True):
        U, s, Vt = svd(A, full_matrices=full_matrices)
        U, V = U.copy(), Vt.T.copy()
        U[:, 1:4], V[:, 1:4] = U[:, 1:4] @ R, V[:, 1:4] @ R
        return U, s, V.T

    monkeypatch.setattr(np.linalg, "svd", other_basis)
    second = bases.random_svd(W, rng=np.random.default_rng(7))
    for a, b in zip(first, second):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_alignment_over_bases_equals_the_plain_score_for_distinct_singular_values():
    rng = np.random.default_rng(2)
    Ws = [rng.standard_normal((4, 4)) for _ in range(3)]
    over = bases.alignment_over_bases(Ws, draws=5, rng=rng)
    assert over.shape == (5, 2)
    np.testing.assert_allclose(over, np.tile(metrics.alignment(Ws), (5, 1)), atol=1e-12)


def test_alignment_over_bases_closed_form_for_a_repeated_singular_value():
    """W_1 = I (any basis), W_2 = diag(2, 1): a basis turned by theta scores max(|cos|, |sin|) in [1/sqrt 2, 1]."""
    rng = np.random.default_rng(3)
    over = bases.alignment_over_bases([np.eye(2), np.diag([2.0, 1.0])], draws=400, rng=rng)[:, 0]
    assert over.min() >= 1 / np.sqrt(2) - 1e-12 and over.max() <= 1 + 1e-12
    assert over.min() < 0.72 and over.max() > 0.99  # the draws cover the closed-form range
    # and every value is max(|cos|, |sin|) of some angle: the two matches are equal
    U = bases.random_svd(np.eye(2), rng=np.random.default_rng(4))[0]
    expected = np.abs(U).max(axis=1).mean()
    assert abs(metrics.best_match(np.eye(2), U) - expected) < 1e-12


def test_an_aligned_network_with_repeated_singular_values_scores_below_one_for_some_bases():
    rng = np.random.default_rng(5)
    Qs = [aligned.random_orthogonal(4, rng=rng) for _ in range(4)]
    Ws = aligned.aligned_network(
        Qs, [np.array([1.5, 1.5, 1.0, 0.5]), np.array([2.0, 1.0, 1.0, 0.7]), np.array([1.0, 0.9, 0.8, 0.7])]
    )
    over = bases.alignment_over_bases(Ws, draws=50, rng=rng)
    assert over.min() < 0.95 and over.max() <= 1 + 1e-12
    assert metrics.alignment_defect(Ws).max() < 1e-13  # aligned all the same (basis-free)


def test_invariance_over_bases_closed_form():
    """W0 = I in a random basis, W = diag(2, 1): each side scores max(|cos|, |sin|) of the turn."""
    rng = np.random.default_rng(6)
    over = bases.invariance_over_bases([np.eye(2)], [np.diag([2.0, 1.0])], draws=300, rng=rng)[:, 0]
    assert over.min() >= 1 / np.sqrt(2) - 1e-12 and over.max() <= 1 + 1e-12
    assert over.min() < 0.72 and over.max() > 0.99
    Ws = [rng.standard_normal((3, 3)) for _ in range(2)]
    Ws1 = [W + 0.1 * rng.standard_normal((3, 3)) for W in Ws]
    np.testing.assert_allclose(
        bases.invariance_over_bases(Ws, Ws1, draws=3, rng=rng), np.tile(metrics.invariance(Ws, Ws1), (3, 1)), atol=1e-12
    )


def test_bad_input_is_named():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="draws"):
        bases.alignment_over_bases([np.eye(2), np.eye(2)], draws=0, rng=rng)
    with pytest.raises(TypeError, match="rng"):
        bases.invariance_over_bases([np.eye(2)], [np.eye(2)], rng=0.5)
    with pytest.raises(ValueError, match="same 2-D layer shapes"):
        bases.invariance_over_bases([np.eye(2)], [np.eye(3)], rng=rng)


@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_paired_rotation_is_the_exponential_of_its_generator(k):
    """Against scipy's matrix exponential of the block skew-symmetric generator (an independent route)."""
    from scipy.linalg import expm

    angle = 0.7
    generator = np.zeros((k, k))
    for j in range(0, k - 1, 2):
        generator[j + 1, j], generator[j, j + 1] = angle, -angle
    np.testing.assert_allclose(bases.paired_rotation(k, angle), expm(generator), atol=1e-14)


@pytest.mark.parametrize("k", [2, 3, 7, 12])
def test_paired_rotation_moves_every_singular_vector_by_the_angle(k):
    """Turning the right basis of W = Q1 S Q0^T by pi/4 in pairs: invariance 1 - (1 - cos(pi/4)) floor(k/2) / k."""
    rng = np.random.default_rng(k)
    Q0, Q1 = aligned.random_orthogonal(k, rng=rng), aligned.random_orthogonal(k, rng=rng)
    s = np.linspace(1.0, 2.0, k)
    W0 = aligned.aligned_network([Q0, Q1], [s])
    W = aligned.aligned_network([Q0 @ bases.paired_rotation(k, np.pi / 4), Q1], [s])
    expected = 1 - (1 - np.cos(np.pi / 4)) * (k // 2) / k
    np.testing.assert_allclose(metrics.invariance([W0], [W])[0], expected, atol=1e-12)


def test_paired_rotation_rejects_bad_input():
    with pytest.raises(ValueError, match="k must be"):
        bases.paired_rotation(0, 0.1)
    with pytest.raises(ValueError, match="angle must be"):
        bases.paired_rotation(3, float("nan"))


@pytest.mark.parametrize(("k", "depth"), [(2, 2), (5, 3), (6, 4)])
def test_reversed_spectra_sort_adjacent_layers_in_reverse(k, depth):
    """The sorted SVDs of adjacent layers pair vector j with vector k - 1 - j (the overlap is the anti-diagonal
    permutation, computed from the bases and values alone), so corresponding columns score (k mod 2) / k."""
    bases_, sigmas = bases.reversed_spectra(k, depth, rng=np.random.default_rng(k))
    Ws = aligned.aligned_network(bases_, sigmas)
    for i in range(depth - 1):
        order_i = np.argsort(-np.abs(sigmas[i]))  # sorted SVD of W_{i+1}: left vectors bases[i+1][:, order_i]
        order_next = np.argsort(-np.abs(sigmas[i + 1]))  # right vectors of W_{i+2}: bases[i+1][:, order_next]
        np.testing.assert_array_equal(order_next, order_i[::-1])
        np.testing.assert_allclose(np.sort(np.abs(sigmas[i])), np.linspace(1.0, 2.0, k))
    np.testing.assert_allclose(overlaps.corresponding_columns(Ws), (k % 2) / k, atol=1e-9)
    assert metrics.alignment_defect(Ws).max() < 1e-13
    with pytest.raises(ValueError, match="depth must"):
        bases.reversed_spectra(3, 0, rng=np.random.default_rng(0))
