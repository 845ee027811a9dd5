"""The book as one PDF (``make pdf``): what Jupyter Book's LaTeX builder needs from this book.

- An equation numbered by hand (``\\tag{4}``, the papers' numbers) is typeset as a numbered equation. Sphinx
  wraps every display in ``split``, where amsmath refuses ``\\tag``; for LaTeX such a display is written as
  ``equation*`` with its tag outside the ``split``.
- A long table (over 30 rows, a LaTeX ``longtable``) whose columns have no widths of their own gets widths in
  proportion to its columns' text, so that its cells wrap; Sphinx would otherwise set each cell on one line
  and run the table off the page.
- sphinx-jupyterbook-latex's document class loads ``bbm`` (blackboard-bold digits), which Debian ships only in
  its 1.4 GB ``texlive-fonts-extra``. The book never uses ``\\mathbbm``; where ``bbm.sty`` is missing, a
  two-line stand-in that maps it to ``\\mathbb`` is written beside the LaTeX sources.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
TAG = re.compile(r"\\tag\*?\{([^{}]*)\}")
BBM_STAND_IN = r"""\NeedsTeXFormat{LaTeX2e}
\ProvidesPackage{bbm}[2026/01/01 stand-in written by book/_ext/pdf_book.py: \string\mathbbm\space is \string\mathbb]
\RequirePackage{amssymb}
\providecommand{\mathbbm}[1]{\mathbb{#1}}
"""


def tagged_display(latex: str) -> str | None:
    """``latex`` with its one ``\\tag`` set outside ``split`` in ``equation*``; None without exactly one tag."""
    tags = TAG.findall(latex)
    if len(tags) != 1:
        return None
    body = TAG.sub("", latex).strip()
    return f"\\begin{{equation*}}\\begin{{split}}{body}\\end{{split}}\\tag{{{tags[0]}}}\\end{{equation*}}"


class TaggedDisplays(SphinxPostTransform):
    """For LaTeX: a display with a hand-set ``\\tag`` and no label of its own is written unwrapped."""

    default_priority = 400
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for node in self.document.findall(nodes.math_block):
            if node.get("nowrap") or node.get("label"):
                continue
            latex = tagged_display(node.astext())
            if latex is not None:
                node.children = [nodes.Text(latex)]
                node["nowrap"] = True


LONG_TABLE_ROWS = 30  # Sphinx's threshold for a longtable
MIN_SHARE = 0.1  # no column narrower than a tenth of the table


def column_widths(rows: list[list[str]]) -> list[int]:
    """Percent widths for columns holding ``rows`` of cell texts: in proportion to each column's mean text
    length, at least ``MIN_SHARE`` each."""
    columns = list(zip(*rows))
    means = [max(1.0, sum(len(t) for t in column) / len(column)) for column in columns]
    shares = [max(MIN_SHARE, m / sum(means)) for m in means]
    return [max(1, round(100 * share / sum(shares))) for share in shares]


class LongTables(SphinxPostTransform):
    """For LaTeX: widths for the columns of a long table that has none, from its text."""

    default_priority = 400
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for table in self.document.findall(nodes.table):
            if "colwidths-given" in table["classes"]:
                continue
            rows = [
                [entry.astext() for entry in row.findall(nodes.entry)]
                for row in table.findall(nodes.row)
            ]
            colspecs = list(table.findall(nodes.colspec))
            if (
                len(rows) <= LONG_TABLE_ROWS
                or not colspecs
                or any(len(r) != len(colspecs) for r in rows)
            ):
                continue
            for colspec, width in zip(colspecs, column_widths(rows)):
                colspec["colwidth"] = width
            table["classes"].append("colwidths-given")


def _bbm_available() -> bool:
    kpsewhich = shutil.which("kpsewhich")
    if kpsewhich is None:
        return False
    found = subprocess.run(
        [kpsewhich, "bbm.sty"], capture_output=True, text=True, check=False
    )
    return found.returncode == 0 and bool(found.stdout.strip())


def _builder_inited(app) -> None:
    if app.builder.format != "latex" or _bbm_available():
        return
    Path(app.outdir).mkdir(parents=True, exist_ok=True)
    (Path(app.outdir) / "bbm.sty").write_text(BBM_STAND_IN, encoding="utf-8")
    LOGGER.info(
        "bbm.sty is not installed: a stand-in mapping \\mathbbm to \\mathbb is used"
    )


def setup(app):
    app.add_post_transform(TaggedDisplays)
    app.add_post_transform(LongTables)
    app.connect("builder-inited", _builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
