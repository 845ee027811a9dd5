"""The book as one PDF (``make pdf``): what Jupyter Book's LaTeX builder needs from this book.

- An equation numbered by hand (``\\tag{4}``, the papers' numbers) is typeset as a numbered equation. Sphinx
  wraps every display in ``split``, where amsmath refuses ``\\tag``; for LaTeX such a display is written as
  ``equation*`` with its tag outside the ``split``.
- A long table (over 30 rows, or over 1,500 characters: a chapter's Summary) is set as a LaTeX ``longtable``,
  which breaks across pages (``tabulary`` ran a Summary past the foot of its page), and where its columns have
  no widths of their own it gets widths in proportion to its columns' text, so that its cells wrap; Sphinx
  would otherwise set each cell on one line and run the table off the page.
- It reads like a book, not a web print (``latex_elements``, set at ``config-inited``): one-sided, chapters
  open on any page (no blank pages before a chapter); a part's title heads its first chapter's page instead of
  filling a page of its own; the parts that ``_toc.yml`` leaves unnumbered (the back matter) have unnumbered
  chapters, as on the website; the introduction gets a title (``INTRODUCTION``) and its own running footer;
  code is set in DejaVu Sans Mono (where installed) at a size that holds the chapters' 88-character lines
  without wrapping; tables are set ragged right instead of justified in narrow columns.
- sphinx-jupyterbook-latex's document class loads ``bbm`` (blackboard-bold digits), which Debian ships only in
  its 1.4 GB ``texlive-fonts-extra``. The book never uses ``\\mathbbm``; where ``bbm.sty`` is missing, a
  two-line stand-in that maps it to ``\\mathbb`` is written beside the LaTeX sources.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml
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
LONG_TABLE_CHARS = 1500  # about half a page of text in a table's cells: more may not fit on what is left of one
MIN_SHARE = 0.1  # no column narrower than a tenth of the table
LINE_CHARS = 95  # about how many characters of a table cell's text a line of the text width holds


def column_widths(rows: list[list[str]]) -> list[int]:
    """Percent widths for columns holding ``rows`` of cell texts: in proportion to the square root of each
    column's mean text length (a long column gains width, but a short one is not starved into tall rows), and
    at least ``MIN_SHARE`` each and as wide as the column's longest word, so that no word ("confirmed") is
    hyphenated."""
    columns = list(zip(*rows))
    means = [max(1.0, sum(len(t) for t in column) / len(column)) for column in columns]
    words = [
        max((len(w) for t in column for w in t.split()), default=1)
        for column in columns
    ]
    roots = sum(m**0.5 for m in means)
    shares = [
        max(MIN_SHARE, min(0.3, (w + 3) / LINE_CHARS), m**0.5 / roots)
        for m, w in zip(means, words)
    ]
    return [max(1, round(100 * share / sum(shares))) for share in shares]


class LongTables(SphinxPostTransform):
    """For LaTeX: a table that may not fit on a page breaks across pages, with widths for its columns (from
    its text) where it has none."""

    default_priority = 400
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for table in self.document.findall(nodes.table):
            rows = [
                [entry.astext() for entry in row.findall(nodes.entry)]
                for row in table.findall(nodes.row)
            ]
            colspecs = list(table.findall(nodes.colspec))
            if (
                sum(len(t) for row in rows for t in row) > LONG_TABLE_CHARS
                and "longtable" not in table["classes"]
            ):
                # widths given or not (the ledger's tables give them)
                table["classes"].append("longtable")
            if "colwidths-given" in table["classes"]:
                continue
            if (
                (len(rows) <= LONG_TABLE_ROWS and "longtable" not in table["classes"])
                or not colspecs
                or any(len(r) != len(colspecs) for r in rows)
            ):
                continue
            for colspec, width in zip(colspecs, column_widths(rows)):
                colspec["colwidth"] = width
            table["classes"].append("colwidths-given")


INTRODUCTION = "Introduction"  # the root page's title in the PDF, where the book's title is the title page's
# A chapter's code lines are at most 88 characters (book/ruff.toml): at \footnotesize, DejaVu Sans Mono scaled
# to the text's x-height sets about 95 to the text width, so they fit without a continuation marker.
VERBATIM = r"\fvset{fontsize=\footnotesize}"
PREAMBLE = r"""
% book/_ext/pdf_book.py: a book, not a web print
\IfFontExistsTF{DejaVu Sans Mono}{\setmonofont{DejaVu Sans Mono}[Scale=MatchLowercase]}{}
\makeatletter
% tables ragged right: tabulary's columns (T) and the ones with given widths (\X, \Y)
\newcolumntype{T}{L}
\newcolumntype{\X}[2]{>{\raggedright\arraybackslash}p{\dimexpr
      (\linewidth-\spx@arrayrulewidth)*#1/#2-\tw@\tabcolsep-\spx@arrayrulewidth\relax}}
\newcolumntype{\Y}[1]{>{\raggedright\arraybackslash}p{\dimexpr
      #1\dimexpr\linewidth-\spx@arrayrulewidth\relax-\tw@\tabcolsep-\spx@arrayrulewidth\relax}}
% a part's title heads the page of its first chapter; chapters of an unnumbered part are unnumbered
\edef\companion@secnumdepth{\the\value{secnumdepth}}
\newif\ifcompanion@afterpart
\renewcommand\part{\clearpage\secdef\companion@part\companion@spart}
\def\companion@part[#1]#2{\refstepcounter{part}%
  \addcontentsline{toc}{part}{\thepart\hspace{1em}#1}%
  \companion@numbering
  \companion@parthead{\partname\ \thepart\quad #2}}
\def\companion@spart#1{\addcontentsline{toc}{part}{#1}\companion@parthead{#1}}
\def\companion@parthead#1{\thispagestyle{plain}\markboth{}{}%
  {\centering\normalfont\sffamily\Large\bfseries #1\par}\vspace{2\baselineskip}%
  \global\companion@afterparttrue}
\renewcommand\chapter{\ifcompanion@afterpart\global\companion@afterpartfalse\else\clearpage\fi
  \thispagestyle{plain}\global\@topnum\z@\@afterindentfalse\secdef\@chapter\@schapter}
\makeatother
"""


def numbering(unnumbered_parts: list[int]) -> str:
    """LaTeX that sets section numbering on at each part, off at the parts numbered in ``unnumbered_parts``."""
    cases = "".join(
        r"\or\setcounter{secnumdepth}{"
        + ("-1" if i in unnumbered_parts else r"\companion@secnumdepth")
        + "}"
        for i in range(1, max(unnumbered_parts, default=0) + 1)
    )
    return (
        "\\makeatletter\\def\\companion@numbering{\\ifcase\\value{part}"
        + cases
        + "\\fi}\\makeatother\n"
    )


def unnumbered_parts(toc_path: Path) -> list[int]:
    """The 1-based positions of the parts of ``_toc.yml`` that are not numbered (``numbered`` absent or false)."""
    toc = yaml.safe_load(Path(toc_path).read_text(encoding="utf-8"))
    return [
        i for i, part in enumerate(toc.get("parts", []), 1) if not part.get("numbered")
    ]


class TitledIntroduction(SphinxPostTransform):
    """For LaTeX: the root page's text (which follows the table of contents, its own title being the book's)
    opens as an unnumbered chapter titled ``INTRODUCTION``, listed in the contents, with its own running
    footer instead of "CONTENTS"."""

    default_priority = 400
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        if self.document.get("docname") != self.config.root_doc:
            return
        latex = (
            rf"\chapter*{{{INTRODUCTION}}}\addcontentsline{{toc}}{{chapter}}{{{INTRODUCTION}}}"
            rf"\markboth{{{INTRODUCTION}}}{{{INTRODUCTION}}}"
        )
        self.document.insert(0, nodes.raw("", latex, format="latex"))


def _config_inited(app, config) -> None:
    elements = config.latex_elements
    elements.setdefault("extraclassoptions", "openany,oneside")
    elements.setdefault("fvset", VERBATIM)
    toc = Path(app.srcdir) / getattr(config, "external_toc_path", "_toc.yml")
    parts = unnumbered_parts(toc) if toc.exists() else []
    elements["preamble"] = elements.get("preamble", "") + PREAMBLE + numbering(parts)


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
    app.add_post_transform(TitledIntroduction)
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
