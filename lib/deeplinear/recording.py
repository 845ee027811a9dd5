"""What a training run records: the loss, the learning rate and metrics on a schedule of steps,
a progress bar, and the error raised when the loss diverges.

Paper: Section 6 (alignment and invariance recorded during training, Figures 1 and 2).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np

from .metrics import REGISTRY, SHARE_SVDS, layer_svds

__all__ = ["History", "TrainResult", "TrainingDiverged", "record_schedule"]

_NEVER = -1  # an event step that never comes
_SERIES = ("steps", "loss", "lr")  # recorded at the record steps
_RESERVED = (*_SERIES, "metric_steps")  # names a metric cannot take
_DEFAULT_POINTS = 56  # record steps of the default schedule: SVD-based metrics stay a small share


class TrainingDiverged(FloatingPointError):
    """Gradient descent diverged: the loss became non-finite or exceeded ``blowup * max(L_0, 1)``.

    Attributes: ``step``, ``loss``, ``lr`` (the learning rate of the last update), ``member`` (the
    ensemble member, or None) and ``history`` (what was recorded before the divergence).
    """

    def __init__(self, message: str, *, step: int, loss: float, lr, member: int | None, history: History) -> None:
        super().__init__(message)
        self.step, self.loss, self.lr, self.member, self.history = step, loss, lr, member, history


@dataclass(frozen=True)
class History:
    """What `train` recorded: ``steps`` (T,), ``loss`` (T,) or (T, S), ``lr`` (T,) or (T, S) (the
    learning rate of the update made at that step), ``metrics`` name -> (T_m, ...) recorded at
    ``metric_steps`` (T_m,), which are ``steps`` unless `train` was given ``record_metrics``.

    ``history["loss"]``, ``history["steps"]``, ``history["lr"]`` and ``history[metric]`` also work.
    """

    steps: np.ndarray
    loss: np.ndarray
    lr: np.ndarray
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    metric_steps: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.metric_steps is None:
            object.__setattr__(self, "metric_steps", self.steps)

    def __getitem__(self, name: str) -> np.ndarray:
        if name in _RESERVED:
            return getattr(self, name)
        if name in self.metrics:
            return self.metrics[name]
        raise KeyError(f"{name!r}: recorded are {list(self.keys())}")

    def keys(self) -> tuple[str, ...]:
        return (*_SERIES, *self.metrics)

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"History(T={len(self)}, steps {self.steps[:1]}..{self.steps[-1:]}, keys={list(self.keys())})"


@dataclass(frozen=True, repr=False)
class TrainResult:
    """The result of `train`: ``weights`` (final layers, stacked shapes kept), ``initial_weights``,
    ``history`` (a `History`), ``coefficients`` (per-layer coefficient arrays, None for fully
    connected layers, when a structure was used; else None)."""

    weights: list[np.ndarray]
    initial_weights: list[np.ndarray]
    history: History
    coefficients: list[np.ndarray | None] | None = None

    def __repr__(self) -> str:
        shapes = [W.shape for W in self.weights]
        last = self.history.loss[-1] if len(self.history) else None
        return f"TrainResult(layers={shapes}, final recorded loss={last}, history={self.history!r})"


def record_schedule(steps: int, record=None) -> np.ndarray:
    """The steps at which `train` records the loss (and the metrics, unless given ``record_metrics``).

    Parameters
    ----------
    steps : int >= 0, the number of gradient steps.
    record : None (56 log-spaced steps, or every step when there are fewer: 0, then a geometric
        grid up to ``steps``, always including ``steps``), an int k >= 1 (every k steps, plus 0 and
        ``steps``), or an array of step indices in [0, steps].

    Returns
    -------
    ndarray (T,) of sorted, distinct ints.
    """
    return _schedule(steps, record, "record")


def _schedule(steps: int, record, name: str) -> np.ndarray:
    steps = _count(steps, "steps")
    if record is None:
        P = _DEFAULT_POINTS
        if steps < P:
            return np.arange(steps + 1)
        m, grid = P, np.array([0])
        while len(grid) < P:  # rounding merges early grid points: add as many as were lost
            grid = np.unique(np.concatenate([[0], np.rint(np.geomspace(1, steps, m)).astype(int)]))
            m += P - len(grid)
        return grid
    if isinstance(record, Integral) and not isinstance(record, bool):
        if record < 1:
            raise ValueError(f"{name} must be a positive integer (record every k steps), got {record}")
        return np.union1d(np.arange(0, steps + 1, int(record)), [steps])
    r = np.asarray(record)
    if (
        r.ndim != 1
        or r.dtype == bool
        or not np.issubdtype(r.dtype, np.number)
        or (r.size and (np.any(r != np.round(r)) or r.min() < 0 or r.max() > steps))
    ):
        raise ValueError(
            f"{name} must be None, a positive int, or a 1-D array of integer steps in "
            f"[0, steps={steps}], got {record!r}"
        )
    return np.unique(r.astype(int))


def _count(x, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, Integral) or x < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {x!r}")
    return int(x)


class _SharesSVDs:
    """A named metric that takes ``svds=``: the recorder passes it the SVDs of the record (one per layer)."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def __call__(self, Ws, svds=None):
        return self.fn(Ws, svds=svds)


