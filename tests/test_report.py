"""The reproduction report's rendering (deeplinear_book.report): headline, verdict summary, claims table, findings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deeplinear_book import ledger, report

ROOT = Path(__file__).resolve().parents[1]
LEDGER_TOML = r"""
[[claim]]
id = "c1"
paper = "RNBU"
kind = "claim"
statement = "Adjacent alignment: $\\lvert v_{i+1}^\\top u_i\\rvert \\to 1$, see c2"
chapter = "01-a"
section = "sec-01-a"
checks = [{ value = "loss_final", lt = "loss_initial" }, { value = "ok", is = true }]
calibration = "an argument"

[[claim]]
id = "c2"
paper = "JT"
kind = "claim"
statement = "Norm growth: every $\\lVert W_i\\rVert_F$ grows"
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
quote = "$\\prod_{j=1}^d \\Sigma_j$ with 1e-3"
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
    """The list-tables' rows (each ``* - ...`` item with its cells), the first table's header row first (a
    table per chapter: the other tables' headers are left out)."""
    rows = []
    for i, part in enumerate(table.split(":::{list-table}")[1:]):
        body = part.split("\n:::", 1)[0]
        rows += ["* - " + row for row in re.split(r"^\* - ", body, flags=re.MULTILINE)[1 + (i > 0) :]]
    return rows


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
    # The math of a statement is kept for MathJax; another row's id reads as its number, linked to the row.
    assert r"Adjacent alignment: $\lvert v_{i+1}^\top u_i\rvert \to 1$, see {ref}`2.1 <claim-c2>`" in c1
    # Each row has its number, linked to its own anchor, and the anchor, made from its id.
    assert c1.startswith("* - (claim-c1)=\n    **{ref}`1.1 <claim-c1>`** *RNBU*")
    # A threshold that names a glued value shows that value (and the name, in words), in each run.
    assert "loss final = 0.00183 \\< 0.0123 (loss initial)" in c1
    assert "ok: yes" in c1 and "True" not in c1
    # c1 has no paper experiment: its paper column says so, and nothing else.
    assert c1.split("\n  - ")[2].strip() == "*no paper experiment*" and "0.5" not in c1
    assert "*Caveat:* slowly" in c2 and "*paper setting:* Figure 9 (Section 6): 9 x 9 standard normal data" in c2
    assert "growth = 1.5 > 2 (smallest factor) ✗" in c2
    # Each section is linked under its chapter number and title, the title's math kept for MathJax.
    assert r"Tested in [Chapter 1: Alignment with $\mathrm{lr}^2$](#sec-01-a)" in c1
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
    assert r"“$\prod_{j=1}^d \Sigma_j$ with 10⁻³”" in text  # math as written, numbers for a reader
    assert "- (finding-f1)=\n  **{ref}`2.2 <finding-f1>`** {bdg-warning}`paper erratum`" in text


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
        ("a_b = 0.5 < 1", r"a\_b = 0.5 \< 1"),  # markup escaped in prose
        ("`x_1e-3` and $x_{1e-3} | y$", "`x_1e-3` and $x_{1e-3} | y$"),  # code and math as written
        ("the script (uhlerlab/alignment)", "the script ([uhlerlab/alignment](https://github.com/uhlerlab/alignment))"),
    ],
)
def test_ledger_text_reads_as_prose_with_its_math_and_code_as_written(text, shown):
    assert report._text(text) == shown


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
    assert c2.startswith("| **{ref}`2.1 <claim-c2>`** *JT* Norm growth") and "growth = 3.5 > 2 (smallest factor)" in c2
    assert c2.endswith("| confirmed with a caveat: slowly |")
    assert f1.startswith("| **{ref}`2.2 <finding-f1>`** A product index (RNBU, eq. (6))") and f1.endswith(
        "| paper erratum |"
    )
    outside = report.chapter_summary(r.ledger, "02-b", {"growth": 3.5, "ok2": False, "floor": 0.25})
    assert "floor = 0.25 ≤ 10⁻¹⁰ (the data can be interpolated) ✗" in outside
    assert "| not applicable: outside the claim's hypotheses" in outside
    exact = report.chapter_summary(
        r.ledger, "01-a", {"loss_final": 0.001, "loss_initial": 0.01, "ok": True, "error": 0.0}
    )
    assert "error = 0 (exactly) ≤ 10⁻¹²" in exact  # an exact zero reads as such, which nbval masks
    assert exact.index("Adjacent alignment") < exact.index("An identity")  # claims before checks
    with pytest.raises(ValueError, match="no rows in the ledger"):
        report.chapter_summary(r.ledger, "99-x", {})


def test_environment_says_not_installed_for_a_missing_package(tmp_path, monkeypatch):
    """Binder's runtime set has no test tooling: the report's environment table names it, not a traceback."""
    monkeypatch.setattr(report, "PACKAGES", ("numpy", "no-such-package-deeplinear"))
    text = report.environment([])
    assert "| no-such-package-deeplinear | not installed |" in text
    assert "| numpy | not installed |" not in text


def _book_report() -> report.Report:
    return report.build(ROOT / "book", ROOT / "book" / "presets" / "claims-paper.json", ROOT / "book" / "ledger.toml")


def _targets(markdown: str) -> list[str]:
    """The MyST targets ``(name)=`` that a rendered text defines, in order."""
    return re.findall(r"\(([\w-]+)\)=$", markdown, flags=re.MULTILINE)


def _refs(markdown: str) -> list[str]:
    """The targets that a rendered text links to with ``{ref}`text <target>```."""
    return re.findall(r"\{ref\}`[^`<]*<([\w-]+)>`", markdown)


