"""The ranges a chapter's parameters cell states, read by machine, and draws from them (``make sweep VARY=``).

Every parameter in a chapter's ``parameters`` cell says its valid range in its comment, in one of a few forms
that the chapter's validation cell enforces::

    k = 9  # width of every layer, integer in [2, 24]
    n = 9  # number of samples, integer in [2, 64], at least k
    lr = 0.01  # learning rate gamma, number in (0, 0.05]
    seed = 0  # random seed, integer, at least 0
    schedule = "constant"  # step sizes, "constant" or "inverse_risk"

`declared` reads them into `Range` objects. A sweep that varies a parameter draws it, per seed (`draw`):
over the whole stated range (``span="whole"``, the parameter survey: log-uniformly where the range spans a
factor of 8 or more, uniformly otherwise, an open ``(0, x]`` over its top two decades), or within a factor of
2 of its default (``span="near"``, a draw that costs about what the default run costs). A string parameter is
drawn among its choices. ``steps`` is never drawn: it is the budget of a run, not a parameter of a claim.
`surveyed` lists the parameters a survey varies: every one with a numeric range but the seed and steps.
"""

from __future__ import annotations

import ast
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .book import _papermill

__all__ = ["Range", "parse", "declared", "draw", "surveyed", "SPANS", "NEVER_DRAWN"]

SPANS = ("whole", "near")
NEVER_DRAWN = ("seed", "steps")  # the sweep's own axis; the budget of a run
WIDE = 8  # a range spanning this factor or more is drawn log-uniformly

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_INTERVAL = re.compile(
    rf"\b(?P<kind>integer|number)?\s*in\s*(?P<left>[\[(])\s*(?P<low>{_NUMBER})\s*,\s*(?P<high>{_NUMBER}|inf)\s*\]"
)
_AT_LEAST = re.compile(rf"\bat least (?P<bound>{_NUMBER}|[A-Za-z_]\w*)\b")


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
    states none that can be read (a list, or a bound that depends on another parameter, e.g. ``[1, 2p-1]``)."""
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
    """Name -> `Range` of every parameter of ``notebook``'s parameters cell (None where it states none)."""
    inferred = _papermill().inspect_notebook(str(notebook))
    out = {}
    for name, info in inferred.items():
        try:
            default = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            default = info["default"]
        out[name] = parse(name, default, info.get("help") or "")
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
            raise ValueError(f"{name} states no range that a sweep can draw from (see companion.ranges)")
        rng = random.Random(f"{seed}:{name}")
        if r.kind == "choice":
            values[name] = rng.choice(r.choices)
            continue
        low, high = r.whole() if span == "whole" else r.neighbourhood()
        log = span == "whole" and (high + 1 if low <= 0 else high) >= WIDE * max(low, 1 if low <= 0 else low)
        if r.kind == "integer":
            values[name] = _integer(rng, low, high, log and r.kind == "integer")
            continue
        log = low > 0 and (span == "near" or high >= WIDE * low)
        value = math.exp(rng.uniform(math.log(low), math.log(high))) if log else rng.uniform(low, high)
        values[name] = min(max(float(f"{value:.3g}"), low), high)  # three digits, still inside the range
    for name, r in ranges.items():  # "n ... at least k": n follows a drawn k upwards, drawn or not
        if r is not None and r.at_least in values and values.get(name, r.default) < values[r.at_least]:
            values[name] = values[r.at_least]
    return values
