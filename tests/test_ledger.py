"""The claims ledger as data (book/ledger.toml, deeplinear_book.ledger) and claim(), which chapters record with."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from deeplinear_book import chapters, glued_values, ledger
from deeplinear_book.claims import span_text, stored

ROOT = Path(__file__).resolve().parents[1]
LEDGER = ledger.load(ROOT / "book" / "ledger.toml")
VALUES = {nb.stem: glued_values(nb) for nb in chapters(ROOT) if nb.stem[0].isdigit()}


def test_every_claim_and_finding_points_at_a_chapter_section():
    for entry in (*LEDGER.claims, *LEDGER.findings):
        assert entry.chapter in VALUES, entry.id
        text = "\n".join(c.source for c in nbformat.read(ROOT / "book" / f"{entry.chapter}.ipynb", 4).cells)
        assert f"({entry.section})=" in text, f"{entry.id}: no section label {entry.section} in {entry.chapter}"


def test_every_value_the_ledger_reads_is_glued_by_its_chapter():
    for claim in LEDGER.claims:
        for check in claim.checks:
            names = [check.value] + ([check.threshold] if isinstance(check.threshold, str) else [])
            for name in names:
                assert name in VALUES[claim.chapter], f"{claim.id}: {claim.chapter} glues no {name!r}"
    for finding in LEDGER.findings:
        for name in finding.names():
            assert name in VALUES[finding.chapter], f"{finding.id}: {finding.chapter} glues no {name!r}"


def test_every_claim_and_finding_is_reproduced_by_the_committed_chapters():
    rows = ledger.evaluate(LEDGER, VALUES)
    assert len(rows) == len(LEDGER.claims) + len(LEDGER.findings) and len(LEDGER.claims) >= 30
    assert [r.entry.id for r in rows if not ledger.reproduced(r)] == []
    verdicts = {r.entry.id: r.verdict for r in rows}
    assert verdicts["equation-6"] == "paper erratum" and verdicts["mnist-subset"] == "the book's deviation"
    assert set(verdicts.values()) <= set(ledger.VERDICTS)


def test_every_finding_quotes_what_it_concerns_and_has_one_of_four_kinds():
    assert {f.kind for f in LEDGER.findings} == {"erratum", "code discrepancy", "sharpening", "deviation"}
    for f in LEDGER.findings:
        assert len(f.quote) > 20 and f.source, f.id


def check(**entry):
    return ledger._check(entry, "test")


@pytest.mark.parametrize(
    ("entry", "value", "holds"),
    [
        ({"le": 1e-12}, 1e-12, True),
        ({"le": 1e-12}, 2e-12, False),
        ({"lt": 0.99}, 0.99, False),
        ({"ge": 0.999999999}, 1.0, True),
        ({"gt": 2}, 2, False),
        ({"eq": 0}, 0, True),
        ({"is": True}, True, True),
        ({"is": True}, 1, False),  # a count of 1 is not the boolean True
        ({"is": False}, False, True),
        ({"lt": 0.99}, True, False),  # a boolean is not a number for a comparison
        ({"between": [1.9, 2.1]}, 2.1, True),
        ({"between": [1.9, 2.1]}, 1.89, False),
        ({"lt": "other"}, 0.5, True),
        ({"lt": "other"}, 0.7, False),
        ({"lt": 0.99}, "0.5", False),  # text is never a number
    ],
)
def test_a_check_compares_as_its_operator_says(entry, value, holds):
    assert check(value="x", **entry).holds({"x": value, "other": 0.6}) is holds


def test_a_check_names_a_missing_value():
    with pytest.raises(KeyError, match="no glued value named 'x'"):
        check(value="x", le=1).holds({})


@pytest.mark.parametrize(
    ("entry", "text"),
    [
        ({"le": 1e-12}, "≤ 1e-12"),
        ({"ge": 0.999999999}, "≥ 1 − 1e-9"),
        ({"lt": 0.95}, "< 0.95"),
        ({"ge": 1e-3}, "≥ 1e-3"),
        ({"gt": "fig1b_loss_initial"}, "> fig1b_loss_initial"),
        ({"is": False}, "False"),
        ({"between": [1.9, 2.1]}, "in [1.9, 2.1]"),
        ({"le": 5.0, "note": "degrees"}, "≤ 5 (degrees)"),
    ],
)
def test_a_criterion_reads_as_written_by_hand(entry, text):
    assert check(value="x", **entry).criterion() == text


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[claim]]\nid = "a"\n', "missing keys"),
        ('[[nonsense]]\nid = "a"\n', "unknown tables"),
        (
            '[[claim]]\nid="a"\npaper="P"\nkind="claim"\nstatement="s"\nchapter="c"\nsection="s"\n'
            'checks=[{ value = "x", le = 1, ge = 0 }]\ncalibration="c"\n',
            "one of le",
        ),
        (
            '[[claim]]\nid="a"\npaper="P"\nkind="rumour"\nstatement="s"\nchapter="c"\nsection="s"\n'
            'checks=[{ value = "x", le = 1 }]\ncalibration="c"\n',
            "kind 'rumour'",
        ),
        (
            '[[claim]]\nid="a"\npaper="P"\nkind="claim"\nstatement="s"\nchapter="c"\nsection="s"\n'
            'checks=[{ value = "x", le = 1 }]\ncalibration="c"\n'
            '[[finding]]\nid="a"\nkind="erratum"\ntitle="t"\nsource="s"\nquote="q"\nchapter="c"\nsection="s"\ntext="t"\n',
            "used twice",
        ),
        (
            '[[claim]]\nid="a"\npaper="P"\nkind="claim"\nstatement="s"\nchapter="c"\nsection="s"\n'
            'checks=[{ value = "x", is = 1 }]\ncalibration="c"\n',
            "takes true or false",
        ),
        (
            '[[claim]]\nid="a"\npaper="P"\nkind="claim"\nstatement="s"\nchapter="c"\nsection="s"\n'
            'checks=[{ value = "x", le = 1 }]\n',
            "a claim needs a calibration",
        ),
        (
            '[[claim]]\nid="a"\npaper="P"\nkind="claim"\nstatement="s"\nchapter="c"\nsection="s"\n'
            'checks=[{ value = "x", le = 1 }]\ncalibration="c"\nhypotheses=[{ value = "y" }]\n',
            "hypothesis 1",
        ),
        (
            '[[finding]]\nid="a"\nkind="erratum"\ntitle="t"\nsource="s"\nquote="q"\nchapter="c"\nsection="s"\n'
            'text="t"\nchecks=[{ value = "x", le = 1 }]\n',
            "a finding with checks needs a calibration",
        ),
    ],
)
def test_a_malformed_ledger_is_refused_naming_the_entry(tmp_path, toml, message):
    path = tmp_path / "ledger.toml"
    path.write_text(toml)
    with pytest.raises(ValueError, match=re.escape(message)):
        ledger.load(path)


def test_ledger_csv_has_one_row_per_claim_and_a_not_run_chapter_says_so(tmp_path):
    values = {name: v for name, v in VALUES.items() if name != "01-alignment"}
    rows = ledger.evaluate(LEDGER, values)
    ledger.write_csv(tmp_path / "ledger.csv", rows)
    with open(tmp_path / "ledger.csv", newline="", encoding="utf-8") as f:
        read = list(csv.DictReader(f))
    assert [r["claim"] for r in read] == [e.id for e in (*LEDGER.claims, *LEDGER.findings)]
    assert list(read[0]) == ["claim", "chapter", "kind", "verdict", "statement", "measured", "reason"]
    assert {r["verdict"] for r in read if r["chapter"] == "01-alignment"} == {"not run"}
    assert {r["reason"] for r in read if r["chapter"] == "01-alignment"} == {
        "01-alignment: the run did not include the chapter"
    }
    claims = [r for r in read if r["kind"] == "claim" and r["chapter"] != "01-alignment"]
    assert {r["verdict"] for r in claims} <= {"confirmed", "confirmed with a caveat"}
    assert {r["verdict"] for r in read if r["kind"] == "check" and r["chapter"] != "01-alignment"} == {"verified"}
    assert {r["kind"] for r in read} == {"claim", "check", "erratum", "code discrepancy", "sharpening", "deviation"}
    assert not list(tmp_path.glob("*.tmp"))


# A small ledger of its own, so that these tests do not depend on what the chapters measure.
TOY = """
[[claim]]
id = "toy-claim"
paper = "P"
kind = "claim"
statement = "a claim"
chapter = "c"
section = "sec-c"
hypotheses = [{ value = "floor", le = 1e-10, note = "the data can be interpolated" }]
checks = [{ value = "score", lt = 0.95 }, { value = "orders", ge = 3 }]
calibration = "an argument; test_calibration_01.py::test_something"

