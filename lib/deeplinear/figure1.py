"""Figures 1b and 1c trained through chapter 08's lemma: gradient descent on the small network of
`deeplinear.reduction`, scored on the full one (`train_reduced`; `transposed_is_cheaper` says how it is run),
how far that is from plain gradient descent on the full network (`max_deviation`), a run's final numbers
(`summary`) and the verdict they allow on the figures' claim (`outside_figure1`, `figure1_verdict`, `FLOW_TIME`).

Paper: Radhakrishnan et al., eq. (2) and Section 6 (the 784-1024-64-10 network on 256 MNIST digits, Figures 1b
and 1c), through the book's lemma (chapter 08); Theorem 1 (the hypotheses the verdict checks).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from . import _validate
from .reduction import Reduction, _reduction, expand, scores_to
from .training import TrainResult, descended, until_divergence
from .training import train as _train

__all__ = [
    "FLOW_TIME",
    "transposed_is_cheaper",
    "train_reduced",
    "max_deviation",
    "summary",
    "outside_figure1",
    "figure1_verdict",
]

FLOW_TIME = 1.0  # a run that neither reached its threshold nor ran for lr x steps >= this is too short to judge
Loss = str | Callable[[np.ndarray, np.ndarray], tuple]  # a name in deeplinear.losses.LOSSES or a loss callable
Rate = float | Callable[[int, float], float]  # a learning rate, or a schedule lr(step, loss)
Record = int | Sequence[int] | np.ndarray | None  # a schedule of steps, as `deeplinear.train` takes it


class _ThroughData:
    """A loss of the outputs ``F = P X`` as a loss of ``P^T``: what `train_reduced` hands the engine when it trains
    the small network transposed. ``P^T`` (r, k_d) -> (the loss of ``P X``, ``(dL/dF X^T)^T``)."""

    def __init__(self, fn: Callable, X: np.ndarray, Y: np.ndarray | None) -> None:
        self.fn, self.X, self.Y = fn, X, Y

    def __call__(self, Pt: np.ndarray, _: object = None) -> tuple:
        value, dF = self.fn(Pt.T @ self.X, self.Y)
        return value, (np.asarray(dF) @ self.X.T).T


def transposed_is_cheaper(red: Reduction) -> bool:
    """Whether `train_reduced` trains the small network transposed: ``A_1^T … A_d^T`` on the identity
    ``I_{k_d}``, whose output ``P^T = (A_d … A_1)^T`` the loss maps through the data (``F = P X``).

    A step of the small network as it stands costs about ``n * sum m_i m_{i-1}`` multiply-adds (the
    activations of all ``n`` samples); transposed, ``k_d * sum m_i m_{i-1} + 2 k_d r n``. With few outputs
    and many samples (10 classes, hundreds of digits) the second is far smaller. Both are gradient descent
    on the same layers: the iterates agree up to rounding.

    Parameters
    ----------
    red : Reduction
        A reduction (`deeplinear.reduction.Reduction`).

    Returns
    -------
    bool
        Whether the transposed network is the cheaper one to train.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.figure1 import transposed_is_cheaper
    >>> from deeplinear.reduction import reduce_network
    >>> rng = np.random.default_rng(0)
    >>> Ws = [rng.standard_normal((8, 20)), rng.standard_normal((8, 8)), rng.standard_normal((2, 8))]
    >>> red = reduce_network(Ws, rng.standard_normal((20, 100)))
    >>> red.widths, transposed_is_cheaper(red)  # 2 outputs, 100 samples
    ([20, 8, 8, 2], True)
    """
    red = _reduction(red)
    m, n, k_out = red.widths, red.X.shape[1], red.widths[-1]
    layers = sum(a * b for a, b in zip(m, m[1:]))
    return k_out * layers + 2 * k_out * m[0] * n < n * layers


def train_reduced(
    red: Reduction,
    Y: np.ndarray,
    *,
    lr: Rate,
    steps: int,
    loss: Loss = "squared",
    record: Record = None,
    record_metrics: Record = None,
    stop_below: float | None = None,
    progress: bool | None = None,
    on_divergence: str = "raise",
) -> TrainResult:
    """Gradient descent on the small network (`deeplinear.train`), scored on the full network.

    Where it is cheaper (`transposed_is_cheaper`: few outputs, many samples), the engine trains the
    transposed small network ``A_1^T ... A_d^T`` on the identity ``I_{k_d}``, with the loss of
    ``F = (A_1^T ... A_d^T)^T X`` and its gradient mapped through the data: the same iterates, without
    the activations of every sample at every layer.

    Parameters
    ----------
    red : Reduction
        Reduction from `deeplinear.reduction.reduce_network`.
    Y : ndarray
        (k_d, n), the targets of the full network's data.
    lr : Rate
        As in `deeplinear.train`.
    steps : int
        As in `deeplinear.train`.
    loss : Loss, optional
        As in `deeplinear.train`.
    record : Record, optional
        As in `deeplinear.train`.
    record_metrics : Record, optional
        As in `deeplinear.train`.
    stop_below : float or None, optional
        As in `deeplinear.train`.
    progress : bool or None, optional
        As in `deeplinear.train`.
    on_divergence : str, optional
        "raise" (`deeplinear.training.TrainingDiverged`) or "stop": return the run up to the step before the
        loss diverged, scored there too, with ``diverged_at`` set (`deeplinear.training.until_divergence`).

    Returns
    -------
    TrainResult
        TrainResult of the small network: ``weights`` are the final small layers (`deeplinear.reduction.expand`
        gives the full ones). Its history records, at ``history.metric_steps``, the full network's ``"alignment"``
        (T_m, d-1) and ``"invariance"`` (T_m, 2(d-1)): the scores of ``U_1, ..., U_{d-1}`` and then
        ``V_2, ..., V_d``, the singular bases that Definition 3 keeps fixed (see `deeplinear.reduction.scores_to`);
        one SVD of a small matrix per layer per record serves both.

    Raises
    ------
    deeplinear.TrainingDiverged
        If the loss diverges (with ``on_divergence="raise"``).
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: eq. (2) and Section 6 (Figures 1b and 1c), through chapter 08's lemma.
    """
    red = _reduction(red)
    from ._engine import _resolve

    d, scores = len(red.layers), []  # scores_to(red), made at the first record (its start's SVDs cost)
    fn, Y = _resolve(loss, Y, (red.widths[-1], red.X.shape[1]))
    flip = transposed_is_cheaper(red)

    def small(layers: list[np.ndarray]) -> list[np.ndarray]:
        return [W.T for W in layers[::-1]] if flip else list(layers)

    def both(layers: list[np.ndarray]) -> np.ndarray:
        scores[:] = scores or [scores_to(red)]
        align, inv = scores[0](small(layers))
        return np.concatenate([align, inv[:-1, 0], inv[1:, 1]])

    if on_divergence not in ("raise", "stop"):
        raise ValueError(f'on_divergence must be "raise" or "stop", got {on_divergence!r}')

    def attempt(k: int) -> TrainResult:
        marks = record_metrics
        if k != steps and marks is not None and not isinstance(marks, (int, np.integer)):
            marks = np.union1d([s for s in np.asarray(marks).ravel() if s <= k], [k]).astype(int)
        return _train(
            small(red.layers),
            None if flip else red.X,
            None if flip else Y,
            lr=lr,
            steps=k,
            loss=_ThroughData(fn, red.X, Y) if flip else fn,
            record=record,
            record_metrics=marks,
            metrics={"scores": both},
            stop_below=stop_below,
            progress=progress,
        )

    run = attempt(steps) if on_divergence == "raise" else until_divergence(attempt, steps)
    recorded = np.reshape(run.history.metrics.get("scores", []), (len(run.history.metric_steps), 3 * (d - 1)))
    split = {"alignment": recorded[:, : d - 1], "invariance": recorded[:, d - 1 :]}
    history = dataclasses.replace(run.history, metrics=split)
    return TrainResult(
        weights=small(run.weights),
        initial_weights=small(run.initial_weights),
        history=history,
        diverged_at=run.diverged_at,
    )


def max_deviation(
    red: Reduction, X: np.ndarray, Y: np.ndarray, *, lr: Rate, steps: int, loss: Loss = "squared"
) -> float:
    """How far the lemma is from plain gradient descent: ``steps`` steps of `deeplinear.train` on the full
    start ``red.start`` and of `train_reduced` on the small network (transposed where that is cheaper), expanded;
    the largest deviation of a layer relative to its largest entry.

    Parameters
    ----------
    red : Reduction
        `deeplinear.reduction.reduce_network` of a start and ``X``.
    X : ndarray
        (k_0, n), the data it was reduced on
    Y : ndarray
        Targets (k_d, n).
    lr : Rate
        As in `deeplinear.train`.
    steps : int
        As in `deeplinear.train`.
    loss : Loss, optional
        As in `deeplinear.train`.

    Returns
    -------
    float
        ``max_i max|W_i - expand(A)_i| / max|W_i|``: rounding error when the lemma holds. Where the full
        run diverges (a learning rate above the stability edge), both are compared at the last step before it.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    red = _reduction(red)
    full = until_divergence(lambda k: _train(red.start, X, Y, lr=lr, steps=k, loss=loss, record=[k]), steps)
    k = steps if full.diverged_at is None else full.history.steps[-1]  # the steps made before a divergence
    small = train_reduced(red, Y, lr=lr, steps=int(k), loss=loss, record=[int(k)], record_metrics=[]).weights
    full = full.weights
    return float(max(np.abs(a - b).max() / np.abs(a).max() for a, b in zip(full, expand(red, small))))


