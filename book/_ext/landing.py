"""What the landing page shows from the committed chapters, so that nothing on it is typed by hand.

- ``glued-figure``: a figure that a chapter glued, shown on another page (myst-nb's ``glue:figure`` only finds
  the page's own notebook). Its argument is ``NOTEBOOK::KEY``; its options are the ``figure`` directive's.
  The image is read from the committed notebook at build time, so it is the chapter's, always. Its text is
  set as the figure's legend, not its caption: a teaser is not one of the page's numbered figures, and a
  paper's figure keeps its own name rather than gaining a "Fig. 1" before it.
- ``book-runtime``: how long executing the book takes, from the times that ``make execute`` records in each
  chapter's metadata (``book``), or that the committed paper-preset run records in
  ``book/presets/claims-paper.json`` (``paper``).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst.directives.images import Figure
from sphinx.util import logging
from sphinx.util.docutils import SphinxRole

from deeplinear_book import chapters

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


def setup(app):
    app.add_directive("glued-figure", GluedFigure)
    app.add_role("book-runtime", BookRuntime())
    return {"parallel_read_safe": True, "parallel_write_safe": True}