def _metric_fns(metrics, initial: list[np.ndarray]) -> list[tuple[str, Callable]]:
    if isinstance(metrics, Mapping):
        items = list(metrics.items())
        bad = [k for k, f in items if not isinstance(k, str) or not callable(f)]
        if bad:
            raise ValueError(f"metrics must map names to callables fn(Ws), got bad entries {bad!r}")
    else:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [name for name in names if not isinstance(name, str) or name not in REGISTRY]
        if unknown:
            raise ValueError(
                f"metrics: {', '.join(map(repr, unknown))} not among the named metrics "
                f"{', '.join(REGISTRY)}; pass a mapping name -> fn(Ws) for any other"
            )
        items = [
            (name, _SharesSVDs(REGISTRY[name](initial)) if name in SHARE_SVDS else REGISTRY[name](initial))
            for name in names
        ]
    clash = [k for k, _ in items if k in _RESERVED]
    if clash:
        raise ValueError(f"metrics names must differ from {_RESERVED}, got {clash}")
    return items


class _Schedule:
    """The steps at which something is recorded, with a cursor at the next one."""

    def __init__(self, steps: np.ndarray) -> None:
        self.ticks = np.asarray(steps, dtype=int).tolist()  # Python ints: cheap to compare with the step
        self.j = 0
        self.next = self.ticks[0] if self.ticks else _NEVER

    def advance(self) -> None:
        self.j += 1
        self.next = self.ticks[self.j] if self.j < len(self.ticks) else _NEVER

    def end_at(self, t: int) -> None:
        """Make step ``t`` the last one (an early stop): drop later steps, add ``t`` if not yet recorded."""
        del self.ticks[self.j :]
        if not self.ticks or self.ticks[-1] != t:
            self.ticks.append(t)
        self.next = self.ticks[self.j] if self.j < len(self.ticks) else _NEVER

    def recorded(self) -> np.ndarray:
        return np.asarray(self.ticks[: self.j], dtype=int)


class _Recorder:
    """Stores loss and lr at the record steps and metrics at the metric steps; drives the progress bar."""

    def __init__(self, steps: int, schedule, metric_schedule, metric_fns, stepper, progress) -> None:
        self.steps, self.fns, self.stepper = steps, metric_fns, stepper
        self.rec, self.met = _Schedule(schedule), _Schedule(metric_schedule)
        self.loss, self.lr, self.values = None, None, {}
        env_off = os.environ.get("DEEPLINEAR_PROGRESS", "").strip().lower() in ("0", "false", "no", "off")
        self.auto = progress is None
        self.next_prog = 1 if (progress or (progress is None and not env_off)) and steps else _NEVER
        self.bar, self.t0 = None, time.perf_counter()

    def next_event(self) -> int:
        pending = [e for e in (self.rec.next, self.met.next, self.next_prog) if e != _NEVER]
        return min(pending) if pending else _NEVER

    def __call__(self, t: int, v, lr) -> int:
        if t == self.rec.next:
            if self.loss is None:  # one spare row for an early stop off the schedule
                T = len(self.rec.ticks) + 1
                self.loss, self.lr = np.empty((T, *np.shape(v))), np.empty((T, *np.shape(lr)[:1]))
            self.loss[self.rec.j] = v
            self.lr[self.rec.j] = lr if isinstance(lr, float) else lr.reshape(-1)
            self.rec.advance()
        if t == self.met.next:
            if self.fns:
                Ws = self.stepper.weights()
                shared = [fn for _, fn in self.fns if isinstance(fn, _SharesSVDs)]
                svds = layer_svds(Ws) if shared else None  # one SVD per layer, for every metric that needs it
                for name, fn in self.fns:
                    value = np.asarray(fn(Ws, svds) if isinstance(fn, _SharesSVDs) else fn(Ws), dtype=np.float64)
                    if name not in self.values:
                        self.values[name] = np.full((len(self.met.ticks) + 1, *value.shape), np.nan)
                    self.values[name][self.met.j] = value
            self.met.advance()
        if t == self.next_prog:
            self._progress(t, v)
        return self.next_event()

    def stop(self, t: int, v, lr) -> None:
        """Record step ``t`` as the last one (an early stop), whether or not it was scheduled."""
        self.rec.end_at(t)
        self.met.end_at(t)
        if t in (self.rec.next, self.met.next):
            self(t, v, lr)

    def _progress(self, t: int, v) -> None:
        elapsed = time.perf_counter() - self.t0
        if self.bar is None:
            if self.auto and elapsed < 0.05 and t < self.steps:
                self.next_prog = 2 * t
                return
            if self.auto and elapsed * self.steps / t < 3.0:
                self.next_prog = _NEVER
                return
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.steps, initial=t, desc="train", leave=False, unit="step")
        self.bar.update(t - self.bar.n)
        self.bar.set_postfix(loss=f"{np.max(v):.3e}", refresh=False)
        self.next_prog = min(self.steps, t + max(1, int(0.2 * t / max(elapsed, 1e-9))))
        if t == self.steps:
            self.next_prog = _NEVER

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def history(self) -> History:
        j, m = self.rec.j, self.met.j
        loss = self.loss[:j] if self.loss is not None else np.empty((0,))
        lr = self.lr[:j] if self.lr is not None else np.empty((0,))
        return History(
            steps=self.rec.recorded(),
            loss=loss,
            lr=lr,
            metrics={k: v[:m] for k, v in self.values.items()},
            metric_steps=self.met.recorded(),
        )


def _diverged(t: int, v, limit, lr, recorder: _Recorder, stacked: bool) -> TrainingDiverged:
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
