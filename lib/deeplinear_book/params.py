"""Validation of a chapter's papermill parameters.

Every chapter's validation cell calls these, so that a bad value raises a ``ValueError``
that names the parameter and its valid range, e.g.
``ValueError: k must be an integer in [2, 64], got 0``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

__all__ = ["integer", "real", "choice", "integer_list", "boolean"]


def _range(low: float | None, high: float | None, *, open_low: bool = False) -> str:
    left = "(" if open_low else "["
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}]"


def integer(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Check that ``value`` is an integer in ``[low, high]``; return it as ``int``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer in {_range(low, high)}, got {value!r}")
    return int(value)


def real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
) -> float:
    """Check that ``value`` is a finite real number in ``[low, high]`` (``(low, high]`` if ``open_low``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = v == v and abs(v) != float("inf")
        if ok and low is not None:
            ok = v > low if open_low else v >= low
        if ok and high is not None:
            ok = v <= high
    if not ok:
        kind = "a finite number"
        raise ValueError(f"{name} must be {kind} in {_range(low, high, open_low=open_low)}, got {value!r}")
    return float(value)


def choice(name: str, value: Any, options: Sequence[Any]) -> Any:
    """Check that ``value`` is one of ``options``."""
    if isinstance(value, bool) or value not in options:
        raise ValueError(f"{name} must be one of {list(options)!r}, got {value!r}")
    return value


def boolean(name: str, value: Any) -> bool:
    """Check that ``value`` is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def integer_list(
    name: str,
    value: Any,
    *,
    low: int | None = None,
    high: int | None = None,
    min_len: int = 1,
    max_len: int | None = None,
) -> list[int]:
    """Check that ``value`` is a list of integers in ``[low, high]`` with a length in range."""
    n_ok = isinstance(value, (list, tuple)) and len(value) >= min_len
    n_ok = n_ok and (max_len is None or len(value) <= max_len)
    items_ok = n_ok and all(
        isinstance(v, numbers.Integral)
        and not isinstance(v, bool)
        and (low is None or v >= low)
        and (high is None or v <= high)
        for v in value
    )
    if not items_ok:
        length = f"at least {min_len}" if max_len is None else f"{min_len} to {max_len}"
        raise ValueError(f"{name} must be a list of {length} integers in {_range(low, high)}, got {value!r}")
    return [int(v) for v in value]
