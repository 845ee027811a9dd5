"""Where a chapter's time goes: its code cells run in one process under cProfile, the time split by what it is.

    python benchmarks/profile_chapters.py             # every chapter at the defaults (about 4 minutes)
    python benchmarks/profile_chapters.py 02 07       # some chapters
    python benchmarks/profile_chapters.py --top 15 02 # and the 15 functions of most own time

Categories (cumulative time of the outermost call of each; they may overlap where one calls another, e.g. a
metric's SVDs inside training): training (`deeplinear.train` and the trainers that call it), SVDs (numpy's and
scipy's), scipy's optimisers and solvers, figures (`deeplinear_book.claims.figure`: layout and PNGs), plotting
(`deeplinear.plotting`), and the rest. Run with ``DEEPLINEAR_ENGINE=numpy`` to see the numpy engine's split.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _outermost(stats: pstats.Stats, match) -> float:
    """Cumulative time of the matching functions that no other matching function called (no double counting)."""
    total = 0.0
    for key, (_, _, _, cum, callers) in stats.stats.items():
        if match(key) and not any(match(c) for c in callers):
            total += cum
    return total


CATEGORIES = {
    "training": lambda k: (
        k[0].endswith(("deeplinear/training.py", "deeplinear/_compiled.py")) and k[2] in ("train", "descend")
    ),
    "SVDs": lambda k: k[2] in ("svd", "svdvals", "eigh", "eigvalsh") and "linalg" in k[0],
    "optimisers": lambda k: (
        "scipy/optimize" in k[0]
        and k[2] in ("minimize", "least_squares", "root", "brentq", "minimize_scalar", "linprog")
    ),
    "figures": lambda k: k[0].endswith("deeplinear_book/claims.py") and k[2] == "figure",
    "plotting": lambda k: "deeplinear/plotting" in k[0] and k[2].startswith("plot"),
}


def profile(notebook: Path, top: int) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    from IPython.core.interactiveshell import InteractiveShell

    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    shell = InteractiveShell.instance()
    os.chdir(notebook.parent)
    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    for cell in cells:
        if shell.run_cell("".join(cell["source"]), silent=True).error_in_exec is not None:
            raise SystemExit(f"{notebook.name}: a cell failed")
    prof.disable()
    total = time.perf_counter() - start
    stats = pstats.Stats(prof)
    split = {name: _outermost(stats, match) for name, match in CATEGORIES.items()}
    print(f"{notebook.stem}: {total:.1f} s; " + ", ".join(f"{n} {v:.1f} s" for n, v in split.items()), flush=True)
    if top:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
        print(out.getvalue().split("\n", 6)[-1])
    return {"total": total, **split}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter stems or numbers (default: all but the report)")
    parser.add_argument("--top", type=int, default=0, help="also print the N functions of most own time")
    args = parser.parse_args()
    os.environ.setdefault("DEEPLINEAR_PROGRESS", "0")
    from deeplinear_book.book import REPORT, chapters, resolve_chapter

    notebooks = [nb for nb in chapters(ROOT) if nb.stem != REPORT]
    if args.chapters:
        wanted = {resolve_chapter(name, ROOT) for name in args.chapters}
        notebooks = [nb for nb in notebooks if nb in wanted]
    if len(notebooks) > 1:  # one process per chapter, as a kernel runs it
        for nb in notebooks:
            cmd = [sys.executable, __file__, nb.stem] + (["--top", str(args.top)] if args.top else [])
            code = os.spawnve(os.P_WAIT, sys.executable, cmd, os.environ)
            if code:
                return code
        return 0
    profile(notebooks[0], args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
