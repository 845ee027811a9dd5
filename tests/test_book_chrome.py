"""The landing page's generated parts, the chapters' citations and the PDF's book settings, as functions
(book/_ext/landing.py, companion_citation.py, pdf_book.py; scripts/check_pdf.py). The site test checks the
built pages; these run in well under a second."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from deeplinear_book import ledger

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


landing = _load("landing", ROOT / "book" / "_ext" / "landing.py")
citation = _load("companion_citation", ROOT / "book" / "_ext" / "companion_citation.py")
pdf_book = _load("pdf_book", ROOT / "book" / "_ext" / "pdf_book.py")
check_pdf = _load("check_pdf", ROOT / "scripts" / "check_pdf.py")


def test_readme_code_is_the_readmes_two_commands():
    language, code = landing.readme_code((ROOT / "README.md").read_text(encoding="utf-8"), "Two commands")
    assert language == "bash"
    assert [line.split()[:2] for line in code.splitlines()] == [["make", "book"], ["make", "test"]]
    with pytest.raises(ValueError, match="no code block under a heading 'Nowhere'"):
        landing.readme_code("# Title\n\n## Nowhere\n\ntext\n\n## Next\n\n```\nx\n```\n", "Nowhere")


def test_chapter_numbers_follow_the_numbered_parts_of_the_toc():
    numbers = landing.chapter_numbers(ROOT)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbered = [Path(c["file"]).name for p in toc["parts"] if p.get("numbered") for c in p["chapters"]]
    assert numbers == {stem: i + 1 for i, stem in enumerate(numbered)}
    assert numbers["03-invariance-theorem"] == 3 and "reproduction-report" not in numbers


def test_errata_list_names_every_erratum_of_the_ledger_and_no_other_finding():
    text = landing.errata_markdown(ROOT)
    findings = ledger.load(ROOT / "book" / "ledger.toml").findings
    errata = [f for f in findings if f.kind == "erratum"]
    assert len(text.splitlines()) == len(errata) > 0
    for line, finding in zip(text.splitlines(), errata):
        assert line.startswith(f"- **{finding.title}** ({finding.source}; ")
        assert f"Chapter {int(finding.chapter[:2])}: {{ref}}`{finding.section}`" in line
    assert not [f.title for f in findings if f.kind != "erratum" and f"**{f.title}**" in text]


def _chapter(root: Path, stem: str, deeplinear: dict | None) -> None:
    meta = {"deeplinear": deeplinear} if deeplinear is not None else {}
    (root / "book" / f"{stem}.ipynb").write_text(json.dumps({"cells": [], "metadata": meta}))


def test_executions_table_reads_each_chapters_metadata_and_says_what_it_lacks(tmp_path):
    (tmp_path / "book").mkdir()
    toc = {
        "root": "book/intro",
        "parts": [
            {"numbered": 1, "chapters": [{"file": "book/01-a"}, {"file": "book/02-b"}, {"file": "book/03-c"}]},
            {"chapters": [{"file": "book/report"}]},
        ],
    }
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc))
    commit = "0123456789abcdef" * 2 + "01234567"
    _chapter(
        tmp_path, "01-a", {"execution_seconds": 3.0, "executed_on": "2026-12-06", "commit": commit, "uncommitted": []}
    )
    _chapter(
        tmp_path,
        "02-b",
        {
            "execution_seconds": 3.0,
            "executed_on": "2026-12-05",
            "commit": commit,
            "uncommitted": ["lib", "book/02-b.ipynb"],
        },
    )
    _chapter(tmp_path, "03-c", {"execution_seconds": 3.0})  # executed before the date and commit were recorded
    _chapter(tmp_path, "report", None)
    text = landing.executions_markdown(tmp_path, "https://github.com/o/r")
    rows = text.split("* - ")[2:]
    assert len(rows) == 4
    assert "Chapter 1: {doc}`01-a`" in rows[0] and "2026-12-06" in rows[0]
    assert f"[`{commit[:12]}`](https://github.com/o/r/commit/{commit})" in rows[0] and "uncommitted" not in rows[0]
    assert "with uncommitted changes to the library and this chapter's code" in rows[1]
    assert rows[2].count("not recorded") == 2 and rows[3].count("not recorded") == 2
    assert rows[3].startswith("{doc}`report`")  # an unnumbered page has no chapter number
    assert f"[`{commit[:12]}`]" not in landing.executions_markdown(tmp_path, None)  # no repository: no link


def test_a_chapters_bibtex_names_the_chapter_the_book_and_where_it_lives():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    url = citation.page_url(cff, "book/03-x", "https://github.com/o/r", "main", ".ipynb")
    assert url == (
        f"{cff['url'].rstrip('/')}/book/03-x.html"
        if cff.get("url")
        else "https://github.com/o/r/blob/main/book/03-x.ipynb"
    )
    entry = citation.chapter_bibtex(cff, "book/03-x", "A title", 3, "https://example.org/p")
    fields = dict(re.findall(r"^  (\w+)\s*= \{(.*)\},?$", entry, re.M))
    assert entry.startswith("@inbook{deeplinear_companion_03,")
    assert fields["title"] == "A title" and fields["chapter"] == "3" and fields["booktitle"] == cff["title"]
    assert fields["url"] == "https://example.org/p" and fields["version"] == str(cff["version"])
    unnumbered = citation.chapter_bibtex(cff, "book/reproduction-report", "Report", None, None)
    assert unnumbered.startswith("@inbook{deeplinear_companion_reproduction_report,")
    assert "chapter" not in unnumbered and "url" not in unnumbered
    assert citation.page_url({**cff, "url": "https://site.org/x/"}, "book/a", None, "main", ".ipynb") == (
        "https://site.org/x/book/a.html"
    )


def test_the_back_matter_is_unnumbered_in_the_pdf_as_on_the_site():
    assert pdf_book.unnumbered_parts(ROOT / "_toc.yml") == [2]
    latex = pdf_book.numbering([2])
    assert (
        r"\ifcase\value{part}\or\setcounter{secnumdepth}{\companion@secnumdepth}\or\setcounter{secnumdepth}{-1}\fi"
        in latex
    )


def test_table_columns_fit_their_longest_word_and_share_the_rest():
    rows = [["word " * 40, "value " * 50, "confirmed"], ["x " * 75, "b " * 100, "confirmed with a caveat"]]
    widths = pdf_book.column_widths(rows)
    assert abs(sum(widths) - 100) <= 1 and widths[2] * pdf_book.LINE_CHARS / 100 >= len("confirmed") + 2
    assert widths[1] > widths[0] > widths[2]


def test_pdf_check_finds_blank_pages_and_an_untitled_introduction():
    title = "A book"
    pages = [
        "A book\n\nThe authors",
        "CONTENTS\n\n" + "1 One chapter . . . . . 3\n" * 20,
        "2 Two chapter . . . . . 9\n" * 20,
        "INTRODUCTION\n\n" + "text " * 40,
        "A book\n\n\n\n   12",
        "A book\n\n" + "more text " * 30 + "\n 13",
        "\n\n iv \n",
    ]
    assert check_pdf.sparse_pages(pages, title) == [5, 7]
    assert check_pdf.introduction_titled(pages)
    assert not check_pdf.introduction_titled(pages[:3] + ["This book reproduces " * 10])
