"""The parameters' ranges declared once as data (deeplinear_book/parameters.toml, read by deeplinear_book.ranges):
their words read by machine, the parameters cells' comments rendered from them, the validation cells that
enforce them, and the draws of make sweep VARY=."""

from __future__ import annotations

import ast
import difflib
import tomllib
from pathlib import Path

import pytest

from deeplinear_book import params, ranges
from deeplinear_book.book import chapters, parameters_cell

ROOT = Path(__file__).resolve().parents[1]
EVERY = chapters(ROOT)
CHAPTERS = [nb for nb in EVERY if nb.stem != "reproduction-report"]


@pytest.mark.parametrize(
    ("default", "comment", "expected"),
    [
        (9, "width, integer in [2, 24]", ("integer", 2, 24, False, None)),
        (9, "samples, integer in [2, 64], at least k (whitened inputs)", ("integer", 2, 64, False, "k")),
        (0.01, "learning rate gamma, number in (0, 0.05]", ("number", 0, 0.05, True, None)),
        (0.01, "learning rate for the mean squared error, in (0, 1]", ("number", 0, 1, True, None)),
        (1e-3, "scale, number in (0, 5e-1]", ("number", 0, 0.5, True, None)),
        (0, "random seed, integer, at least 0", ("integer", 0, None, False, None)),
        (0, "which digit, integer in [0, 1999] (subset) or [0, 59999] (idx)", ("integer", 0, 1999, False, None)),
    ],
)
def test_numeric_ranges_are_read_from_the_comment(default, comment, expected):
    r = ranges.parse("x", default, comment)
    assert (r.kind, r.low, r.high, r.open_low, r.at_least) == expected


def test_choices_lists_and_dependent_bounds():
    r = ranges.parse("schedule", "constant", 'step sizes, "constant" or "inverse_risk"')
    assert (r.kind, r.choices) == ("choice", ("constant", "inverse_risk"))
    s = ranges.parse("s", 3, "filter side, odd integer in [1, 2p-1], s^2 p^4 at most 9 * 28^4 (dense bases)")
    assert (s.kind, s.low, s.odd, s.high_of, s.at_most) == ("integer", 1, True, (2, "p", -1), ("s^2 p^4", "9 * 28^4"))
    hidden = ranges.parse(
        "hidden", [1024, 64], "a list of 1 to 4 integers in [2, 4096], neighbours multiply to at most 64"
    )
    assert (hidden.kind, hidden.low, hidden.high, hidden.length, hidden.product_at_most) == (
        "integers",
        2,
        4096,
        (1, 4),
        64,
    )
    assert ranges.parse("hidden", [1024, 64], "a list of widths") is None
    assert ranges.parse("flag", True, "True or False") is None
    assert ranges.parse("mode", "z", '"x" or "y"') is None  # a default outside its own choices


def _cell(notebook: Path, tag: str) -> str:
    import nbformat

    return next(c for c in nbformat.read(notebook, 4).cells if tag in c.metadata.get("tags", [])).source


def test_the_data_declares_every_chapter_and_each_parameter_of_its_cell_in_order():
    """parameters.toml is the one declaration: a table for every notebook with a parameters cell (the report
    too), naming that cell's parameters in its order; every chapter's parameter has a range a survey can draw
    from (a string among its choices), and its default fits it."""
    data = ranges.table()
    assert list(data) == [nb.stem for nb in EVERY]
    for notebook in EVERY:
        assert list(data[notebook.stem]) == list(parameters_cell(notebook)[1]), notebook.stem
    for notebook in CHAPTERS:
        fixed = {name for name, r in ranges.declared(notebook).items() if r is None or r.kind == "path"}
        assert not fixed, (notebook.stem, fixed)
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "parameters.toml" in package_data["deeplinear_book"]  # the validation reads it from the install