[[claim]]
id = "toy-check"
paper = "P"
kind = "check"
statement = "an identity"
chapter = "c"
section = "sec-c"
checks = [{ value = "error", le = 1e-12 }]

[[finding]]
id = "toy-finding"
kind = "erratum"
title = "t"
source = "s"
quote = "a quoted sentence of the paper"
chapter = "c"
section = "sec-c"
text = "score {score}"
hypotheses = [{ value = "floor", le = 1e-10, note = "the data can be interpolated" }]
checks = [{ value = "score", gt = 0.5 }]
calibration = "an argument"
"""


@pytest.fixture
def toy(tmp_path):
    path = tmp_path / "ledger.toml"
    path.write_text(TOY)
    return ledger.load(path)


def test_failed_checks_name_the_claim_the_value_and_the_criterion(toy):
    values = {"floor": 0.0, "score": 0.97, "orders": 5, "error": 1e-15}
    assert ledger.failed_checks(toy, "c", values) == ["toy-claim: score = 0.97, expected < 0.95"]
    assert ledger.failed_checks(toy, "c", values, skip=("score",)) == []
    # outside its hypotheses a claim's checks are not applied
    assert ledger.failed_checks(toy, "c", dict(values, floor=0.5)) == []


def test_a_check_is_verified_and_a_failed_hypothesis_makes_a_claim_not_applicable_with_its_reason(toy):
    values = {"floor": 0.0, "score": 0.9, "orders": 5, "error": 1e-15}
    rows = {r.entry.id: r for r in ledger.evaluate(toy, {"c": values})}
    assert [rows[i].verdict for i in ("toy-claim", "toy-check", "toy-finding")] == [
        "confirmed",
        "verified",
        "paper erratum",
    ]
    rows = {r.entry.id: r for r in ledger.evaluate(toy, {"c": dict(values, floor=0.567, score=0.99)})}
    row = rows["toy-claim"]
    assert row.verdict == "not applicable" and not ledger.reproduced(row)
    assert row.reason == "outside the claim's hypotheses: the data can be interpolated: floor = 0.567, not ≤ 1e-10"
    assert row.measured == (("floor", 0.567, "≤ 1e-10 (the data can be interpolated)", False),)
    assert rows["toy-finding"].verdict == "not applicable"
    assert rows["toy-check"].verdict == "verified"  # a check has no hypotheses
    # a failing criterion inside the hypotheses is "not reproduced"
    rows = {r.entry.id: r for r in ledger.evaluate(toy, {"c": dict(values, score=0.99, error=1e-9)})}
    assert rows["toy-claim"].verdict == rows["toy-check"].verdict == "not reproduced"
    assert toy.claims[0].calibration_tests == ["test_calibration_01.py::test_something"]


def test_a_failed_chapter_leaves_its_rows_not_run_with_the_error(toy):
    rows = ledger.evaluate(toy, {}, {"c": "ValueError: k must be an integer in [2, 24], got 0"})
    assert {r.verdict for r in rows} == {"not run"}
    assert rows[0].reason == "c: ValueError: k must be an integer in [2, 24], got 0"
    assert "not run" in ledger.table(rows) and "ValueError" in ledger.table(rows)


def test_a_finding_quotes_its_chapter_values():
    finding = next(f for f in LEDGER.findings if f.id == "equation-6")
    text = ledger.render_finding(finding, {"cor1_printed_max_deviation": 0.25, "cor1_max_deviation": 3e-15})
    assert "by 0.25; corrected, by 3.0e-15" in text


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (0.98765, {"digits": 3}, 0.988),
        (3.14159e-15, {}, 3.1e-15),
        (np.float64(0.123456), {"sig": 3}, 0.123),
        (1234.5, {"sig": 2}, 1200.0),
        (np.bool_(True), {}, True),
        (np.int64(4), {}, 4),
        (np.array(0.5), {"digits": 1}, 0.5),
        ("1.2 to 3.4", {}, "1.2 to 3.4"),
        (0.0, {}, 0.0),
    ],
)
def test_claim_stores_the_digits_asked_for(value, kwargs, expected):
    kept = stored(value, **kwargs)
    assert kept == expected and type(kept) is type(expected)


def test_claim_refuses_what_it_cannot_store():
    with pytest.raises(ValueError, match="not both"):
        stored(1.0, digits=2, sig=2)
    with pytest.raises(ValueError, match=r"sig must be an integer in \[1, 15\]"):
        stored(1.0, sig=0)
    with pytest.raises(TypeError, match="got list"):
        stored([1.0])


def test_a_paper_setting_is_named_only_where_a_paper_runs_that_experiment():
    """The paper column reads "paper setting" only where a paper or a released script gives the experiment's
    settings: the figures of both papers and the released scripts' data; theorems, definitions, remarks and
    footnotes have no paper experiment."""
    named = {c.id for c in LEDGER.claims if c.paper_setting}
    assert {"figure-1a", "figure-1b", "figure-1c", "figure-2a", "figure-2b", "jt-max-margin", "jt-rank-one"} <= named
    for claim in LEDGER.claims:
        if claim.paper_setting:
            assert claim.kind == "claim" and re.search(r"Figure|released", claim.paper_setting), claim.id
            preset = ROOT / "book" / "presets" / claim.chapter / "paper.yaml"
            assert preset.exists() and preset.read_text().startswith("#"), f"{claim.id}: its preset cites no source"
    for unnamed in ("theorem-1-if", "theorem-2", "proposition-3", "footnote-1", "example-convolutional-autoencoder"):
        assert not next(c for c in LEDGER.claims if c.id == unnamed).paper_setting, unnamed


def test_a_caveat_is_part_of_the_verdict():
    rows = {r.entry.id: r.verdict for r in ledger.evaluate(LEDGER, VALUES)}
    assert rows["balancedness-unlikely"] == "confirmed with a caveat"


def test_a_run_that_predates_a_row_leaves_it_not_run(toy):
    rows = {r.entry.id: r for r in ledger.evaluate(toy, {"c": {"floor": 0.0, "score": 0.9, "error": 0.0}})}
    assert rows["toy-claim"].verdict == "not run"
    assert rows["toy-claim"].reason == "c: no glued value named 'orders' (a run older than the row)"
    assert rows["toy-check"].verdict == "verified"


def test_identities_and_constructions_are_checks_not_claims():
    kinds = {e.id: e.kind for e in LEDGER.claims}
    for row in ("definition-1-usvd", "definition-2-aligned", "equation-3-collapse", "proposition-3"):
        assert kinds[row] == "check", row
    assert kinds["balancedness-gradient-flow"] == kinds["jt-margin-corollary-bound"] == "check"
    assert sum(k == "claim" for k in kinds.values()) >= 30


def test_every_claim_says_why_its_criterion_cannot_fail_by_chance():
    """A calibration is an argument or names the unit tests that simulate the criterion at the ranges' edges;
    every test it names exists."""
    for entry in (*LEDGER.claims, *LEDGER.findings):
        if entry.kind == "check" or (isinstance(entry, ledger.Finding) and not entry.checks):
            continue
        assert entry.calibration.strip() not in ("", "TODO"), f"{entry.id}: no calibration"
        for name in entry.calibration_tests:
            module, test = name.split("::")
            source = (ROOT / "tests" / module).read_text() if (ROOT / "tests" / module).exists() else ""
            assert f"def {test}(" in source, f"{entry.id}: {name} does not exist"


def test_a_criterion_given_the_values_shows_the_value_it_names():
    values = {"x": 0.5, "fig1b_loss_initial": 0.0123}
    assert check(value="x", lt="fig1b_loss_initial").criterion(values) == "< 0.0123 (fig1b loss initial)"
    named = check(value="x", gt="fig1b_loss_initial", note="up from its start")
    assert named.criterion(values) == "> 0.0123 (fig1b loss initial; up from its start)"
    assert check(value="x", le=1e-12, note="n").criterion(values) == "≤ 1e-12 (n)"  # a number stays as written
    with pytest.raises(KeyError, match="no glued value named 'fig1b_loss_initial'"):
        check(value="x", lt="fig1b_loss_initial").criterion({"x": 0.5})


def test_a_finding_shows_its_values_as_asked():
    finding = next(f for f in LEDGER.findings if f.id == "equation-6")
    values = {"cor1_printed_max_deviation": 0.25, "cor1_max_deviation": 3e-15}
    assert "by <0.25>; corrected, by <3e-15>" in ledger.render_finding(finding, values, lambda v: f"<{v}>")


def _figure(**text_sizes):
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=100)
    ax.plot([1, 2], label="a line")
    return fig, ax, plt


@pytest.mark.parametrize(
    ("draw", "expected"),
    [
        (lambda ax: ax.legend(fontsize=7), 7.0),  # a legend below the ticks' size
        (lambda ax: ax.tick_params(labelsize=6.5), 6.5),
        (lambda ax: ax.set_xlabel(r"$\sigma_1$", fontsize=5), 5.0),  # mathtext at its base size
        # Text that is not drawn does not count: a hidden label, and the tick labels of an axis turned off.
        (lambda ax: ax.text(0.5, 0.5, "hidden", fontsize=3, visible=False), None),
        (lambda ax: (ax.tick_params(labelsize=2), ax.axis("off"), ax.set_title("t", fontsize=11)), 11.0),
    ],
)
def test_smallest_text_is_the_smallest_font_the_figure_draws(draw, expected):
    from deeplinear_book.claims import smallest_text_pt

    fig, ax, plt = _figure()
    with plt.rc_context({"xtick.labelsize": 10, "ytick.labelsize": 10}):
        ax.tick_params(labelsize=10)
        draw(ax)
        # the reference: the ticks' 10 pt unless the figure draws something smaller
        reference = 10.0 if expected is None else expected
        assert smallest_text_pt(fig) == reference
    plt.close(fig)


def test_smallest_text_of_a_figure_without_text_is_none_and_a_non_figure_is_refused():
    from deeplinear_book.claims import smallest_text_pt

    fig, ax, plt = _figure()
    ax.set_axis_off()
    assert smallest_text_pt(fig) is None
    plt.close(fig)
    with pytest.raises(ValueError, match="fig must be a matplotlib Figure"):
        smallest_text_pt(ax)


def test_a_claimed_bool_reads_as_a_word_and_comes_back_as_a_bool(tmp_path):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from deeplinear_book import claim, glued_values
    from deeplinear_book.book import glued_text

    had_shell = InteractiveShell.initialized()
    InteractiveShell.instance()  # glue displays through the shell, as in a notebook
    try:
        with capture_output() as captured:
            claim("holds", np.bool_(True))
            claim("fails", False)
            claim("count", 3)
    finally:
        if not had_shell:
            InteractiveShell.clear_instance()
    outputs = [{"output_type": "display_data", "data": o.data, "metadata": o.metadata} for o in captured.outputs]
    cells = [{"cell_type": "code", "outputs": outputs}]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": cells}, default=str))
    assert glued_text(path) == {"holds": "'yes'", "fails": "'no'", "count": "3"}
    assert glued_values(path) == {"holds": True, "fails": False, "count": 3}
    from deeplinear_book.claims import claimed

    # the kernel keeps what it claimed, as the ledger reads it back (the chapter's Summary evaluates it)
    assert {k: claimed()[k] for k in ("holds", "fails", "count")} == {"holds": True, "fails": False, "count": 3}


@pytest.mark.parametrize(
    ("values", "digits", "text"),
    [
        ([0.891, 0.889, 0.894], 2, "0.89"),
        ([0.88, 0.9], 2, "0.88 to 0.90"),
        (np.array([0.8849, 0.8851]), 2, "0.88 to 0.89"),
        (0.5, 3, "0.500"),
        ([1.26, 1.24], 1, "1.2 to 1.3"),
    ],
)
def test_span_text_is_one_value_when_all_round_alike_else_the_range(values, digits, text):
    assert span_text(values, digits) == text


@pytest.mark.parametrize("values", [[], [np.nan, 1.0], [np.inf]])
def test_span_text_refuses_what_has_no_span(values):
    with pytest.raises(ValueError, match="values must be finite numbers"):
        span_text(values)


def _summary_cells(notebook: Path) -> list:
    """The cells of a chapter's "Summary" section (from its heading to the next heading of the same level)."""
    cells = nbformat.read(notebook, 4).cells
    start = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and "\n## Summary" in "\n" + c.source)
    end = next(
        (
            i
            for i in range(start + 1, len(cells))
            if cells[i].cell_type == "markdown" and "\n## " in "\n" + cells[i].source
        ),
        len(cells),
    )
    return cells[start:end]


