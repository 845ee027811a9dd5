"""The chapters' time with the compiled engine against the numpy engine, side by side in one run.

    python benchmarks/chapters.py                      # every chapter at the defaults (about 8 minutes)
    python benchmarks/chapters.py --only 02 05         # some chapters
    python benchmarks/chapters.py --preset paper --only 08
    python benchmarks/chapters.py --sweep 8 --only 02 03   # make sweep SEEDS=8 on those chapters

Each chapter runs as `make reproduce` runs it (papermill, a fresh kernel, one thread, figures in full), once with
``DEEPLINEAR_ENGINE=numpy`` (the engine `train` had before issue 25) and once with ``DEEPLINEAR_ENGINE=auto``
(its default since), one after the other, the order alternating from chapter to chapter so that load on the
machine hits both alike. ``--sweep N`` times `deeplinear_book.sweep.sweep` over the seeds 0..N-1 instead
(a Dask LocalCluster of one worker per core, an empty cache each time). The numba cache is warmed first, and the
time that took is printed apart. Prints seconds and the ratio numpy / auto (> 1: the compiled engine is faster).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("numpy", "auto")
TARGETS = {"chapters 01-06": 2.0, "chapters 07-08": 1.0}  # numpy / auto, all of the group's chapters
# What make's NB_ENV sets: one thread, no progress bars.
NB_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "DEEPLINEAR_PROGRESS": "0"}
_WARM = """
import numpy as np
from deeplinear import train
rng = np.random.default_rng(0)
for S in (None, 64):
    lead = () if S is None else (S,)
    Ws = [np.eye(9) + 0.1 * rng.standard_normal((*lead, 9, 9)) for _ in range(3)]
    train(Ws, np.eye(9), np.eye(9), lr=1e-3, steps=2000, record=2000, engine="compiled", progress=False)
"""


def warm_cache() -> float:
    """Compile (or load) the compiled engine's kernels once, in a fresh process; the seconds it took."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", _WARM], check=True, env=os.environ | NB_ENV)
    return time.perf_counter() - start


def time_chapter(notebook: Path, engine: str, parameters: dict, out: Path) -> float:
    from deeplinear_book.book import run_chapter

    os.environ["DEEPLINEAR_ENGINE"] = engine
    return run_chapter(notebook, out / f"{notebook.stem}-{engine}.ipynb", parameters)


def time_sweep(names: list[str], seeds: int, engine: str, out: Path) -> float:
    from deeplinear_book.sweep import sweep

    os.environ["DEEPLINEAR_ENGINE"] = engine
    start = time.perf_counter()
    sweep(
        ROOT, names, seeds, out=out / f"sweep-{engine}", cache=out / f"cache-{engine}", dashboard=None, progress=False
    )
    return time.perf_counter() - start


def preset_parameters(notebook: Path, preset: str) -> dict:
    if preset == "book":
        return {}
    import yaml

    path = ROOT / "book" / "presets" / notebook.stem / f"{preset}.yaml"
    if not path.exists():
        raise SystemExit(f"no preset {preset!r} for {notebook.stem}: {path} is missing")
    return yaml.safe_load(path.read_text()) or {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="CHAPTER", help="chapter stems or numbers (default: all)")
    parser.add_argument("--preset", default="book", help="book (the defaults) or paper")
    parser.add_argument("--sweep", type=int, metavar="SEEDS", help="time make sweep SEEDS=N on the chapters instead")
    args = parser.parse_args()
    os.environ.update(NB_ENV)
    from deeplinear_book.book import REPORT, chapters, resolve_chapter

    notebooks = [nb for nb in chapters(ROOT) if nb.stem != REPORT]
    if args.only:
        wanted = {resolve_chapter(name, ROOT) for name in args.only}
        notebooks = [nb for nb in notebooks if nb in wanted]
    print(f"chapters' time, engine numpy against auto (compiled where it pays off); {os.cpu_count()} cores")
    print(f"warming the numba cache: {warm_cache():.1f} s (a cold cache compiles; a warm one loads)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if args.sweep:
            names = [nb.stem for nb in notebooks]
            times = {engine: time_sweep(names, args.sweep, engine, out) for engine in ENGINES}
            rows.append((f'make sweep SEEDS={args.sweep} CHAPTERS="{" ".join(n[:2] for n in names)}"', times))
        else:
            for i, nb in enumerate(notebooks):
                parameters = preset_parameters(nb, args.preset)
                order = ENGINES if i % 2 == 0 else ENGINES[::-1]
                times = {engine: time_chapter(nb, engine, parameters, out) for engine in order}
                rows.append((f"{nb.stem} ({args.preset})", times))
                print(f"  {rows[-1][0]:44} numpy {times['numpy']:7.1f} s   auto {times['auto']:7.1f} s", flush=True)
    print(f"\n  {'':44} {'numpy, s':>9} {'auto, s':>9} {'numpy/auto':>11}")
    groups = {}
    for name, times in rows:
        print(f"  {name:44} {times['numpy']:9.1f} {times['auto']:9.1f} {times['numpy'] / times['auto']:11.2f}")
        group = "chapters 01-06" if name[:2] in {"01", "02", "03", "04", "05", "06"} else "chapters 07-08"
        for engine in ENGINES:
            groups.setdefault(group, dict.fromkeys(ENGINES, 0.0))[engine] += times[engine]
    if not args.sweep and len(rows) > 1:
        for group, times in groups.items():
            ratio = times["numpy"] / times["auto"]
            print(f"  {'all of ' + group:44} {times['numpy']:9.1f} {times['auto']:9.1f} {ratio:11.2f}")
        print("\nTargets (issue 25)")
        for group, want in TARGETS.items():
            if group in groups:
                ratio = groups[group]["numpy"] / groups[group]["auto"]
                verdict = "met" if ratio >= want else f"missed by a factor {want / ratio:.2f}"
                print(f"  {group} at the {args.preset} preset: {ratio:.2f}× faster (target ≥ {want}×): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
