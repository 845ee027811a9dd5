"""Chapter 08's additions to shared modules: separable.one_vs_rest_margins (against scipy's SLSQP on the
hard-margin program) and plotting.plot_alignment_panels (the figure it returns)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy.optimize import minimize

import deeplinear
from deeplinear import aligned, plotting, separable


def _clusters(rng, per_class=4):
    """Three classes around 3 e_0, 3 e_1, 3 e_2 in R^3: every class is separable from the rest through 0."""
    labels = np.repeat(np.arange(3), per_class)
    X = 3.0 * np.eye(3)[:, labels] + 0.3 * rng.standard_normal((3, labels.size))
    return X, labels


def _slsqp_margin(X, y):
    """Reference: min ||w||^2 subject to y_j <w, x_j> >= 1 by SLSQP; the margin is 1 / ||w||."""
    cons = {"type": "ineq", "fun": lambda w: y * (w @ X) - 1.0, "jac": lambda w: (y * X).T}
    res = minimize(lambda w: w @ w, np.ones(X.shape[0]), jac=lambda w: 2 * w, constraints=[cons], method="SLSQP")
    assert res.success
    return 1.0 / np.linalg.norm(res.x)


def test_one_vs_rest_margins_are_the_hard_margins():
    X, labels = _clusters(np.random.default_rng(0))
    margins = separable.one_vs_rest_margins(X, labels)
    expected = [_slsqp_margin(X, np.where(labels == c, 1.0, -1.0)) for c in range(3)]
    assert margins.shape == (3,) and margins.min() > 0.5
    np.testing.assert_allclose(margins, expected, rtol=1e-6)


def test_one_vs_rest_margins_are_zero_for_classes_that_cannot_be_separated():
    X, labels = _clusters(np.random.default_rng(1))
    X = np.hstack([X, -X[:, :1]])  # a sample of class 0 and its negative, also of class 0
    labels = np.r_[labels, 0]
    np.testing.assert_array_equal(separable.one_vs_rest_margins(X, labels), 0.0)


def test_one_vs_rest_margins_reject_bad_labels():
    with pytest.raises(ValueError, match="labels must be"):
        separable.one_vs_rest_margins(np.ones((2, 3)), np.array([0.5, 1.0, 0.0]))
    with pytest.raises(ValueError, match="X must have shape"):
        separable.one_vs_rest_margins(np.ones((2, 3)), np.array([0, 1]))


def test_plot_alignment_panels_draws_one_panel_per_run():
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((4, 6)), rng.standard_normal((2, 6))
    Ws = [rng.standard_normal((3, 4)), rng.standard_normal((2, 3))]
    run = deeplinear.train(Ws, X, Y, lr=0.01, steps=20, metrics=("alignment", "invariance"))
    fig = plotting.plot_alignment_panels({"left": run.history, "right": run.history}, sharey=True)
    try:
        assert isinstance(fig, plt.Figure)
        main = [ax for ax in fig.axes if ax.get_title()]
        assert [ax.get_title() for ax in main] == ["left", "right"]
        assert len(fig.axes) == 4  # each panel's loss sits on a twin axis
        for ax in main:
            assert [line.get_label() for line in ax.get_lines()] == ["alignment", "invariance"]
        assert main[0].get_shared_y_axes().joined(main[0], main[1])
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="non-empty dict"):
        plotting.plot_alignment_panels({})


def test_appendix_f_start_is_the_rank_one_network_it_describes():
    rng = np.random.default_rng(3)
    widths = [5, 4, 3, 1]
    V = aligned.random_orthogonal(5, rng=rng)
    Ws = aligned.appendix_f_start(V, -np.eye(1), widths, rng=np.random.default_rng(7))
    s = np.random.default_rng(7).random(3)  # the reference: one draw per layer, in order
    e = [np.eye(k)[:, 0] for k in widths]
    np.testing.assert_allclose(Ws[0], s[0] * np.outer(e[1], V[:, 0]), atol=1e-15)
    np.testing.assert_allclose(Ws[1], s[1] * np.outer(e[2], e[1]), atol=1e-15)
    np.testing.assert_allclose(Ws[2], -s[2] * np.outer(e[3], e[2]), atol=1e-15)
    with pytest.raises(ValueError, match="widths must be"):
        aligned.appendix_f_start(V, np.eye(1), [5], rng=rng)


def test_appendix_f_start_stays_rank_one_under_gradient_descent():
    """The proposition: with one output, every hidden layer stays a multiple of e_1 e_1^T."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((5, 8))
    y = np.where(rng.standard_normal(8) > 0, 1.0, -1.0)[None, :]
    Ws = aligned.appendix_f_start(aligned.random_orthogonal(5, rng=rng), np.eye(1), [5, 4, 3, 1], rng=rng)
    for loss in ("squared", "logistic"):
        W = deeplinear.train(Ws, X, y, lr=0.1, steps=50, loss=loss).weights
        assert abs(W[1][0, 0]) > 0 and np.abs(W[1][1:]).max() == 0 and np.abs(W[1][:, 1:]).max() == 0
        assert np.abs(W[0][1:]).max() == 0 and np.abs(W[2][:, 1:]).max() == 0
        assert np.abs(W[0] - Ws[0]).max() > 1e-3  # the first layer's row moved
