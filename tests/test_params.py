"""deeplinear_book.params.validate: every chapter's declared ranges (parameters.toml) enforced, each refusal
naming the parameter, its value and its range as the parameters cell's comment states it."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deeplinear_book import params, ranges
from deeplinear_book.book import chapters, declared_parameters

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = chapters(ROOT)


def _refused(stem: str, values: dict[str, Any], name: str, value: Any) -> str:
    """validate with ``name`` set to ``value`` must raise a ValueError that names it and its value."""
    with pytest.raises(ValueError, match=rf"^{name} must be .*, got {re.escape(repr(value))}") as info:
        params.validate(stem, **{**values, name: value})
    return str(info.value)


def _bounds(r: ranges.Range, values: dict[str, Any], rules: dict[str, ranges.Range]) -> tuple[Any, Any]:
    """The lowest and highest value ``r`` allows at ``values`` (None where unbounded)."""
    low, high = r.low, r.high
    if r.high_of is not None:
        a, other, b = r.high_of
        high = a * values[other] + b
    if r.cases:
        chooser = next(n for n, q in rules.items() if q.kind == "choice" and r.cases[0][0] in q.choices)
        low, high = next((lo, hi) for label, lo, hi in r.cases if label == values[chooser])
    if r.at_least is not None:
        low = max(low, values[r.at_least])
    return low, high


def _outside(r: ranges.Range, values: dict[str, Any], rules: dict[str, ranges.Range]) -> list[Any]:
    """Values just outside each of ``r``'s bounds, and values of the wrong kind."""
    if r.kind == "choice":
        return ["not one of them", 1, True, None]
    if r.kind == "path":
        return [1, None, b"bytes"] + ([] if r.empty else [""])
    if r.kind == "integers":
        shortest, longest = r.length
        low, high = int(r.low), int(r.high)
        bad = [[], [low] * (longest + 1), [low - 1], [high + 1], [float(low)], [True], str(low), None]
        if r.product_at_most is not None:
            side = math.isqrt(int(r.product_at_most)) + 1
            bad.append([side, side])
        return [v for v in bad if not (isinstance(v, list) and v and len(v) < shortest)]
    low, high = _bounds(r, values, rules)
    if r.kind == "integer":
        step = 2 if r.odd else 1
        bad = [] if low is None else [int(low) - step]
        bad += [] if high is None else [int(high) + (step if int(high) % 2 == 1 or not r.odd else 1)]
        bad += [float(r.low), True, str(int(r.low)), None] + ([int(low) + 1] if r.odd and low % 2 == 1 else [])
        return bad
    bad = [float(low) if r.open_low else math.nextafter(low, -math.inf), math.nextafter(high, math.inf)]
    return bad + [math.nan, math.inf, True, str(high), None]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda nb: nb.stem)
def test_the_defaults_of_every_chapter_validate(notebook):
    params.validate(notebook.stem, **declared_parameters(notebook))


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda nb: nb.stem)
def test_every_declared_bound_and_kind_is_enforced_and_named(notebook):
    """For every declared parameter: values just outside each bound (at the other parameters' defaults), and
    values of another kind (a bool is not an integer), are refused with a message naming it, its value and its
    range in the words of the comment; the bounds themselves are accepted."""
    stem, defaults = notebook.stem, declared_parameters(notebook)
    rules = ranges.rules(stem)
    referred = {other for r in rules.values() for other in r.refers_to()}
    for name, r in rules.items():
        stated = ranges.stated(ranges.chapter(stem)[name])
        for value in _outside(r, defaults, rules):
            message = _refused(stem, defaults, name, value)
            assert stated in message or r.kind == "choice", message
        if r.kind in ("integer", "number") and not r.refers_to() and name not in referred:
            low, high = _bounds(r, defaults, rules)
            edges = [v for v in (None if r.open_low else low, high) if v is not None]
            for edge in edges:
                params.validate(stem, **{**defaults, name: int(edge) if r.kind == "integer" else edge})


