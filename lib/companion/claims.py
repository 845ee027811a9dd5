"""Record a chapter's numbers for the prose and the claims ledger, at digits that travel.

``claim("fig1c_alignment_final", value, digits=3)`` rounds ``value`` and glues it under that name (hidden:
the prose shows it with ``{glue:text}``). It is a statement and returns None, so that a cell ending in a
claim shows no stray output. The ledger (``book/ledger.toml``,
read by `companion.ledger`) refers to claims by these names.

How many digits travel to another CPU, BLAS kernel and thread count is the author's call
(book/numbers-that-travel.md): a converged quantity to the digits it is converged to, a score on
repeated singular values not at all, a rounding-level residue through the sanitizer's token (two
significant digits in e-notation, which nbval masks).
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

__all__ = ["claim", "figure", "stored"]


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


def claim(name: str, value: Any, digits: int | None = None, *, sig: int | None = None) -> None:
    """Glue ``value`` under ``name``, rounded as `stored` says (hidden; returns None).

    Example: ``claim("aligned_example_alignment", a.min(), digits=6)``; ``claim("usvd_error", e)``
    stores ``e`` to two significant digits (e.g. ``3.1e-15``, which nbval's sanitizer masks).
    """
    from myst_nb import glue

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string, got {name!r}")
    glue(name, stored(value, digits, sig), display=False)


def figure(name: str, fig: Any) -> None:
    """Glue the matplotlib figure ``fig`` under ``name`` (hidden: the prose places it with
    ``{glue:figure}``) and close it, so that the notebook shows it only where the prose puts it."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string, got {name!r}")
    glue(name, fig, display=False)
    plt.close(fig)