@pytest.mark.parametrize("notebook", EVERY, ids=lambda nb: nb.stem)
def test_the_parameters_cells_comments_are_rendered_from_the_data(notebook):
    """A range is written once, in parameters.toml: the comments of the parameters cell are its rendering
    (python scripts/book_tools.py comments rewrites them), so a range typed into a comment fails here."""
    source = _cell(notebook, "parameters")
    rendered = ranges.render(source, notebook.stem)
    diff = "\n".join(difflib.unified_diff(source.splitlines(), rendered.splitlines(), "cell", "data", lineterm=""))
    assert rendered == source, f"run python scripts/book_tools.py comments\n{diff}"


def test_the_rendering_follows_the_data_and_refuses_another_cell(tmp_path, monkeypatch):
    data = tmp_path / "parameters.toml"
    data.write_text(
        '["x".k]\nabout = "width"\nrange = "integer in [2, 9]"\nwhy = "small"\n'
        '["x".hidden]\nabout = "widths"\nrange = "a list of 1 to 2 integers in [2, 64]"\n'
        'constraint = "neighbours multiply to at most 256"\nnote = ["a first line", "and a second"]\n'
        '["x".mode]\nabout = "the mode:"\nrange = \'"a" (first) or "b"\'\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(ranges, "DATA", data)
    cell = 'k = 3  # width, integer in [2, 64]\nhidden = [4, 4]\n# a stray comment\nmode = "a"  # old'
    assert ranges.render(cell, "x") == (
        "k = 3  # width, integer in [2, 9] (small)\n"
        "# hidden: neighbours multiply to at most 256, a first line\n"
        "# and a second\n"
        "hidden = [4, 4]  # widths, a list of 1 to 2 integers in [2, 64]\n"
        'mode = "a"  # the mode: "a" (first) or "b"'
    )
    assert ranges.render(ranges.render(cell, "x"), "x") == ranges.render(cell, "x")
    with pytest.raises(ValueError, match=r"the parameters cell sets hidden, k, mode, but parameters.toml declares k"):
        ranges.render('hidden = [4]\nk = 3\nmode = "a"', "x")
    with pytest.raises(ValueError, match=r"one assignment per line, got 'print\(k\)'"):
        ranges.render("k = 3\nprint(k)", "x")


@pytest.mark.parametrize("notebook", EVERY, ids=lambda nb: nb.stem)
def test_the_validation_cell_is_one_call_naming_every_parameter(notebook):
    """The validation cell is params.validate("<stem>", name=name, ...) over the parameters in their order, and
    nothing else (a chapter draws its random streams in a visible cell: tests/test_random.py); the report reads
    its paths after the call (reading them checks them)."""
    body = ast.parse(_cell(notebook, "validation")).body
    call = body[0].value if isinstance(body[0], ast.Expr) else None
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "params.validate", ast.unparse(body[0])
    assert [ast.literal_eval(a) for a in call.args] == [notebook.stem]
    names = list(parameters_cell(notebook)[1])
    assert [(k.arg, ast.unparse(k.value)) for k in call.keywords] == [(n, n) for n in names]
    rest = [ast.unparse(node) for node in body[1:]]
    if notebook.stem == "reproduction-report":
        assert not any("params" in line or "raise" in line for line in rest), rest
    else:
        assert rest == []


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda nb: nb.stem)
def test_the_sweeps_draws_all_validate(notebook):
    """What make sweep VARY= and make survey run is what the chapter accepts: every parameter a sweep may draw
    (its choices too), drawn over the whole range and near the default at many seeds, at the other defaults."""
    declared = ranges.declared(notebook)
    defaults = {name: r.default for name, r in declared.items()}
    drawable = [n for n, r in declared.items() if r is not None and n not in ranges.NEVER_DRAWN]
    for span in ranges.SPANS:
        for seed in range(25):
            for names in (drawable, ranges.surveyed(declared), drawable[:1]):
                params.validate(notebook.stem, **{**defaults, **ranges.draw(declared, names, seed, span)})


