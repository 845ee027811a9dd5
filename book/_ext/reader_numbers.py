"""Numbers for people on every page: e-notation and over-long decimals rewritten when the book is built.

The chapters glue their numbers at the digits that travel and format them with Python's format specs; the
committed notebooks keep that text (nbval compares it). Here every text of every page, on the website and in
the PDF, goes through `deeplinear_book.numbers.reader_text`, the formatter the claims ledger uses too:
``2.7e-28`` reads ``2.7×10⁻²⁸``, ``1.0000000000`` reads ``1 (to 10⁻¹⁰)``. Code, math, raw markup and API
signatures are left exactly as written.
"""

from __future__ import annotations

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

from deeplinear_book.numbers import reader_text

# Text under these is code or markup, shown as written.
_VERBATIM = (
    nodes.literal,
    nodes.literal_block,
    nodes.math,
    nodes.math_block,
    nodes.raw,
    nodes.FixedTextElement,
    addnodes.desc_signature,
)


def _verbatim(node: nodes.Node) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, _VERBATIM):
            return True
        parent = parent.parent
    return False


class ReaderNumbers(SphinxPostTransform):
    """Rewrite the numbers in every text node outside code and math (`reader_text`)."""

    default_priority = 900  # after myst-nb's glue references are resolved

    def run(self, **kwargs) -> None:
        for text in list(self.document.findall(nodes.Text)):
            new = reader_text(str(text))
            if new != str(text) and not _verbatim(text):
                text.parent.replace(text, nodes.Text(new))


def setup(app):
    app.add_post_transform(ReaderNumbers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
