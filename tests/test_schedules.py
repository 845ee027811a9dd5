"""Tests for deeplinear.schedules against closed forms and a plain gradient-descent loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deeplinear import TrainingDiverged, data, schedules, train


def logistic_risk(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """(1/n) sum log(1 + exp(-y_i w x_i)), written out."""
    return float(np.mean(np.logaddexp(0.0, -y * (w @ X))))


def plain_two_layer_descent(W1, W2, X, y, step_size, steps):
    """Gradient descent on R(W2 W1) with the logistic loss, step eta_t = step_size(t, R_t); a reference loop."""
    etas = []
    for t in range(steps + 1):
        w = (W2 @ W1).ravel()
        risk = logistic_risk(w, X, y)
        eta = step_size(t, risk)
        etas.append(eta)
        if t == steps:
            break
        s = 1.0 / (1.0 + np.exp(y * (w @ X)))  # sigmoid(-y f)
        g = -(y * s) @ X.T / X.shape[1]  # dR/dW_prod, (k_0,)
        G1, G2 = W2.T @ g[None, :], g[None, :] @ W1.T
        W1, W2 = W1 - eta * G1, W2 - eta * G2
    return W1, W2, np.array(etas)


@pytest.fixture
def separable_problem():
    rng = np.random.default_rng(1)
    X, Y = data.separable(12, 3, margin=0.3, rng=rng)
    X = X / np.linalg.norm(X, axis=0).max()
    W1 = 0.3 * rng.standard_normal((4, 3))
    W2 = 0.3 * rng.standard_normal((1, 4))
    return X, Y, W1, W2


def test_loss_at_zero_is_l_of_zero():
    assert schedules.LOSS_AT_ZERO["logistic"] == pytest.approx(math.log1p(math.exp(0.0)), abs=0)
    assert schedules.LOSS_AT_ZERO["exponential"] == math.exp(0.0)


@pytest.mark.parametrize("risk", [0.7, 1e-3, 5.0])
def test_constant_returns_its_step_whatever_the_risk(risk):
    assert schedules.constant(0.25)(17, risk) == 0.25


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan, True, "1"])
def test_constant_and_inverse_risk_reject_a_bad_lr(bad):
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        schedules.constant(bad)
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        schedules.inverse_risk(bad)


@pytest.mark.parametrize("loss, ell0", [("logistic", math.log(2.0)), ("exponential", 1.0)])
@pytest.mark.parametrize("risk", [2.0, 0.69, 0.1, 1e-4, 1e-12])
@pytest.mark.parametrize("cap", [math.inf, 10.0, 1.0])
def test_inverse_risk_is_the_closed_form(loss, ell0, risk, cap):
    eta = schedules.inverse_risk(0.5, loss=loss, cap=cap)
    assert eta(3, risk) == pytest.approx(0.5 * min(ell0 / risk, cap), rel=1e-15)


def test_inverse_risk_is_lr_at_the_risk_of_the_zero_network_and_the_cap_binds_below():
    eta = schedules.inverse_risk(0.1, cap=10.0)
    assert eta(0, math.log(2.0)) == pytest.approx(0.1, rel=1e-15)
    assert eta(0, math.log(2.0) / 10) == pytest.approx(1.0, rel=1e-12)  # multiplier exactly at the cap
    assert eta(0, 1e-9) == 1.0  # capped


def test_inverse_risk_stays_finite_when_the_risk_underflows():
    eta = schedules.inverse_risk(1.0, loss="exponential")
    assert eta(0, 0.0) == pytest.approx(1e300)
    assert math.isfinite(eta(0, np.float64(0.0)))


def test_inverse_risk_rejects_bad_loss_and_cap():
    with pytest.raises(ValueError, match="loss must be one of"):
        schedules.inverse_risk(1.0, loss="squared")
    for cap in (0.0, -2.0, math.nan):
        with pytest.raises(ValueError, match="cap must be a positive number"):
            schedules.inverse_risk(1.0, cap=cap)


def test_named_gives_the_fixed_step_or_the_inverse_risk_schedule():
    assert schedules.named("constant", 0.5) == 0.5 and isinstance(schedules.named("constant", 0.5), float)
    eta = schedules.named("inverse_risk", 0.5, loss="exponential", cap=3.0)
    assert eta(0, 0.01) == 1.5 and eta(0, 0.5) == 1.0
    with pytest.raises(ValueError, match=r"kind must be one of \['constant', 'inverse_risk'\]"):
        schedules.named("cosine", 0.5)


@pytest.mark.parametrize("cap", [math.inf, 4.0])
def test_train_with_inverse_risk_matches_a_plain_loop(separable_problem, cap):
    X, Y, W1, W2 = separable_problem
    eta = schedules.inverse_risk(0.5, cap=cap)
    res = train([W1, W2], X, Y, lr=eta, steps=40, loss="logistic", record=1)
    R1, R2, etas = plain_two_layer_descent(W1, W2, X, Y.ravel(), eta, 40)
    np.testing.assert_allclose(res.weights[0], R1, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.weights[1], R2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.history.lr, etas, rtol=1e-10)
    assert res.history.lr[-1] > res.history.lr[0]  # the step grew as the risk fell


def test_train_with_constant_matches_a_fixed_step(separable_problem):
    X, Y, W1, W2 = separable_problem
    fixed = train([W1, W2], X, Y, lr=0.3, steps=25, loss="logistic")
    scheduled = train([W1, W2], X, Y, lr=schedules.constant(0.3), steps=25, loss="logistic")
    for a, b in zip(fixed.weights, scheduled.weights):
        np.testing.assert_array_equal(a, b)


def test_assumption_35_step_closed_form():
    Ws = [np.full((2, 2), 0.5), np.ones((1, 2))]  # ||W_1||_F = 1, ||W_2||_F = sqrt 2
    R = math.sqrt(2.0) + 1.0
    expected = 1.0 / (2 * 2**2 * R**2 * (0.25 + 1.0))
    assert schedules.assumption_35_step(Ws) == pytest.approx(expected, rel=1e-14)
    # L = 3: R^(2L-2) = R^4
    Ws3 = [np.eye(2), 2 * np.eye(2), np.array([[3.0, 4.0]])]  # norms sqrt 2, 2 sqrt 2, 5
    assert schedules.assumption_35_step(Ws3, beta_ell=0.5, G=2.0) == pytest.approx(
        1.0 / (2 * 9 * 6.0**4 * 2.5), rel=1e-14
    )


def test_assumption_35_step_is_at_most_one_and_shrinks_as_the_weights_grow():
    W = [np.zeros((1, 3))]  # L = 1: beta(R) = 2 (beta_ell + G)
    assert schedules.assumption_35_step(W, beta_ell=0.1, G=0.1) == 1.0
    assert schedules.assumption_35_step(W) == pytest.approx(1.0 / 2.5)
    small = [0.1 * np.ones((3, 2)), 0.1 * np.ones((1, 3))]
    big = [10 * W for W in small]
    assert schedules.assumption_35_step(big) < schedules.assumption_35_step(small)
    with pytest.raises(ValueError, match="Ws must be a non-empty list"):
        schedules.assumption_35_step([])
    with pytest.raises(ValueError, match="G must be a positive finite number"):
        schedules.assumption_35_step(small, G=0.0)


def plain_divergence_step(w, X, y, step_size, steps, blowup):
    """First t with R(w_t) > blowup * max(R(w_0), 1) for a 1-layer logistic model, or None (a plain loop)."""
    risk = logistic_risk(w, X, y)
    limit = blowup * max(risk, 1.0)
    for t in range(1, steps + 1):
        s = 1.0 / (1.0 + np.exp(y * (w @ X)))
        w = w + step_size(t - 1, risk) * (y * s) @ X.T / X.shape[1]
        risk = logistic_risk(w, X, y)
        if not risk <= limit:
            return t
    return None


@pytest.mark.parametrize("lr, blowup", [(20.0, 3.0), (15.0, 1.5), (30.0, 3.0), (5.0, 1.5)])
def test_divergence_step_matches_a_plain_loop(lr, blowup):
    # a 1-layer logistic model on labels that are not separable, with too large a fixed step
    rng = np.random.default_rng(3)
    X = rng.standard_normal((2, 20))
    y = np.where(rng.standard_normal(20) > 0, 1.0, -1.0)
    w0 = 0.01 * rng.standard_normal(2)
    expected = plain_divergence_step(w0, X, y, schedules.constant(lr), 300, blowup)
    got = schedules.divergence_step([w0[None, :]], X, y[None, :], lr=lr, steps=300, blowup=blowup)
    assert got == expected
    assert (expected is None) == (lr == 5.0)  # the cases cover both answers, and a divergence after step 1
    if lr == 20.0:
        assert expected == 5


def test_divergence_step_is_the_step_train_raises_at(separable_problem):
    X, Y, W1, W2 = separable_problem
    Ws = [W1, W2]
    eta = schedules.inverse_risk(5.0)  # uncapped: too large for a deep network
    step = schedules.divergence_step(Ws, X, Y, lr=eta, steps=500)
    assert step is not None and step >= 1
    with pytest.raises(TrainingDiverged) as err:
        train(Ws, X, Y, lr=eta, steps=500, loss="logistic", blowup=10.0)
    assert err.value.step == step


def plain_assumption_35_descent(Ws, X, y, steps, beta_ell=0.25, G=1.0):
    """Gradient descent on the logistic risk of W_L ... W_1 with eta_t = min(1 / beta(R_t), 1), beta(R) =
    2 L^2 R^(2L-2) (beta_ell + G), R_t = 1 + the largest ||W_k(tau)||_F so far; a reference loop written out.
    Returns the final layers, the steps and the risks at every step."""
    Ws, L = [W.copy() for W in Ws], len(Ws)
    radius, etas, risks = 0.0, [], []
    for t in range(steps + 1):
        radius = max([radius] + [math.sqrt(float((W**2).sum())) + 1.0 for W in Ws])
        eta = min(1.0 / (2 * L**2 * radius ** (2 * L - 2) * (beta_ell + G)), 1.0)
        P = Ws[0]
        for W in Ws[1:]:
            P = W @ P
        risks.append(logistic_risk(P.ravel(), X, y))
        etas.append(eta)
        if t == steps:
            break
        s = 1.0 / (1.0 + np.exp(y * (P.ravel() @ X)))
        g = (-(y * s) @ X.T / X.shape[1])[None, :]
        grads = []
        for k in range(L):
            left = np.ones((1, 1)) if k == L - 1 else Ws[k + 1]  # W_L ... W_{k+1}
            for W in Ws[k + 2 :]:
                left = W @ left
            right = np.eye(X.shape[0])  # W_{k-1} ... W_1
            for W in Ws[:k]:
                right = W @ right
            grads.append(left.T @ g @ right.T)
        Ws = [W - eta * Gk for W, Gk in zip(Ws, grads)]
    return Ws, np.array(etas), np.array(risks)


def test_assumption_35_descent_matches_a_plain_loop(separable_problem):
    X, Y, W1, W2 = separable_problem
    Ws = [W1, -W2]  # R(W(0)) < l(0): the weights grow along the run, and the radius with them
    steps = 300
    ref, etas, risks = plain_assumption_35_descent(Ws, X, Y.ravel(), steps)
    result, flow = schedules.assumption_35_descent(Ws, X, Y, steps=steps, record=1)
    for a, b in zip(result.weights, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.history.lr, etas, rtol=1e-13)
    np.testing.assert_allclose(result.history.loss, risks, rtol=1e-12)
    np.testing.assert_allclose(flow, np.r_[0.0, np.cumsum(etas[:-1])], rtol=1e-13)
    assert etas[-1] < 0.7 * etas[0] and len(np.unique(etas)) > 100  # the weights grew, so the step shrank
    assert result.history.lr[0] == pytest.approx(schedules.assumption_35_step(Ws), rel=1e-15)


NORMS = {"norms": lambda Ws: [np.linalg.norm(W) for W in Ws]}


def test_assumption_35_descent_never_raises_the_risk_and_records_on_a_schedule(separable_problem):
    """The step is at most 1/beta(R) on the ball the weights stay in, so each step lowers the risk (Ji and
    Telgarsky's smoothness bound); the flow time at a sparse record is the sum of every step before it."""
    X, Y, W1, W2 = separable_problem
    Ws = [W1, 0.5 * np.eye(4), W2]
    full, flow_full = schedules.assumption_35_descent(Ws, X, Y, steps=400, record=1)
    assert np.all(np.diff(full.history.loss) <= 1e-16)
    sparse, flow = schedules.assumption_35_descent(Ws, X, Y, steps=400, record=[0, 7, 100, 400], metrics=NORMS)
    np.testing.assert_array_equal(sparse.history.steps, [0, 7, 100, 400])
    np.testing.assert_allclose(flow, flow_full[[0, 7, 100, 400]], rtol=1e-14)
    np.testing.assert_allclose(sparse.history.loss, full.history.loss[[0, 7, 100, 400]], rtol=1e-14)
    assert sparse.history.metrics["norms"].shape == (4, 3)


def test_assumption_35_descent_on_one_layer_is_a_fixed_step_and_refuses_stacks(separable_problem):
    """L = 1: beta(R) = 2 (beta_ell + G) whatever the radius, so the steps are those of `train` at that lr."""
    X, Y, W1, W2 = separable_problem
    w = [W2 @ W1]
    result, flow = schedules.assumption_35_descent(w, X, Y, steps=30, record=[0, 30])
    fixed = train(w, X, Y, lr=1 / 2.5, steps=30, loss="logistic", record=[0, 30])
    np.testing.assert_allclose(result.weights[0], fixed.weights[0], rtol=1e-13)
    assert flow[-1] == pytest.approx(30 / 2.5, rel=1e-14)
    with pytest.raises(ValueError, match="not a stack"):
        schedules.assumption_35_descent([np.stack([W1, W1]), np.stack([W2, W2])], X, Y, steps=3)
    with pytest.raises(ValueError, match="beta_ell must be a positive finite number"):
        schedules.assumption_35_descent(w, X, Y, steps=3, beta_ell=-1.0)
