"""Every chapter's parameters and their ranges, declared once as data, read by machine, and draws from them.

``parameters.toml`` (shipped in this package) declares, per chapter and parameter in the order of the
chapter's ``parameters`` cell, what the parameter is and its valid range, in one of a few forms::

    integer in [2, 24]                                 number in (0, 0.05]  (a "(" excludes the bound)
    integer in [2, 64], at least k                     integer, at least 0
    "constant" or "inverse_risk"                       a list of 1 to 4 integers in [2, 4096]
    odd integer in [3, 2p-1], s^2 p^4 at most 9 * 28^4
    integer in [0, 1999] (subset) or [0, 59999] (idx)  (a range for each choice of another parameter)
    a path                                             a path ("": none)

with, where one is needed, a further ``constraint`` (``two neighbouring widths multiply to at most 65536``),
a ``why`` and the lines of a ``note``. That one declaration is read three ways. The chapter's validation cell
enforces it (`deeplinear_book.params.validate`, through `parse`). The parameters cell's comments are rendered
from it (`comment`, `notes`, `render`; ``python scripts/book_tools.py comments`` rewrites them, and a test fails
when a cell's comments differ), so that the reader sees the range where the parameter is set::

    k = 9  # width of every layer, integer in [2, 24]
    # hidden: two neighbouring widths multiply to at most 65536, the paper's 1024 x 64 (wider
    # neighbours make a run, its training and its SVDs, take far more than a few minutes)
    hidden = [1024, 64]  # hidden layer widths, a list of 1 to 4 integers in [2, 4096]

And a sweep draws from it: `declared` gives each parameter's `Range`, its default being the value of the
parameters cell (`deeplinear_book.book.parameters_cell`, the one reader of that cell; papermill reads the
defaults there). A sweep that varies a parameter draws it, per seed (`draw`): over the whole stated range
(``span="whole"``, the parameter survey: log-uniformly where the range spans a factor of 8 or more, uniformly
otherwise, an open ``(0, x]`` over its top two decades), or within a factor of 2 of its default
(``span="near"``, a draw that costs about what the default run costs). A string parameter is drawn among its
choices; a list of widths gets a drawn length and widths. ``steps`` is never drawn: it is the budget of a run,
not a parameter of a claim. `surveyed` lists the parameters a survey varies: every one with a numeric range
but the seed and steps.
"""

from __future__ import annotations

import ast
import math
import random
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .book import parameters_cell

__all__ = [
    "Range",
    "DATA",
    "table",
    "chapter",
    "stated",
    "parse",
    "rules",
    "declared",
    "comment",
    "notes",
    "render",
    "draw",
    "surveyed",
    "product",
    "SPANS",
    "NEVER_DRAWN",
]

DATA = Path(__file__).with_name("parameters.toml")  # the one declaration of every chapter's parameters
FIELDS = {"about": str, "range": str, "why": str, "constraint": str, "note": list}
SPANS = ("whole", "near")
NEVER_DRAWN = ("seed", "steps")  # the sweep's own axis; the budget of a run
WIDE = 8  # a range spanning this factor or more is drawn log-uniformly
NUMERIC = ("integer", "number", "integers")  # the kinds a sweep draws from a range (not a choice, not a path)

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_INTERVAL = re.compile(
    rf"\b(?P<kind>integer|number)?\s*in\s*(?P<left>[\[(])\s*(?P<low>{_NUMBER})\s*,\s*(?P<high>{_NUMBER}|inf)\s*\]"
)
_KIND = re.compile(r"\b(?P<kind>integer|number)\b")
_CASE = re.compile(rf"\[\s*(?P<low>{_NUMBER})\s*,\s*(?P<high>{_NUMBER})\s*\]\s*\((?P<label>\w+)\)")
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
_PATH = re.compile(r"^a path\b")


