"""The reproduction report's rendering (deeplinear_book.report): headline, verdict summary, claims table, findings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deeplinear_book import ledger, report

ROOT = Path(__file__).resolve().parents[1]
LEDGER_TOML = """
[[claim]]
id = "c1"
paper = "RNBU"
kind = "claim"
statement = "Adjacent alignment: |v_{i+1}ᵀu_i| → 1"
chapter = "01-a"
section = "sec-01-a"
checks = [{ value = "loss_final", lt = "loss_initial" }, { value = "ok", is = true }]
calibration = "an argument"

[[claim]]
id = "c2"
paper = "JT"
kind = "claim"
statement = "Norm growth: every ‖W_i‖_F grows"
chapter = "02-b"
section = "sec-02-b"
caveat = "slowly"
hypotheses = [{ value = "floor", le = 1e-10, note = "the data can be interpolated" }]
checks = [{ value = "growth", gt = 2.0, note = "smallest factor" }]
calibration = "an argument"
paper_setting = "Figure 9 (Section 6): 9 x 9 standard normal data"

[[claim]]
id = "k1"
paper = "RNBU"
kind = "check"
statement = "An identity: a usSVD reconstructs its matrix"
chapter = "01-a"
section = "sec-01-a"
checks = [{ value = "error", le = 1e-12 }]

[[finding]]
id = "f1"
kind = "erratum"
title = "A product index"
source = "RNBU, eq. (6)"
quote = "∏_{j=1}^d Σ_j"
chapter = "02-b"
section = "sec-02-b"
text = "Printed, off by {growth}; the check holds ({ok2})."
"""


def _notebook(path: Path, values: dict, heading: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(heading)]
    cell = nbformat.v4.new_code_cell("")
    for name, value in values.items():
        cell.outputs.append(
            nbformat.v4.new_output(
                "display_data",
                data={"application/papermill.record/text/plain": repr(value)},
                metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}},
            )
        )
    nb.cells.append(cell)
    nbformat.write(nb, path)


BOOK = {
    "01-a": {"loss_final": 0.00183, "loss_initial": 0.0123, "ok": True, "error": 2e-15},
    "02-b": {"growth": 3.5, "ok2": False, "floor": 0.0},
}


@pytest.fixture
def book(tmp_path) -> Path:
    (tmp_path / "ledger.toml").write_text(LEDGER_TOML, encoding="utf-8")
    _notebook(tmp_path / "01-a.ipynb", BOOK["01-a"], "(sec-01-a)=\n## Alignment with $\\mathrm{lr}^2$")
    _notebook(tmp_path / "02-b.ipynb", BOOK["02-b"], "(sec-02-b)=\n## Norms")
    run = {
        "preset": "paper",
        "commit": "0123456789abcdef",
        "python": "3.11.7",
        "machine": "x86_64 Linux (2 cores)",
        "chapters": {
            "01-a": {"seconds": 60.0, "error": None, "values": {**BOOK["01-a"], "loss_final": 0.5}},
            "02-b": {"seconds": 120.0, "error": None, "values": {"growth": 1.5, "floor": 0.0}},
        },
    }
    (tmp_path / "claims.json").write_text(json.dumps(run))
    return tmp_path


def _report(book: Path, paper: str = "claims.json") -> report.Report:
    return report.build(book, book / paper if paper else "", book / "ledger.toml")


def _rows(table: str) -> list[str]:
    """The list-table's rows (each ``* - ...`` item with its cells), the header row first."""
    body = table.split(":::{list-table}")[1].rsplit(":::", 1)[0]
    return ["* - " + row for row in re.split(r"^\* - ", body, flags=re.MULTILINE)[1:]]


def test_the_parameters_are_checked_naming_the_one_at_fault(book):
    with pytest.raises(ValueError, match="book_dir"):
        report.build(book / "nowhere", "", book / "ledger.toml")
    with pytest.raises(ValueError, match="paper_claims"):
        report.build(book, book / "none.json", book / "ledger.toml")
    with pytest.raises(ValueError, match="ledger_file"):
        report.build(book, "", book / "none.toml")


def test_every_verdict_has_its_own_badge_and_meaning():
    assert set(report.VERDICT_BADGES) == set(ledger.VERDICTS) == set(report.VERDICT_MEANINGS)
    assert len(set(report.VERDICT_BADGES.values())) == len(ledger.VERDICTS)
    assert report.badge("not run") == "{bdg-muted-line}`not run`"
    with pytest.raises(ValueError, match="verdict must be one of"):
        report.badge("fine")


