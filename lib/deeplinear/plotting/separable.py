"""Figures of Ji & Telgarsky (chapter 02): risk, norms, rank-one ratios, max-margin directions, rates."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import _validate
from ._base import (
    _STYLES,
    COLUMN_WIDTH,
    _history_metric,
    legend_below,
    palette,
)

# -- Ji & Telgarsky, separable data (chapter 02) ------------------------------------------------
_STYLES_1B = ("-", "--", "-.", ":")


_TRAILS = ("Greens", "Purples", "Oranges", "Blues")


def plot_risk_and_norms(runs: dict, *, norms_of: str | None = None) -> plt.Figure:
    """Left: the risk of each run against step + 1 (log-log); right: ``||W_i||_F`` of each layer of one run.

    Parameters
    ----------
    runs : dict
        Dict label -> `deeplinear.History` (loss (T,)); the run ``norms_of`` also records "norms" (T, L).
    norms_of : str or None, optional
        The label of the run whose layer norms are drawn (default: the first run).

    Returns
    -------
    Figure
        Figure with two axes.

    Raises
    ------
    ValueError
        If ``norms_of`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Theorem 2.2 (risk to 0, norms to infinity).
    """
    norms_of = next(iter(runs), None) if norms_of is None else norms_of
    if norms_of not in runs:
        raise ValueError(f"norms_of must be one of the runs' labels {list(runs)}, got {norms_of!r}")
    norms = _history_metric(runs[norms_of], "norms")
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_WIDTH, 4.0))
    for j, (label, h) in enumerate(runs.items()):
        axes[0].loglog(h.steps + 1, h.loss, label=label, linestyle=_STYLES[j % 2])
    axes[0].set(xlabel="step + 1", ylabel=r"risk $\mathcal{R}(W(t))$", title="Risk (logistic loss)")
    legend_below(axes[0], ncols=1)
    for i in range(norms.shape[1]):
        axes[1].semilogx(runs[norms_of].steps + 1, norms[:, i], label=f"$W_{i + 1}$")
    axes[1].set(xlabel="step + 1", ylabel=r"$\|W_i\|_F$", title=f"Layer norms, {norms_of}")
    legend_below(axes[1], ncols=min(norms.shape[1], 4))
    return fig


def plot_rank_one(history: Any) -> plt.Figure:
    """Ji and Telgarsky's Figure 1b and the alignment of adjacent layers, both against the risk.

    Left: ``||W_i||_2 / ||W_i||_F`` of each layer; right: ``1 - |v_{i+1}^T u_i|`` of each interface
    (log axis, values floored at 1e-17); the risk axis is logarithmic and decreasing to the right.

    Parameters
    ----------
    history : object
        `deeplinear.History` with loss (T,) and metrics "rank_one" (T, L) and "alignment" (T, L-1).

    Returns
    -------
    Figure
        Figure with two axes.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Theorem 2.2, Figure 1b.
    """
    ratios, align = _history_metric(history, "rank_one"), _history_metric(history, "alignment")
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_WIDTH, 4.4))
    for i in range(ratios.shape[1]):
        axes[0].plot(history.loss, ratios[:, i], linestyle=_STYLES_1B[i % 4], label=f"$W_{i + 1}$")
    for i in range(align.shape[1]):
        defect = np.maximum(1.0 - align[:, i], 1e-17)
        axes[1].plot(history.loss, defect, linestyle=_STYLES_1B[i % 4], label=f"$i = {i + 1}$")
    for ax in axes:
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_xlabel(r"risk $\mathcal{R}(W(t))$ (decreasing to the right)")
        legend_below(ax, ncols=4)
    axes[1].set_yscale("log")
    axes[0].set(ylabel=r"$\|W_i\|_2/\|W_i\|_F$", title="Figure 1b: each layer tends to rank one")
    axes[1].set(ylabel=r"$1-|v_{i+1}^Tu_i|$", title="Adjacent layers align")
    return fig


def plot_max_margin(X: np.ndarray, Y: np.ndarray, directions: dict) -> plt.Figure:
    """Ji and Telgarsky's Figure 1a: the data, the maximum-margin direction and the predictors' paths.

    Draws the points by label, the support vectors (circled), ``u-bar`` as an arrow with the
    separating line (solid) and the margin lines (dotted), and for each run the direction of
    ``W_prod`` at every record as a square on a circle (radius 1.15, 1.25, ...; darker is later).
    For ``k_0 > 2`` everything is projected onto the plane of ``u-bar`` and the data's top principal
    direction orthogonal to it.

    Parameters
    ----------
    X : ndarray
        (k_0, n)
    Y : ndarray
        (1, n) or (n,), labels in {-1, +1}.
    directions : dict
        Dict label -> ndarray (T, k_0), ``W_prod / ||W_prod||`` over training, or a
        `deeplinear.History` recording it as "direction" (`deeplinear.separable.measurements`); at most 4 runs.

    Returns
    -------
    Figure
        Figure with one axes.

    Raises
    ------
    ValueError
        If ``directions`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Figure 1a; `deeplinear.separable.max_margin`.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from deeplinear.plotting import plot_max_margin
    >>> X, Y = np.array([[1.0, -1.0, 2.0], [0.5, 0.0, -1.0]]), np.array([[1.0, -1.0, 1.0]])
    >>> fig = plot_max_margin(X, Y, {"gradient descent": np.array([[0.0, 1.0], [0.6, 0.8], [1.0, 0.0]])})
    >>> type(fig).__name__
    'Figure'
    >>> plt.close(fig)
    """
    directions = _validate.mapping(directions, "directions")
    from ..separable import max_margin, support_vectors

    if len(directions) > len(_TRAILS):
        raise ValueError(f"directions: at most {len(_TRAILS)} runs, got {len(directions)}")
    u_bar, gamma = max_margin(X, Y)
    X, y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64).reshape(-1)
    support = support_vectors(X, y, u_bar, gamma)
    if X.shape[0] == 2:
        plane = np.eye(2)
    else:  # u-bar and the data's top principal direction orthogonal to it
        rest = X - np.outer(u_bar, u_bar @ X)
        plane = np.stack([u_bar, np.linalg.svd(rest)[0][:, 0]], axis=1)
    P, ub = plane.T @ X, plane.T @ u_bar
    fig, ax = plt.subplots(figsize=(6.0, 6.8))
    colours = plt.get_cmap("coolwarm")
    ax.scatter(*P[:, y > 0], s=22, color=colours(0.05), label="$y=+1$", zorder=3)
    ax.scatter(*P[:, y < 0], s=22, color=colours(0.95), label="$y=-1$", zorder=3)
    ax.scatter(*P[:, support], s=90, facecolors="none", edgecolors="0.2", label="support vectors", zorder=3)
    normal = np.array([-ub[1], ub[0]]) / np.linalg.norm(ub)
    for offset, style in ((0.0, "-"), (gamma, ":"), (-gamma, ":")):
        base = offset * ub / np.linalg.norm(ub)
        ends = np.stack([base - 1.3 * normal, base + 1.3 * normal], axis=1)
        ax.plot(*ends, color="0.4", linestyle=style, lw=1)
    ax.annotate("", xy=ub, xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color="k", lw=2))
    ax.text(*(1.08 * ub), r"$\bar u$", fontsize=14, ha="center", va="center")
    for j, (label, d) in enumerate(directions.items()):
        d = _history_metric(d, "direction") if hasattr(d, "metrics") else np.asarray(d, dtype=np.float64)
        d = d @ plane
        d = (1.15 + 0.1 * j) * d / np.linalg.norm(d, axis=1, keepdims=True)
        cmap = _TRAILS[j]
        ax.plot(*d.T, color=plt.get_cmap(cmap)(0.7), lw=0.8)
        shade = np.linspace(0.35, 1.0, len(d))
        label = label + r": $W_{\rm prod}$ direction"
        ax.scatter(*d.T, c=shade, cmap=cmap, vmin=0, vmax=1, s=14, marker="s", label=label)
    two = X.shape[0] == 2
    ax.set(
        xlim=(-1.4, 1.4),
        ylim=(-1.4, 1.4),
        aspect="equal",
        title="Figure 1a: margin maximisation",
        xlabel="first coordinate" if two else r"along $\bar u$",
        ylabel="second coordinate" if two else "orthogonal direction",
    )
    legend_below(ax)
    return fig


def plot_margin_rates(
    runs: dict, *, fitted: str = "constant", labels: dict | None = None, decades: float = 2.0
) -> plt.Figure:
    """The angle to ``u-bar`` and the margin gap against the step, and the angle against the risk level.

    Parameters
    ----------
    runs : dict
        Dict (network, schedule) -> `deeplinear.History` recording "angle" and "gap"
        (`deeplinear.separable.measurements`) with the logistic loss. Networks get colours, schedules
        line styles (first "-", then "--").
    fitted : str, optional
        The schedule whose runs get the dotted fit ``1 / (a log t + b)`` of the angle
        (`deeplinear.margin_rates.inverse_log_fit` over the last ``decades`` decades of steps).
    labels : dict or None, optional
        Dict network or schedule -> its name in the legend; the schedules "constant" and
        "inverse_risk" of `deeplinear.schedules` have default names ("fixed step", "step ∝ 1/R").
    decades : float, optional
        Decades of steps, before the last, that the rate is fitted over.

    Returns
    -------
    Figure
        Figure with three axes: angle against step + 1, margin gap against step + 1 (floored at 1e-16),
        angle against ``log(l(0) / R)``.

    Raises
    ------
    ValueError
        If ``fitted`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Soudry et al. (2018); Ji & Telgarsky, Section 3.
    """
    from ..margin_rates import inverse_log_fit
    from ..schedules import LOSS_AT_ZERO

    names = {"constant": "fixed step", "inverse_risk": r"step $\propto 1/\mathcal{R}$", **(labels or {})}
    nets = list(dict.fromkeys(net for net, _ in runs))
    kinds = list(dict.fromkeys(kind for _, kind in runs))
    if fitted not in kinds:
        raise ValueError(f"fitted must be one of the schedules {kinds}, got {fitted!r}")
    fig = plt.figure(figsize=(COLUMN_WIDTH, 7.0))
    mosaic = fig.subplot_mosaic([["angle", "angle"], ["gap", "risk"]])
    axes = [mosaic["angle"], mosaic["gap"], mosaic["risk"]]
    for (net, kind), h in runs.items():
        colour, ls = palette()[nets.index(net) % len(palette())], _STYLES[kinds.index(kind) % 2]
        angle, gap = _history_metric(h, "angle"), _history_metric(h, "gap")
        style = dict(color=colour, linestyle=ls, label=f"{names.get(net, net)}, {names.get(kind, kind)}")
        axes[0].loglog(h.steps + 1, angle, **style)
        axes[1].loglog(h.steps + 1, np.maximum(gap, 1e-16), **style)
        axes[2].loglog(np.log(LOSS_AT_ZERO["logistic"] / h.loss), angle, **style)
        start = max(10, h.steps[-1] / 10**decades)
        if kind == fitted and np.sum((h.steps >= start) & (angle > 0)) >= 3:  # not a run that stopped early
            _, coef = inverse_log_fit(h.steps, angle, start=start)
            keep = h.steps >= start
            t = h.steps[keep].astype(float)
            fit = 1.0 / (coef[0] * np.log(t) + coef[1])
            fit[(fit <= 0) | (fit > 2 * angle[keep].max())] = np.nan  # away from the fit's pole
            axes[0].loglog(t + 1, fit, color="k", linestyle=":", lw=1)
    axes[0].plot([], [], color="k", linestyle=":", lw=1, label=r"fit $1/(a\log t+b)$")
    axes[0].set(
        xlabel="step + 1", ylabel=r"angle to $\bar u$ (degrees)", title=r"Direction: $O(1/\log t)$ for a fixed step"
    )
    axes[1].set(xlabel="step + 1", ylabel=r"$\gamma - $ normalised margin", title="Margin gap")
    axes[2].set(xlabel=r"$\log(\ell(0)/\mathcal{R})$", ylabel=r"angle to $\bar u$ (degrees)")
    axes[2].set_title("Angle against the risk level")
    legend_below(axes[0])
    return fig


def plot_alignment_defects(runs: dict, *, floor: float = 1e-8) -> plt.Figure:
    """``1 - min_i |v_{i+1}^T u_i|`` against step + 1 (log-log), one panel per loss, one line per start.

    Parameters
    ----------
    runs : dict
        Dict panel label (a loss name) -> dict line label (a start) -> `deeplinear.History` recording
        "alignment" (T, L-1) (`deeplinear.metrics.top_alignment`). Values at rounding level are drawn
        at 1e-17.
    floor : float, optional
        > 0, drawn as a dotted horizontal line.

    Returns
    -------
    Figure
        Figure with one axes per panel, sharing the y axis.

    Raises
    ------
    ValueError
        If ``runs`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Radhakrishnan et al., Appendix F.
    """
    runs = _validate.mapping(runs, "runs")
    for panel, lines in runs.items():
        _validate.mapping(lines, f"runs[{panel!r}]")
    fig, axes = plt.subplots(1, len(runs), figsize=(COLUMN_WIDTH, 3.8), sharey=True, squeeze=False)
    axes = axes[0]
    for ax, (panel, lines) in zip(axes, runs.items()):
        for j, (label, h) in enumerate(lines.items()):
            defect = np.maximum(1.0 - _history_metric(h, "alignment").min(axis=1), 1e-17)
            ax.loglog(h.steps + 1, defect, color=palette()[(2, 1, 0, 5)[j % 4]], label=label)
        ax.axhline(floor, color="0.5", linestyle=":", lw=1, label=f"$10^{{{np.log10(floor):.0f}}}$")
        ax.set(xlabel="step + 1", title=f"{panel} loss")
    axes[0].set_ylabel(r"$1-\min_i|v_{i+1}^Tu_i|$")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
    return fig
