"""Step-size schedules for `deeplinear.train`: callables ``lr(step, loss)`` evaluated at every step.

`train` accepts a positive number (a fixed step) or a callable ``lr(step, loss)`` that returns the
step to take from the weights whose loss is ``loss``. This module holds the schedules of Ji and
Telgarsky's Section 3 and of Soudry et al.'s fixed-step analysis: `constant`, `inverse_risk` (a step
that grows like ``1 / R(W(t))``, with a cap), their lookup by name, `named`, the step that Ji and
Telgarsky's Assumption 3.5 allows at a given network, `assumption_35_descent`, gradient descent with those
steps along the whole run (they depend on the weights, which a schedule ``lr(step, loss)`` does not see),
and `divergence_step`, which says whether (and when) a schedule makes gradient descent diverge.

Paper: Ji & Telgarsky, Section 3 (gradient descent, Assumption 3.5); Soudry et al. (2018) (fixed step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _validate
from ._engine import _metric_fns, _Recorder, _setup, _Stepper
from .recording import TrainResult, _diverged, record_schedule
from .training import TrainingDiverged, train

__all__ = [
    "LOSS_AT_ZERO",
    "SCHEDULES",
    "Schedule",
    "assumption_35_descent",
    "assumption_35_step",
    "constant",
    "divergence_step",
    "inverse_risk",
    "named",
]

#: A step-size schedule: ``lr(step, loss) -> step size``, as `deeplinear.train` calls it.
Schedule = Callable[[int, float], float]

#: ``l(0)`` of the losses of Ji and Telgarsky's Assumption 1.1: ``log 2`` (logistic), 1 (exponential).
LOSS_AT_ZERO: dict[str, float] = {"logistic": float(np.log(2.0)), "exponential": 1.0}

_RISK_FLOOR = 1e-300  # a risk that underflowed to 0 still gives a finite step


def _loss_at_zero(loss: str) -> float:
    if loss not in LOSS_AT_ZERO:
        raise ValueError(f"loss must be one of {sorted(LOSS_AT_ZERO)}, got {loss!r}")
    return LOSS_AT_ZERO[loss]


def constant(lr: float) -> Schedule:
    """The fixed step ``eta_t = lr`` as a schedule (``train(..., lr=lr)`` does the same).

    Parameters
    ----------
    lr : float
        Positive finite float.

    Returns
    -------
    Schedule
        Callable ``(step, loss) -> lr``.

    Raises
    ------
    ValueError
        If ``lr`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Soudry et al. (2018): with a fixed step the direction converges to u-bar at rate O(1/log t).

    Examples
    --------
    >>> from deeplinear.schedules import constant
    >>> constant(0.1)(7, 0.5)
    0.1
    """
    lr = _validate.positive(lr, "lr", "a positive finite number")

    def schedule(step: int, loss: float) -> float:
        return lr

    return schedule


def inverse_risk(lr: float, *, loss: str = "logistic", cap: float = math.inf) -> Schedule:
    """The growing step ``eta_t = lr * min(l(0) / R(W(t)), cap)``.

    For the logistic loss ``l'' <= l``, so with ``||x_i|| <= 1`` a linear predictor's risk is
    ``R(w)``-smooth near ``w``, and a step proportional to ``1 / R`` is safe; it makes the risk fall
    exponentially instead of like ``1/t``. A deep network's smoothness also grows with its weights
    (Ji and Telgarsky's ``beta(R)``), so there the multiplier needs a finite ``cap``. A risk that
    underflowed to 0 counts as 1e-300.

    Parameters
    ----------
    lr : float
        Positive finite float, the step at ``R = l(0)``.
    loss : str, optional
        "logistic" (``l(0) = log 2``) or "exponential" (``l(0) = 1``).
    cap : float, optional
        Positive float or ``math.inf``, the largest multiplier of ``lr``.

    Returns
    -------
    Schedule
        Callable ``(step, risk) -> lr * min(l(0) / max(risk, 1e-300), cap)``.

    Raises
    ------
    ValueError
        If ``lr`` or ``cap`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Section 3 (step sizes and the smoothness ``beta(R)``).
    """
    lr, cap, ell0 = (
        _validate.positive(lr, "lr", "a positive finite number"),
        _validate.number(cap, "cap", "a positive number (math.inf allowed)", low=0, low_open=True, finite=False),
        _loss_at_zero(loss),
    )

    def schedule(step: int, risk: float) -> float:
        return lr * min(ell0 / max(float(risk), _RISK_FLOOR), cap)

    # what the compiled engine reads to compute the same rates inside its loop (deeplinear._compiled._in_loop)
    schedule.inverse_risk = (float(lr), float(ell0), float(cap))
    schedule.step_only = False
    return schedule


#: The schedules `named` knows: name -> factory.
SCHEDULES: dict[str, Callable[..., Schedule]] = {"constant": constant, "inverse_risk": inverse_risk}


def named(kind: str, lr: float, *, loss: str = "logistic", cap: float = math.inf) -> float | Schedule:
    """The step sizes called ``kind``, in the form `deeplinear.train` takes as ``lr=``.

    Parameters
    ----------
    kind : str
        "constant" or "inverse_risk" (the keys of `SCHEDULES`).
    lr : float
        Positive finite float, the base step.
    loss : str, optional
        As for `inverse_risk` (unused by "constant").
    cap : float, optional
        As for `inverse_risk` (unused by "constant").

    Returns
    -------
    float or Schedule
        "constant": the float ``lr`` itself (`train` then skips the per-step call; the steps are those of
        `constant`); "inverse_risk": ``inverse_risk(lr, loss=loss, cap=cap)``.

    Raises
    ------
    ValueError
        If ``kind`` or ``lr`` is not valid (the message names the parameter).
    """
    if kind not in SCHEDULES:
        raise ValueError(f"kind must be one of {list(SCHEDULES)}, got {kind!r}")
    if kind == "constant":
        return _validate.positive(lr, "lr", "a positive finite number")
    return inverse_risk(lr, loss=loss, cap=cap)


def _beta(R: float, L: int, beta_ell: float, G: float) -> float:
    """Ji and Telgarsky's smoothness bound of the risk on the ball of radius R: ``2 L^2 R^(2L-2) (beta_ell + G)``."""
    return 2 * L**2 * R ** (2 * L - 2) * (beta_ell + G)


