"""Deep linear networks with one-dimensional outputs on linearly separable data.

Ji and Telgarsky train ``W_prod = W_L ... W_1`` (shape (1, k_0)) by gradient descent on the risk
``R(W) = (1/n) sum_i l(y_i W_prod x_i)`` of separable data. This module holds what their theorems
are about: the start of Assumption 1.2 (`gaussian_layers`, `below_loss_at_zero`, both in
`gaussian_start`), the support vectors
of Assumption 2.7, the direction of ``W_prod`` and its angle and margin gap to the maximum-margin
separator ``u-bar`` (`deeplinear.theory.max_margin`), the product normalised by the layers' norms
(`normalised_product`), the measurements a run records (`measurements`), a run stopped the step before a
divergence (`train_until_divergence`), the trends and rates over a run's last steps (`late_phase`,
`trend_values`), the rates of Soudry et al. (`inverse_log_fit`, `loglog_slope`, `rate_summary`), and
Radhakrishnan et al.'s Appendix F start that stays aligned under any loss (`rank_one_start`,
`inner_vectors_moved`, `alignment_measurements`). Step-size schedules are in `deeplinear.schedules`.

A network is ``Ws = [W_1, ..., W_L]``, ``W_i`` of shape ``(k_i, k_{i-1})`` with ``k_L = 1``; data ``X`` is
``(k_0, n)``, labels ``Y`` are ``(1, n)`` in {-1, +1}.

Paper: Ji & Telgarsky, Sections 2-3 (Assumptions 1.1, 1.2, 2.7; Theorem 2.2); Radhakrishnan et al.,
Section 4.2 and Appendix F.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np

from . import _validate, metrics, network
from .recording import TrainResult, record_schedule
from .schedules import LOSS_AT_ZERO
from .training import train, until_divergence

__all__ = [
    "OnData",
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
    "late_phase",
    "late_phase_text",
    "layer_margin_gap",
    "loglog_slope",
    "margin_gap",
    "measurements",
    "normalised_product",
    "product_alignment",
    "rank_one_start",
    "rank_one_tail",
    "rate_summary",
    "smoothed_margin",
    "spanning_text",
    "support_vectors",
    "train_until_divergence",
    "trend_values",
]


def _one_output(Ws: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """The layers (one network, 2-D, finite) and ``W_prod`` (1, k_0) of a network with one output."""
    layers, stacked = _validate.network(Ws)
    w = network.end_to_end(layers)
    if stacked is not None or w.shape[0] != 1 or w.ndim != 2:
        raise ValueError(f"Ws must have one output (W_L of shape (1, k_{{L-1}})), got W_prod of shape {w.shape}")
    return layers, w


def _nonzero_layers(layers: list[np.ndarray]) -> list[np.ndarray]:
    if any(not np.any(W) for W in layers):
        raise ValueError("Ws must have nonzero layers: the product is normalised by every layer's norm")
    return layers


def _labels(Y, n: int) -> np.ndarray:
    y = np.asarray(Y, dtype=np.float64)
    if y.shape not in ((n,), (1, n)) or not np.all(np.abs(y) == 1):
        raise ValueError(f"Y must have shape ({n},) or (1, {n}) with labels +1 or -1, got shape {y.shape}")
    return y.reshape(n)


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
    ws, rng = _widths(widths), _validate.rng(rng)
    scale = _validate.positive(scale, "scale")
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
    w = _one_output(Ws)[1].ravel()
    if not np.any(w):
        raise ValueError("Ws: W_prod is 0, which has no direction")
    return w / np.linalg.norm(w)


def angle_to(Ws: Sequence[np.ndarray], u: np.ndarray) -> float:
    """The angle in degrees, in [0, 180], between ``W_prod`` and the unit vector ``u`` (k_0,).

    Computed as ``atan2(sqrt(1 - cos^2), cos)`` from ``cos = <W_prod / ||W_prod||, u>``: its relative
    rounding error is about ``1e-16 / angle^2`` (angle in radians), 1e-8 at 0.006 degrees.

    Paper: Ji & Telgarsky, Section 2 (convergence in direction to u-bar).
    """
    d = direction(Ws)
    cos = float(np.clip(d @ _validate.unit_vector(u, "u", len(d)), -1.0, 1.0))
    return float(np.degrees(np.arctan2(np.sqrt(max(1.0 - cos * cos, 0.0)), cos)))


def margin_gap(Ws: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray, gamma: float) -> float:
    """``gamma - min_i y_i <W_prod / ||W_prod||, x_i>``: 0 at the maximum-margin direction, > 0 elsewhere.

    Paper: Ji & Telgarsky, Section 2 (gamma); `deeplinear.metrics.margin`.
    """
    return _validate.positive(gamma, "gamma") - metrics.margin(_one_output(Ws)[1], X, Y)


def product_alignment(Ws: Sequence[np.ndarray]) -> float:
    """``|<W_prod / prod_k ||W_k||_F, v_1>|``, in [0, 1], with ``v_1`` the top right singular vector of ``W_1``.

    1 exactly when every layer is rank one, adjacent layers are aligned and ``W_prod`` points along ``v_1``
    (``|<W_prod, v_1>| <= ||W_prod|| <= prod_k ||W_k||_2 <= prod_k ||W_k||_F``).

    Paper: Ji & Telgarsky, Theorem 2.2 (``|<W_prod / prod_k ||W_k||_F, v_1>| -> 1``).
    """
    Ws, w = _one_output(Ws)
    v1 = np.linalg.svd(_nonzero_layers(Ws)[0])[2][0]
    return float(abs(w.ravel() @ v1) / np.prod([np.linalg.norm(W) for W in Ws]))


def normalised_product(Ws: Sequence[np.ndarray]) -> np.ndarray:
    """``W_prod / prod_k ||W_k||_F``, shape (k_0,), for a network with one output.

    Its norm ``||W_prod|| / prod_k ||W_k||_F`` is at most 1 (``||W_prod|| <= prod_k ||W_k||_2``), with equality
    exactly when every layer is rank one and adjacent layers are aligned; Ji and Telgarsky's maximum-margin
    theorems state that it tends to ``u-bar`` itself (its norm to 1, its direction to ``u-bar``).

    Paper: Ji & Telgarsky, Sections 2 and 3, maximum-margin theorems (``W_prod / prod_k ||W_k||_F -> u-bar``).
    """
    Ws, w = _one_output(Ws)
    return w.ravel() / np.prod([np.linalg.norm(W) for W in _nonzero_layers(Ws)])


def first_layer_alignment(Ws: Sequence[np.ndarray], u: np.ndarray) -> float:
    """``|<v_1, u>|``, with ``v_1`` the top right singular vector of ``W_1`` and ``u`` a unit vector (k_0,).

    Paper: Ji & Telgarsky, Sections 2 and 3, maximum-margin theorems (``|<v_1, u-bar>| -> 1``).
    """
    layers, _ = _validate.network(Ws)
    W1 = layers[0]
    if W1.ndim != 2:
        raise ValueError("Ws must be one network of 2-D layers, not a stack")
    return float(abs(np.linalg.svd(W1)[2][0] @ _validate.unit_vector(u, "u", W1.shape[1])))


def layer_margin_gap(Ws: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray, gamma: float) -> float:
    """``gamma - min_i y_i (W_L/||W_L||_F ... W_1/||W_1||_F) x_i``: the margin corollary's distance to its limit.

    The corollary's limit, ``max_{||A_k||_F = 1} min_i y_i A_L ... A_1 x_i``, is ``gamma``: ``||A_L ... A_1||
    <= prod_k ||A_k||_F = 1``, with equality for rank-one layers along ``u-bar``. Unlike `margin_gap`, the
    product is normalised by the layers' norms, so the gap is also > 0 while the layers are not rank one
    and aligned.

    Paper: Ji & Telgarsky, Sections 2 and 3, the corollaries of the maximum-margin theorems.
    """
    Ws, w = _one_output(Ws)
    w = w / np.prod([np.linalg.norm(W) for W in _nonzero_layers(Ws)])
    X = _validate.matrix(X, "X", w.shape[1])
    y = _labels(Y, X.shape[1])
    return float(_validate.positive(gamma, "gamma") - np.min(y * (w @ X).ravel()))


def rank_one_tail(W: np.ndarray) -> float:
    """``||W||_F^2 - ||W||_2^2``, the sum of the squared singular values after the first: 0 for rank one.

    Summed from the singular values (no cancellation when the tail is small). Ji and Telgarsky bound it
    by the imbalance that gradient flow conserves, so ``1 - (||W||_2/||W||_F)^2 = tail / ||W||_F^2`` falls
    like ``1 / ||W||_F^2`` while ``||W||_F`` grows.

    Paper: Ji & Telgarsky, Theorem 2.2 (and its proof: the layers tend to rank one).
    """
    s = np.linalg.svd(_validate.matrix(W, "W"), compute_uv=False)
    return float(np.sum(s[1:] ** 2))


def measurements(X: np.ndarray, Y: np.ndarray, *, alignment: bool = True) -> dict[str, Callable]:
    """What a run on separable data records, as `deeplinear.train`'s ``metrics=`` mapping.

    Returns
    -------
    dict name -> fn(Ws): "angle" (`angle_to` u-bar, degrees), "gap" (`margin_gap`), "direction"
    (`direction`, (k_0,)), "product" (``W_prod``, (k_0,)), "first_layer" (``W_1``, (k_1, k_0)), "norms"
    (``||W_i||_F``, (L,)), "tails" (`rank_one_tail` of each layer, (L,)), "rank_one" (`metrics.rank_one_ratio`
    of each layer, (L,)), "product_v1" (`product_alignment`), "v1_ubar" (`first_layer_alignment` with u-bar),
    "layer_gap" (`layer_margin_gap`), "normalised_distance" (``||normalised_product - u_bar||``) and, with
    ``alignment``, "alignment" (`metrics.top_alignment`, (L-1,)). u-bar and gamma come from
    `deeplinear.theory.max_margin` (computed once here).

    Paper: Ji & Telgarsky, Theorem 2.2, their Figure 1.
    """
    from .theory import max_margin

    u_bar, gamma = max_margin(X, Y)
    tracked = {
        "angle": lambda Ws: angle_to(Ws, u_bar),
        "gap": lambda Ws: margin_gap(Ws, X, Y, gamma),
        "direction": direction,
        "product": lambda Ws: network.end_to_end(Ws).ravel(),
        "first_layer": lambda Ws: np.array(Ws[0], dtype=np.float64),
        "norms": lambda Ws: [np.linalg.norm(W) for W in Ws],
        "tails": lambda Ws: [rank_one_tail(W) for W in Ws],
        "rank_one": lambda Ws: [metrics.rank_one_ratio(W) for W in Ws],
        "product_v1": product_alignment,
        "v1_ubar": lambda Ws: first_layer_alignment(Ws, u_bar),
        "layer_gap": lambda Ws: layer_margin_gap(Ws, X, Y, gamma),
        "normalised_distance": lambda Ws: float(np.linalg.norm(normalised_product(Ws) - u_bar)),
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
    if not np.issubdtype(steps.dtype, np.number) or not np.isfinite(steps).all():
        raise ValueError("steps must be finite numbers")
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
    start = _validate.positive(start, "start")
    late = steps >= start
    if late.sum() < 2:
        raise ValueError(f"need a positive start and at least 2 steps >= start = {start}")
    if not (np.isfinite(values[late]).all() and np.all(values[late] > 0)):
        raise ValueError("values must be finite and positive at the steps >= start (their logarithm is fitted)")
    if np.ptp(steps[late]) == 0:
        raise ValueError("steps >= start must not all be equal")
    return float(np.polyfit(np.log(steps[late]), np.log(values[late]), 1)[0])


def first_step_at_most(steps: np.ndarray, values: np.ndarray, target: float) -> float:
    """The first recorded step whose value is at most ``target`` (nan if none), as a float."""
    steps, values = _series(steps, values)
    if isinstance(target, bool) or not isinstance(target, Real) or not np.isfinite(target):
        raise ValueError(f"target must be a finite number, got {target!r}")
    hit = np.flatnonzero(values <= target)
    return float(steps[hit[0]]) if hit.size else float("nan")


def rate_summary(fixed: Any, growing: Any, *, decades: float = 2.0) -> dict[str, float]:
    """The fixed-step run's risk rate and what a growing step gains, from two `deeplinear.History`.

    Both runs record `measurements` ("angle") and the loss, ending at step T.

    Returns
    -------
    dict with "risk_slope" (`loglog_slope` of the fixed run's risk over the last ``decades`` decades of steps,
    from ``T / 10**decades``), "speedup" (T over the first step at which the growing run's angle is at most
    the fixed run's final angle; nan if it never is), "speedup_text" (it in words: "12.3 times sooner", or
    "not within the steps") and "angle_grow" (the growing run's final angle).

    Paper: Soudry et al. (2018); Ji & Telgarsky, Section 3.
    """
    for name, h in (("fixed", fixed), ("growing", growing)):
        _validate.history(h, name, ("steps", "loss", "metrics"))
        if "angle" not in h.metrics or len(h.steps) == 0:
            raise ValueError(f"{name} must have recorded the metric 'angle' (deeplinear.separable.measurements)")
    decades = _validate.positive(decades, "decades")
    T = fixed.steps[-1]
    angle = fixed.metrics["angle"]
    speedup = T / first_step_at_most(growing.steps, growing.metrics["angle"], float(angle[-1]))
    return dict(
        risk_slope=loglog_slope(fixed.steps, fixed.loss, start=T / 10**decades),
        speedup=speedup,
        speedup_text=f"{speedup:.3g} times sooner" if np.isfinite(speedup) else "not within the steps",
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
    ws, rng = _widths(widths), _validate.rng(rng)
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


class OnData:
    """A loss of ``W_prod`` on the data, for `deeplinear.train` run on the identity (``X=None``).

    ``train(Ws, None, None, loss=OnData(X, Y, "logistic"), ...)`` makes the same gradient steps as
    ``train(Ws, X, Y, loss="logistic", ...)``: the network's output on the identity is ``W_prod`` (1, k_0),
    and this callable returns the risk ``L(W_prod X)`` and its gradient ``dL/dF X^T``. A network with one
    output then costs ``sum_i k_i k_{i-1} k_0`` per pass instead of ``sum_i k_i k_{i-1} n``.

    Parameters
    ----------
    X : ndarray (k_0, n); Y : ndarray (1, n), labels in {-1, +1}.
    loss : "logistic" or "exponential".

    Paper: Ji & Telgarsky, Section 2 (the risk depends on the network only through ``W_prod``).
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, loss: str = "logistic") -> None:
        from .losses import _RAW

        if loss not in LOSS_AT_ZERO:
            raise ValueError(f"loss must be one of {sorted(LOSS_AT_ZERO)}, got {loss!r}")
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.Y = np.asarray(Y, dtype=np.float64).reshape(1, -1)
        if self.X.ndim != 2 or self.Y.shape[1] != self.X.shape[1] or not np.all(np.abs(self.Y) == 1):
            raise ValueError(f"X (k_0, n) and Y (1, n) with labels +-1 must agree, got {self.X.shape}, {np.shape(Y)}")
        self.loss, self.fn, self.XT = loss, _RAW[loss], np.ascontiguousarray(self.X.T)

    def __repr__(self) -> str:
        return f"OnData(k_0={self.X.shape[0]}, n={self.X.shape[1]}, loss={self.loss!r})"

    def validate(self, out_shape: tuple[int, int], Y: object = None) -> None:
        if tuple(out_shape) != (1, self.X.shape[0]):
            raise ValueError(
                f"OnData needs a network with one output run on the identity (X=None): output (1, {self.X.shape[0]}), "
                f"got {tuple(out_shape)}"
            )

    def __call__(self, P: np.ndarray, Y: object = None) -> tuple:
        value, dF = self.fn(P @ self.X, self.Y)
        return value, dF @ self.XT


