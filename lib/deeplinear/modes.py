"""Corollary 1's mode dynamics as a tool: the learning rate and step budget a run takes, from its draw.

Where Theorem 1's condition holds, an aligned start with the witness's outer bases stays aligned, and its
singular values follow Corollary 1's mode dynamics. That makes two things computable before a run:

- *the stability edge along the path*: gradient flow keeps ``sigma_i^2 - sigma_j^2`` of every mode
  (`flow_minimum` solves for the minimum it reaches), so the singular values of every layer lie between
  the start and that minimum, and `deeplinear.convergence.edges_of_stability` at the larger of the two bounds
  the curvature on the whole path. A run takes at most half that edge (`stable_lr`);
- *what the step budget allows*: the mode dynamics at that learning rate (`mode_losses`), run for the
  same number of steps, say how many orders of magnitude the loss can fall (`orders`).

`mode_sigmas` reads a start's singular values mode by mode. For data without such a theory (random data),
`train_halving` caps a run's rate at half the Gauss-Newton edge at its start (`start_lr`) and reruns a run
that diverges at half its (member's) rate.

Paper: Radhakrishnan et al., Corollary 1 (the book's stability rule; chapter 04 measures the edges).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _validate
from .convergence import edges_of_stability
from .losses import MatrixSensing
from .recording import History, TrainingDiverged, TrainResult
from .training import train

__all__ = [
    "MAX_ORDERS",
    "flow_minimum",
    "mode_losses",
    "mode_sigmas",
    "orders",
    "stable_lr",
    "start_lr",
    "train_halving",
]

MAX_ORDERS = 20  # loss reductions are counted up to here (beyond, the loss is at rounding level)


def mode_sigmas(Ws: Sequence[np.ndarray], V: np.ndarray) -> np.ndarray:
    """The singular values of an aligned network mode by mode: ``v_j`` (column j of ``V``) pushed through
    the layers, ``sigma_ij = ||W_i … W_1 v_j|| / ||W_{i-1} … W_1 v_j||`` (0 once a layer kills it).

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), aligned with first basis ``V`` (Definition 2).
    V : ndarray
        (k_0, k_0), orthonormal.

    Returns
    -------
    ndarray
        (d, k_0); for ``W_i = Q_i Sigma_i Q_{i-1}^T`` with ``Q_0 = V``, entry (i, j) is the j-th diagonal
        entry of ``Sigma_i`` (0 beyond the layer's rank).

    Raises
    ------
    ValueError
        If ``Ws`` or ``V`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 2, Corollary 1.
    """
    layers, _ = _validate.network(Ws)
    V = _validate.matrix(V, "V", layers[0].shape[1])
    h, out = V, []
    for W in layers:
        before = np.linalg.norm(h, axis=0)
        h = W @ h
        after = np.linalg.norm(h, axis=0)
        out.append(np.divide(after, before, out=np.zeros_like(after), where=before > 0))
    return np.array(out)


def flow_minimum(sigmas0: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The singular values at which gradient flow of the mode dynamics stops: for each mode j,
    ``sigma_ij^2 = sigma0_ij^2 + s_j`` (flow keeps the differences ``sigma_ij^2 - sigma_lj^2``) with ``s_j``
    such that ``prod_i sigma_ij`` equals ``max(target_j, 0)``.

    Parameters
    ----------
    sigmas0 : ndarray
        (d, r), non-negative
    targets : ndarray
        (r,), the products the modes reach.

    Returns
    -------
    ndarray
        (d, r).

    Raises
    ------
    ValueError
        If ``sigmas0`` or ``targets`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1 (the conserved imbalance of each mode; Arora et al. 2018).

    Examples
    --------
    >>> import numpy as np
    >>> np.round(flow_minimum(np.array([[1.0], [0.0]]), np.array([np.sqrt(2.0)])), 6).ravel().tolist()
    [1.414214, 1.0]
    """
    s0 = np.asarray(sigmas0, dtype=np.float64)
    if s0.ndim != 2 or s0.size == 0 or not np.isfinite(s0).all() or (s0 < 0).any():
        raise ValueError(f"sigmas0 must be a finite non-negative (d, r) array, got shape {s0.shape}")
    target = np.maximum(_validate.vector(targets, "targets", s0.shape[1]), 0.0)
    sq = s0**2
    low = -sq.min(axis=0)
    high = target ** (2 / len(s0)) + sq.max(axis=0)  # every factor at least target^(1/d) there
    for _ in range(200):
        mid = 0.5 * (low + high)
        above = np.sqrt(np.maximum(sq + mid, 0.0)).prod(axis=0) >= target
        high, low = np.where(above, mid, high), np.where(above, low, mid)
    high = np.where(target > 0, high, -sq.min(axis=0))  # a zero target: the smallest value reaches 0
    return np.sqrt(np.maximum(sq + high, 0.0))


def stable_lr(
    lr: float, sigmas0: np.ndarray, targets: np.ndarray, lam: np.ndarray, n: int, *, transverse: bool = True
) -> tuple[float, float]:
    """The learning rate a run from an aligned start takes: ``min(lr, edge / 2)``.

    ``edge`` is `deeplinear.convergence.edges_of_stability` at the elementwise larger of ``sigmas0`` and
    their `flow_minimum` (each mode's singular values move monotonically between the two, so this
    bounds the Gauss-Newton curvature on the whole path): the edge over all pairs of modes
    (``transverse=True``, full gradient descent on regression data) or over the modes alone
    (``transverse=False``: matrix sensing, whose loss does not see off-diagonal entries, with ``lam``
    the largest eigenvalue of the measurements' Gram matrix for every mode).

    Parameters
    ----------
    lr : float
        > 0, the largest rate allowed
    sigmas0 : ndarray
        (d, r), the starting singular values of the modes.
    targets : ndarray
        (r,), the mode targets.
    lam : ndarray
        (r,), ``diag(U^T Y X^T V)[:r]``, the targets of Corollary 1.
    n : int
        >= 1
    transverse : bool, optional
        Take the edge over all pairs of modes (True) or over the modes alone (False).

    Returns
    -------
    tuple
        (lr_run, edge) : floats.

    Raises
    ------
    ValueError
        If ``lr`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1, Proposition 1 (the book's stability rule, chapter 04).
    """
    _validate.positive(lr, "lr")
    sigmas0 = np.asarray(sigmas0, dtype=np.float64)
    peak = np.maximum(sigmas0, flow_minimum(sigmas0, targets))
    reduced, full = edges_of_stability(peak, lam, n)
    edge = full if transverse else reduced
    return min(float(lr), edge / 2), edge


def mode_losses(
    sigmas0: np.ndarray, G: np.ndarray, targets: np.ndarray, *, lr: float, steps: int, n: int
) -> np.ndarray:
    """The loss along gradient descent on the singular values of a strongly aligned network (Corollary 1)
    whose loss, as a function of the mode products ``p``, is ``(p - p*)^T G (p - p*) / (2n)``.

    Regression on data that satisfy Theorem 1's condition has ``G = diag(lam)`` and ``p* = lam' / lam``
    (`deeplinear.dynamics.singular_value_dynamics` is that case); matrix sensing with ``M_i = U Lambda_i V^T``
    has ``G = D^T D``, ``D_ij = (U^T M_i V)_jj``. Stops early (repeating the last value) once the loss is
    below ``1e-25`` times its start.

    Parameters
    ----------
    sigmas0 : ndarray
        (d, r)
    G : ndarray
        (r,) (a diagonal) or (r, r), symmetric positive semi-definite.
    targets : ndarray
        (r,), ``p*``
    lr : float
        > 0
    steps : int
        >= 0
    n : int
        >= 1.

    Returns
    -------
    ndarray
        (steps + 1,), the loss after each step, the start first; finite.

    Raises
    ------
    deeplinear.training.TrainingDiverged
        When the loss is no longer finite (``lr`` above the stability edge of the mode dynamics), with the
        losses before it as its ``history``.

    References
    ----------
    Paper: Corollary 1, eqs. (5)-(6).
    """
    s = np.array(sigmas0, dtype=np.float64)
    if s.ndim != 2 or 0 in s.shape or not np.isfinite(s).all():
        raise ValueError(f"sigmas0 must be a finite array (d, r), got shape {s.shape}")
    d, r = s.shape
    p_star = _validate.vector(targets, "targets", r)
    G = np.asarray(G, dtype=np.float64)
    if G.shape not in ((r,), (r, r)) or not np.isfinite(G).all():
        raise ValueError(f"G must be a finite array ({r},) or ({r}, {r}), got shape {G.shape}")
    steps = _validate.count(steps, "steps")
    lr = _validate.positive(lr, "lr")
    n = _validate.integer(n, "n")
    out = np.empty(steps + 1)
    prefix, suffix = np.ones((d + 1, r)), np.ones((d + 1, r))
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            e = s.prod(axis=0) - p_star
            ge = G @ e if G.ndim == 2 else G * e
            out[t] = 0.5 * float(e @ ge) / n
            if not np.isfinite(out[t]) and t == 0:
                raise ValueError(f"sigmas0, G, targets: the initial loss is not finite ({out[0]!r})")
            if not np.isfinite(out[t]):
                raise TrainingDiverged(
                    f"the mode dynamics diverged at step {t}: loss = {out[t]:.6g} is not finite, with lr = "
                    f"{lr:.6g}; lower lr (e.g. lr = {lr / 2:.3g})",
                    step=t,
                    loss=float(out[t]),
                    lr=lr,
                    member=None,
                    history=History(steps=np.arange(t), loss=out[:t].copy(), lr=np.full(t, lr)),
                )
            if t == steps or out[t] < 1e-25 * out[0]:
                out[t:] = out[t]
                break
            np.cumprod(s, axis=0, out=prefix[1:])
            suffix[:d] = np.cumprod(s[::-1], axis=0)[::-1]
            s = s - (lr / n) * prefix[:d] * suffix[1:] * ge
    return out


def orders(losses: np.ndarray, margin: float = 0.0) -> int:
    """Whole orders of magnitude the last loss lies below the first, ``floor(log10(L_0 / L_T) - margin)``, at
    most `MAX_ORDERS` (a last loss of zero counts as `MAX_ORDERS`; one that is not finite, as 0).

    A prediction is counted with ``margin = 0.5``: a run that follows it to within a factor of 3 then
    counts at least as many orders as the prediction does.

    Parameters
    ----------
    losses : ndarray
        (T,), the losses.
    margin : float, optional
        Orders subtracted before rounding down, >= 0.

    Returns
    -------
    int
        Whole orders, in [0, `MAX_ORDERS`].

    Raises
    ------
    ValueError
        If ``losses`` or ``margin`` is not valid (the message names the parameter).
    """
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 1 or len(losses) == 0:
        raise ValueError(f"losses must be a non-empty 1-D array, got shape {losses.shape}")
    _validate.number(margin, "margin")
    first, last = float(losses[0]), float(losses[-1])
    if not np.isfinite(last) or first <= 0:
        return 0
    if last <= 0:
        return MAX_ORDERS
    return int(min(np.floor(np.log10(first / last) - margin), MAX_ORDERS))


def start_lr(Ws: Sequence[np.ndarray], X: np.ndarray | None, loss: Any = "squared") -> float | np.ndarray:
    """Half the stability edge of the Gauss-Newton curvature at ``Ws``, bounded above:
    ``1 / (c sum_i prod_{j != i} ||W_j||_2^2)``, with ``c`` the curvature of the loss in the network's output:
    the largest eigenvalue of ``X X^T / n`` for the squared loss (1/n for ``X = None``), that of the
    measurements' Gram matrix over n for `deeplinear.losses.MatrixSensing`.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or stacked (S, k_i, k_{i-1})
    X : ndarray or None
        (k_0, n) or (S, k_0, n), or None (the identity, and for a `deeplinear.losses.MatrixSensing` loss).
    loss : object, optional
        "squared" or a `deeplinear.losses.MatrixSensing`.

    Returns
    -------
    float or ndarray
        Float, or ndarray (S,) for stacked networks.

    Raises
    ------
    ValueError
        If the curvature is 0 (every layer but at most one is 0, or ``X`` is 0): no edge bounds the rate.

    References
    ----------
    Paper: the book's stability rule (no paper gives a learning rate for these problems).
    """
    rate = _start_lr(Ws, X, loss)
    if not np.all(np.isfinite(rate)):
        raise ValueError("Ws, X: the Gauss-Newton curvature is 0 (zero layers or zero data): no edge bounds the rate")
    return rate


def _start_lr(Ws, X, loss) -> float | np.ndarray:
    """`start_lr`, inf where the curvature is 0 (then any rate is below the edge)."""
    layers, S = _validate.network(Ws)
    norms2 = np.stack([np.linalg.norm(W, 2, axis=(-2, -1)) ** 2 for W in layers])  # (d,) or (d, S)
    others = sum(np.prod(np.delete(norms2, i, axis=0), axis=0) for i in range(len(layers)))
    if isinstance(loss, MatrixSensing):
        flat = loss.M.reshape(*loss.M.shape[:-2], -1)
        c = np.linalg.norm(flat, 2, axis=(-2, -1)) ** 2 / flat.shape[-2]
    elif X is None:
        c = 1.0 / layers[0].shape[-1]
    else:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim not in (2, 3) or X.shape[-2] != layers[0].shape[-1] or 0 in X.shape or not np.isfinite(X).all():
            raise ValueError(f"X must be a finite (k_0, n) or (S, k_0, n) array with k_0 = {layers[0].shape[-1]}")
        c = np.linalg.norm(X, 2, axis=(-2, -1)) ** 2 / X.shape[-1]
    with np.errstate(divide="ignore"):
        return 1 / (c * others)


def train_halving(
    Ws: Sequence[np.ndarray],
    X: np.ndarray | None,
    Y: np.ndarray | None,
    *,
    lr: Any,
    steps: int,
    tries: int | None = None,
    **kwargs: Any,
) -> tuple[TrainResult, Any]:
    """`deeplinear.train` at a rate that adapts to the draw: ``lr`` (per member for an ensemble), at most
    `start_lr`; a run that diverges (as a run from a stable start can, once it nears a sharper minimum) is
    rerun with the diverged member's rate halved, at most ``tries`` times in all (default ``8 + S``).

    Parameters
    ----------
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).
    X : ndarray or None
        Inputs (k_0, n), samples as columns (None: the identity, where allowed).
    Y : ndarray or None
        Targets (k_d, n), samples as columns.
    lr : object
        Learning rate, > 0.
    steps : int
        Number of gradient-descent steps, >= 0.
    tries : int or None, optional
        Most runs in all (default ``8 + S``).
    **kwargs : object
        Passed on to `deeplinear.train`.

    Returns
    -------
    tuple
        (result, lr) : the `TrainResult` and the rate it ran at (a float, or an array (S,) for an ensemble).

    Raises
    ------
    TrainingDiverged
        When the last try diverges too.
    """
    _, S = _validate.network(Ws)
    lr = np.minimum(lr, _start_lr(Ws, X, kwargs.get("loss", "squared")))
    tries = 8 + (S or 0) if tries is None else _validate.integer(tries, "tries")
    for attempt in range(tries):
        try:
            result = train(Ws, X, Y, lr=lr if S else float(lr), steps=steps, **kwargs)
            break
        except TrainingDiverged as err:
            if attempt == tries - 1:
                raise
            lr = np.array(lr, dtype=np.float64)
            if err.member is None:
                lr = lr / 2
            else:
                lr[err.member] /= 2
    return result, (np.asarray(lr) if S else float(lr))
