"""Tests for deeplinear.separable (and its figures in deeplinear.plotting) against closed forms,
hand-made data, scipy and plain reference computations."""

from __future__ import annotations

import dataclasses
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats

from deeplinear import (
    TrainingDiverged,
    asymptotics,
    data,
    directions,
    margin_rates,
    metrics,
    network,
    plotting,
    schedules,
    separable,
    train,
)
from deeplinear.recording import History


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def logistic_risk(w, X, y):
    return float(np.mean(np.logaddexp(0.0, -y * (w @ X))))


# Four points in the plane whose maximum-margin separator through the origin is u = e_1 with gamma = 1:
# for u = (cos t, sin t) the margins are cos t, 2 cos t + sin t, cos t - sin t / 2 and 3 cos t + sin t,
# whose minimum is largest at t = 0; the support vectors are the first and the third point.
TOY_X = np.array([[1.0, 2.0, -1.0, -3.0], [0.0, 1.0, 0.5, -1.0]])
TOY_Y = np.array([[1.0, 1.0, -1.0, -1.0]])


def rotation_row(theta):
    return np.array([[math.cos(theta), math.sin(theta)]])


@pytest.fixture
def problem():
    rng = np.random.default_rng(5)
    X, Y = data.separable(16, 2, margin=0.4, rng=rng)
    X = X / np.linalg.norm(X, axis=0).max()
    return X, Y, rng


# -- starts -------------------------------------------------------------------------------------
def test_gaussian_layers_draw_the_same_stream_as_plain_draws():
    widths = [3, 5, 4, 1]
    got = separable.gaussian_layers(widths, scale=0.3, rng=np.random.default_rng(7))
    ref_rng = np.random.default_rng(7)
    for W, (a, b) in zip(got, [(3, 5), (5, 4), (4, 1)]):
        assert W.shape == (b, a)
        np.testing.assert_array_equal(W, ref_rng.standard_normal((b, a)) * 0.3 / np.sqrt(a))


def test_gaussian_layers_have_the_stated_variance():
    W = separable.gaussian_layers([50, 400], scale=0.2, rng=np.random.default_rng(0))[0]
    assert W.var() == pytest.approx(0.2**2 / 50, rel=0.05)


@pytest.mark.parametrize("widths", [[3], [3, 0], [2.5, 1], [True, 1]])
def test_gaussian_layers_reject_bad_widths(widths):
    with pytest.raises(ValueError, match="widths must be"):
        separable.gaussian_layers(widths, rng=np.random.default_rng(0))


@pytest.mark.parametrize("loss, ell0", [("logistic", math.log(2.0)), ("exponential", 1.0)])
@pytest.mark.parametrize("scale", [0.2, 2.0])
def test_below_loss_at_zero_flips_the_last_layer_exactly_when_needed(problem, loss, ell0, scale):
    X, Y, rng = problem
    y = Y.ravel()
    flips = 0
    for _ in range(20):
        Ws = separable.gaussian_layers([2, 3, 1], scale=scale, rng=rng)
        w = (Ws[1] @ Ws[0]).ravel()
        before = logistic_risk(w, X, y) if loss == "logistic" else float(np.mean(np.exp(-y * (w @ X))))
        out = separable.below_loss_at_zero(Ws, X, Y, loss)
        np.testing.assert_array_equal(out[0], Ws[0])
        flipped = before >= ell0
        flips += flipped
        np.testing.assert_array_equal(out[1], -Ws[1] if flipped else Ws[1])
        if scale < 1:  # a small start: first order in W_prod, one of the two signs is below l(0)
            assert network.loss(out, X, Y, loss) < ell0
    assert 0 < flips < 20  # both branches were exercised


def test_gaussian_start_is_gaussian_layers_then_below_loss_at_zero(problem):
    X, Y, _ = problem
    got = separable.gaussian_start([2, 4, 1], X, Y, scale=0.5, rng=np.random.default_rng(11))
    ref = separable.below_loss_at_zero(
        separable.gaussian_layers([2, 4, 1], scale=0.5, rng=np.random.default_rng(11)), X, Y
    )
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="loss must be one of"):
        separable.below_loss_at_zero(got, X, Y, "squared")


# -- the maximum-margin direction --------------------------------------------------------------
def test_support_vectors_of_the_hand_made_data():
    u_bar, gamma = separable.max_margin(TOY_X, TOY_Y)
    np.testing.assert_allclose(u_bar, [1.0, 0.0], atol=1e-9)
    assert gamma == pytest.approx(1.0, abs=1e-9)
    expected = [True, False, True, False]
    np.testing.assert_array_equal(separable.support_vectors(TOY_X, TOY_Y, u_bar, gamma), expected)
    np.testing.assert_array_equal(separable.support_vectors(TOY_X, TOY_Y.ravel(), np.array([1.0, 0.0]), 1.0), expected)
    with pytest.raises(ValueError, match="must agree"):
        separable.support_vectors(TOY_X, TOY_Y, np.ones(3), 1.0)


@pytest.mark.parametrize("theta", [0.3, -1.2, 1e-4, math.pi - 1e-3])
def test_direction_and_angle_to_are_the_closed_forms(theta):
    # W_prod = W_2 W_1 = r (cos theta, sin theta) with r = 6
    W1 = 2.0 * np.vstack([rotation_row(theta), rotation_row(theta)])  # (2, 2)
    W2 = np.array([[1.0, 0.5]])
    Ws = [W1, W2]
    np.testing.assert_allclose(directions.direction(Ws), rotation_row(theta).ravel(), rtol=1e-14, atol=1e-15)
    assert directions.angle_to(Ws, np.array([1.0, 0.0])) == pytest.approx(math.degrees(abs(theta)), rel=1e-7)