@dataclass(frozen=True)
class Range:
    """A parameter's declared range: ``kind`` "integer", "number", "choice", "integers" (a list of widths) or
    "path"; ``low``/``high`` (None: no bound; ``open_low``: low excluded); ``at_least``, another parameter it
    may not fall below; ``choices`` of a string; ``text``, the range in the words it was stated in.

    Attributes
    ----------
    name : str
        The parameter.
    default : object
        Its default.
    kind : str
        "integer", "number", "choice", "integers" (a list of widths) or "path".
    low : float or None
        Lower bound (None: none).
    high : float or None
        Upper bound (None: none).
    open_low : bool
        Whether ``low`` is excluded.
    at_least : str or None
        Another parameter it may not fall below.
    choices : tuple
        The choices of a string.
    odd : bool
        Whether it must be odd.
    high_of : tuple or None
        An upper bound that depends on another parameter (``2p-1``).
    at_most : tuple or None
        A constraint on a product (``s^2 p^4``).
    length : tuple or None
        The length a list must have.
    product_at_most : float or None
        The bound of that product.
    cases : tuple
        Ranges per choice of another parameter.
    empty : bool
        Whether the value may be empty.
    text : str
        The range in the words it was stated in.
    """

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
    cases: tuple[tuple[str, float, float], ...] = ()  # (choice, low, high): a range for each choice of another
    empty: bool = False  # kind "path": "" (none) allowed
    text: str = ""

    def whole(self) -> tuple[float, float]:
        """Where `draw` draws a number over the whole range: [low, high] (an open ``(0, x]``: [x/100, x]).

        Returns
        -------
        tuple
            ``(low, high)``.

        Raises
        ------
        ValueError
            If an argument is not valid (the message names the parameter).
        """
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
        """Where `draw` draws a number: [default/2, 2 default] inside the valid range (all of it for a default 0).

        Returns
        -------
        tuple
            ``(low, high)``.

        Raises
        ------
        ValueError
            If an argument is not valid (the message names the parameter).
        """
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if self.default != 0:
            low, high = max(low, self.default / 2), min(high, self.default * 2)
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"{self.name} has no finite range to draw from (its default is {self.default!r})")
        if self.open_low and low == self.low:
            low = math.nextafter(low, math.inf)
        return low, high

    def refers_to(self) -> list[str]:
        """The other parameters this range depends on (``at least k``, ``2p-1``, ``s^2 p^4``), in that order;
        the parameter whose choices label the ``cases`` is found by `deeplinear_book.params.validate`.

        Returns
        -------
        list of str
            Parameter names.
        """
        names = [self.at_least, self.high_of[1] if self.high_of else None]
        if self.at_most:
            names += re.findall(r"[A-Za-z_]\w*", " ".join(self.at_most))
        return list(dict.fromkeys(n for n in names if n and n != self.name))


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse(name: str, default: Any, comment: str) -> Range | None:
    """The `Range` that ``comment`` states for ``name`` (default ``default``; None: a range read from its words
    alone, as the validation reads it), or None when it states none that can be read, or one that its default
    does not fit (a default of another kind, a string outside its choices). The kind is what the words say
    ("integer", "number", a list, a path, quoted choices), else the default's type.

    Parameters
    ----------
    name : str
        The parameter.
    default : object
        Its default (None: read from the words alone).
    comment : str
        The range in words.

    Returns
    -------
    Range or None
        The range, or None.
    """
    given = default is not None
    found = _LIST.search(comment)
    if found:
        if given and not (isinstance(default, list) and all(_is_integer(v) for v in default)):
            return None
        product = _PRODUCT.search(comment)
        return Range(
            name, default, "integers", float(found["low"]), float(found["high"]),
            length=(int(found["min"]), int(found["max"])),
            product_at_most=float(product["most"]) if product else None, text=comment,
        )  # fmt: skip
    if _PATH.match(comment):
        if given and not isinstance(default, str):
            return None
        return Range(name, default, "path", empty='""' in comment, text=comment)
    dependent = _DEPENDENT.search(comment)
    if dependent:
        if given and not _is_integer(default):
            return None
        offset = float(dependent["offset"].replace(" ", "")) if dependent["offset"] else 0.0
        at_most = _AT_MOST.search(comment)
        return Range(
            name, default, "integer", float(dependent["low"]), None, odd=bool(dependent["odd"]),
            high_of=(float(dependent["coef"] or 1), dependent["var"], offset),
            at_most=(at_most["lhs"], at_most["rhs"]) if at_most else None, text=comment,
        )  # fmt: skip
    interval, at_least = _INTERVAL.search(comment), _AT_LEAST.search(comment)
    choices = tuple(re.findall(r'"([^"]+)"', comment))
    if (choices and not (interval or at_least)) or isinstance(default, str):
        if given and default not in choices:
            return None
        return Range(name, default, "choice", choices=choices, text=comment)
    if isinstance(default, bool) or (given and not isinstance(default, (int, float))):
        return None
    word = _KIND.search(comment)
    kind = word["kind"] if word else ("integer" if _is_integer(default) else "number" if given else None)
    if kind is None or (kind == "integer" and given and not _is_integer(default)):
        return None
    other = at_least and not re.fullmatch(_NUMBER, at_least["bound"])
    if interval:
        high = None if interval["high"] == "inf" else float(interval["high"])
        low, open_low = float(interval["low"]), interval["left"] == "("
    elif at_least and not other:
        low, high, open_low = float(at_least["bound"]), None, False
    else:
        return None
    cases = tuple((c["label"], float(c["low"]), float(c["high"])) for c in _CASE.finditer(comment))
    return Range(
        name, default, kind, low, high, open_low, at_least["bound"] if other else None,
        cases=cases if len(cases) > 1 else (), text=comment,
    )  # fmt: skip