def outside_figure1(summary: dict, *, depth: int, condition_holds: bool) -> str:
    """Why a Figure 1b or 1c run (`summary` of it) is outside the claim's hypotheses, in words, or "" inside.

    Outside: fewer than three layers (Theorem 1 and the figures have d >= 3); data on which Theorem 1's
    condition holds (then an aligned start can stay aligned); gradient descent above its stability edge (the
    loss rose or diverged); or a run too short to have moved (`summary`'s ``long_enough``).

    Parameters
    ----------
    summary : dict
        Dict of `summary`
    depth : int
        The number of layers d.
    condition_holds : bool
        `deeplinear.theory.alignment_invariant` of the data.

    Returns
    -------
    str
        "" inside; reasons joined by "; ".

    Raises
    ------
    ValueError
        If ``summary`` or ``depth`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1, Section 6 (Figures 1b and 1c).
    """
    summary = _validate.mapping(summary, "summary", ("descended", "long_enough", "flow_time"))
    depth = _validate.integer(depth, "depth")
    reasons = []
    if depth < 3:
        reasons.append(f"the network has d = {depth} layers, and Theorem 1 and the figures have d >= 3")
    if condition_holds:
        reasons.append("Theorem 1's data condition holds on these digits, so an aligned start can stay aligned")
    if not summary["descended"]:
        reasons.append("the loss rose or diverged: the learning rate is above gradient descent's stability edge")
    if not summary["long_enough"]:
        time = summary["flow_time"]
        reasons.append(f"the run is too short to judge: lr x steps = {time:.3g}, below {FLOW_TIME:g}, no fit")
    return "; ".join(reasons)


