"""Where gradient descent moves: a network trained on data of rank r is a small network in disguise.

Let ``Q`` (k_0, r) be an orthonormal basis of the column space of ``X`` and ``B_0 = Q``. For each
hidden layer ``i`` let ``B_i`` be an orthonormal basis of ``col(W_i^(0) B_{i-1}) + row(W_{i+1}^(0))``,
and ``B_d = I``. Then at every step ``t`` of gradient descent, with any loss of ``F = W_d ... W_1 X``,

    W_1^(t) = W_1^(0) (I - Q Q^T) + B_1 A_1^(t) Q^T,    W_i^(t) = B_i A_i^(t) B_{i-1}^T  (i >= 2),

where ``A^(t)`` are the iterates of gradient descent, with the same loss and learning rate, on the
small network ``A_d ... A_1`` with data ``Q^T X``, started at ``A_i^(0) = B_i^T W_i^(0) B_{i-1}``.
`reduce_network` computes the bases and the small network, `expand` maps small layers back, `train`
trains the small network while it records alignment and invariance of the full one, and `scores_to`
computes those scores from the small layers with one SVD of a small matrix per layer, and
`released_invariance` the released script's single invariance number of the full network. `max_deviation`
and `metrics_deviation` check the lemma and the scores against plain gradient descent and
`deeplinear.metrics` on the full network; `seconds_per_step` times both; `summary` gives a run's final
numbers.

Paper: beyond the papers (the book's lemma, chapter 08); it makes Radhakrishnan et al.'s Section 6
network (784-1024-64-10 on 256 MNIST digits, Figures 1b and 1c) cheap to train.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import _validate, fixed_bases, metrics
from .training import TrainingDiverged, TrainResult, descended, until_divergence
from .training import train as _train

__all__ = [
    "FLOW_TIME",
    "Reduction",
    "column_basis",
    "reduce_network",
    "expand",
    "scores_to",
    "released_invariance",
    "train",
    "transposed_is_cheaper",
    "max_deviation",
    "metrics_deviation",
    "seconds_per_step",
    "summary",
    "outside_figure1",
    "figure1_verdict",
]

FLOW_TIME = 1.0  # a run that neither reached its threshold nor ran for lr x steps >= this is too short to judge
Scores = tuple[np.ndarray, np.ndarray]
Loss = str | Callable[[np.ndarray, np.ndarray], tuple]  # a name in deeplinear.losses.LOSSES or a loss callable
Rate = float | Callable[[int, float], float]  # a learning rate, or a schedule lr(step, loss)
Record = int | Sequence[int] | np.ndarray | None  # a schedule of steps, as `deeplinear.train` takes it


def column_basis(M: np.ndarray, *, scale: float | None = None, tol: float = 1e-10) -> np.ndarray:
    """An orthonormal basis of the column space of ``M``, from its SVD.

    Parameters
    ----------
    M : ndarray (k, m).
    scale : singular values above ``tol * scale`` count; None: the largest singular value of ``M``.
    tol : float >= 0.

    Returns
    -------
    ndarray (k, p) with orthonormal columns, p the numerical rank (0 for a zero ``M``).
    """
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 2 or not np.isfinite(M).all():
        raise ValueError(f"M must be a finite 2-D array, got shape {M.shape}")
    if not tol >= 0 or (scale is not None and not scale >= 0):
        raise ValueError(f"tol and scale must be non-negative numbers, got {tol!r} and {scale!r}")
    U, s, _ = np.linalg.svd(M, full_matrices=False)
    scale = (s[0] if s.size else 0.0) if scale is None else scale
    return U[:, : int(np.sum(s > tol * scale))] if scale > 0 else U[:, :0]


@dataclass(frozen=True, eq=False)
class Reduction:
    """The lemma's small network and the bases that embed it (see the module docstring).

    Attributes
    ----------
    layers : list of d arrays ``A_i^(0) = B_i^T W_i^(0) B_{i-1}``, (m_i, m_{i-1}).
    X : ndarray (r, n), the small network's data ``Q^T X``.
    bases : list of d+1 arrays ``[Q, B_1, ..., B_{d-1}, I]``, ``B_i`` (k_i, m_i) with orthonormal columns.
    complement : ndarray (k_0, k_0 - r), an orthonormal basis ``Q_perp`` of the orthogonal complement of col(X).
    fixed : ndarray (k_1, k_0 - r), ``W_1^(0) Q_perp``, the part of ``W_1`` that never changes (set to exactly
        zero when it is zero up to rounding).
    scale : float, ``max |W_1^(0)|``, the scale against which "zero up to rounding" is judged.
    start : list of d arrays (k_i, k_{i-1}), the full network ``W^(0)`` that was reduced.
    """

    layers: list[np.ndarray]
    X: np.ndarray
    bases: list[np.ndarray]
    complement: np.ndarray
    fixed: np.ndarray
    scale: float
    start: list[np.ndarray]

    @property
    def widths(self) -> list[int]:
        """The small network's widths ``[r, m_1, ..., m_{d-1}, k_d]``."""
        return [int(B.shape[1]) for B in self.bases]

    @property
    def cost_ratio(self) -> float:
        """Multiply-adds of a gradient step of the full network over those of the small one."""
        full = [int(B.shape[0]) for B in self.bases]
        small = self.widths
        return sum(a * b for a, b in zip(full, full[1:])) / sum(a * b for a, b in zip(small, small[1:]))

    @property
    def fixed_rank(self) -> int:
        """The rank of the fixed part ``W_1^(0) Q_perp``: singular vectors of ``W_1`` that never move."""
        return int(column_basis(self.fixed, scale=self.scale).shape[1])