def table(path: Path | str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Chapter stem -> parameter name -> its declaration (``about``, ``range`` and the optional ``why``,
    ``constraint`` and ``note``), in the order of the chapter's parameters cell, from ``path`` (default `DATA`).
    ValueError for a declaration without ``about`` or ``range`` or with a field it does not know.

    Parameters
    ----------
    path : Path, str or None, optional
        Path of the file.

    Returns
    -------
    dict
        Stem -> name -> declaration.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    path = Path(DATA if path is None else path)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for stem, entries in data.items():
        for name, entry in entries.items():
            where = f"{path.name}: {stem}.{name}"
            if not isinstance(entry, dict) or not {"about", "range"} <= set(entry):
                raise ValueError(f"{where} needs an about and a range")
            for field, value in entry.items():
                if field not in FIELDS or not isinstance(value, FIELDS[field]):
                    raise ValueError(f"{where}: {field} = {value!r} is not one of {', '.join(FIELDS)} as text")
    return data


def chapter(stem: str, path: Path | str | None = None) -> dict[str, dict[str, Any]]:
    """The declarations of chapter ``stem``'s parameters (`table`); ValueError naming the chapters declared
    when it is not one of them.

    Parameters
    ----------
    stem : str
        The chapter's stem.
    path : Path, str or None, optional
        Path of the file.

    Returns
    -------
    dict
        Name -> declaration.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    data = table(path)
    if stem not in data:
        raise ValueError(f"{stem!r} declares no parameters in {Path(DATA if path is None else path).name}; "
                         f"chapters declared there: {', '.join(data)}")  # fmt: skip
    return data[stem]


def stated(entry: dict[str, Any]) -> str:
    """A declaration's whole range in words: its ``range``, and its ``constraint`` where it has one.

    Parameters
    ----------
    entry : dict
        A declaration (`chapter`).

    Returns
    -------
    str
        A declaration's whole range in words: its ``range``, and its ``constraint`` where it has one.
    """
    return entry["range"] + (f", {entry['constraint']}" if entry.get("constraint") else "")


def rules(stem: str, path: Path | str | None = None) -> dict[str, Range]:
    """Name -> `Range` of chapter ``stem``'s parameters as the data states them (no defaults: the validation's
    reading); ValueError where a declared range cannot be read.

    Parameters
    ----------
    stem : str
        The chapter's stem.
    path : Path, str or None, optional
        Path of the file.

    Returns
    -------
    dict
        Name -> range.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    out = {}
    for name, entry in chapter(stem, path).items():
        r = parse(name, None, stated(entry))
        if r is None:
            raise ValueError(f"{stem}: the range declared for {name}, {stated(entry)!r}, cannot be read")
        out[name] = r
    return out


