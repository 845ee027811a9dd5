"""Tests for deeplinear.trivial (footnotes 1 and 4) against closed forms and scipy's least squares."""

import numpy as np
import pytest
from scipy.optimize import least_squares

from deeplinear import structures, trivial
from deeplinear.metrics import alignment_defect


def diagonal_floor_by_rows(X, Y):
    """min over diagonal D of ||Y - D X||^2 / (2n): row i of Y regressed on row i of X alone."""
    n = X.shape[1]
    total = 0.0
    for x, y in zip(X, Y):
        d = (x @ y) / (x @ x)
        total += np.sum((y - d * x) ** 2)
    return total / (2 * n)


def test_diagonal_floor_is_the_row_by_row_regression():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    assert trivial.subspace_floor(trivial.diagonal(5), X, Y) == pytest.approx(diagonal_floor_by_rows(X, Y), rel=1e-12)


def test_scalar_floor_is_the_projection_on_x_and_vanishes_on_scaled_autoencoding():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    c = np.sum(X * Y) / np.sum(X * X)
    expected = np.sum((Y - c * X) ** 2) / (2 * 6)
    assert trivial.subspace_floor(trivial.scalar(4), X, Y) == pytest.approx(expected, rel=1e-12)
    assert trivial.subspace_floor(trivial.scalar(4), X, -3.0 * X) < 1e-25


def test_floor_of_any_structure_matches_scipy_least_squares():
    rng = np.random.default_rng(2)
    S = structures.Toeplitz(4)
    X, Y = rng.standard_normal((4, 9)), rng.standard_normal((4, 9))
    fit = least_squares(lambda c: (Y - S.matrix(c) @ X).ravel(), np.zeros(S.dim))
    assert trivial.subspace_floor(S, X, Y) == pytest.approx(np.sum(fit.fun**2) / 18, rel=1e-8)


def test_diagonal_network_stays_aligned_reaches_its_floor_and_not_below():
    rng = np.random.default_rng(3)
    k = 5
    X, Y = rng.standard_normal((k, k)), rng.standard_normal((k, k))
    run = trivial.trivial_run(trivial.diagonal(k), X, Y, depth=3, lr=0.1, steps=3000, rng=rng)
    assert run.defect.shape == run.loss.shape == (3001,)
    assert run.defect.max() == 0.0  # diagonal matrices commute exactly
    assert np.all(run.loss >= run.floor * (1 - 1e-12))
    assert run.loss[-1] == pytest.approx(run.floor, rel=1e-6)
    assert run.floor > 0.1 * np.sum(Y**2) / (2 * k)


def test_scalar_network_from_the_identity_fits_scaled_autoencoding():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((4, 6))
    run = trivial.trivial_run(trivial.scalar(4), X, 2 * X, depth=3, lr=0.02, steps=2000, rng=rng, Ws0=3 * [np.eye(4)])
    assert run.loss[0] == pytest.approx(np.sum(X**2) / 12)  # f = I, residual X
    assert run.loss[-1] < 1e-12 * run.loss[0]
    assert run.defect.max() < 1e-15


def test_a_dense_network_is_not_trivially_aligned():
    rng = np.random.default_rng(5)
    assert alignment_defect([rng.standard_normal((4, 4)) for _ in range(3)]).max() > 1e-3


def test_bad_input_names_the_parameter():
    rng = np.random.default_rng(6)
    with pytest.raises(ValueError, match="k must be"):
        trivial.diagonal(0)
    with pytest.raises(ValueError, match="structure must be"):
        trivial.subspace_floor(np.eye(3), np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="X must be"):
        trivial.subspace_floor(trivial.scalar(3), np.eye(4), np.eye(3))
    with pytest.raises(ValueError, match="Ws0 must hold"):
        trivial.trivial_run(trivial.scalar(3), np.eye(3), np.eye(3), depth=3, lr=0.1, steps=1, rng=rng, Ws0=[np.eye(3)])
    with pytest.raises(ValueError, match="square"):
        trivial.trivial_run(
            structures.Sparse(np.ones((2, 3), bool)), np.eye(3), np.ones((2, 3)), depth=2, lr=0.1, steps=1, rng=rng
        )


@pytest.mark.parametrize("depth", [1, 3])
def test_scalar_autoencoding_run_against_a_plain_loop(depth):
    """The run is the scalar recursion c_i <- c_i - lr <I, dL/dW_i> from c = 1 at lr = 1 / S, S the larger
    sharpness of the scalar loss d^2/dc^2 at the start and at the solution (its Gauss-Newton part, by hand)."""
    rng = np.random.default_rng(7)
    k, n = 3, 4
    X = rng.standard_normal((k, n))
    run = trivial.scalar_autoencoding_run(X, depth=depth)
    q = np.sum(X**2) / n  # the loss of c X on 2 X is (2 - c)^2 q / 2 for the product c = prod c_i
    # Gauss-Newton: J^T J / n with J_i = (prod_{j != i} c_j) vec(X): its top eigenvalue is q * sum_i prod_{j!=i} c_j^2
    sharp = max(q * depth * c ** (2 * (depth - 1)) for c in (1.0, 2 ** (1 / depth)))
    c, losses = np.ones(depth), []
    for _ in range(len(run.loss)):
        prod = np.prod(c)
        losses.append((2 - prod) ** 2 * q / 2)
        c = c + (1 / sharp) * (2 - prod) * q * prod / c
    np.testing.assert_allclose(run.loss, losses, rtol=1e-8, atol=1e-14 * q)
    assert run.loss[-1] < 1e-12 * run.loss[0] <= run.loss[-2]
    assert run.defect.max() < 1e-15
    with pytest.raises(ValueError, match="scale must be"):
        trivial.scalar_autoencoding_run(X, depth=2, scale=1.0)
