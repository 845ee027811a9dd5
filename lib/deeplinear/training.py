"""Full-batch gradient descent on deep linear networks, recording the loss and metrics on a schedule.

Paper: Radhakrishnan et al., eq. (2) and Theorem 2 (layers with structure); Ji & Telgarsky,
Section 3 (gradient descent with growing steps on separable data). What a run records, and how,
is in `deeplinear.recording`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from . import _validate
from ._engine import _compiled_engine, _metric_fns, _Recorder, _setup, _Stepper
from .losses import LossFn
from .recording import History, TrainingDiverged, TrainResult, _diverged, record_schedule

if TYPE_CHECKING:  # for the annotations only: a structure is checked by its methods (`_validate.structure`)
    from .structures import Structure

__all__ = ["train", "TrainResult", "History", "TrainingDiverged", "record_schedule", "until_divergence", "descended"]


def _learning_rate(lr, S: int | None):
    """(callable or None, constant value or None): floats, or (S, 1, 1) arrays per member."""
    if callable(lr):
        return lr, None
    return None, _lr_value(lr, S)


def _lr_value(lr, S: int | None, step: int | None = None, per_member: bool = False):
    name = "lr" if step is None else f"lr(step, loss) at step {step}"
    what = "a positive number" + ("" if S is None else f" or an array of {S} positive numbers (one per member)")
    if S is not None and isinstance(lr, (np.ndarray, Sequence)) and not isinstance(lr, str):
        try:
            a = np.asarray(lr, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be {what}, got {lr!r}") from None
        return _validate.positive_vector(a.reshape(S) if a.shape == (S, 1, 1) else a, name, S).reshape(S, 1, 1)
    value = _validate.positive(lr, name, what)
    return np.full((S, 1, 1), value) if per_member else value


def _structures(structure, layers: list[np.ndarray]) -> list:
    d = len(layers)
    if structure is None:
        return [None] * d
    if isinstance(structure, (list, tuple)):
        if len(structure) != d:
            raise ValueError(
                f"structure must be one Structure or a list of d = {d} entries "
                f"(None = fully connected), got {len(structure)} entries"
            )
        found = list(structure)
    else:
        found = [structure] * d
    for i, (s, W) in enumerate(zip(found, layers)):
        if _validate.structure(s, f"structure for layer {i + 1}", optional=True) is None:
            continue
        if tuple(s.shape) != W.shape[-2:]:
            raise ValueError(
                f"structure for layer {i + 1} has shape {tuple(s.shape)}, but W_{i + 1} "
                f"(Ws[{i}]) has shape {W.shape[-2:]}"
            )
        if not s.contains(W):
            raise ValueError(
                f"W_{i + 1} (Ws[{i}]) does not lie in its structure {s!r}; start from "
                f"s.matrix(c) or s.matrix(s.coefficients(W))"
            )
    return found


def train(
    Ws: Sequence[np.ndarray],
    X: np.ndarray | None,
    Y: np.ndarray | None,
    *,
    lr: float | np.ndarray | Sequence[float] | Callable[[int, float | np.ndarray], float | np.ndarray],
    steps: int,
    loss: str | LossFn = "squared",
    structure: Structure | Sequence[Structure | None] | None = None,
    metrics: str | Sequence[str] | Mapping[str, Callable[[list[np.ndarray]], np.ndarray]] = (),
    record: int | Sequence[int] | np.ndarray | None = None,
    record_metrics: int | Sequence[int] | np.ndarray | None = None,
    progress: bool | None = None,
    blowup: float = 1e8,
    stop_below: float | None = None,
    engine: str | None = None,
) -> TrainResult:
    """Full-batch gradient descent ``W_i <- W_i - lr * dL/dW_i`` on every layer at once.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or stacked (S, k_i, k_{i-1}) to train S networks at once
        (`deeplinear.network.stack` makes one from S networks). Not modified.
    X : ndarray or None
        (k_0, n), or None for the identity ``I_{k_0}`` (matrix factorization / sensing); for
        a stacked network also (S, k_0, n), member s trained on its own ``X[s]``.
    Y : ndarray or None
        (k_d, n), or (S, k_d, n) per member of a stacked network (see `deeplinear.losses` for
        each loss's labels; ignored by `MatrixSensing`, which holds its own measurements, per member
        when built from ``M (S, n, k, k)``, ``y (S, n)``).
    lr : float, ndarray, sequence of float or callable
        Positive float (or array (S,) for a stacked network), or a callable ``lr(step, loss)``
        evaluated at every step with the current loss (float or (S,)) returning one of those (also
        at the final step, where no update follows, for ``history.lr``).
    steps : int
        >= 0, the number of updates.
    loss : str or callable, optional
        "squared" (eq. (2)), "logistic", "exponential", "cross_entropy", or a callable
        ``loss_fn(F, Y) -> (value, dL/dF)`` such as `deeplinear.losses.MatrixSensing`.
    structure : Structure, sequence of Structure or None, optional
        A Structure for every layer, or a list with one entry per layer (None = fully
        connected); gradient descent then runs on the coefficients (Paper: Definition 4, Theorem 2).
        The initial layers must lie in their structures.
    metrics : str, sequence of str or mapping, optional
        Names from `deeplinear.metrics.REGISTRY` ("alignment", "invariance" against the start, ...;
        those that need SVDs share one per layer per record), or a mapping name -> ``fn(Ws)``.
    record : int, sequence of int, ndarray or None, optional
        Steps at which loss and metrics are stored; see `record_schedule`. The loss at step t is
        that of the weights after t updates.
    record_metrics : int, sequence of int, ndarray or None, optional
        Steps at which the metrics are computed instead, in the same forms as ``record``
        (the loss is cheap and SVD-based metrics are not: record the loss every step and the metrics
        on a log-spaced grid); ``history.metric_steps`` says which. None: the ``record`` steps.
    progress : bool or None, optional
        None (a tqdm bar when the run looks longer than about 3 s, never when the environment
        sets DEEPLINEAR_PROGRESS=0), True or False.
    blowup : float, optional
        > 0; `TrainingDiverged` is raised when the loss is not finite or exceeds
        ``blowup * max(initial loss, 1)``.
    stop_below : float or None, optional
        > 0 or None; stop at the first step whose loss (every member's, for a stacked
        network) is below it, as the authors' released scripts do (they train until the loss is below
        1e-4). That step is recorded last, loss and metrics: ``history.steps[-1]`` is the number of
        updates made.
    engine : {"auto", "compiled", "numpy"} or None, optional
        "compiled" runs the steps between two records in compiled code (numba; a named loss, any structure
        of `deeplinear.structures`; a callable loss runs on the numpy engine); "numpy", numpy calls step by
        step; "auto", the compiled engine where it pays off (products of at most 64³ multiply-adds, numba
        installed). None: the environment's DEEPLINEAR_ENGINE, else "auto". Both engines give the same
        numbers up to rounding.

    Returns
    -------
    TrainResult
        TrainResult with ``weights``, ``initial_weights``, ``history`` (steps (T,), loss (T,) or (T, S),
        lr (T,) or (T, S), metrics name -> (T_m, ...) at metric_steps (T_m,)) and ``coefficients``.

    Raises
    ------
    TrainingDiverged
        (a FloatingPointError) at the first step whose loss diverged.
    ValueError
        If an argument is not valid: shapes that do not chain, labels a loss does not take, a learning rate
        that is not positive, a start outside its structure (the message names the parameter).

    References
    ----------
    Paper: eq. (2); Theorem 2 for structured layers.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear import train
    >>> X, Y = np.eye(2), np.diag([2.0, 1.0])
    >>> run = train([np.eye(2), np.eye(2)], X, Y, lr=0.5, steps=200, record=[0, 200])
    >>> run.history.steps.tolist(), bool(run.history.loss[-1] < 1e-10 < run.history.loss[0])
    ([0, 200], True)
    >>> np.round(run.weights[1] @ run.weights[0], 6)  # the end-to-end matrix fits Y
    array([[2., 0.],
           [0., 1.]])
    """
    steps = _validate.count(steps, "steps")
    layers, S, X, fn, Y = _setup(Ws, X, Y, loss, copy=True)
    initial = [W.copy() for W in layers]
    structures = _structures(structure, layers)
    lr_fn, lr_now = _learning_rate(lr, S)
    _validate.number(blowup, "blowup", "a positive number", low=0, low_open=True, finite=False)
    if stop_below is not None:
        _validate.number(stop_below, "stop_below", "None or a positive number", low=0, low_open=True, finite=False)
    _validate.flag(progress, "progress", optional=True)
    schedule = record_schedule(steps, record)
    metric_schedule = (
        schedule if record_metrics is None else _validate.schedule(steps, record_metrics, "record_metrics")
    )
    compiled = _compiled_engine(engine, fn, X, layers, structures)
    stepper = (_Stepper if compiled is None else compiled.Stepper)(layers, X, fn, Y, structures)
    recorder = _Recorder(steps, schedule, metric_schedule, _metric_fns(metrics, initial), stepper, progress)
    if compiled is not None:
        lr_at = None if lr_fn is None else (lambda t, v: _lr_value(lr_fn(t, v), S, t, S is not None))
        return compiled.descend(stepper, recorder, initial, steps, lr_at, lr_now, blowup, stop_below, lr_fn)
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
    return TrainResult(
        weights=stepper.weights(), initial_weights=initial, history=recorder.history(), coefficients=coefficients
    )


def until_divergence(run: Callable[[int], TrainResult], steps: int) -> TrainResult:
    """``run(steps)``; where gradient descent diverges at step ``s``, ``run(s - 1)`` instead, marked
    ``diverged_at = s``: the weights and history of the last step before the divergence.

    A run that is deterministic given its number of steps (as `train` is) repeats its first ``s - 1``
    steps exactly, so the second run does not diverge.

    Parameters
    ----------
    run : callable
        Callable ``steps -> TrainResult`` (e.g. a `train` call with everything else fixed), raising
        `deeplinear.training.TrainingDiverged` when the loss diverges.
    steps : int
        >= 0, the budget.

    Returns
    -------
    TrainResult
        TrainResult, with ``diverged_at`` None or the step at which the loss diverged.

    Raises
    ------
    ValueError
        If ``steps`` or ``run`` is not valid (the message names the parameter).

    References
    ----------
    Paper: none (the book's handling of a learning rate above the stability edge).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.training import train, until_divergence
    >>> run = until_divergence(lambda s: train([np.eye(1)], np.eye(1), 2 * np.eye(1), lr=5.0, steps=s), 50)
    >>> run.diverged_at is not None, len(run.history) == run.diverged_at
    (True, True)
    """
    steps = _validate.count(steps, "steps")
    if not callable(run):
        raise ValueError(f"run must be a callable steps -> TrainResult, got {type(run).__name__}")
    try:
        return _validate.train_result(run(steps), "run(steps)")
    except TrainingDiverged as err:
        step = int(err.step)
    stopped = _validate.train_result(run(max(step - 1, 0)), "run(steps)")
    return TrainResult(
        weights=stopped.weights,
        initial_weights=stopped.initial_weights,
        history=stopped.history,
        coefficients=stopped.coefficients,
        diverged_at=step,
    )


def descended(run: TrainResult, rtol: float = 1e-9) -> bool:
    """Whether gradient descent stayed below its stability edge: it did not diverge and its loss never rose.

    Below the edge (a step smaller than 2 over the largest curvature along the path) every step lowers the
    loss; above it the loss oscillates or blows up. A rise by more than ``rtol`` of the previous loss at any
    recorded step (record the loss at every step) counts as one.

    Parameters
    ----------
    run : TrainResult
        TrainResult of one network (history.loss of shape (T,)).
    rtol : float, optional
        >= 0, the relative rise that rounding may cause.

    Returns
    -------
    bool
        Bool.

    Raises
    ------
    ValueError
        If ``run`` or ``rtol`` is not valid (the message names the parameter).

    References
    ----------
    Paper: none (the book's detection of a learning rate above the stability edge).

    Examples
    --------
    >>> import numpy as np
    >>> run = train([np.eye(2)], np.eye(2), 2 * np.eye(2), lr=1.0, steps=5, record=1)  # edge: lr = 4
    >>> descended(run), descended(train([np.eye(2)], np.eye(2), 2 * np.eye(2), lr=5.0, steps=5, record=1))
    (True, False)
    """
    run = _validate.train_result(run)
    loss = np.asarray(run.history.loss, dtype=np.float64)
    if loss.ndim != 1:
        raise ValueError(f"run must be one network's (history.loss of shape (T,)), got shape {loss.shape}")
    _validate.number(rtol, "rtol", "a number >= 0", low=0, finite=False)
    rose = np.diff(loss) > rtol * np.abs(loss[:-1])
    return bool(run.diverged_at is None and np.all(np.isfinite(loss)) and not rose.any())