def reduce_network(Ws: Sequence[np.ndarray], X: np.ndarray, *, tol: float = 1e-10) -> Reduction:
    """The lemma's bases and small network for the start ``Ws`` and data ``X``.

    Parameters
    ----------
    Ws : list of d >= 1 arrays (k_i, k_{i-1}), the initial network.
    X : ndarray (k_0, n), samples as columns.
    tol : relative threshold on singular values for the ranks of ``X`` and of the bases.

    Returns
    -------
    Reduction; ``expand(red, red.layers)`` is ``Ws`` up to rounding.

    Paper: beyond the papers (chapter 08's lemma).
    """
    layers = [np.asarray(W, dtype=np.float64) for W in Ws]
    if not layers or any(W.ndim != 2 or 0 in W.shape or not np.isfinite(W).all() for W in layers):
        raise ValueError("Ws must be a non-empty list of finite 2-D layers (k_i, k_{i-1}) (one network, not a stack)")
    if any(b.shape[1] != a.shape[0] for a, b in zip(layers, layers[1:])):
        raise ValueError(f"Ws: the layer shapes {[W.shape for W in layers]} do not chain (k_i, k_{{i-1}})")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != layers[0].shape[1] or not np.isfinite(X).all():
        raise ValueError(f"X must be a finite array (k_0, n) = ({layers[0].shape[1]}, n), got shape {X.shape}")
    U, s, _ = np.linalg.svd(X)
    r = int(np.sum(s > tol * s[0])) if s.size and s[0] > 0 else 0
    Q, Q_perp = U[:, :r], U[:, r:]
    bases, M = [Q], layers[0] @ Q
    for W_next in layers[1:]:
        bases.append(column_basis(np.hstack([M, W_next.T]), tol=tol))
        M = W_next @ bases[-1]
    bases.append(np.eye(layers[-1].shape[0]))
    A = [B_out.T @ W @ B_in for W, B_in, B_out in zip(layers, bases[:-1], bases[1:])]
    scale = float(np.abs(layers[0]).max())
    fixed = layers[0] @ Q_perp
    if fixed.size and np.abs(fixed).max() <= 1e-12 * scale:  # zero up to rounding (e.g. a start inside col(X))
        fixed = np.zeros_like(fixed)
    return Reduction(
        layers=A, X=Q.T @ X, bases=bases, complement=Q_perp, fixed=fixed, scale=scale, start=[W.copy() for W in layers]
    )


def _reduction(red) -> Reduction:
    if not isinstance(red, Reduction):
        raise ValueError(f"red must be a Reduction (from reduce_network), got {type(red).__name__}")
    return red


