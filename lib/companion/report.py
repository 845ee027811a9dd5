"""The reproduction report's tables, from the ledger (`companion.ledger`) and the chapters' glued values.

The report notebook calls these and displays their Markdown; the functions check their inputs and name
what is wrong (a missing chapter folder, a claims.json of another preset).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from pathlib import Path
from typing import Any

from .book import glued_values
from .ledger import Claim, Finding, Ledger, Row, evaluate, fmt, load, render_finding

__all__ = [
    "chapter_values",
    "paper_run",
    "ledger_file",
    "claims_table",
    "paper_summary",
    "findings_list",
    "environment",
]

_HEADER = "| Claim | Tested in | Measured | Criterion | Verdict |\n| --- | --- | --- | --- | --- |\n"


def chapter_values(book_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Chapter stem -> glued values, for the executed chapters ``0*.ipynb`` in ``book_dir``."""
    if not isinstance(book_dir, (str, Path)) or not Path(book_dir).is_dir():
        raise ValueError(f"book_dir must be an existing folder holding the chapters, got {book_dir!r}")
    paths = sorted(Path(book_dir).glob("0*.ipynb"))
    if not paths:
        raise ValueError(f"book_dir must hold the executed chapters (0*.ipynb), none in {str(book_dir)!r}")
    return {p.stem: glued_values(p) for p in paths}


def paper_run(path: str | Path) -> dict[str, Any] | None:
    """The ``claims.json`` of a ``make reproduce PRESET=paper`` run, checked; None for ``""``."""
    if not isinstance(path, (str, Path)) or (path and not Path(path).is_file()):
        raise ValueError(f'paper_claims must be "" or an existing claims.json file, got {path!r}')
    if not path:
        return None
    run = json.loads(Path(path).read_text())
    if not isinstance(run, dict) or run.get("preset") != "paper" or not isinstance(run.get("chapters"), dict):
        raise ValueError(f"paper_claims must be the claims.json of a run with PRESET paper, got {path!r}")
    return run


def ledger_file(path: str | Path) -> Ledger:
    """The claims ledger at ``path`` (the report's ``ledger_file`` parameter), loaded and checked."""
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        raise ValueError(f"ledger_file must be an existing ledger file (book/ledger.toml), got {path!r}")
    return load(path)


def _row(r: Row) -> str:
    claim = f"*{r.entry.paper}* {r.entry.statement}"
    if r.entry.caveat and r.verdict == "confirmed with a caveat":
        claim += f" (caveat: {r.entry.caveat})"
    where = f"{{ref}}`{r.entry.section}`"
    if r.verdict == "not run":
        return f"| {claim} | {where} | — | — | not run |"
    shown = dict.fromkeys((name, fmt(v)) for name, v, _, _ in r.measured)  # each value once
    measured = "<br>".join(f"`{name}` = {v}" for name, v in shown)
    criteria = "<br>".join(text + ("" if ok else " ✗") for _, _, text, ok in r.measured)
    return f"| {claim} | {where} | {measured} | {criteria} | **{r.verdict}** |"


def claims_table(rows: list[Row]) -> str:
    """The ledger's claims as a Markdown table, one row per claim (findings are listed apart)."""
    return _HEADER + "\n".join(_row(r) for r in rows if isinstance(r.entry, Claim))


def paper_summary(ledger: Ledger, run: dict[str, Any]) -> tuple[str, int, int]:
    """The ledger evaluated on a paper-preset run: (Markdown, claims confirmed, claims not run)."""
    chapters = run["chapters"]
    ran = {name: entry["values"] for name, entry in chapters.items() if not entry.get("error")}
    rows = [r for r in evaluate(ledger, ran) if isinstance(r.entry, Claim)]
    papers = [r for r in rows if ledger.settings.get(r.entry.chapter, "book") != "book"]
    own = [r for r in rows if r not in papers]
    confirmed = sum(r.verdict.startswith("confirmed") for r in papers)
    not_run = sum(r.verdict == "not run" for r in papers)
    numbers = sorted({r.entry.chapter[:2] for r in papers})
    summary = (
        f"At the papers' settings (the paper's or the released code's: chapters {', '.join(numbers)}) "
        f"**{confirmed} of {len(papers)}** claims are confirmed"
        + (f" ({not_run} not run: a chapter failed, or the run predates the row)." if not_run else ".")
    )
    if own:
        summary += (
            f" The other {len(own)} claims ran at the book's own settings, where the papers give none "
            f"(chapters {', '.join(sorted({r.entry.chapter[:2] for r in own}))}): "
            f"{sum(r.verdict.startswith('confirmed') for r in own)} confirmed."
        )
    commit = str(run.get("commit") or "unknown")
    seconds = sum(entry["seconds"] for entry in chapters.values())
    note = (
        f"Run of commit `{commit[:12]}`{' with uncommitted changes' if commit.endswith('+dirty') else ''}, "
        f"finished {run.get('finished', 'at an unrecorded time')}, Python {run['python']} on {run['machine']}; "
        f"{seconds / 60:.0f} minutes of chapter time in all."
    )
    failed = {name: entry["error"] for name, entry in chapters.items() if entry.get("error")}
    if failed:
        note += " Chapters that failed: " + "; ".join(f"{name}: {error}" for name, error in failed.items())
    return f"{summary}\n\n{claims_table(rows)}\n\n{note}", confirmed, not_run


KIND_HEADINGS = {
    "erratum": "Errors in the papers' text",
    "code discrepancy": "Discrepancies in the authors' released code",
    "sharpening": "Sharpenings: beyond a sufficient condition, not errors",
    "deviation": "The book's own deviations",
}


def findings_list(ledger: Ledger, values: dict[str, dict[str, Any]]) -> str:
    """The findings in their four kinds: under a heading per kind, a numbered list whose entries quote the
    sentence concerned, say what was measured (with the chapter's glued values) and give the verdict."""
    rows = {r.entry.id: r for r in evaluate(ledger, values) if isinstance(r.entry, Finding)}
    parts = []
    for kind, heading in KIND_HEADINGS.items():
        mine = [f for f in ledger.findings if f.kind == kind]
        if not mine:
            continue
        lines = [f"**{heading}**", ""]
        for i, f in enumerate(mine, 1):
            text = render_finding(f, values[f.chapter]) if f.chapter in values else f.text
            lines.append(
                f"{i}. **{f.title}** ({{ref}}`{f.section}`; *{rows[f.id].verdict}*). {f.source}: “{f.quote}” {text}"
            )
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


PACKAGES = ("deeplinear", "numpy", "scipy", "matplotlib", "seaborn", "jupyter-book", "myst-nb", "papermill", "nbval")


def environment(notebooks: list[Path]) -> str:
    """Execution time per chapter (from the notebooks' metadata), package versions and the machine."""
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
    versions += [f"| {name} | {importlib.metadata.version(name)} |" for name in PACKAGES]
    machine = (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} "
        "cores; numerical libraries run single-threaded (OMP_NUM_THREADS=1) when chapters are executed or tested."
    )
    return "\n".join(cost) + "\n\n" + "\n".join(versions) + "\n\n" + machine
