"""The reproduction report's tables, from the ledger (`deeplinear_book.ledger`) and the chapters' glued values.

The report notebook calls these and displays their Markdown; the functions check their inputs and name
what is wrong (a missing chapter folder, a claims.json of another preset).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .book import glued_values
from .ledger import _OPS, Check, Claim, Finding, Ledger, Row, _threshold_text, anchor, evaluate, load, render_finding
from .numbers import reader, reader_text

__all__ = [
    "VERDICT_BADGES",
    "VERDICT_MEANINGS",
    "Report",
    "build",
    "chapter_values",
    "chapter_errors",
    "paper_run",
    "ledger_file",
    "section_titles",
    "badge",
    "headline",
    "verdict_summary",
    "claims_table",
    "contents",
    "group_anchor",
    "chapter_titles",
    "EXACT_ZERO",
    "run_note",
    "chapter_summary",
    "findings_list",
    "environment",
]

# The book's one verdict vocabulary (deeplinear_book.ledger.VERDICTS), each with its badge (a sphinx-design role)
# and what it means; the report's summary table shows both, so it is the legend of every badge.
VERDICT_BADGES = {
    "confirmed": "bdg-success",
    "confirmed with a caveat": "bdg-success-line",
    "verified": "bdg-info-line",
    "not applicable": "bdg-secondary-line",
    "not reproduced": "bdg-danger",
    "paper erratum": "bdg-warning",
    "code discrepancy": "bdg-warning-line",
    "beyond the papers": "bdg-primary",
    "the book's deviation": "bdg-primary-line",
    "not run": "bdg-muted-line",
}
VERDICT_MEANINGS = {
    "confirmed": "every criterion of the claim holds",
    "confirmed with a caveat": "every criterion holds, and the row says what the evidence does not show",
    "verified": "a check of the algebra (an identity, a definition or a construction) holds; no evidence for or "
    "against the papers' claims",
    "not applicable": "the run is outside the claim's hypotheses (the row says which); nothing for or against it",
    "not reproduced": "a criterion fails (for a finding: its numbers no longer show it)",
    "paper erratum": "an error in a paper's text",
    "code discrepancy": "the authors' released code does otherwise than the paper says",
    "beyond the papers": "a result the book adds, such as a sharper form of a sufficient condition",
    "the book's deviation": "a choice of the book that differs from the papers' setting",
    "not run": "the run lacks the chapter, or predates the row (the row says why)",
}

# The claims table at most widths; below 640 px each claim is a card, its runs labelled (no header row).
_STYLE = """<style>
table.ledger-table, table.verdict-summary { width: 100%; table-layout: fixed; }
table.ledger-table td, table.verdict-summary td {
  vertical-align: top; overflow-wrap: break-word;
}
table.ledger-table td p { margin: 0 0 0.3em 0; }
table.ledger-table td + td { font-size: 0.9em; }
table.ledger-table .sd-badge, table.verdict-summary .sd-badge { white-space: normal; text-align: left; }
@media (max-width: 640px) {
  table.ledger-table, table.ledger-table tbody, table.ledger-table tr, table.ledger-table td { display: block; }
  table.ledger-table thead, table.ledger-table colgroup { display: none; }
  table.ledger-table tr { padding: 0.5em 0; border-top: 2px solid var(--pst-color-border, #ccc); }
  table.ledger-table td { border: none; padding: 0.15em 0.25em; }
  table.ledger-table td:nth-child(2)::before { content: "Book run"; font-weight: 600; display: block; }
  table.ledger-table td:nth-child(3)::before { content: "Paper run"; font-weight: 600; display: block; }
}
</style>"""


def chapter_values(book_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Chapter stem -> glued values, for the executed chapters ``0*.ipynb`` in ``book_dir`` that ran to the end
    (a chapter that stopped with an error is left out: `chapter_errors` says why).

    Parameters
    ----------
    book_dir : str or Path
        Folder of the chapters (default: book/ of the repository).

    Returns
    -------
    dict
        Chapter stem -> glued name -> value.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    errors = chapter_errors(book_dir)
    return {p.stem: glued_values(p) for p in sorted(Path(book_dir).glob("0*.ipynb")) if p.stem not in errors}


def chapter_errors(book_dir: str | Path) -> dict[str, str]:
    """Chapter stem -> the error a chapter in ``book_dir`` stopped with (papermill keeps a failed chapter's
    notebook, with its error output), for the chapters that failed.

    Parameters
    ----------
    book_dir : str or Path
        Folder of the chapters (default: book/ of the repository).

    Returns
    -------
    dict
        Chapter stem -> error.

    Raises
    ------
    ValueError
        If ``book_dir`` is not valid (the message names the parameter).
    """
    if not isinstance(book_dir, (str, Path)) or not Path(book_dir).is_dir():
        raise ValueError(f"book_dir must be an existing folder holding the chapters, got {book_dir!r}")
    paths = sorted(Path(book_dir).glob("0*.ipynb"))
    if not paths:
        raise ValueError(f"book_dir must hold the executed chapters (0*.ipynb), none in {str(book_dir)!r}")
    errors = {}
    for path in paths:
        for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
            failed = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if failed:
                errors[path.stem] = f"stopped with {failed[0].get('ename')}: {failed[0].get('evalue')}"[:500]
                break
    return errors


def paper_run(path: str | Path) -> dict[str, Any] | None:
    """The ``claims.json`` of a ``make reproduce PRESET=paper`` run, checked; None for ``""``.

    Parameters
    ----------
    path : str or Path
        Path of the file.

    Returns
    -------
    dict or None
        The ``claims.json`` of a ``make reproduce PRESET=paper`` run, checked; None for ``""``.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    if not isinstance(path, (str, Path)) or (path and not Path(path).is_file()):
        raise ValueError(f'paper_claims must be "" or an existing claims.json file, got {path!r}')
    if not path:
        return None
    run = json.loads(Path(path).read_text())
    if not isinstance(run, dict) or run.get("preset") != "paper" or not isinstance(run.get("chapters"), dict):
        raise ValueError(f"paper_claims must be the claims.json of a run with PRESET paper, got {path!r}")
    return run


def ledger_file(path: str | Path) -> Ledger:
    """The claims ledger at ``path`` (the report's ``ledger_file`` parameter), loaded and checked.

    Parameters
    ----------
    path : str or Path
        Path of the file.

    Returns
    -------
    Ledger
        The claims ledger at ``path`` (the report's ``ledger_file`` parameter), loaded and checked.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        raise ValueError(f"ledger_file must be an existing ledger file (book/ledger.toml), got {path!r}")
    return load(path)


_LABELLED_HEADING = re.compile(r"^\((sec-[\w-]+)\)=\s*\n#+\s+(.+)$", re.MULTILINE)


def section_titles(book_dir: str | Path) -> dict[str, str]:
    """Section label -> link text (``Chapter 1: The unsorted, signed SVD``) for the labelled headings of the
    chapters ``0*.ipynb`` in ``book_dir``; a title's ``$math$`` is kept, for MathJax to typeset.

    Parameters
    ----------
    book_dir : str or Path
        Folder of the chapters (default: book/ of the repository).

    Returns
    -------
    dict
        Section label -> link text.
    """
    import nbformat

    titles = {}
    for path in sorted(Path(book_dir).glob("0*.ipynb")):
        for cell in nbformat.read(path, 4).cells:
            if cell.cell_type == "markdown":
                titles |= {
                    m[1]: f"Chapter {int(path.stem[:2])}: {m[2].strip()}"
                    for m in _LABELLED_HEADING.finditer(cell.source)
                }
    return titles


_TITLE = re.compile(r"^#\s+(.+)$", re.MULTILINE)


def chapter_titles(book_dir: str | Path) -> dict[str, str]:
    """Chapter stem -> its number and title (``Chapter 3: The invariance theorem``), from the first level-one heading of
    each chapter ``0*.ipynb`` in ``book_dir``.

    Parameters
    ----------
    book_dir : str or Path
        Folder of the chapters (default: book/ of the repository).

    Returns
    -------
    dict
        Chapter stem -> number and title.
    """
    import nbformat

    titles = {}
    for path in sorted(Path(book_dir).glob("0*.ipynb")):
        for cell in nbformat.read(path, 4).cells:
            heading = _TITLE.search(cell.source) if cell.cell_type == "markdown" else None
            if heading:
                titles[path.stem] = f"Chapter {int(path.stem[:2])}: {heading[1].strip()}"
                break
    return titles


@dataclass(frozen=True)
class Report:
    """What the report shows: the ``ledger`` evaluated on the committed chapters' ``values`` (``book``) and
    on a paper-preset ``run`` (``paper``, empty without one), the chapters' section ``titles`` and the chapters'
    own titles (``chapters``, stem -> ``Chapter 3: The invariance theorem``).

    Attributes
    ----------
    ledger : Ledger
        The claims ledger.
    book : list of Row
        Its rows evaluated at the book's settings.
    paper : list of Row
        Its rows evaluated on the paper-preset run (empty without one).
    run : dict or None
        The paper-preset run's ``claims.json`` (None without one).
    titles : dict
        Section label -> link text.
    values : dict
        Chapter stem -> glued values.
    chapters : dict
        Chapter stem -> its number and title.
    """

    ledger: Ledger
    book: list[Row]
    paper: list[Row]
    run: dict[str, Any] | None
    titles: dict[str, str]
    values: dict[str, dict[str, Any]]
    chapters: dict[str, str] = field(default_factory=dict)


def build(book_dir: str | Path, paper_claims: str | Path, ledger_path: str | Path) -> Report:
    """The report's parameters checked (ValueError naming the one at fault) and the ledger evaluated.

    Parameters
    ----------
    book_dir : str or Path
        Folder of the chapters (default: book/ of the repository).
    paper_claims : str or Path
        The paper-preset run's ``claims.json``.
    ledger_path : str or Path
        The claims ledger.

    Returns
    -------
    Report
        The report's parameters checked (ValueError naming the one at fault) and the ledger evaluated.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    values, run, ledger = chapter_values(book_dir), paper_run(paper_claims), ledger_file(ledger_path)
    failed = chapter_errors(book_dir)
    ran = {} if run is None else {n: e["values"] for n, e in run["chapters"].items() if not e.get("error")}
    errors = {} if run is None else {n: e["error"] for n, e in run["chapters"].items() if e.get("error")}
    paper = evaluate(ledger, ran, errors) if run is not None else []
    book = evaluate(ledger, values, failed)
    return Report(ledger, book, paper, run, section_titles(book_dir), values, chapter_titles(book_dir))


def badge(verdict: str) -> str:
    """A verdict as its badge, e.g. ``{bdg-success}`confirmed```.

    Parameters
    ----------
    verdict : str
        A verdict of the book's vocabulary.

    Returns
    -------
    str
        A verdict as its badge, e.g. ``{bdg-success}`confirmed```.

    Raises
    ------
    ValueError
        If ``verdict`` is not valid (the message names the parameter).

    Examples
    --------
    >>> from deeplinear_book.report import badge
    >>> badge("confirmed")
    '{bdg-success}`confirmed`'
    """
    if verdict not in VERDICT_BADGES:
        raise ValueError(f"verdict must be one of {tuple(VERDICT_BADGES)}, got {verdict!r}")
    return f"{{{VERDICT_BADGES[verdict]}}}`{verdict}`"


def _claims(rows: list[Row], kind: str = "claim") -> list[Row]:
    """The rows of the ledger's claims (``kind`` "claim") or of its checks of the algebra ("check")."""
    return [r for r in rows if isinstance(r.entry, Claim) and r.entry.kind == kind]


def headline(report: Report) -> dict[str, int]:
    """The headline's numbers, glued by the report under these names: the ledger's claims (checks of the
    algebra apart) and those confirmed at the book's settings (with a caveat or not) or outside their
    hypotheses there, the claims with a paper experiment (``paper_setting``: a paper or a released script gives
    its settings, and the paper preset uses them) and those confirmed or not run there, the checks of the
    algebra and those verified, and the findings.

    Parameters
    ----------
    report : Report
        The report (`build`).

    Returns
    -------
    dict
        Glue name -> count.
    """
    book, paper = _claims(report.book), _claims(report.paper)
    own = [r for r in paper if r.entry.paper_setting]
    checks = _claims(report.book, "check")
    return {
        "report_claims": len(book),
        "report_confirmed": sum(r.verdict.startswith("confirmed") for r in book),
        "report_caveats": sum(r.verdict == "confirmed with a caveat" for r in book),
        "report_not_applicable": sum(r.verdict == "not applicable" for r in book),
        "report_paper_claims": len(own),
        "report_paper_confirmed": sum(r.verdict.startswith("confirmed") for r in own),
        "report_paper_not_run": sum(r.verdict == "not run" for r in own),
        "report_checks": len(checks),
        "report_checks_verified": sum(r.verdict == "verified" for r in checks),
        "report_errata": len(report.ledger.findings),
    }


def verdict_summary(report: Report) -> str:
    """A table with one row per verdict of the vocabulary: its badge and meaning, and how many claims, checks
    and findings have it at the book's settings, and how many claims with a paper experiment have it in the
    paper-preset run.

    Parameters
    ----------
    report : Report
        The report (`build`).

    Returns
    -------
    str
        Markdown.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    lines = [_STYLE, "", ":::{list-table}", ":header-rows: 1", ":class: verdict-summary", ":widths: 58 21 21"]
    lines += ["", "* - Verdict", "  - Book run", "  - Paper run"]
    at_paper = [r for r in report.paper if getattr(r.entry, "paper_setting", "")]
    for verdict, meaning in VERDICT_MEANINGS.items():
        counts = [sum(r.verdict == verdict for r in rows) for rows in (report.book, at_paper)]
        shown = [str(n) if n else "–" for n in counts]
        if report.run is None:
            shown[1] = "no run"
        lines += [f"* - {badge(verdict)} {meaning}", f"  - {shown[0]}", f"  - {shown[1]}"]
    return "\n".join([*lines, ":::"])


# The value a ledger row shows for a float that came out exactly 0: rounding level, which another machine
# computes as 2×10⁻¹⁶ (nbval's sanitizer masks both forms, tests/nbval_sanitize.cfg).
EXACT_ZERO = "0 (exactly)"
# Code, math and Markdown links in ledger text, shown as written; the rest is prose.
_VERBATIM = re.compile(r"(`[^`]*`|\$[^$]+\$)")
_MARKUP = re.compile(r"[*_|<\\$]")
# The authors' released scripts, cited by their public repository.
_RELEASED = ("uhlerlab/alignment", "https://github.com/uhlerlab/alignment")


def _refs(rows: Mapping[str, Claim | Finding] | None) -> re.Pattern | None:
    if not rows:
        return None
    ids = sorted(rows, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, ids)) + r")(?![\w-])")


def _row_ref(entry: Claim | Finding) -> str:
    """The row's number as a link to its anchor in the reproduction report: ``{ref}`3.2 <claim-theorem-1-if>```."""
    return f"{{ref}}`{entry.number} <{anchor(entry)}>`"


def _text(s: str, rows: Mapping[str, Claim | Finding] | None = None, markdown: bool = False) -> str:
    """Ledger text as Markdown for a reader: code and ``$math$`` kept as written; in the prose, numbers as
    `deeplinear_book.numbers.reader_text` writes them, ``*``, ``_``, ``|``, ``<``, ``\\`` and ``$`` escaped, the
    released scripts' repository linked and, given the ledger's ``rows`` (id -> row), a row's id as its number,
    linked to the row. With ``markdown``, the prose is Markdown already (a finding's text): nothing is escaped."""
    refs = _refs(rows)
    out = []
    for i, part in enumerate(_VERBATIM.split(s)):
        if i % 2:
            out.append(part)
            continue
        part = reader_text(part) if markdown else _MARKUP.sub(lambda m: "\\" + m[0], reader_text(part))
        part = part.replace(_RELEASED[0], f"[{_RELEASED[0]}]({_RELEASED[1]})")
        out.append(refs.sub(lambda m: _row_ref(rows[m[1]]), part) if refs else part)
    return "".join(out)


def _shown(value: Any) -> str:
    """A value as a reader sees it (`deeplinear_book.numbers.reader`): yes or no for a boolean, three significant
    digits and powers of ten for a number, and a float that came out exactly 0 as `EXACT_ZERO`."""
    if value == "(not run)":
        return "*(not run)*"
    if isinstance(value, float) and value == 0.0:
        return EXACT_ZERO
    return reader(value)


def _criterion(check: Check, values: Mapping[str, Any], ledger: Ledger, rows: Mapping | None) -> str:
    """``≤ 10⁻¹²``, ``in [0.9, 1.1]`` or ``< 0.0123 (the loss at the start)``: the criterion as a reader reads
    it, a threshold that names a glued value as that value and its label, then the check's note."""
    symbol = _OPS[check.op][0]
    notes = [check.note] if check.note else []
    if check.op == "between":
        text = f"in [{reader(check.threshold[0])}, {reader(check.threshold[1])}]"
    elif isinstance(check.threshold, str):
        threshold = values.get(check.threshold, "(not run)")
        text = f"{_text(symbol)} {_shown(threshold)}"
        notes.insert(0, ledger.label(check.threshold))
    else:
        text = f"{_text(symbol)} {_text(_threshold_text(check.threshold))}"
    return text + (f" ({'; '.join(_text(n, rows) for n in notes)})" if notes else "")


def _check_line(
    check: Check, value: Any, held: bool, values: Mapping[str, Any], ledger: Ledger, rows: Mapping | None = None
) -> str:
    """One check as a reader reads it: what the value is (its label), its value and the criterion, ✗ if failed."""
    name = _text(ledger.label(check.value), rows)
    if check.op == "is":
        return f"{name}: {_shown(value)}" + ("" if held else f" ✗ (should be {_shown(check.threshold)})")
    return f"{name} = {_shown(value)} {_criterion(check, values, ledger, rows)}" + ("" if held else " ✗")


def _rows_by_id(ledger: Ledger) -> dict[str, Claim | Finding]:
    return {e.id: e for e in ledger.rows()}


def _run_cell(row: Row, values: Mapping[str, Any], ledger: Ledger) -> list[str]:
    lines = [badge(row.verdict)]
    checks = row.entry.hypotheses if row.verdict == "not applicable" else row.entry.checks
    rows = _rows_by_id(ledger)
    for check, (_, value, _, held) in zip(checks, row.measured, strict=False):
        lines.append(_check_line(check, value, held, values, ledger, rows))
    if row.reason:
        lines.append(f"*{_text(row.reason, rows)}*")
    return lines


def _link(report: Report, label: str) -> str:
    return f"[{report.titles.get(label, label)}](#{label})" if label in report.titles else f"{{ref}}`{label}`"


def _cell(first: str, lines: list[str]) -> list[str]:
    """A list-table cell: its paragraphs, one per line, indented under the item."""
    out = [f"{first} {lines[0]}"]
    for line in lines[1:]:
        out += ["", f"    {line}"]
    return out


def group_anchor(chapter: str, kind: str = "claim") -> str:
    """The anchor of a chapter's group of rows in the report's ledger: ``ledger-claims-03-invariance-theorem``
    (``kind`` "claim"), ``ledger-checks-...`` ("check").

    Parameters
    ----------
    chapter : str
        Chapter stem or number, e.g. "03" or "03-invariance-theorem".
    kind : str, optional
        "claim" or "check".

    Returns
    -------
    str
        The anchor.

    Examples
    --------
    >>> from deeplinear_book.report import group_anchor
    >>> group_anchor("03-invariance-theorem"), group_anchor("03-invariance-theorem", "check")
    ('ledger-claims-03-invariance-theorem', 'ledger-checks-03-invariance-theorem')
    """
    return f"ledger-{kind}s-{chapter}"


def _chapter_title(report: Report, chapter: str) -> str:
    return report.chapters.get(chapter, chapter)


def contents(report: Report) -> str:
    """The ledger's table of contents: one line per chapter, its title linked to its group of claims (or of checks)
    and every row's number linked to the row, claims, checks of the algebra and findings apart.

    Parameters
    ----------
    report : Report
        The report (`build`).

    Returns
    -------
    str
        Markdown.
    """
    lines = ["| Chapter | Claims | Checks of the algebra | Findings |", "| --- | --- | --- | --- |"]
    for chapter in report.ledger.chapters():
        mine = [e for e in report.ledger.rows() if e.chapter == chapter]
        kinds = [[e for e in mine if isinstance(e, Claim) and e.kind == k] for k in ("claim", "check")]
        kinds.append([e for e in mine if isinstance(e, Finding)])
        group = group_anchor(chapter, "claim" if kinds[0] else "check")
        cells = [", ".join(_row_ref(e) for e in rows) or "–" for rows in kinds]
        lines.append(f"| [{_chapter_title(report, chapter)}](#{group}) | {' | '.join(cells)} |")
    return "\n".join(lines)


def claims_table(report: Report, robust: dict | None = None, survey: dict | None = None, kind: str = "claim") -> str:
    """The claims (or, with ``kind="check"``, the checks of the algebra), grouped by chapter (a heading with its
    anchor, `group_anchor`, then a table), one row each with its number and anchor (`deeplinear_book.ledger.anchor`):
    the claim and the section that tests it, then the verdict and the measured values against their criteria at
    the book's settings and in the paper-preset run, side by side; with ``robust`` and ``survey``
    (`deeplinear_book.robustness.load` of a seed sweep and of a parameter survey), the book run's cell also says at
    how many seeds and at how many parameter draws it held.

    Parameters
    ----------
    report : Report
        The report (`build`).
    robust : dict or None, optional
        A seed sweep (`deeplinear_book.robustness.load`).
    survey : dict or None, optional
        A parameter survey (`deeplinear_book.robustness.load`).
    kind : str, optional
        "claim" or "check".

    Returns
    -------
    str
        Markdown.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    from .robustness import held_text

    paper = {r.entry.id: r for r in report.paper}
    run_values = {} if report.run is None else {n: e["values"] for n, e in report.run["chapters"].items()}
    rows = _rows_by_id(report.ledger)
    lines = [_STYLE]
    for chapter in report.ledger.chapters():
        mine = [r for r in _claims(report.book, kind) if r.entry.chapter == chapter]
        if not mine:
            continue
        lines += ["", f"({group_anchor(chapter, kind)})=", f":::{{rubric}} {_chapter_title(report, chapter)}", ":::"]
        lines += ["", ":::{list-table}", ":header-rows: 1", ":class: ledger-table", ":widths: 44 28 28", ""]
        lines += [f"* - {'Claim' if kind == 'claim' else 'Check'}", "  - Book run", "  - Paper run"]
        for r in mine:
            e = r.entry
            claim = [
                f"**{_row_ref(e)}** *{e.paper}* {_text(e.statement, rows)}",
                f"Tested in {_link(report, e.section)}",
            ]
            if e.caveat and r.verdict == "confirmed with a caveat":
                claim.insert(1, f"*Caveat:* {_text(e.caveat, rows)}")
            book = _run_cell(r, report.values.get(e.chapter, {}), report.ledger)
            for sweep, unit in ((survey, "parameter draws"), (robust, "seeds")):
                if sweep and held_text(sweep, e.id, unit):
                    book.insert(1, f"*{held_text(sweep, e.id, unit)}*")
            if not e.paper_setting:
                other = ["*no paper experiment*"]
            elif report.run is None:
                other = ["no paper-preset run was given"]
            else:
                other = [badge(paper[e.id].verdict), f"*paper setting:* {_text(e.paper_setting, rows)}"]
                other += _run_cell(paper[e.id], run_values.get(e.chapter, {}), report.ledger)[1:]
            lines += [f"* - ({anchor(e)})=", f"    {claim[0]}"] + [x for line in claim[1:] for x in ("", f"    {line}")]
            lines += _cell("  -", book) + _cell("  -", other)
        lines.append(":::")
    return "\n".join(lines)


def chapter_summary(ledger: Ledger, chapter: str, values: dict[str, Any]) -> str:
    """A chapter's Summary table (Markdown): each of its ledger rows, claims first, then checks and findings,
    with its number linked to its row in the reproduction report's ledger, the paper, the statement, the values
    measured against their criteria (or why the run is outside the claim's hypotheses) and the verdict, its
    caveat included. Values are written as the ledger writes them (`deeplinear_book.numbers.reader`), a float
    that came out exactly 0 as `EXACT_ZERO`, so that nbval's sanitizer sees rounding-level values as such.

    Parameters
    ----------
    ledger : Ledger
        The claims ledger.
    chapter : str
        Chapter stem or number, e.g. "03" or "03-invariance-theorem".
    values : dict
        The chapter's glued values.

    Returns
    -------
    str
        Markdown.

    Raises
    ------
    ValueError
        If ``chapter`` is not valid (the message names the parameter).
    """
    rows = [r for r in evaluate(ledger, {chapter: values}) if r.entry.chapter == chapter]
    if not rows:
        raise ValueError(f"chapter {chapter!r} has no rows in the ledger")
    order = {"claim": 0, "check": 1}
    rows.sort(key=lambda r: order.get(r.entry.kind, 2))
    ids = _rows_by_id(ledger)
    lines = ["| Claim | Measured | Verdict |", "| --- | --- | --- |"]
    for r in rows:
        e = r.entry
        what = f"*{e.paper}* {_cell_text(e.statement, ids)}" if isinstance(e, Claim) else _cell_text(e.title, ids)
        if isinstance(e, Finding):
            what += f" ({_cell_text(e.source, ids)})"
        checks = e.hypotheses if r.verdict == "not applicable" else e.checks
        measured = [
            _check_line(c, v, ok, values, ledger, ids).replace("\n", " ")
            for c, (_, v, _, ok) in zip(checks, r.measured, strict=False)
        ]
        verdict = r.verdict
        if verdict == "confirmed with a caveat":
            verdict += f": {e.caveat}"
        elif r.reason:
            verdict += f": {r.reason}"
        lines.append(f"| **{_row_ref(e)}** {what} | {'; '.join(measured) or '–'} | {_cell_text(verdict, ids)} |")
    return "\n".join(lines)


def _cell_text(text: str, rows: Mapping[str, Claim | Finding] | None = None) -> str:
    """Ledger text for a Markdown table cell: as `_text`, and without a ``|`` that would split the cell."""
    return _text(text, rows).replace("\n", " ")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def run_note(report: Report) -> str:
    """Which commit the paper-preset run ran, when, where, how long, and which chapters failed.

    Parameters
    ----------
    report : Report
        The report (`build`).

    Returns
    -------
    str
        Which commit the paper-preset run ran, when, where, how long, and which chapters failed.
    """
    run = report.run
    if run is None:
        return "No paper-preset run was given (`paper_claims` is empty)."
    chapters = run["chapters"]
    commit = str(run.get("commit") or "unknown")
    seconds = sum(entry["seconds"] for entry in chapters.values())
    # `make paper-claims CHAPTERS=...` reruns some chapters: each entry then names the run it came from
    runs: dict[tuple[str, str], list[str]] = {}
    for name, entry in chapters.items():
        key = (str(entry.get("commit") or commit), str(entry.get("finished") or run.get("finished")))
        runs.setdefault(key, []).append(name.split("-")[0])
    if len(runs) > 1:
        parts = [f"chapters {', '.join(names)} at commit `{c[:12]}` ({when})" for (c, when), names in runs.items()]
        where = "The paper-preset run was made in parts: " + "; ".join(parts) + "; "
    else:
        where = (
            f"The paper-preset run is of commit `{commit[:12]}`"
            f"{' with uncommitted changes' if '+' in commit else ''}, "  # deeplinear_book.book.code_version's mark
            f"finished {run.get('finished', 'at an unrecorded time')}, "
        )
    note = f"{where}Python {run['python']} on {run['machine']}; {seconds / 60:.0f} minutes of chapter time in all"
    times = [f"{name.split('-')[0]} {_duration(entry['seconds'])}" for name, entry in chapters.items()]
    note += f" ({', '.join(times)})."
    failed = {name: entry["error"] for name, entry in chapters.items() if entry.get("error")}
    if failed:
        note += " Chapters that failed: " + "; ".join(f"{name}: {error}" for name, error in failed.items())
    return note


class _Missing(dict):
    """A chapter's values where a missing one reads as "(not run)" (`findings_list`)."""

    def __missing__(self, name: str) -> str:
        return "(not run)"


KIND_HEADINGS = {
    "erratum": "Errors in the papers' text",
    "code discrepancy": "Discrepancies in the authors' released code",
    "sharpening": "Sharpenings: beyond a sufficient condition, not errors",
    "deviation": "The book's own deviations",
}


def findings_list(report: Report) -> str:
    """The findings in their four kinds: under a heading per kind, a list whose entries give the row's number
    and anchor (`deeplinear_book.ledger.anchor`), the verdict's badge, quote the sentence concerned and say what
    was measured (the chapter's glued values).

    Parameters
    ----------
    report : Report
        The report (`build`).

    Returns
    -------
    str
        Markdown.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    rows = {r.entry.id: r for r in report.book if isinstance(r.entry, Finding)}
    ids = _rows_by_id(report.ledger)
    parts = []
    for kind, heading in KIND_HEADINGS.items():
        mine = [f for f in report.ledger.findings if f.kind == kind]
        if not mine:
            continue
        lines = [f"**{heading}**", ""]
        for f in mine:
            values = report.values.get(f.chapter, {})
            # a value the run lacks (its chapter failed, or predates the finding) reads as "(not run)"
            text = _text(render_finding(f, _Missing(values), _shown), ids, markdown=True)
            reason = f" *Not run: {_text(rows[f.id].reason, ids)}.*" if rows[f.id].verdict == "not run" else ""
            lines += [
                f"- ({anchor(f)})=",
                f"  **{_row_ref(f)}** {badge(rows[f.id].verdict)} **{_text(f.title, ids)}** "
                f"({_link(report, f.section)}). {_text(f.source, ids)}: “{_text(f.quote, ids)}” {text}{reason}",
            ]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


PACKAGES = ("deeplinear", "numpy", "scipy", "matplotlib", "seaborn", "jupyter-book", "myst-nb", "papermill", "nbval")


def _version(name: str) -> str:
    """The installed version of a package, or "not installed" (Binder's runtime set has no test tooling)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment(notebooks: list[Path]) -> str:
    """Execution time per chapter (from the notebooks' metadata), package versions and the machine.

    Parameters
    ----------
    notebooks : list of Path
        The executed chapters.

    Returns
    -------
    str
        Markdown.
    """
    import nbformat

    cost, total = ["| Chapter | Execution time (s) |", "| --- | --- |"], 0.0
    for path in notebooks:
        meta = nbformat.read(path, 4).metadata  # make execute records its time; papermill its own
        seconds = meta.get("deeplinear", {}).get("execution_seconds") or meta.get("papermill", {}).get("duration")
        total += seconds or 0.0
        shown = "not recorded" if seconds is None else round(seconds, 1)
        cost.append(f"| {{doc}}`{path.stem}` | {shown} |")
    cost.append(f"| **all chapters** | **{total:.0f}** |")
    versions = ["| Package | Version |", "| --- | --- |"]
    versions += [f"| {name} | {_version(name)} |" for name in PACKAGES]
    machine = (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} "
        "cores; numerical libraries run single-threaded (OMP_NUM_THREADS=1) when chapters are executed or tested."
    )
    return "\n".join(cost) + "\n\n" + "\n".join(versions) + "\n\n" + machine
