"""Figures of Theorem 1 (chapter 03): Figure 1a, invariance and loss per problem class, one-step rotation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .. import _validate
from ._base import (
    COLUMN_WIDTH,
    legend_below,
    palette,
    plot_alignment,
)


def plot_figure1a(history: Any, *, title: str | None = None) -> Figure:
    """Figure 1a: `plot_alignment` with one line per interface and per layer, on a Figure of its own.

    Parameters
    ----------
    history : object
        A `deeplinear.recording.History` with "alignment" and "invariance" recorded.
    title : str or None, optional
        Optional.

    Returns
    -------
    Figure
        Figure (pyplot), with the metrics' axes and the loss's twin.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6, Figure 1a.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from deeplinear import train
    >>> from deeplinear.plotting import plot_figure1a
    >>> rng = np.random.default_rng(0)
    >>> Ws = [rng.standard_normal((3, 3)) / 3 for _ in range(3)]
    >>> run = train(Ws, np.eye(3), np.eye(3), lr=0.1, steps=20, metrics=("alignment", "invariance"))
    >>> fig = plot_figure1a(run.history)
    >>> type(fig).__name__
    'Figure'
    >>> plt.close(fig)
    """
    fig = plt.figure(figsize=(6.4, 4.8))
    plot_alignment(history, fig.subplots(), per_interface=True, title=title)
    return fig


def plot_invariance_and_loss(runs: dict, *, dashed: Sequence[str] = (), floor: float = 1e-17) -> plt.Figure:
    """Left: 1 - invariance of the worst layer against step + 1 (log-log, floored at ``floor``), with a
    grey line at 1e-10; right: the loss. One colour per run; a run whose name starts with one of
    ``dashed`` is drawn dashed (the contrasts), the others solid.

    Parameters
    ----------
    runs : dict
        Dict name -> TrainResult (or its History) with the metric "invariance" (T_m, d) recorded.
    dashed : sequence of str, optional
        Name prefixes of the runs drawn dashed.
    floor : float, optional
        > 0, the smallest deviation drawn (exact invariance has no place on a log axis).

    Returns
    -------
    Figure
        Figure with two axes.

    Raises
    ------
    ValueError
        If ``runs`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1 and Section 4.2.
    """
    runs = _validate.mapping(runs, "runs")
    for name, run in runs.items():
        _validate.history(getattr(run, "history", run), f"runs[{name!r}]", ("steps", "loss", "metrics", "metric_steps"))
    if not runs:
        raise ValueError("runs must name at least one run")
    fig = plt.figure(figsize=(COLUMN_WIDTH, 4.6))
    axes = fig.subplots(1, 2)
    for (name, run), colour in zip(runs.items(), palette(len(runs))):
        h = getattr(run, "history", run)
        style = "--" if name.startswith(tuple(dashed)) else "-"
        dev = np.maximum(1 - np.asarray(h.metrics["invariance"]).min(axis=1), floor)
        axes[0].plot(np.asarray(h.metric_steps) + 1, dev, style, color=colour, label=name)
        axes[1].plot(np.asarray(h.steps) + 1, h.loss, style, color=colour, label=name)
    axes[0].axhline(1e-10, color="0.5", lw=0.8)
    axes[0].set(
        xscale="log",
        yscale="log",
        xlabel="step + 1",
        ylabel="1 − invariance (worst layer)",
        title="do the singular vectors move?",
        ylim=(floor, 2),
    )
    axes[1].set(xscale="log", yscale="log", xlabel="step + 1", ylabel="loss", title="training loss", ylim=(1e-30, 1e2))
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncols=3)
    return fig


def plot_final_invariance(final: dict, *, title: str | None = None, floor: float = 1e-17) -> plt.Figure:
    """A strip plot of 1 - the final invariance of the worst layer, one column per kind of problem and
    one point per ensemble member (log y, floored at ``floor``, horizontal jitter), grey line at 1e-10.

    Parameters
    ----------
    final : dict
        Dict kind -> array (S,) of final invariances (worst layer) of the S members.
    title : str or None, optional
        Optional.
    floor : float, optional
        > 0, the smallest deviation drawn.

    Returns
    -------
    Figure
        Figure with one axes.

    Raises
    ------
    ValueError
        If ``final`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1 over many draws of each problem class.
    """
    final = _validate.mapping(final, "final")
    fig = plt.figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    colours = palette()
    for i, values in enumerate(final.values()):
        dev = np.maximum(1 - np.asarray(values, dtype=np.float64), floor)
        jitter = np.random.default_rng(i).uniform(-0.15, 0.15, len(dev))
        ax.scatter(i + jitter, dev, s=14, alpha=0.8, color=colours[i % len(colours)])
    ax.axhline(1e-10, color="0.5", lw=0.8)
    ax.set(
        yscale="log",
        ylim=(floor, 2),
        xticks=range(len(final)),
        xticklabels=list(final),
        ylabel="1 − final invariance (worst layer)",
    )
    if title is not None:
        ax.set_title(title)
    return fig


def plot_one_step_rotation(rates: Sequence[float] | np.ndarray, rotation: dict, slopes: dict) -> Figure:
    """How far one gradient step turns the pinned bases, against its learning rate (log-log), one line
    per case, labelled with its fitted slope (1: first order in the rate, 2: second order).

    Parameters
    ----------
    rates : sequence of float or ndarray
        Array_like (R,), the step sizes.
    rotation : dict
        Dict label -> array (R,) (`deeplinear.theory.one_step_rotation`).
    slopes : dict
        Dict label -> float, the same labels.

    Returns
    -------
    Figure
        Figure with one axes.

    Raises
    ------
    ValueError
        If ``rotation`` or ``slopes`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1 (why its "only if" needs d >= 3).
    """
    rotation = _validate.mapping(rotation, "rotation")
    slopes = _validate.mapping(slopes, "slopes", list(rotation))
    rates = np.asarray(rates, dtype=np.float64)
    fig = plt.figure(figsize=(6.4, 4.6))
    ax = fig.subplots()
    for (label, r), marker in zip(rotation.items(), "osd^v"):
        if np.shape(r) != rates.shape:
            raise ValueError(f"rotation[{label!r}] must have shape {rates.shape}, got {np.shape(r)}")
        ax.plot(rates, r, marker=marker, label=f"{label} (slope {slopes[label]:.2f})")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel=r"learning rate $\gamma$ of one step",
        ylabel="turn of the pinned bases",
        title="one gradient step from an aligned network",
    )
    legend_below(ax, ncols=1)
    return fig
