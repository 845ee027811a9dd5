"""The rates at which gradient descent on separable data approaches its limits, and what a growing step gains.

Soudry et al.'s implicit bias: with a fixed step, the direction of a linear predictor converges to the maximum-
margin separator like ``1 / log t`` (`inverse_log_fit`) while the risk falls like ``1 / t`` (`loglog_slope`);
a step that grows as the risk falls reaches the same angle sooner (`first_step_at_most`, `rate_summary`). The
trends of a run's last decade of steps are in `deeplinear.asymptotics`.

Paper: Ji & Telgarsky, Section 3 (the rates); Soudry et al. 2018 (the 1 / log t rate of the direction).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validate

__all__ = ["inverse_log_fit", "loglog_slope", "first_step_at_most", "rate_summary"]


def _series(steps, values) -> tuple[np.ndarray, np.ndarray]:
    steps, values = np.asarray(steps), np.asarray(values, dtype=np.float64)
    if steps.ndim != 1 or values.shape != steps.shape:
        raise ValueError(f"steps and values must be 1-D of the same length, got {steps.shape} and {values.shape}")
    if not np.issubdtype(steps.dtype, np.number) or not np.isfinite(steps).all():
        raise ValueError("steps must be finite numbers")
    return steps, values


def inverse_log_fit(steps: np.ndarray, values: np.ndarray, *, start: float) -> tuple[float, np.ndarray]:
    """Least-squares fit ``1 / value = a log t + b`` over the steps ``t >= start`` with ``value > 0``.

    Soudry et al.'s fixed-step rate ``O(1 / log t)`` makes ``1 / value`` affine in ``log t``.

    Parameters
    ----------
    steps : ndarray
        (T,), recorded steps
    values : ndarray
        (T,).
    start : float
        > 0, the first step of the fit.

    Returns
    -------
    r2 : float
        The coefficient of determination of the fit.
    coef : ndarray
        (2,), ``(a, b)``.

    Raises
    ------
    ValueError
        If ``start`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Soudry et al. (2018); Ji & Telgarsky, Section 3.
    """
    steps, values = _series(steps, values)
    if not start > 0:
        raise ValueError(f"start must be positive (log t), got {start!r}")
    keep = (steps >= start) & (values > 0)
    if keep.sum() < 3:
        raise ValueError(f"need at least 3 steps >= start = {start} with positive values, got {int(keep.sum())}")
    t, v = steps[keep].astype(float), values[keep]
    A = np.stack([np.log(t), np.ones_like(t)], axis=1)
    coef, *_ = np.linalg.lstsq(A, 1.0 / v, rcond=None)
    residual = 1.0 / v - A @ coef
    r2 = 1.0 - residual @ residual / np.sum((1.0 / v - np.mean(1.0 / v)) ** 2)
    return float(r2), coef


def loglog_slope(steps: np.ndarray, values: np.ndarray, *, start: float) -> float:
    """Slope ``s`` of the least-squares line ``log value = s log t + c`` over the steps ``t >= start``.

    Parameters
    ----------
    steps : ndarray
        Number of gradient-descent steps, >= 0.
    values : ndarray
        (T,), positive values at ``steps``.
    start : float
        First step of the fit.

    Returns
    -------
    float
        The slope ``s``.

    Raises
    ------
    ValueError
        If ``start``, ``values`` or ``steps`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Soudry et al. (2018): the risk falls like ``1/t`` (slope -1) with a fixed step.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.margin_rates import loglog_slope
    >>> t = np.array([1.0, 10.0, 100.0, 1000.0])
    >>> round(loglog_slope(t, 1 / t, start=1.0), 6)
    -1.0
    """
    steps, values = _series(steps, values)
    start = _validate.positive(start, "start")
    late = steps >= start
    if late.sum() < 2:
        raise ValueError(f"need a positive start and at least 2 steps >= start = {start}")
    if not (np.isfinite(values[late]).all() and np.all(values[late] > 0)):
        raise ValueError("values must be finite and positive at the steps >= start (their logarithm is fitted)")
    if np.ptp(steps[late]) == 0:
        raise ValueError("steps >= start must not all be equal")
    return float(np.polyfit(np.log(steps[late]), np.log(values[late]), 1)[0])


def first_step_at_most(steps: np.ndarray, values: np.ndarray, target: float) -> float | None:
    """The first recorded step whose value is at most ``target``, as a float; None if no value is.

    Parameters
    ----------
    steps : ndarray
        Number of gradient-descent steps, >= 0.
    values : ndarray
        (T,), the values at ``steps``.
    target : float
        The threshold.

    Returns
    -------
    float or None
        The first recorded step whose value is at most ``target``, as a float; None if no value is.

    Raises
    ------
    ValueError
        If ``target`` is not valid (the message names the parameter).
    """
    steps, values = _series(steps, values)
    _validate.number(target, "target")
    hit = np.flatnonzero(values <= target)
    return float(steps[hit[0]]) if hit.size else None


def rate_summary(fixed: Any, growing: Any, *, decades: float = 2.0) -> dict[str, Any]:
    """The fixed-step run's risk rate and what a growing step gains, from two `deeplinear.History`.

    Both runs record `measurements` ("angle") and the loss, ending at step T.

    Parameters
    ----------
    fixed : object
        The `deeplinear.History` of the fixed-step run.
    growing : object
        The `deeplinear.History` of the growing-step run.
    decades : float, optional
        Decades of steps, before T, that the rate is fitted over.

    Returns
    -------
    dict
        Dict with "risk_slope" (`loglog_slope` of the fixed run's risk over the last ``decades`` decades of steps,
        from ``T / 10**decades``), "speedup" (T over the first step at which the growing run's angle is at most
        the fixed run's final angle; None if it never is, or already is at step 0), "speedup_text" (it in words:
        "12.3 times sooner", "not within the steps", or "no speed-up to measure (its start is already that
        close)") and "angle_grow" (the growing run's final angle).

    Raises
    ------
    ValueError
        If ``decades`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Soudry et al. (2018); Ji & Telgarsky, Section 3.
    """
    for name, h in (("fixed", fixed), ("growing", growing)):
        _validate.history(h, name, ("steps", "loss", "metrics"))
        if "angle" not in h.metrics or len(h.steps) == 0:
            raise ValueError(f"{name} must have recorded the metric 'angle' (deeplinear.separable.measurements)")
    decades = _validate.positive(decades, "decades")
    T = fixed.steps[-1]
    angle = fixed.metrics["angle"]
    first = first_step_at_most(growing.steps, growing.metrics["angle"], float(angle[-1]))
    speedup = None if first is None or first <= 0 else float(T / first)
    if first is not None and first <= 0:  # the fixed run ends farther from u-bar than the growing one starts
        text = "no speed-up to measure (its start is already that close)"
    else:
        text = "not within the steps" if speedup is None else f"{speedup:.3g} times sooner"
    return dict(
        risk_slope=loglog_slope(fixed.steps, fixed.loss, start=T / 10**decades),
        speedup=speedup,
        speedup_text=text,
        angle_grow=float(growing.metrics["angle"][-1]),
    )
