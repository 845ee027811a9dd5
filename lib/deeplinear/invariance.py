"""Theorem 1 measured (chapter 03): its runs, started as the theorem prescribes and sized by the draw.

`witness_start` and `sensing_start` build the aligned start the theorem prescribes on data that satisfy its
condition (regression, matrix sensing), with the learning rate the stability rule of `deeplinear.modes`
gives it; `regression_run` and `sensing_run` train the chapter's runs with the step budget their mode
dynamics predict, and `generic_sensing_run` the contrast, generic matrix sensing from its target's bases.
`common_bases` decides matrix sensing's condition robustly, and `turn_share`, the share of an update that
turns the start's singular bases, is the proof's own measure of leaving the aligned set (scale-free: the run
need not get far). Many problems at once, and other families of aligned starts, are in
`deeplinear.ensembles`; the theorem's boundary cases, two layers and rank-deficient layers, in
`deeplinear.boundaries`.

Paper: Radhakrishnan et al., Theorem 1, Corollary 1 and Section 4.2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _validate, aligned, theory
from .losses import MatrixSensing
from .modes import mode_losses, mode_sigmas, orders, stable_lr, train_halving
from .recording import History

__all__ = [
    "AlignedRun",
    "AlignedStart",
    "common_bases",
    "generic_sensing_run",
    "regression_run",
    "sensing_run",
    "sensing_start",
    "turn_share",
    "witness_start",
]


@dataclass(frozen=True)
class AlignedRun:
    """A run of `regression_run`, `sensing_run` or `deeplinear.boundaries.rank_one_run`: its ``history``, the
    learning rate it took (``lr``), the stability edge along its path (``edge``; ``lr <= edge / 2``) and
    ``budget_orders``, the orders of magnitude its reduced dynamics bring the loss down within the same steps
    (`deeplinear.modes.orders`).

    Attributes
    ----------
    history : History
        What the run recorded.
    lr : float
        The learning rate it took.
    edge : float
        The stability edge along its path (``lr <= edge / 2``).
    budget_orders : int
        Orders of magnitude its reduced dynamics bring the loss down within the same steps.
    """

    history: History
    lr: float
    edge: float
    budget_orders: int


def common_bases(
    M: np.ndarray, y: np.ndarray, tries: int = 3, *, rng: int | np.random.Generator | None = None
) -> tuple[bool, float, np.ndarray, np.ndarray]:
    """`deeplinear.theory.sensing_witness`, with up to ``tries`` random combinations of the ``M_i``: the first
    that finds common bases, else the one whose off-diagonal part is smallest. One combination misses them
    when two of its singular values nearly coincide (at k = 24, about once in 250 draws); three miss them
    together about once in 10^7.

    Parameters
    ----------
    M : ndarray
        (n, k, k), the measurement matrices.
    y : ndarray
        (n,), the observations.
    tries : int, optional
        Number of random combinations, >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple of (bool, float, ndarray, ndarray)
        ``(holds, off, U, V)`` as `deeplinear.theory.sensing_witness` returns them.

    Raises
    ------
    ValueError
        If ``rng`` or ``tries`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 4.2, matrix sensing.
    """
    rng = _validate.rng(rng)
    best = None
    for _ in range(_validate.integer(tries, "tries")):
        found = theory.sensing_witness(M, y, rng=rng)
        if best is None or found[1] < best[1]:
            best = found
        if found[0]:
            break
    return best


@dataclass(frozen=True)
class AlignedStart:
    """Theorem 1's aligned start on data that satisfy its condition (`witness_start`, `sensing_start`):
    the layers ``Ws``, the learning rate its run takes (``lr``, `deeplinear.modes.stable_lr`) and the
    stability ``edge``, and its mode dynamics: ``sigmas0`` (d, r), ``G``, ``targets`` and ``n`` as
    `deeplinear.modes.mode_losses` takes them.

    Attributes
    ----------
    Ws : list of ndarray
        The layers.
    lr : float
        The learning rate its run takes (`deeplinear.modes.stable_lr`).
    edge : float
        The stability edge.
    sigmas0 : ndarray
        (d, r), the starting singular values of the modes.
    G : ndarray
        As `deeplinear.modes.mode_losses` takes it.
    targets : ndarray
        As `deeplinear.modes.mode_losses` takes them.
    n : int
        Number of samples.
    """

    Ws: list[np.ndarray]
    lr: float
    edge: float
    sigmas0: np.ndarray
    G: np.ndarray
    targets: np.ndarray
    n: int

    def budget_orders(self, steps: int) -> int:
        """The orders of magnitude the mode dynamics bring the loss down in ``steps`` steps at ``lr``
        (`deeplinear.modes.orders` with a margin of half an order).

        Parameters
        ----------
        steps : int
            Number of gradient-descent steps, >= 0.

        Returns
        -------
        int
            Whole orders of magnitude, >= 0.

        Raises
        ------
        ValueError
            If an argument is not valid (the message names the parameter).
        """
        return orders(mode_losses(self.sigmas0, self.G, self.targets, lr=self.lr, steps=steps, n=self.n), 0.5)


def witness_start(
    X: np.ndarray, Y: np.ndarray, widths: Sequence[int], *, lr: float, rng: int | np.random.Generator | None = None
) -> AlignedStart:
    """The start Theorem 1 prescribes on regression data that satisfy its condition: outer bases from
    `deeplinear.theory.alignment_invariant_witness` (`deeplinear.theory.aligned_start_on` with
    ``outer="witness"``, the same draws from ``rng``), its learning rate by `deeplinear.modes.stable_lr` (full gradient
    descent: ``transverse=True``, ``lam = diag(V^T X X^T V)``, targets ``lam' / lam``).

    Parameters
    ----------
    X : ndarray
        (k_0, n), ``X X^T`` invertible
    Y : ndarray
        (k_d, n)
    widths : sequence of int
        [k_0, ..., k_d].
    lr : float
        > 0, the largest rate.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    AlignedStart
        AlignedStart (``G = lam``, a diagonal).

    Raises
    ------
    ValueError
        When the data fail the condition (no witness).

    References
    ----------
    Paper: Theorem 1, Corollary 1.
    """
    rng = _validate.rng(rng)
    X, Y = _validate.matrix(X, "X"), _validate.matrix(Y, "Y")
    U, V = theory.alignment_invariant_witness(X, Y)
    Ws = aligned.aligned_start(V, U, widths, rng=rng)
    lam = np.einsum("ai,ab,bi->i", V, X @ X.T, V)
    if not (lam > 0).all():
        raise ValueError("X X^T must be invertible (n >= k_0 samples in general position)")
    r = min(len(U), len(V))
    lam_prime = np.zeros_like(lam)
    lam_prime[:r] = np.einsum("ai,ab,bi->i", U[:, :r], Y @ X.T, V[:, :r])
    sigmas0, n = mode_sigmas(Ws, V), X.shape[1]
    lr_run, edge = stable_lr(lr, sigmas0, lam_prime / lam, lam, n)
    return AlignedStart(Ws, lr_run, edge, sigmas0, lam, lam_prime / lam, n)


def sensing_start(
    M: np.ndarray, y: np.ndarray, widths: Sequence[int], *, lr: float, rng: int | np.random.Generator | None = None
) -> AlignedStart:
    """The start Theorem 1 prescribes on matrix sensing with ``M_i = U Lambda_i V^T``: that of
    `deeplinear.theory.aligned_start_sensing` (the same draws from ``rng``), its learning rate by
    `deeplinear.modes.stable_lr` with ``transverse=False`` (the loss sees only the diagonal of ``U^T W V``)
    and the largest eigenvalue of ``G = D^T D``, ``D_ij = (U^T M_i V)_jj``, for every mode; targets the least-squares
    solution of ``D p = y``.

    Parameters
    ----------
    M : ndarray
        (n, k, k)
    y : ndarray
        (n,)
    widths : sequence of int
        [k, ..., k]
    lr : float
        > 0, the largest rate.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    AlignedStart
        AlignedStart (``G = D^T D``).

    Raises
    ------
    ValueError
        When the measurements share no singular bases.

    References
    ----------
    Paper: Section 4.2, matrix sensing; Corollary 1.
    """
    rng = _validate.rng(rng)
    holds, off, U, V = common_bases(M, y, rng=rng)
    if not holds:
        raise ValueError(f"the M_i share no singular bases (off-diagonal part {off:.1e}): no aligned start")
    Ws = aligned.aligned_start(V, U, widths, rng=rng)
    D = np.einsum("ai,nab,bi->ni", U, np.asarray(M, dtype=np.float64), V)
    G, targets, sigmas0 = D.T @ D, np.linalg.lstsq(D, y, rcond=None)[0], mode_sigmas(Ws, V)
    top = np.full(len(G), np.linalg.eigvalsh(G)[-1])  # bounds the curvature of every mode
    lr_run, edge = stable_lr(lr, sigmas0, targets, top, len(D), transverse=False)
    return AlignedStart(Ws, lr_run, edge, sigmas0, G, targets, len(D))


def _aligned_run(start: AlignedStart, X, Y, steps: int, metrics: Any, loss: Any = "squared") -> AlignedRun:
    result, lr_run = train_halving(start.Ws, X, Y, lr=start.lr, steps=steps, metrics=metrics, loss=loss)
    return AlignedRun(result.history, float(lr_run), start.edge, start.budget_orders(steps))


def regression_run(
    X: np.ndarray,
    Y: np.ndarray,
    widths: Sequence[int],
    *,
    lr: float,
    steps: int,
    metrics: Any = ("invariance",),
    rng: int | np.random.Generator | None = None,
) -> AlignedRun:
    """`witness_start` trained for ``steps`` steps at its learning rate (`deeplinear.modes.train_halving`), with
    ``budget_orders`` from its mode dynamics.

    Parameters
    ----------
    X : ndarray
        As for `witness_start`
    Y : ndarray
        As for `witness_start`
    widths : sequence of int
        As for `witness_start`
    lr : float
        As for `witness_start`
    steps : int
        Number of gradient-descent steps, >= 0.
    metrics : object, optional
        As for `deeplinear.train`.
    rng : int, Generator or None, optional
        As for `witness_start`

    Returns
    -------
    AlignedRun
        AlignedRun.

    Raises
    ------
    ValueError
        If ``rng`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1, Corollary 1, Section 4.2.
    """
    rng = _validate.rng(rng)
    return _aligned_run(witness_start(X, Y, widths, lr=lr, rng=rng), X, Y, steps, metrics)


def sensing_run(
    M: np.ndarray,
    y: np.ndarray,
    widths: Sequence[int],
    *,
    lr: float,
    steps: int,
    metrics: Any = ("invariance",),
    rng: int | np.random.Generator | None = None,
) -> AlignedRun:
    """`sensing_start` trained with `deeplinear.losses.MatrixSensing` for ``steps`` steps at its learning
    rate (`deeplinear.modes.train_halving`), with ``budget_orders`` from its mode dynamics.

    Parameters
    ----------
    M : ndarray
        As for `sensing_start`
    y : ndarray
        As for `sensing_start`
    widths : sequence of int
        As for `sensing_start`
    lr : float
        As for `sensing_start`
    steps : int
        Number of gradient-descent steps, >= 0.
    metrics : object, optional
        As for `deeplinear.train`.
    rng : int, Generator or None, optional
        As for `sensing_start`

    Returns
    -------
    AlignedRun
        AlignedRun.

    Raises
    ------
    ValueError
        If ``rng`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 4.2, matrix sensing; Corollary 1.
    """
    rng = _validate.rng(rng)
    return _aligned_run(sensing_start(M, y, widths, lr=lr, rng=rng), None, None, steps, metrics, MatrixSensing(M, y))


def generic_sensing_run(
    problem: Any, widths: Sequence[int], *, lr: float, steps: int, rng: int | np.random.Generator | None = None
) -> History:
    """Matrix sensing from the aligned start on the target's own bases, ``V_1 = problem.V`` and
    ``U_d = problem.U`` (`deeplinear.aligned.aligned_start`, the same draws from ``rng``), trained with
    `deeplinear.losses.MatrixSensing` by `deeplinear.modes.train_halving`, recording the invariance. Generic
    measurements share no bases, so Theorem 1 prescribes no start: this is the nearest one.

    Parameters
    ----------
    problem : object
        `deeplinear.data.SensingProblem`
    widths : sequence of int
        [k, ..., k].
    lr : float
        > 0, the largest rate
    steps : int
        Number of gradient-descent steps, >= 0.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    History
        History.

    Raises
    ------
    ValueError
        If ``rng`` or ``problem`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 4.2, matrix sensing (the contrast: generic M_i).
    """
    rng = _validate.rng(rng)
    if not all(hasattr(problem, a) for a in ("M", "y", "U", "V")):
        raise ValueError(f"problem must be a deeplinear.data.SensingProblem, got {type(problem).__name__}")
    start = aligned.aligned_start(problem.V, problem.U, widths, rng=rng)
    loss = MatrixSensing(problem.M, problem.y)
    result, _ = train_halving(start, None, None, loss=loss, lr=lr, steps=steps, metrics=("invariance",))
    return result.history


def turn_share(Ws0: Sequence[np.ndarray], Ws: Sequence[np.ndarray]) -> float | np.ndarray:
    """The share of the update ``W(t) - W(0)`` that turns the start's singular bases: with ``U_i, V_i`` the
    (full) singular bases of ``W_i(0)``, ``sqrt(sum_i ||off(U_i^T (W_i(t) - W_i(0)) V_i)||^2) /
    sqrt(sum_i ||W_i(t) - W_i(0)||^2)``, ``off`` the part off the (rectangular) diagonal.

    0 for an aligned start that gradient descent keeps aligned (Theorem 1's "if", up to rounding); for one
    that leaves, a number of order one however short or slow the run (it is scale-free). The bases must be
    unique: distinct singular values at the start.

    Parameters
    ----------
    Ws0 : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or stacked (S, k_i, k_{i-1})
    Ws : sequence of ndarray
        Same shapes.

    Returns
    -------
    float or ndarray
        Float, or ndarray (S,) for stacked networks.

    Raises
    ------
    ValueError
        When nothing moved (``W(t) = W(0)``, for some member of a stack): the share is then 0 / 0.

    References
    ----------
    Paper: Theorem 1 (its key step: the update of an aligned network in its bases, eq. (4)).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.invariance import turn_share
    >>> Ws0 = [np.diag([3.0, 2.0]), np.diag([2.0, 1.0])]
    >>> turn_share(Ws0, [2 * W for W in Ws0])  # the update keeps the singular bases
    0.0
    """
    first, S = _validate.network(Ws0, "Ws0")
    now, _ = _validate.network(Ws, "Ws")
    if [W.shape for W in first] != [W.shape for W in now]:
        raise ValueError("Ws must have the same layer shapes as Ws0")
    off, total = 0.0, 0.0
    for W0, W in zip(first, now):
        U, _, Vt = np.linalg.svd(W0)
        C = np.swapaxes(U, -1, -2) @ (W - W0) @ np.swapaxes(Vt, -1, -2)
        eye = np.eye(*C.shape[-2:], dtype=bool)
        off = off + (C**2 * ~eye).sum(axis=(-2, -1))
        total = total + (C**2).sum(axis=(-2, -1))
    if np.any(np.asarray(total) == 0):
        raise ValueError("Ws: nothing moved from Ws0 (W(t) = W(0)), so the share of the update is 0 / 0")
    share = np.sqrt(off / total)
    return float(share) if S is None else share
