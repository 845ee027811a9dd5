"""Training layer-constrained networks: Figure 2's runs, and whether a run is inside what Figure 2 shows.

Figure 2 trains structured networks from aligned starts as the authors' released scripts do: gradient
descent at a learning rate for the mean squared error until that error is below 1e-4
(`symmetric_start`, `train_until_mse`, `released_divergences`); `fit_verdict`, `descent_verdict`,
`long_enough`, `outside_figure2` and `figure2_hypotheses` judge a run. Why alignment is impossible here is in
`deeplinear.impossibility`; the phase diagram beyond the paper, in `deeplinear.phase_diagram`.

Paper: Radhakrishnan et al., Section 6 (Figure 2).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from . import _validate, losses, metrics
from .recording import History, TrainingDiverged, TrainResult
from .structures import Structure
from .training import descended, train, until_divergence

__all__ = [
    "MSE_TARGET",
    "FLOW_TIME",
    "long_enough",
    "outside_figure2",
    "figure2_hypotheses",
    "symmetric_start",
    "train_until_mse",
    "fit_verdict",
    "descent_verdict",
    "released_divergences",
]

MSE_TARGET = 1e-4  # the released scripts train until the mean squared error is below this
FLOW_TIME = 8.0  # a Figure 2 run that has not fitted needs lr x steps (a gradient-flow time) at least this long


# -- Figure 2 --------------------------------------------------------------------------------------
def symmetric_start(
    structure: Structure, depth: int, *, rng: int | np.random.Generator | None = None
) -> list[np.ndarray]:
    """``depth`` copies of one symmetric matrix of S, scaled to spectral norm 1: an aligned start.

    The coefficients are standard normal, symmetrised as ``(c + c[::-1]) / 2``: for `Toeplitz` that equates
    the diagonals ``o`` and ``-o``, for `Convolution` the taps ``(a, b)`` and ``(s-1-a, s-1-b)``; either
    gives a symmetric matrix, which has a usSVD with ``U = V``, so identical layers are aligned.

    Parameters
    ----------
    structure : Structure
        Toeplitz or Convolution (a structure whose reversed coefficients give the transpose).
    depth : int
        >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    list of ndarray
        List of ``depth`` equal arrays (k, k).

    Raises
    ------
    ValueError
        If ``rng``, ``depth`` or ``structure`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Figure 2 (the released script's intended start).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.constrained import symmetric_start
    >>> from deeplinear.structures import Toeplitz
    >>> Ws = symmetric_start(Toeplitz(3), 2, rng=0)
    >>> bool(np.allclose(Ws[0], Ws[0].T)), round(float(np.linalg.norm(Ws[0], 2)), 6)
    (True, 1.0)
    """
    rng = _validate.rng(rng)
    depth = _validate.integer(depth, "depth")
    structure = _validate.structure(structure)
    c = rng.standard_normal(structure.dim)
    W = structure.matrix(0.5 * (c + c[::-1]))
    if not np.allclose(W, W.T, rtol=0, atol=1e-12 * np.abs(W).max()):
        raise ValueError(
            "structure must map reversed coefficients to the transpose, as Toeplitz and Convolution do; "
            f"got {structure!r}"
        )
    return [W / np.linalg.norm(W, 2)] * depth


def train_until_mse(
    Ws: Sequence[np.ndarray],
    X: np.ndarray | None,
    Y: np.ndarray,
    structure: Structure,
    *,
    lr: float,
    max_steps: int,
    checkpoints: Sequence[int] = (),
    target: float = MSE_TARGET,
    on_divergence: str = "raise",
) -> TrainResult:
    """Figure 2's training: coefficient gradient descent until the mean squared error is below ``target``.

    As the released scripts: learning rate ``lr`` for the mean squared error over all entries
    (`deeplinear.losses.mse_learning_rate`), stopping at the first step below ``target`` or after
    ``max_steps``. The loss is recorded at every step; the scores at step 0, at the ``checkpoints``
    reached and at the last step, from one SVD per layer (`deeplinear.metrics.layer_svds`) shared by
    alignment, invariance and the singular-value gap. Layers with more than 10^4 entries go through
    ``scipy.sparse`` for the defect.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k, k) in ``structure``.
    X : ndarray or None
        (k, n) or None (identity)
    Y : ndarray
        (k, n).
    structure : Structure
        Structure.
    lr : float
        > 0, for the mean squared error.
    max_steps : int
        >= 1.
    checkpoints : sequence of int, optional
        Steps at which to compute the scores (those after the stop are dropped).
    target : float, optional
        > 0.
    on_divergence : str, optional
        "raise" (`deeplinear.training.TrainingDiverged`) or "stop": return the run up to the step before the
        loss diverged, with ``diverged_at`` set (`deeplinear.training.until_divergence`).

    Returns
    -------
    TrainResult
        TrainResult whose history has ``loss`` = the mean squared error (T,), ``lr`` = ``lr``, and metrics at
        ``metric_steps`` (T_m,): "alignment" (T_m, d-1), "invariance" (T_m, d) (against ``Ws``), "defect"
        (T_m, d-1) (:func:`deeplinear.metrics.traceless_alignment_defect`) and "sv_gap" (T_m,) (the smallest
        gap between two singular values of a layer, relative to its largest).

    Raises
    ------
    deeplinear.TrainingDiverged
        If gradient descent diverges (with ``on_divergence="raise"``).
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6, Figure 2.
    """
    from scipy import sparse

    max_steps = _validate.integer(max_steps, "max_steps")
    if on_divergence not in ("raise", "stop"):
        raise ValueError(f'on_divergence must be "raise" or "stop", got {on_divergence!r}')
    structure = _validate.structure(structure)
    k_out = _validate.matrix(Y, "Y").shape[0]
    eta = losses.mse_learning_rate(lr, k_out)

    def attempt(steps: int) -> TrainResult:
        marks = np.unique([0, steps, *(int(c) for c in checkpoints if 0 < c <= steps)])
        return train(
            Ws,
            X,
            Y,
            lr=eta,
            steps=steps,
            structure=structure,
            record=1,
            record_metrics=marks,
            metrics={"layers": np.stack},
            stop_below=target * k_out / 2,
        )

    run = attempt(max_steps) if on_divergence == "raise" else until_divergence(attempt, max_steps)
    h = run.history
    invariance = metrics.invariance_to(run.initial_weights)
    scores: dict[str, list] = {"alignment": [], "invariance": [], "defect": [], "sv_gap": []}
    for stack in h.metrics["layers"]:
        layers = list(stack)
        svds = metrics.layer_svds(layers)
        scores["alignment"].append(metrics.alignment(layers, svds=svds))
        scores["invariance"].append(invariance(layers, svds=svds))
        # a zero layer's singular values are all equal: its gap is 0
        scores["sv_gap"].append(min(float(np.min(-np.diff(s)) / s[0]) if s[0] > 0 else 0.0 for _, s, _ in svds))
        big = layers[0].size > 10_000
        scores["defect"].append(
            metrics.traceless_alignment_defect([sparse.csr_matrix(W) for W in layers] if big else layers)
        )
    history = History(
        steps=h.steps,
        loss=h.loss * 2 / k_out,
        lr=np.full(len(h.steps), float(lr)),
        metrics={name: np.array(values) for name, values in scores.items()},
        metric_steps=h.metric_steps,
    )
    return dataclasses.replace(run, history=history)


def fit_verdict(history: History, *, target: float = MSE_TARGET) -> str:
    """Whether a `train_until_mse` run fitted or stopped at its step cap, as a phrase for the prose.

    Parameters
    ----------
    history : History
        History of `train_until_mse` (``loss`` = the mean squared error at every step).
    target : float, optional
        > 0, the run's stopping rule.

    Returns
    -------
    str
        "fitted: ..." when the last recorded mean squared error is below ``target`` (the stopping rule
        stopped the run), else "stopped at its step cap ...".

    Raises
    ------
    ValueError
        If ``target`` or ``history`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6, Figure 2 (the released scripts' stopping rule).
    """
    _validate.positive(target, "target", "a number > 0")
    history = _validate.history(history)
    loss, rule = np.asarray(history.loss), f"{target:.0e}".replace("e-0", "e-")
    if loss.size == 0:
        raise ValueError("history must hold at least one recorded loss, got none")
    steps = int(np.asarray(history.steps)[-1])
    if loss[-1] < target:
        return f"fitted: the error fell below {rule} (the stopping rule) at step {steps}"
    return f"stopped at its step cap of {steps} steps, before the error reached {rule} (the stopping rule)"


def long_enough(history: History, lr: float, *, flow: float = FLOW_TIME, target: float = MSE_TARGET) -> bool:
    """Whether a `train_until_mse` run fitted, or ran for a gradient-flow time ``lr * steps`` of at least ``flow``.

    Gradient descent at a small learning rate follows gradient flow, so how far a run has moved from its start
    depends on ``lr * steps`` more than on either; a run much shorter than the time the scores take to leave
    their start shows nothing about whether they would.

    Parameters
    ----------
    history : History
        History of `train_until_mse` (``loss`` the mean squared error at every step).
    lr : float
        > 0, the run's learning rate for the mean squared error.
    flow : float, optional
        > 0
    target : float, optional
        > 0, the stopping rule.

    Returns
    -------
    bool
        Bool.

    Raises
    ------
    ValueError
        If ``target``, ``history``, ``lr`` or ``flow`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6, Figure 2 (the book's rule for a run too short to judge).
    """
    lr, flow = _validate.positive(lr, "lr"), _validate.positive(flow, "flow")
    target = _validate.positive(target, "target")
    history = _validate.history(history)
    loss, steps = np.asarray(history.loss), np.asarray(history.steps)
    if loss.size == 0 or steps.size == 0:
        raise ValueError("history must hold at least one recorded loss, got none")
    steps = int(steps[-1])
    return bool(loss[-1] < target or lr * steps >= flow)


def descent_verdict(run: TrainResult, *, rtol: float = 1e-9) -> str:
    """Whether a `train_until_mse` run stayed below gradient descent's stability edge, as a phrase.

    Below the edge every step lowers the error (`deeplinear.training.descended`); a learning rate above
    it makes the error rise, oscillate or blow up, and the run is then outside what Figure 2 shows.

    Parameters
    ----------
    run : TrainResult
        TrainResult of `train_until_mse` (``history.loss`` at every step; ``diverged_at`` when it was
        stopped at a divergence).
    rtol : float, optional
        >= 0, the relative rise that rounding may cause.

    Returns
    -------
    str
        "the error fell at every step", "the error rose at step t: the learning rate is above gradient
        descent's stability edge for this draw", or "the error diverged at step t: ...".

    Raises
    ------
    ValueError
        If ``run`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6, Figure 2 (the book's check of the learning rate).
    """
    run = _validate.train_result(run)
    loss = np.asarray(run.history.loss, dtype=np.float64)
    edge = "the learning rate is above gradient descent's stability edge for this draw"
    if run.diverged_at is not None:
        return f"the error diverged at step {run.diverged_at}: {edge}"
    if descended(run, rtol):
        return "the error fell at every step"
    first = int(np.flatnonzero(~(np.diff(loss) <= rtol * np.abs(loss[:-1])))[0]) + 1
    return f"the error rose at step {int(np.asarray(run.history.steps)[first])}: {edge}"


def outside_figure2(run: TrainResult, lr: float, *, flow: float = FLOW_TIME) -> str:
    """Why a `train_until_mse` run is outside what Figure 2 shows, in words, or "" when it is inside.

    Outside: gradient descent left its stability edge (`descent_verdict`), or the run neither fitted nor
    trained for a gradient-flow time ``lr * steps`` of ``flow`` (`long_enough`).

    Parameters
    ----------
    run : TrainResult
        TrainResult of `train_until_mse`
    lr : float
        > 0, its learning rate
    flow : float, optional
        > 0.

    Returns
    -------
    str
        "" inside.

    Raises
    ------
    ValueError
        If ``run`` or ``lr`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6, Figure 2 (the book's hypotheses for judging a run).
    """
    run, lr = _validate.train_result(run), _validate.positive(lr, "lr")
    if not descended(run):
        return descent_verdict(run)
    if not long_enough(run.history, lr, flow=flow):
        time = lr * int(np.asarray(run.history.steps)[-1])
        return f"the run is too short to judge: lr x steps = {time:.3g}, below {flow:g}, and it did not fit"
    return ""


def figure2_hypotheses(run: TrainResult, lr: float, *, flow: float = FLOW_TIME) -> dict:
    """What chapter 07 records of a Figure 2 run to judge it: whether it is inside the claim's hypotheses, and why not.

    Parameters
    ----------
    run : TrainResult
        TrainResult of `train_until_mse`
    lr : float
        > 0, its learning rate
    flow : float, optional
        > 0.

    Returns
    -------
    dict
        Dict with "descended" (bool, `deeplinear.training.descended`), "descent" (`descent_verdict`), "flow_time"
        (``lr * steps``), "long_enough" (`long_enough`), "outside" (`outside_figure2`, "" inside), "verdict"
        ("confirmed with a caveat" inside, as the ledger's rows for Figure 2 read then, else "not applicable: "
        and why) and "report", a line for the reader: the descent, the fit and, when outside, why.

    Raises
    ------
    ValueError
        If ``lr`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6, Figure 2.
    """
    outside = outside_figure2(run, lr, flow=flow)
    lr = _validate.positive(lr, "lr")
    report = f"{descent_verdict(run)}; the run {fit_verdict(run.history)}"
    return {
        "descended": descended(run),
        "descent": descent_verdict(run),
        "flow_time": lr * int(np.asarray(run.history.steps)[-1]),
        "long_enough": long_enough(run.history, lr, flow=flow),
        "outside": outside,
        "verdict": f"not applicable: {outside}" if outside else "confirmed with a caveat",
        "report": report + (f"; outside the claim's hypotheses: {outside}" if outside else ""),
    }


def released_divergences(
    structure: Structure,
    X: np.ndarray,
    *,
    lr: float,
    draws: int,
    steps: int,
    depth: int = 3,
    rng: int | np.random.Generator | None = None,
) -> int:
    """How many of ``draws`` starts drawn as the released Figure 2b script draws them diverge within ``steps``.

    Each start is ``depth`` copies of one point-symmetric standard normal filter (the first half of the
    taps copies the last half, reversed), not rescaled; the network autoencodes ``X`` at learning rate
    ``lr`` for the mean squared error.

    Parameters
    ----------
    structure : Structure
        Convolution (or any structure with reversal symmetry).
    X : ndarray
        (k, n).
    lr : float
        > 0; draws, steps : int >= 1
    draws : int
        Number of starts drawn, >= 1.
    steps : int
        Number of gradient-descent steps, >= 0.
    depth : int, optional
        >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`). ``structure.dim`` taps per start.

    Returns
    -------
    int
        In [0, draws].

    Raises
    ------
    ValueError
        If ``rng``, ``structure``, ``draws``, ``steps`` or ``depth`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6, Figure 2b (the released script).
    """
    rng = _validate.rng(rng)
    draws, steps, depth = (
        _validate.integer(draws, "draws"),
        _validate.integer(steps, "steps"),
        _validate.integer(depth, "depth"),
    )
    structure = _validate.structure(structure)
    half = structure.dim // 2
    diverged = 0
    for _ in range(draws):
        released = rng.standard_normal(structure.dim)
        released[:half] = released[:half:-1]
        try:
            eta = losses.mse_learning_rate(lr, structure.shape[0])
            train([structure.matrix(released)] * depth, X, X, lr=eta, steps=steps, structure=structure, record=[0])
        except TrainingDiverged:
            diverged += 1
    return diverged
