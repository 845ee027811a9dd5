"""What a training run records: the loss, the learning rate and metrics on a schedule of steps, and
the error raised when the loss diverges. (The recorder itself, with its progress bar, is part of the
private training engine.)

Paper: Section 6 (alignment and invariance recorded during training, Figures 1 and 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from . import _validate

_NEVER = -1  # an event step that never comes (the engines' recorders)

__all__ = ["History", "TrainResult", "TrainingDiverged", "record_schedule"]


class TrainingDiverged(FloatingPointError):
    """Gradient descent diverged: the loss became non-finite or exceeded ``blowup * max(L_0, 1)``.

    Parameters
    ----------
    message : str
        What diverged, where.
    step : int
        The step whose loss diverged.
    loss : float
        That loss.
    lr : float
        The learning rate of the last update.
    member : int or None
        The ensemble member that diverged, or None.
    history : History
        What was recorded before the divergence.

    Attributes
    ----------
    step, loss, lr, member, history
        As given.
    """

    def __init__(
        self, message: str, *, step: int, loss: float, lr: float, member: int | None, history: History
    ) -> None:
        super().__init__(message)
        self.step, self.loss, self.lr, self.member, self.history = step, loss, lr, member, history


@dataclass(frozen=True)
class History:
    """What `train` recorded: ``steps`` (T,), ``loss`` (T,) or (T, S), ``lr`` (T,) or (T, S) (the
    learning rate of the update made at that step), ``metrics`` name -> (T_m, ...) recorded at
    ``metric_steps`` (T_m,), which are ``steps`` unless `train` was given ``record_metrics``.

    One access style: attributes for the series (``history.loss``), the mapping for the metrics
    (``history.metrics["alignment"]``).

    Attributes
    ----------
    steps : ndarray
        (T,), the recorded steps.
    loss : ndarray
        (T,), or (T, S) for an ensemble: the loss at each recorded step.
    lr : ndarray
        (T,) or (T, S): the learning rate of the update made at that step.
    metrics : dict
        Metric name -> (T_m, ...) array, recorded at ``metric_steps``.
    metric_steps : ndarray or None
        (T_m,), the steps at which the metrics were recorded (``steps`` unless `train` was given ``record_metrics``).
    """

    steps: np.ndarray
    loss: np.ndarray
    lr: np.ndarray
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    metric_steps: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.metric_steps is None:
            object.__setattr__(self, "metric_steps", self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"History(T={len(self)}, steps {self.steps[:1]}..{self.steps[-1:]}, metrics={list(self.metrics)})"


@dataclass(frozen=True, repr=False)
class TrainResult:
    """The result of `train`: ``weights`` (final layers, stacked shapes kept), ``initial_weights``,
    ``history`` (a `History`), ``coefficients`` (per-layer coefficient arrays, None for fully
    connected layers, when a structure was used; else None) and ``diverged_at``: None, or the step at
    which the loss diverged when a trainer was asked to stop there instead of raising (the weights and
    history are then those of the last step before it).

    Attributes
    ----------
    weights : list of ndarray
        The final layers (stacked shapes kept).
    initial_weights : list of ndarray
        The starting layers.
    history : History
        What was recorded (a `History`).
    coefficients : list of ndarray or None
        Per-layer coefficient arrays (None for fully connected layers) when a structure was used; else None.
    diverged_at : int or None
        None, or the step at which the loss diverged when the trainer was asked to stop there instead of raising
        (weights and history are then those of the last step before it).
    """

    weights: list[np.ndarray]
    initial_weights: list[np.ndarray]
    history: History
    coefficients: list[np.ndarray | None] | None = None
    diverged_at: int | None = None

    def __repr__(self) -> str:
        shapes = [W.shape for W in self.weights]
        last = self.history.loss[-1] if len(self.history) else None
        return f"TrainResult(layers={shapes}, final recorded loss={last}, history={self.history!r})"


def record_schedule(steps: int, record: int | Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """The steps at which `train` records the loss (and the metrics, unless given ``record_metrics``).

    Parameters
    ----------
    steps : int
        >= 0, the number of gradient steps.
    record : int, sequence of int, ndarray or None, optional
        None (56 log-spaced steps, or every step when there are fewer: 0, then a geometric
        grid up to ``steps``, always including ``steps``), an int k >= 1 (every k steps, plus 0 and
        ``steps``), or an array of step indices in [0, steps].

    Returns
    -------
    ndarray
        (T,) of sorted, distinct ints.

    Raises
    ------
    ValueError
        If ``steps`` or ``record`` is not valid (the message names the parameter).

    Examples
    --------
    >>> from deeplinear.recording import record_schedule
    >>> record_schedule(10, 3).tolist()
    [0, 3, 6, 9, 10]
    """
    return _validate.schedule(steps, record, "record")


def _diverged(t: int, v, limit, lr, recorder, stacked: bool) -> TrainingDiverged:
    """The error of a run whose loss at step ``t`` is not finite or exceeds ``limit`` (a `_engine._Recorder` or the
    compiled engine's gives the history so far); both engines raise it, so that they say the same."""
    v, limit, lr = np.atleast_1d(v), np.atleast_1d(limit), np.asarray(lr).reshape(-1)
    bad = np.flatnonzero(~(v <= limit))
    m = int(bad[0]) if len(bad) else 0
    member = m if stacked else None
    lr_m = float(lr[m] if lr.size > 1 else lr[0])
    who = "" if member is None else f" (ensemble member {member})"
    if t == 0:
        msg = (
            f"the initial loss{who} is not finite (loss = {v[m]:.6g}): check the initial weights and "
            f"the data (step 0, before any update)"
        )
    else:
        what = "is not finite" if not np.isfinite(v[m]) else f"exceeds blowup * max(initial loss, 1) = {limit[m]:.3g}"
        msg = (
            f"gradient descent diverged at step {t}{who}: loss = {v[m]:.6g} {what}, with lr = "
            f"{lr_m:.6g}; lower lr (e.g. lr = {lr_m / 2:.3g})"
        )
    return TrainingDiverged(msg, step=t, loss=float(v[m]), lr=lr_m, member=member, history=recorder.history())
