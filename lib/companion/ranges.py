"""The ranges a chapter's parameters cell states, read by machine, and draws from them (``make sweep VARY=``).

Every parameter in a chapter's ``parameters`` cell says its valid range in its comment, in one of a few forms
that the chapter's validation cell enforces::

    k = 9  # width of every layer, integer in [2, 24]
    n = 9  # number of samples, integer in [2, 64], at least k
    lr = 0.01  # learning rate gamma, number in (0, 0.05]
    seed = 0  # random seed, integer, at least 0
    schedule = "constant"  # step sizes, "constant" or "inverse_risk"

`declared` reads them into `Range` objects. A sweep that varies a parameter draws it, per seed, within a
factor of 2 of its default and inside its valid range (the whole range when the default is 0), so that a
draw costs about what the default run costs: `draw`. A string parameter is drawn among its choices.
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

__all__ = ["Range", "parse", "declared", "draw"]

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


def draw(ranges: dict[str, Range | None], names: list[str], seed: int) -> dict[str, Any]:
    """Values of the parameters ``names`` for the draw at ``seed``: the same on every machine and for every
    order of ``names``. An integer is uniform over the integers of its neighbourhood, a number log-uniform
    (uniform where the neighbourhood reaches 0), a string uniform over its choices. A parameter declared
    "at least k" is raised to the drawn k where it falls below it, whether it is drawn itself or not."""
    values: dict[str, Any] = {}
    for name in names:
        r = ranges.get(name)
        if r is None:
            raise ValueError(f"{name} states no range that a sweep can draw from (see companion.ranges)")
        rng = random.Random(f"{seed}:{name}")
        if r.kind == "choice":
            values[name] = rng.choice(r.choices)
            continue
        low, high = r.neighbourhood()
        if r.kind == "integer":
            values[name] = rng.randint(math.ceil(low), math.floor(high))
            continue
        value = math.exp(rng.uniform(math.log(low), math.log(high))) if low > 0 else rng.uniform(low, high)
        values[name] = min(max(float(f"{value:.3g}"), low), high)  # three digits, still inside the range
    for name, r in ranges.items():  # "n ... at least k": n follows a drawn k upwards, drawn or not
        if r is not None and r.at_least in values and values.get(name, r.default) < values[r.at_least]:
            values[name] = values[r.at_least]
    return values
