"""companion: the book's machinery around deeplinear.

deeplinear is the science (networks, training, metrics, theory) and knows nothing of the book; this package
is the tooling that runs the book: the list of chapters and the one way to execute one
(`companion.book`), the runner and ``make reproduce`` (``python -m companion.run``), and the checks of a
chapter's parameters (`companion.params`). It imports deeplinear's neighbours (papermill, pyyaml, nbformat),
which the ``book`` extra installs; deeplinear never imports it.
"""

from . import params
from .book import (
    chapters,
    check_names,
    declared_parameters,
    execute_in_place,
    glued_text,
    glued_values,
    resolve_chapter,
    run_chapter,
)
from .claims import claim, figure

__all__ = [
    "chapters",
    "claim",
    "figure",
    "check_names",
    "declared_parameters",
    "execute_in_place",
    "glued_text",
    "glued_values",
    "params",
    "resolve_chapter",
    "run_chapter",
]