def test_the_other_parameters_a_range_names_are_checked_and_shown():
    """at least k; an odd filter side below 2p-1 within s^2 p^4 at most 9 * 28^4; a digit index within the
    range of the chosen digits; neighbouring widths whose product is bounded."""
    d03 = declared_parameters(ROOT / "book" / "03-invariance-theorem.ipynb")
    message = _refused("03-invariance-theorem", {**d03, "k": 12}, "n", 11)
    assert message == "n must be an integer in [2, 64], at least k, got 11 with k = 12"
    params.validate("03-invariance-theorem", **{**d03, "k": 12, "n": 12})
    d06 = declared_parameters(ROOT / "book" / "06-layer-structure.ipynb")
    assert _refused("06-layer-structure", {**d06, "p": 6}, "s", 13).endswith("got 13 with p = 6")  # 2p-1 = 11
    assert _refused("06-layer-structure", {**d06, "p": 6}, "s", 4).startswith("s must be an odd integer in [3, 2p-1]")
    params.validate("06-layer-structure", **{**d06, "p": 6, "s": 11})
    params.validate("06-layer-structure", **{**d06, "p": 28, "s": 3})  # the paper's 3 x 3 filter on 28 x 28
    assert _refused("06-layer-structure", {**d06, "p": 28}, "s", 5) == (
        "s must be an odd integer in [3, 2p-1], s^2 p^4 at most 9 * 28^4, got 5 with p = 28"
    )
    d07 = declared_parameters(ROOT / "book" / "07-alignment-is-impossible.ipynb")
    message = _refused("07-alignment-is-impossible", d07, "mnist_index", 2000)
    assert message.endswith("(subset) or [0, 59999] (idx), got 2000 with mnist_source = 'subset'")
    params.validate("07-alignment-is-impossible", **{**d07, "mnist_index": 59999, "mnist_source": "idx"})
    _refused("07-alignment-is-impossible", {**d07, "mnist_source": "idx"}, "mnist_index", 60000)
    message = _refused("07-alignment-is-impossible", d07, "mnist_source", "csv")
    assert message == 'mnist_source must be "subset" or "idx", got \'csv\''
    d08 = declared_parameters(ROOT / "book" / "08-mnist-classification.ipynb")
    params.validate("08-mnist-classification", **{**d08, "hidden": [16, 4096, 16, 4096]})
    message = _refused("08-mnist-classification", d08, "hidden", [1024, 64, 1025])
    assert "two neighbouring widths multiply to at most 65536" in message


def test_the_names_must_be_exactly_the_declared_ones():
    d01 = declared_parameters(ROOT / "book" / "01-alignment.ipynb")
    with pytest.raises(ValueError, match=r"takes every parameter the chapter declares, seed, k, depth; missing: k$"):
        params.validate("01-alignment", seed=0, depth=4)
    with pytest.raises(ValueError, match=r"; unknown: width$"):
        params.validate("01-alignment", **d01, width=3)
    with pytest.raises(ValueError, match=r"'00-none' declares no parameters in parameters.toml; chapters declared"):
        params.validate("00-none", seed=0)


def test_numpy_scalars_are_numbers_and_a_bool_is_not_an_integer():
    d04 = declared_parameters(ROOT / "book" / "04-singular-value-dynamics.ipynb")
    params.validate("04-singular-value-dynamics", **{**d04, "k": np.int64(9), "lr": np.float32(0.02)})
    params.validate("04-singular-value-dynamics", **{**d04, "lr": 0.005, "steps": np.int32(100)})
    _refused("04-singular-value-dynamics", d04, "depth", True)
    _refused("04-singular-value-dynamics", d04, "depth", np.True_)
    _refused("04-singular-value-dynamics", d04, "depth", np.float64(3.0))
    params.validate("02-one-dimensional-outputs", **{**declared_parameters(CHAPTERS[1]), "lr": 4})  # an int lr


def test_a_range_that_cannot_be_read_is_an_error_of_the_data(tmp_path, monkeypatch):
    data = tmp_path / "parameters.toml"
    data.write_text('["x".k]\nabout = "width"\nrange = "a width of some sort"\n', encoding="utf-8")
    monkeypatch.setattr(ranges, "DATA", data)
    with pytest.raises(ValueError, match=r"the range declared for k, 'a width of some sort', cannot be read"):
        params.validate("x", k=3)
    data.write_text('["x".k]\nabout = "width"\nrange = "integer in [1, 3]"\nrange_ = 1\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"range_ = 1 is not one of about, range, why, constraint, note"):
        params.validate("x", k=3)