def test_angle_to_is_180_for_the_opposite_direction_and_direction_needs_one_output():
    assert directions.angle_to([np.array([[-2.0, 0.0]])], np.array([1.0, 0.0])) == pytest.approx(180.0)
    with pytest.raises(ValueError, match="one output"):
        directions.direction([np.eye(2)])


@pytest.mark.parametrize("theta", [0.0, 0.1, -0.2])
def test_margin_gap_is_the_closed_form_on_the_hand_made_data(theta):
    margins = [math.cos(theta), 2 * math.cos(theta) + math.sin(theta)]
    margins += [math.cos(theta) - 0.5 * math.sin(theta), 3 * math.cos(theta) + math.sin(theta)]
    Ws = [3.0 * rotation_row(theta)]
    assert directions.margin_gap(Ws, TOY_X, TOY_Y, 1.0) == pytest.approx(1.0 - min(margins), abs=1e-14)


@pytest.mark.parametrize("theta", [0.0, 0.4, -1.1, math.pi / 2])
def test_product_and_first_layer_alignment_are_the_closed_forms(theta):
    # W_1 = diag(2, 1): v_1 = e_1, ||W_1||_F = sqrt(5); W_2 = (cos t, sin t): W_prod = (2 cos t, sin t)
    Ws = [np.diag([2.0, 1.0]), 3.0 * rotation_row(theta)]
    assert directions.product_alignment(Ws) == pytest.approx(2 * abs(math.cos(theta)) / math.sqrt(5), abs=1e-15)
    u = np.array([math.cos(0.3), math.sin(0.3)])
    assert directions.first_layer_alignment(Ws, u) == pytest.approx(math.cos(0.3), rel=1e-14)
    with pytest.raises(ValueError, match="one output"):
        directions.product_alignment([np.eye(2)])


def test_product_alignment_is_one_and_layer_gap_zero_on_a_rank_one_network_along_u_bar():
    u_bar, gamma = separable.max_margin(TOY_X, TOY_Y)
    a = np.array([0.6, 0.8])
    Ws = [5.0 * np.outer(a, u_bar), np.array([[-2.0, 1.5]])]  # W_2 orthogonal to a: W_prod = 0
    Ws_aligned = [5.0 * np.outer(a, u_bar), 2.0 * a[None, :]]
    assert directions.product_alignment(Ws_aligned) == pytest.approx(1.0, abs=1e-15)
    assert directions.layer_margin_gap(Ws_aligned, TOY_X, TOY_Y, gamma) == pytest.approx(0.0, abs=1e-9)
    # W_prod = 5 (a . w_2) u_bar^T = 0: product alignment 0, the corollary's margin 0, so the gap is gamma
    assert directions.product_alignment(Ws) == pytest.approx(0.0, abs=1e-15)
    assert directions.layer_margin_gap(Ws, TOY_X, TOY_Y, gamma) == pytest.approx(gamma, abs=1e-9)


@pytest.mark.parametrize("theta", [0.0, 0.4, 2.0])
def test_normalised_product_is_the_closed_form(theta):
    # W_1 = diag(2, 1), ||W_1||_F = sqrt 5; W_2 = 3 (cos t, sin t), ||W_2||_F = 3: W_prod = 3 (2 cos t, sin t)
    Ws = [np.diag([2.0, 1.0]), 3.0 * rotation_row(theta)]
    expected = np.array([2 * math.cos(theta), math.sin(theta)]) / math.sqrt(5)
    np.testing.assert_allclose(directions.normalised_product(Ws), expected, rtol=1e-14, atol=1e-16)
    # rank-one layers along u, aligned: exactly u, whatever the scales
    u = np.array([0.6, -0.8])
    Ws = [4.0 * np.outer([0.0, 1.0, 0.0], u), 0.5 * np.array([[0.0, 1.0, 0.0]]), np.array([[2.0]])]
    np.testing.assert_allclose(directions.normalised_product(Ws), u, rtol=1e-14)
    with pytest.raises(ValueError, match="one output"):
        directions.normalised_product([np.eye(2)])


@pytest.mark.parametrize("theta", [0.0, 0.1, -0.2])
@pytest.mark.parametrize(("w2", "ratio"), [((1.0, 2.0), 1.0), ((2.0, 1.0), 0.8)])
def test_layer_margin_gap_is_the_closed_form_on_the_hand_made_data(theta, w2, ratio):
    # W_1 = (1, 2)^T r(theta), ||W_1||_F = sqrt(5); W_2 = 2 w2 / sqrt(5), ||W_2||_F = 2:
    # W_prod / (||W_1||_F ||W_2||_F) = (w2 . (1, 2)) / 5 * r(theta) = ratio * r(theta)
    margins = [math.cos(theta), 2 * math.cos(theta) + math.sin(theta)]
    margins += [math.cos(theta) - 0.5 * math.sin(theta), 3 * math.cos(theta) + math.sin(theta)]
    Ws = [np.vstack([rotation_row(theta), 2 * rotation_row(theta)]), 2.0 * np.array([w2]) / math.sqrt(5)]
    assert directions.layer_margin_gap(Ws, TOY_X, TOY_Y, 1.0) == pytest.approx(1.0 - ratio * min(margins), abs=1e-14)
    assert directions.margin_gap(Ws, TOY_X, TOY_Y, 1.0) == pytest.approx(1.0 - min(margins), abs=1e-14)