def _small_layers(red: Reduction, A: Sequence[np.ndarray]) -> list[np.ndarray]:
    red = _reduction(red)
    try:
        A = [np.asarray(a, dtype=np.float64) for a in A]
    except (TypeError, ValueError) as err:
        raise ValueError("A must be a list of numeric small layers") from err
    shapes = [a.shape for a in red.layers]
    if [a.shape for a in A] != shapes:
        raise ValueError(f"A must have the small network's layer shapes {shapes}, got {[a.shape for a in A]}")
    if not all(np.isfinite(a).all() for a in A):
        raise ValueError("A must contain only finite entries")
    return A


def expand(red: Reduction, A: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The full network of the small layers ``A`` (the lemma's formula).

    Parameters
    ----------
    red : Reduction from `reduce_network`.
    A : list of d arrays of the shapes of ``red.layers``.

    Returns
    -------
    list of d arrays (k_i, k_{i-1}): ``W_1 = B_1 A_1 Q^T + W_1^(0) Q_perp Q_perp^T``, ``W_i = B_i A_i B_{i-1}^T``.
    """
    A, B = _small_layers(red, A), red.bases
    first = B[1] @ A[0] @ B[0].T + red.fixed @ red.complement.T
    return [first] + [B[i + 1] @ A[i] @ B[i].T for i in range(1, len(A))]


def _nonzero(U: np.ndarray, s: np.ndarray, Vt: np.ndarray, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Singular vectors (U, V) of the singular values above tol times the largest (none for a zero matrix)."""
    keep = s > tol * s[0] if s.size and s[0] > 0 else np.zeros(s.shape, bool)
    return U[:, keep], Vt[keep].T


_Frames = list[tuple[str, np.ndarray]]  # unit vectors as (frame, coordinates (m, p)); frames are orthogonal


def _frame_match(A: _Frames, B: _Frames) -> float:
    """`deeplinear.metrics.best_match` of two sets of unit vectors given in coordinates of mutually orthogonal
    frames: a vector's largest ``|cos|`` is found among the other set's vectors of its own frame (it is 0
    against any other frame's)."""
    p, q = sum(a.shape[1] for _, a in A), sum(b.shape[1] for _, b in B)
    if p == 0 or q == 0:
        return 1.0 if p == 0 else 0.0
    frames = dict(B)
    total = sum(
        float(np.abs(a.T @ frames[f]).max(axis=1).sum())
        for f, a in A
        if a.shape[1] and frames.get(f, a[:, :0]).shape[1]
    )
    return total / p


def scores_to(red: Reduction) -> Callable[[Sequence[np.ndarray]], Scores]:
    """``A -> (alignment, invariance)`` of the full network ``expand(red, A)``, against ``expand(red, red.layers)``.

    The singular vectors of the full layers are computed through the bases, one SVD of a small matrix
    per layer: ``W_i = B_i A_i B_{i-1}^T`` for ``i >= 2``, and ``W_1 = [B_1, Z] K [Q, Q_perp]^T`` with
    ``K = [[A_1, B_1^T F], [0, Z^T F]]``, ``F = W_1^(0) Q_perp`` and ``Z`` a basis of the part of ``F``'s
    columns outside ``span(B_1)`` (when ``B_1^T F = 0``, ``K`` is block diagonal and the fixed block's SVD
    is taken once). Singular vectors of zero singular values (below 1e-10 times the layer's largest)
    are left out, since they are arbitrary.

    The returned function gives, for small layers ``A``:

    * alignment (d-1,): for the interface between ``W_i`` and ``W_{i+1}``, the mean over the right singular
      vectors of ``W_{i+1}`` of the best ``|cos|`` with a left singular vector of ``W_i``, as
      `deeplinear.metrics.alignment` (which keeps the vectors of zero singular values too);
    * invariance (d, 2): for each layer, the scores of ``U_i`` and of ``V_i`` against the start's by the
      same best-match rule (`deeplinear.metrics.invariance` averages the two; Definition 3 keeps
      ``U_1 .. U_{d-1}`` and ``V_2 .. V_d`` fixed).

    Paper: Section 6 (the released code's scores), computed through chapter 08's lemma.
    """
    red = _reduction(red)
    B = red.bases
    E = B[1].T @ red.fixed  # the part of the fixed W_1 Q_perp inside span(B_1)
    Z = column_basis(red.fixed - B[1] @ E, scale=red.scale)  # and an orthonormal basis of the rest
    T = Z.T @ red.fixed
    block = not E.size or np.abs(E).max() <= 1e-12 * red.scale
    if block:  # the core is block diagonal: the fixed block's SVD once
        if T.size:
            fixed = _nonzero(*np.linalg.svd(T, full_matrices=False))
        else:
            fixed = (T[:, :0], np.zeros((red.fixed.shape[1], 0)))

    # Singular vectors in coordinates: each basis is a list of (frame, coordinates) with the frames
    # mutually orthogonal (B_i's span, Z's, Q_perp's), so a vector scores 0 against another frame's.
    def vectors(A: list[np.ndarray]) -> list[tuple[_Frames, _Frames]]:
        if block:  # W_1 = B_1 A_1 Q^T + Z T Q_perp^T, two orthogonal blocks
            U_a, V_a = _nonzero(*np.linalg.svd(A[0], full_matrices=False))
            out = [([("1", U_a), ("Z", fixed[0])], [("0", V_a), ("Qp", fixed[1])])]
        else:  # W_1 = [B_1, Z] K [Q, Q_perp]^T
            K = np.block([[A[0], E], [np.zeros((T.shape[0], A[0].shape[1])), T]])
            U_k, V_k = _nonzero(*np.linalg.svd(K, full_matrices=False))
            out = [([("1Z", U_k)], [("0Qp", V_k)])]
        for i in range(1, len(A)):
            U_a, V_a = _nonzero(*np.linalg.svd(A[i], full_matrices=False))
            if i == 1 and not block:  # V_2 in the frame [B_1, Z] of W_1's left vectors
                V_a = [("1Z", np.vstack([V_a, np.zeros((Z.shape[1], V_a.shape[1]))]))]
            else:
                V_a = [(str(i), V_a)]
            out.append(([(str(i + 1), U_a)], V_a))
        return out

    start = vectors(red.layers)

    def scores(A: Sequence[np.ndarray]) -> Scores:
        now = vectors(_small_layers(red, A))
        align = [_frame_match(now[i + 1][1], now[i][0]) for i in range(len(now) - 1)]
        inv = [[_frame_match(U, U0), _frame_match(V, V0)] for (U, V), (U0, V0) in zip(now, start)]
        return np.array(align).reshape(len(now) - 1), np.array(inv)

    return scores


def released_invariance(red: Reduction, A: Sequence[np.ndarray]) -> float:
    """The released MNIST script's invariance of the full network ``expand(red, A)`` against ``red.start``.

    `deeplinear.fixed_bases.released_invariance` on the full layers: each *starting* singular vector of the
    bases Definition 3 keeps fixed (``U_1 .. U_{d-1}``, ``V_2 .. V_d``) scored by its best ``|cos|`` with
    the current ones, averaged over all those vectors (784 + 64 + 64 + 10 for 784-1024-64-10). `scores_to`
    instead scores current against start, per basis, leaving out zero singular values; chapter 08
    averages its bases equally.

    Parameters
    ----------
    red : Reduction; A : small layers of the shapes of ``red.layers``.

    Returns
    -------
    float in [0, 1].

    Paper: Section 6 (Figures 1b and 1c), as in the released script.
    """
    red = _reduction(red)
    return float(fixed_bases.released_invariance(red.start, expand(red, A)))


class _ThroughData:
    """A loss of the outputs ``F = P X`` as a loss of ``P^T``: what `train` hands the engine when it trains
    the small network transposed. ``P^T`` (r, k_d) -> (the loss of ``P X``, ``(dL/dF X^T)^T``)."""

    def __init__(self, fn: Callable, X: np.ndarray, Y: np.ndarray | None) -> None:
        self.fn, self.X, self.Y = fn, X, Y

    def __call__(self, Pt: np.ndarray, _: object = None) -> tuple:
        value, dF = self.fn(Pt.T @ self.X, self.Y)
        return value, (np.asarray(dF) @ self.X.T).T


def transposed_is_cheaper(red: Reduction) -> bool:
    """Whether `train` trains the small network transposed: ``A_1^T ... A_d^T`` on the identity ``I_{k_d}``,
    whose output ``P^T = (A_d ... A_1)^T`` the loss maps through the data (``F = P X``).

    A step of the small network as it stands costs about ``n * sum m_i m_{i-1}`` multiply-adds (the
    activations of all ``n`` samples); transposed, ``k_d * sum m_i m_{i-1} + 2 k_d r n``. With few outputs
    and many samples (10 classes, hundreds of digits) the second is far smaller. Both are gradient descent
    on the same layers: the iterates agree up to rounding.
    """
    red = _reduction(red)
    m, n, k_out = red.widths, red.X.shape[1], red.widths[-1]
    layers = sum(a * b for a, b in zip(m, m[1:]))
    return k_out * layers + 2 * k_out * m[0] * n < n * layers


def train(
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
    red : Reduction from `reduce_network`.
    Y : ndarray (k_d, n), the targets of the full network's data.
    lr, steps, loss, record, record_metrics, stop_below, progress : as in `deeplinear.train`.
    on_divergence : "raise" (`deeplinear.training.TrainingDiverged`) or "stop": return the run up to the step before the
        loss diverged, scored there too, with ``diverged_at`` set (`deeplinear.training.until_divergence`).

    Returns
    -------
    TrainResult of the small network: ``weights`` are the final small layers (`expand` gives the full
    ones). Its history records, at ``history.metric_steps``, the full network's ``"alignment"``
    (T_m, d-1) and ``"invariance"`` (T_m, 2(d-1)): the scores of ``U_1, ..., U_{d-1}`` and then
    ``V_2, ..., V_d``, the singular bases that Definition 3 keeps fixed (see `scores_to`); one SVD of a
    small matrix per layer per record serves both.

    Raises
    ------
    deeplinear.training.TrainingDiverged when the loss diverges (with ``on_divergence="raise"``).

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
    start ``red.start`` and of `train` on the small network (transposed where that is cheaper), expanded;
    the largest deviation of a layer relative to its largest entry.

    Parameters
    ----------
    red : `reduce_network` of a start and ``X``.
    X : ndarray (k_0, n), the data it was reduced on; Y : targets (k_d, n).
    lr, steps, loss : as in `deeplinear.train`.

    Returns
    -------
    float, ``max_i max|W_i - expand(A)_i| / max|W_i|``: rounding error when the lemma holds. Where the full
    run diverges (a learning rate above the stability edge), both are compared at the last step before it.
    """
    red = _reduction(red)
    full = until_divergence(lambda k: _train(red.start, X, Y, lr=lr, steps=k, loss=loss, record=[k]), steps)
    k = steps if full.diverged_at is None else full.history.steps[-1]  # the steps made before a divergence
    small = train(red, Y, lr=lr, steps=int(k), loss=loss, record=[int(k)], record_metrics=[]).weights
    full = full.weights
    return float(max(np.abs(a - b).max() / np.abs(a).max() for a, b in zip(full, expand(red, small))))


def metrics_deviation(red: Reduction, A: Sequence[np.ndarray]) -> float:
    """How far `scores_to` is from the library's metrics of the full network ``expand(red, A)``.

    Compares the alignment with `deeplinear.metrics.alignment` and the mean of the ``U_i`` and ``V_i``
    invariance with `deeplinear.metrics.invariance` against ``red.start`` (full SVDs of the full layers,
    one per layer shared by both). They agree when no layer has a zero singular value (`scores_to` leaves
    those vectors out, the library keeps them).

    Parameters
    ----------
    red : Reduction; A : small layers of the shapes of ``red.layers``.

    Returns
    -------
    float, the largest absolute difference: rounding error when they agree.
    """
    red = _reduction(red)
    full = expand(red, A)
    svds = metrics.layer_svds(full)
    align, inv = scores_to(red)(A)
    align_dev = np.abs(metrics.alignment(full, svds=svds) - align).max(initial=0.0)
    inv_dev = np.abs(metrics.invariance_to(red.start)(full, svds=svds) - inv.mean(axis=1)).max()
    return float(max(align_dev, inv_dev))


def seconds_per_step(
    red: Reduction, X: np.ndarray, Y: np.ndarray, *, lr: Rate, loss: Loss = "squared", steps: tuple[int, int] = (10, 50)
) -> tuple[float, float]:
    """Wall-clock seconds per gradient step of the full start ``red.start`` and of the small network.

    Parameters
    ----------
    red : `reduce_network` of a start and ``X``; X : ndarray (k_0, n); Y : targets (k_d, n).
    lr, loss : as in `deeplinear.train`.
    steps : (full, small), the number of steps to time on each (the full network's are the slow ones).

    Returns
    -------
    (full, small) seconds per step; they vary from run to run and machine to machine.
    """
    red = _reduction(red)
    if not (isinstance(steps, (tuple, list)) and len(steps) == 2):
        raise ValueError(f"steps must be a pair (full, small) of positive integers, got {steps!r}")
    steps = (_validate.integer(steps[0], "steps[0]"), _validate.integer(steps[1], "steps[1]"))
    out = []
    quiet = {"lr": lr, "loss": loss, "progress": False}
    for k, run in (
        (steps[0], lambda: _train(red.start, X, Y, steps=steps[0], record=[steps[0]], **quiet)),
        (steps[1], lambda: train(red, Y, steps=steps[1], record=[steps[1]], record_metrics=[], **quiet)),
    ):
        start = time.perf_counter()
        try:
            run()
        except TrainingDiverged as err:  # a learning rate above the stability edge: time the steps made
            k = max(int(err.step), 1)
        out.append((time.perf_counter() - start) / k)
    return out[0], out[1]


def outside_figure1(summary: dict, *, depth: int, condition_holds: bool) -> str:
    """Why a Figure 1b or 1c run (`summary` of it) is outside the claim's hypotheses, in words, or "" inside.

    Outside: fewer than three layers (Theorem 1 and the figures have d >= 3); data on which Theorem 1's
    condition holds (then an aligned start can stay aligned); gradient descent above its stability edge (the
    loss rose or diverged); or a run too short to have moved (`summary`'s ``long_enough``).

    Parameters
    ----------
    summary : dict of `summary`; depth : int, the number of layers d;
    condition_holds : bool, `deeplinear.theory.alignment_invariant` of the data.

    Returns
    -------
    str, "" inside; reasons joined by "; ". Paper: Theorem 1, Section 6 (Figures 1b and 1c).
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
    summary : dict of `summary`; depth : int, the number of layers d;
    condition_holds : bool, `deeplinear.theory.alignment_invariant` of the data.

    Returns
    -------
    str: "confirmed with a caveat" (as the ledger's rows read inside their hypotheses), or "not applicable: "
    and why (`outside_figure1`). Paper: Theorem 1, Section 6 (Figures 1b and 1c).
    """
    why = outside_figure1(summary, depth=depth, condition_holds=condition_holds)
    return f"not applicable: {why}" if why else "confirmed with a caveat"


def summary(run: TrainResult, threshold: float) -> dict:
    """The final numbers of a `train` run: what chapter 08 reports for each run.

    Parameters
    ----------
    run : TrainResult of `train` (history metrics "alignment" and "invariance").
    threshold : float, the loss below which training counts as finished (the released code's 1e-4).

    Returns
    -------
    dict with ``alignment_final`` and ``invariance_final`` (means over interfaces and over the fixed
    bases at the last record), ``alignment_lowest`` (the lowest such mean over the records),
    ``loss_initial``, ``loss_final``, ``steps`` (updates made), ``reached_threshold``, ``descended``
    (the loss fell at every step and did not diverge: the learning rate was below the stability edge,
    `deeplinear.training.descended`), ``flow_time`` (the learning rate times the steps made: the time of
    the gradient flow that gradient descent follows) and ``long_enough`` (the run reached the threshold or
    ran for a flow time of at least `FLOW_TIME`: shorter runs have hardly moved from their start).
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