def test_draws_stay_near_the_default_inside_the_range_and_follow_at_least():
    declared = ranges.declared(ROOT / "book" / "03-invariance-theorem.ipynb")
    names = ["k", "n", "depth", "lr"]
    for seed in range(40):
        values = ranges.draw(declared, names, seed)
        assert values == ranges.draw(declared, names[::-1], seed)  # the order of the names does not matter
        for name, value in values.items():
            r = declared[name]
            assert r.low <= value <= r.high and (value > r.low or not r.open_low), (name, value)
            if name != "n":
                assert r.default / 2 <= value <= 2 * r.default, (name, value)
            assert isinstance(value, int) == (r.kind == "integer"), (name, value)
        assert values["n"] >= values["k"]
    only_k = [ranges.draw(declared, ["k"], seed) for seed in range(40)]
    raised = [v for v in only_k if v["k"] > declared["n"].default]  # n (default 9) is not drawn, k is
    assert raised and all(v["n"] == v["k"] for v in raised)
    assert all("n" not in v for v in only_k if v["k"] <= declared["n"].default)
    assert len({ranges.draw(declared, ["lr"], seed)["lr"] for seed in range(40)}) > 20


def test_a_zero_default_draws_over_the_whole_range_and_a_string_among_its_choices():
    declared = ranges.declared(ROOT / "book" / "07-alignment-is-impossible.ipynb")
    index = [ranges.draw(declared, ["mnist_index"], seed)["mnist_index"] for seed in range(50)]
    assert 0 <= min(index) and max(index) <= 1999 and max(index) > 1000
    declared = ranges.declared(ROOT / "book" / "08-mnist-classification.ipynb")
    assert {ranges.draw(declared, ["loss"], seed)["loss"] for seed in range(30)} == {"squared", "cross_entropy"}
    with pytest.raises(ValueError, match="widths states no range"):
        ranges.draw({"widths": ranges.parse("widths", [4, 4], "a list of widths")}, ["widths"], 0)


def _toy() -> dict:
    return {
        "k": ranges.parse("k", 9, "width, integer in [2, 64]"),
        "depth": ranges.parse("depth", 3, "layers, integer in [2, 8]"),
        "n": ranges.parse("n", 9, "samples, integer in [2, 200], at least k"),
        "lr": ranges.parse("lr", 0.01, "learning rate, number in (0, 0.05]"),
        "scale": ranges.parse("scale", 0.01, "scale, number in [0.001, 0.5]"),
        "index": ranges.parse("index", 0, "which digit, integer in [0, 1999]"),
        "steps": ranges.parse("steps", 1000, "budget, integer in [10, 100000]"),
        "seed": ranges.parse("seed", 0, "random seed, integer, at least 0"),
        "loss": ranges.parse("loss", "squared", '"squared" or "logistic"'),
    }


def test_the_survey_draws_over_the_whole_range_log_uniformly_where_it_is_wide():
    declared = _toy()
    assert ranges.surveyed(declared) == ["k", "depth", "n", "lr", "scale", "index"]  # no seed, steps or strings
    draws = [ranges.draw(declared, ranges.surveyed(declared), seed, span="whole") for seed in range(400)]
    for name, r in declared.items():
        if name not in draws[0]:
            continue
        values = [d[name] for d in draws]
        assert all(isinstance(v, int) == (r.kind == "integer") for v in values), name
        low = r.high / 100 if r.open_low else r.low
        assert min(values) >= low and max(values) <= r.high, name
    k = sorted(d["k"] for d in draws)
    # log-uniform over [2, 64]: each factor of 2 about equally often; both edges are reached
    assert k[0] == 2 and k[-1] == 64
    below_8 = sum(v < 8 for v in k) / len(k)
    assert 0.3 < below_8 < 0.5  # log(8/2)/log(65/2) = 0.40 (uniform would give 0.10)
    depth = [d["depth"] for d in draws]
    assert set(depth) == set(range(2, 9)) and abs(sum(v == 2 for v in depth) / 400 - 1 / 7) < 0.06  # uniform
    lr = [d["lr"] for d in draws]
    assert 0.0005 <= min(lr) < 0.001 and max(lr) > 0.04  # (0, 0.05]: its top two decades
    assert 0.4 < sum(v < 0.005 for v in lr) / len(lr) < 0.6  # log-uniform: half below the geometric middle
    index = [d["index"] for d in draws]
    assert min(index) == 0 and max(index) > 1000 and sum(v < 44 for v in index) > 100  # log-uniform, from 0
    assert all(d["n"] >= d["k"] for d in draws)
    assert draws[5] == ranges.draw(declared, ranges.surveyed(declared)[::-1], 5, span="whole")


