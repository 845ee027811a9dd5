"""Deep linear networks with one-dimensional outputs on linearly separable data.

Ji and Telgarsky train ``W_prod = W_L ... W_1`` (shape (1, k_0)) by gradient descent on the risk
``R(W) = (1/n) sum_i l(y_i W_prod x_i)`` of separable data. This module holds what their theorems
are about: the start of Assumption 1.2 (`gaussian_layers`, `below_loss_at_zero`, both in
`gaussian_start`), the support vectors
of Assumption 2.7, the direction of ``W_prod`` and its angle and margin gap to the maximum-margin
separator ``u-bar`` (`deeplinear.theory.max_margin`), the measurements a run records
(`measurements`), the rates of Soudry et al. (`inverse_log_fit`, `loglog_slope`, `rate_summary`), and
Radhakrishnan et al.'s Appendix F start that stays aligned under any loss (`rank_one_start`,
`inner_vectors_moved`, `alignment_measurements`). Step-size schedules are in `deeplinear.schedules`.

A network is ``Ws = [W_1, ..., W_L]``, ``W_i`` of shape ``(k_i, k_{i-1})`` with ``k_L = 1``; data ``X`` is
``(k_0, n)``, labels ``Y`` are ``(1, n)`` in {-1, +1}.

Paper: Ji & Telgarsky, Sections 2-3 (Assumptions 1.1, 1.2, 2.7; Theorem 2.2); Radhakrishnan et al.,
Section 4.2 and Appendix F.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import metrics, network
from .schedules import LOSS_AT_ZERO

__all__ = [
    "alignment_measurements",
    "angle_to",
    "below_loss_at_zero",
    "direction",
    "first_layer_alignment",
    "first_step_at_most",
    "gaussian_layers",
    "gaussian_start",
    "inner_vectors_moved",
    "inverse_log_fit",
    "layer_margin_gap",
    "loglog_slope",
    "margin_gap",
    "measurements",
    "product_alignment",
    "rank_one_start",
    "rate_summary",
    "support_vectors",
]


def _widths(widths: Sequence[int]) -> list[int]:
    ws = list(widths)
    if len(ws) < 2 or any(isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1 for w in ws):
        raise ValueError(f"widths must be [k_0, ..., k_L] with L >= 1 positive integers, got {widths!r}")
    return [int(w) for w in ws]


def gaussian_layers(widths: Sequence[int], rng: np.random.Generator, *, scale: float = 0.2) -> list[np.ndarray]:
    """Layers ``W_i`` (widths[i], widths[i-1]) with independent entries ``N(0, scale^2 / widths[i-1])``.

    Drawn layer by layer, first layer first (one ``rng.standard_normal`` call per layer).

    Parameters
    ----------
    widths : [k_0, ..., k_L], positive integers, L >= 1.
    rng : numpy Generator.
    scale : positive float, the standard deviation times ``sqrt(fan-in)``.

    Returns
    -------
    list of L arrays (k_i, k_{i-1}).

    Paper: Ji & Telgarsky, Section 2 (any start with Assumption 1.2; a small Gaussian one here).
    """
    ws = _widths(widths)
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    return [rng.standard_normal((b, a)) * scale / np.sqrt(a) for a, b in zip(ws[:-1], ws[1:])]


def below_loss_at_zero(Ws: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray, loss: str = "logistic") -> list:
    """The network, with its last layer's sign flipped if needed so that ``R(W(0)) < l(0)``.

    For a small start, ``R(+-W_prod) = l(0) +- l'(0) mean_i y_i W_prod x_i + O(||W_prod||^2)``, so one of
    the two signs has ``R < l(0)`` unless the first-order term vanishes. For a large start both signs
    may have ``R >= l(0)`` (convexity only gives ``R(W_prod) + R(-W_prod) >= 2 l(0)``); the flipped
    network is returned then, and the caller should check ``R``.

    Parameters
    ----------
    Ws : list of L arrays (k_i, k_{i-1}), k_L = 1. Not modified.
    X : ndarray (k_0, n); Y : ndarray (1, n), labels in {-1, +1}.
    loss : "logistic" or "exponential".

    Returns
    -------
    list of L arrays: ``Ws`` itself or ``Ws[:-1] + [-Ws[-1]]``.

    Paper: Ji & Telgarsky, Assumption 1.2.
    """
    if loss not in LOSS_AT_ZERO:
        raise ValueError(f"loss must be one of {sorted(LOSS_AT_ZERO)}, got {loss!r}")
    Ws = list(Ws)
    if network.loss(Ws, X, Y, loss) >= LOSS_AT_ZERO[loss]:
        Ws = Ws[:-1] + [-Ws[-1]]
    return Ws


def gaussian_start(
    widths: Sequence[int],
    X: np.ndarray,
    Y: np.ndarray,
    rng: np.random.Generator,
    *,
    scale: float = 0.2,
    loss: str = "logistic",
) -> list[np.ndarray]:
    """`gaussian_layers`, then `below_loss_at_zero`: a small Gaussian start with ``R(W(0)) < l(0)``.

    Paper: Ji & Telgarsky, Assumption 1.2.
    """
    return below_loss_at_zero(gaussian_layers(widths, rng, scale=scale), X, Y, loss)


def support_vectors(X: np.ndarray, Y: np.ndarray, u_bar: np.ndarray, gamma: float, *, rtol: float = 1e-9) -> np.ndarray:
    """Which points are support vectors: ``y_i <u_bar, x_i> = gamma`` up to ``rtol * max(gamma, 1)``.

    Parameters
    ----------
    X : ndarray (k_0, n); Y : ndarray (n,) or (1, n); u_bar : ndarray (k_0,); gamma : float > 0,
    as `deeplinear.theory.max_margin` returns them.

    Returns
    -------
    ndarray (n,) of bools. Assumption 2.7 asks that the support vectors span ``R^{k_0}``.

    Paper: Ji & Telgarsky, Section 2 and Assumption 2.7.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(Y, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or y.shape != (X.shape[1],) or np.shape(u_bar) != (X.shape[0],):
        raise ValueError(
            f"X (k_0, n), Y (n,) or (1, n) and u_bar (k_0,) must agree, got {X.shape}, {np.shape(Y)}, {np.shape(u_bar)}"
        )
    margins = y * (np.asarray(u_bar) @ X)
    return np.abs(margins - gamma) <= rtol * max(gamma, 1.0)


def direction(Ws: Sequence[np.ndarray]) -> np.ndarray:
    """``W_prod / ||W_prod||``, shape (k_0,), for a network with one output.

    Paper: Ji & Telgarsky, Theorem 2.2 and Section 2 (``W_prod / ||W_prod|| -> u-bar``).
    """
    w = network.end_to_end(Ws)
    if w.shape[0] != 1 or w.ndim != 2:
        raise ValueError(f"Ws must have one output (W_L of shape (1, k_{{L-1}})), got W_prod of shape {w.shape}")
    w = w.ravel()
    return w / np.linalg.norm(w)


def angle_to(Ws: Sequence[np.ndarray], u: np.ndarray) -> float:
    """The angle in degrees, in [0, 180], between ``W_prod`` and the unit vector ``u`` (k_0,).

    Computed as ``atan2(sqrt(1 - cos^2), cos)`` from ``cos = <W_prod / ||W_prod||, u>``: its relative
    rounding error is about ``1e-16 / angle^2`` (angle in radians), 1e-8 at 0.006 degrees.

    Paper: Ji & Telgarsky, Section 2 (convergence in direction to u-bar).
    """
    cos = float(np.clip(direction(Ws) @ u, -1.0, 1.0))
    return float(np.degrees(np.arctan2(np.sqrt(max(1.0 - cos * cos, 0.0)), cos)))


def margin_gap(Ws: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray, gamma: float) -> float:
    """``gamma - min_i y_i <W_prod / ||W_prod||, x_i>``: 0 at the maximum-margin direction, > 0 elsewhere.

    Paper: Ji & Telgarsky, Section 2 (gamma); `deeplinear.metrics.margin`.
    """
    return gamma - metrics.margin(network.end_to_end(Ws), X, Y)


def product_alignment(Ws: Sequence[np.ndarray]) -> float:
    """``|<W_prod / prod_k ||W_k||_F, v_1>|``, in [0, 1], with ``v_1`` the top right singular vector of ``W_1``.

    1 exactly when every layer is rank one, adjacent layers are aligned and ``W_prod`` points along ``v_1``
    (``|<W_prod, v_1>| <= ||W_prod|| <= prod_k ||W_k||_2 <= prod_k ||W_k||_F``).

    Paper: Ji & Telgarsky, Theorem 2.2 (``|<W_prod / prod_k ||W_k||_F, v_1>| -> 1``).
    """
    w = network.end_to_end(Ws)
    if w.shape[0] != 1 or w.ndim != 2:
        raise ValueError(f"Ws must have one output (W_L of shape (1, k_{{L-1}})), got W_prod of shape {w.shape}")
    v1 = np.linalg.svd(Ws[0])[2][0]
    return float(abs(w.ravel() @ v1) / np.prod([np.linalg.norm(W) for W in Ws]))


def first_layer_alignment(Ws: Sequence[np.ndarray], u: np.ndarray) -> float:
    """``|<v_1, u>|``, with ``v_1`` the top right singular vector of ``W_1`` and ``u`` a unit vector (k_0,).

    Paper: Ji & Telgarsky, Sections 2 and 3, maximum-margin theorems (``|<v_1, u-bar>| -> 1``).
    """
    return float(abs(np.linalg.svd(Ws[0])[2][0] @ np.asarray(u, dtype=np.float64)))


def layer_margin_gap(Ws: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray, gamma: float) -> float:
    """``gamma - min_i y_i (W_L/||W_L||_F ... W_1/||W_1||_F) x_i``: the margin corollary's distance to its limit.

    The corollary's limit, ``max_{||A_k||_F = 1} min_i y_i A_L ... A_1 x_i``, is ``gamma``: ``||A_L ... A_1||
    <= prod_k ||A_k||_F = 1``, with equality for rank-one layers along ``u-bar``. Unlike `margin_gap`, the
    product is normalised by the layers' norms, so the gap is also > 0 while the layers are not rank one
    and aligned.

    Paper: Ji & Telgarsky, Sections 2 and 3, the corollaries of the maximum-margin theorems.
    """
    w = network.end_to_end(Ws) / np.prod([np.linalg.norm(W) for W in Ws])
    return float(gamma - np.min(np.asarray(Y).ravel() * (w @ X).ravel()))


def measurements(X: np.ndarray, Y: np.ndarray, *, alignment: bool = True) -> dict[str, Callable]:
    """What a run on separable data records, as `deeplinear.train`'s ``metrics=`` mapping.

    Returns
    -------
    dict name -> fn(Ws): "angle" (`angle_to` u-bar, degrees), "gap" (`margin_gap`), "direction"
    (`direction`, (k_0,)), "norms" (``||W_i||_F``, (L,)), "rank_one" (`metrics.rank_one_ratio` of each
    layer, (L,)), "product_v1" (`product_alignment`), "v1_ubar" (`first_layer_alignment` with u-bar),
    "layer_gap" (`layer_margin_gap`) and, with ``alignment``, "alignment" (`metrics.top_alignment`, (L-1,)). u-bar and
    gamma come from `deeplinear.theory.max_margin` (computed once here).

    Paper: Ji & Telgarsky, Theorem 2.2, their Figure 1.
    """
    from .theory import max_margin

    u_bar, gamma = max_margin(X, Y)
    tracked = {
        "angle": lambda Ws: angle_to(Ws, u_bar),
        "gap": lambda Ws: margin_gap(Ws, X, Y, gamma),
        "direction": direction,
        "norms": lambda Ws: [np.linalg.norm(W) for W in Ws],
        "rank_one": lambda Ws: [metrics.rank_one_ratio(W) for W in Ws],
        "product_v1": product_alignment,
        "v1_ubar": lambda Ws: first_layer_alignment(Ws, u_bar),
        "layer_gap": lambda Ws: layer_margin_gap(Ws, X, Y, gamma),
    }
    if alignment:
        tracked["alignment"] = metrics.top_alignment
    return tracked


def alignment_measurements(Ws0: Sequence[np.ndarray]) -> dict[str, Callable]:
    """What a run from an aligned start records, as `deeplinear.train`'s ``metrics=`` mapping.

    Returns
    -------
    dict name -> fn(Ws): "alignment" (`metrics.top_alignment`, (L-1,)), "rank_one"
    (`metrics.rank_one_ratio` of each layer, (L,)) and "moved" (`inner_vectors_moved` since ``Ws0``).

    Paper: Radhakrishnan et al., Definition 3 and Appendix F.
    """
    return {
        "alignment": metrics.top_alignment,
        "rank_one": lambda Ws: [metrics.rank_one_ratio(W) for W in Ws],
        "moved": inner_vectors_moved(Ws0),
    }


def _series(steps, values) -> tuple[np.ndarray, np.ndarray]:
    steps, values = np.asarray(steps), np.asarray(values, dtype=np.float64)
    if steps.ndim != 1 or values.shape != steps.shape:
        raise ValueError(f"steps and values must be 1-D of the same length, got {steps.shape} and {values.shape}")
    return steps, values


def inverse_log_fit(steps: np.ndarray, values: np.ndarray, *, start: float) -> tuple[float, np.ndarray]:
    """Least-squares fit ``1 / value = a log t + b`` over the steps ``t >= start`` with ``value > 0``.

    Soudry et al.'s fixed-step rate ``O(1 / log t)`` makes ``1 / value`` affine in ``log t``.

    Parameters
    ----------
    steps : ndarray (T,), recorded steps; values : ndarray (T,).
    start : float > 0, the first step of the fit.

    Returns
    -------
    r2 : float, the coefficient of determination of the fit.
    coef : ndarray (2,), ``(a, b)``.

    Paper: Soudry et al. (2018); Ji & Telgarsky, Section 3.
    """
    steps, values = _series(steps, values)
    if not start > 0:
        raise ValueError(f"start must be positive (log t), got {start!r}")
    keep = (steps >= start) & (values > 0)
    if keep.sum() < 3:
        raise ValueError(f"need at least 3 steps >= start = {start} with positive values, got {int(keep.sum())}")
    t, v = steps[keep].astype(float), values[keep]
    A = np.stack([np.log(t), np.ones_like(t)], axis=1)
    coef, *_ = np.linalg.lstsq(A, 1.0 / v, rcond=None)
    residual = 1.0 / v - A @ coef
    r2 = 1.0 - residual @ residual / np.sum((1.0 / v - np.mean(1.0 / v)) ** 2)
    return float(r2), coef


def loglog_slope(steps: np.ndarray, values: np.ndarray, *, start: float) -> float:
    """Slope ``s`` of the least-squares line ``log value = s log t + c`` over the steps ``t >= start``.

    Paper: Soudry et al. (2018): the risk falls like ``1/t`` (slope -1) with a fixed step.
    """
    steps, values = _series(steps, values)
    late = steps >= start
    if late.sum() < 2 or not start > 0:
        raise ValueError(f"need a positive start and at least 2 steps >= start = {start}")
    return float(np.polyfit(np.log(steps[late]), np.log(values[late]), 1)[0])


def first_step_at_most(steps: np.ndarray, values: np.ndarray, target: float) -> float:
    """The first recorded step whose value is at most ``target`` (nan if none), as a float."""
    steps, values = _series(steps, values)
    hit = np.flatnonzero(values <= target)
    return float(steps[hit[0]]) if hit.size else float("nan")


def rate_summary(fixed: Any, growing: Any, *, decades: float = 2.0) -> dict[str, float]:
    """Rates of a fixed-step run and what a growing step gains, from two `deeplinear.History`.

    Both runs record `measurements` ("angle", "gap") and the loss on the same steps, ending at step T.

    Returns
    -------
    dict with "r2_angle" and "r2_gap" (`inverse_log_fit` of the fixed run's angle and margin gap over
    the last ``decades`` decades of steps, from ``max(10, T / 10**decades)``), "risk_slope"
    (`loglog_slope` of its risk from ``T / 10**decades``), "speedup" (T over the first step at which
    the growing run's angle is at most the fixed run's final angle) and "angle_grow" (the growing run's
    final angle).

    Paper: Soudry et al. (2018); Ji & Telgarsky, Section 3.
    """
    T = fixed.steps[-1]
    angle, gap = fixed.metrics["angle"], fixed.metrics["gap"]
    start = max(10, T / 10**decades)
    return dict(
        r2_angle=inverse_log_fit(fixed.steps, angle, start=start)[0],
        r2_gap=inverse_log_fit(fixed.steps, gap, start=start)[0],
        risk_slope=loglog_slope(fixed.steps, fixed.loss, start=T / 10**decades),
        speedup=T / first_step_at_most(growing.steps, growing.metrics["angle"], float(angle[-1])),
        angle_grow=float(growing.metrics["angle"][-1]),
    )


def rank_one_start(widths: Sequence[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Appendix F's start: ``W_1 = u_1 w^T`` and ``W_i = s_i u_i u_{i-1}^T`` (2 <= i <= L), ``u_L = 1``.

    Draws, in this order, the inner directions ``u_1 .. u_{L-1}`` (standard normal, normalised),
    ``w ~ N(0, I / k_0)`` and ``s_2 .. s_L`` (uniform on [0.5, 1); one draw of L - 1 values, of which
    the first is unused). Every layer is rank one and adjacent layers are aligned; for a network with
    one output, gradient descent under any loss keeps it so (only ``w`` and the ``s_i`` move).

    Parameters
    ----------
    widths : [k_0, ..., k_L] with k_L = 1 and L >= 2.
    rng : numpy Generator.

    Returns
    -------
    list of L arrays (k_i, k_{i-1}).

    Paper: Radhakrishnan et al., Section 4.2 and Appendix F (derived here: the appendix is not in our source).
    """
    ws = _widths(widths)
    if len(ws) < 3 or ws[-1] != 1:
        raise ValueError(f"widths must be [k_0, ..., k_L] with L >= 2 and k_L = 1, got {widths!r}")
    us = [rng.standard_normal(k) for k in ws[1:-1]]
    us = [u / np.linalg.norm(u) for u in us] + [np.ones(1)]
    w = rng.standard_normal(ws[0]) / np.sqrt(ws[0])
    s = rng.uniform(0.5, 1.0, len(ws) - 1)
    return [np.outer(us[0], w)] + [s[i] * np.outer(us[i], us[i - 1]) for i in range(1, len(us))]


def inner_vectors_moved(Ws0: Sequence[np.ndarray]) -> Callable[[Sequence[np.ndarray]], float]:
    """``Ws -> max_i (1 - |u_i(Ws)^T u_i(Ws0)|)`` over the inner layers ``W_2 .. W_{L-1}``'s top left
    singular vectors (0 for L <= 2): how far the inner singular vectors moved since ``Ws0``.

    Paper: Radhakrishnan et al., Definition 3 (b) (inner singular vectors fixed), Appendix F.
    """
    U0 = [np.linalg.svd(W)[0][:, 0] for W in list(Ws0)[1:-1]]

    def moved(Ws: Sequence[np.ndarray]) -> float:
        return max([1.0 - abs(float(np.linalg.svd(W)[0][:, 0] @ u)) for W, u in zip(list(Ws)[1:-1], U0)] + [0.0])

    return moved
