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
from numbers import Integral, Real
from pathlib import Path
from typing import Any

__all__ = ["claim", "claimed", "figure", "smallest_text_pt", "span_text", "stored", "summary"]

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
    value : bool, integer, str or real number (numpy scalars and 0-d arrays too).
    digits : decimals to keep (``round(value, digits)``), or None.
    sig : significant digits to keep, or None; with neither given, two significant digits.
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
    ``"0.88 to 0.90"`` (for quantities that depend on an arbitrary choice, e.g. the SVD's bases)."""
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
    """
    from myst_nb import glue

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string, got {name!r}")
    value = stored(value, digits, sig)
    _CLAIMED[name] = value
    # a sentence reads "yes" or "no", not Python's True or False (deeplinear_book.book reads them back as bools)
    glue(name, ("yes" if value else "no") if isinstance(value, bool) else value, display=False)


def claimed() -> dict[str, Any]:
    """Name -> value of everything `claim` recorded in this kernel (a copy), as the ledger reads it back."""
    return dict(_CLAIMED)


def summary(chapter: str, ledger_file: str | Path = "ledger.toml") -> None:
    """Display the chapter's Summary: its rows of the claims ledger (``ledger_file``, relative to the chapter's
    folder) evaluated on what this run claimed, as a Markdown table of claim, measured values and verdict.

    The Summary is thereby the ledger's story of this run, caveats and verdicts included: a rerun outside a
    claim's hypotheses reads "not applicable" here as in the report (`deeplinear_book.report.chapter_summary`)."""
    from IPython.display import Markdown, display

    from . import ledger, report

    display(Markdown(report.chapter_summary(ledger.load(ledger_file), chapter, claimed())))


def smallest_text_pt(fig: Any) -> float | None:
    """The size in points of the smallest text that ``fig`` draws (tick labels, legends, titles,
    annotations; mathtext at its base size), or None when it draws no text.

    The figure is drawn once with a renderer that records each text's font size, so that only what is
    drawn counts (not the labels of hidden axes or of ticks turned off).
    """
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    sizes: list[float] = []

    class _Sizes(RendererAgg):  # draws nothing but records each text's size
        def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
            if s.strip():
                sizes.append(prop.get_size_in_points())

        def draw_tex(self, gc, x, y, s, prop, angle, *, mtext=None):
            self.draw_text(gc, x, y, s, prop, angle)

    width, height = fig.get_size_inches() * fig.dpi
    fig.draw(_Sizes(int(width), int(height), fig.dpi))
    return min(sizes) if sizes else None


def figure(name: str, fig: Any) -> None:
    """Glue the matplotlib figure ``fig`` under ``name`` (hidden: the prose places it with
    ``{glue:figure}``) and close it, so that the notebook shows it only where the prose puts it.

    As `myst_nb.glue` does, with one addition: the output's metadata records the figure's smallest text,
    ``{"companion": {"smallest_text_pt": 10.0}}`` (`smallest_text_pt`), which the site test reads.
    """
    import matplotlib.pyplot as plt
    from IPython.core.formatters import format_display_data
    from IPython.display import display
    from myst_nb.ext.glue import GLUE_PREFIX

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string, got {name!r}")
    bundle, metadata = format_display_data(fig)  # before any other draw: constrained layout moves on each one
    smallest = smallest_text_pt(fig)
    metadata["scrapbook"] = {"name": name, "mime_prefix": GLUE_PREFIX}
    metadata[FIGURE_METADATA] = {"smallest_text_pt": smallest}
    display({GLUE_PREFIX + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)
    plt.close(fig)
