"""Runs above the stability edge: `training.until_divergence` stops before a divergence instead of raising,
`training.descended` says whether a run stayed below the edge; chapters 07 and 08 train through them
(`constrained.train_until_mse`, `figure1.train_reduced` with ``on_divergence="stop"``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import deeplinear
from deeplinear import aligned, constrained, figure1, reduction, structures, timing
from deeplinear.training import TrainingDiverged, descended, until_divergence


def _scalar_run(lr: float, steps: int):
    """f(x) = w x on one sample x = 1, target 2, loss (w - 2)^2 / 2: the step multiplies w - 2 by (1 - lr);
    gradient descent descends for lr < 2 and oscillates with growing amplitude above."""
    return deeplinear.train([np.ones((1, 1))], np.ones((1, 1)), 2 * np.ones((1, 1)), lr=lr, steps=steps, record=1)


def test_until_divergence_returns_the_last_step_before_it():
    with pytest.raises(TrainingDiverged) as caught:
        _scalar_run(3.0, 200)  # |1 - 3| = 2: the error doubles every step
    step = caught.value.step
    stopped = until_divergence(lambda k: _scalar_run(3.0, k), 200)
    assert stopped.diverged_at == step and stopped.history.steps[-1] == step - 1
    reference = _scalar_run(3.0, step - 1)  # the same steps, run on their own
    np.testing.assert_array_equal(stopped.weights[0], reference.weights[0])
    np.testing.assert_array_equal(stopped.history.loss, reference.history.loss)
    # and a run that does not diverge is the run itself
    fine = until_divergence(lambda k: _scalar_run(0.5, k), 50)
    assert fine.diverged_at is None and fine.history.steps[-1] == 50
    np.testing.assert_array_equal(fine.weights[0], _scalar_run(0.5, 50).weights[0])


def test_descended_sees_a_rise_a_divergence_and_not_rounding():
    assert descended(_scalar_run(0.5, 40))  # (1 - 0.5)^2 per step
    assert descended(_scalar_run(1.9, 40))  # oscillates in sign, but its loss falls
    assert not descended(_scalar_run(2.1, 40))  # above the edge: the loss grows
    assert not descended(until_divergence(lambda k: _scalar_run(3.0, k), 200))  # stopped at a divergence
    run = _scalar_run(0.5, 3)
    loss = np.array([1.0, 0.5, 0.5 * (1 + 1e-12), 0.25])  # a rise at rounding level
    flat = dataclasses.replace(run, history=dataclasses.replace(run.history, loss=loss))
    assert descended(flat) and not descended(flat, rtol=0.0)
    with pytest.raises(ValueError, match="one network"):
        descended(deeplinear.train([np.ones((2, 1, 1))], np.ones((1, 1)), np.ones((1, 1)), lr=0.1, steps=2, record=1))


def test_figure2_training_stops_at_a_divergence_when_asked():
    toeplitz = structures.Toeplitz(4)
    rng = np.random.default_rng(0)
    Y = 50 * rng.standard_normal((4, 4))  # large targets: the mean squared error's step 5 is far above the edge
    Ws = constrained.symmetric_start(toeplitz, 3, rng=rng)
    with pytest.raises(TrainingDiverged):
        constrained.train_until_mse(Ws, None, Y, toeplitz, lr=5.0, max_steps=500)
    run = constrained.train_until_mse(Ws, None, Y, toeplitz, lr=5.0, max_steps=500, on_divergence="stop")
    assert run.diverged_at is not None and run.history.steps[-1] == run.diverged_at - 1
    assert run.history.metric_steps[-1] == run.diverged_at - 1  # scored where it stopped
    assert not descended(run) and np.isfinite(run.history.metrics["defect"]).all()
    calm = constrained.train_until_mse(Ws, None, Y / 50, toeplitz, lr=0.01, max_steps=50, on_divergence="stop")
    assert calm.diverged_at is None and descended(calm)
    with pytest.raises(ValueError, match="on_divergence"):
        constrained.train_until_mse(Ws, None, Y, toeplitz, lr=0.01, max_steps=5, on_divergence="ignore")


def test_reduced_training_stops_at_a_divergence_and_says_so():
    rng = np.random.default_rng(1)
    X = 10 * rng.standard_normal((12, 30))
    Y = np.eye(3)[:, np.arange(30) % 3]
    Ws = aligned.aligned_start(np.linalg.svd(X)[0], np.linalg.svd(Y)[0], [12, 16, 4, 3], inner="identity", rng=rng)
    red = reduction.reduce_network(Ws, X)
    with pytest.raises(TrainingDiverged):
        figure1.train_reduced(red, Y, lr=1.0, steps=300, loss="cross_entropy", record=1)
    run = figure1.train_reduced(red, Y, lr=1.0, steps=300, loss="cross_entropy", record=1, on_divergence="stop")
    assert run.diverged_at is not None and run.history.metric_steps[-1] == run.diverged_at - 1
    s = figure1.summary(run, 1e-4)
    assert s["descended"] is False and s["steps"] == run.diverged_at - 1
    assert s["flow_time"] == pytest.approx(1.0 * s["steps"]) and s["long_enough"] is (s["steps"] >= 1)
    calm = figure1.summary(figure1.train_reduced(red, Y, lr=1e-4, steps=20, loss="cross_entropy", record=1), 1e-4)
    assert calm["descended"] is True
    # the lemma's check compares the two networks at the last step before the full run diverges
    assert figure1.max_deviation(red, X, Y, lr=1.0, steps=300, loss="cross_entropy") < 1e-9
    full, small = timing.full_vs_small_network(red, X, Y, lr=1.0, loss="cross_entropy", steps=(300, 300))
    assert full > 0 and small > 0


def test_figure2_verdicts_say_why_a_run_is_outside():
    toeplitz = structures.Toeplitz(4)
    rng = np.random.default_rng(2)
    Y = rng.standard_normal((4, 4))
    Ws = constrained.symmetric_start(toeplitz, 3, rng=rng)
    calm = constrained.train_until_mse(Ws, None, Y, toeplitz, lr=0.01, max_steps=1000, on_divergence="stop")
    judged = constrained.figure2_hypotheses(calm, 0.01)  # flow time 10: long enough
    assert judged["descended"] and judged["long_enough"] and judged["outside"] == ""
    assert judged["verdict"] == "confirmed with a caveat" and judged["flow_time"] == pytest.approx(10.0)
    assert constrained.descent_verdict(calm) == "the error fell at every step"
    short = constrained.train_until_mse(Ws, None, Y, toeplitz, lr=0.01, max_steps=100, on_divergence="stop")
    assert not constrained.long_enough(short.history, 0.01)  # flow time 1 < 8, and no fit
    assert constrained.outside_figure2(short, 0.01).startswith("the run is too short to judge")
    big = constrained.train_until_mse(Ws, None, 50 * Y, toeplitz, lr=5.0, max_steps=500, on_divergence="stop")
    assert constrained.descent_verdict(big).startswith(f"the error diverged at step {big.diverged_at}")
    assert constrained.figure2_hypotheses(big, 5.0)["verdict"].startswith("not applicable: the error diverged")
    # an error that rises without diverging: the step at which it first rose
    rising = dataclasses.replace(calm, history=dataclasses.replace(calm.history, loss=np.array([3.0, 2.0, 2.5, 1.0])))
    rising = dataclasses.replace(rising, history=dataclasses.replace(rising.history, steps=np.arange(4)))
    assert constrained.descent_verdict(rising).startswith("the error rose at step 2")


def test_figure1_verdicts_name_every_hypothesis_that_fails():
    inside = {"descended": True, "long_enough": True, "flow_time": 20.0}
    assert figure1.figure1_verdict(inside, depth=3, condition_holds=False) == "confirmed with a caveat"
    outside = {"descended": False, "long_enough": False, "flow_time": 0.5}
    why = figure1.outside_figure1(outside, depth=2, condition_holds=True)
    for part in ("d = 2 layers", "data condition holds", "stability edge", "too short to judge: lr x steps = 0.5"):
        assert part in why
    assert figure1.figure1_verdict(outside, depth=2, condition_holds=True) == f"not applicable: {why}"