def smoothed_margin(
    risk: float | np.ndarray, norms: Sequence[float] | np.ndarray, *, n: int, gamma: float, loss: str = "logistic"
) -> float | np.ndarray:
    """Lyu and Li's smoothed normalised margin over ``gamma``: ``l^{-1}(n R) L^{L/2} / (gamma ||theta||^L)``.

    ``||theta||^2 = sum_k ||W_k||_F^2`` over the L layers, and ``l^{-1}`` inverts the loss (logistic:
    ``-log(exp(x) - 1)``; exponential: ``-log x``). Since ``l(min_i y_i W_prod x_i) <= n R`` and
    ``prod_k ||W_k||_F <= (||theta||^2 / L)^{L/2}``, it is at most the margin corollary's ratio
    ``min_i y_i W_prod x_i / (gamma prod_k ||W_k||_F)``; along gradient flow it never decreases once
    ``n R < l(0)`` (Lyu and Li 2020, for networks homogeneous in their weights, as ``W_prod`` is of degree L).

    Parameters
    ----------
    risk : float or ndarray (T,), the risk R (a risk that underflowed to 0 counts as 1e-300).
    norms : ndarray (L,) or (T, L), ``||W_k||_F`` of each layer.
    n : int, the number of points; gamma : float > 0, the maximum margin.
    loss : "logistic" or "exponential".

    Returns
    -------
    float or ndarray (T,).

    Paper: Ji & Telgarsky, the margin corollary; Lyu & Li (2020), the smoothed margin (Theorem 4.1).
    """
    if loss not in LOSS_AT_ZERO:
        raise ValueError(f"loss must be one of {sorted(LOSS_AT_ZERO)}, got {loss!r}")
    n, gamma = _validate.integer(n, "n"), _validate.positive(gamma, "gamma")
    risk = np.asarray(risk, dtype=np.float64)
    if risk.ndim > 1 or not np.isfinite(risk).all() or np.any(risk < 0):
        raise ValueError(f"risk must be a finite risk >= 0 or an array (T,) of them, got {risk!r}")
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim not in (1, 2) or norms.shape != (*risk.shape, norms.shape[-1]):
        raise ValueError(f"norms must have shape (L,) or (T, L) to match risk {risk.shape}, got {norms.shape}")
    if not np.isfinite(norms).all() or not np.all(norms > 0):
        raise ValueError("norms must be finite and positive (||W_k||_F of nonzero layers)")
    x = n * np.maximum(risk, 1e-300)
    inverse = -np.log(np.expm1(x)) if loss == "logistic" else -np.log(x)
    L = norms.shape[-1]
    theta = np.sqrt(np.sum(norms**2, axis=-1))
    out = inverse * L ** (L / 2) / (gamma * theta**L)
    return float(out) if out.ndim == 0 else out


