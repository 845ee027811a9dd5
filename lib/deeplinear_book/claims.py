"""Record a chapter's numbers for the prose and the claims ledger, at digits that travel.

``claim("fig1c_alignment_final", value, digits=3)`` rounds ``value`` and glues it under that name (hidden:
the prose shows it with ``{glue:text}``). It is a statement and returns None, so that a cell ending in a
claim shows no stray output. The ledger (``book/ledger.toml``,
read by `deeplinear_book.ledger`) refers to claims by these names.

How many digits travel to another CPU, BLAS kernel and thread count is the author's call
(book/numbers-that-travel.md): a converged quantity to the digits it is converged to, a score on
repeated singular values not at all, a rounding-level residue through the sanitizer's token (two
significant digits in e-notation, which nbval masks).
"""

from __future__ import annotations

import math
import os
from numbers import Integral, Real
from pathlib import Path
from typing import Any

__all__ = ["claim", "claimed", "figure", "one_column", "png_size", "smallest_text_pt", "span_text", "stored", "summary"]

# What this kernel's chapter has claimed so far, name -> stored value (`claimed`, `summary`).
_CLAIMED: dict[str, Any] = {}

# The key under which `figure` records, in the glued output's metadata, the smallest text the figure draws
# (in points; the PNG's own pHYs chunk gives its pixels per inch). The site test reads it to check that
# every figure's smallest text is readable as displayed. The key is the package's former name, kept: the committed
# chapters' outputs carry it, and renaming it would mean re-executing every chapter for no change of content.
FIGURE_METADATA = "companion"


