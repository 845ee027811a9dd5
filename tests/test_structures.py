"""Tests for deeplinear.structures against independent references.

References: the basis built entry by entry in the test, plain loops over the basis,
scipy.signal.correlate2d, finite differences and the closed-form norms of shift matrices.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import correlate2d

from deeplinear.structures import Convolution, RandomSubspace, Sparse, Structure, Toeplitz, random_layers

SETTINGS = settings(max_examples=15, deadline=None)


def make_structures():
    rng = np.random.default_rng(0)
    mask = rng.random((4, 6)) < 0.5
    mask[0, 0] = True
    return [
        Convolution(4, 3),
        Convolution(3, 5),
        Convolution(5, 1),
        Toeplitz(4),
        Toeplitz(1),
        Sparse(mask),
        RandomSubspace(3, 5, 6, rng=rng),
    ]


STRUCTURES = make_structures()
IDS = [repr(s).split(":")[0] for s in STRUCTURES]


def reference_basis(structure):
    """The basis built entry by entry from each structure's definition (independent of the module)."""
    if isinstance(structure, Convolution):
        p, s = structure.p, structure.s
        h = (s - 1) // 2
        B = np.zeros((s * s, p * p, p * p))
        for a in range(s):
            for b in range(s):
                for i in range(p):
                    for j in range(p):
                        ii, jj = i + a - h, j + b - h
                        if 0 <= ii < p and 0 <= jj < p:
                            B[a * s + b, i * p + j, ii * p + jj] = 1.0
        return B
    if isinstance(structure, Toeplitz):
        k = structure.k
        B = np.zeros((2 * k - 1, k, k))
        for idx, o in enumerate(range(-(k - 1), k)):
            for i in range(k):
                if 0 <= i + o < k:
                    B[idx, i, i + o] = 1.0
        return B
    if isinstance(structure, Sparse):
        rows, cols = np.nonzero(structure.mask)  # row-major order
        B = np.zeros((len(rows), *structure.mask.shape))
        for idx, (i, j) in enumerate(zip(rows, cols)):
            B[idx, i, j] = 1.0
        return B
    return structure.basis  # RandomSubspace: checked for orthonormality separately


@pytest.mark.parametrize("S", STRUCTURES, ids=IDS)
def test_basis_matches_definition_and_is_orthogonal(S):
    B = reference_basis(S)
    np.testing.assert_array_equal(S.basis, B)
    assert S.basis.shape == (S.dim, *S.shape)
    flat = B.reshape(S.dim, -1)
    gram = flat @ flat.T
    np.testing.assert_allclose(gram, np.diag(np.diag(gram)), atol=1e-12)
    np.testing.assert_allclose(S.norms2, np.diag(gram), atol=1e-12)
    assert np.all(S.norms2 > 0)


def test_norms2_closed_forms():
    # Convolution tap offset (da, db): (p - |da|)(p - |db|) valid output positions.
    p, s = 6, 5
    h = (s - 1) // 2
    expected = [(p - abs(a - h)) * (p - abs(b - h)) for a in range(s) for b in range(s)]
    np.testing.assert_array_equal(Convolution(p, s).norms2, expected)
    np.testing.assert_array_equal(Toeplitz(4).norms2, [1, 2, 3, 4, 3, 2, 1])
    np.testing.assert_array_equal(Sparse(np.eye(3, dtype=bool)).norms2, np.ones(3))
    S = RandomSubspace(4, 3, 5, rng=np.random.default_rng(1))
    np.testing.assert_allclose(S.norms2, np.ones(5))


