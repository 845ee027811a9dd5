"""Figures of Corollary 1 and Proposition 1 (chapter 04): singular-value dynamics and learning rates."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from .. import _validate
from ._base import (
    COLUMN_WIDTH,
    legend_below,
    plot_singular_values,
)


def plot_corollary1(full: np.ndarray, reduced: np.ndarray, printed: np.ndarray, off_diagonal: np.ndarray) -> plt.Figure:
    """Full gradient descent against the recursion (6), corrected and as printed.

    Left: each mode's product of singular values ``p_j = prod_i sigma_ij`` against step + 1 (log x), one
    colour per mode, full gradient descent as lines (`plot_singular_values`), the corrected recursion as
    open circles at 25 log-spaced steps, the printed one dotted. Right: the largest deviation of either
    recursion from full gradient descent, and ``off_diagonal``, against step + 1 (log-log, floored at 1e-18).

    Parameters
    ----------
    full, reduced, printed : ndarray
        Array_like (T, d, r), singular values at steps 0..T-1.
    off_diagonal : ndarray
        Array_like (T,), the largest off-diagonal entry of the full run in the initial bases.

    Returns
    -------
    Figure
        Figure with two axes.

    Raises
    ------
    ValueError
        If ``full`` or ``off_diagonal`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1, eqs. (5)-(6).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from deeplinear.plotting import plot_corollary1
    >>> traj = np.linspace(0.5, 1.0, 10)[:, None, None] * np.ones((10, 2, 2))  # (T, d, r)
    >>> fig = plot_corollary1(traj, traj, traj, np.zeros(10))
    >>> len(fig.axes) >= 2
    True
    >>> plt.close(fig)
    """
    full, reduced, printed = (np.asarray(a, dtype=np.float64) for a in (full, reduced, printed))
    if full.ndim != 3 or reduced.shape != full.shape or printed.shape != full.shape:
        raise ValueError(
            f"full, reduced and printed must share one (T, d, r) shape, got {full.shape}, "
            f"{reduced.shape}, {printed.shape}"
        )
    T = len(full)
    off_diagonal = np.asarray(off_diagonal, dtype=np.float64)
    if off_diagonal.shape != (T,):
        raise ValueError(f"off_diagonal must have shape ({T},), got {off_diagonal.shape}")
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_WIDTH, 4.2))
    marks = np.unique(np.geomspace(1, T, 25).astype(int)) - 1
    plot_singular_values(full.prod(axis=1), axes[0], legend=False, lw=1.5)
    plot_singular_values(
        reduced.prod(axis=1)[marks], axes[0], steps=marks, legend=False, linestyle="none", marker="o", ms=4, mfc="none"
    )
    plot_singular_values(printed.prod(axis=1), axes[0], legend=False, linestyle=":", lw=1)
    proxies = [
        axes[0].plot([], [], "k-", label="full gradient descent")[0],
        axes[0].plot([], [], "ko", mfc="none", label="reduced recursion (6), corrected")[0],
        axes[0].plot([], [], "k:", label="equation (6) as printed")[0],
    ]
    axes[0].set(ylabel=r"mode product $p_j = \prod_i\sigma_{i,j}$", title="one colour per mode")
    axes[0].set_xlabel("step + 1")
    legend_below(axes[0], handles=proxies, ncols=1)
    x = np.arange(T) + 1
    for other, label in ((reduced, "corrected (6)"), (printed, "(6) as printed")):
        axes[1].plot(x, np.maximum(np.abs(full - other).max(axis=(1, 2)), 1e-18), label=label)
    axes[1].plot(x, np.maximum(off_diagonal, 1e-18), "--", color="0.4", label="off-diagonal of full GD")
    axes[1].set(
        xscale="log",
        yscale="log",
        xlabel="step + 1",
        ylabel="largest deviation",
        title="full gradient descent vs recursion",
        ylim=(1e-18, 10),
    )
    legend_below(axes[1], ncols=1)
    return fig


def plot_proposition1(losses: np.ndarray, fit: Any, table: dict, *, depth: int) -> plt.Figure:
    """Proposition 1: linear convergence at the bound, learning rates and time to converge against depth.

    Parameters
    ----------
    losses : ndarray
        Array_like (T,), the loss of full gradient descent at the bound, steps 0..T-1.
    fit : object
        `deeplinear.convergence.LinearFit` of ``losses`` (drawn dashed over its window).
    table : dict
        Dict with arrays (D,) "depth", "bound", "critical", "edge_transverse" and "steps" (steps to
        reduce the loss by 1e10 at the bound).
    depth : int
        The depth of the run in ``losses`` (for its label).

    Returns
    -------
    Figure
        Figure with three axes.

    Raises
    ------
    ValueError
        If ``fit`` or ``table`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 1.
    """
    if not all(hasattr(fit, a) for a in ("window", "rate", "intercept")):
        raise ValueError(f"fit must be a deeplinear.convergence.LinearFit, got {type(fit).__name__}")
    table = _validate.mapping(table, "table")
    missing = {"depth", "bound", "critical", "edge_transverse", "steps"} - set(table)
    if missing:
        raise ValueError(f"table lacks {sorted(missing)}")
    losses = np.asarray(losses, dtype=np.float64)
    fig = plt.figure(figsize=(COLUMN_WIDTH, 6.8))
    mosaic = fig.subplot_mosaic([["loss", "loss"], ["rates", "steps"]])
    axes = [mosaic["loss"], mosaic["rates"], mosaic["steps"]]
    axes[0].plot(np.arange(len(losses)), losses, label=f"full GD at the bound, d = {depth}")
    t = np.asarray(fit.window)
    axes[0].plot(t, np.exp(fit.intercept - fit.rate * t), "k--", lw=1, label=f"fit: rate {fit.rate:.2g} per step")
    axes[0].set(yscale="log", xlabel="step", ylabel="loss", title="linear convergence at the bound")
    legend_below(axes[0])
    d = table["depth"]
    axes[1].plot(d, table["bound"], "o-", label="bound of Proposition 1")
    axes[1].plot(d, table["critical"], "s-", label="critical rate of the recursion")
    axes[1].plot(d, table["edge_transverse"], "d--", label="edge for full GD (all pairs)")
    axes[1].set(yscale="log", xlabel="depth d", ylabel=r"learning rate $\gamma$", title="learning rates")
    legend_below(axes[1], ncols=1)
    axes[2].plot(d, table["steps"], "o-")
    axes[2].set(
        yscale="log", xlabel="depth d", ylabel=r"steps to reach $10^{-10}L_0$", title="time to converge at the bound"
    )
    return fig


def plot_sequential_learning(
    runs: dict, u_map: np.ndarray, u_ode: np.ndarray, predicted: np.ndarray, strengths: np.ndarray
) -> plt.Figure:
    """Sequential learning: mode products against the step, one colour per mode (viridis, by strength).

    Left (d = 2): full gradient descent ``runs[2]`` (lines), the discrete map ``u_map`` (circles, about
    30), the closed form ``u_ode`` (dotted) and the predicted learning times (thin vertical lines). Right:
    the mode products of the deepest run.

    Parameters
    ----------
    runs : dict
        Dict depth -> array_like (T_d, r), mode products of full gradient descent
        (`deeplinear.sequential.sequential_run`), with depth 2 among the keys.
    u_map, u_ode : ndarray
        Array_like (T_2, r)
    predicted : ndarray
        Array_like (r,)
    strengths : array_like (r,), the
        legend's labels.

    Returns
    -------
    Figure
        Figure with two axes.

    Raises
    ------
    ValueError
        If ``runs`` or ``predicted`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1 (sequential learning; Saxe et al. 2014).
    """
    runs = _validate.mapping(runs, "runs")
    if 2 not in runs:
        raise ValueError(f"runs must hold depth 2, got depths {sorted(runs)}")
    depth = max(runs)
    u, u_map, u_ode, u_deep = (np.asarray(a, dtype=np.float64) for a in (runs[2], u_map, u_ode, runs[depth]))
    if u.ndim != 2 or u_map.shape != u.shape or u_ode.shape != u.shape or u_deep.shape[1:] != u.shape[1:]:
        raise ValueError(
            f"u, u_map and u_ode must share one (T, r) shape and u_deep have r columns, got "
            f"{u.shape}, {u_map.shape}, {u_ode.shape}, {u_deep.shape}"
        )
    r = u.shape[1]
    predicted, strengths = np.asarray(predicted, dtype=np.float64), np.asarray(strengths, dtype=np.float64)
    if predicted.shape != (r,) or strengths.shape != (r,):
        raise ValueError(f"predicted and strengths must have shape ({r},), got {predicted.shape} and {strengths.shape}")
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_WIDTH, 4.6))
    palette = sns.color_palette("viridis", r)
    t = np.arange(len(u))
    sparse = t[:: max(1, len(t) // 30)]
    for j in range(r):
        axes[0].plot(t, u[:, j], color=palette[j], lw=2)
        axes[0].plot(t, u_ode[:, j], ":", color="k", lw=1)
        axes[0].plot(sparse, u_map[sparse, j], "o", color=palette[j], ms=3.5, mfc="none")
        axes[0].axvline(predicted[j], color=palette[j], lw=0.6, alpha=0.6)
        axes[1].plot(np.arange(len(u_deep)), u_deep[:, j], color=palette[j], lw=2, label=f"{strengths[j]:.2f}")
    axes[0].plot([], [], "k-", label="full gradient descent")
    axes[0].plot([], [], "ko", mfc="none", label="discrete map")
    axes[0].plot([], [], "k:", label="closed form (Saxe et al.)")
    axes[0].set(xlabel="step", ylabel=r"mode product $u_j$", title="d = 2, whitened inputs")
    legend_below(axes[0], ncols=1)
    axes[1].set(xlabel="step", ylabel=r"mode product $u_j$", title=f"d = {depth}")
    legend_below(axes[1], title="strength s", ncols=min(r, 4))
    return fig
