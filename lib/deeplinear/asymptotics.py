"""What a run on separable data does late: the trends and rates over its last decade of steps (`late_phase`,
`trend_values`, and their sentences `late_phase_text`, `spanning_text`). The rates of Soudry et al. over the
whole run, and what a growing step gains, are in `deeplinear.margin_rates`.

The quantities themselves (direction, angle and margin gap to the maximum-margin separator, the product
normalised by the layers' norms, ...) are in `deeplinear.separable`.

Paper: Ji & Telgarsky, Theorems 2.2 and 3.1 (the directions converge; the rates); Soudry et al. 2018 (the
1 / log t rate of the direction).
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from . import _validate
from .directions import smoothed_margin
from .schedules import LOSS_AT_ZERO

__all__ = [
    "late_phase",
    "trend_values",
    "late_phase_text",
    "spanning_text",
]


def _defect_ratio(end: float, start: float, floor: float = 1e-12) -> float:
    return float(max(1.0 - end, floor) / max(1.0 - start, floor))


def _real(value: Any, name: str) -> float:
    """A real number as a float, nan and infinities included (bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


_STATISTICS = (  # the numbers of `late_phase`, which a window may be unable to measure
    "risk_start risk_share progress risk_rate flow_time norm_growth product_norm_growth tail_growth "
    "alignment_defect_ratio product_v1_defect_ratio normalised_defect_ratio smoothed_margin_rise growth_angle "
    "parallel_rate perpendicular_ratio first_layer_perpendicular_ratio"
).split()


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
    unmeasured: float | None = None,
) -> dict:
    """What a fixed-step run on separable data does over its last steps, from ``start`` to the end.

    The limits of Ji and Telgarsky's theorems, measured as trends and rates over the window
    ``[t_0, T]``, ``t_0`` the first record at or after ``start``, ``T`` the last (the chapters take the
    last decade, ``start = T / 10``).

    Parameters
    ----------
    history : object
        `deeplinear.History` of a run recording `measurements` at every record.
    u_bar : ndarray
        (k_0,), gamma : float, from `max_margin`.
    gamma : float
        The maximum margin, > 0.
    n : int
        The number of points
    lr : float
        > 0, the fixed step of the run.
    start : int
        The first step of the window.
    loss : str, optional
        "logistic" or "exponential", the run's loss (its ``l(0)`` and, for the smoothed margin, ``l^{-1}``).
    flow : ndarray or None, optional
        None, or ndarray (T,), the flow time ``sum_{tau < t} eta_tau`` at each record of a run whose step
        varies (`deeplinear.schedules.assumption_35_descent`); None: ``lr * t``.
    diverged_at : int or None, optional
        None, or the step at which the run diverged (`train_until_divergence`; its history then
        ends the step before). A run that diverged before the window has no statistic to measure.
    unmeasured : float or None, optional
        None, or the number (nan, say) to give a statistic that the window cannot measure: every one
        of a run that diverged before the window; "perpendicular_ratio" where ``W_prod`` did not move along
        ``u_bar``, "first_layer_perpendicular_ratio" where ``||W_1 u_bar||`` did not change,
        "product_norm_growth" where ``W_prod`` starts the window at 0, "alignment_defect_ratio" where a deep
        network did not record "alignment". With None (the default) such a window raises ValueError, saying
        which statistic and why.

    Returns
    -------
    dict
        Dict with:

        * "start", "end" : t_0 and T;
        * "stable", "diverged_at" : whether the run went on to the end without diverging, and ``diverged_at``;
        * "separated_from" : the first record from which the network separates the data at every later record
          (-1 if it does not at the last); "separated" : whether it does from t_0 on; "risk_start" : ``R(t_0)``;
        * "risk_share" : ``R(t_0) / l(0)``;
        * "escaped" : separated from t_0 on with ``R(t_0) <= l(0) / 2``: the run has left the saddle at ``W = 0``;
        * "progress" : ``R(t_0) / R(T)``, how much the risk fell over the window;
        * "risk_rate" : ``(1/R(T) - 1/R(t_0)) / (gamma^2 F)``, ``F = lr (T - t_0)`` the flow time of the window (or
          ``flow[T] - flow[t_0]``) (about 1 for a linear predictor, whose risk follows ``dR/dt = -gamma^2 R^2``
          late; more for a deep network); where ``R(T)`` underflowed to 0 it is taken as 1e-300, and the rate is
          a lower bound; "risk_underflow" : whether it did;
        * "flow_time" : ``F``;
        * "norm_growth" : ``min_k ||W_k(T)||_F / ||W_k(t_0)||_F``;
        * "product_norm_growth" : ``||W_prod(T)|| / ||W_prod(t_0)||``;
        * "tail_growth" : ``max_k`` of the relative change of `rank_one_tail` (floored at ``1e-12 ||W_k||_F^2``);
        * "alignment_defect_ratio", "product_v1_defect_ratio" : ``(1 - a(T)) / (1 - a(t_0))`` for the smallest
          `metrics.top_alignment` and for `product_alignment` (defects floored at 1e-12; 1 for one layer, which has
          no interface: a defect of 0, the floor, at both ends);
        * "normalised_defect_ratio" : the same for ``rho = ||W_prod|| / prod_k ||W_k||_F``, the norm of
          `normalised_product`
          (1 exactly for rank-one, aligned layers);
        * "smoothed_margin_rise" : the change of `smoothed_margin`;
        * "growth_angle" : the angle in degrees between ``W_prod(T) - W_prod(t_0)`` and ``u_bar``;
        * "parallel_rate" : ``gamma <u_bar, W_prod(T) - W_prod(t_0)> / log(T / t_0)`` (1 on Soudry et al.'s law
          ``W_prod(t) = u_bar log t / gamma + O(1)``);
        * "perpendicular_ratio" : the change of the norm of ``W_prod``'s part orthogonal to ``u_bar``, over its
          growth along ``u_bar`` (0 on that law);
        * "first_layer_perpendicular_ratio" : the change of ``||W_1 (I - u_bar u_bar^T)||_F``, the part of the first
          layer that reads directions orthogonal to ``u_bar``, over the change of ``||W_1 u_bar||`` (the top right
          singular vector ``v_1`` of ``W_1`` turns to ``u_bar`` when the first stays bounded and the second grows).

    Raises
    ------
    ValueError
        Besides the checks of the arguments: with ``unmeasured=None``, where a statistic cannot be measured
        (see ``unmeasured``), naming ``diverged_at`` or ``history`` and the statistic.

    References
    ----------
    Paper: Ji & Telgarsky, Theorem 2.2 and the maximum-margin theorems; Soudry et al. (2018).
    """
    unmeasured = None if unmeasured is None else _real(unmeasured, "unmeasured")
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
        if unmeasured is None:
            raise ValueError(
                f"diverged_at = {diverged_at}: the run diverged before its window starts at step {start}, so it has "
                "no late phase to measure (unmeasured=nan gives its verdict with every statistic nan)"
            )
        return dict(
            start=int(start), end=int(steps[-1]), stable=False, diverged_at=int(diverged_at), separated_from=-1,
            separated=False, escaped=False, risk_underflow=False, **dict.fromkeys(_STATISTICS, unmeasured)
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
    why = {}  # statistic -> why the window cannot measure it
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
    if norms.shape[-1] == 1:  # one layer: no interface to align, a defect of 0 (the floor) at both ends
        align_ratio = 1.0
    elif "alignment" in m:
        align = np.asarray(m["alignment"])
        align_ratio = _defect_ratio(align[iT].min(), align[i0].min())
    else:
        align_ratio, why["alignment_defect_ratio"] = np.nan, "the deep network did not record 'alignment'"
    smooth = smoothed_margin(risk[[i0, iT]], norms[[i0, iT]], n=n, gamma=gamma, loss=loss)
    size = [float(np.linalg.norm(W[i])) for i in (i0, iT)]
    rho = [a / float(np.prod(norms[i])) for a, i in zip(size, (i0, iT))]
    inverse = 1.0 / np.maximum(risk[[i0, iT]], 1e-300)  # a risk that underflowed to 0 counts as 1e-300
    for key, zero, what in (("perpendicular_ratio", par == 0, "W_prod did not move along u_bar"),
                            ("first_layer_perpendicular_ratio", along[1] == along[0], "||W_1 u_bar|| did not change"),
                            ("product_norm_growth", size[0] == 0, "W_prod is 0 at the window's start")):  # fmt: skip
        if zero:
            why[key] = f"{what} (the ratio's denominator)"
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        perpendicular_ratio = np.float64(perp[1] - perp[0]) / np.float64(par)
        first_layer_ratio = np.float64(across[1] - across[0]) / np.float64(along[1] - along[0])
        product_growth = np.float64(size[1]) / np.float64(size[0])
        risk_rate = (inverse[1] - inverse[0]) / (gamma**2 * window_flow)
    stats = dict(
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
        risk_rate=float(risk_rate),
        risk_underflow=bool(risk[iT] == 0),
        flow_time=float(window_flow),
        norm_growth=float(np.min(norms[iT] / norms[i0])),
        product_norm_growth=float(product_growth),
        tail_growth=float(np.max((tails[iT] - tails[i0]) / np.maximum(tails[i0], 1e-12 * norms[i0] ** 2))),
        alignment_defect_ratio=align_ratio,
        product_v1_defect_ratio=_defect_ratio(m["product_v1"][iT], m["product_v1"][i0]),
        normalised_defect_ratio=_defect_ratio(rho[1], rho[0]),
        smoothed_margin_rise=float(smooth[1] - smooth[0]),
        growth_angle=float(np.degrees(np.arctan2(np.linalg.norm(dW - par * u), par))),
        parallel_rate=float(gamma * par / np.log(T / t0)),
        perpendicular_ratio=float(perpendicular_ratio),
        first_layer_perpendicular_ratio=float(first_layer_ratio),
    )
    for key in _STATISTICS:
        if key not in why and not np.isfinite(stats[key]):  # anything else the history's numbers leave undefined
            why[key] = f"it is not finite ({stats[key]!r}) on this history"
    if why and unmeasured is None:
        reasons = "; ".join(f"{key}: {reason}" for key, reason in why.items())
        raise ValueError(f"history: the window [{t0}, {T}] cannot measure {reasons} (unmeasured=nan gives them as nan)")
    return stats | dict.fromkeys(why, unmeasured)


def trend_values(stats: dict, *, unmeasured: float | None = None) -> dict[str, float]:
    """The statistics of `late_phase` that the chapter's ledger reads, under the names it glues them by.

    Relative growths are given as fractions (``ratio - 1``), so that a small growth does not round to 0.
    ``unmeasured``: None, or the number (nan, say) to give a statistic that ``stats`` holds as not finite (one
    that `late_phase` was told, by its own ``unmeasured``, to leave unmeasured); with None such a statistic
    raises ValueError naming it.

    Parameters
    ----------
    stats : dict
        What `late_phase` returned.
    unmeasured : float or None, optional
        None, or the value (nan, say) given to a statistic that ``stats`` holds as not finite; with None such a
        statistic raises.

    Returns
    -------
    dict
        Dict with the run's hypotheses, "stable", "late_escaped" (``escaped``) and "late_progress" (``progress``), and
        what Theorem 2.2 and the maximum-margin theorems conclude, as trends: "risk_rate", "norm_growth_late"
        (``norm_growth - 1``), "product_norm_growth_late" (``product_norm_growth - 1``), "tail_growth",
        "alignment_defect_ratio", "normalised_defect_ratio", "perpendicular_ratio" and "v1_perpendicular_ratio"
        (``first_layer_perpendicular_ratio``), each a float but the first two, bools.

    Raises
    ------
    ValueError
        If ``stats`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Theorem 2.2 and the maximum-margin theorems; Soudry et al. (2018).
    """
    unmeasured = None if unmeasured is None else _real(unmeasured, "unmeasured")
    same = ("risk_rate", "tail_growth", "alignment_defect_ratio", "normalised_defect_ratio", "perpendicular_ratio")
    stats = _validate.mapping(
        stats, "stats", (*same, "norm_growth", "product_norm_growth", "first_layer_perpendicular_ratio", "progress",
                         "stable", "escaped")
    )  # fmt: skip

    def value(key: str, shift: float = 0.0) -> float:
        v = _real(stats[key], f"stats[{key!r}]")
        if np.isfinite(v):
            return v - shift
        if unmeasured is None:
            raise ValueError(f"stats[{key!r}] = {v!r} is not finite: late_phase did not measure it (unmeasured=nan)")
        return unmeasured

    out = {key: value(key) for key in same}
    out["norm_growth_late"] = value("norm_growth", 1.0)
    out["product_norm_growth_late"] = value("product_norm_growth", 1.0)
    out["v1_perpendicular_ratio"] = value("first_layer_perpendicular_ratio")
    out["late_progress"] = value("progress")
    return {"stable": bool(stats["stable"]), "late_escaped": bool(stats["escaped"])} | dict(sorted(out.items()))


def late_phase_text(label: str, stats: dict, *, progress: float, why: str = "a small lr or a deep network") -> str:
    """One sentence on whether a run's last steps are where the limits can be measured (`late_phase`).

    Parameters
    ----------
    label : str
        How the sentence names the network ("the deep network").
    stats : dict
        `late_phase` of its run
    progress : float > 1, the fall of the risk over the window below which
        the run is said to have stopped moving.
    why : str, optional
        What keeps a run near the saddle, named in the sentence that says so.

    Returns
    -------
    str
        E.g. "The deep network separates the data from step 84 on and its risk falls 14-fold over steps
        5000 to 50000: its limits are measured there."

    Raises
    ------
    ValueError
        If ``label``, ``stats`` or ``progress`` is not valid (the message names the parameter).
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

    Parameters
    ----------
    rank : int
        Dimension the support vectors span, >= 0.
    dim : int
        Dimension of the input space, >= 1.

    Returns
    -------
    str
        One sentence saying whether the support vectors span ``R^dim``.

    References
    ----------
    Paper: Ji & Telgarsky, Assumption 2.7.

    Examples
    --------
    >>> from deeplinear.asymptotics import spanning_text
    >>> spanning_text(2, 2)
    'The support vectors span R^2: Assumption 2.7 holds.'
    """
    if rank == dim:
        return f"The support vectors span R^{dim}: Assumption 2.7 holds."
    return f"The support vectors span {rank} of the {dim} dimensions: Assumption 2.7 fails."
