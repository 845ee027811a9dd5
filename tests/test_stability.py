"""deeplinear.stability: the Gauss-Newton sharpness against an explicit Jacobian, and the rate it gives."""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear import metrics, minimum_norm, network, stability, train


def explicit_sharpness(Ws, X):
    """The largest eigenvalue of J^T J / n with J built column by column from finite changes of the output
    (the output is linear in each layer, so a unit change of one entry gives that column exactly)."""
    n = X.shape[1]
    columns = []
    for i, W in enumerate(Ws):
        for index in np.ndindex(W.shape):
            E = np.zeros_like(W)
            E[index] = 1.0
            changed = [E if j == i else Wj for j, Wj in enumerate(Ws)]
            columns.append((network.end_to_end(changed) @ X).ravel())
    J = np.stack(columns, axis=1)
    return np.linalg.eigvalsh(J.T @ J / n)[-1]


@pytest.mark.parametrize(("widths", "n"), [([3, 3], 5), ([2, 4, 3], 7), ([3, 3, 3, 2], 4)])
def test_sharpness_matches_the_explicit_jacobian(widths, n):
    rng = np.random.default_rng(len(widths) + n)
    Ws = [rng.standard_normal((b, a)) for a, b in zip([widths[0]] + widths[:-1], widths)]
    X = rng.standard_normal((widths[0], n))
    np.testing.assert_allclose(stability.gauss_newton_sharpness(Ws, X), explicit_sharpness(Ws, X), rtol=1e-8)


def test_balanced_factors_are_balanced_and_multiply_to_p():
    rng = np.random.default_rng(0)
    P = rng.standard_normal((4, 4))
    for depth in (1, 2, 3, 5):
        Ws = stability.balanced_factors(P, depth)
        np.testing.assert_allclose(network.end_to_end(Ws), P, atol=1e-12)
        if depth > 1:
            assert metrics.balancedness(Ws).max() < 1e-12
    np.testing.assert_allclose(stability.balanced_factors(P, 2)[0], minimum_norm.minimum_norm_factors(P)[0], atol=1e-12)


def test_the_rate_trains_where_a_larger_one_diverges():
    """Gradient descent on a badly conditioned problem converges at the rule's rate (half the edge
    2 / S at the minimum, S its sharpness) and blows up at 16 times it."""
    from deeplinear import TrainingDiverged

    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    P = Y @ np.linalg.inv(X)
    Ws0 = [0.01 * rng.standard_normal((3, 3)) for _ in range(2)]
    lr = stability.stable_learning_rate(X, P, Ws0)
    assert train(Ws0, X, Y, lr=lr, steps=20_000, progress=False).history.loss[-1] < 1e-8
    with pytest.raises(TrainingDiverged):
        train(Ws0, X, Y, lr=16 * lr, steps=20_000, progress=False)


def test_stacked_starts_give_one_rate_each():
    rng = np.random.default_rng(3)
    X, P = rng.standard_normal((2, 6)), rng.standard_normal((2, 2))
    Ws = [rng.standard_normal((3, 2, 2)) * np.array([0.1, 1.0, 3.0])[:, None, None] for _ in range(2)]
    rates = stability.stable_learning_rate(X, P, Ws)
    single = [stability.stable_learning_rate(X, P, [W[s] for W in Ws]) for s in range(3)]
    np.testing.assert_allclose(rates, single)
    assert rates[2] < rates[0]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="fraction"):
        stability.stable_learning_rate(None, np.eye(2), [np.eye(2)], fraction=2.0)
    with pytest.raises(ValueError, match="depth"):
        stability.balanced_factors(np.eye(2), 0)
    with pytest.raises(ValueError, match="X must be"):
        stability.gauss_newton_sharpness([np.eye(2)], np.ones((3, 2)))


def test_structured_sharpness_is_that_of_the_coefficients():
    """With a structure, against the explicit Jacobian with respect to the coefficients (columns: the output's
    change along each basis matrix A_j of each layer)."""
    from deeplinear import structures

    rng = np.random.default_rng(4)
    conv = structures.Convolution(3, 3)
    Ws = structures.random_layers(conv, 3, rng=rng)
    X = rng.standard_normal((9, 5))
    columns = []
    for i in range(3):
        for A in conv.basis:
            changed = [A if j == i else W for j, W in enumerate(Ws)]
            columns.append((network.end_to_end(changed) @ X).ravel())
    J = np.stack(columns, axis=1)
    expected = np.linalg.eigvalsh(J.T @ J / 5)[-1]
    np.testing.assert_allclose(stability.gauss_newton_sharpness(Ws, X, structure=conv), expected, rtol=1e-8)