@pytest.mark.parametrize("chapter", sorted(VALUES))
def test_a_chapters_summary_is_its_ledger_rows_and_nothing_else(chapter):
    """One story per claim: the Summary shows the chapter's ledger rows, evaluated on the run
    (deeplinear_book.claims.summary); a hand-written table there could hold a row the ledger lacks, or a verdict
    it does not give."""
    cells = _summary_cells(ROOT / "book" / f"{chapter}.ipynb")
    calls = [c for c in cells if c.cell_type == "code" and f'summary("{chapter}")' in c.source]
    assert calls, f"{chapter}: its Summary does not render summary({chapter!r})"
    tables = [c for c in cells if c.cell_type == "markdown" and re.search(r"^\s*\|.*\|\s*$", c.source, re.MULTILINE)]
    assert not tables, f"{chapter}: its Summary has a hand-written table beside the ledger's"
    shown = calls[0].outputs[0]["data"]["text/markdown"]
    for entry in LEDGER.for_chapter(chapter):
        statement = entry.statement if isinstance(entry, ledger.Claim) else entry.title
        assert statement.split(":")[0][:30] in shown.replace("\\", ""), (
            f"{chapter}: {entry.id} missing from its Summary"
        )


_ROW = '[[claim]]\nid="{id}"\npaper="P"\nkind="check"\nstatement="{statement}"\nchapter="03-c"\nsection="s"\n'


