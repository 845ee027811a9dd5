"""Figures of Proposition 2 and balancedness (chapter 05)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import _validate
from ._base import (
    _STYLES,
    COLUMN_WIDTH,
    _same_shape,
    _xsteps,
    legend_below,
    palette,
    plot_alignment,
)


def plot_minimum_norm_gap(
    scales: np.ndarray, gap: np.ndarray, start_imbalance: np.ndarray, alignment: np.ndarray
) -> plt.Figure:
    """Gradient descent from starts of growing scale: how far the end is from the minimum norm (log-log,
    with the imbalance of the start beside it), and how aligned it is.

    Parameters
    ----------
    scales : ndarray
        Array_like (S,), the initialisation scales.
    gap : ndarray
        Array_like (S,), ``norm_ratio - 1`` at the end (`deeplinear.minimum_norm.norm_ratio`).
    start_imbalance : ndarray
        Array_like (S,), ``||W_2^T W_2 - W_1 W_1^T||_F / (2 ||P*||_*)`` at the start.
    alignment : ndarray
        Array_like (S,), the alignment score at the end.

    Returns
    -------
    Figure
        Figure with two axes.

    Raises
    ------
    ValueError
        If ``scales`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 2 (and the paper's small-initialisation argument).
    """
    scales = np.asarray(scales, dtype=np.float64)
    if scales.ndim != 1 or scales.size == 0:
        raise ValueError(f"scales must be a non-empty 1-D array, got shape {scales.shape}")
    gap, start, alignment = (
        _same_shape(w, a, scales.shape)
        for w, a in (("gap", gap), ("start_imbalance", start_imbalance), ("alignment", alignment))
    )
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_WIDTH, 3.8))
    axes[0].loglog(scales, gap, marker="o", label="relative norm gap at the end")
    label = r"$\|W_2^TW_2-W_1W_1^T\|_F$ at the start, $/\,2\|P^\star\|_*$"
    axes[0].loglog(scales, start, marker="s", linestyle="--", label=label)
    axes[0].set(xlabel="initialisation scale $s$", ylabel="relative size", title="Distance from the minimum norm")
    legend_below(axes[0], ncols=1)
    axes[1].semilogx(scales, alignment, marker="o")
    axes[1].set(
        xlabel="initialisation scale $s$",
        ylabel="alignment score at the end",
        title="Alignment at the end",
        ylim=(min(0.5, float(alignment.min()) - 0.05), 1.02),
    )
    return fig


def plot_balancedness_drift(
    lrs: np.ndarray,
    per_step: np.ndarray,
    printed_per_step: np.ndarray,
    fixed_time_lrs: np.ndarray,
    fixed_time: np.ndarray | Sequence[float],
) -> plt.Figure:
    """How much ``D_i = W_{i+1}^T W_{i+1} - W_i W_i^T`` moves against the learning rate (log-log): in one
    step, in one step in the paper's printed form, and over a fixed training time; each label carries
    the least-squares slope of log change on log learning rate.

    Parameters
    ----------
    lrs : ndarray
        Array_like (R,), learning rates of the one-step changes.
    per_step, printed_per_step : array_like (R,), the largest change over interfaces
        (`deeplinear.balance.drift_norm`, with ``printed=True`` for the second).
    fixed_time_lrs : ndarray
        Array_like (F,), learning rates of the fixed-time runs.
    fixed_time : ndarray or sequence of float
        Array_like (F,), the largest change over a fixed time ``lr * steps``.

    Returns
    -------
    Figure
        Figure with one axes.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (balancedness, Du et al. 2018).
    """
    lrs, fixed_time_lrs = np.asarray(lrs, dtype=np.float64), np.asarray(fixed_time_lrs, dtype=np.float64)
    arora, printed = r"$W_{i+1}^TW_{i+1}-W_iW_i^T$", r"printed $W_i^TW_i-W_{i+1}^TW_{i+1}$"
    per_step = _same_shape("per_step", per_step, lrs.shape)
    printed_per_step = _same_shape("printed_per_step", printed_per_step, lrs.shape)
    fixed_time = _same_shape("fixed_time", fixed_time, fixed_time_lrs.shape)
    lines = [
        (lrs, per_step, "o", "-", f"{arora}, one step"),
        (lrs, printed_per_step, "^", "--", f"{printed}, one step"),
        (fixed_time_lrs, fixed_time, "s", ":", f"{arora} over a fixed time"),
    ]
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for x, y, marker, linestyle, label in lines:
        slope = np.polyfit(np.log(x), np.log(y), 1)[0]
        ax.loglog(x, y, marker=marker, linestyle=linestyle, label=f"{label} (slope {slope:.2f})")
    ax.set(
        xlabel="learning rate",
        ylabel=r"change, largest over interfaces ($\|\cdot\|_F$)",
        title="Drift of balancedness under gradient descent",
    )
    legend_below(ax, ncols=1)
    return fig


def plot_imbalance(history: Any, *, floor: float = 1e-17) -> plt.Figure:
    """A run from a balanced start: the relative imbalance of each interface in the paper's printed
    form and in Arora and Du's (log-log, left), and alignment, invariance and loss (right,
    :func:`plot_alignment`).

    Parameters
    ----------
    history : object
        A `deeplinear.History` whose metrics hold "printed" and "arora" (T_m, d-1), the
        relative imbalances (`deeplinear.balance.relative_imbalance` with ``printed=True`` and
        without), and "alignment" and "invariance".
    floor : float, optional
        Values below it are drawn at it (an exact 0 has no place on a log axis).

    Returns
    -------
    Figure
        Figure with two axes (and the loss's twin).

    Raises
    ------
    ValueError
        If ``history`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (balancedness), Theorem 1.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from deeplinear import History
    >>> from deeplinear.plotting import plot_imbalance
    >>> steps = np.arange(5)
    >>> metrics = {name: np.full((5, 2), 1e-3) for name in ("printed", "arora", "alignment")}
    >>> history = History(steps, np.linspace(1, 0.1, 5), np.full(5, 0.1), {**metrics, "invariance": np.ones((5, 3))})
    >>> fig = plot_imbalance(history)
    >>> len(fig.axes) >= 2
    True
    >>> plt.close(fig)
    """
    history = _validate.history(history, "history", ("steps", "loss", "metrics"))
    values = {}
    for name in ("printed", "arora"):
        if name not in history.metrics:
            raise ValueError(f"history must have recorded the metric {name!r}, got {list(history.metrics)}")
        values[name] = np.asarray(history.metrics[name], dtype=np.float64)
    x = _xsteps(history.metric_steps, values["printed"].shape[0], "metric 'printed'")
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_WIDTH, 4.4))
    colours = palette()
    for i in range(values["printed"].shape[1]):
        ls, a, b = _STYLES[i % len(_STYLES)], i + 1, i + 2
        for name, colour, label in (
            ("printed", colours[1], rf"printed: $W_{{{a}}}^TW_{{{a}}}$ vs $W_{{{b}}}^TW_{{{b}}}$"),
            ("arora", colours[0], rf"Arora–Du: $W_{{{b}}}^TW_{{{b}}}$ vs $W_{{{a}}}W_{{{a}}}^T$"),
        ):
            axes[0].loglog(x, np.maximum(values[name][:, i], floor), color=colour, linestyle=ls, label=label)
    axes[0].set(xlabel="step + 1", ylabel="relative imbalance", title="Imbalance from a balanced start")
    legend_below(axes[0], ncols=1)
    plot_alignment(history, ax=axes[1], title="Alignment and invariance")
    return fig
