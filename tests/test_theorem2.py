"""Tests for deeplinear.theorem2 (Theorem 2 and footnote 3) against independent references.

References: plain loops over the dense basis built entry by entry (`test_structures.reference_basis`), with
gradients by explicit back-propagation, and the projections written out with the basis.
"""

import numpy as np
import pytest

from deeplinear.structures import Convolution, Sparse, Toeplitz, orthonormal, random_layers
from deeplinear.theorem2 import (
    _Orthonormalised,
    coefficient_gradient_descent,
    footnote3,
    projected_gradient_descent,
    theorem2_deviations,
)
from test_structures import reference_basis


def reference_projected_gd(Ws, X, Y, basis, lr, steps, scaled):
    """Plain loop: gradients by explicit back-propagation, projection by a sum over the dense basis."""
    norms2 = np.array([np.sum(A * A) for A in basis])
    Ws = [W.copy() for W in Ws]
    n = X.shape[1]
    for _ in range(steps):
        F = X
        acts = [X]
        for W in Ws:
            F = W @ F
            acts.append(F)
        D = (F - Y) / n
        grads = []
        for i in reversed(range(len(Ws))):
            grads.insert(0, D @ acts[i].T)
            D = Ws[i].T @ D
        for i, G in enumerate(grads):
            step = sum(np.sum(A * G) * (1 if scaled else 1 / a2) * A for A, a2 in zip(basis, norms2))
            Ws[i] = Ws[i] - lr * step
    return Ws


BANDED_MASK = np.eye(4, dtype=bool) | np.eye(4, k=1, dtype=bool)


@pytest.mark.parametrize("S", [Toeplitz(4), Convolution(2, 3), Sparse(BANDED_MASK)])
@pytest.mark.parametrize("scaled", [True, False])
def test_projected_gradient_descent_equals_plain_loop(S, scaled):
    rng = np.random.default_rng(21)
    Ws = random_layers(S, 3, rng=rng)
    X, Y = rng.standard_normal((S.shape[1], 5)), rng.standard_normal((S.shape[0], 5))
    coef = projected_gradient_descent(Ws, X, Y, S, lr=0.05, steps=12, scaled=scaled)
    assert coef.shape == (13, 3, S.dim)
    np.testing.assert_allclose(coef[0], [S.coefficients(W) for W in Ws], atol=1e-14)
    ref = reference_projected_gd(Ws, X, Y, reference_basis(S), 0.05, 12, scaled)
    np.testing.assert_allclose(S.matrix(coef[-1]), ref, atol=1e-12)


def reference_coefficient_gd(Ws, X, Y, basis, lr, steps):
    """Plain loop on the coefficients: dL/dc_j = <A_j, dL/dW> with dL/dW by explicit back-propagation."""
    norms2 = np.array([np.sum(A * A) for A in basis])
    coef = [np.array([np.sum(A * W) for A in basis]) / norms2 for W in Ws]
    out = [np.array(coef)]
    n = X.shape[1]
    for _ in range(steps):
        Ws = [np.tensordot(c, basis, axes=1) for c in coef]
        acts = [X]
        for W in Ws:
            acts.append(W @ acts[-1])
        D = (acts[-1] - Y) / n
        grads = [None] * len(Ws)
        for i in reversed(range(len(Ws))):
            grads[i] = D @ acts[i].T
            D = Ws[i].T @ D
        coef = [c - lr * np.array([np.sum(A * G) for A in basis]) for c, G in zip(coef, grads)]
        out.append(np.array(coef))
    return np.array(out)


@pytest.mark.parametrize("S", [Toeplitz(3), Convolution(3, 3)])
def test_coefficient_gradient_descent_equals_plain_loop(S):
    rng = np.random.default_rng(23)
    Ws = random_layers(S, 3, rng=rng)
    X, Y = rng.standard_normal((S.shape[1], 4)), rng.standard_normal((S.shape[0], 4))
    got = coefficient_gradient_descent(Ws, X, Y, S, lr=0.05, steps=15)
    np.testing.assert_allclose(got, reference_coefficient_gd(Ws, X, Y, reference_basis(S), 0.05, 15), atol=1e-12)