def test_every_ledger_row_has_one_anchor_made_from_its_id_and_a_number_linked_to_it():
    r = _book_report()
    page = "\n".join([report.claims_table(r), report.claims_table(r, kind="check"), report.findings_list(r)])
    rows = r.ledger.rows()
    expected = [("claim-" if isinstance(e, ledger.Claim) else "finding-") + e.id for e in rows]
    assert [ledger.anchor(e) for e in rows] == expected and len(set(expected)) == len(rows) == 85
    targets = [t for t in _targets(page) if not t.startswith("ledger-")]
    assert sorted(targets) == sorted(expected)  # one anchor per row, none twice
    for e in rows:  # each row shows its number, linked to its own anchor
        assert f"**{{ref}}`{e.number} <{ledger.anchor(e)}>`**" in page, e.id
    # the groups: one per chapter and kind, each defined once, and the table of contents links each row once
    groups = [t for t in _targets(page) if t.startswith("ledger-")]
    assert len(groups) == len(set(groups)) and report.group_anchor("03-invariance-theorem") in groups
    contents = report.contents(r)
    assert sorted(_refs(contents)) == sorted(expected)
    assert all(f"(#{g})" in contents or not g.startswith("ledger-claims") for g in groups)
    assert len(contents.splitlines()) == 2 + len(r.ledger.chapters())


def test_row_numbers_are_written_in_the_ledger_file_unique_and_by_chapter():
    """A row's number is its chapter's and a place in it, written beside its id in book/ledger.toml (so that
    reordering or inserting rows changes no number), never given twice."""
    import tomllib

    raw = tomllib.loads((ROOT / "book" / "ledger.toml").read_text(encoding="utf-8"))
    entries = raw["claim"] + raw["finding"]
    assert all("number" in e for e in entries), [e["id"] for e in entries if "number" not in e]
    numbers = [e["number"] for e in entries]
    assert len(set(numbers)) == len(numbers)
    for e in entries:
        chapter, place = e["number"].split(".")
        assert int(chapter) == int(e["chapter"][:2]) and int(place) >= 1, e["id"]
    loaded = {e.id: e.number for e in ledger.load(ROOT / "book" / "ledger.toml").rows()}
    assert loaded == {e["id"]: e["number"] for e in entries}


def test_no_criterion_shows_the_name_of_a_glued_value():
    """Criteria read in words: the label of each value, never its name ("thm1 loss orders factorization")."""
    r = _book_report()
    shown = [report.claims_table(r), report.claims_table(r, kind="check"), report.findings_list(r)]
    shown += [report.chapter_summary(r.ledger, chapter, values) for chapter, values in r.values.items()]
    text = re.sub(r"`[^`]*`", "", "\n".join(shown).replace("\\_", "_"))  # code (a parameter's name) apart
    names = {c.value for e in r.ledger.rows() for c in (*e.checks, *e.hypotheses)}
    names |= {c.threshold for e in r.ledger.rows() for c in e.checks if isinstance(c.threshold, str)}
    assert len(names) > 200
    for name in sorted(names):
        assert name not in text, name
        if "_" in name:
            assert name.replace("_", " ") not in text, name
    assert "thm1 loss orders factorization" not in text and "orders of magnitude the loss falls = " in text


def test_each_chapters_summary_links_its_rows_to_their_anchors_in_the_report():
    r = _book_report()
    page = "\n".join([report.claims_table(r), report.claims_table(r, kind="check"), report.findings_list(r)])
    anchors = set(_targets(page))
    assert set(r.values) == set(r.ledger.chapters())
    for chapter, values in r.values.items():
        summary = report.chapter_summary(r.ledger, chapter, values)
        linked = _refs(summary)
        assert set(linked) <= anchors, set(linked) - anchors
        rows = [ledger.anchor(e) for e in r.ledger.for_chapter(chapter)]
        assert {f"| **{{ref}}`{e.number} <{ledger.anchor(e)}>`**" for e in r.ledger.for_chapter(chapter)} <= {
            line[: line.index("`** ") + 3] for line in summary.splitlines()[2:]
        }
        assert set(rows) <= set(linked), chapter


def _nbval_sanitize(text: str) -> str:
    """tests/nbval_sanitize.cfg applied by nbval's own reader of it."""
    from nbval.plugin import get_sanitize_patterns

    for regex, replace in get_sanitize_patterns((ROOT / "tests" / "nbval_sanitize.cfg").read_text()):
        text = re.sub(regex, replace, text)
    return text


def test_a_summary_reads_the_same_to_nbval_at_any_rounding_level_value(book):
    """The Summary writes values for a reader (2.2×10⁻¹⁶, 0 (exactly)); nbval's sanitizer masks the rounding-level
    ones in that form, as it did in e-notation, and compares every other value digit for digit."""
    r = _report(book)

    def shown(error: float) -> str:
        return report.chapter_summary(
            r.ledger, "01-a", {"loss_final": 0.001, "loss_initial": 0.01, "ok": True, "error": error}
        )

    runs = [shown(0.0), shown(2.2e-16), shown(-6.7e-14), shown(1.5e-300), shown(1e-13)]
    assert "0 (exactly)" in runs[0] and "2.2×10⁻¹⁶" in runs[1] and "10⁻¹³ ≤ 10⁻¹²" in runs[4]
    assert len({_nbval_sanitize(run) for run in runs}) == 1
    assert _nbval_sanitize(shown(3.1e-9)) != _nbval_sanitize(shown(3.2e-9))  # above rounding level: compared
    assert (
        _nbval_sanitize("0.00123 and 2.5×10⁻⁹ and 10⁻⁹ and 20 (exactly)")
        == "0.00123 and 2.5×10⁻⁹ and 10⁻⁹ and 20 (exactly)"
    )
