"""Figures of layer structures (chapters 06, 07): Theorem 2, Proposition 4, Figure 2, the phase diagram."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .. import _validate
from ._base import (
    COLUMN_WIDTH,
    legend_below,
    palette,
    plot_alignment,
)


def plot_layer_structures(
    convolution: Any, filt: np.ndarray, toeplitz_matrix: np.ndarray, mask: np.ndarray
) -> plt.Figure:
    """Definition 4's three structures: three convolution basis matrices, and an element of each structure.

    Parameters
    ----------
    convolution : object
        `deeplinear.structures.Convolution` (p, s).
    filt : ndarray
        Array_like (s, s), a filter, drawn as its p^2 x p^2 matrix.
    toeplitz_matrix : ndarray
        (k, k), an element of Toeplitz(k).
    mask : ndarray
        (k, k) of bool, a sparse connection pattern.

    Returns
    -------
    Figure
        Figure with 2 x 3 axes: top, the basis matrices of the centre tap and of two corner taps (the same
        tap three times when s = 1); bottom, the filter's matrix, the Toeplitz matrix and the pattern.

    Raises
    ------
    ValueError
        If ``convolution`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 4, Section 5.1, Appendix I.
    """
    if not all(hasattr(convolution, a) for a in ("p", "s", "matrix")):
        raise ValueError(f"convolution must be a deeplinear.structures.Convolution, got {type(convolution).__name__}")
    s, p, h = convolution.s, convolution.p, convolution.h
    fig, axes = plt.subplots(2, 3, figsize=(COLUMN_WIDTH, 5.8))
    taps = [(h, h), (0, 0), (s - 1, s - 1)] if s > 1 else [(0, 0)] * 3
    basis = convolution.basis
    for ax, (a, b) in zip(axes[0], taps):
        j = a * s + b
        ax.imshow(basis[j], cmap="Greys", interpolation="nearest")
        ax.set(
            title=f"$A_{{{a}{b}}}$, tap ({a}, {b})\n$\\|A\\|_F^2 = {convolution.norms2[j]:.0f}$",
            xlabel="input pixel",
            ylabel="output pixel",
        )
    k = len(mask)
    panels = [
        (convolution.matrix(np.ravel(filt)), f"a random {s}×{s} filter\nas a {p * p}×{p * p} matrix", "pixel"),
        (np.asarray(toeplitz_matrix), f"a random {k}×{k}\nToeplitz matrix", "unit"),
    ]
    for ax, (W, title, what) in zip(axes[1], panels):
        lim = np.abs(W).max()
        ax.imshow(W, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set(title=title, xlabel=f"input {what}", ylabel=f"output {what}")
    axes[1, 2].imshow(mask, cmap="Greys", interpolation="nearest")
    axes[1, 2].set(
        title=f"sparse pattern:\n{int(np.sum(mask))} of {k * k} connections", xlabel="input unit", ylabel="output unit"
    )
    for ax in axes.ravel():
        ax.grid(False)
    return fig


def plot_theorem2(deviations: dict, floor: float = 1e-18) -> plt.Figure:
    """Coefficient gradient descent against projected gradient descent, per structure.

    Parameters
    ----------
    deviations : dict
        Dict name -> (scaled, orthogonal), two arrays (T,): the largest entrywise difference
        of the layers after each step from projected gradient descent with Theorem 2's scaled projection
        and with the orthogonal projection.
    floor : float, optional
        Deviations that are exactly 0 are drawn at this value (log axis).

    Returns
    -------
    Figure
        Figure with one log-log axes: solid lines (scaled), dashed lines (orthogonal), a grey line at 1e-12.

    Raises
    ------
    ValueError
        If ``deviations`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 2, footnote 3.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from deeplinear.plotting import plot_theorem2
    >>> fig = plot_theorem2({"Toeplitz": (np.array([0.0, 1e-16, 2e-16]), np.array([0.0, 1e-3, 1e-2]))})
    >>> len(fig.axes)
    1
    >>> plt.close(fig)
    """
    deviations = _validate.mapping(deviations, "deviations")
    fig, ax = plt.subplots(figsize=(7, 5.0))
    for colour, (name, (scaled, unscaled)) in zip(palette(), deviations.items()):
        x = np.arange(len(scaled)) + 1
        label = name.capitalize()
        ax.plot(x, np.maximum(scaled, floor), color=colour, label=f"{label}: scaled $\\pi_S$ (Theorem 2)")
        ax.plot(x, np.maximum(unscaled, floor), color=colour, linestyle="--", label=f"{label}: orthogonal projection")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="step + 1",
        ylabel="max |W (coefficient GD) - W (projected GD)|",
        title="Coefficient gradient descent against projected gradient descent",
    )
    ax.axhline(1e-12, color="0.5", linewidth=0.8)
    legend_below(ax)
    return fig


def plot_partner_sweep(sweep: np.ndarray, toeplitz_defect: float, k: int, floor: float = 1e-17) -> plt.Figure:
    """Smallest defect of a layer sharing P's right singular vectors against the structure's dimension r.

    Parameters
    ----------
    sweep : ndarray
        (k^2, 2), `deeplinear.impossibility.partner_sweep` (defect, score) for r = 1..k^2, or
        (draws, k^2, 2), one sweep per generic data set (one line each).
    toeplitz_defect : float
        The same for Toeplitz(k) (r = 2k - 1), on the first data set.
    k : int
        The matrix side.
    floor : float, optional
        Defects below it are drawn at it (log axis).

    Returns
    -------
    Figure
        Figure with one axes: the sweep, the Toeplitz marker, dotted line at Theorem 3's r < k - 1, dashed line
        at the dimension count r < k(k-1)/2 + 1.

    Raises
    ------
    ValueError
        If ``sweep`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 4, Theorem 3.
    """
    if np.ndim(sweep) not in (2, 3) or np.shape(sweep)[-1] != 2 or 0 in np.shape(sweep):
        raise ValueError(f"sweep must be an array (R, 2) or (draws, R, 2) of (defect, score), got {np.shape(sweep)}")
    sweeps = np.asarray(sweep, dtype=np.float64)
    sweeps = sweeps[None] if sweeps.ndim == 2 else sweeps
    r_values = np.arange(1, sweeps.shape[1] + 1)
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for i, one in enumerate(sweeps):
        label = "random subspace of dimension $r$" + (", one line per data set" if len(sweeps) > 1 else "")
        style = {"color": palette()[0], "alpha": 1.0 if i == 0 else 0.45, "label": label if i == 0 else None}
        ax.semilogy(r_values, np.maximum(one[:, 0], floor), "o-", markersize=4 if i else 6, **style)
    ax.semilogy(
        [2 * k - 1],
        [max(toeplitz_defect, floor)],
        "s",
        markersize=10,
        mfc="none",
        color=palette()[1],
        label=f"Toeplitz ($r = {2 * k - 1}$, Figure 2a)",
    )
    ax.axvline(k - 1 - 0.5, color="0.3", linestyle=":", label="Theorem 3 needs $r < k-1$")
    ax.axvline(k * (k - 1) // 2 + 1 - 0.5, color="0.3", linestyle="--", label="count: $r < k(k-1)/2+1$")
    ax.set(
        xlabel="dimension $r$ of the structure",
        ylabel=r"smallest defect $\delta(W)$, $W\in\mathcal{S}$",
        title=f"Can a layer in $\\mathcal{{S}}$ share $P$'s singular vectors? ($k = {k}$, $n = {2 * k}$)",
        xticks=r_values,
    )
    legend_below(ax)
    return fig


def plot_figure2(histories: Sequence, titles: Sequence[str], floor: float = 1e-17) -> plt.Figure:
    """The paper's Figure 2 with a basis-free check: scores and loss on top, the defect below.

    Parameters
    ----------
    histories : sequence
        Histories with ``steps``, ``loss`` (the mean squared error), ``metric_steps`` and metrics
        "alignment", "invariance" and "defect" (T_m, d-1), as `deeplinear.constrained.train_until_mse` returns.
    titles : sequence of str
        One title per history.
    floor : float, optional
        Defects below it are drawn at it (log axis).

    Returns
    -------
    Figure
        Figure with 2 x len(histories) axes (plus the loss twins): `plot_alignment` above, the defect of each
        interface below.

    Raises
    ------
    ValueError
        If ``histories`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6, Figure 2.
    """
    if isinstance(histories, (str, bytes, np.ndarray)) or not isinstance(histories, Sequence):
        raise ValueError(f"histories must be a list of histories, got {type(histories).__name__}")
    histories = [_validate.history(h, f"histories[{i}]", ("steps", "loss", "metrics")) for i, h in enumerate(histories)]
    n = len(histories)
    fig, axes = plt.subplots(n, 2, figsize=(COLUMN_WIDTH, 2.9 * n + 0.6), sharex="row", squeeze=False)
    for ax, hist, title in zip(axes[:, 0], histories, titles):
        plot_alignment(hist, ax=ax, title=title)
    for twin in fig.axes[2 * n :]:
        twin.set_ylabel("mean squared error")
    colours = palette()
    for ax, hist in zip(axes[:, 1], histories):
        defect = np.asarray(hist.metrics["defect"])
        for i in range(defect.shape[1]):
            ax.plot(
                np.asarray(hist.metric_steps) + 1,
                np.maximum(defect[:, i], floor),
                "o-",
                markersize=3,
                color=colours[(2, 5, 4, 3)[i % 4]],
                label=f"$\\Delta_{i + 1}$ (layers {i + 1}, {i + 2})",
            )
        ax.set(xscale="log", yscale="log", ylim=(3e-18, 3), xlabel="step + 1", ylabel=r"defect $\Delta$ (0 = aligned)")
    # one legend for all rows, above them: the scores' lines and the defects'
    handles = [*axes[0, 0].get_legend().legend_handles, *axes[0, 1].get_legend_handles_labels()[0]]
    labels = [t.get_text() for t in axes[0, 0].get_legend().get_texts()] + axes[0, 1].get_legend_handles_labels()[1]
    for ax in axes[:, 0]:
        ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside upper center", ncols=3)
    return fig


def plot_phase_diagram(
    phase: dict, families: dict, titles: Sequence[str] | None = None, *, fit: float = 1e-2
) -> plt.Figure:
    """Heatmaps of the median final defect over the number of samples n and the structure's dimension r.

    Parameters
    ----------
    phase : dict
        Dict family -> ndarray (R, N, 2), `deeplinear.phase_diagram.phase_diagram`.
    families : dict
        Dict family -> (k, rs, ns), `deeplinear.phase_diagram.PHASE_FAMILIES`.
    titles : sequence of str or None, optional
        One title per family; by default "family, $k = ...$".
    fit : float, optional
        Cells whose median loss ratio exceeds it are marked with a cross.

    Returns
    -------
    Figure
        Figure with one axes per family and a shared colour bar (log scale, 1e-4 to 1); a dotted line separates
        the rows with r < k - 1.

    Raises
    ------
    ValueError
        If ``phase`` or ``families`` is not valid (the message names the parameter).

    References
    ----------
    Paper: beyond the paper (Theorem 3).
    """
    phase = _validate.mapping(phase, "phase")
    families = _validate.mapping(families, "families", list(phase))
    fig, axes = plt.subplots(1, len(phase), figsize=(COLUMN_WIDTH, 3.8), squeeze=False)
    norm = plt.matplotlib.colors.LogNorm(vmin=1e-4, vmax=1.0)
    if titles is None:
        titles = [f"{family}, $k = {families[family][0]}$" for family in phase]
    for ax, (family, grid), title in zip(axes[0], phase.items(), titles):
        k, rs, ns = families[family]
        values = np.clip(grid[:, :, 0], 1e-4, 1.0)
        image = ax.imshow(values, origin="lower", cmap="viridis_r", norm=norm, aspect="auto")
        for i in range(len(rs)):
            for j in range(len(ns)):
                v = grid[i, j, 0]
                label = "0" if v < 1e-12 else f"{v:.1g}" if v >= 0.01 else f"{v:.0e}".replace("e-0", "e-")
                colour = "white" if values[i, j] > 1e-2 else "black"
                cross = "\n×" if grid[i, j, 1] > fit else ""
                ax.text(j, i, label + cross, ha="center", va="center", fontsize=9, color=colour)
        ax.set_xticks(range(len(ns)), [str(n) for n in ns])
        ax.set_yticks(range(len(rs)), [f"{r}" + (" (full)" if r == k * k else "") for r in rs])
        below = [i for i, r in enumerate(rs) if r < k - 1]
        if below:
            ax.axhline(max(below) + 0.5, color="white", linestyle=":", linewidth=1.5)
        ylabel = "dimension $r$ of the structure" if ax is axes[0, 0] else ""
        ax.set(xlabel="number of samples $n$", ylabel=ylabel, title=title)
        ax.grid(False)
    fig.colorbar(image, ax=axes[0].tolist(), label=r"final defect $\Delta$ (0 = aligned)", shrink=0.9)
    return fig


def plot_filter_balance(drift: Any) -> plt.Figure:
    """Du et al.'s balancedness of convolutional layers against the learning rate, at equal training time.

    Parameters
    ----------
    drift : object
        `deeplinear.balance_drift.FilterDrift` (``lrs``, ``filter``, ``matrix``).

    Returns
    -------
    Figure
        Figure with one log-log axes: the relative change of the filters' squared-norm differences (it falls like
        the learning rate: conserved by gradient flow) and of the layer matrices' (it does not), with a dotted
        line proportional to the learning rate.

    Raises
    ------
    ValueError
        If ``drift`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (Du et al. 2018).
    """
    if not all(hasattr(drift, a) for a in ("lrs", "filter", "matrix")):
        raise ValueError(f"drift must be a deeplinear.balance_drift.FilterDrift, got {type(drift).__name__}")
    colours = palette()
    fig, ax = plt.subplots(figsize=(6, 4.4))
    ax.plot(drift.lrs, drift.filter, "o-", color=colours[0], label=r"filters: $\|c_i\|^2-\|c_{i+1}\|^2$")
    ax.plot(drift.lrs, drift.matrix, "s--", color=colours[1], label=r"matrices: $\|W_i\|_F^2-\|W_{i+1}\|_F^2$")
    ax.plot(drift.lrs, drift.filter[0] * drift.lrs / drift.lrs[0], ":", color="0.4", label=r"$\propto$ learning rate")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="learning rate (equal training time)",
        ylabel="relative change of the difference",
        title="Balancedness of convolutional layers",
    )
    legend_below(ax, ncols=1)
    return fig