def test_steps_and_the_seed_are_never_drawn_and_a_span_is_one_of_two():
    declared = _toy()
    with pytest.raises(ValueError, match="steps is never drawn"):
        ranges.draw(declared, ["k", "steps"], 0, span="whole")
    with pytest.raises(ValueError, match="seed is never drawn"):
        ranges.draw(declared, ["seed"], 0)
    with pytest.raises(ValueError, match="span must be one of"):
        ranges.draw(declared, ["k"], 0, span="all")


def test_a_dependent_bound_and_a_list_of_widths_are_drawn_inside_their_constraints():
    """s odd in [3, 2p-1] with s^2 p^4 at most 9 * 28^4 (chapter 06); widths whose neighbours multiply to at
    most 65536 (chapter 08): every draw of the survey, checked against the constraints written out here."""
    rs = {
        "p": ranges.parse("p", 6, "image side, integer in [2, 28]"),
        "s": ranges.parse("s", 3, "filter side, odd integer in [3, 2p-1], s^2 p^4 at most 9 * 28^4"),
        "hidden": ranges.parse(
            "hidden", [1024, 64], "widths, a list of 1 to 4 integers in [2, 4096], neighbours multiply to at most 65536"
        ),
    }
    seen_s, lengths = set(), set()
    for seed in range(300):
        d = ranges.draw(rs, ["p", "s", "hidden"], seed, span="whole")
        p, s, hidden = d["p"], d["s"], d["hidden"]
        assert 2 <= p <= 28 and s % 2 == 1 and 3 <= s <= 2 * p - 1 and s**2 * p**4 <= 9 * 28**4, d
        assert 1 <= len(hidden) <= 4 and all(2 <= w <= 4096 and isinstance(w, int) for w in hidden), d
        assert all(a * b <= 65536 for a, b in zip(hidden, hidden[1:])), d
        seen_s.add(s)
        lengths.add(len(hidden))
    assert max(seen_s) >= 15 and lengths == {1, 2, 3, 4}  # the whole range, not only the default's neighbourhood
    alone = ranges.draw(rs, ["s"], 5, span="whole")  # p at its default 6: s in {3, 5, 7, 9, 11}
    assert alone["s"] in {3, 5, 7, 9, 11}
    assert ranges.draw(rs, ["hidden"], 5, span="near")["hidden"][1] in range(32, 129)


def test_the_chapters_state_their_dependent_bound_and_their_product_bound():
    """Chapter 06's s and chapter 08's hidden are read whole, the latter's product from its declared constraint
    (rendered as the ``# hidden:`` line above it)."""
    s = ranges.declared(ROOT / "book" / "06-layer-structure.ipynb")["s"]
    assert (s.odd, s.high_of, s.at_most) == (True, (2, "p", -1), ("s^2 p^4", "9 * 28^4"))
    hidden = ranges.declared(ROOT / "book" / "08-mnist-classification.ipynb")["hidden"]
    assert (hidden.length, hidden.product_at_most) == ((1, 4), 65536)
