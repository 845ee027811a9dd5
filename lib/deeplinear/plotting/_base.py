"""The book's look and the figures several chapters use: alignment curves, singular-value paths, overlaps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.transforms
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties

from .. import _validate

FIGURE_DPI = 110

# Every figure is at most this wide (inches): the book's column at 1366 px is 757 CSS px, and a figure is shown at
# 96 CSS px per inch (deeplinear_book.figure), so it is never shrunk there.
COLUMN_WIDTH = 7.5

# Paul Tol's "bright" qualitative scheme: distinct hues that stay distinct under the common colour-vision
# deficiencies (https://personal.sron.nl/~pault/). Captions name the colours by COLOUR_NAMES.
PALETTE = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB")
COLOUR_NAMES = ("blue", "red", "green", "yellow", "cyan", "purple", "grey")


_RC = {
    "figure.dpi": FIGURE_DPI,
    "savefig.dpi": 2 * FIGURE_DPI,
    "figure.figsize": (6.4, 4.0),
    "figure.constrained_layout.use": True,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "lines.linewidth": 1.8,
}


_METRICS = ("alignment", "invariance")


_STYLES = ("-", "--", ":", "-.")


def set_theme() -> None:
    """Apply the book's theme: seaborn "whitegrid", the colour-blind-safe `PALETTE`, web dpi.

    Idempotent: calling it again gives the same rcParams. Call it in each chapter's first cell.
    """
    sns.set_theme(context="notebook", style="whitegrid", palette=list(PALETTE), rc=_RC)


def _xsteps(steps, T: int, what: str) -> np.ndarray:
    steps = np.asarray(steps, dtype=np.float64)
    if steps.ndim != 1 or steps.shape[0] != T:
        raise ValueError(f"steps for {what} must have shape ({T},), got {steps.shape}")
    if np.any(steps < 0):
        raise ValueError("steps must be non-negative")
    return steps + 1.0


def palette(n: int | None = None) -> list[tuple[float, float, float]]:
    """The book's colours (`PALETTE`) as RGB tuples: all of them, or ``n`` of them (cycling past the last)."""
    count = len(PALETTE) if n is None else n
    return [matplotlib.colors.to_rgb(PALETTE[i % len(PALETTE)]) for i in range(count)]


def legend_below(ax: Axes, **kwargs: Any) -> Any:
    """A legend under ``ax``'s x label, off the data (constrained layout makes room for it); ``kwargs`` go to
    ``Axes.legend`` (``ncols`` defaults to 2)."""
    points = [
        FontProperties(size=matplotlib.rcParams[k]).get_size_in_points() for k in ("xtick.labelsize", "axes.labelsize")
    ]
    below = 1.5 * sum(points) + 12
    below = below if ax.get_xlabel() else 0.5 * below
    shift = matplotlib.transforms.ScaledTranslation(0, -below / 72, ax.figure.dpi_scale_trans)
    kwargs.setdefault("ncols", 2)
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=ax.transAxes + shift, **kwargs)


