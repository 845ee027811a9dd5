"""The ranges a chapter's parameters cell states, read by machine, and draws from them (``make sweep VARY=``).

Every parameter in a chapter's ``parameters`` cell says its valid range in its comment, in one of a few forms
that the chapter's validation cell enforces::

    k = 9  # width of every layer, integer in [2, 24]
    n = 9  # number of samples, integer in [2, 64], at least k
    lr = 0.01  # learning rate gamma, number in (0, 0.05]
    seed = 0  # random seed, integer, at least 0
    schedule = "constant"  # step sizes, "constant" or "inverse_risk"
    s = 3  # filter side, odd integer in [3, 2p-1], s^2 p^4 at most 9 * 28^4
    # hidden: two neighbouring widths multiply to at most 65536
    hidden = [1024, 64]  # widths, a list of 1 to 4 integers in [2, 4096]

`declared` reads them into `Range` objects (a bound may be another parameter's linear function, as 2p-1;
a constraint "… at most …" is a product of powers of parameters and numbers; a comment line ``# name: …``
above a parameter adds to what its own comment says; the cell is read by `deeplinear_book.book.parameters_cell`, the
one reader of it). A sweep that varies a
parameter draws it, per seed (`draw`): over the whole stated range (``span="whole"``, the parameter survey:
log-uniformly where the range spans a factor of 8 or more, uniformly otherwise, an open ``(0, x]`` over its top
two decades), or within a factor of 2 of its default (``span="near"``, a draw that costs about what the default
run costs). A string parameter is drawn among its choices; a list of widths gets a drawn length and widths.
``steps`` is never drawn: it is the budget of a run, not a parameter of a claim.
`surveyed` lists the parameters a survey varies: every one with a numeric range but the seed and steps.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .book import parameters_cell

__all__ = ["Range", "parse", "declared", "draw", "surveyed", "SPANS", "NEVER_DRAWN"]

SPANS = ("whole", "near")
NEVER_DRAWN = ("seed", "steps")  # the sweep's own axis; the budget of a run
WIDE = 8  # a range spanning this factor or more is drawn log-uniformly

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_INTERVAL = re.compile(
    rf"\b(?P<kind>integer|number)?\s*in\s*(?P<left>[\[(])\s*(?P<low>{_NUMBER})\s*,\s*(?P<high>{_NUMBER}|inf)\s*\]"
)
_AT_LEAST = re.compile(rf"\bat least (?P<bound>{_NUMBER}|[A-Za-z_]\w*)\b")
_DEPENDENT = re.compile(  # "odd integer in [3, 2p-1]": the top bound a linear function of another parameter
    rf"\b(?P<odd>odd )?integer in \[\s*(?P<low>{_NUMBER})\s*,\s*(?P<coef>\d*)\s*\*?\s*(?P<var>[A-Za-z_]\w*)"
    r"\s*(?P<offset>[-+]\s*\d+)?\s*\]"
)
_TERM = r"(?:[A-Za-z_]\w*|\d+)(?:\^\d+)?"
_AT_MOST = re.compile(rf"(?P<lhs>{_TERM}(?:\s*\*?\s*{_TERM})*) at most (?P<rhs>{_TERM}(?:\s*\*?\s*{_TERM})*)")
_LIST = re.compile(
    rf"\blist of (?P<min>\d+) to (?P<max>\d+) integers in \[\s*(?P<low>{_NUMBER})\s*,\s*(?P<high>{_NUMBER})\s*\]"
)
_PRODUCT = re.compile(rf"\bneighbou?r(?:s|ing widths) multiply to at most (?P<most>{_NUMBER})")


@dataclass(frozen=True)
class Range:
    """A parameter's declared range: ``kind`` "integer", "number" or "choice"; ``low``/``high`` (None: no bound;
    ``open_low``: low excluded); ``at_least``, another parameter it may not fall below; ``choices`` of a string."""

    name: str
    default: Any
    kind: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    at_least: str | None = None
    choices: tuple[str, ...] = ()
    odd: bool = False
    high_of: tuple[float, str, float] | None = None  # (a, p, b): the top bound is a * p + b
    at_most: tuple[str, str] | None = None  # a constraint "lhs at most rhs", products of powers
    length: tuple[int, int] | None = None  # kind "integers": a list of this many, each in [low, high]
    product_at_most: float | None = None  # kind "integers": neighbours multiply to at most this

    def whole(self) -> tuple[float, float]:
        """Where `draw` draws a number over the whole range: [low, high] (an open ``(0, x]``: [x/100, x])."""
        if self.high is None:
            return self.neighbourhood()
        low = self.low if self.low is not None else -math.inf
        if self.open_low and low == 0:
            low = self.high / 100
        elif self.open_low:
            low = math.nextafter(low, math.inf)
        if not math.isfinite(low):
            raise ValueError(f"{self.name} has no finite range to draw from (its default is {self.default!r})")
        return low, self.high

    def neighbourhood(self) -> tuple[float, float]:
        """Where `draw` draws a number: [default/2, 2 default] inside the valid range (all of it for a default 0)."""
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if self.default != 0:
            low, high = max(low, self.default / 2), min(high, self.default * 2)
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"{self.name} has no finite range to draw from (its default is {self.default!r})")
        if self.open_low and low == self.low:
            low = math.nextafter(low, math.inf)
        return low, high


def parse(name: str, default: Any, comment: str) -> Range | None:
    """The `Range` a parameters-cell ``comment`` states for ``name`` (default ``default``), or None when it
    states none that can be read."""
    if isinstance(default, list):
        found = _LIST.search(comment)
        if not found or not all(isinstance(v, int) and not isinstance(v, bool) for v in default):
            return None
        product = _PRODUCT.search(comment)
        return Range(
            name, default, "integers", float(found["low"]), float(found["high"]),
            length=(int(found["min"]), int(found["max"])),
            product_at_most=float(product["most"]) if product else None,
        )  # fmt: skip
    dependent = _DEPENDENT.search(comment)
    if dependent and isinstance(default, int) and not isinstance(default, bool):
        offset = float(dependent["offset"].replace(" ", "")) if dependent["offset"] else 0.0
        at_most = _AT_MOST.search(comment)
        return Range(
            name, default, "integer", float(dependent["low"]), None, odd=bool(dependent["odd"]),
            high_of=(float(dependent["coef"] or 1), dependent["var"], offset),
            at_most=(at_most["lhs"], at_most["rhs"]) if at_most else None,
        )  # fmt: skip
    if isinstance(default, str):
        choices = tuple(re.findall(r'"([^"]+)"', comment))
        return Range(name, default, "choice", choices=choices) if default in choices else None
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        return None
    at_least = _AT_LEAST.search(comment)
    other = at_least and not re.fullmatch(_NUMBER, at_least["bound"])
    interval = _INTERVAL.search(comment)
    kind = "integer" if isinstance(default, int) else "number"
    if interval:
        high = None if interval["high"] == "inf" else float(interval["high"])
        low, open_low = float(interval["low"]), interval["left"] == "("
    elif at_least and not other:
        low, high, open_low = float(at_least["bound"]), None, False
    else:
        return None
    return Range(name, default, kind, low, high, open_low, at_least["bound"] if other else None)


def declared(notebook: Path) -> dict[str, Range | None]:
    """Name -> `Range` of every parameter of ``notebook``'s parameters cell (None where it states none), from
    the comment on its line and its notes (``# name: ...`` lines above it; `deeplinear_book.book.parameters_cell`)."""
    return {
        name: parse(name, p.default, " ".join([p.comment, *p.notes]))
        for name, p in parameters_cell(notebook)[1].items()
    }


def _product(expression: str, values: dict[str, Any]) -> float:
    """The value of a product of powers such as ``s^2 p^4`` or ``9 * 28^4`` at ``values``."""
    result = 1.0
    for base, power in re.findall(r"([A-Za-z_]\w*|\d+)(?:\^(\d+))?", expression):
        result *= float(values[base] if base in values else base) ** int(power or 1)
    return result


def _dependent(r: Range, values: dict[str, Any], rng: random.Random, span: str) -> int:
    """A draw of an integer whose top bound depends on another parameter (odd where stated), inside its
    constraint: uniformly (log-uniformly over a wide range) among the values allowed at ``values``."""
    a, other, b = r.high_of
    high = a * values[other] + b
    allowed = [
        v for v in range(math.ceil(r.low), math.floor(high) + 1)
        if (not r.odd or v % 2 == 1) and (r.at_most is None or
            _product(r.at_most[0], {**values, r.name: v}) <= _product(r.at_most[1], values))
    ]  # fmt: skip
    if not allowed:
        raise ValueError(f"{r.name} has no allowed value at {other} = {values[other]}")
    if span == "near":
        near = [v for v in allowed if r.default / 2 <= v <= 2 * r.default]
        allowed = near or allowed
    if len(allowed) > 1 and allowed[-1] >= WIDE * allowed[0]:
        return min(allowed, key=lambda v: abs(math.log(v) - rng.uniform(math.log(allowed[0]), math.log(allowed[-1]))))
    return rng.choice(allowed)


def _widths(r: Range, rng: random.Random, span: str) -> list[int]:
    """A list of integer widths: its length uniform in the stated range (the default's length for ``near``),
    each width log-uniform in [low, high] (within a factor of 2 of the default's for ``near``), kept so that
    neighbours multiply to at most ``product_at_most``."""
    length = rng.randint(*r.length) if span == "whole" else len(r.default)
    out: list[int] = []
    for i in range(length):
        low, high = r.low, r.high
        if span == "near":
            low, high = max(low, r.default[i] / 2), min(high, r.default[i] * 2)
        if out and r.product_at_most is not None:
            high = min(high, r.product_at_most // out[-1])
        out.append(_integer(rng, low, max(high, low), high >= WIDE * low))
    return out


def surveyed(ranges: dict[str, Range | None]) -> list[str]:
    """The parameters a parameter survey varies (``VARY=all``): every one with a numeric range, but the seed
    and steps (`NEVER_DRAWN`)."""
    return [n for n, r in ranges.items() if r is not None and r.kind != "choice" and n not in NEVER_DRAWN]


def _integer(rng: random.Random, low: float, high: float, log: bool) -> int:
    low, high = math.ceil(low), math.floor(high)
    if not log:
        return rng.randint(low, high)
    shift = 1 - low if low < 1 else 0  # [0, 1999] is drawn as [1, 2000], less one
    value = math.floor(math.exp(rng.uniform(math.log(low + shift), math.log(high + shift + 1)))) - shift
    return min(max(value, low), high)


def draw(ranges: dict[str, Range | None], names: list[str], seed: int, span: str = "near") -> dict[str, Any]:
    """Values of the parameters ``names`` for the draw at ``seed``: the same on every machine and for every
    order of ``names``. ``span`` "whole" draws over the whole stated range (`Range.whole`), log-uniformly where
    it spans a factor of `WIDE` or more; "near" within a factor of 2 of the default (`Range.neighbourhood`):
    an integer uniformly, a number log-uniformly (uniformly where the neighbourhood reaches 0). A string is
    uniform over its choices. A parameter declared "at least k" is raised to the drawn k where it falls below
    it, whether it is drawn itself or not. ``steps`` and ``seed`` are never drawn (ValueError)."""
    if span not in SPANS:
        raise ValueError(f"span must be one of {SPANS}, got {span!r}")
    values: dict[str, Any] = {}
    for name in names:
        if name in NEVER_DRAWN:
            raise ValueError(f"{name} is never drawn: the seed is the sweep's own axis, steps the budget of a run")
        r = ranges.get(name)
        if r is None:
            raise ValueError(f"{name} states no range that a sweep can draw from (see deeplinear_book.ranges)")
        rng = random.Random(f"{seed}:{name}")
        if r.kind == "choice":
            values[name] = rng.choice(r.choices)
            continue
        if r.kind == "integers":
            values[name] = _widths(r, rng, span)
            continue
        if r.high_of is not None:
            continue  # drawn below, once the parameter it depends on is
        low, high = r.whole() if span == "whole" else r.neighbourhood()
        log = span == "whole" and (high + 1 if low <= 0 else high) >= WIDE * max(low, 1 if low <= 0 else low)
        if r.kind == "integer":
            values[name] = _integer(rng, low, high, log and r.kind == "integer")
            continue
        log = low > 0 and (span == "near" or high >= WIDE * low)
        value = math.exp(rng.uniform(math.log(low), math.log(high))) if log else rng.uniform(low, high)
        values[name] = min(max(float(f"{value:.3g}"), low), high)  # three digits, still inside the range
    for name in names:  # a bound or a constraint that depends on other parameters, drawn or default
        r = ranges[name]
        if r.high_of is not None:
            known = {n: values.get(n, q.default) for n, q in ranges.items() if q is not None and n != name}
            values[name] = _dependent(r, known, random.Random(f"{seed}:{name}"), span)
    for name, r in ranges.items():  # "n ... at least k": n follows a drawn k upwards, drawn or not
        if r is not None and r.at_least in values and values.get(name, r.default) < values[r.at_least]:
            values[name] = values[r.at_least]
    return values