def test_measurements_are_the_named_quantities(problem):
    X, Y, rng = problem
    Ws = separable.gaussian_layers([2, 3, 3, 1], scale=1.0, rng=rng)
    u_bar, gamma = separable.max_margin(X, Y)
    m = separable.measurements(X, Y)
    assert set(m) == {
        "angle",
        "gap",
        "direction",
        "product",
        "first_layer",
        "norms",
        "tails",
        "rank_one",
        "alignment",
        "product_v1",
        "v1_ubar",
        "layer_gap",
        "normalised_distance",
    }
    assert m["product_v1"](Ws) == directions.product_alignment(Ws)
    assert m["v1_ubar"](Ws) == directions.first_layer_alignment(Ws, u_bar)
    assert m["layer_gap"](Ws) == directions.layer_margin_gap(Ws, X, Y, gamma)
    P = (Ws[2] @ Ws[1] @ Ws[0]).ravel() / np.prod([np.sqrt((W**2).sum()) for W in Ws])
    assert m["normalised_distance"](Ws) == pytest.approx(np.sqrt(((P - u_bar) ** 2).sum()), rel=1e-13)
    assert m["angle"](Ws) == directions.angle_to(Ws, u_bar)
    assert m["gap"](Ws) == pytest.approx(directions.margin_gap(Ws, X, Y, gamma), abs=1e-15)
    np.testing.assert_allclose(m["norms"](Ws), [np.sqrt((W**2).sum()) for W in Ws], rtol=1e-14)
    np.testing.assert_allclose(m["rank_one"](Ws), [np.linalg.norm(W, 2) / np.linalg.norm(W) for W in Ws], rtol=1e-14)
    np.testing.assert_array_equal(m["alignment"](Ws), metrics.top_alignment(Ws))
    np.testing.assert_allclose(m["product"](Ws), (Ws[2] @ Ws[1] @ Ws[0]).ravel(), rtol=1e-14)
    np.testing.assert_array_equal(m["first_layer"](Ws), Ws[0])
    assert m["first_layer"](Ws) is not Ws[0]  # a copy: training updates the layers in place
    np.testing.assert_allclose(
        m["tails"](Ws), [np.linalg.norm(W) ** 2 - np.linalg.norm(W, 2) ** 2 for W in Ws], atol=1e-14
    )
    assert "alignment" not in separable.measurements(X, Y, alignment=False)


# -- rates --------------------------------------------------------------------------------------
def test_inverse_log_fit_recovers_an_exact_law_and_agrees_with_scipy():
    t = np.unique(np.rint(np.geomspace(1, 1e5, 60)).astype(int))
    r2, coef = margin_rates.inverse_log_fit(t, 1.0 / (0.7 * np.log(t) + 2.0), start=100)
    assert r2 == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(coef, [0.7, 2.0], rtol=1e-10)
    noisy = 1.0 / (0.7 * np.log(t) + 2.0 + 0.05 * np.random.default_rng(0).standard_normal(t.size))
    r2, coef = margin_rates.inverse_log_fit(t, noisy, start=100)
    keep = t >= 100
    ref = stats.linregress(np.log(t[keep]), 1.0 / noisy[keep])
    assert r2 == pytest.approx(ref.rvalue**2, rel=1e-10)
    np.testing.assert_allclose(coef, [ref.slope, ref.intercept], rtol=1e-10)
    assert r2 < 1 - 1e-6


def test_inverse_log_fit_skips_non_positive_values_and_checks_its_input():
    t = np.arange(1, 50)
    v = 1.0 / (np.log(t) + 1.0)
    v[10] = 0.0
    assert margin_rates.inverse_log_fit(t, v, start=1)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="start must be positive"):
        margin_rates.inverse_log_fit(t, v, start=0)
    with pytest.raises(ValueError, match="at least 3 steps"):
        margin_rates.inverse_log_fit(t, v, start=48)
    with pytest.raises(ValueError, match="same length"):
        margin_rates.inverse_log_fit(t, v[:-1], start=1)


def test_loglog_slope_and_first_step_at_most():
    t = np.arange(0, 1000, 7)
    assert margin_rates.loglog_slope(t, 3.0 / np.maximum(t, 1) ** 1.5, start=10) == pytest.approx(-1.5, rel=1e-10)
    values = np.array([5.0, 4.0, 2.0, 3.0, 1.0])
    assert margin_rates.first_step_at_most(np.array([0, 1, 10, 20, 40]), values, 2.5) == 10.0
    assert margin_rates.first_step_at_most(np.arange(5), values, 0.5) is None  # never at most 0.5


def history(steps, loss, **metrics_):
    steps = np.asarray(steps)
    return History(steps=steps, loss=np.asarray(loss, dtype=float), lr=np.ones(len(steps)), metrics=metrics_)


def test_rate_summary_of_exact_laws():
    T = 10_000
    t = np.unique(np.r_[0, np.rint(np.geomspace(1, T, 80)).astype(int)])
    tt = np.maximum(t, 1)
    fixed = history(t, 2.0 / tt, angle=1.0 / (0.5 * np.log(tt) + 1.0), gap=1.0 / (0.2 * np.log(tt) + 3.0))
    growing_angle = 1.0 / (0.5 * np.log(tt) ** 2 + 1.0)  # faster
    growing = history(t, 2.0 / tt**2, angle=growing_angle, gap=np.ones(len(t)))
    out = margin_rates.rate_summary(fixed, growing)
    assert set(out) == {"risk_slope", "speedup", "speedup_text", "angle_grow"}
    assert out["risk_slope"] == pytest.approx(-1.0, rel=1e-10)
    target = 1.0 / (0.5 * math.log(T) + 1.0)
    first = t[np.flatnonzero(growing_angle <= target)[0]]
    assert out["speedup"] == T / first and out["speedup"] > 1
    assert out["speedup_text"] == f"{T / first:.3g} times sooner"
    assert out["angle_grow"] == growing_angle[-1]
    never = margin_rates.rate_summary(fixed, history(t, 2.0 / tt, angle=np.ones(len(t)), gap=np.ones(len(t))))
    assert never["speedup"] is None and never["speedup_text"] == "not within the steps"
    already = history(t, 2.0 / tt, angle=np.zeros(len(t)), gap=np.ones(len(t)))  # at the angle from step 0
    at_start = margin_rates.rate_summary(fixed, already)  # a fixed run that ends where the growing one starts
    assert at_start["speedup"] is None and at_start["speedup_text"].startswith("no speed-up to measure")