def declared(notebook: Path) -> dict[str, Range | None]:
    """Name -> `Range` of every parameter of ``notebook``'s parameters cell (None where its default does not
    fit its range), its range from the data (`chapter`) and its default from the cell. ValueError when the
    cell and the data do not name the same parameters in the same order.

    Parameters
    ----------
    notebook : Path
        Path of a chapter notebook (.ipynb).

    Returns
    -------
    dict
        Name -> range (None where its default does not fit).

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    entries = chapter(Path(notebook).stem)
    cell = parameters_cell(notebook)[1]
    _same_names(Path(notebook).stem, list(cell), list(entries))
    return {name: parse(name, p.default, stated(entries[name])) for name, p in cell.items()}


def _same_names(stem: str, cell: list[str], data: list[str]) -> None:
    if cell != data:
        raise ValueError(f"{stem}: the parameters cell sets {', '.join(cell)}, but {DATA.name} declares "
                         f"{', '.join(data)} (the same names, in the same order)")  # fmt: skip


def comment(entry: dict[str, Any]) -> str:
    """The comment of a parameter's line, rendered from its declaration: what it is, its range, and why in
    parentheses (``width of every layer, integer in [2, 24]``).

    Parameters
    ----------
    entry : dict
        A declaration (`chapter`).

    Returns
    -------
    str
        The comment, without ``#``.
    """
    about = entry["about"]
    text = f"{about}{' ' if about.endswith(':') else ', '}{entry['range']}"
    return text + (f" ({entry['why']})" if entry.get("why") else "")


def notes(name: str, entry: dict[str, Any]) -> list[str]:
    """The comment lines above a parameter's line, rendered from its declaration: ``# name:`` and its
    constraint, then its note's lines (none when it has neither).

    Parameters
    ----------
    name : str
        The parameter.
    entry : dict
        Its declaration (`chapter`).

    Returns
    -------
    list of str
        The comment lines.
    """
    lines = [entry["constraint"]] if entry.get("constraint") else []
    note = list(entry.get("note", []))
    if lines and note:
        lines[0] += f", {note.pop(0)}"
    lines += note
    return [f"# {name}: {lines[0]}", *(f"# {line}" for line in lines[1:])] if lines else []


def render(source: str, stem: str, path: Path | str | None = None) -> str:
    """A parameters cell's ``source`` with every comment rendered from chapter ``stem``'s declarations (`notes`
    above each assignment, `comment` after it); its assignments are kept as they are. ValueError when the cell
    holds anything but assignments and comments, or not the declared names in their order.

    Parameters
    ----------
    source : str
        The cell's source.
    stem : str
        The chapter's stem.
    path : Path, str or None, optional
        Path of the file.

    Returns
    -------
    str
        The rendered source.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    entries = chapter(stem, path)
    lines = []
    code = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"{stem}: the parameters cell holds one assignment per line, got "
                             f"{ast.get_source_segment(source, node)!r}")  # fmt: skip
        code.append((node.targets[0].id, ast.get_source_segment(source, node)))
    _same_names(stem, [name for name, _ in code], list(entries))
    for name, assignment in code:
        lines += notes(name, entries[name])
        lines.append(f"{assignment}  # {comment(entries[name])}")
    return "\n".join(lines)


def product(expression: str, values: dict[str, Any]) -> float:
    """The value of a product of powers such as ``s^2 p^4`` or ``9 * 28^4`` at ``values``.

    Parameters
    ----------
    expression : str
        The product, e.g. ``"s^2 p^4"``.
    values : dict
        Name -> value.

    Returns
    -------
    float
        The value of a product of powers such as ``s^2 p^4`` or ``9 * 28^4`` at ``values``.

    Examples
    --------
    >>> from deeplinear_book.ranges import product
    >>> product("s^2 p^4", {"s": 3, "p": 2})
    144.0
    """
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
            product(r.at_most[0], {**values, r.name: v}) <= product(r.at_most[1], values))
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
    and steps (`NEVER_DRAWN`).

    Parameters
    ----------
    ranges : dict
        Name -> range (`declared`).

    Returns
    -------
    list of str
        Parameter names.
    """
    return [n for n, r in ranges.items() if r is not None and r.kind in NUMERIC and n not in NEVER_DRAWN]


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
    it, whether it is drawn itself or not. ``steps`` and ``seed`` are never drawn (ValueError).

    Parameters
    ----------
    ranges : dict
        Name -> range (`declared`).
    names : list of str
        The parameters to draw.
    seed : int
        The draw, >= 0.
    span : str, optional
        "near" or "whole".

    Returns
    -------
    dict
        Name -> value.

    Raises
    ------
    ValueError
        If ``span`` is not valid (the message names the parameter).
    """
    if span not in SPANS:
        raise ValueError(f"span must be one of {SPANS}, got {span!r}")
    values: dict[str, Any] = {}
    for name in names:
        if name in NEVER_DRAWN:
            raise ValueError(f"{name} is never drawn: the seed is the sweep's own axis, steps the budget of a run")
        r = ranges.get(name)
        if r is None or r.kind == "path":
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