def test_projected_gradient_descent_is_theorem2_and_footnote3():
    """Scaled: gradient descent on the coefficients; orthogonal: the same in the orthonormal basis."""
    S = Convolution(3, 3)
    rng = np.random.default_rng(22)
    Ws = random_layers(S, 2, rng=rng)
    Y = rng.standard_normal((9, 9))
    for structure, scaled, scale in [(S, True, 1.0), (orthonormal(S), False, np.sqrt(S.norms2))]:
        coef = coefficient_gradient_descent(Ws, None, Y, structure, lr=0.1, steps=25)
        pgd = projected_gradient_descent(Ws, None, Y, S, lr=0.1, steps=25, scaled=scaled)
        np.testing.assert_allclose(pgd, coef / scale, atol=1e-12)
    scaled_run = projected_gradient_descent(Ws, None, Y, S, lr=0.1, steps=25, scaled=True)
    assert np.abs(scaled_run - pgd).max() > 1e-3  # the two projections differ (basis not orthonormal)


def test_projected_gradient_descent_validates():
    T = Toeplitz(3)
    Ws = [T.matrix(np.arange(5.0))]
    with pytest.raises(ValueError, match="Ws must be"):
        projected_gradient_descent([np.arange(9.0).reshape(3, 3)], None, np.eye(3), T, lr=0.1, steps=1)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        projected_gradient_descent(Ws, None, np.eye(3), T, lr=0.0, steps=1)
    with pytest.raises(ValueError, match="steps must be"):
        projected_gradient_descent(Ws, None, np.eye(3), T, lr=0.1, steps=-1)
    with pytest.raises(ValueError, match=r"X must be \(3, N\)"):
        projected_gradient_descent(Ws, np.eye(4), np.eye(3), T, lr=0.1, steps=1)
    with pytest.raises(ValueError, match="structure must be"):
        projected_gradient_descent(Ws, None, np.eye(3), "toeplitz", lr=0.1, steps=1)


def test_footnote3_measurements_against_the_definitions():
    rng = np.random.default_rng(11)
    conv = Convolution(4, 3)
    Ws0 = random_layers(conv, 2, rng=rng)
    X = rng.standard_normal((16, 3))
    out = footnote3(conv, Ws0, X, lr=0.01, steps=20, rng=np.random.default_rng(5))
    # the scaled map pi(G) = sum_j <A_j, G> A_j applied twice, written out with the basis
    G = np.random.default_rng(5).standard_normal(conv.shape)
    once = sum(np.sum(A * G) * A for A in conv.basis)
    twice = sum(np.sum(A * once) * A for A in conv.basis)
    assert out["idempotence_defect"] == pytest.approx(np.linalg.norm(twice - once) / np.linalg.norm(once), rel=1e-10)
    assert out["idempotence_defect"] > 0.1  # not a projection in the strict sense
    assert out["orthogonal_idempotence"] < 1e-12
    assert out["orthonormal_deviation"] < 1e-12
    sparse = Sparse(np.eye(4, dtype=bool))  # orthonormal basis: the scaled map is the projection
    assert footnote3(sparse, [np.eye(4)] * 2, X[:4], lr=0.01, steps=2, rng=rng)["idempotence_defect"] < 1e-12


