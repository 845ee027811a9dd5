"""Check the book's PDF (``make pdf``): it exists, has pages, and holds every page of the table of contents.

Usage: ``python scripts/check_pdf.py [_build/latex/book.pdf]``. Reads the PDF with poppler's ``pdfinfo`` and
``pdftotext``; exits non-zero, saying what is wrong, when the file is missing or small, has fewer pages than
the book has chapters, lacks the title of a page of ``_toc.yml`` (the chapters, the reproduction report with
its ledger and findings, the references), opens its text without the introduction's title
(``book/_ext/pdf_book.py``), or has a blank or nearly blank page (under ``MIN_PAGE_CHARS`` letters and digits
besides the running header and footer; the title page excepted). Prints the page count and size otherwise.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "_build" / "latex" / "book.pdf"
# What the report must show in the PDF besides its title: the ledger and the findings (errata).
REPORT_SECTIONS = ("The claims ledger", "Findings")
MIN_BYTES = 100_000
PAGES_PER_CHAPTER = 2
INTRODUCTION = "Introduction"  # book/_ext/pdf_book.py: the root page's title in the PDF
# A page with fewer letters and digits than this, besides its running header and footer, is blank or nearly
# blank: a page break before a chapter or part left it empty (the shortest page with content, a figure with a
# two-line caption, has about 150).
MIN_PAGE_CHARS = 60


def toc_files(root: Path) -> list[Path]:
    """Every page of ``root/_toc.yml`` (root, parts, chapters, sections), in reading order, as source paths."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    found = []
    for name in names:
        path = next((root / f"{name}{ext}" for ext in (".md", ".ipynb") if (root / f"{name}{ext}").exists()), None)
        if path is None:
            raise SystemExit(f"_toc.yml names {name}, which is neither {name}.md nor {name}.ipynb")
        found.append(path)
    return found


def title(path: Path) -> str:
    """A page's title: the first level-one heading of its Markdown (or of its notebook's Markdown cells)."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    match = re.search(r"^# (.+)$", text, re.M)
    if match is None:
        raise SystemExit(f"{path.name} has no level-one heading")
    return match.group(1)


def squash(text: str) -> str:
    """Letters and digits only, lower case: what survives line breaks, hyphenation and TeX's typography."""
    text = re.sub(r"\$[^$]*\$|\{[a-z:]+\}`[^`]*`", "", text)  # math and roles are typeset otherwise
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _poppler(tool: str, *args: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        raise SystemExit(f"{tool} is missing: install poppler-utils (apt-get install poppler-utils)")
    return subprocess.run([exe, *args], capture_output=True, text=True, check=True).stdout


def page_texts(pdf: Path) -> list[str]:
    """Each page's text (pdftotext separates pages with a form feed)."""
    pages = _poppler("pdftotext", "-enc", "UTF-8", "-layout", str(pdf), "-").split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def sparse_pages(texts: list[str], running: str) -> list[int]:
    """The 1-based numbers of the pages (after the title page) with under ``MIN_PAGE_CHARS`` letters and digits
    once the running header (``running``, the book's title), and the page number are removed."""
    found = []
    for number, text in enumerate(texts, 1):
        body = squash(text).replace(squash(running), "")
        body = re.sub(r"^\d+|\d+$|^[ivxlc]+$", "", body)
        if number > 1 and len(body) < MIN_PAGE_CHARS:
            found.append(number)
    return found


def introduction_titled(texts: list[str]) -> bool:
    """Whether the first page after the contents (the pages from "CONTENTS" on that hold dot leaders) opens with
    the introduction's title."""
    start = next((i for i, t in enumerate(texts) if squash(t).startswith("contents")), None)
    if start is None:
        return False
    rest = [t for t in texts[start + 1 :] if ". . . ." not in t and t.strip()]
    return bool(rest) and squash(rest[0]).startswith(squash(INTRODUCTION))


def check(pdf: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with ``pdf`` (an empty list when nothing is), and print its page count."""
    if not pdf.exists():
        return [f"no PDF at {pdf}: the LaTeX build produced none (see _build/latex/book.log)"]
    problems = []
    size = pdf.stat().st_size
    if size < MIN_BYTES:
        problems.append(f"{pdf} is only {size} bytes")
    pages = int(re.search(r"^Pages:\s+(\d+)", _poppler("pdfinfo", str(pdf)), re.M).group(1))
    files = toc_files(root)
    if pages < PAGES_PER_CHAPTER * len(files):
        problems.append(f"{pdf} has {pages} pages, fewer than {PAGES_PER_CHAPTER} for each of {len(files)} pages")
    text = squash(_poppler("pdftotext", "-enc", "UTF-8", str(pdf), "-"))
    wanted = [title(path) for path in files] + list(REPORT_SECTIONS)
    problems += [f"the PDF lacks {heading!r}" for heading in wanted if squash(heading) not in text]
    texts = page_texts(pdf)
    if not introduction_titled(texts):
        problems.append(f"the introduction, after the contents, does not open with its title {INTRODUCTION!r}")
    book_title = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))["title"]
    sparse = sparse_pages(texts, book_title)
    if sparse:
        problems.append(f"{len(sparse)} blank or nearly blank pages: {', '.join(map(str, sparse))}")
    print(f"{pdf}: {pages} pages, {size / 1e6:.1f} MB, all {len(wanted)} titles present" if not problems else "")
    return problems


def main(argv: list[str]) -> int:
    pdf = Path(argv[0]) if argv else DEFAULT
    problems = check(pdf)
    for problem in problems:
        print(f"make pdf: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