def _summary(values: np.ndarray, stacked: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre line and band (T,) of a metric (T, ...) or stacked (T, S, ...).

    Unstacked: mean over the remaining axes, band min..max. Stacked: each network's mean
    over interfaces, then the median over S with band min..max over S.
    """
    T = values.shape[0]
    if stacked:
        per_net = values.reshape(T, values.shape[1], -1).mean(axis=2)
        return np.median(per_net, axis=1), per_net.min(axis=1), per_net.max(axis=1)
    flat = values.reshape(T, -1)
    return flat.mean(axis=1), flat.min(axis=1), flat.max(axis=1)


def _line_with_band(ax: Axes, x, values, stacked, label, color, linestyle="-"):
    centre, lo, hi = _summary(values, stacked)
    (line,) = ax.plot(x, centre, color=color, linestyle=linestyle, label=label)
    if not np.allclose(lo, hi):
        ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0)
    return line


def plot_alignment(
    history: Any, ax: Axes | None = None, *, title: str | None = None, per_interface: bool = False
) -> Axes:
    """Alignment and invariance against step + 1 (log x), loss on a twin log axis.

    Parameters
    ----------
    history : object with attributes
        ``steps`` (T,); ``loss`` (T,) or, for a stack of S networks, (T, S); ``metrics``, a
        dict with keys such as "alignment" (T, d-1) or (T, S, d-1) and "invariance"
        (T, d) or (T, S, d). Metrics recorded on their own schedule are placed at
        ``history.metric_steps`` (T_m,) when that attribute exists.
    ax : Axes or None, optional
        Matplotlib Axes, optional
    title : str or None, optional
        Optional
    per_interface : bool
        One line per interface/layer instead of the mean with a min-max band (for stacks,
        each line is the median over networks).

    Returns
    -------
    Axes
        Axes holding the metrics; the loss is on its twin (``ax.figure.axes``). A stack is drawn
        as the median over networks with a min-max band.

    Raises
    ------
    ValueError
        If ``history`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6, Figures 1-2.
    """
    history = _validate.history(history, "history", ("steps", "loss"))
    ax = plt.gca() if ax is None else ax
    loss = np.asarray(history.loss, dtype=np.float64)
    stacked = loss.ndim == 2
    metrics = getattr(history, "metrics", {}) or {}
    colours = palette()
    handles, vmin, vmax = [], 0.0, 1.0
    for i, name in enumerate(n for n in _METRICS if n in metrics):
        values = np.asarray(metrics[name], dtype=np.float64)
        T = values.shape[0]
        src = history.steps
        if len(np.asarray(src)) != T and hasattr(history, "metric_steps"):
            src = history.metric_steps
        x = _xsteps(src, T, f"metric {name!r}")
        vmin, vmax = min(vmin, float(np.nanmin(values))), max(vmax, float(np.nanmax(values)))
        if per_interface and values.ndim == (3 if stacked else 2):
            lines = np.median(values, axis=1) if stacked else values
            for j in range(lines.shape[1]):
                handles += ax.plot(
                    x,
                    lines[:, j],
                    color=colours[i],
                    alpha=0.9,
                    linestyle=_STYLES[j % len(_STYLES)],
                    label=f"{name} {j + 1}",
                )
        else:
            handles.append(_line_with_band(ax, x, values, stacked, name, colours[i]))
    ax.set_xscale("log")
    ax.set_xlabel("step + 1")
    ax.set_ylabel("alignment / invariance")
    if handles:
        ax.set_ylim(vmin - 0.03, vmax + 0.03)
    twin = ax.twinx()
    handles.append(
        _line_with_band(
            twin, _xsteps(history.steps, loss.shape[0], "loss"), loss, stacked, "loss", "0.35", linestyle="--"
        )
    )
    twin.set_yscale("log")
    twin.set_ylabel("loss")
    twin.grid(False)
    ax.set_zorder(twin.get_zorder() + 1)  # metrics and legend above the loss curve
    ax.patch.set_visible(False)
    if title is not None:
        ax.set_title(title)
    legend_below(ax, handles=handles, labels=[h.get_label() for h in handles], ncols=3)
    return ax


def plot_alignment_panels(
    histories: dict, *, sharey: bool = False, figsize: tuple[float, float] = (COLUMN_WIDTH, 3.6)
) -> plt.Figure:
    """Side-by-side `plot_alignment` panels, one per run: ``{title: history}``, left to right.

    Parameters
    ----------
    histories : dict
        Dict title -> history (as `plot_alignment` takes), at least one.
    sharey : bool, optional
        One alignment/invariance axis for all panels.
    figsize : tuple, optional
        The figure's size in inches.

    Returns
    -------
    Figure
        Figure whose first ``len(histories)`` axes hold the metrics (each loss on its twin axis).

    Raises
    ------
    ValueError
        If ``histories`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6, Figures 1b and 1c.
    """
    if not isinstance(histories, dict) or not histories:
        raise ValueError(f"histories must be a non-empty dict title -> history, got {histories!r}")
    fig, axes = plt.subplots(1, len(histories), figsize=figsize, sharey=sharey, squeeze=False)
    for ax, (title, history) in zip(axes[0], histories.items()):
        plot_alignment(history, ax=ax, title=title)
    legend = axes[0, 0].get_legend()  # every panel draws the same lines: one legend, under them all
    handles = legend.legend_handles
    for ax in axes[0]:
        ax.get_legend().remove()
    fig.legend(handles, [t.get_text() for t in legend.get_texts()], loc="outside lower center", ncols=len(handles))
    return fig


def plot_singular_values(
    traj: np.ndarray,
    ax: Axes | None = None,
    *,
    steps: np.ndarray | None = None,
    labels: Sequence[str] | None = None,
    legend: bool = True,
    **style: Any,
) -> Axes:
    """Singular-value trajectories against step + 1 (log x).

    Parameters
    ----------
    traj : array_like (T, r) or (T, d, r)
        Singular values at each recorded step; (T, d, r) draws layer i in colour i.
    ax : Axes or None, optional
        Axes to draw on (default: a new figure).
    steps : array_like (T,), optional
        The recorded steps (default 0..T-1).
    labels : sequence of str, optional
        One per singular value for (T, r), one per layer for (T, d, r)
        (default "σ_k" and "layer i").
    legend : bool
        Draw a legend (only with at most 12 labels).
    **style : object
        Passed to ``Axes.plot`` for every line (e.g. ``linestyle=":"``, or ``linestyle="none",
        marker="o"`` for markers only), so that several runs can share one axes.

    Returns
    -------
    Axes
        Axes.

    Raises
    ------
    ValueError
        If ``traj`` or ``labels`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1, eq. (6).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from deeplinear.plotting import plot_singular_values
    >>> ax = plot_singular_values(np.ones((5, 2, 3)))  # (T, d, r): 5 records of 2 layers' 3 singular values
    >>> len(ax.get_lines())
    6
    >>> plt.close(ax.figure)
    """
    traj = np.asarray(traj, dtype=np.float64)
    if traj.ndim not in (2, 3):
        raise ValueError(f"traj must have shape (T, r) or (T, d, r), got {traj.shape}")
    T = traj.shape[0]
    x = _xsteps(np.arange(T) if steps is None else steps, T, "traj")
    groups = traj[:, None, :] if traj.ndim == 2 else traj  # (T, d, r)
    d, r = groups.shape[1:]
    n_labels = r if traj.ndim == 2 else d
    if labels is not None and len(labels) != n_labels:
        raise ValueError(f"labels must have {n_labels} entries, got {len(labels)}")
    ax = plt.gca() if ax is None else ax
    colours = palette(max(n_labels, 1))
    for i in range(d):
        for k in range(r):
            if traj.ndim == 2:
                colour, label = colours[k % len(colours)], labels[k] if labels else f"σ_{k + 1}"
            else:
                colour = colours[i % len(colours)]
                label = (labels[i] if labels else f"layer {i + 1}") if k == 0 else "_nolegend_"
            ax.plot(x, groups[:, i, k], color=colour, label=label, **style)
    ax.set_xscale("log")
    ax.set_xlabel("step + 1")
    ax.set_ylabel("singular value")
    if legend and n_labels <= 12:
        legend_below(ax, ncols=min(n_labels, 4))
    return ax


def _history_metric(h: Any, name: str) -> np.ndarray:
    if name not in getattr(h, "metrics", {}):
        raise ValueError(f"the history must record the metric {name!r} (deeplinear.separable.measurements)")
    return np.asarray(h.metrics[name], dtype=np.float64)


def _same_shape(what: str, a, shape: tuple) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"{what} must have shape {shape}, got {a.shape}")
    return a


def plot_overlap(overlap: np.ndarray, ax: Axes | None = None, *, layer: int = 1, title: str | None = None) -> Axes:
    """Heatmap of the overlaps ``|<v_j(W_{i+1}), u_l(W_i)>|`` of one interface (colour scale 0 to 1).

    Parameters
    ----------
    overlap : ndarray
        Array_like (r', r), one entry of `deeplinear.overlaps.overlap`: row j for the right
        singular vector v_j of W_{i+1}, column l for the left singular vector u_l of W_i.
    ax : Axes or None, optional
        Matplotlib Axes, optional
    layer : int, optional
        >= 1, the interface's i (for the labels).
    title : str or None, optional
        Optional

    Returns
    -------
    Axes
        Axes holding the heatmap; its colour bar is another axes of the figure.

    Raises
    ------
    ValueError
        If ``overlap`` or ``layer`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 2.
    """
    overlap = np.asarray(overlap, dtype=np.float64)
    if overlap.ndim != 2 or overlap.size == 0:
        raise ValueError(f"overlap must be a non-empty 2-D array (r', r), got shape {overlap.shape}")
    _validate.integer(layer, "layer", 1, what="a positive integer")
    ax = plt.gca() if ax is None else ax
    i, j = layer, layer + 1
    sns.heatmap(
        overlap,
        vmin=0,
        vmax=1,
        cmap="viridis",
        square=True,
        ax=ax,
        cbar_kws={"label": rf"$|\langle v_j(W_{{{j}}}), u_l(W_{{{i}}})\rangle|$"},
    )
    ax.set(
        xlabel=rf"left singular vector $u_l$ of $W_{{{i}}}$ (sorted)",
        ylabel=rf"right singular vector $v_j$ of $W_{{{j}}}$ (sorted)",
    )
    if title is not None:
        ax.set_title(title)
    return ax
