"""Tests for deeplinear.sequential against independent references: scipy's ODE solver (the predicted learning
time), the Frobenius norm (the perturbation), a plain two-layer gradient-descent loop written here (the
response to epsilon) and scipy's linear regression (the log-log slope)."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.stats import linregress

from deeplinear import aligned, dynamics, sequential


def test_predicted_learning_times_are_when_the_ode_reaches_s_minus_u0():
    s, u0, lr = np.array([3.0, 1.0, 0.3]), 1e-3, 0.02

    def reached(t, u, j):
        return u[j] - (s[j] - u0)

    events = [lambda t, u, j=j: reached(t, u, j) for j in range(3)]
    ode = solve_ivp(lambda t, u: 2 * lr * u * (s - u), (0, 5000), np.full(3, u0), events=events, rtol=1e-11, atol=1e-15)
    hit = np.array([times[0] for times in ode.t_events])
    assert np.allclose(sequential.predicted_learning_times(s, u0, lr), hit, rtol=1e-7)
    with pytest.raises(ValueError, match="above u0"):
        sequential.predicted_learning_times(np.array([1.0, 1e-4]), 1e-3, 0.02)


def test_perturbed_moves_the_data_by_eps_of_its_norm_along_the_direction():
    rng = np.random.default_rng(0)
    X, D = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    for eps in (0.0, 1e-6, 0.5):
        Xe = sequential.perturbed(X, eps, D)
        assert np.linalg.norm(Xe - X) == pytest.approx(eps * np.linalg.norm(X), rel=1e-8, abs=1e-300)  # Xe - X cancels
        if eps:
            cos = np.sum((Xe - X) * D) / (np.linalg.norm(Xe - X) * np.linalg.norm(D))
            assert cos == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="non-zero"):
        sequential.perturbed(X, 0.1, np.zeros_like(X))
    with pytest.raises(ValueError, match="eps"):
        sequential.perturbed(X, -0.1, D)


def plain_two_layer_run(W1, W2, X, Y, lr, steps, bases):
    """Gradient descent on ||Y - W2 W1 X||^2 / (2n) by hand; the largest off-diagonal entry of
    Q_i^T W_i Q_{i-1} over the run."""
    n, worst = X.shape[1], 0.0
    for t in range(steps + 1):
        for i, W in enumerate((W1, W2)):
            M = bases[i + 1].T @ W @ bases[i]
            worst = max(worst, np.abs(M - np.diag(np.diag(M))).max())
        if t == steps:
            break
        R = Y - W2 @ W1 @ X
        W1, W2 = W1 + lr * W2.T @ R @ X.T / n, W2 + lr * R @ X.T @ W1.T / n
    return worst


def test_epsilon_response_matches_a_plain_loop_and_grows_linearly():
    k, n, u0, lr, steps = 3, 4, 0.01, 0.05, 60
    rng = np.random.default_rng(1)
    X, Y, U, V = dynamics.planted_problem(k, n, np.ones(k), np.array([2.0, 1.0, 0.5]), rng=rng)
    eps = np.array([0.0, 1e-7, 1e-5])
    out = sequential.epsilon_response(X, Y, U, V, eps, u0=u0, lr=lr, steps=steps, rng=np.random.default_rng(2))
    # the same draws in the documented order: the inner basis, then the direction
    again = np.random.default_rng(2)
    Q, D = aligned.random_orthogonal(k, rng=again), again.standard_normal((k, n))
    a = np.sqrt(u0) * (1 + 1e-3 * np.arange(k))
    W1, W2 = Q @ np.diag(a) @ V.T, U @ np.diag(a) @ Q.T
    for i, e in enumerate(eps):
        Xe = X + e * np.linalg.norm(X) / np.linalg.norm(D) * D
        A, C = Xe @ Xe.T, Xe @ Y.T @ Y @ Xe.T
        assert out["defect"][i] == pytest.approx(
            np.linalg.norm(A @ C - C @ A) / (np.linalg.norm(A) * np.linalg.norm(C)), rel=1e-6, abs=1e-15
        )
        assert out["off"][i] == pytest.approx(
            plain_two_layer_run(W1, W2, Xe, Y, lr, steps, [V, Q, U]), rel=1e-6, abs=1e-14
        )
    assert out["off"][0] < 1e-13 and out["defect"][0] < 1e-14  # the condition holds: alignment is kept
    assert sequential.loglog_slope(eps[1:], out["off"][1:]) == pytest.approx(1.0, abs=0.01)
    with pytest.raises(ValueError, match="eps"):
        sequential.epsilon_response(X, Y, U, V, np.array([-1.0]), u0=u0, lr=lr, steps=steps, rng=rng)


def test_loglog_slope_is_the_regression_slope_of_the_logs():
    x = np.array([1e-8, 1e-6, 1e-4])
    assert sequential.loglog_slope(x, 5 * x**1.5) == pytest.approx(1.5, rel=1e-12)
    rng = np.random.default_rng(3)
    x, y = np.geomspace(1, 100, 7), np.exp(rng.standard_normal(7))
    assert sequential.loglog_slope(x, y) == pytest.approx(linregress(np.log(x), np.log(y)).slope, rel=1e-12)
    with pytest.raises(ValueError, match="positive"):
        sequential.loglog_slope(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
