"""deeplinear_book: the book's machinery around deeplinear.

deeplinear is the science (networks, training, metrics, theory) and knows nothing of the book; this package
is the tooling that runs the book: the list of chapters and the one way to execute one
(`deeplinear_book.book`), the runner and ``make reproduce`` (``python -m deeplinear_book.run``), the one
declaration of every chapter's parameters and their ranges (``parameters.toml``, read by
`deeplinear_book.ranges`) and their checks (`deeplinear_book.params`). It imports deeplinear's neighbours
(papermill, pyyaml, nbformat), which the ``book`` extra installs (``pip install '.[book]'``): without them
``import deeplinear_book`` raises an ImportError that names the missing packages and the extra. deeplinear
never imports it.
"""

import importlib.util as _util

# distribution -> module of what the tooling imports (the book extra installs them)
_NEEDS = {"pyyaml": "yaml", "papermill": "papermill", "nbformat": "nbformat", "myst-nb": "myst_nb"}


def _missing() -> list[str]:
    out = []
    for distribution, module in _NEEDS.items():
        try:
            found = _util.find_spec(module) is not None
        except (ImportError, ValueError):  # a module set to None in sys.modules, a broken parent package
            found = False
        if not found:
            out.append(distribution)
    return out


if _missing():
    raise ImportError(
        f"the book's tooling (deeplinear_book) needs {', '.join(_missing())}, which the book extra installs: "
        "pip install '.[book]' in a clone of the repository (or 'deeplinear[book]'), or make env"
    )

from . import params  # noqa: E402
from .book import (  # noqa: E402
    chapters,
    check_names,
    declared_parameters,
    execute_in_place,
    glued_text,
    glued_values,
    resolve_chapter,
    run_chapter,
)
from .claims import claim, figure  # noqa: E402

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
