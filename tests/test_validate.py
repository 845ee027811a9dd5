"""The one validation layer (issue 23, deliverable 2): one set of accepted number types, Python or numpy of
any width, everywhere; bools, NaN and out-of-range values refused with the caller's parameter and range."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from deeplinear import _validate, constrained, losses, recording


@pytest.mark.parametrize("x", [0.5, 1, np.float32(0.5), np.float64(0.5), np.int64(1), np.float16(0.5), Fraction(1, 2)])
def test_numbers_of_every_type_are_accepted_alike(x):
    assert _validate.number(x, "x") == float(x)
    assert _validate.positive(x, "x") == float(x)
    assert _validate.tolerance(x, "x") == float(x)


@pytest.mark.parametrize("x", [True, np.bool_(True), math.nan, np.float32("nan"), math.inf, "1", None, 1j, [1.0]])
def test_bools_nan_infinity_and_non_numbers_are_refused_with_the_parameter(x):
    with pytest.raises(ValueError, match=r"^lr must be a finite number, got"):
        _validate.number(x, "lr")


def test_the_range_is_checked_and_said():
    with pytest.raises(ValueError, match=r"fraction must be a number in \(0, 1\], got 0"):
        _validate.number(0, "fraction", "a number in (0, 1]", low=0, low_open=True, high=1)
    assert _validate.number(1, "fraction", low=0, low_open=True, high=1) == 1.0
    assert _validate.number(math.inf, "cap", finite=False, low=0) == math.inf
    with pytest.raises(ValueError, match=r"b must be an integer in \[0, 2\], got 3"):
        _validate.integer(3, "b", 0, high=2)
    for bad in (2.0, np.float32(2), True):
        with pytest.raises(ValueError, match="k must be an integer >= 1"):
            _validate.integer(bad, "k")
    assert _validate.integer(np.int32(2), "k") == 2
    assert _validate.flag(np.bool_(False), "progress") is not None
    with pytest.raises(ValueError, match="progress must be None, True or False"):
        _validate.flag(1, "progress", optional=True)


def test_public_functions_take_numpy_scalars_as_train_does():
    """`constrained.fit_verdict`, `losses.mse_learning_rate` and the like take np.float32 and np.int64 and give
    what the Python numbers give."""
    assert losses.mse_learning_rate(np.float32(0.5), np.int64(4)) == losses.mse_learning_rate(0.5, 4)
    history = recording.History(
        steps=np.array([0, 10]), loss=np.array([1.0, 1e-9]), lr=np.array([0.1, 0.1]), metrics={}
    )
    assert constrained.fit_verdict(history, target=np.float32(1e-6)) == constrained.fit_verdict(history, target=1e-6)
