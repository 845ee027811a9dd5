"""What the landing page shows from the committed chapters, so that nothing on it is typed by hand.

- ``glued-figure``: a figure that a chapter glued, shown on another page (myst-nb's ``glue:figure`` only finds
  the page's own notebook). Its argument is ``NOTEBOOK::KEY``; its options are the ``figure`` directive's.
  The image is read from the committed notebook at build time, so it is the chapter's, always. Its text is
  set as the figure's legend, not its caption: a teaser is not one of the page's numbered figures, and a
  paper's figure keeps its own name rather than gaining a "Fig. 1" before it.
- ``book-runtime``: how long executing the book takes, from the times that ``make execute`` records in each
  chapter's metadata (``book``), or that the committed paper-preset run records in
  ``book/presets/claims-paper.json`` (``paper``).
- ``readme-code``: the first code block under a heading of ``README.md`` (``Two commands``), as the README
  gives it.
- ``paper-errata``: the findings of kind "erratum" in ``book/ledger.toml``, each with the passage of the paper
  it concerns, linked to the chapter section that shows it and to its row of the reproduction report.
- ``chapter-executions``: a table of when each chapter was last executed and from which commit, as ``make
  execute`` records it in the chapter's metadata (`deeplinear_book.book.provenance`); a chapter executed before
  that was recorded says so.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst.directives.images import Figure
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

from deeplinear_book import chapters, ledger
from deeplinear_book.book import LEDGER, REPORT

LOGGER = logging.getLogger(__name__)
PNG = ("application/papermill.record/image/png", "image/png")
PAPER_RUN = Path("book/presets/claims-paper.json")


def glued_png(notebook: Path, key: str) -> bytes:
    """The PNG glued as ``key`` in the executed ``notebook``; ValueError naming both if there is none."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        for output in cell.get("outputs", []):
            if output.get("metadata", {}).get("scrapbook", {}).get("name") != key:
                continue
            for mime in PNG:
                if mime in output.get("data", {}):
                    return base64.b64decode(output["data"][mime])
    raise ValueError(f"{notebook.name} glues no figure named {key!r}")


