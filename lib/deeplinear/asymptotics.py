"""What a run on separable data does late: the trends and rates over its last decade of steps (`late_phase`,
`trend_values`, and their sentences `late_phase_text`, `spanning_text`), and the rates of Soudry et al.
(`inverse_log_fit`, `loglog_slope`, `rate_summary`).

The quantities themselves (direction, angle and margin gap to the maximum-margin separator, the product
normalised by the layers' norms, ...) are in `deeplinear.separable`.

Paper: Ji & Telgarsky, Theorems 2.2 and 3.1 (the directions converge; the rates); Soudry et al. 2018 (the
1 / log t rate of the direction).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validate
from .directions import smoothed_margin
from .schedules import LOSS_AT_ZERO

__all__ = [
    "inverse_log_fit",
    "loglog_slope",
    "first_step_at_most",
    "rate_summary",
    "late_phase",
    "trend_values",
    "late_phase_text",
    "spanning_text",
]


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
    _validate.number(target, "target")
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


def _defect_ratio(end: float, start: float, floor: float = 1e-12) -> float:
    return float(max(1.0 - end, floor) / max(1.0 - start, floor))


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
    u_bar : ndarray (k_0,), gamma : float, from `max_margin`.
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
    _validate.number(start, "start", "a number", finite=False)
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
    _validate.number(progress, "progress")
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