def assumption_35_step(Ws: Sequence[np.ndarray], *, beta_ell: float = 0.25, G: float = 1.0) -> float:
    """Ji and Telgarsky's step at a network: ``min(1 / beta(R), 1)``, ``beta(R) = 2 L^2 R^(2L-2) (beta_ell + G)``.

    ``R`` is the smallest radius with the network in the ball ``{||W_k||_F <= R - 1 for every k}``:
    ``R = max_k ||W_k||_F + 1``. The step shrinks as the weights grow.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of L arrays (k_i, k_{i-1}).
    beta_ell : float, optional
        Positive float, a bound on ``l''`` (1/4 for the logistic loss).
    G : float, optional
        Positive float, a bound on ``|l'|`` (1 for the logistic loss).

    Returns
    -------
    float
        In (0, 1].

    Raises
    ------
    ValueError
        If ``Ws``, ``beta_ell`` or ``G`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Assumption 3.5.
    """
    beta_ell, G = (
        _validate.positive(beta_ell, "beta_ell", "a positive finite number"),
        _validate.positive(G, "G", "a positive finite number"),
    )
    layers = [np.asarray(W, dtype=np.float64) for W in Ws]
    if not layers or any(W.ndim != 2 or not np.isfinite(W).all() for W in layers):
        raise ValueError("Ws must be a non-empty list of finite 2-D layers (k_i, k_{i-1})")
    R = max(np.linalg.norm(W) for W in layers) + 1.0
    return min(1.0 / _beta(R, len(layers), beta_ell, G), 1.0)


