"""Full-batch gradient descent on deep linear networks, recording the loss and metrics on a schedule.

Paper: Radhakrishnan et al., eq. (2) and Theorem 2 (layers with structure); Ji & Telgarsky,
Section 3 (gradient descent with growing steps on separable data).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

from .network import _setup, _Stepper

__all__ = ["train", "TrainResult", "History", "TrainingDiverged", "record_schedule"]

_NEVER = -1          # an event step that never comes
_RESERVED = ("steps", "loss", "lr")
_DEFAULT_POINTS = 56     # record steps of the default schedule: SVD-based metrics stay a small share


class TrainingDiverged(FloatingPointError):
    """Gradient descent diverged: the loss became non-finite or exceeded ``blowup * max(L_0, 1)``.

    Attributes: ``step``, ``loss``, ``lr`` (the learning rate of the last update), ``member`` (the
    ensemble member, or None) and ``history`` (what was recorded before the divergence).
    """

    def __init__(self, message: str, *, step: int, loss: float, lr, member: int | None,
                 history: History) -> None:
        super().__init__(message)
        self.step, self.loss, self.lr, self.member, self.history = step, loss, lr, member, history


@dataclass(frozen=True)
class History:
    """What `train` recorded: ``steps`` (T,), ``loss`` (T,) or (T, S), ``lr`` (T,) or (T, S) (the
    learning rate of the update made at that step), ``metrics`` name -> (T, ...).

    ``history["loss"]``, ``history["steps"]``, ``history["lr"]`` and ``history[metric]`` also work.
    """

    steps: np.ndarray
    loss: np.ndarray
    lr: np.ndarray
    metrics: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        if name in _RESERVED:
            return getattr(self, name)
        if name in self.metrics:
            return self.metrics[name]
        raise KeyError(f"{name!r}: recorded are {list(self.keys())}")

    def keys(self) -> tuple[str, ...]:
        return (*_RESERVED, *self.metrics)

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
    """The steps at which `train` records the loss and metrics.

    Parameters
    ----------
    steps : int >= 0, the number of gradient steps.
    record : None (56 log-spaced steps, or every step when there are fewer: 0, then a geometric
        grid up to ``steps``, always including ``steps``), an int k >= 1 (every k steps, plus 0 and ``steps``), or an array of
        step indices in [0, steps].

    Returns
    -------
    ndarray (T,) of sorted, distinct ints.
    """
    steps = _count(steps, "steps")
    if record is None:
        P = _DEFAULT_POINTS
        if steps < P:
            return np.arange(steps + 1)
        m, grid = P, np.array([0])
        while len(grid) < P:        # rounding merges early grid points: add as many as were lost
            grid = np.unique(np.concatenate([[0], np.rint(np.geomspace(1, steps, m)).astype(int)]))
            m += P - len(grid)
        return grid
    if isinstance(record, Integral) and not isinstance(record, bool):
        if record < 1:
            raise ValueError(f"record must be a positive integer (record every k steps), got {record}")
        return np.union1d(np.arange(0, steps + 1, int(record)), [steps])
    r = np.asarray(record)
    if r.ndim != 1 or r.dtype == bool or not np.issubdtype(r.dtype, np.number) or \
            (r.size and (np.any(r != np.round(r)) or r.min() < 0 or r.max() > steps)):
        raise ValueError(f"record must be None, a positive int, or a 1-D array of integer steps in "
                         f"[0, steps={steps}], got {record!r}")
    return np.unique(r.astype(int))


def _count(x, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, Integral) or x < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {x!r}")
    return int(x)


def _learning_rate(lr, S: int | None):
    """(callable or None, constant value or None): floats, or (S, 1, 1) arrays per member."""
    if callable(lr):
        return lr, None
    return None, _lr_value(lr, S)


def _lr_value(lr, S: int | None, step: int | None = None, per_member: bool = False):
    if isinstance(lr, Real) and not isinstance(lr, bool):
        if 0.0 < lr < math.inf:
            return np.full((S, 1, 1), float(lr)) if per_member else float(lr)
    elif S is not None and isinstance(lr, (np.ndarray, Sequence)):
        a = np.asarray(lr, dtype=np.float64)
        if a.shape in ((S,), (S, 1, 1)) and np.all((a > 0) & (a < math.inf)):
            return a.reshape(S, 1, 1)
    shape = "" if S is None else f" or an array of {S} positive numbers (one per member)"
    what = "lr" if step is None else f"lr(step, loss) at step {step}"
    raise ValueError(f"{what} must be a positive number{shape}, got {lr!r}")


def _structures(structure, layers: list[np.ndarray]) -> list:
    d = len(layers)
    if structure is None:
        return [None] * d
    if isinstance(structure, (list, tuple)):
        if len(structure) != d:
            raise ValueError(f"structure must be one Structure or a list of d = {d} entries "
                             f"(None = fully connected), got {len(structure)} entries")
        found = list(structure)
    else:
        found = [structure] * d
    needed = ("shape", "apply", "apply_transpose", "outer_adjoint", "coefficients", "matrix", "contains")
    for i, (s, W) in enumerate(zip(found, layers)):
        if s is None:
            continue
        if not all(hasattr(s, a) for a in needed):
            raise ValueError(f"structure for layer {i + 1} must be a deeplinear.structures.Structure "
                             f"or None, got {s!r}")
        if tuple(s.shape) != W.shape[-2:]:
            raise ValueError(f"structure for layer {i + 1} has shape {tuple(s.shape)}, but W_{i + 1} "
                             f"(Ws[{i}]) has shape {W.shape[-2:]}")
        if not s.contains(W):
            raise ValueError(f"W_{i + 1} (Ws[{i}]) does not lie in its structure {s!r}; start from "
                             f"s.matrix(c) or s.matrix(s.coefficients(W))")
    return found


def _metric_fns(metrics, initial: list[np.ndarray]) -> list[tuple[str, Callable]]:
    if isinstance(metrics, Mapping):
        items = list(metrics.items())
        bad = [k for k, f in items if not isinstance(k, str) or not callable(f)]
        if bad:
            raise ValueError(f"metrics must map names to callables fn(Ws), got bad entries {bad!r}")
    else:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        from . import metrics as module
        items = []
        for name in names:
            fn = getattr(module, name, None) if isinstance(name, str) and not name.startswith("_") else None
            if not callable(fn):
                raise ValueError(f"metrics: {name!r} is not a function of deeplinear.metrics "
                                 f"(e.g. 'alignment', 'invariance'); pass a mapping name -> fn(Ws) instead")
            if name == "invariance":  # the SVDs of the initial network are computed once
                fn = module.invariance_to(initial)
            items.append((name, fn))
    clash = [k for k, _ in items if k in _RESERVED]
    if clash:
        raise ValueError(f"metrics names must differ from {_RESERVED}, got {clash}")
    return items


class _Recorder:
    """Stores loss, lr and metrics at the record steps and drives the progress bar."""

    def __init__(self, steps: int, schedule, metric_fns, stepper, progress) -> None:
        self.steps, self.schedule, self.fns, self.stepper = steps, schedule, metric_fns, stepper
        self.j, self.loss, self.lr, self.values = 0, None, None, {}
        self.ticks = schedule.tolist()              # Python ints: cheap to compare with the step
        self.next_rec = self.ticks[0] if self.ticks else _NEVER
        env_off = os.environ.get("DEEPLINEAR_PROGRESS", "").strip().lower() in ("0", "false", "no", "off")
        self.auto = progress is None
        self.next_prog = 1 if (progress or (progress is None and not env_off)) and steps else _NEVER
        self.bar, self.t0 = None, time.perf_counter()

    def next_event(self) -> int:
        a, b = self.next_rec, self.next_prog
        return a if b == _NEVER else b if a == _NEVER else min(a, b)

    def __call__(self, t: int, v, lr) -> int:
        if t == self.next_rec:
            T = len(self.schedule)
            if self.loss is None:
                self.loss, self.lr = np.empty((T, *np.shape(v))), np.empty((T, *np.shape(lr)[:1]))
            self.loss[self.j] = v
            self.lr[self.j] = lr if isinstance(lr, float) else lr.reshape(-1)
            if self.fns:
                Ws = self.stepper.weights()
                for name, fn in self.fns:
                    value = np.asarray(fn(Ws), dtype=np.float64)
                    if name not in self.values:
                        self.values[name] = np.full((T, *value.shape), np.nan)
                    self.values[name][self.j] = value
            self.j += 1
            self.next_rec = self.ticks[self.j] if self.j < T else _NEVER
        if t == self.next_prog:
            self._progress(t, v)
        return self.next_event()

    def stop(self, t: int, v, lr) -> None:
        """Record step ``t`` as the last one (an early stop), whether or not it was scheduled."""
        if self.j and self.schedule[self.j - 1] == t:
            return
        if self.j < len(self.schedule) and self.schedule[self.j] != t:
            self.schedule = self.schedule.copy()
            self.schedule[self.j] = t
            self.ticks[self.j] = t
        self.next_rec = t
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
        j, T = self.j, len(self.schedule)
        loss = self.loss[:j] if self.loss is not None else np.empty((0,))
        lr = self.lr[:j] if self.lr is not None else np.empty((0,))
        return History(steps=np.asarray(self.schedule[:j], dtype=int), loss=loss, lr=lr,
                       metrics={k: (v if j == T else v[:j]) for k, v in self.values.items()})


def _diverged(t: int, v, limit, lr, recorder: _Recorder, stacked: bool) -> TrainingDiverged:
    v, limit, lr = np.atleast_1d(v), np.atleast_1d(limit), np.asarray(lr).reshape(-1)
    bad = np.flatnonzero(~(v <= limit))
    m = int(bad[0]) if len(bad) else 0
    member = m if stacked else None
    lr_m = float(lr[m] if lr.size > 1 else lr[0])
    who = "" if member is None else f" (ensemble member {member})"
    if t == 0:
        msg = (f"the initial loss{who} is not finite (loss = {v[m]:.6g}): check the initial weights and "
               f"the data (step 0, before any update)")
    else:
        what = "is not finite" if not np.isfinite(v[m]) else \
            f"exceeds blowup * max(initial loss, 1) = {limit[m]:.3g}"
        msg = (f"gradient descent diverged at step {t}{who}: loss = {v[m]:.6g} {what}, with lr = "
               f"{lr_m:.6g}; lower lr (e.g. lr = {lr_m / 2:.3g})")
    return TrainingDiverged(msg, step=t, loss=float(v[m]), lr=lr_m, member=member, history=recorder.history())


def train(Ws: Sequence[np.ndarray], X: np.ndarray | None, Y, *, lr, steps: int, loss="squared",
          structure=None, metrics=(), record=None, progress: bool | None = None,
          blowup: float = 1e8, stop_below: float | None = None) -> TrainResult:
    """Full-batch gradient descent ``W_i <- W_i - lr * dL/dW_i`` on every layer at once.

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1}), or stacked (S, k_i, k_{i-1}) to train S networks at once
        on the same data. Not modified.
    X : ndarray (k_0, n), or None for the identity ``I_{k_0}`` (matrix factorization / sensing).
    Y : ndarray (k_d, n) (see `deeplinear.losses` for each loss's labels; ignored by `MatrixSensing`).
    lr : positive float (or array (S,) for a stacked network), or a callable ``lr(step, loss)``
        evaluated at every step with the current loss (float or (S,)) returning one of those (also
        at the final step, where no update follows, for ``history.lr``).
    steps : int >= 0, the number of updates.
    loss : "squared" (eq. (2)), "logistic", "exponential", "cross_entropy", or a callable
        ``loss_fn(F, Y) -> (value, dL/dF)`` such as `deeplinear.losses.MatrixSensing`.
    structure : a Structure for every layer, or a list with one entry per layer (None = fully
        connected); gradient descent then runs on the coefficients (Paper: Definition 4, Theorem 2).
        The initial layers must lie in their structures.
    metrics : names of functions of `deeplinear.metrics` called as ``fn(Ws)`` ("invariance" as
        ``invariance(Ws0, Ws)``), or a mapping name -> ``fn(Ws)``.
    record : steps at which loss and metrics are stored; see `record_schedule`. The loss at step t is
        that of the weights after t updates.
    progress : None (a tqdm bar when the run looks longer than about 3 s, never when the environment
        sets DEEPLINEAR_PROGRESS=0), True or False.
    blowup : float > 0; `TrainingDiverged` is raised when the loss is not finite or exceeds
        ``blowup * max(initial loss, 1)``.
    stop_below : float > 0 or None; stop at the first step whose loss (every member's, for a stacked
        network) is below it, as the authors' released scripts do (they train until the loss is below
        1e-4). That step is recorded last: ``history.steps[-1]`` is the number of updates made.

    Returns
    -------
    TrainResult with ``weights``, ``initial_weights``, ``history`` (steps (T,), loss (T,) or (T, S),
    lr (T,) or (T, S), metrics name -> (T, ...)) and ``coefficients``.

    Raises
    ------
    TrainingDiverged (a FloatingPointError) at the first step whose loss diverged.

    Paper: eq. (2); Theorem 2 for structured layers.
    """
    steps = _count(steps, "steps")
    layers, S, X, fn, Y = _setup(Ws, X, Y, loss, copy=True)
    initial = [W.copy() for W in layers]
    structures = _structures(structure, layers)
    lr_fn, lr_now = _learning_rate(lr, S)
    if isinstance(blowup, bool) or not isinstance(blowup, Real) or not blowup > 0:
        raise ValueError(f"blowup must be a positive number, got {blowup!r}")
    if stop_below is not None and (isinstance(stop_below, bool) or not isinstance(stop_below, Real)
                                   or not stop_below > 0):
        raise ValueError(f"stop_below must be None or a positive number, got {stop_below!r}")
    if progress is not None and not isinstance(progress, bool):
        raise ValueError(f"progress must be None, True or False, got {progress!r}")
    schedule = record_schedule(steps, record)
    stepper = _Stepper(layers, X, fn, Y, structures)
    recorder = _Recorder(steps, schedule, _metric_fns(metrics, initial), stepper, progress)
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            v = stepper.forward()
            if not np.all(np.isfinite(v)):
                raise _diverged(0, v, np.inf, np.nan, recorder, S is not None)
            # finite even for blowup = inf, so that an infinite loss always fails `v <= limit`
            limit = np.minimum(blowup * np.maximum(v, 1.0), np.finfo(np.float64).max)
            limit = float(limit) if S is None else limit
            if lr_fn is not None:
                lr_now = _lr_value(lr_fn(0, v), S, 0, S is not None)
            event = recorder(0, v, lr_now) if recorder.next_event() == 0 else recorder.next_event()
            if stop_below is not None and np.all(v < stop_below):
                steps = 0
                recorder.stop(0, v, lr_now)
            for t in range(1, steps + 1):
                stepper.step(lr_now)
                v = stepper.forward()
                ok = v <= limit
                if ok is not True and (ok is False or not ok.all()):
                    raise _diverged(t, v, limit, lr_now, recorder, S is not None)
                if lr_fn is not None:
                    lr_now = _lr_value(lr_fn(t, v), S, t, S is not None)
                if t == event:
                    event = recorder(t, v, lr_now)
                if stop_below is not None and np.all(v < stop_below):
                    recorder.stop(t, v, lr_now)
                    break
    finally:
        recorder.close()
    coefficients = None
    if any(s is not None for s in structures):
        coefficients = [None if s is None else p for p, s in zip(stepper.params, structures)]
    return TrainResult(weights=stepper.weights(), initial_weights=initial, history=recorder.history(),
                       coefficients=coefficients)