def test_spanning_text_says_whether_assumption_27_holds():
    assert asymptotics.spanning_text(3, 3) == "The support vectors span R^3: Assumption 2.7 holds."
    assert asymptotics.spanning_text(2, 5) == "The support vectors span 2 of the 5 dimensions: Assumption 2.7 fails."


# -- the loss on the data, the late phase ----------------------------------------------------------
@pytest.mark.parametrize("loss", ["logistic", "exponential"])
def test_on_data_makes_the_same_steps_as_training_on_the_data(problem, loss):
    X, Y, rng = problem
    Ws = separable.gaussian_start([2, 4, 3, 1], X, Y, scale=0.5, loss=loss, rng=rng)
    ref = train(Ws, X, Y, lr=0.5, steps=300, loss=loss, record=[0, 100, 300])
    got = train(Ws, None, None, lr=0.5, steps=300, loss=separable.OnData(X, Y, loss), record=[0, 100, 300])
    np.testing.assert_allclose(got.history.loss, ref.history.loss, rtol=1e-12)
    for A, B in zip(got.weights, ref.weights):
        np.testing.assert_allclose(A, B, rtol=1e-10, atol=1e-13)


def test_on_data_checks_its_input_and_the_network():
    with pytest.raises(ValueError, match="loss must be one of"):
        separable.OnData(TOY_X, TOY_Y, "squared")
    with pytest.raises(ValueError, match="labels"):
        separable.OnData(TOY_X, 2 * TOY_Y)
    with pytest.raises(ValueError, match="one output run on the identity"):
        train([np.ones((1, 2))], TOY_X, TOY_Y, lr=0.1, steps=1, loss=separable.OnData(TOY_X, TOY_Y))


def test_rank_one_tail_is_the_frobenius_norm_less_the_spectral_norm_squared():
    rng = np.random.default_rng(3)
    for shape in [(5, 3), (1, 4), (6, 6)]:
        W = rng.standard_normal(shape)
        expected = np.linalg.norm(W) ** 2 - np.linalg.eigvalsh(W @ W.T)[-1]
        assert directions.rank_one_tail(W) == pytest.approx(expected, abs=1e-12)
    assert directions.rank_one_tail(np.outer([1.0, 2.0, 3.0], [4.0, 5.0])) == pytest.approx(0.0, abs=1e-24)


def test_smoothed_margin_is_the_closed_form_and_at_most_the_corollary_margin():
    # one layer on the toy data, W = s e_1: margins s, 2s, s, 3s; gamma = 1
    s, y = 4.0, TOY_Y.ravel()
    risk = float(np.mean(np.logaddexp(0.0, -np.array([s, 2 * s, s, 3 * s]))))
    inverse = -math.log(math.expm1(4 * risk))
    assert math.log1p(math.exp(-inverse)) == pytest.approx(4 * risk, rel=1e-12)  # l(l^{-1}(x)) = x
    assert directions.smoothed_margin(risk, [s], n=4, gamma=1.0) == pytest.approx(inverse / s, rel=1e-12)
    exp_risk = float(np.mean(np.exp(-np.array([s, 2 * s, s, 3 * s]))))
    got = directions.smoothed_margin(exp_risk, [s], n=4, gamma=1.0, loss="exponential")
    assert got == pytest.approx(-math.log(4 * exp_risk) / s, rel=1e-12)
    # two layers: L^{L/2} / ||theta||^L <= 1 / prod ||W_k||, and l^{-1}(nR) <= the smallest margin
    rng = np.random.default_rng(0)
    for _ in range(50):
        Ws = [rng.standard_normal((3, 2)) + 3 * np.outer(np.ones(3), [1, 0]), rng.standard_normal((1, 3)) + 1.0]
        margins = y * (network.end_to_end(Ws) @ TOY_X).ravel()
        if margins.min() <= 0:
            continue
        norms = [np.linalg.norm(W) for W in Ws]
        smooth = directions.smoothed_margin(float(np.mean(np.logaddexp(0.0, -margins))), norms, n=4, gamma=1.0)
        assert smooth <= margins.min() / np.prod(norms) + 1e-12
    with pytest.raises(ValueError, match="loss must be one of"):
        directions.smoothed_margin(0.1, [1.0], n=4, gamma=1.0, loss="squared")