def _defect_ratio(end: float, start: float, floor: float = 1e-12) -> float:
    return float(max(1.0 - end, floor) / max(1.0 - start, floor))


def train_until_divergence(
    Ws: Sequence[np.ndarray], X: np.ndarray | None, Y: np.ndarray | None, *, steps: int, record: Any, **kw: Any
) -> TrainResult:
    """`deeplinear.train` for ``steps`` steps, or up to the step before gradient descent diverges.

    As `deeplinear.training.until_divergence` with ``train(Ws, X, Y, steps=k, record=..., **kw)``: where the
    loss diverges at step ``s``, the run is repeated for ``s - 1`` steps, recording the steps of ``record`` up to
    ``s - 1`` and ``s - 1`` itself. A fixed step can be above a deep network's stability edge late in training,
    since the curvature of its risk grows with its weights.

    Parameters
    ----------
    Ws, X, Y, **kw : as for `deeplinear.train` (``lr``, ``loss``, ``metrics``, ...).
    steps : int >= 0; record : as for `deeplinear.train`.

    Returns
    -------
    `deeplinear.TrainResult`, with ``diverged_at`` None or the step at which the loss diverged.

    Paper: none (the book's handling of a step above the stability edge).
    """
    schedule = record_schedule(steps, record)

    def attempt(k: int) -> TrainResult:
        return train(Ws, X, Y, steps=k, record=np.union1d(schedule[schedule <= k], [k]).astype(int), **kw)

    return until_divergence(attempt, steps)


