"""Throughput of a sweep on Dask against the same draws on a plain process pool, side by side in one run.

    python benchmarks/sweep.py                      # chapter 01 at 3 draws per core, about a minute on 2 cores
    python benchmarks/sweep.py --chapter 05 --draws 4 --repeats 2

The Dask side is `deeplinear_book.sweep.sweep` itself (a fresh ``LocalCluster`` of one single-threaded worker
process per core, started and stopped inside the timing, with an empty cache, the ledger's verdicts and the
csv files); the pool side runs the same draws (`deeplinear_book.sweep.run_draw`) on a
``concurrent.futures.ProcessPoolExecutor`` with as many processes. Each side runs in a fresh copy of the
chapter, so neither reuses the other's cache; with ``--repeats`` the order alternates so that load from
other processes hits both alike. Goal: Dask at least 0.85 of the pool's throughput (draws per second).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from deeplinear_book import sweep

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.85


def book_copy(where: Path, notebook: Path) -> Path:
    """A book root holding only ``notebook`` (and the ledger), so that a sweep of it starts from no cache."""
    (where / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_toc.yml", where / "_toc.yml")
    shutil.copy(ROOT / "book" / "ledger.toml", where / "book" / "ledger.toml")
    shutil.copy(notebook, where / "book" / notebook.name)
    return where


def on_dask(root: Path, chapter: str, seeds: list[int], workers: int) -> tuple[float, float, float]:
    """Wall seconds of the sweep with and without starting and stopping its LocalCluster, and the mean
    seconds of one draw (as the draw timed itself)."""
    import dask
    from dask.distributed import LocalCluster

    start = time.perf_counter()
    with (
        dask.config.set({"distributed.worker.profile.enabled": False}),  # as deeplinear_book.sweep starts its own
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
    ):
        running = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            done = sweep.sweep(root, [chapter], seeds, scheduler=cluster.scheduler_address, progress=False)
        swept = time.perf_counter() - running
    seconds = time.perf_counter() - start
    if done["errors"]:
        raise SystemExit(f"the Dask sweep had {done['errors']} failing draws")
    cached = [json.loads(p.read_text()) for p in (root / "_build" / "sweep" / "cache").rglob("*.json")]
    return seconds, swept, sum(c["seconds"] for c in cached) / len(cached)


def on_pool(root: Path, chapter: str, seeds: list[int], workers: int) -> tuple[float, float, float]:
    (notebook,) = sweep.select_chapters(root, [chapter])
    out = root / "_build" / "pool"
    out.mkdir(parents=True)
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(sweep.run_draw, str(notebook), str(out / f"seed-{s}.ipynb"), {"seed": s}) for s in seeds]
        results = [f.result() for f in futures]
    seconds = time.perf_counter() - start
    if any(r["error"] for r in results):
        raise SystemExit(f"the pool had failing draws: {[r['error'] for r in results if r['error']]}")
    return seconds, seconds, sum(r["seconds"] for r in results) / len(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", default="01", help="the chapter swept (default 01, the quickest)")
    parser.add_argument("--draws", type=int, help="draws per side (default: 3 per worker)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: cores)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each side, interleaved (default 1)")
    args = parser.parse_args()
    for name, value in sweep.DRAW_ENV.items():
        os.environ.setdefault(name, value)
    draws = args.draws or 3 * args.workers
    if draws < 1 or args.workers < 1 or args.repeats < 1:
        raise SystemExit("--draws, --workers and --repeats must be positive integers")
    (notebook,) = sweep.select_chapters(ROOT, [args.chapter])
    seeds = list(range(100, 100 + draws))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{notebook.stem}: {draws} draws on {args.workers} processes, python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load:.2f} at start"
    )
    sides = {"process pool": on_pool, "Dask LocalCluster": on_dask}
    best = {name: [float("inf"), float("inf")] for name in sides}
    for repeat in range(args.repeats):
        for name in list(sides)[:: 1 if repeat % 2 == 0 else -1]:
            with tempfile.TemporaryDirectory(prefix="sweep-bench-") as scratch:
                root = book_copy(Path(scratch), notebook)
                seconds, swept, per_draw = sides[name](root, args.chapter, seeds, args.workers)
            best[name] = [min(best[name][0], seconds), min(best[name][1], swept)]
            print(
                f"  {name:<18} {seconds:6.1f} s ({swept:.1f} s once started)  {draws / seconds:.3f} draws/s;  "
                f"one draw {per_draw:.1f} s, so {per_draw * -(-draws // args.workers):.1f} s at best",
                flush=True,
            )
    whole = best["process pool"][0] / best["Dask LocalCluster"][0]
    started = best["process pool"][1] / best["Dask LocalCluster"][1]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\nthroughput, Dask / process pool (best of {args.repeats}): {whole:.2f} with the cluster's start-up, "
        f"{started:.2f} once started (goal >= {GOAL}: {'met' if whole >= GOAL else 'NOT met'}); "
        f"load average {load:.2f} at end"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