def late_history(T=10_000, gamma=0.5, lr=2.0, perp=(0.3, 0.4), first=(1.0, 0.2)):
    """A history on exact laws: W_prod = u log(t)/gamma + w~ (u = e_1, w~ = perp), risk 1/(gamma^2 lr t),
    norms growing, tails fixed, alignments and product_v1 rising, the data separated from step 10."""
    t = np.unique(np.r_[0, np.rint(np.geomspace(1, T, 60)).astype(int), T // 10])
    tt = np.maximum(t, 1).astype(float)
    grow = np.log(tt) / gamma
    product = np.stack([grow, np.full_like(tt, perp[0]), np.full_like(tt, perp[1])], axis=1)
    first_layer = np.stack([np.outer([1.0, 0.0], [g, first[0], first[1]]) for g in grow])
    return History(
        steps=t,
        loss=1.0 / (gamma**2 * lr * tt),
        lr=np.full(len(t), lr),
        metrics=dict(
            gap=np.where(t >= 10, 0.01, 2 * gamma),
            norms=np.stack([1 + grow, 2 + grow], axis=1),
            tails=np.tile([0.5, 0.0], (len(t), 1)),
            product=product,
            first_layer=first_layer,
            alignment=(1 - 1 / (2 + grow))[:, None],
            product_v1=1 - 1 / (3 + grow),
        ),
    )


def test_late_phase_of_exact_laws():
    T, gamma, lr = 10_000, 0.5, 2.0
    h = late_history(T, gamma, lr)
    out = asymptotics.late_phase(h, np.array([1.0, 0.0, 0.0]), gamma, n=4, lr=lr, start=T // 10)
    assert (out["start"], out["end"], out["separated_from"]) == (T // 10, T, 10)
    assert out["separated"] and out["escaped"] and out["risk_start"] == pytest.approx(1 / (gamma**2 * lr * 1000))
    assert out["progress"] == pytest.approx(10.0, rel=1e-12)
    assert out["risk_rate"] == pytest.approx(1.0, rel=1e-9)  # 1/R = gamma^2 lr t exactly
    assert out["parallel_rate"] == pytest.approx(1.0, rel=1e-12) and out["growth_angle"] == pytest.approx(
        0.0, abs=1e-12
    )
    assert out["perpendicular_ratio"] == pytest.approx(0.0, abs=1e-12)
    assert out["first_layer_perpendicular_ratio"] == pytest.approx(0.0, abs=1e-12)
    assert out["tail_growth"] == 0.0
    g0, g1 = math.log(1000) / gamma, math.log(T) / gamma
    assert out["norm_growth"] == pytest.approx((2 + g1) / (2 + g0), rel=1e-12)  # the smaller of the two
    assert out["alignment_defect_ratio"] == pytest.approx((2 + g0) / (2 + g1), rel=1e-12)
    assert out["product_v1_defect_ratio"] == pytest.approx((3 + g0) / (3 + g1), rel=1e-12)
    norms = np.array([[1 + g0, 2 + g0], [1 + g1, 2 + g1]])
    smooth = directions.smoothed_margin(
        np.array([1 / (gamma**2 * lr * 1000), 1 / (gamma**2 * lr * T)]), norms, n=4, gamma=gamma
    )
    assert out["smoothed_margin_rise"] == pytest.approx(smooth[1] - smooth[0], rel=1e-12)


def test_late_phase_with_a_varying_step_and_the_exponential_loss():
    """A run whose steps vary: with its flow time F(t) = sqrt(t) and risk 1/(gamma^2 F), 1/R grows exactly like
    gamma^2 F, so the rate is 1 in units of the flow time (and not in units of lr t); the exponential loss takes its
    own l(0) = 1 and its own inverse in the smoothed margin. The norms of W_prod and of W_prod / prod ||W_k||_F are
    the closed forms of the exact laws."""
    T, gamma = 10_000, 0.5
    h = late_history(T, gamma)
    flow = np.sqrt(h.steps.astype(float))
    h = dataclasses.replace(h, loss=1.0 / (gamma**2 * np.maximum(flow, 1.0)))
    u = np.array([1.0, 0.0, 0.0])
    out = asymptotics.late_phase(h, u, gamma, n=4, lr=123.0, start=T // 10, flow=flow, loss="exponential")
    assert out["risk_rate"] == pytest.approx(1.0, rel=1e-12)
    assert out["flow_time"] == pytest.approx(math.sqrt(T) - math.sqrt(T // 10), rel=1e-12)
    assert out["risk_share"] == out["risk_start"] == pytest.approx(1 / (gamma**2 * math.sqrt(1000)), rel=1e-12)
    norms = h.metrics["norms"][[-1]][0], h.metrics["norms"][h.steps == T // 10][0]
    smooth = directions.smoothed_margin(h.loss[[-1]][0], norms[0], n=4, gamma=gamma, loss="exponential")
    start = directions.smoothed_margin(h.loss[h.steps == T // 10][0], norms[1], n=4, gamma=gamma, loss="exponential")
    assert out["smoothed_margin_rise"] == pytest.approx(smooth - start, rel=1e-12)
    g0, g1 = math.log(1000) / gamma, math.log(T) / gamma
    size0, size1 = math.hypot(g0, 0.5), math.hypot(g1, 0.5)  # W_prod = (g, 0.3, 0.4)
    assert out["product_norm_growth"] == pytest.approx(size1 / size0, rel=1e-12)
    rho0, rho1 = size0 / ((1 + g0) * (2 + g0)), size1 / ((1 + g1) * (2 + g1))
    assert out["normalised_defect_ratio"] == pytest.approx((1 - rho1) / (1 - rho0), rel=1e-12)
    logistic = asymptotics.late_phase(h, u, gamma, n=4, lr=123.0, start=T // 10, flow=flow)
    assert logistic["risk_share"] == pytest.approx(out["risk_start"] / math.log(2), rel=1e-12)
    fixed = asymptotics.late_phase(h, u, gamma, n=4, lr=2.0, start=T // 10)  # without the flow: lr (T - t_0)
    assert fixed["flow_time"] == 2.0 * (T - T // 10)
    with pytest.raises(ValueError, match="one entry per record"):
        asymptotics.late_phase(h, u, gamma, n=4, lr=1.0, start=T // 10, flow=flow[:-1])
    with pytest.raises(ValueError, match="loss must be one of"):
        asymptotics.late_phase(h, u, gamma, n=4, lr=1.0, start=T // 10, loss="squared")


def test_late_phase_of_a_predictor_stuck_at_an_angle_and_of_a_run_at_the_saddle():
    T, gamma, theta = 10_000, 0.5, 0.3
    h = late_history(T, gamma)
    stuck = h.metrics["product"][:, 0:1] * np.array([[math.cos(theta), math.sin(theta), 0.0]])
    h.metrics["product"] = stuck
    out = asymptotics.late_phase(h, np.array([1.0, 0.0, 0.0]), gamma, n=4, lr=2.0, start=T // 10)
    assert out["perpendicular_ratio"] == pytest.approx(math.tan(theta), rel=1e-12)
    assert out["growth_angle"] == pytest.approx(math.degrees(theta), rel=1e-12)
    h.metrics["gap"] = np.where(h.steps >= 5000, 0.01, 2 * gamma)  # separates only after the window starts
    out = asymptotics.late_phase(h, np.array([1.0, 0.0, 0.0]), gamma, n=4, lr=2.0, start=T // 10)
    assert out["separated_from"] > T // 10 and not out["separated"] and not out["escaped"]
    assert "separates the data only from step" in asymptotics.late_phase_text("the deep network", out, progress=5)
    h.metrics["gap"][-1] = 2 * gamma
    out = asymptotics.late_phase(h, np.array([1.0, 0.0, 0.0]), gamma, n=4, lr=2.0, start=T // 10)
    assert out["separated_from"] == -1
    assert "does not separate the data" in asymptotics.late_phase_text("the deep network", out, progress=5)
    with pytest.raises(ValueError, match="start must be in"):
        asymptotics.late_phase(h, np.array([1.0, 0.0, 0.0]), gamma, n=4, lr=2.0, start=0)


def test_train_until_divergence_stops_the_step_before_and_records_it(problem):
    """A 2-layer network with an uncapped step growing like 1/R, too large for a deep network: the run stops the
    step before the one at which `train` raises, equals `train` for the steps before, and records them; a run
    that does not diverge is `train` itself."""
    X, Y, rng = problem
    Ws = separable.gaussian_start([2, 4, 1], X, Y, scale=1.0, rng=rng)
    kw = dict(lr=schedules.inverse_risk(5.0), loss="logistic", blowup=10.0)
    with pytest.raises(TrainingDiverged) as err:
        train(Ws, X, Y, steps=500, **kw)
    s = err.value.step
    assert 3 < s < 500
    out = separable.train_until_divergence(Ws, X, Y, steps=500, record=[0, 1, 2, 3, 500], **kw)
    assert out.diverged_at == s
    np.testing.assert_array_equal(out.history.steps, [0, 1, 2, 3, s - 1])
    ref = train(Ws, X, Y, steps=s - 1, record=[0, s - 1], **kw)
    for a, b in zip(out.weights, ref.weights):
        np.testing.assert_array_equal(a, b)
    assert out.history.loss[-1] == ref.history.loss[-1]
    calm = separable.train_until_divergence(Ws, X, Y, steps=40, record=[0, 40], lr=0.5, loss="logistic")
    assert calm.diverged_at is None and list(calm.history.steps) == [0, 40]
    for a, b in zip(calm.weights, train(Ws, X, Y, steps=40, lr=0.5, loss="logistic").weights):
        np.testing.assert_array_equal(a, b)


def test_trend_values_name_the_late_statistics_and_give_growths_as_fractions():
    h = late_history()
    stats = asymptotics.late_phase(h, np.array([1.0, 0.0, 0.0]), 0.5, n=4, lr=2.0, start=1000)
    out = asymptotics.trend_values(stats)
    assert out["norm_growth_late"] == pytest.approx(stats["norm_growth"] - 1, abs=1e-15) and out["norm_growth_late"] > 0
    assert out["product_norm_growth_late"] == pytest.approx(stats["product_norm_growth"] - 1, abs=1e-15)
    assert out["v1_perpendicular_ratio"] == stats["first_layer_perpendicular_ratio"]
    for key in ("risk_rate", "tail_growth", "alignment_defect_ratio", "normalised_defect_ratio", "perpendicular_ratio"):
        assert out[key] == stats[key]
    assert out["stable"] is True and out["late_escaped"] is True and out["late_progress"] == stats["progress"]
    assert len(out) == 11 and sum(isinstance(v, float) for v in out.values()) == 9


def test_late_phase_of_a_run_that_diverged():
    T, gamma = 10_000, 0.5
    h = late_history(T, gamma)
    u = np.array([1.0, 0.0, 0.0])
    cut = h.steps <= 700
    early = dataclasses.replace(h, steps=h.steps[cut], loss=h.loss[cut], lr=h.lr[cut])
    early = dataclasses.replace(early, metrics={k: v[cut] for k, v in h.metrics.items()}, metric_steps=None)
    with pytest.raises(ValueError, match="diverged_at = 701: the run diverged before its window starts at step 1000"):
        asymptotics.late_phase(early, u, gamma, n=4, lr=2.0, start=T // 10, diverged_at=701)
    # asked for, its verdict with every statistic nan (the chapter records it so)
    out = asymptotics.late_phase(early, u, gamma, n=4, lr=2.0, start=T // 10, diverged_at=701, unmeasured=math.nan)
    assert out["stable"] is False and out["diverged_at"] == 701 and not out["escaped"]
    assert math.isnan(out["risk_rate"]) and math.isnan(out["perpendicular_ratio"]) and math.isnan(out["progress"])
    with pytest.raises(ValueError, match=r"stats\['risk_rate'\] = nan is not finite: late_phase did not measure it"):
        asymptotics.trend_values(out)
    values = asymptotics.trend_values(out, unmeasured=math.nan)
    assert values["stable"] is False and math.isnan(values["risk_rate"]) and math.isnan(values["norm_growth_late"])
    text = asymptotics.late_phase_text("the deep network", out, progress=5)
    assert text.startswith("The deep network diverged at step 701") and "not applicable" in text
    inside = asymptotics.late_phase(h, u, gamma, n=4, lr=2.0, start=T // 10, diverged_at=T + 1)
    assert inside["stable"] is False and inside["risk_rate"] == pytest.approx(1.0, rel=1e-9)
    assert asymptotics.late_phase(h, u, gamma, n=4, lr=2.0, start=T // 10)["stable"] is True
    with pytest.raises(ValueError, match="start must be in"):
        asymptotics.late_phase(early, u, gamma, n=4, lr=2.0, start=T // 10)


def test_late_phase_says_which_statistic_a_window_cannot_measure():
    """No nan or inf by default: a window that cannot measure a statistic raises, naming it and why; asked with
    unmeasured=nan, that statistic alone is nan. An underflowed risk gives a finite lower bound, flagged."""
    T, gamma = 10_000, 0.5
    u = np.array([1.0, 0.0, 0.0])
    h = late_history(T, gamma)
    still = dataclasses.replace(
        h, metrics=h.metrics | {"product": np.tile(h.metrics["product"][-1], (len(h.steps), 1))}
    )
    with pytest.raises(ValueError, match=r"history: .*perpendicular_ratio: W_prod did not move along u_bar"):
        asymptotics.late_phase(still, u, gamma, n=4, lr=2.0, start=T // 10)
    out = asymptotics.late_phase(still, u, gamma, n=4, lr=2.0, start=T // 10, unmeasured=math.nan)
    assert math.isnan(out["perpendicular_ratio"]) and out["product_norm_growth"] == 1.0
    assert all(math.isfinite(v) for k, v in out.items() if isinstance(v, float) and k != "perpendicular_ratio")
    # one layer: no interface to align, the defect ratio is 1; a deep network that did not record "alignment"
    one = {k: v for k, v in h.metrics.items() if k != "alignment"}
    one |= {"norms": h.metrics["norms"][:, :1], "tails": h.metrics["tails"][:, :1]}
    out = asymptotics.late_phase(dataclasses.replace(h, metrics=one), u, gamma, n=4, lr=2.0, start=T // 10)
    assert out["alignment_defect_ratio"] == 1.0
    deep = {k: v for k, v in h.metrics.items() if k != "alignment"}
    with pytest.raises(ValueError, match="alignment_defect_ratio: the deep network did not record 'alignment'"):
        asymptotics.late_phase(dataclasses.replace(h, metrics=deep), u, gamma, n=4, lr=2.0, start=T // 10)
    # a risk that underflowed to 0: 1e-300 stands for it, and the rate is a lower bound
    gone = dataclasses.replace(h, loss=np.where(h.steps == T, 0.0, h.loss))
    out = asymptotics.late_phase(gone, u, gamma, n=4, lr=2.0, start=T // 10)
    assert out["risk_underflow"] is True and math.isfinite(out["risk_rate"]) and out["risk_rate"] > 1e290
    assert asymptotics.late_phase(h, u, gamma, n=4, lr=2.0, start=T // 10)["risk_underflow"] is False
    with pytest.raises(ValueError, match="unmeasured must be a number"):
        asymptotics.late_phase(h, u, gamma, n=4, lr=2.0, start=T // 10, unmeasured="nan")


def test_late_phase_text_names_the_three_cases():
    base = dict(start=100, end=1000, separated_from=3, separated=True, escaped=True, progress=12.0, risk_start=0.01)
    assert asymptotics.late_phase_text("the deep network", base, progress=5).startswith(
        "The deep network separates the data from step 3 on and its risk falls 12-fold over steps 100 to 1000"
    )
    frozen = asymptotics.late_phase_text("the deep network", base | {"progress": 1.3}, progress=5)
    assert "falls only 1.3-fold" in frozen and "not applicable" in frozen
    saddle = asymptotics.late_phase_text("the deep network", base | {"escaped": False, "risk_start": 0.6}, progress=5)
    assert "still has 0.87 of the risk at W = 0 at step 100" in saddle and "not applicable" in saddle
    assert "(a small lr or a deep network)" in saddle
    small = base | {"escaped": False, "risk_start": 0.9, "risk_share": 0.9}
    theorem = asymptotics.late_phase_text("the network", small, progress=5, why="Assumption 3.5's small steps")
    assert "still has 0.9 of the risk at W = 0" in theorem and "(Assumption 3.5's small steps)" in theorem


# -- Appendix F -------------------------------------------------------------------------------
def test_rank_one_start_has_the_stated_form_and_draw_order():
    widths = [3, 4, 5, 1]
    Ws = separable.rank_one_start(widths, rng=np.random.default_rng(2))
    ref = np.random.default_rng(2)
    u1, u2 = ref.standard_normal(4), ref.standard_normal(5)
    u1, u2 = u1 / np.linalg.norm(u1), u2 / np.linalg.norm(u2)
    w = ref.standard_normal(3) / np.sqrt(3)
    s = ref.uniform(0.5, 1.0, 3)
    np.testing.assert_allclose(Ws[0], np.outer(u1, w), rtol=1e-15)
    np.testing.assert_allclose(Ws[1], s[1] * np.outer(u2, u1), rtol=1e-15)
    np.testing.assert_allclose(Ws[2], s[2] * u2[None, :], rtol=1e-15)
    for W in Ws:
        assert np.linalg.matrix_rank(W) == 1
    np.testing.assert_allclose(metrics.top_alignment(Ws), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="k_L = 1"):
        separable.rank_one_start([3, 4, 2], rng=np.random.default_rng(0))


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_the_rank_one_start_stays_aligned_under_gradient_descent(problem, loss):
    X, Y, rng = problem
    Ws0 = separable.rank_one_start([2, 4, 3, 1], rng=rng)
    T = (np.array([0.3, -1.1]) @ X)[None, :] if loss == "squared" else Y
    h = train(Ws0, X, T, lr=0.1, steps=300, loss=loss, metrics=separable.alignment_measurements(Ws0), record=50).history
    assert set(h.metrics) == {"alignment", "rank_one", "moved"}
    assert h.metrics["alignment"].min() > 1 - 1e-10
    assert (1 - h.metrics["rank_one"]).max() < 1e-10 and h.metrics["moved"].max() < 1e-10
    assert h.loss[-1] < 0.5 * h.loss[0]  # it trained


def test_inner_vectors_moved_is_one_minus_the_cosine():
    u = np.array([1.0, 0.0, 0.0])
    Ws0 = [np.outer(u, [1.0, 2.0]), np.outer([1.0, 0.0], u), np.array([[1.0, 0.0]])]
    moved = separable.inner_vectors_moved(Ws0)
    assert moved(Ws0) == pytest.approx(0.0, abs=1e-15)
    theta = 0.4
    v = np.array([math.cos(theta), math.sin(theta)])
    Ws = [Ws0[0], np.outer(v, u), Ws0[2]]
    assert moved(Ws) == pytest.approx(1.0 - math.cos(theta), rel=1e-12)
    assert separable.inner_vectors_moved(Ws0[:2])(Ws0[:2]) == 0.0  # no inner layer


# -- the figures (deeplinear.plotting) ------------------------------------------------------------
@pytest.fixture(scope="module")
def runs():
    rng = np.random.default_rng(5)
    X, Y = data.separable(16, 2, margin=0.4, rng=rng)
    X = X / np.linalg.norm(X, axis=0).max()
    Ws_deep = separable.gaussian_start([2, 3, 3, 1], X, Y, rng=rng)
    Ws_linear = separable.gaussian_start([2, 1], X, Y, rng=rng)
    tracked = separable.measurements(X, Y)
    out = {}
    for net, Ws in (("deep", Ws_deep), ("linear", Ws_linear)):
        for kind, lr in (("constant", 1.0), ("inverse_risk", schedules.inverse_risk(1.0, cap=5.0))):
            out[net, kind] = train(Ws, X, Y, lr=lr, steps=1000, loss="logistic", metrics=tracked, record=None).history
    return out


def test_plot_risk_and_norms(runs):
    fig = plotting.plot_risk_and_norms({"3-layer": runs["deep", "constant"], "1-layer": runs["linear", "constant"]})
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 2
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["3-layer", "1-layer"]
    assert [line.get_label() for line in fig.axes[1].get_lines()] == ["$W_1$", "$W_2$", "$W_3$"]
    assert fig.axes[1].get_title() == "Layer norms, 3-layer"
    with pytest.raises(ValueError, match="norms_of"):
        plotting.plot_risk_and_norms({"a": runs["deep", "constant"]}, norms_of="b")


def test_plot_rank_one(runs):
    h = runs["deep", "constant"]
    fig = plotting.plot_rank_one(h)
    assert len(fig.axes) == 2 and len(fig.axes[0].get_lines()) == 3 and len(fig.axes[1].get_lines()) == 2
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_ydata(), h.metrics["rank_one"][:, 0])
    assert fig.axes[0].xaxis_inverted() and fig.axes[1].get_yscale() == "log"


@pytest.mark.parametrize("dim", [2, 3])
def test_plot_max_margin(runs, problem, dim):
    X, Y, _ = problem
    if dim == 3:
        X3 = np.vstack([X, 0.1 * np.random.default_rng(0).standard_normal(X.shape[1])])
        trails = {"a": np.tile([1.0, 0.0, 0.0], (5, 1)), "b": np.tile([0.0, 1.0, 0.0], (5, 1))}
        fig = plotting.plot_max_margin(X3, Y, trails)
        assert fig.axes[0].get_xlabel() == r"along $\bar u$"
    else:
        fig = plotting.plot_max_margin(X, Y, {"1-layer": runs["linear", "constant"], "deep": runs["deep", "constant"]})
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and ax.get_title() == "Figure 1a: margin maximisation"
    assert len(ax.get_lines()) == 3 + 2  # separating line, two margin lines, two trails
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:3] == ["$y=+1$", "$y=-1$", "support vectors"] and len(labels) == 5


def test_plot_margin_rates(runs):
    fig = plotting.plot_margin_rates(runs, labels={"deep": "3-layer", "linear": "1-layer"})
    assert len(fig.axes) == 3
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "3-layer, fixed step" in labels and r"1-layer, step $\propto 1/\mathcal{R}$" in labels
    assert len(fig.axes[0].get_lines()) == 4 + 2 + 1  # four runs, two fits, the fit's legend entry
    assert len(fig.axes[1].get_lines()) == 4 and len(fig.axes[2].get_lines()) == 4
    with pytest.raises(ValueError, match="fitted must be one of"):
        plotting.plot_margin_rates(runs, fitted="cosine")


def test_plot_alignment_defects(runs):
    lines = {"rank-one": runs["deep", "constant"], "Gaussian": runs["deep", "inverse_risk"]}
    fig = plotting.plot_alignment_defects({"squared": lines, "logistic": lines})
    assert len(fig.axes) == 2 and [ax.get_title() for ax in fig.axes] == ["squared loss", "logistic loss"]
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["rank-one", "Gaussian", "$10^{-8}$"]
    with pytest.raises(ValueError, match="must record the metric 'alignment'"):
        plotting.plot_alignment_defects({"squared": {"x": dataclasses.replace(runs["deep", "constant"], metrics={})}})