def late_phase(
    history: Any,
    u_bar: np.ndarray,
    gamma: float,
    *,
    n: int,
    lr: float,
    start: int,
    loss: str = "logistic",
    flow: np.ndarray | None = None,
    diverged_at: int | None = None,
) -> dict:
    """What a fixed-step run on separable data does over its last steps, from ``start`` to the end.

    The limits of Ji and Telgarsky's theorems, measured as trends and rates over the window
    ``[t_0, T]``, ``t_0`` the first record at or after ``start``, ``T`` the last (the chapters take the
    last decade, ``start = T / 10``).

    Parameters
    ----------
    history : `deeplinear.History` of a run recording `measurements` at every record.
    u_bar : ndarray (k_0,), gamma : float, from `deeplinear.theory.max_margin`.
    n : int, the number of points; lr : float > 0, the fixed step of the run.
    start : int, the first step of the window.
    loss : "logistic" or "exponential", the run's loss (its ``l(0)`` and, for the smoothed margin, ``l^{-1}``).
    flow : None, or ndarray (T,), the flow time ``sum_{tau < t} eta_tau`` at each record of a run whose step
        varies (`deeplinear.schedules.assumption_35_descent`); None: ``lr * t``.
    diverged_at : None, or the step at which the run diverged (`train_until_divergence`; its history then
        ends the step before). A run that diverged before the window leaves every statistic nan.

    Returns
    -------
    dict with
    "start", "end" : t_0 and T;
    "stable", "diverged_at" : whether the run went on to the end without diverging, and ``diverged_at``;
    "separated_from" : the first record from which the network separates the data at every later record
        (-1 if it does not at the last); "separated" : whether it does from t_0 on; "risk_start" : ``R(t_0)``;
    "risk_share" : ``R(t_0) / l(0)``;
    "escaped" : separated from t_0 on with ``R(t_0) <= l(0) / 2``: the run has left the saddle at ``W = 0``;
    "progress" : ``R(t_0) / R(T)``, how much the risk fell over the window;
    "risk_rate" : ``(1/R(T) - 1/R(t_0)) / (gamma^2 F)``, ``F = lr (T - t_0)`` the flow time of the window (or
        ``flow[T] - flow[t_0]``), inf when ``R(T)`` underflowed to 0 (about 1 for a linear predictor, whose risk
        follows ``dR/dt = -gamma^2 R^2`` late; more for a deep network);
    "flow_time" : ``F``;
    "norm_growth" : ``min_k ||W_k(T)||_F / ||W_k(t_0)||_F``;
    "product_norm_growth" : ``||W_prod(T)|| / ||W_prod(t_0)||``;
    "tail_growth" : ``max_k`` of the relative change of `rank_one_tail` (floored at ``1e-12 ||W_k||_F^2``);
    "alignment_defect_ratio", "product_v1_defect_ratio" : ``(1 - a(T)) / (1 - a(t_0))`` for the smallest
        `metrics.top_alignment` and for `product_alignment` (defects floored at 1e-12; nan for one layer);
    "normalised_defect_ratio" : the same for ``rho = ||W_prod|| / prod_k ||W_k||_F``, the norm of `normalised_product`
        (1 exactly for rank-one, aligned layers);
    "smoothed_margin_rise" : the change of `smoothed_margin`;
    "growth_angle" : the angle in degrees between ``W_prod(T) - W_prod(t_0)`` and ``u_bar``;
    "parallel_rate" : ``gamma <u_bar, W_prod(T) - W_prod(t_0)> / log(T / t_0)`` (1 on Soudry et al.'s law
        ``W_prod(t) = u_bar log t / gamma + O(1)``);
    "perpendicular_ratio" : the change of the norm of ``W_prod``'s part orthogonal to ``u_bar``, over its
        growth along ``u_bar`` (0 on that law);
    "first_layer_perpendicular_ratio" : the change of ``||W_1 (I - u_bar u_bar^T)||_F``, the part of the first
        layer that reads directions orthogonal to ``u_bar``, over the change of ``||W_1 u_bar||`` (the top right
        singular vector ``v_1`` of ``W_1`` turns to ``u_bar`` when the first stays bounded and the second grows).

    Paper: Ji & Telgarsky, Theorem 2.2 and the maximum-margin theorems; Soudry et al. (2018).
    """
    history = _validate.history(history, "history", ("steps", "loss", "metrics", "metric_steps"))
    missing = {"gap", "norms", "tails", "product", "first_layer", "product_v1"} - set(history.metrics)
    if missing:
        raise ValueError(f"history must record separable.measurements; missing {sorted(missing)}")
    gamma, n, lr = _validate.positive(gamma, "gamma"), _validate.integer(n, "n"), _validate.positive(lr, "lr")
    if isinstance(start, bool) or not isinstance(start, Real):
        raise ValueError(f"start must be a number, got {start!r}")
    steps, risk, m = np.asarray(history.steps), np.asarray(history.loss, dtype=np.float64), history.metrics
    if steps.ndim != 1 or len(steps) == 0 or risk.shape != steps.shape:
        raise ValueError(f"history must hold one loss per recorded step, got {risk.shape} and {steps.shape}")
    u_bar = _validate.unit_vector(u_bar, "u_bar", np.asarray(m["product"]).shape[-1])
    if diverged_at is not None and 0 < start and steps[-1] <= start:
        nan = float("nan")
        numbers = ("risk_start", "risk_share", "progress", "risk_rate", "flow_time", "norm_growth")
        numbers += ("product_norm_growth", "tail_growth", "alignment_defect_ratio", "product_v1_defect_ratio")
        numbers += ("normalised_defect_ratio", "smoothed_margin_rise", "growth_angle", "parallel_rate")
        numbers += ("perpendicular_ratio", "first_layer_perpendicular_ratio")
        return dict(
            start=int(start), end=int(steps[-1]), stable=False, diverged_at=int(diverged_at), separated_from=-1,
            separated=False, escaped=False, **dict.fromkeys(numbers, nan)
        )  # fmt: skip
    if not 0 < start <= steps[-1] or list(np.asarray(history.metric_steps)) != list(steps):
        raise ValueError(f"start must be in (0, {steps[-1]}] and the run must record its metrics at every record")
    i0, iT = int(np.searchsorted(steps, start)), len(steps) - 1
    t0, T = int(steps[i0]), int(steps[iT])
    if T <= t0:
        raise ValueError(f"the window [{t0}, {T}] has no length: start = {start} is the last record")
    if loss not in LOSS_AT_ZERO:
        raise ValueError(f"loss must be one of {sorted(LOSS_AT_ZERO)}, got {loss!r}")
    ell0 = LOSS_AT_ZERO[loss]
    if flow is None:
        window_flow = lr * (T - t0)
    else:
        flow = np.asarray(flow, dtype=np.float64)
        if flow.shape != steps.shape:
            raise ValueError(f"flow must have one entry per record, shape {steps.shape}, got {flow.shape}")
        window_flow = float(flow[iT] - flow[i0])
    separated = (gamma - np.asarray(m["gap"])) > 0
    bad = np.flatnonzero(~separated)
    first = 0 if bad.size == 0 else (bad[-1] + 1 if bad[-1] < iT else -1)
    norms, tails = np.asarray(m["norms"]), np.asarray(m["tails"])
    W, u = np.asarray(m["product"]), np.asarray(u_bar, dtype=np.float64)
    dW = W[iT] - W[i0]
    par = float(dW @ u)
    perp = [float(np.linalg.norm(w - (w @ u) * u)) for w in (W[i0], W[iT])]
    W1 = np.asarray(m["first_layer"])[[i0, iT]]
    along = [float(np.linalg.norm(A @ u)) for A in W1]  # ||W_1 u_bar|| and ||W_1 (I - u_bar u_bar^T)||_F
    across = [float(np.sqrt(max(np.linalg.norm(A) ** 2 - a**2, 0.0))) for A, a in zip(W1, along)]
    align = np.asarray(m["alignment"]) if "alignment" in m else np.zeros((len(steps), 0))
    smooth = smoothed_margin(risk[[i0, iT]], norms[[i0, iT]], n=n, gamma=gamma, loss=loss)
    size = [float(np.linalg.norm(W[i])) for i in (i0, iT)]
    rho = [a / float(np.prod(norms[i])) for a, i in zip(size, (i0, iT))]
    inverse = 1.0 / np.maximum(risk[[i0, iT]], 1e-300)
    # numpy floats: a run that stopped moving gives inf or nan here, not ZeroDivisionError
    par, d_across, d_along = np.float64(par), np.float64(across[1] - across[0]), np.float64(along[1] - along[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        perpendicular_ratio, first_layer_ratio = (perp[1] - perp[0]) / par, d_across / d_along
    return dict(
        start=t0,
        end=T,
        stable=diverged_at is None,
        diverged_at=None if diverged_at is None else int(diverged_at),
        separated_from=int(steps[first]) if first >= 0 else -1,
        separated=bool(first >= 0 and first <= i0),
        risk_start=float(risk[i0]),
        risk_share=float(risk[i0] / ell0),
        escaped=bool(first >= 0 and first <= i0 and risk[i0] <= ell0 / 2),
        progress=float(risk[i0] / max(risk[iT], 1e-300)),
        risk_rate=float("inf") if risk[iT] == 0 else float((inverse[1] - inverse[0]) / (gamma**2 * window_flow)),
        flow_time=float(window_flow),
        norm_growth=float(np.min(norms[iT] / norms[i0])),
        product_norm_growth=float(size[1] / size[0]),
        tail_growth=float(np.max((tails[iT] - tails[i0]) / np.maximum(tails[i0], 1e-12 * norms[i0] ** 2))),
        alignment_defect_ratio=_defect_ratio(align[iT].min(), align[i0].min()) if align.shape[1] else float("nan"),
        product_v1_defect_ratio=_defect_ratio(m["product_v1"][iT], m["product_v1"][i0]),
        normalised_defect_ratio=_defect_ratio(rho[1], rho[0]),
        smoothed_margin_rise=float(smooth[1] - smooth[0]),
        growth_angle=float(np.degrees(np.arctan2(np.linalg.norm(dW - par * u), par))),
        parallel_rate=float(gamma * par / np.log(T / t0)),
        perpendicular_ratio=float(perpendicular_ratio),
        first_layer_perpendicular_ratio=float(first_layer_ratio),
    )


def trend_values(stats: dict) -> dict[str, float]:
    """The statistics of `late_phase` that the chapter's ledger reads, under the names it glues them by.

    Relative growths are given as fractions (``ratio - 1``), so that a small growth does not round to 0.

    Returns
    -------
    dict with the run's hypotheses, "stable", "late_escaped" (``escaped``) and "late_progress" (``progress``), and
    what Theorem 2.2 and the maximum-margin theorems conclude, as trends: "risk_rate", "norm_growth_late"
    (``norm_growth - 1``), "product_norm_growth_late" (``product_norm_growth - 1``), "tail_growth",
    "alignment_defect_ratio", "normalised_defect_ratio", "perpendicular_ratio" and "v1_perpendicular_ratio"
    (``first_layer_perpendicular_ratio``), each a float but the first two, bools.

    Paper: Ji & Telgarsky, Theorem 2.2 and the maximum-margin theorems; Soudry et al. (2018).
    """
    same = ("risk_rate", "tail_growth", "alignment_defect_ratio", "normalised_defect_ratio", "perpendicular_ratio")
    stats = _validate.mapping(
        stats, "stats", (*same, "norm_growth", "product_norm_growth", "first_layer_perpendicular_ratio", "progress",
                         "stable", "escaped")
    )  # fmt: skip
    out = {key: float(stats[key]) for key in same}
    out["norm_growth_late"] = float(stats["norm_growth"]) - 1.0
    out["product_norm_growth_late"] = float(stats["product_norm_growth"]) - 1.0
    out["v1_perpendicular_ratio"] = float(stats["first_layer_perpendicular_ratio"])
    out["late_progress"] = float(stats["progress"])
    return {"stable": bool(stats["stable"]), "late_escaped": bool(stats["escaped"])} | dict(sorted(out.items()))


def late_phase_text(label: str, stats: dict, *, progress: float, why: str = "a small lr or a deep network") -> str:
    """One sentence on whether a run's last steps are where the limits can be measured (`late_phase`).

    Parameters
    ----------
    label : how the sentence names the network ("the deep network").
    stats : `late_phase` of its run; progress : float > 1, the fall of the risk over the window below which
        the run is said to have stopped moving.
    why : what keeps a run near the saddle, named in the sentence that says so.

    Returns
    -------
    str, e.g. "The deep network separates the data from step 84 on and its risk falls 14-fold over steps
    5000 to 50000: its limits are measured there."
    """
    if not isinstance(label, str) or not isinstance(why, str):
        raise ValueError(f"label and why must be strings, got {label!r} and {why!r}")
    stats = _validate.mapping(stats, "stats", ("start", "end", "separated_from", "escaped", "separated", "progress"))
    if isinstance(progress, bool) or not isinstance(progress, Real) or not np.isfinite(progress):
        raise ValueError(f"progress must be a finite number, got {progress!r}")
    window = f"steps {stats['start']} to {stats['end']}"
    first = stats["separated_from"]
    if not stats.get("stable", True):
        return (
            f"{label.capitalize()} diverged at step {stats['diverged_at']}: the step is above its stability edge, "
            f"which falls as its weights grow, so its limits are not applicable here."
        )
    if not stats["escaped"]:
        if not stats["separated"]:
            when = "does not separate the data" if first < 0 else f"separates the data only from step {first}"
        else:
            share = stats.get("risk_share", stats["risk_start"] / LOSS_AT_ZERO["logistic"])
            when = f"still has {share:.2g} of the risk at W = 0 at step {stats['start']}"
        return (
            f"{label.capitalize()} {when}: the budget ends too close to the saddle at W = 0 ({why}) for its "
            f"limits, which are not applicable here."
        )
    fall = f"{stats['progress']:.2g}-fold"
    if not stats["progress"] >= progress:
        return (
            f"{label.capitalize()} separates the data from step {first} on, but its risk falls only {fall} over "
            f"{window}: one large early step threw it to a risk level where the remaining steps barely move it, "
            f"so its limits are not applicable here."
        )
    return (
        f"{label.capitalize()} separates the data from step {first} on and its risk falls {fall} over {window}: "
        f"its limits are measured there."
    )


def spanning_text(rank: int, dim: int) -> str:
    """Whether the support vectors, spanning ``rank`` dimensions, span ``R^dim`` (Ji and Telgarsky's
    Assumption 2.7), in one sentence.

    Paper: Ji & Telgarsky, Assumption 2.7.
    """
    if rank == dim:
        return f"The support vectors span R^{dim}: Assumption 2.7 holds."
    return f"The support vectors span {rank} of the {dim} dimensions: Assumption 2.7 fails."
