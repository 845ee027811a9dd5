"""deeplinear.timing: its timers run and return seconds per step. No test compares two times: a wall-clock time
depends on the machine and its load (benchmarks/speed.py prints them side by side, as ratios)."""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear import reduction, timing


def test_full_vs_recursion_returns_two_positive_times():
    full, recursion = timing.full_vs_recursion(
        3, 2, rng=np.random.default_rng(0), full_steps=5, reduced_steps=5, repeats=1
    )
    assert 0 < full < np.inf and 0 < recursion < np.inf


def test_full_vs_small_network_returns_two_positive_times_and_times_the_steps_before_a_divergence():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((6, 3)), rng.standard_normal((2, 3))
    red = reduction.reduce_network([rng.standard_normal((4, 6)), rng.standard_normal((2, 4))], X)
    for lr in (0.01, 1e3):  # the second diverges at once: the steps made are timed
        full, small = timing.full_vs_small_network(red, X, Y, lr=lr, steps=(3, 3))
        assert 0 < full < np.inf and 0 < small < np.inf
    with pytest.raises(ValueError, match="steps must be a pair"):
        timing.full_vs_small_network(red, X, Y, lr=0.01, steps=3)
    with pytest.raises(ValueError, match=r"steps\[1\] must be an integer >= 1"):
        timing.full_vs_small_network(red, X, Y, lr=0.01, steps=(3, 0))
    with pytest.raises(ValueError, match="red must be a Reduction"):
        timing.full_vs_small_network(X, X, Y, lr=0.01)