class GluedFigure(Figure):
    """A figure glued in another chapter (``NOTEBOOK::KEY``), with this page's caption and options."""

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        source, _, key = self.arguments[0].partition("::")
        docdir = Path(env.doc2path(env.docname)).parent
        notebook = (docdir / source).resolve()
        if not key or not notebook.exists():
            raise self.error(
                f"glued-figure needs NOTEBOOK::KEY with an existing notebook, got {self.arguments[0]!r}"
            )
        env.note_dependency(str(notebook))
        try:
            data = glued_png(notebook, key)
        except ValueError as exc:
            raise self.error(str(exc)) from exc
        # Written beside the build (as myst-nb does with notebook outputs), never into the sources.
        target = (
            Path(env.app.doctreedir).parent
            / "glued_figures"
            / notebook.stem
            / f"{key}.png"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
        self.arguments = [Path(os.path.relpath(target, docdir)).as_posix()]
        result = super().run()
        for figure in result:
            for caption in list(figure.findall(nodes.caption)):
                legend = nodes.legend("", nodes.paragraph("", "", *caption.children))
                caption.replace_self(legend)
        return result


def book_seconds(root: Path) -> float:
    """The chapters' recorded execution times (``metadata.deeplinear.execution_seconds``), summed."""
    total = 0.0
    for path in chapters(root):
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        seconds = meta.get("deeplinear", {}).get("execution_seconds")
        if seconds is None:
            raise ValueError(
                f"{path.name} records no execution time: re-execute it with `make execute`"
            )
        total += float(seconds)
    return total


def paper_seconds(root: Path) -> float:
    """The committed paper-preset run's chapter times, summed."""
    run = json.loads((root / PAPER_RUN).read_text(encoding="utf-8"))
    return float(sum(entry["seconds"] for entry in run["chapters"].values()))


def minutes(seconds: float) -> str:
    """``about 3 minutes`` (whole minutes, at least one)."""
    count = max(1, round(seconds / 60))
    return f"about {count} minute{'s' if count != 1 else ''}"


class BookRuntime(SphinxRole):
    """``{book-runtime}`book``` or ``{book-runtime}`paper```: the recorded time to execute every chapter."""

    def run(self):
        root = Path(self.env.srcdir)
        try:
            if self.text == "book":
                for path in chapters(root):
                    self.env.note_dependency(str(path))
                text = minutes(book_seconds(root))
            elif self.text == "paper":
                self.env.note_dependency(str(root / PAPER_RUN))
                text = minutes(paper_seconds(root))
            else:
                raise ValueError(
                    f"book-runtime takes 'book' or 'paper', got {self.text!r}"
                )
        except (OSError, KeyError, ValueError) as exc:
            msg = self.inliner.reporter.error(str(exc), line=self.lineno)
            return [self.inliner.problematic(self.rawtext, self.rawtext, msg)], [msg]
        return [nodes.inline(text, text, classes=["book-runtime"])], []


def readme_code(readme: str, heading: str) -> tuple[str, str]:
    """(language, code) of the first fenced code block under the Markdown ``heading`` of ``readme``;
    ValueError naming the heading when it has none."""
    section = re.search(
        rf"^#+ {re.escape(heading)}\s*$(.*?)(?=^#+ |\Z)", readme, re.M | re.S
    )
    block = section and re.search(r"^```(\w*)\n(.*?)^```", section[1], re.M | re.S)
    if not block:
        raise ValueError(f"README.md has no code block under a heading {heading!r}")
    return block[1], block[2].rstrip("\n")


class ReadmeCode(SphinxDirective):
    """``{readme-code} HEADING``: the README's code block under that heading, as it is there."""

    required_arguments = 1
    final_argument_whitespace = True

    def run(self) -> list[nodes.Node]:
        path = Path(self.env.srcdir) / "README.md"
        self.env.note_dependency(str(path))
        try:
            language, code = readme_code(
                path.read_text(encoding="utf-8"), self.arguments[0]
            )
        except (OSError, ValueError) as exc:
            raise self.error(str(exc)) from exc
        return [nodes.literal_block(code, code, language=language or "text")]


def chapter_numbers(root: Path) -> dict[str, int]:
    """Stem -> number of every chapter in a numbered part of ``_toc.yml``, counted in reading order as the
    sidebar numbers them ("Chapter 4"); the pages of unnumbered parts have none."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    stems = [
        Path(c["file"]).name
        for part in toc.get("parts", [])
        if part.get("numbered")
        for c in part["chapters"]
    ]
    return {stem: i for i, stem in enumerate(stems, 1)}


def _chapter_ref(stem: str, numbers: dict[str, int], label: str | None = None) -> str:
    """``Chapter 4: TITLE`` (the chapter's title or, given a ``label``, that section's, as a link); a page of an
    unnumbered part is its title alone."""
    link = f"{{ref}}`{label}`" if label else f"{{doc}}`{stem}`"
    return f"Chapter {numbers[stem]}: {link}" if stem in numbers else link


def errata_markdown(root: Path) -> str:
    """The papers' errata (the ledger's findings of kind "erratum") as a Markdown list: title, the passage, and
    links to the section of the chapter that shows it and to its row in the report (where the committed report
    carries the row's anchor)."""
    found = ledger.load(root / LEDGER)
    report = (root / "book" / f"{REPORT}.ipynb").read_text(encoding="utf-8")
    numbers = chapter_numbers(root)
    lines = []
    for finding in found.findings:
        if finding.kind != "erratum":
            continue
        row = ledger.anchor(finding)
        where = [_chapter_ref(finding.chapter, numbers, finding.section)]
        if row and f"({row})=" in report:
            where.append(f"{{ref}}`row {finding.number} of the ledger <{row}>`")
        lines.append(f"- **{finding.title}** ({finding.source}; {', '.join(where)})")
    if not lines:
        raise ValueError(f"{LEDGER} records no finding of kind 'erratum'")
    return "\n".join(lines)


def executions_markdown(root: Path, repository: str | None) -> str:
    """A MyST list-table: each chapter, the date it was last executed and the commit it was executed from,
    linked to the repository's page of that commit when the build knows the repository, and what differed
    from that commit (`deeplinear_book.book.provenance`)."""
    numbers = chapter_numbers(root)
    lines = [
        ":::{list-table}",
        ":header-rows: 1",
        ":class: chapter-executions",
        "",
        "* - Chapter",
        "  - Last executed",
        "  - From commit",
    ]
    for path in chapters(root):
        meta = (
            json.loads(path.read_text(encoding="utf-8"))
            .get("metadata", {})
            .get("deeplinear", {})
        )
        commit, changed = meta.get("commit"), meta.get("uncommitted", [])
        if commit:
            short = f"`{commit[:12]}`"
            code = f"[{short}]({repository}/commit/{commit})" if repository else short
            if changed:
                what = [
                    "the library" if c == "lib" else "this chapter's code"
                    for c in changed
                ]
                code += f", with uncommitted changes to {' and '.join(what)}"
        elif meta.get("executed_on"):
            code = "outside a git clone"
        else:
            code = "not recorded"
        lines += [
            f"* - {_chapter_ref(path.stem, numbers)}",
            f"  - {meta.get('executed_on', 'not recorded')}",
            f"  - {code}",
        ]
    return "\n".join([*lines, ":::"])


class _Generated(SphinxDirective):
    """A directive whose content is Markdown generated at build time, parsed as the page's own."""

    def markdown(self, root: Path) -> str:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        root = Path(self.env.srcdir)
        try:
            text = self.markdown(root)
        except (OSError, KeyError, ValueError) as exc:
            raise self.error(str(exc)) from exc
        container = nodes.container()
        self.state.nested_parse(
            StringList(text.splitlines(), source=self.get_source_info()[0]),
            0,
            container,
        )
        return container.children


class PaperErrata(_Generated):
    """``{paper-errata}``: the errata of the papers that the ledger records (`errata_markdown`)."""

    def markdown(self, root: Path) -> str:
        self.env.note_dependency(str(root / LEDGER))
        self.env.note_dependency(str(root / "book" / f"{REPORT}.ipynb"))
        return errata_markdown(root)


class ChapterExecutions(_Generated):
    """``{chapter-executions}``: when and from which commit each chapter was last executed (`executions_markdown`)."""

    def markdown(self, root: Path) -> str:
        for path in chapters(root):
            self.env.note_dependency(str(path))
        return executions_markdown(
            root, self.config.html_theme_options.get("repository_url") or None
        )


def setup(app):
    app.add_directive("glued-figure", GluedFigure)
    app.add_role("book-runtime", BookRuntime())
    app.add_directive("readme-code", ReadmeCode)
    app.add_directive("paper-errata", PaperErrata)
    app.add_directive("chapter-executions", ChapterExecutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
