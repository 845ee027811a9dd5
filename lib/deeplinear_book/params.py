"""Validation of a chapter's papermill parameters against the ranges declared for them.

Every chapter's validation cell is one call, ``params.validate("04-singular-value-dynamics", seed=seed, k=k,
...)``, naming each of its parameters. It checks them against what ``parameters.toml`` declares for the
chapter (`deeplinear_book.ranges`: the one declaration, which the parameters cell's comments render and the
sweep draws from): the names must be exactly the declared ones, and each value must be in its range, or a
``ValueError`` names the parameter, its value and the range in the words of the cell's comment, e.g.
``ValueError: k must be an integer in [2, 24], got 0`` or
``ValueError: n must be an integer in [2, 64], at least k, got 5 with k = 9``.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

from . import ranges
from .ranges import Range

__all__ = ["validate"]


def validate(chapter: str, /, **values: Any) -> None:
    """Check the parameters ``values`` of ``chapter`` (its stem) against their declared ranges: the names are
    exactly the declared ones, and each value is of its kind (an integer is not a bool; numpy scalars are
    accepted), inside its bounds (an open bound excluded), odd where stated, at least the parameter it names,
    below a bound that depends on another parameter (2p-1), within a constraint on products (s^2 p^4 at most
    9 * 28^4; neighbouring widths), inside the range of the choice another parameter makes, one of its choices,
    or a path. ValueError on the first that is not, naming it; each value is first checked alone, then against
    the others.

    Parameters
    ----------
    chapter : str
        Chapter stem or number, e.g. "03" or "03-invariance-theorem".
    **values : object
        Parameter name -> value.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    Examples
    --------
    >>> from deeplinear_book import params
    >>> try:
    ...     params.validate("03-invariance-theorem", k=9, bogus=1)
    ... except ValueError as err:
    ...     print("unknown: bogus" in str(err))
    True
    """
    declared = ranges.rules(chapter)
    missing, unknown = [n for n in declared if n not in values], [n for n in values if n not in declared]
    if missing or unknown:
        raise ValueError(
            f"params.validate({chapter!r}, ...) takes every parameter the chapter declares, "
            f"{', '.join(declared)}; "
            + "; ".join(
                f"{what}: {', '.join(names)}" for what, names in (("missing", missing), ("unknown", unknown)) if names
            )
        )
    for r in declared.values():
        if not _alone(r, values[r.name]):
            _refuse(r, values, declared)
    for r in declared.values():
        if not _together(r, values, declared):
            _refuse(r, values, declared)


def _integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _inside(value: Any, low: float | None, high: float | None, open_low: bool = False) -> bool:
    above = low is None or (value > low if open_low else value >= low)
    return above and (high is None or value <= high)


def _alone(r: Range, value: Any) -> bool:
    """Whether ``value`` is of ``r``'s kind and inside what ``r`` states without the other parameters."""
    if r.kind == "choice":
        return isinstance(value, str) and value in r.choices
    if r.kind == "path":
        return isinstance(value, (str, os.PathLike)) and (r.empty or os.fspath(value) != "")
    if r.kind == "integers":
        if not (isinstance(value, (list, tuple)) and r.length[0] <= len(value) <= r.length[1]):
            return False
        if not all(_integer(v) and _inside(v, r.low, r.high) for v in value):
            return False
        most = math.inf if r.product_at_most is None else r.product_at_most
        return all(a * b <= most for a, b in zip(value, value[1:]))
    if not (_integer(value) if r.kind == "integer" else _number(value)):
        return False
    if r.odd and value % 2 != 1:
        return False
    return _inside(value, r.low, None if r.cases else r.high, r.open_low)


def _chooser(r: Range, declared: dict[str, Range]) -> str:
    """The parameter whose choices label ``r``'s cases (``[0, 1999] (subset) or [0, 59999] (idx)``)."""
    labels = {label for label, _, _ in r.cases}
    found = [n for n, q in declared.items() if q.kind == "choice" and labels <= set(q.choices)]
    if len(found) != 1:
        raise ValueError(f"{r.name}: its cases {sorted(labels)} must be the choices of one other parameter")
    return found[0]


def _together(r: Range, values: dict[str, Any], declared: dict[str, Range]) -> bool:
    """Whether ``r``'s value keeps to what ``r`` states about the other parameters' values."""
    value = values[r.name]
    if r.at_least is not None and value < values[r.at_least]:
        return False
    if r.high_of is not None:
        a, other, b = r.high_of
        if value > a * values[other] + b:
            return False
    if r.at_most is not None and ranges.product(r.at_most[0], values) > ranges.product(r.at_most[1], values):
        return False
    if r.cases:
        bounds = {label: (low, high) for label, low, high in r.cases}
        return _inside(value, *bounds[values[_chooser(r, declared)]])
    return True


def _refuse(r: Range, values: dict[str, Any], declared: dict[str, Range]) -> None:
    """Raise the ValueError naming ``r``'s parameter, its value and its range, with the values of the other
    parameters that its range refers to."""
    if r.kind == "choice":
        quoted = [f'"{c}"' for c in r.choices]
        stated = " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)
    else:
        article = "an " if r.text.startswith(("integer", "odd")) else "a " if r.text.startswith("number") else ""
        stated = article + r.text
    others = r.refers_to() + ([_chooser(r, declared)] if r.cases else [])
    context = " and ".join(f"{n} = {values[n]!r}" for n in others)
    raise ValueError(f"{r.name} must be {stated}, got {values[r.name]!r}" + (f" with {context}" if context else ""))