def test_the_headline_counts_claims_at_each_setting(book):
    numbers = report.headline(_report(book))
    # Book run: c1 confirmed, c2 confirmed with a caveat. Paper run: c1 fails (0.5 > 0.0123, but c1 has no paper
    # experiment, so it is not counted there) and c2 (a paper setting) fails: 1.5 < 2.
    # The check k1 is counted apart from the claims.
    assert numbers == {
        "report_claims": 2,
        "report_confirmed": 2,
        "report_caveats": 1,
        "report_not_applicable": 0,
        "report_paper_claims": 1,
        "report_paper_confirmed": 0,
        "report_paper_not_run": 0,
        "report_checks": 1,
        "report_checks_verified": 1,
        "report_errata": 1,
    }


def test_a_run_outside_a_claims_hypotheses_is_not_applicable_and_says_why(book):
    _notebook(book / "02-b.ipynb", {"growth": 0.5, "ok2": False, "floor": 0.567}, "(sec-02-b)=\n## Norms")
    r = _report(book)
    assert report.headline(r)["report_not_applicable"] == 1 and report.headline(r)["report_confirmed"] == 1
    _, _, c2 = _rows(report.claims_table(r))
    assert "{bdg-secondary-line}`not applicable`" in c2
    assert "floor = 0.567 ≤ 10⁻¹⁰ (the data can be interpolated) ✗" in c2
    assert "outside the claim's hypotheses" in c2 and "growth" not in c2.split("\n  - ")[1]


def test_the_verdict_summary_counts_each_verdict_in_each_run(book):
    rows = _rows(report.verdict_summary(_report(book)))
    assert len(rows) == 1 + len(ledger.VERDICTS)
    counts = {}
    for row in rows[1:]:
        cells = [c.strip() for c in re.split(r"^\s*\*? ?- ", row, flags=re.MULTILINE) if c.strip()]
        verdict = re.search(r"`(.+)`", cells[0])[1]
        assert cells[0].endswith(report.VERDICT_MEANINGS[verdict])
        counts[verdict] = cells[1:]
    assert counts["confirmed"] == ["1", "–"]
    assert counts["confirmed with a caveat"] == ["1", "–"]
    assert counts["verified"] == ["1", "–"]  # the paper column counts the rows with a paper experiment
    assert counts["paper erratum"] == ["1", "–"]  # a finding without checks keeps its kind
    assert counts["not reproduced"] == ["–", "1"]
    assert counts["not run"] == ["–", "–"]
    none = _rows(report.verdict_summary(_report(book, paper="")))
    assert all(row.rstrip().endswith("- no run") for row in none[1:])


def test_a_chapter_missing_from_the_run_is_not_run(book):
    run = json.loads((book / "claims.json").read_text())
    run["chapters"]["02-b"]["error"] = "it failed"
    (book / "claims.json").write_text(json.dumps(run))
    r = _report(book)
    assert [row.verdict for row in r.paper] == ["not reproduced", "not run", "verified", "not run"]
    assert r.paper[1].reason == "02-b: it failed"
    assert report.headline(r)["report_paper_not_run"] == 1
    assert "Chapters that failed: 02-b: it failed" in report.run_note(r)


def test_the_claims_table_puts_both_runs_side_by_side_with_criteria_as_values(book):
    table = report.claims_table(_report(book))
    header, c1, c2 = _rows(table)
    assert "Book run" in header and "Paper run" in header
    # The `|` of a statement is escaped, so that it cannot split a cell; so are `_` and `*`.
    assert r"Adjacent alignment: \|v\_{i+1}ᵀu\_i\| → 1" in c1
    # A threshold that names a glued value shows that value (and the name, in words), in each run.
    assert "loss final = 0.00183 \\< 0.0123 (loss initial)" in c1
    assert "ok: yes" in c1 and "True" not in c1
    # c1 has no paper experiment: its paper column says so, and nothing else.
    assert c1.split("\n  - ")[2].strip() == "*no paper experiment*" and "0.5" not in c1
    assert "*Caveat:* slowly" in c2 and "*paper setting:* Figure 9 (Section 6): 9 x 9 standard normal data" in c2
    assert "growth = 1.5 > 2 (smallest factor) ✗" in c2
    # Each section is linked under its chapter number and title, the title's math kept for MathJax.
    assert r"Tested in [01 · Alignment with $\mathrm{lr}^2$](#sec-01-a)" in c1
    assert table.count("{bdg-") == 3 and "<style>" in table
    assert "identity" not in table  # the check has its own table
    (header, k1) = _rows(report.claims_table(_report(book), kind="check"))
    assert "Check" in header and "{bdg-info-line}`verified`" in k1 and "An identity" in k1


def test_a_row_at_a_paper_setting_shows_its_verdict_setting_and_values(book):
    run = json.loads((book / "claims.json").read_text())
    run["chapters"]["02-b"]["values"]["growth"] = 2.5
    (book / "claims.json").write_text(json.dumps(run))
    _, _, c2 = _rows(report.claims_table(_report(book)))
    paper_cell = c2.split("\n  - ")[2]
    assert paper_cell.startswith("{bdg-success-line}`confirmed with a caveat`") and "growth = 2.5 > 2" in paper_cell
    assert report.headline(_report(book))["report_paper_confirmed"] == 1