def _ledger(tmp_path, rows: str, labels: str = "") -> ledger.Ledger:
    path = tmp_path / "ledger.toml"
    path.write_text(rows + ("\n[labels]\n" + labels if labels else ""), encoding="utf-8")
    return ledger.load(path)


def _row(id="a", statement="s", check='{ value = "x_1", le = 1 }', number=""):
    return _ROW.format(id=id, statement=statement) + (f'number="{number}"\n' if number else "") + f"checks=[{check}]\n"


@pytest.mark.parametrize(
    ("rows", "labels", "message"),
    [
        (_row(), 'x_2 = "two"', "no text for x_1"),  # once a ledger has labels, every value a check reads has one
        (
            _row(check='{ value = "x_1", lt = "x_0" }'),
            'x_1 = "one"',
            "no text for x_0",
        ),  # and every value compared with
        (_row(), 'x_1 = "one"\ny_9 = "nine"', "no check reads: \\['y_9'\\]"),
        (_row(), 'x_1 = ""', "non-empty text"),
        (_row(), 'x_1 = "the x_1 value"', "the name 'x_1'"),
        (_row(statement="|v_{i+1}ᵀu_i|"), "", "TeX outside math"),
        (_row(statement="W_1 turns"), "", "TeX outside math"),
        (_row(statement="reads fig1b_loss_final"), "", "the name 'fig1b_loss_final'"),
        (_row(statement="$|v|$ is its size"), "", "a \\| in math"),
        (_row(statement="$x is open"), "", "unbalanced"),
        (_row(number="3.1") + _row(id="b"), "", "every row needs a number"),
        (_row(number="3.1") + _row(id="b", number="3.1"), "", "3.1 is given to a and b"),
        (_row(number="4.1"), "", "a number is its chapter's \\(3\\)"),
        (_row(number="3.0"), "", "a number is its chapter's"),
    ],
)
def test_the_ledger_refuses_text_a_reader_should_not_see_and_numbers_that_clash(tmp_path, rows, labels, message):
    with pytest.raises(ValueError, match=message):
        _ledger(tmp_path, rows, labels)


