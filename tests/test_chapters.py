"""Chapters rerun with other parameters (through `deeplinear_book.book.run_chapter`, the one runner), and reject bad
ones; and the chapter tests take their thresholds from the ledger."""

from __future__ import annotations

import ast
import operator
import os
from pathlib import Path
from unittest import mock

import pytest
from papermill import PapermillExecutionError as ChapterFailed  # what a chapter that raises raises

from deeplinear_book import glued_text as glued  # the chapter tests import it from here
from deeplinear_book import glued_values, ledger
from deeplinear_book.book import run_chapter
from deeplinear_book.claims import DRAFT_FIGURES

ROOT = Path(__file__).resolve().parents[1]
LEDGER = ledger.load(ROOT / "book" / "ledger.toml")


def run(chapter: str, tmp_path: Path, **parameters) -> Path:
    """Execute ``book/<chapter>.ipynb`` with ``parameters`` into ``tmp_path`` as the runner does, its figures in
    draft (built, but glued as coarse PNGs without phone renditions: these tests check claims, not pixels)."""
    out = tmp_path / f"{chapter}.ipynb"
    with mock.patch.dict(os.environ, {DRAFT_FIGURES: "1"}):
        run_chapter(ROOT / "book" / f"{chapter}.ipynb", out, parameters)
    return out


def assert_claims(chapter: str, notebook: Path, skip: tuple[str, ...] = ()) -> None:
    """The ledger's criteria for ``chapter`` hold on a rerun (book/ledger.toml is their one source);
    ``skip`` names values whose criteria assume the chapter's default step budget."""
    failed = ledger.failed_checks(LEDGER, chapter, glued_values(notebook), skip)
    assert not failed, "\n".join(failed)


def assert_ledger(chapter: str, values: dict, *names: str) -> None:
    """Every criterion the ledger states on each of ``names`` for ``chapter`` (its checks and hypotheses) holds
    on ``values`` (glued values, as `glued_values` reads them), whether or not the rest of its row applies: a
    chapter test asserts a ledger-checked value with the ledger's threshold, never one of its own."""
    failed = []
    for name in names:
        found = [(e, c) for e in LEDGER.for_chapter(chapter) for c in (*e.checks, *e.hypotheses) if c.value == name]
        assert found, f"the ledger states no criterion on {name!r} for {chapter}"
        failed += [
            f"{e.id}: {name} = {values[name]!r}, expected {c.criterion()}" for e, c in found if not c.holds(values)
        ]
    assert not failed, "\n".join(failed)


def test_01_rejects_k_out_of_range(tmp_path):
    with pytest.raises(ChapterFailed, match=r"k must be an integer in \[2, 64\], got 0"):
        run("01-alignment", tmp_path, k=0)


def test_01_reruns_with_other_parameters(tmp_path):
    assert_claims("01-alignment", run("01-alignment", tmp_path, seed=3, k=6, depth=5))


def test_01_holds_at_the_smallest_width(tmp_path):
    """k = 2, where Gaussian layers often score above 0.95 on the released alignment by chance: the
    criteria (the defect, the deterministic constructions) hold all the same."""
    path = run("01-alignment", tmp_path, seed=1, k=2, depth=12)
    assert_claims("01-alignment", path)
    values = glued(path)
    assert float(values["corresponding_columns_alignment"]) == 0.0
    assert float(values["def3_invariance_rotated"]) == 0.8536


# -- thresholds come from the ledger ----------------------------------------------------------------------------
_LOWER = {ast.Gt, ast.GtE}
_UPPER = {ast.Lt, ast.LtE}
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _literal(node: ast.AST) -> float | None:
    """The number a constant expression (``1e-3``, ``-2``, ``1 - 1e-6``) stands for, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and (v := _literal(node.operand)) is not None:
        return -v
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _literal(node.left), _literal(node.right)
        return None if left is None or right is None else _OPS[type(node.op)](left, right)
    return None


def _glued_name(node: ast.AST) -> str | None:
    """The glued value's name in ``values["x"]``, ``float(values["x"])`` or ``number(values, "x")``."""
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        return node.slice.value
    if isinstance(node, ast.Call) and node.args:
        last = node.args[-1]
        if isinstance(last, ast.Constant) and isinstance(last.value, str):
            return last.value
        return _glued_name(last)
    return None


def literal_bounds(source: str) -> list[tuple[int, str, str, float]]:
    """(line, glued name, "lower" or "upper", number) for every comparison in ``source`` of a glued value with
    a number written in the test."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        items = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, items[:-1], items[1:], strict=True):
            if type(op) not in _LOWER | _UPPER:
                continue
            for name_node, number_node, flip in ((left, right, False), (right, left, True)):
                name, number = _glued_name(name_node), _literal(number_node)
                if name is not None and number is not None:
                    lower = (type(op) in _LOWER) != flip
                    found.append((node.lineno, name, "lower" if lower else "upper", number))
    return found


def ledger_bounds(chapter: str) -> dict[str, set[str]]:
    """Glued name -> the sides ("lower", "upper") on which the ledger bounds it by a number, for ``chapter``."""
    sides: dict[str, set[str]] = {}
    for entry in LEDGER.for_chapter(chapter):
        for c in (*entry.checks, *entry.hypotheses):
            if c.op in ("ge", "gt", "between") and not isinstance(c.threshold, str):
                sides.setdefault(c.value, set()).add("lower")
            if c.op in ("le", "lt", "between") and not isinstance(c.threshold, str):
                sides.setdefault(c.value, set()).add("upper")
    return sides


def test_literal_bounds_reads_every_form_of_comparison():
    source = 'assert 0.9 < v["a"] <= v["b"] < 1.1\nassert number(values, "c") >= 1 - 1e-6\nassert v["d"] == 2'
    assert literal_bounds(source) == [(1, "a", "lower", 0.9), (1, "b", "upper", 1.1), (2, "c", "lower", 1 - 1e-6)]


@pytest.mark.parametrize("path", sorted(Path(__file__).parent.glob("test_chapter*.py")), ids=lambda p: p.stem)
def test_chapter_tests_take_their_thresholds_from_the_ledger(path):
    """A chapter test that bounds a glued value on a side where the ledger bounds it by a number states a
    threshold of its own, which drifts from the ledger's (test_chapter_04 once asked > 1e-2 where the ledger
    said 1e-3): it asserts the ledger's criterion instead (`assert_ledger`, `assert_claims`)."""
    prefix = path.stem.removeprefix("test_chapter_").removeprefix("test_chapters") or "01"
    chapter = next(c for c in LEDGER.chapters() if c.startswith(prefix))
    sides = ledger_bounds(chapter)
    drifted = [
        f"{path.name}:{line}: {name} bounded ({side}) by {number!r}, where the ledger states that bound"
        for line, name, side, number in literal_bounds(path.read_text(encoding="utf-8"))
        if side in sides.get(name, ())
    ]
    assert not drifted, "\n".join(drifted)
