"""constrained.fit_verdict: a Figure 2 run fitted (below the stopping rule) or stopped at its step cap."""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear import constrained, structures


def _run(max_steps, lr=0.05):
    """Three 3x3 Toeplitz layers factorising a symmetric Toeplitz target that their start already nearly fits."""
    rng = np.random.default_rng(3)
    T = structures.Toeplitz(3)
    Ws = constrained.symmetric_start(T, 3, rng=rng)
    Y = np.linalg.multi_dot(Ws) * 1.05  # reachable: a scaled copy of the start's product
    return constrained.train_until_mse(Ws, None, Y, T, lr=lr, max_steps=max_steps).history


def test_fit_verdict_reads_the_stopping_rule():
    fitted = _run(20_000)
    # independent reference: the plain mean squared error of the recorded losses, against 1e-4
    below = np.flatnonzero(np.asarray(fitted.loss) < 1e-4)
    assert below.size and below[0] == len(fitted.loss) - 1  # the run stopped at the first step below it
    assert constrained.fit_verdict(fitted) == (
        f"fitted: the error fell below 1e-4 (the stopping rule) at step {int(fitted.steps[-1])}"
    )
    capped = _run(3)
    assert np.asarray(capped.loss)[-1] >= 1e-4 and int(capped.steps[-1]) == 3
    assert constrained.fit_verdict(capped) == (
        "stopped at its step cap of 3 steps, before the error reached 1e-4 (the stopping rule)"
    )
    # a looser rule turns the capped run into a fitted one exactly when its last loss is below it
    loose = float(np.asarray(capped.loss)[-1]) * 1.01
    assert constrained.fit_verdict(capped, target=loose).startswith("fitted: ")


@pytest.mark.parametrize("target", [0, -1.0, True, "1e-4"])
def test_fit_verdict_rejects_bad_targets(target):
    with pytest.raises(ValueError, match="target must be a number > 0"):
        constrained.fit_verdict(_run(3), target=target)
