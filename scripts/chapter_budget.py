"""Count the chapters' code against the targets of a chapter that reads like a lecture (make lint).

A chapter calls named library functions between paragraphs (book/numbers-that-travel.md and the
README's contributor notes): the chapters (book/0*.ipynb) together hold at most TOTAL lines of code
(non-blank, non-comment lines of code cells), and in every notebook of the book (the reproduction
report too) no cell holds more than CELL, no class is defined, at most FUNCTIONS functions are, and no
function name is defined in two notebooks.

    python scripts/chapter_budget.py [--report]    # exit status 1 when a target is exceeded
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
# TOTAL was 1,000 while the ledger held 41 rows; since the ledger holds every statement of both papers, each claim
# with the hypotheses and criteria it glues (85 rows), the chapters hold about 1,150 lines: 13 a row, against 24
# before. The cell, class and function limits are what keep each chapter a lecture.
TOTAL, CELL, FUNCTIONS = 1200, 30, 3


def code_lines(source: str) -> int:
    return sum(1 for line in source.splitlines() if line.strip() and not line.strip().startswith(("#", "%")))


def survey(notebook: Path) -> dict:
    cells = [c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    functions, classes = [], []
    for source in cells:
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%")))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append(node.name)
            elif isinstance(node, ast.ClassDef):
                classes.append(node.name)
    sizes = [code_lines(s) for s in cells]
    return {"lines": sum(sizes), "sizes": sizes, "functions": functions, "classes": classes}


def main(argv: list[str]) -> int:
    notebooks = sorted((ROOT / "book").glob("*.ipynb"))
    found = {nb.stem: survey(nb) for nb in notebooks}
    problems = []
    defined = defaultdict(list)
    for name, s in found.items():
        for i, size in enumerate(s["sizes"]):
            if size > CELL:
                problems.append(f"{name}: code cell {i} has {size} lines (at most {CELL})")
        if s["classes"]:
            problems.append(f"{name}: defines classes {s['classes']} (move them to the library)")
        if len(s["functions"]) > FUNCTIONS:
            problems.append(f"{name}: defines {len(s['functions'])} functions {s['functions']} (at most {FUNCTIONS})")
        for f in set(s["functions"]):
            defined[f].append(name)
    for f, where in sorted(defined.items()):
        if len(where) > 1:
            problems.append(f"function {f!r} is defined in {len(where)} notebooks: {', '.join(where)}")
    total = sum(s["lines"] for name, s in found.items() if name[0].isdigit())
    if total > TOTAL:
        problems.append(f"the chapters hold {total} lines of code (at most {TOTAL})")
    if "--report" in argv or problems:
        for name, s in found.items():
            print(
                f"{name:45s} {s['lines']:4d} lines, largest cell {max(s['sizes'], default=0):3d}, "
                f"{len(s['functions'])} functions, {len(s['classes'])} classes"
            )
        print(f"{'all chapters (0*.ipynb)':45s} {total:4d} lines (target {TOTAL})")
    for p in problems:
        print("chapter budget:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