@pytest.mark.parametrize("p", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("s", [1, 3, 5])
def test_convolution_matches_correlate2d(p, s):
    if s > 2 * p - 1:
        with pytest.raises(ValueError, match="s must be odd"):
            Convolution(p, s)
        return
    rng = np.random.default_rng(p * 10 + s)
    C = Convolution(p, s)
    filt = rng.standard_normal((s, s))
    c = filt.ravel()
    np.testing.assert_array_equal(C.kernel(c), filt)
    M = C.matrix(c)
    for _ in range(3):
        img = rng.standard_normal((p, p))
        ref = correlate2d(img, filt, mode="same", boundary="fill", fillvalue=0)
        np.testing.assert_allclose(M @ img.ravel(), ref.ravel(), atol=1e-12)
        out = C.apply(c, img.reshape(p * p, 1))
        np.testing.assert_allclose(out[:, 0], ref.ravel(), atol=1e-12)


def test_convolution_is_cross_correlation_not_convolution():
    # A filter with a single tap at the top-left picks the pixel up-left of each output.
    C = Convolution(4, 3)
    filt = np.zeros((3, 3))
    filt[0, 0] = 1.0
    img = np.arange(16.0).reshape(4, 4)
    out = C.apply(filt.ravel(), img.reshape(16, 1)).reshape(4, 4)
    expected = np.zeros((4, 4))
    expected[1:, 1:] = img[:-1, :-1]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("S", STRUCTURES, ids=IDS)
def test_matrix_coefficients_roundtrip(S):
    rng = np.random.default_rng(2)
    c = rng.standard_normal((3, S.dim))
    B = reference_basis(S)
    W = np.einsum("sr,rmn->smn", c, B)  # plain sum_j c_j A_j
    np.testing.assert_allclose(S.matrix(c), W, atol=1e-12)
    np.testing.assert_allclose(S.coefficients(W), c, atol=1e-12)
    np.testing.assert_allclose(S.matrix(S.coefficients(W[0])), W[0], atol=1e-12)
    assert S.contains(W) and S.contains(W[1])
    assert S.contains(np.zeros(S.shape))


@pytest.mark.parametrize("S", STRUCTURES, ids=IDS)
def test_contains_rejects_matrices_outside(S):
    rng = np.random.default_rng(3)
    G = rng.standard_normal(S.shape)
    outside = G - S.project(G, scaled=False)
    if np.linalg.norm(outside) < 1e-8:  # S is everything (e.g. Toeplitz(1))
        assert S.contains(G)
        return
    W = S.matrix(rng.standard_normal(S.dim))
    assert not S.contains(W + 1e-3 * outside / np.linalg.norm(outside) * np.linalg.norm(W))
    assert not S.contains(np.stack([W, W + outside]))


@pytest.mark.parametrize("S", STRUCTURES, ids=IDS)
def test_projection_properties(S):
    rng = np.random.default_rng(4)
    G = rng.standard_normal((2, *S.shape))
    H = rng.standard_normal((2, *S.shape))
    P = S.project(G, scaled=False)
    np.testing.assert_allclose(S.project(P, scaled=False), P, atol=1e-12)  # idempotent
    assert S.contains(P)
    # self-adjoint: <P G, H> = <G, P H>
    np.testing.assert_allclose(
        np.sum(P * H, axis=(-2, -1)), np.sum(G * S.project(H, scaled=False), axis=(-2, -1)), atol=1e-10
    )
    # residual orthogonal to every basis matrix
    B = reference_basis(S)
    np.testing.assert_allclose(np.einsum("rmn,smn->sr", B, G - P), 0, atol=1e-10)


@pytest.mark.parametrize("S", STRUCTURES, ids=IDS)
def test_scaled_projection_is_plain_loop_and_adjoint(S):
    rng = np.random.default_rng(5)
    G = rng.standard_normal((2, *S.shape))
    B = reference_basis(S)
    for g, proj, adj in zip(G, S.project(G), S.adjoint(G)):
        ref = np.zeros(S.shape)
        ref_adj = np.zeros(S.dim)
        for j in range(S.dim):
            ref_adj[j] = np.sum(B[j] * g)
            ref += ref_adj[j] * B[j]
        np.testing.assert_allclose(proj, ref, atol=1e-12)
        np.testing.assert_allclose(adj, ref_adj, atol=1e-12)


@pytest.mark.parametrize("S", STRUCTURES, ids=IDS)
def test_theorem2_gradient_step_on_coefficients(S):
    """Gradient descent on c, with dL/dc by finite differences, moves W by -lr * project(dl/dW)."""
    rng = np.random.default_rng(6)
    m, n = S.shape
    X = rng.standard_normal((n, 4))
    Y = rng.standard_normal((m, 4))

    def loss_W(W):
        return 0.5 * np.sum((W @ X - Y) ** 2)

    c = rng.standard_normal(S.dim)
    W = S.matrix(c)
    eps = 1e-6
    grad_c = np.array(
        [(loss_W(S.matrix(c + eps * e)) - loss_W(S.matrix(c - eps * e))) / (2 * eps) for e in np.eye(S.dim)]
    )
    dl_dW = (W @ X - Y) @ X.T
    np.testing.assert_allclose(grad_c, S.adjoint(dl_dW), rtol=1e-6, atol=1e-6)
    lr = 0.01
    np.testing.assert_allclose(S.matrix(c - lr * grad_c), W - lr * S.project(dl_dW), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(S.outer_adjoint(W @ X - Y, X), grad_c, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("S", STRUCTURES, ids=IDS)
@pytest.mark.parametrize("lead", [(), (3,)])
def test_apply_family_matches_dense(S, lead):
    rng = np.random.default_rng(7)
    m, n = S.shape
    c = rng.standard_normal((*lead, S.dim))
    A = rng.standard_normal((*lead, n, 5))
    D = rng.standard_normal((*lead, m, 5))
    B = reference_basis(S)
    M = np.einsum("...r,rmn->...mn", c, B)
    np.testing.assert_allclose(S.apply(c, A), M @ A, atol=1e-10)
    np.testing.assert_allclose(S.apply_transpose(c, D), np.swapaxes(M, -1, -2) @ D, atol=1e-10)
    outer = D @ np.swapaxes(A, -1, -2)
    np.testing.assert_allclose(S.outer_adjoint(D, A), np.einsum("rmn,...mn->...r", B, outer), atol=1e-10)


def test_apply_broadcasts_coefficients_against_shared_input():
    C = Convolution(5, 3)
    rng = np.random.default_rng(8)
    c = rng.standard_normal((4, 9))
    A = rng.standard_normal((25, 2))
    out = C.apply(c, A)
    assert out.shape == (4, 25, 2)
    for k in range(4):
        np.testing.assert_allclose(out[k], C.matrix(c[k]) @ A, atol=1e-12)


@SETTINGS
@given(p=st.integers(1, 7), half=st.integers(0, 3), seed=st.integers(0, 2**32 - 1), N=st.integers(1, 3))
def test_convolution_direct_paths_property(p, half, seed, N):
    s = 2 * half + 1
    if s > 2 * p - 1:
        return
    C = Convolution(p, s)
    rng = np.random.default_rng(seed)
    c = rng.standard_normal(s * s)
    A = rng.standard_normal((p * p, N))
    D = rng.standard_normal((p * p, N))
    M = C.matrix(c)
    for col in range(N):
        ref = correlate2d(A[:, col].reshape(p, p), c.reshape(s, s), mode="same")
        np.testing.assert_allclose(C.apply(c, A)[:, col], ref.ravel(), atol=1e-10)
    np.testing.assert_allclose(C.apply_transpose(c, D), M.T @ D, atol=1e-10)
    # <D, M A> is linear in c with gradient outer_adjoint(D, A)
    grad = np.array([np.sum(D * (C.matrix(e) @ A)) for e in np.eye(s * s)])
    np.testing.assert_allclose(C.outer_adjoint(D, A), grad, atol=1e-10)


@SETTINGS
@given(k=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_toeplitz_property(k, seed):
    rng = np.random.default_rng(seed)
    T = Toeplitz(k)
    assert T.dim == 2 * k - 1
    c = rng.standard_normal(2 * k - 1)
    W = T.matrix(c)
    for i in range(k):
        for j in range(k):
            assert W[i, j] == c[(j - i) + k - 1]
    G = rng.standard_normal((k, k))
    ref = np.array([np.trace(G, offset=o) / (k - abs(o)) for o in range(-(k - 1), k)])
    np.testing.assert_allclose(T.coefficients(G), ref, atol=1e-12)


@SETTINGS
@given(m=st.integers(1, 5), n=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_sparse_property(m, n, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((m, n)) < 0.5
    if not mask.any():
        with pytest.raises(ValueError, match="mask"):
            Sparse(mask)
        return
    S = Sparse(mask)
    G = rng.standard_normal((m, n))
    np.testing.assert_array_equal(S.project(G), np.where(mask, G, 0.0))
    np.testing.assert_array_equal(S.coefficients(G), G[mask])  # boolean indexing is row-major


def test_random_subspace_orthonormal_and_seeded():
    S1 = RandomSubspace(3, 4, 7, rng=np.random.default_rng(9))
    S2 = RandomSubspace(3, 4, 7, rng=np.random.default_rng(9))
    flat = S1.basis.reshape(7, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(7), atol=1e-12)
    np.testing.assert_array_equal(S1.basis, S2.basis)
    G = np.random.default_rng(10).standard_normal((3, 4))
    np.testing.assert_allclose(S1.project(G), S1.project(G, scaled=False), atol=1e-12)
    full = RandomSubspace(2, 2, 4, rng=np.random.default_rng(11))
    np.testing.assert_allclose(full.project(G[:2, :2]), G[:2, :2], atol=1e-12)


def test_generic_structure_from_basis_and_rejects_non_orthogonal():
    B = np.zeros((2, 2, 2))
    B[0] = [[1, 1], [0, 0]]
    B[1] = [[1, -1], [0, 0]]
    S = Structure(B)
    np.testing.assert_allclose(S.norms2, [2, 2])
    np.testing.assert_allclose(S.matrix([1.0, 2.0]), [[3.0, -1.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="orthogonal"):
        Structure(np.array([[[1.0, 0]], [[1.0, 1.0]]]))
    with pytest.raises(ValueError, match="non-zero"):
        Structure(np.zeros((1, 2, 2)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: Convolution(4, 2),
        lambda: Convolution(4, 0),
        lambda: Convolution(2, 5),
        lambda: Convolution(0, 1),
        lambda: Convolution(3.0, 1),
        lambda: Toeplitz(0),
        lambda: Toeplitz(True),
        lambda: Sparse(np.ones((2, 2))),
        lambda: Sparse(np.zeros((2, 2), bool)),
        lambda: Sparse(np.ones(3, bool)),
        lambda: RandomSubspace(2, 2, 5, rng=np.random.default_rng()),
        lambda: RandomSubspace(2, 2, 1, rng=-1),
    ],
)
def test_bad_construction_raises(make):
    with pytest.raises(ValueError):
        make()


def test_bad_shapes_raise_naming_parameter():
    C = Convolution(3, 3)
    with pytest.raises(ValueError, match="c must have shape"):
        C.matrix(np.zeros(4))
    with pytest.raises(ValueError, match="W must have shape"):
        C.coefficients(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="G must have shape"):
        C.project(np.zeros((9, 8)))
    with pytest.raises(ValueError, match="A must have shape"):
        C.apply(np.zeros(9), np.zeros((8, 2)))
    with pytest.raises(ValueError, match="D must have shape"):
        C.apply_transpose(np.zeros(9), np.zeros((8, 2)))
    with pytest.raises(ValueError, match="same number of columns"):
        C.outer_adjoint(np.zeros((9, 2)), np.zeros((9, 3)))


def test_repr_is_informative():
    assert "p=28" in repr(Convolution(28, 3)) and "9-dimensional" in repr(Convolution(28, 3))
    assert "k=4" in repr(Toeplitz(4)) and "7-dimensional" in repr(Toeplitz(4))
    assert "3-dimensional" in repr(Sparse(np.eye(3, dtype=bool)))


# -- orthonormal, banded_toeplitz, random_layers ----------------------------------------------------


def span_projection(basis, G):
    """Orthogonal projection of G onto span(basis) by least squares (independent of the module)."""
    A = basis.reshape(len(basis), -1).T
    coef = np.linalg.lstsq(A, G.ravel(), rcond=None)[0]
    return (A @ coef).reshape(G.shape)


@pytest.mark.parametrize("S", STRUCTURES, ids=IDS)
def test_orthonormal_basis_spans_the_same_subspace(S):
    from deeplinear.structures import orthonormal

    O = orthonormal(S)
    flat = O.basis.reshape(O.dim, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(O.dim), atol=1e-12)
    G = np.random.default_rng(20).standard_normal(S.shape)
    np.testing.assert_allclose(O.project(G), span_projection(reference_basis(S), G), atol=1e-10)
    np.testing.assert_allclose(S.project(G, scaled=False), O.project(G, scaled=True), atol=1e-12)
    with pytest.raises(ValueError, match="structure"):
        orthonormal(np.eye(3)[None])


def test_banded_toeplitz_keeps_the_diagonals_within_the_band():
    from deeplinear.structures import banded_toeplitz

    for k, b in [(4, 0), (4, 1), (5, 2), (3, 2)]:
        B = banded_toeplitz(k, b).basis
        ref = np.array([[[1.0 if j - i == o else 0.0 for j in range(k)] for i in range(k)] for o in range(-b, b + 1)])
        np.testing.assert_array_equal(B, ref)
    np.testing.assert_array_equal(banded_toeplitz(4, 3).basis, Toeplitz(4).basis)
    for bad in (-1, 4, 1.5, True):
        with pytest.raises(ValueError, match=r"b must be an integer in \[0, k-1\]"):
            banded_toeplitz(4, bad)


def test_random_layers_draw_in_order_and_have_spectral_norm_one():

    S = Convolution(4, 3)
    layers = random_layers(S, 3, rng=np.random.default_rng(3))
    rng = np.random.default_rng(3)
    for W in layers:
        ref = reference_basis(S).transpose(1, 2, 0) @ rng.standard_normal(S.dim)
        np.testing.assert_allclose(W, ref / np.linalg.svd(ref, compute_uv=False)[0], atol=1e-12)
        assert S.contains(W)
    with pytest.raises(ValueError, match="depth"):
        random_layers(S, 0, rng=rng)
    with pytest.raises(ValueError, match="rng"):
        random_layers(S, 2, rng=-1)