def test_findings_are_listed_once_by_kind_with_badges_and_words_for_booleans(book):
    text = report.findings_list(_report(book))
    assert text.startswith("**Errors in the papers' text**")
    assert text.count("A product index") == 1
    assert "{bdg-warning}`paper erratum`" in text
    assert "Printed, off by 3.5; the check holds (no)." in text
    assert r"“∏\_{j=1}^d Σ\_j”" in text


def test_the_run_note_names_the_commit_and_the_time(book):
    assert report.run_note(_report(book)).startswith("The paper-preset run is of commit `0123456789ab`")
    assert "3 minutes of chapter time in all (01 60 s, 02 2.0 min)." in report.run_note(_report(book))
    assert "No paper-preset run" in report.run_note(_report(book, paper=""))
    assert "uncommitted" not in report.run_note(_report(book))
    for commit in ("0123456789abcdef+0a1b2c3d4e5f", "0123456789abcdef+dirty"):  # code_version's mark, and the old one
        run = json.loads((book / "claims.json").read_text())
        (book / "claims.json").write_text(json.dumps(dict(run, commit=commit)))
        assert "of commit `0123456789ab` with uncommitted changes, " in report.run_note(_report(book))


def test_the_books_report_renders_every_claim_once_with_a_verdict():
    r = report.build(ROOT / "book", ROOT / "book" / "presets" / "claims-paper.json", ROOT / "book" / "ledger.toml")
    rows = _rows(report.claims_table(r))[1:] + _rows(report.claims_table(r, kind="check"))[1:]
    assert len(rows) == len(r.ledger.claims)
    for row in rows:
        cells = row.split("\n  - ")
        assert len(cells) == 3 and "{bdg-" in cells[1], row[:80]
        assert "{bdg-" in cells[2] or cells[2].strip() == "*no paper experiment*", row[:80]
    assert "_initial" not in report.claims_table(r)  # criteria show values, not the names of glued values


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("8.9e-15 ≤ 1e-12", "8.9×10⁻¹⁵ ≤ 10⁻¹²"),
        ("1 − 1e-9", "1 − 10⁻⁹"),
        ("2.5e+04", "2.5×10⁴"),
        ("fig1e_x = 0.5", "fig1e_x = 0.5"),  # a name is not a number
    ],
)
def test_e_notation_is_shown_as_powers_of_ten(text, shown):
    assert report._powers(text) == shown


def test_a_tiny_value_reads_as_a_power_of_ten_in_the_table(book):
    _notebook(book / "02-b.ipynb", {"growth": 3.5e-5, "ok2": False, "floor": 0.0}, "(sec-02-b)=\n## Norms")
    table = report.claims_table(_report(book))
    assert "growth = 3.5×10⁻⁵ > 2 (smallest factor) ✗" in table


def test_a_run_made_in_parts_names_each_part(book):
    run = json.loads((book / "claims.json").read_text())
    run["chapters"]["02-b"] |= {"commit": "fedcba9876543210", "finished": "2026-12-02 14:00 UTC"}
    (book / "claims.json").write_text(json.dumps(run))
    note = report.run_note(_report(book))
    assert note.startswith("The paper-preset run was made in parts: chapters 01 at commit `0123456789ab`")
    assert "chapters 02 at commit `fedcba987654` (2026-12-02 14:00 UTC)" in note


ROBUSTNESS_CSV = """chapter,claim,kind,draws,held,not_applicable,not_held
01-a,c1,claim,8,8,0,
02-b,c2,claim,8,5,1,seed=3; seed=5
"""


