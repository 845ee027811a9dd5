"""scripts/check_docstrings.py (run by `make lint`): it passes a complete numpydoc docstring and names what is
missing in an incomplete one."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_docstrings", ROOT / "scripts" / "check_docstrings.py")
checker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checker)


def complete(x: int, *, scale: float = 1.0) -> float:
    """Scale a number.

    Parameters
    ----------
    x : int
        The number.
    scale : float, optional
        The factor.

    Returns
    -------
    float
        ``x * scale``.

    Raises
    ------
    ValueError
        If ``scale`` is negative.

    References
    ----------
    Paper: eq. (1).
    """
    return x * scale


def missing_description(x: int, scale: float) -> float:
    """Scale a number.

    Parameters
    ----------
    x : int
        The number.
    scale : float

    Returns
    -------
    float
        ``x * scale``.
    """
    return x * scale


def missing_parameter(x: int, scale: float) -> float:
    """Scale a number.

    Parameters
    ----------
    x : int
        The number.

    Returns
    -------
    float
        ``x * scale``.
    """
    return x * scale


def packed(x: int, scale: float) -> float:
    """Scale a number.

    Parameters
    ----------
    x : int; scale : float, the factor.

    Returns
    -------
    float, ``x * scale``.

    Paper: eq. (1).
    """
    return x * scale


def test_a_complete_docstring_passes():
    assert checker.check(complete) == []


def test_a_parameter_without_description_fails():
    assert checker.check(missing_description) == ["Parameters: 'scale' has no description"]


def test_an_undocumented_parameter_fails():
    assert checker.check(missing_parameter) == ["Parameters: not documented: scale"]


def test_packed_lines_and_a_paper_line_read_as_a_return_fail():
    problems = checker.check(packed)
    assert "Parameters: 'x' has no description" in problems
    assert "Parameters: not documented: scale" in problems
    # napoleon would read "Paper: eq. (1)." as a second return value (without description)
    assert any(p.startswith("Returns: 'Paper: eq. (1).' has no description") for p in problems)


def test_a_dataclass_documents_every_field_and_a_named_tuple_each_field():
    @dataclasses.dataclass
    class Point:
        """A point.

        Attributes
        ----------
        x : float
            Abscissa.
        """

        x: float
        y: float

    class Pair(NamedTuple):
        """A pair."""

        a: int
        b: int

    assert checker.check(Point) == ["Attributes: not documented: y"]
    assert [p.split(" (")[0] for p in checker.check(Pair)] == [
        "field 'a' has no '#:' comment",
        "field 'b' has no '#:' comment",
    ]


@pytest.mark.parametrize("argv", [["--stats"]])
def test_the_public_api_passes(argv, capsys):
    assert checker.main(argv) == 0, capsys.readouterr().out


def _api_page():
    """(module, documented names) for every automodule of book/api.md, and (module, names) of its autosummaries."""
    import importlib
    import inspect
    import re

    text = (ROOT / "book" / "api.md").read_text()
    documented = []
    for module, options in re.findall(r"\.\. automodule:: ([\w.]+)\n((?:   :[^\n]*\n)*)", text):
        mod = importlib.import_module(module)
        members = re.search(r":members:(.*)", options).group(1).strip()
        excluded = re.search(r":exclude-members:(.*)", options)
        excluded = {n.strip() for n in excluded.group(1).split(",")} if excluded else set()
        names = [n.strip() for n in members.split(",")] if members else list(getattr(mod, "__all__", []))
        objects = [getattr(mod, n) for n in names if n not in excluded]
        documented.append((module, [o for o in objects if inspect.isfunction(o) or inspect.isclass(o)]))
    summaries = re.findall(
        r"\.\. currentmodule:: ([\w.]+)\n\n(?:\.\. rubric::[^\n]*\n\n)?\.\. autosummary::\n\n((?:   \w+\n?)+)", text
    )
    return documented, [(m, names.split()) for m, names in summaries]


def test_the_api_page_lists_every_public_object_once():
    documented, summaries = _api_page()
    seen: dict[int, list[str]] = {}
    for module, objects in documented:
        for obj in objects:
            seen.setdefault(id(obj), []).append(f"{module}.{obj.__name__}")
    assert [where for where in seen.values() if len(where) > 1] == []
    public = {id(obj): name for name, obj in checker.public_objects() if "." not in obj.__qualname__}
    assert sorted(name for key, name in public.items() if key not in seen) == []
    documented_names = {module: sorted(o.__name__ for o in objects) for module, objects in documented}
    for module, names in summaries:  # the PDF's compact appendix, where the page has one: the same objects
        assert sorted(names) == documented_names[module], module
