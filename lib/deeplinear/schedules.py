"""Step-size schedules for `deeplinear.train`: callables ``lr(step, loss)`` evaluated at every step.

`train` accepts a positive number (a fixed step) or a callable ``lr(step, loss)`` that returns the
step to take from the weights whose loss is ``loss``. This module holds the schedules of Ji and
Telgarsky's Section 3 and of Soudry et al.'s fixed-step analysis: `constant`, `inverse_risk` (a step
that grows like ``1 / R(W(t))``, with a cap), their lookup by name, `named`, the step that Ji and
Telgarsky's Assumption 3.5 allows at a given network, and `divergence_step`, which says whether (and
when) a schedule makes gradient descent diverge.

Paper: Ji & Telgarsky, Section 3 (gradient descent, Assumption 3.5); Soudry et al. (2018) (fixed step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Real

import numpy as np

from .training import TrainingDiverged, train

__all__ = [
    "LOSS_AT_ZERO",
    "SCHEDULES",
    "Schedule",
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


def _positive(x, name: str, *, infinite: bool = False) -> float:
    ok = isinstance(x, Real) and not isinstance(x, bool) and x > 0 and (infinite or math.isfinite(x))
    if not ok:
        what = "a positive number (math.inf allowed)" if infinite else "a positive finite number"
        raise ValueError(f"{name} must be {what}, got {x!r}")
    return float(x)


def _loss_at_zero(loss: str) -> float:
    if loss not in LOSS_AT_ZERO:
        raise ValueError(f"loss must be one of {sorted(LOSS_AT_ZERO)}, got {loss!r}")
    return LOSS_AT_ZERO[loss]


def constant(lr: float) -> Schedule:
    """The fixed step ``eta_t = lr`` as a schedule (``train(..., lr=lr)`` does the same).

    Parameters
    ----------
    lr : positive finite float.

    Returns
    -------
    callable ``(step, loss) -> lr``.

    Paper: Soudry et al. (2018): with a fixed step the direction converges to u-bar at rate O(1/log t).
    """
    lr = _positive(lr, "lr")

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
    lr : positive finite float, the step at ``R = l(0)``.
    loss : "logistic" (``l(0) = log 2``) or "exponential" (``l(0) = 1``).
    cap : positive float or ``math.inf``, the largest multiplier of ``lr``.

    Returns
    -------
    callable ``(step, risk) -> lr * min(l(0) / max(risk, 1e-300), cap)``.

    Paper: Ji & Telgarsky, Section 3 (step sizes and the smoothness ``beta(R)``).
    """
    lr, cap, ell0 = _positive(lr, "lr"), _positive(cap, "cap", infinite=True), _loss_at_zero(loss)

    def schedule(step: int, risk: float) -> float:
        return lr * min(ell0 / max(float(risk), _RISK_FLOOR), cap)

    return schedule


#: The schedules `named` knows: name -> factory.
SCHEDULES: dict[str, Callable[..., Schedule]] = {"constant": constant, "inverse_risk": inverse_risk}


def named(kind: str, lr: float, *, loss: str = "logistic", cap: float = math.inf) -> float | Schedule:
    """The step sizes called ``kind``, in the form `deeplinear.train` takes as ``lr=``.

    Parameters
    ----------
    kind : "constant" or "inverse_risk" (the keys of `SCHEDULES`).
    lr : positive finite float, the base step.
    loss, cap : as for `inverse_risk` (unused by "constant").

    Returns
    -------
    "constant": the float ``lr`` itself (`train` then skips the per-step call; the steps are those of
    `constant`); "inverse_risk": ``inverse_risk(lr, loss=loss, cap=cap)``.
    """
    if kind not in SCHEDULES:
        raise ValueError(f"kind must be one of {list(SCHEDULES)}, got {kind!r}")
    if kind == "constant":
        return _positive(lr, "lr")
    return inverse_risk(lr, loss=loss, cap=cap)


def assumption_35_step(Ws: Sequence[np.ndarray], *, beta_ell: float = 0.25, G: float = 1.0) -> float:
    """Ji and Telgarsky's step at a network: ``min(1 / beta(R), 1)``, ``beta(R) = 2 L^2 R^(2L-2) (beta_ell + G)``.

    ``R`` is the smallest radius with the network in the ball ``{||W_k||_F <= R - 1 for every k}``:
    ``R = max_k ||W_k||_F + 1``. The step shrinks as the weights grow.

    Parameters
    ----------
    Ws : list of L arrays (k_i, k_{i-1}).
    beta_ell : positive float, a bound on ``l''`` (1/4 for the logistic loss).
    G : positive float, a bound on ``|l'|`` (1 for the logistic loss).

    Returns
    -------
    float in (0, 1].

    Paper: Ji & Telgarsky, Assumption 3.5.
    """
    beta_ell, G = _positive(beta_ell, "beta_ell"), _positive(G, "G")
    layers = [np.asarray(W, dtype=np.float64) for W in Ws]
    if not layers or any(W.ndim != 2 or not np.isfinite(W).all() for W in layers):
        raise ValueError("Ws must be a non-empty list of finite 2-D layers (k_i, k_{i-1})")
    L = len(layers)
    R = max(np.linalg.norm(W) for W in layers) + 1.0
    return min(1.0 / (2 * L**2 * R ** (2 * L - 2) * (beta_ell + G)), 1.0)


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

    Returns
    -------
    int (the first diverged step, >= 1) or None.

    Paper: Ji & Telgarsky, Section 3 (why a growing step must be capped on a deep network).
    """
    try:
        train(Ws, X, Y, lr=lr, steps=steps, loss=loss, record=[0], blowup=blowup)
    except TrainingDiverged as err:
        return err.step
    return None