def figure1_verdict(summary: dict, *, depth: int, condition_holds: bool) -> str:
    """The verdict a Figure 1b or 1c run allows, in the book's words.

    Parameters
    ----------
    summary : dict
        Dict of `summary`
    depth : int
        The number of layers d.
    condition_holds : bool
        `deeplinear.theory.alignment_invariant` of the data.

    Returns
    -------
    str
        Str: "confirmed with a caveat" (as the ledger's rows read inside their hypotheses), or "not applicable: "
        and why (`outside_figure1`).

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1, Section 6 (Figures 1b and 1c).
    """
    why = outside_figure1(summary, depth=depth, condition_holds=condition_holds)
    return f"not applicable: {why}" if why else "confirmed with a caveat"


def summary(run: TrainResult, threshold: float) -> dict:
    """The final numbers of a `train_reduced` run: what chapter 08 reports for each run.

    Parameters
    ----------
    run : TrainResult
        TrainResult of `train_reduced` (history metrics "alignment" and "invariance").
    threshold : float
        The loss below which training counts as finished (the released code's 1e-4).

    Returns
    -------
    dict
        Dict with ``alignment_final`` and ``invariance_final`` (means over interfaces and over the fixed
        bases at the last record), ``alignment_lowest`` (the lowest such mean over the records),
        ``loss_initial``, ``loss_final``, ``steps`` (updates made), ``reached_threshold``, ``descended``
        (the loss fell at every step and did not diverge: the learning rate was below the stability edge,
        `deeplinear.training.descended`), ``flow_time`` (the learning rate times the steps made: the time of
        the gradient flow that gradient descent follows) and ``long_enough`` (the run reached the threshold or
        ran for a flow time of at least `FLOW_TIME`: shorter runs have hardly moved from their start).

    Raises
    ------
    ValueError
        If ``threshold`` or ``run`` is not valid (the message names the parameter).
    """
    h = _validate.train_result(run).history
    _validate.number(threshold, "threshold")
    if not ({"alignment", "invariance"} <= set(getattr(h, "metrics", {}))):
        raise ValueError('run must have recorded the metrics "alignment" and "invariance"')
    align, inv = h.metrics["alignment"], h.metrics["invariance"]
    flow = float(np.mean(h.lr) * h.steps[-1])  # lr x steps for a constant learning rate
    return {
        "alignment_final": float(align[-1].mean()),
        "invariance_final": float(inv[-1].mean()),
        "loss_final": float(h.loss[-1]),
        "loss_initial": float(h.loss[0]),
        "alignment_lowest": float(align.mean(axis=1).min()),
        "steps": int(h.steps[-1]),
        "reached_threshold": bool(h.loss[-1] < threshold),
        "descended": descended(run),
        "flow_time": flow,
        "long_enough": bool(h.loss[-1] < threshold or flow >= FLOW_TIME),
    }