def test_rows_are_numbered_by_chapter_and_labels_replace_names(tmp_path):
    # without numbers in the file, a row's number is its place among its chapter's rows, in the file's order
    rows = _row("a") + _row("b").replace("03-c", "01-x") + _row("c") + _row("d", statement="$W_{i+1}$ and `x_1`")
    numbered = _ledger(tmp_path, rows)
    assert [(e.id, e.number) for e in numbered.rows()] == [("a", "3.1"), ("b", "1.1"), ("c", "3.2"), ("d", "3.3")]
    assert numbered.label("x_1") == "x 1" and numbered.labels == {}
    # numbers written in the file are kept, in any order; a label says what a value is
    given = _ledger(tmp_path, _row("a", number="3.7") + _row("c", number="3.2"), 'x_1 = "the size $x_1$"')
    assert [e.number for e in given.rows()] == ["3.7", "3.2"] and given.label("x_1") == "the size $x_1$"
    assert ledger.anchor(given.claims[0]) == "claim-a"


def test_a_reason_for_not_applicable_says_the_label_not_the_name(tmp_path):
    rows = _row(check='{ value = "x_1", le = 1 }') + 'hypotheses=[{ value = "floor_x", le = 1e-10 }]\n'
    book = _ledger(tmp_path, rows, 'x_1 = "the size"\nfloor_x = "the least loss"')
    (row,) = ledger.evaluate(book, {"03-c": {"x_1": 0.5, "floor_x": 0.25}})
    assert row.verdict == "not applicable" and "floor_x" not in row.reason
    assert row.reason == "outside the claim's hypotheses: the least loss: the least loss = 0.25, not ≤ 1e-10"