def assumption_35_descent(
    Ws: Sequence[np.ndarray],
    X: np.ndarray | None,
    Y: np.ndarray | None,
    *,
    steps: int,
    loss: str | Callable = "logistic",
    beta_ell: float = 0.25,
    G: float = 1.0,
    metrics: Any = (),
    record: int | Sequence[int] | np.ndarray | None = None,
    progress: bool | None = None,
) -> tuple[TrainResult, np.ndarray]:
    """Full-batch gradient descent with the steps of Ji and Telgarsky's Assumption 3.5, as `deeplinear.train` runs.

    The step is ``eta_t = min(1 / beta(R_t), 1)`` with ``beta(R) = 2 L^2 R^(2L-2) (beta_ell + G)`` and
    ``R_t = max_{tau <= t} max_k ||W_k(tau)||_F + 1``: the smallest radius with ``W(tau)`` in the ball
    ``B(R_t - 1) = {||W_k||_F <= R_t - 1 for every k}`` for every ``tau <= t`` that changes only when
    ``W(t + 1)`` leaves ``B(R_t - 1)``, so the largest steps the assumption allows. They depend on the
    weights, so they cannot be a schedule ``lr(step, loss)``; this runs `train`'s engine with them.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of L arrays (k_i, k_{i-1}) (one network, not a stack). Not modified.
    X : ndarray or None
        As for `deeplinear.train` (``X=None`` with a callable loss such
        as `deeplinear.separable.OnData` trains on the identity).
    Y : ndarray or None
        As for `deeplinear.train` (``X=None`` with a callable loss such
        as `deeplinear.separable.OnData` trains on the identity).
    steps : int
        >= 0, the number of updates.
    loss : str or callable, optional
        As for `deeplinear.train` (``X=None`` with a callable loss such
        as `deeplinear.separable.OnData` trains on the identity).
    beta_ell : float, optional
        Positive floats, bounds on ``l''`` and ``|l'|`` (the logistic loss: 1/4 and 1; the
        exponential loss has none over the whole line).
    G : float, optional
        Positive floats, bounds on ``l''`` and ``|l'|`` (the logistic loss: 1/4 and 1; the
        exponential loss has none over the whole line).
    metrics : object, optional
        As for `deeplinear.train` (``X=None`` with a callable loss such
        as `deeplinear.separable.OnData` trains on the identity).
    record : int, sequence of int, ndarray or None, optional
        As for `deeplinear.train` (``X=None`` with a callable loss such
        as `deeplinear.separable.OnData` trains on the identity).
    progress : bool or None, optional
        As for `deeplinear.train` (``X=None`` with a callable loss such
        as `deeplinear.separable.OnData` trains on the identity).

    Returns
    -------
    result
        `deeplinear.TrainResult`; ``result.history.lr`` holds ``eta_t`` at the recorded steps.
    flow : ndarray
        (T,), the flow time ``sum_{tau < t} eta_tau`` at each recorded step ``t``.

    Raises
    ------
    TrainingDiverged
        As `deeplinear.train` (``blowup = 1e8``); ValueError for a stacked network.

    References
    ----------
    Paper: Ji & Telgarsky, Section 3, Assumption 3.5 (the gradient-descent theorems).

    Examples
    --------
    >>> import numpy as np
    >>> X, Y = np.array([[1.0, -1.0], [0.5, 0.5]]), np.array([[1.0, -1.0]])
    >>> Ws = [np.array([[0.1, 0.0], [0.0, 0.1]]), np.array([[0.1, 0.1]])]
    >>> result, flow = assumption_35_descent(Ws, X, Y, steps=3, record=1)
    >>> bool(np.allclose(flow, np.r_[0.0, np.cumsum(result.history.lr[:-1])]))
    True
    """
    beta_ell, G = (
        _validate.positive(beta_ell, "beta_ell", "a positive finite number"),
        _validate.positive(G, "G", "a positive finite number"),
    )
    steps = _validate.count(steps, "steps")
    layers, S, X, fn, Y = _setup(Ws, X, Y, loss, copy=True)
    if S is not None:
        raise ValueError("Ws must be one network (layers (k_i, k_{i-1})), not a stack")
    L, initial = len(layers), [W.copy() for W in layers]
    stepper = _Stepper(layers, X, fn, Y, [None] * L)
    schedule = record_schedule(steps, record)
    recorder = _Recorder(steps, schedule, schedule, _metric_fns(metrics, initial), stepper, progress)
    live = stepper.weights()
    radius = max(float(np.linalg.norm(W)) for W in live) + 1.0
    flow, flows = 0.0, []
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            v = stepper.forward()
            if not np.isfinite(v):
                raise _diverged(0, v, np.inf, np.nan, recorder, False)
            limit = min(1e8 * max(float(v), 1.0), np.finfo(np.float64).max)
            eta = min(1.0 / _beta(radius, L, beta_ell, G), 1.0)
            event = recorder.next_event()
            if event == 0:
                flows.append(flow)
                event = recorder(0, v, eta)
            for t in range(1, steps + 1):
                stepper.step(eta)
                flow += eta
                v = stepper.forward()
                if not v <= limit:
                    raise _diverged(t, v, limit, eta, recorder, False)
                radius = max(radius, max(float(np.linalg.norm(W)) for W in live) + 1.0)
                eta = min(1.0 / _beta(radius, L, beta_ell, G), 1.0)
                if t == event:
                    if t == recorder.rec.next:
                        flows.append(flow)
                    event = recorder(t, v, eta)
    finally:
        recorder.close()
    result = TrainResult(weights=stepper.weights(), initial_weights=initial, history=recorder.history())
    return result, np.asarray(flows)


def divergence_step(
    Ws: Sequence[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    *,
    lr: float | Callable[[int, float], float],
    steps: int,
    loss: str = "logistic",
    blowup: float = 10.0,
) -> int | None:
    """The step at which gradient descent with step sizes ``lr`` diverges, or None if it does not.

    Runs ``train(Ws, X, Y, lr=lr, steps=steps, loss=loss, blowup=blowup)`` recording only step 0;
    divergence is a non-finite loss or one above ``blowup * max(initial loss, 1)``
    (`deeplinear.TrainingDiverged`).

    Parameters
    ----------
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).
    X : ndarray
        Inputs (k_0, n), samples as columns (None: the identity, where allowed).
    Y : ndarray
        Targets (k_d, n), samples as columns.
    lr : float or callable
        Learning rate, > 0.
    steps : int
        Number of gradient-descent steps, >= 0.
    loss : str, optional
        Loss: "squared", "logistic", "exponential", "cross_entropy" or a callable (see `deeplinear.losses`).
    blowup : float, optional
        Divergence threshold, relative to ``max(initial loss, 1)``.

    Returns
    -------
    int or None
        (the first diverged step, >= 1) or None.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Section 3 (why a growing step must be capped on a deep network).
    """
    try:
        train(Ws, X, Y, lr=lr, steps=steps, loss=loss, record=[0], blowup=blowup)
    except TrainingDiverged as err:
        return err.step
    return None