@pytest.mark.parametrize(
    "S", [Toeplitz(3), Convolution(3, 3), Sparse(np.eye(3, dtype=bool) | np.eye(3, k=1, dtype=bool))]
)
def test_theorem2_deviations_against_the_plain_loops(S):
    """Scaled: rounding against the plain coefficient loop; orthogonal: the plain loop's difference from a plain
    orthogonal-projection loop (A_j / ||A_j||^2 weights), which is 0 only for the orthonormal sparse basis."""
    rng = np.random.default_rng(40)
    Ws = random_layers(S, 2, rng=rng)
    X, Y = rng.standard_normal((S.shape[1], 4)), rng.standard_normal((S.shape[0], 4))
    scaled, orthogonal = theorem2_deviations(S, Ws, X, Y, lr=0.05, steps=10)
    basis = reference_basis(S)
    coef = reference_coefficient_gd(Ws, X, Y, basis, 0.05, 10)
    norms2 = np.array([np.sum(A * A) for A in basis])
    c, plain = [np.array([np.sum(A * W) for A in basis]) / norms2 for W in Ws], []
    for _ in range(11):
        plain.append(np.array(c))
        acts = [X]
        for ci in c:
            acts.append(np.tensordot(ci, basis, axes=1) @ acts[-1])
        D, grads = (acts[-1] - Y) / 4, [None, None]
        for i in (1, 0):
            grads[i] = D @ acts[i].T
            D = np.tensordot(c[i], basis, axes=1).T @ D
        c = [ci - 0.05 * np.array([np.sum(A * G) for A in basis]) / norms2 for ci, G in zip(c, grads)]
    expected = np.abs(np.array(plain) - coef).max(axis=(1, 2)) / np.abs(coef).max()
    assert scaled.shape == orthogonal.shape == (11,)
    assert scaled.max() < 1e-13
    np.testing.assert_allclose(orthogonal, expected, atol=1e-13)
    if isinstance(S, Sparse):
        assert orthogonal.max() < 1e-13
    else:
        assert orthogonal[1:].min() > 1e-6


def test_footnote3_orthonormal_deviation_is_relative():
    """Scaling the layers' coefficients scales the runs' coefficients, not the relative deviation's bound."""
    rng = np.random.default_rng(41)
    conv = Convolution(3, 3)
    Ws0 = random_layers(conv, 2, rng=rng)
    X = rng.standard_normal((9, 3))
    out = footnote3(conv, Ws0, X, lr=0.01, steps=5, rng=np.random.default_rng(1))
    assert 0 <= out["orthonormal_deviation"] < 1e-14


@pytest.mark.parametrize("S", [Convolution(4, 3), Toeplitz(4)])
def test_footnote3_fast_orthonormal_basis_is_the_dense_one(S):
    """footnote3's orthonormal structure (the base's fast paths, rescaled) against the dense `orthonormal` (S):
    the same basis, operators and coefficient gradient descent."""
    rng = np.random.default_rng(42)
    fast, dense = _Orthonormalised(S), orthonormal(S)
    np.testing.assert_allclose(fast.basis, reference_basis(S) / np.sqrt(S.norms2)[:, None, None], atol=1e-15)
    np.testing.assert_array_equal(fast.norms2, np.ones(S.dim))
    c, G = rng.standard_normal(S.dim), rng.standard_normal(S.shape)
    A, D = rng.standard_normal((S.shape[1], 3)), rng.standard_normal((S.shape[0], 3))
    np.testing.assert_allclose(fast.matrix(c), dense.matrix(c), atol=1e-13)
    np.testing.assert_allclose(fast.adjoint(G), dense.adjoint(G), atol=1e-13)
    np.testing.assert_allclose(fast.apply(c, A), dense.apply(c, A), atol=1e-13)
    np.testing.assert_allclose(fast.apply_transpose(c, D), dense.apply_transpose(c, D), atol=1e-13)
    np.testing.assert_allclose(fast.outer_adjoint(D, A), dense.outer_adjoint(D, A), atol=1e-13)
    Ws = random_layers(S, 2, rng=rng)
    X = rng.standard_normal((S.shape[1], 4))
    runs = [coefficient_gradient_descent(Ws, X, X, T, lr=0.02, steps=10) for T in (fast, dense)]
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-12)