def stored(value: Any, digits: int | None = None, sig: int | None = None) -> Any:
    """What `claim` stores: bools, integers and strings as they are; a real number rounded.

    Parameters
    ----------
    value : object
        Bool, integer, str or real number (numpy scalars and 0-d arrays too).
    digits : int or None, optional
        Decimals to keep (``round(value, digits)``), or None.
    sig : int or None, optional
        Significant digits to keep, or None; with neither given, two significant digits.

    Returns
    -------
    object
        What `claim` stores: bools, integers and strings as they are; a real number rounded.

    Raises
    ------
    TypeError
        See the message.
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    if digits is not None and sig is not None:
        raise ValueError("give digits (decimals) or sig (significant digits), not both")
    for what, n, low in (("digits", digits, 0), ("sig", sig, 1)):
        if n is not None and (isinstance(n, bool) or not isinstance(n, Integral) or not low <= n <= 15):
            raise ValueError(f"{what} must be an integer in [{low}, 15], got {n!r}")
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()  # numpy scalar or 0-d array
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, Integral):
        return int(value)
    if not isinstance(value, Real):
        raise TypeError(f"a claim is a bool, an integer, a string or a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value == 0.0:
        return value
    if digits is not None:
        return round(value, digits)
    return float(f"{value:.{sig or 2}g}")


def span_text(values: Any, digits: int = 2) -> str:
    """A range of values as prose, at ``digits`` decimals: ``"0.89"`` when all round alike, else
    ``"0.88 to 0.90"`` (for quantities that depend on an arbitrary choice, e.g. the SVD's bases).

    Parameters
    ----------
    values : object
        The values (array-like).
    digits : int, optional
        Significant digits, >= 1.

    Returns
    -------
    str
        The range as prose.

    Raises
    ------
    ValueError
        If ``values`` is not valid (the message names the parameter).

    Examples
    --------
    >>> from deeplinear_book.claims import span_text
    >>> span_text([0.881, 0.899]), span_text([0.891, 0.893])
    ('0.88 to 0.90', '0.89')
    """
    values = [float(v) for v in (values if hasattr(values, "__iter__") else [values])]
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"values must be finite numbers, got {values!r}")
    low, high = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return low if low == high else f"{low} to {high}"


def claim(name: str, value: Any, digits: int | None = None, *, sig: int | None = None) -> None:
    """Glue ``value`` under ``name``, rounded as `stored` says (hidden; returns None).

    Example: ``claim("aligned_example_alignment", a.min(), digits=6)``; ``claim("usvd_error", e)``
    stores ``e`` to two significant digits (e.g. ``3.1e-15``, which nbval's sanitizer masks). A bool is
    glued as the word "yes" or "no", which `deeplinear_book.book.glued_values` reads back as True or False.

    Parameters
    ----------
    name : str
        The glue name (snake_case, starting with the claim it serves).
    value : object
        A number, bool or text.
    digits : int or None, optional
        Significant digits, >= 1.
    sig : int or None, optional
        Significant digits to store (instead of ``digits`` decimals).

    Raises
    ------
    ValueError
        If ``name`` is not valid (the message names the parameter).
    """
    from myst_nb import glue

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string, got {name!r}")
    value = stored(value, digits, sig)
    _CLAIMED[name] = value
    # a sentence reads "yes" or "no", not Python's True or False (deeplinear_book.book reads them back as bools)
    glue(name, ("yes" if value else "no") if isinstance(value, bool) else value, display=False)


def claimed() -> dict[str, Any]:
    """Name -> value of everything `claim` recorded in this kernel (a copy), as the ledger reads it back.

    Returns
    -------
    dict
        Name -> value.
    """
    return dict(_CLAIMED)


def summary(chapter: str, ledger_file: str | Path = "ledger.toml") -> None:
    """Display the chapter's Summary: its rows of the claims ledger (``ledger_file``, relative to the chapter's
    folder) evaluated on what this run claimed, as a Markdown table of claim, measured values and verdict.

    The Summary is thereby the ledger's story of this run, caveats and verdicts included: a rerun outside a
    claim's hypotheses reads "not applicable" here as in the report (`deeplinear_book.report.chapter_summary`).

    Parameters
    ----------
    chapter : str
        Chapter stem or number, e.g. "03" or "03-invariance-theorem".
    ledger_file : str or Path, optional
        The claims ledger, relative to the chapter's folder.
    """
    from IPython.display import Markdown, display

    from . import ledger, report

    display(Markdown(report.chapter_summary(ledger.load(ledger_file), chapter, claimed())))


def smallest_text_pt(fig: Any) -> float | None:
    """The size in points of the smallest text that ``fig`` draws (tick labels, legends, titles,
    annotations; mathtext at its base size), or None when it draws no text.

    The figure is drawn once with a renderer that records each text's font size, so that only what is
    drawn counts (not the labels of hidden axes or of ticks turned off).

    Parameters
    ----------
    fig : object
        A matplotlib figure.

    Returns
    -------
    float or None
        The size in points, or None.

    Raises
    ------
    ValueError
        If ``fig`` is not valid (the message names the parameter).
    """
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    sizes: list[float] = []

    class _Sizes(RendererAgg):  # draws nothing (lines, markers, images: the bulk of a draw) but records text sizes
        def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
            if s.strip():
                sizes.append(prop.get_size_in_points())

        def draw_tex(self, gc, x, y, s, prop, angle, *, mtext=None):
            self.draw_text(gc, x, y, s, prop, angle)

        def draw_path(self, *args, **kwargs):
            pass

        draw_markers = draw_path_collection = draw_quad_mesh = draw_image = draw_gouraud_triangles = draw_path

    width, height = fig.get_size_inches() * fig.dpi
    fig.draw(_Sizes(int(width), int(height), fig.dpi))
    return min(sizes) if sizes else None


# The desktop PNG's pixels per figure inch: the site shows it at half its width, 96 CSS px per figure inch, so a
# screen of 2 device pixels per CSS px gets one image pixel per device pixel (book/_ext/picture_figures.py).
FIGURE_PPI = 192
# Set to "1" in the environment (the chapter tests' reruns do), `figure` builds each figure as usual but glues a
# coarse PNG (`DRAFT_PPI`) without its phone rendition: a rerun that checks claims needs the figure's code to run,
# not its pixels. `make execute` and nbval never set it.
DRAFT_FIGURES = "DEEPLINEAR_DRAFT_FIGURES"
DRAFT_PPI = 24
# The widest figure that the book's column shows unshrunk at 96 CSS px per inch (757 CSS px at 1366 px), inches.
COLUMN_INCHES = 7.5
# The phone rendition's width: the column is 358 CSS px at a 390 px viewport, so 4 in at 192 ppi (768 px) is shown
# at more than 2x, its 9 pt text at about 11 CSS px.
PHONE_INCHES = 4.0
# Each stacked panel of the phone rendition keeps its aspect, within these heights (inches).
PHONE_PANEL_INCHES = (2.4, 4.2)


def _png(fig: Any, dpi: float = FIGURE_PPI) -> tuple[bytes, float | None]:
    """``fig`` as a PNG at ``dpi`` (its pHYs chunk says so), cropped to what it draws, and its smallest text in
    points as `smallest_text_pt` gives it, recorded while the PNG is drawn (a draw less per figure)."""
    import io

    from matplotlib.backends.backend_agg import RendererAgg

    sizes: list[float] = []
    draw_text, draw_tex = RendererAgg.draw_text, RendererAgg.draw_tex

    def recording_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if s.strip():
            sizes.append(prop.get_size_in_points())
        return draw_text(self, gc, x, y, s, prop, angle, ismath, mtext)

    def recording_tex(self, gc, x, y, s, prop, angle, *, mtext=None):
        if s.strip():
            sizes.append(prop.get_size_in_points())
        return draw_tex(self, gc, x, y, s, prop, angle, mtext=mtext)

    buffer = io.BytesIO()
    RendererAgg.draw_text, RendererAgg.draw_tex = recording_text, recording_tex
    try:
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.04, facecolor="white")
    finally:
        RendererAgg.draw_text, RendererAgg.draw_tex = draw_text, draw_tex
    return buffer.getvalue(), (min(sizes) if sizes else None)


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG, read from its header.

    Parameters
    ----------
    png : bytes
        The PNG file's bytes.

    Returns
    -------
    tuple
        ``(width, height)``.

    Raises
    ------
    ValueError
        If ``png`` is not valid (the message names the parameter).
    """
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("png must be the bytes of a PNG image")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def one_column(fig: Any, width: float = PHONE_INCHES) -> Any:
    """A copy of ``fig`` re-laid for a phone: its panels stacked in one column, ``width`` inches wide.

    The panels are the cells of the figure's grid (a twin axes stays with its panel; a colour bar follows the
    axes it belongs to; figure legends stay where they are), stacked in reading order, each keeping its aspect
    within `PHONE_PANEL_INCHES`. Text keeps its size in points. Panels that shared a y axis in a row get back the
    tick labels and y label that the row had shown only once. ``fig`` itself is not changed.

    Parameters
    ----------
    fig : object
        A matplotlib figure.
    width : float, optional
        Width in inches of the copy.

    Returns
    -------
    object
        A copy of ``fig`` re-laid for a phone: its panels stacked in one column, ``width`` inches wide.

    Raises
    ------
    ValueError
        If ``fig`` or ``width`` is not valid (the message names the parameter).
    """
    import pickle

    from matplotlib.figure import Figure
    from matplotlib.gridspec import GridSpec

    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if not width > 0:
        raise ValueError(f"width must be positive (inches), got {width!r}")
    copy = pickle.loads(pickle.dumps(fig))
    _outside_legends_to_figure(copy)
    placed = [(ax, ax.get_subplotspec()) for ax in copy.axes if ax.get_subplotspec() is not None]
    grids = {id(spec.get_gridspec()) for _, spec in placed}
    if not placed or len(grids) > 1:  # nothing on a grid, or several grids: keep the layout, narrow the figure
        copy.set_size_inches(width, copy.get_size_inches()[1] * width / copy.get_size_inches()[0])
        return copy
    grid = placed[0][1].get_gridspec()
    rows, cols = grid.get_geometry()
    widths = list(grid.get_width_ratios() or [1] * cols)
    heights = list(grid.get_height_ratios() or [1] * rows)
    fig_w, fig_h = copy.get_size_inches()
    cells = sorted(
        {(spec.rowspan.start, spec.colspan.start, spec.rowspan.stop, spec.colspan.stop) for _, spec in placed}
    )
    low, high = PHONE_PANEL_INCHES
    panel_heights = []
    for r0, c0, r1, c1 in cells:
        cell_w = fig_w * sum(widths[c0:c1]) / sum(widths)
        cell_h = fig_h * sum(heights[r0:r1]) / sum(heights)
        panel_heights.append(min(max(width * cell_h / cell_w, low), high))
    column = GridSpec(len(cells), 1, figure=copy, height_ratios=panel_heights)
    for ax, spec in placed:
        key = (spec.rowspan.start, spec.colspan.start, spec.rowspan.stop, spec.colspan.stop)
        ax.set_subplotspec(column[cells.index(key)])
    for ax, _ in placed:  # a row that shared its y axis labelled only its first panel
        siblings = [a for a in ax.get_shared_y_axes().get_siblings(ax) if a is not ax]
        if siblings and ax.yaxis.get_label_position() == "left":
            ax.yaxis.set_tick_params(which="both", labelleft=True)
            if not ax.get_ylabel():
                ax.set_ylabel(next((a.get_ylabel() for a in siblings if a.get_ylabel()), ""))
    copy.set_size_inches(width, sum(panel_heights))
    renderer = copy.canvas.get_renderer()
    legends = [*copy.legends, *(ax.get_legend() for ax in copy.axes if ax.get_legend() is not None)]
    for legend in legends:  # a legend laid out in columns for the desktop's width: fewer columns, within the phone's
        ncols = legend._ncols
        while ncols > 1 and legend.get_window_extent(renderer).width > 0.95 * width * copy.dpi:
            ncols -= 1  # a legend is laid out once: it is made again (set_ncols alone moves nothing)
            legend = _remade(copy, legend, ncols)
    titles = [ax.title for ax in copy.axes] + [t for t in (copy._suptitle,) if t is not None]
    for title in titles:  # a title longer than the phone's width wraps instead of widening the image
        title.set_wrap(True)
    legend_height = sum(legend.get_window_extent(renderer).height / copy.dpi for legend in copy.legends)
    copy.set_size_inches(width, sum(panel_heights) + legend_height)
    copy.draw_without_rendering()  # lays it out (constrained layout) without drawing pixels
    renderer = copy.canvas.get_renderer()
    for ax in copy.axes:  # tick labels set for the desktop's width that now overlap: every second one, or third...
        _thin_tick_labels(ax.xaxis, renderer)
    return copy


def _outside_legends_to_figure(fig: Any) -> None:
    """An axes' legend drawn below or above its axes becomes a legend of ``fig`` there ("outside lower/upper
    center"), which constrained layout gives room of its own when the panels are stacked."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        box, extent = ax.get_window_extent(renderer), legend.get_window_extent(renderer)
        if box.y0 + 1 < extent.y1 and extent.y0 < box.y1 - 1:
            continue  # beside or on the axes: it stays
        where = "outside lower center" if extent.y1 <= box.y0 + 1 else "outside upper center"
        _remade(fig, legend, legend._ncols, where)


def _remade(fig: Any, legend: Any, ncols: int, loc: str | None = None) -> Any:
    """``legend`` made again as a legend of ``fig`` in ``ncols`` columns, at ``loc`` (default: where it was)."""
    if loc is None:
        outside = getattr(legend, "_outside_loc", None)
        loc = f"outside {outside} center" if outside in ("lower", "upper") else legend._loc
    handles, labels = legend.legend_handles, [t.get_text() for t in legend.texts]
    title = legend.get_title().get_text() or None
    legend.remove()
    return fig.legend(handles, labels, loc=loc, ncols=ncols, title=title)


def _thin_tick_labels(axis: Any, renderer: Any) -> None:
    """Hide tick labels of ``axis`` at a regular stride until no two visible ones overlap."""
    labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
    boxes = [t.get_window_extent(renderer) for t in labels]
    for stride in range(1, len(labels)):
        kept = boxes[::stride]
        if all(a.x1 + 2 <= b.x0 for a, b in zip(kept, kept[1:])):
            for i, label in enumerate(labels):
                label.set_visible(i % stride == 0)
            return


def figure(name: str, fig: Any) -> None:
    """Glue the matplotlib figure ``fig`` under ``name`` (hidden: the prose places it with
    ``{glue:figure}``) and close it, so that the notebook shows it only where the prose puts it.

    The glued PNG is drawn at `FIGURE_PPI` (twice the 96 px per inch at which the site shows it: sharp on a
    2x screen), from a figure at most `COLUMN_INCHES` wide (a wider one is narrowed to it, its text unchanged), and
    its metadata says to show it at half its pixel width. The output's metadata also records, under
    ``"companion"``, the figure's smallest text (`smallest_text_pt`) and a phone rendition: the figure re-laid in
    one column `PHONE_INCHES` wide (`one_column`), as a PNG at the same resolution with its own smallest text::

        {"image/png": {"width": 360},
         "companion": {"smallest_text_pt": 9.0, "phone": {"image/png": "<base64>", "smallest_text_pt": 9.0}}}

    The site serves the phone rendition below 640 px (book/_ext/picture_figures.py); the PDF uses the glued PNG;
    the site test reads the text sizes to check what a reader sees.

    Parameters
    ----------
    name : str
        The glue name.
    fig : object
        A matplotlib figure.

    Raises
    ------
    ValueError
        If ``name`` or ``fig`` is not valid (the message names the parameter).
    """
    import base64

    import matplotlib.pyplot as plt
    from IPython.display import display
    from matplotlib.figure import Figure
    from myst_nb.ext.glue import GLUE_PREFIX

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string, got {name!r}")
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    fig_w, fig_h = fig.get_size_inches()
    if fig_w > COLUMN_INCHES:
        fig.set_size_inches(COLUMN_INCHES, fig_h)
    if os.environ.get(DRAFT_FIGURES) == "1":  # a test's rerun: the figure is built, only its pixels are skipped
        png, smallest = _png(fig, dpi=DRAFT_PPI)
        record = {"smallest_text_pt": smallest}
    else:
        phone_fig = one_column(fig)  # from the figure as built: constrained layout moves on each draw
        png, smallest = _png(fig)
        phone, phone_smallest = _png(phone_fig)
        record = {
            "smallest_text_pt": smallest,
            "phone": {"image/png": base64.b64encode(phone).decode("ascii"), "smallest_text_pt": phone_smallest},
        }
        plt.close(phone_fig)
    bundle = {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": repr(fig)}
    metadata = {
        "image/png": {"width": png_size(png)[0] // 2},
        "scrapbook": {"name": name, "mime_prefix": GLUE_PREFIX},
        FIGURE_METADATA: record,
    }
    display({GLUE_PREFIX + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)
    plt.close(fig)