def test_robustness_reads_a_sweep_and_lists_every_claim_that_fails_at_some_draw(book):
    from deeplinear_book import robustness

    (book / "robustness.csv").write_text(ROBUSTNESS_CSV, encoding="utf-8")
    robust = robustness.load(book / "robustness.csv")
    assert robust["c2"] == robustness.Robustness("02-b", "c2", 8, 5, ("seed=3", "seed=5"), 1)
    assert robustness.held_text(robust, "c1") == "held at 8 of 8 seeds"
    assert robustness.held_text(robust, "c2", "parameter draws") == (
        "held at 5 of 7 parameter draws; 1 outside its hypotheses"
    )
    assert robustness.held_text(robust, "f1") == ""
    r = _report(book)
    listed = robustness.failures_markdown(r.ledger, robust)
    assert "`c2` (02-b)" in listed and "held at 5 of 7; not at seed=3, seed=5" in listed and "`c1`" not in listed
    assert "Not in the sweep (rows newer than it): `k1`, `f1`." in listed
    assert listed.startswith("Claims and findings that did not hold at every one of the 8 seeds of the sweep:")
    varied = robustness.failures_markdown(r.ledger, robust, draws_of="draws of the parameter sweep")
    assert varied.startswith("Claims and findings that did not hold at every one of the 8 draws of the parameter")
    only_c1 = {"c1": robust["c1"]}
    assert robustness.failures_markdown(r.ledger, only_c1).startswith(
        "Every claim and finding held at every one of the 8 seeds"
    )
    table = report.claims_table(r, robust)
    assert "*held at 8 of 8 seeds*" in table and "*held at 5 of 7 seeds; 1 outside its hypotheses*" in table
    both = report.claims_table(r, robust, robust)
    assert both.index("*held at 8 of 8 seeds*") < both.index("*held at 8 of 8 parameter draws*")
    assert "held at" not in report.claims_table(r)  # no sweep, no column text
    assert robustness.load("") == {} and "No sweep" in robustness.failures_markdown(r.ledger, {})
    assert robustness.failures is robustness.failures_markdown  # the committed report notebook's name for it
    with pytest.raises(ValueError, match="sweep_file must be"):
        robustness.load(book / "missing.csv")
    with pytest.raises(ValueError, match="vary_file must be"):
        robustness.load(book / "missing.csv", name="vary_file")
    (book / "bad.csv").write_text("chapter,claim\n01-a,c1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lacks the columns"):
        robustness.load(book / "bad.csv")


def test_a_chapter_that_failed_leaves_its_rows_not_run_and_the_rest_of_the_report_renders(book):
    """A make reproduce run keeps a failed chapter's notebook, with its error and the values glued before it: the
    report marks its rows "not run" with the error, and renders every other row as usual."""
    import nbformat

    path = book / "02-b.ipynb"
    nb = nbformat.read(path, 4)
    error = nbformat.v4.new_output("error", ename="MNISTUnavailable", evalue="no network", traceback=[])
    nb.cells.append(nbformat.v4.new_code_cell("", outputs=[error]))
    nbformat.write(nb, path)
    r = _report(book)
    rows = {row.entry.id: row for row in r.book}
    assert rows["c2"].verdict == rows["f1"].verdict == "not run"
    assert rows["c2"].reason == "02-b: stopped with MNISTUnavailable: no network"
    assert rows["c1"].verdict == "confirmed" and rows["k1"].verdict == "verified"
    table = report.claims_table(r)
    assert "{bdg-muted-line}`not run`" in table and "stopped with MNISTUnavailable: no network" in table
    findings = report.findings_list(r)
    assert "Printed, off by *(not run)*" in findings and "*Not run: 02-b: stopped with MNISTUnavailable" in findings
    assert report.headline(r)["report_confirmed"] == 1


def test_a_chapters_summary_is_its_ledger_rows_evaluated_on_the_run(book):
    """One story per claim: the Summary table is the ledger's rows of the chapter, verdicts and caveats included,
    on this run's values; a run outside a claim's hypotheses reads "not applicable" there too."""
    r = _report(book)
    table = report.chapter_summary(r.ledger, "02-b", {"growth": 3.5, "ok2": False, "floor": 0.0})
    header, rule, c2, f1 = table.splitlines()
    assert header == "| Claim | Measured | Verdict |" and rule.count("---") == 3
    assert c2.startswith("| *JT* Norm growth") and "growth = 3.5 > 2 (smallest factor)" in c2
    assert c2.endswith("| confirmed with a caveat: slowly |")
    assert f1.startswith("| A product index (RNBU, eq. (6))") and f1.endswith("| paper erratum |")
    outside = report.chapter_summary(r.ledger, "02-b", {"growth": 3.5, "ok2": False, "floor": 0.25})
    assert "floor = 0.25 ≤ 1e-12" not in outside and "floor = 0.25 ≤ 1e-10 (the data can be interpolated) ✗" in outside
    assert "| not applicable: outside the claim's hypotheses" in outside
    exact = report.chapter_summary(
        r.ledger, "01-a", {"loss_final": 0.001, "loss_initial": 0.01, "ok": True, "error": 0.0}
    )
    assert "error = 0.0e+00 ≤ 1e-12" in exact  # an exact zero reads as rounding level, which nbval masks
    assert exact.index("Adjacent alignment") < exact.index("An identity")  # claims before checks
    with pytest.raises(ValueError, match="no rows in the ledger"):
        report.chapter_summary(r.ledger, "99-x", {})


def test_environment_says_not_installed_for_a_missing_package(tmp_path, monkeypatch):
    """Binder's runtime set has no test tooling: the report's environment table names it, not a traceback."""
    monkeypatch.setattr(report, "PACKAGES", ("numpy", "no-such-package-deeplinear"))
    text = report.environment([])
    assert "| no-such-package-deeplinear | not installed |" in text
    assert "| numpy | not installed |" not in text
