"""Training through the reduction lemma (deeplinear.figure1) against plain gradient descent on the full network
(deeplinear.train) and the full network's scores (deeplinear.reduction.scores_to)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import deeplinear
from deeplinear import aligned, figure1, reduction
from test_reduction import _starts


@pytest.mark.parametrize("kind", ["random", "aligned"])
@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_reduced_training_is_full_gradient_descent(kind, loss):
    X, Y, starts = _starts()
    Ws = starts[kind]
    red = reduction.reduce_network(Ws, X)
    full = deeplinear.train(Ws, X, Y, lr=0.05, steps=40, loss=loss, record=1)
    small = figure1.train_reduced(red, Y, lr=0.05, steps=40, loss=loss, record=1, record_metrics=[0, 40])
    np.testing.assert_allclose(small.history.loss, full.history.loss, rtol=1e-10)
    assert np.abs(full.history.loss[-1] - full.history.loss[0]) > 1e-3  # the layers did move
    for W, V in zip(full.weights, reduction.expand(red, small.weights)):
        np.testing.assert_allclose(V, W, atol=1e-10 * np.abs(W).max())
    assert figure1.max_deviation(red, X, Y, lr=0.05, steps=5, loss=loss) < 1e-12


@pytest.mark.parametrize(("loss", "k_out"), [("squared", 3), ("cross_entropy", 3), ("logistic", 1)])
def test_the_transposed_small_network_is_full_gradient_descent(loss, k_out):
    """Many samples and few outputs: `train_reduced` runs the small network transposed, its loss taken through the
    data, and its iterates are still those of plain gradient descent on the full network."""
    rng = np.random.default_rng(3)
    widths, n = [30, 40, 8, k_out], 60
    X = rng.standard_normal((30, n))
    Y = np.eye(3)[:, np.arange(n) % 3] if k_out == 3 else np.where(np.arange(n) % 2, 1.0, -1.0)[None, :]
    U_y = np.linalg.svd(Y)[0]
    Ws = aligned.aligned_start(np.linalg.svd(X)[0], U_y, widths, inner="identity", low=0.0, high=1.0, rng=rng)
    red = reduction.reduce_network(Ws, X)
    assert figure1.transposed_is_cheaper(red)
    X_few, _, starts = _starts()  # five samples: the small network of the aligned start is trained as it stands
    assert not figure1.transposed_is_cheaper(reduction.reduce_network(starts["aligned"], X_few))
    assert figure1.transposed_is_cheaper(reduction.reduce_network(starts["random"], X_few))
    full = deeplinear.train(Ws, X, Y, lr=0.02, steps=30, loss=loss, record=1)
    small = figure1.train_reduced(red, Y, lr=0.02, steps=30, loss=loss, record=1, record_metrics=[0, 30])
    np.testing.assert_allclose(small.history.loss, full.history.loss, rtol=1e-10)
    assert np.abs(full.history.loss[-1] - full.history.loss[0]) > 1e-3  # the layers did move
    assert [W.shape for W in small.weights] == [A.shape for A in red.layers]
    for W, V in zip(full.weights, reduction.expand(red, small.weights)):
        np.testing.assert_allclose(V, W, atol=1e-10 * np.abs(W).max())
    np.testing.assert_allclose(small.history.metrics["alignment"][-1], reduction.scores_to(red)(small.weights)[0])
    assert figure1.max_deviation(red, X, Y, lr=0.02, steps=5, loss=loss) < 1e-12
    with pytest.raises(ValueError, match="Y must have shape"):
        figure1.train_reduced(red, Y[:, :-1], lr=0.02, steps=1, loss=loss)


def test_max_deviation_sees_a_small_network_that_is_not_the_lemmas():
    X, Y, starts = _starts()
    red = reduction.reduce_network(starts["random"], X)
    wrong = dataclasses.replace(red, X=red.X[::-1])  # the small network trained on permuted data
    assert figure1.max_deviation(wrong, X, Y, lr=0.05, steps=3) > 1e-3


def test_train_reduced_records_the_scores_of_the_full_network():
    X, Y, starts = _starts()
    red = reduction.reduce_network(starts["aligned"], X)
    run = figure1.train_reduced(red, Y, lr=0.05, steps=25, loss="cross_entropy", record=1, record_metrics=[0, 5, 25])
    h = run.history
    assert list(h.metric_steps) == [0, 5, 25] and len(h.loss) == 26
    align, inv = reduction.scores_to(red)(run.weights)
    np.testing.assert_array_equal(h.metrics["alignment"][-1], align)
    np.testing.assert_array_equal(h.metrics["invariance"][-1], np.r_[inv[:-1, 0], inv[1:, 1]])
    np.testing.assert_allclose(h.metrics["alignment"][0], 1.0, atol=1e-12)  # an aligned start
    np.testing.assert_allclose(h.metrics["invariance"][0], 1.0, atol=1e-12)


def test_train_reduced_stops_below_the_threshold_as_the_full_run_does():
    X, Y, starts = _starts()
    red = reduction.reduce_network(starts["random"], X)
    full = deeplinear.train(starts["random"], X, Y, lr=0.2, steps=3000, stop_below=1e-3, record=1)
    small = figure1.train_reduced(red, Y, lr=0.2, steps=3000, stop_below=1e-3, record=1)
    assert full.history.steps[-1] < 3000 and small.history.steps[-1] == full.history.steps[-1]
    assert small.history.metric_steps[-1] == small.history.steps[-1]


def test_summary_reports_the_last_records():
    X, Y, starts = _starts()
    red = reduction.reduce_network(starts["aligned"], X)
    run = figure1.train_reduced(red, Y, lr=0.05, steps=30, loss="cross_entropy", record=1, record_metrics=[0, 10, 30])
    h = run.history
    s = figure1.summary(run, threshold=1e-12)
    assert s["steps"] == 30 and s["reached_threshold"] is False
    assert s["loss_initial"] == pytest.approx(deeplinear.loss(starts["aligned"], X, Y, "cross_entropy"), rel=1e-12)
    assert s["loss_final"] == pytest.approx(deeplinear.loss(reduction.expand(red, run.weights), X, Y, "cross_entropy"))
    align, inv = reduction.scores_to(red)(run.weights)
    assert s["alignment_final"] == np.mean(align) and s["invariance_final"] == np.mean(np.r_[inv[:-1, 0], inv[1:, 1]])
    assert s["alignment_lowest"] == min(h.metrics["alignment"][i].mean() for i in range(3)) < 1.0
    assert figure1.summary(run, threshold=10.0)["reached_threshold"] is True
