"""Sweeps: the chapters rerun at many seeds on Dask distributed, and how robust each claim is (``make sweep``)::

    python -m deeplinear_book.sweep [--chapters 01 06 ...] [--seeds 29 41 | --seeds 16] [--vary k depth | --vary all]
                                    [--span whole|near] [--scheduler tcp://host:8786] [--out _build/sweep]

Each draw (one chapter at one seed) runs through papermill, as `deeplinear_book.book.run_chapter` runs a chapter,
as one Dask task: by default on a ``LocalCluster`` of one single-threaded worker process per core, or on
the cluster at ``--scheduler`` (or ``DASK_SCHEDULER_ADDRESS``), whose workers must see this folder at the
same path. One integer ``N`` means the seeds ``0, 1, ..., N-1`` (seed 0 is the book's own run); two or
more integers are the seeds themselves. ``--vary`` names parameters that each draw also draws, from the
range declared for them (``parameters.toml``, read by `deeplinear_book.ranges`; the chapter's validation cell
enforces the same declaration): over the whole range (``--span whole``, the default: the parameter survey)
or within a factor of 2 of the default (``--span near``); ``--vary all`` draws
every parameter with a numeric range but the seed and steps. A chapter that has no such parameter runs at its
defaults.

A draw's glued values are cached in ``_build/sweep/cache/`` per chapter, parameters and code (the commit,
a hash of the library's uncommitted changes, a hash of the chapter's code cells), each written atomically,
so an interrupted sweep, rerun, executes only the draws it is missing. A draw that fails is recorded with
its error and the sweep goes on; a worker that dies is restarted by its nanny and its draws are retried.
The sweep writes, sorted so that they do not depend on the scheduling, into ``_build/sweep/``:

- ``draws.csv``, one row per draw and claim (or finding) of ``book/ledger.toml``: chapter, claim, kind,
  seed, parameters, verdict, held, measured, error;
- ``robustness.csv``, one row per claim: chapter, claim, kind, draws, held, not_applicable (the draws outside
  its hypotheses), not_held (the failing draws);
- ``sweep.json``: the code version, the chapters and seeds, when it finished.

A draw that errored is a draw at which the claim is not held (verdict "not run", its error in draws.csv).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import ledger, ranges
from ._files import atomic_write
from .book import LEDGER, REPORT, chapter_code, chapters, code_version, glued_values, resolve_chapter, run_chapter
from .robustness import label as _label
from .robustness import tables, write_csv

# code_version and chapter_code (deeplinear_book.book) are the sweep's cache key, with the chapter and parameters
__all__ = ["seed_list", "select_chapters", "code_version", "chapter_code", "run_draw", "sweep", "main"]

OUT = Path("_build") / "sweep"
# What make's NB_ENV sets, set again on every worker: one thread per draw, no progress bars.
DRAW_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "DEEPLINEAR_PROGRESS": "0",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}


def seed_list(seeds: int | str | Sequence[int]) -> list[int]:
    """The seeds of a sweep: a count ``N`` (an integer, or a string holding one) means ``0, ..., N-1``; a
    string of several integers (split at spaces or commas, ``"29,"`` is the one seed 29) or a sequence of
    integers are the seeds themselves (integers >= 0, repeats dropped, in the order given).

    Parameters
    ----------
    seeds : int, str or sequence of int
        Number of seeds (independent draws), >= 1.

    Returns
    -------
    list of int
        The seeds.

    Raises
    ------
    ValueError
        If ``seeds`` is not valid (the message names the parameter).

    Examples
    --------
    >>> from deeplinear_book.sweep import seed_list
    >>> seed_list(3), seed_list("29, 41"), seed_list("29,")
    ([0, 1, 2], [29, 41], [29])
    """
    items = [seeds] if isinstance(seeds, (int, str)) else list(seeds)
    tokens = [t for item in items for t in str(item).replace(",", " ").split()]
    if not tokens:
        raise ValueError("seeds must be a count N >= 1 or integers >= 0, got nothing")
    bad = [repr(t) for t in tokens if not (t.isdigit() and t.isascii())]
    bad += [repr(item) for item in items if isinstance(item, (bool, float))]
    if bad:
        raise ValueError(f"seeds must be a count N >= 1 or integers >= 0, got {', '.join(bad)}")
    values = [int(t) for t in tokens]
    if isinstance(seeds, int) or (isinstance(seeds, str) and len(values) == 1 and "," not in seeds):
        if not 1 <= values[0] <= 100_000:
            raise ValueError(f"seeds: a count N must be an integer in [1, 100000], got {values[0]}")
        return list(range(values[0]))
    return list(dict.fromkeys(values))


def select_chapters(root: Path, names: Iterable[str] | None = None) -> list[Path]:
    """The chapters to sweep, in reading order: every chapter of ``_toc.yml`` but the report, or the ``names``
    among them (stems or numbers; ValueError naming the unknown ones and the valid chapters).

    Parameters
    ----------
    root : Path
        Root of the repository (default: the one holding this package).
    names : iterable of str or None, optional
        Stems or numbers (None: all).

    Returns
    -------
    list of Path
        The notebooks.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    every = [nb for nb in chapters(root) if nb.stem != REPORT]
    names = [n for n in (names or []) if n.strip()]
    if not names:
        return every
    found, unknown = [], []
    for name in names:
        try:
            found.append(resolve_chapter(name, root, among=every))
        except ValueError:
            unknown.append(name)
    if unknown:
        valid = ", ".join(nb.stem for nb in every)
        raise ValueError(f"chapters: unknown chapter {', '.join(map(repr, unknown))}; valid chapters: {valid}")
    return [nb for nb in every if nb in found]


def run_draw(notebook: str, output: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """One draw, as a Dask task: run ``notebook`` with ``parameters`` into a temporary file beside ``output``,
    renamed to ``output`` when done (failed or not); return its glued ``values``, ``error``, ``seconds`` and
    whether to ``cache`` it (not when the error was the kernel's rather than the chapter's).

    Parameters
    ----------
    notebook : str
        Path of a chapter notebook (.ipynb).
    output : str
        Where the executed notebook goes.
    parameters : dict
        Name -> value.

    Returns
    -------
    dict
        ``values``, ``error``, ``seconds`` and ``cache``.
    """
    for name, value in DRAW_ENV.items():
        os.environ.setdefault(name, value)
    final = Path(output)
    tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:8]}.tmp.ipynb")
    start = time.perf_counter()
    values: dict[str, Any] = {}
    error, cache = None, True
    try:
        run_chapter(Path(notebook), tmp, parameters)
        values = glued_values(tmp)
    except Exception as exc:  # recorded with the draw; the sweep goes on
        name = getattr(exc, "ename", None)  # the chapter's own error, through papermill: it will raise again
        error = f"{name or type(exc).__name__}: {getattr(exc, 'evalue', None) or exc}".strip()[:2000]
        cache = name is not None  # a kernel that died or did not start may do better next time
    finally:
        if tmp.exists():
            os.replace(tmp, final)
    return {"values": values, "error": error, "seconds": round(time.perf_counter() - start, 1), "cache": cache}


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int | None, dashboard: str | None):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    import dask

    n = workers or os.cpu_count() or 1
    # A draw's work runs in its kernel, a subprocess: the workers' statistical profiler would only sample a
    # thread that waits for it, and costs CPU that the draws need on a machine of few cores.
    with (
        dask.config.set({"distributed.worker.profile.enabled": False}),
        LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=dashboard) as cluster,
        Client(cluster) as client,
    ):
        yield client


def sweep(
    root: Path,
    chapter_names: Iterable[str] | None = None,
    seeds: int | str | Sequence[int] = 8,
    *,
    vary: Iterable[str] = (),
    span: str = "whole",
    out: Path | str | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    retries: int = 1,
    dashboard: str | None = ":8787",
    progress: bool = True,
    cache: Path | str | None = None,
) -> dict[str, Any]:
    """Run the chapters (all but the report, or ``chapter_names``) at ``seeds`` (see `seed_list`) on Dask,
    reusing cached draws; write ``draws.csv``, ``robustness.csv`` and ``sweep.json`` into ``out`` (default
    ``_build/sweep/``). Each draw also draws the parameters ``vary`` that its chapter declares, over ``span``
    (`deeplinear_book.ranges.draw`; ``vary=["all"]``: `deeplinear_book.ranges.surveyed`).

    ``scheduler`` (or ``DASK_SCHEDULER_ADDRESS``) is an existing cluster's address; without one, a
    ``LocalCluster`` of ``workers`` (default: one per core) single-threaded processes runs the draws. A task
    that raises is retried ``retries`` times. Returns ``sweep.json``'s content with the ``draws``
    (chapter, parameters, values, error), in the order of ``draws.csv``.

    Parameters
    ----------
    root : Path
        Root of the repository (default: the one holding this package).
    chapter_names : iterable of str or None, optional
        Stems or numbers (None: all but the report).
    seeds : int, str or sequence of int, optional
        Number of seeds (independent draws), >= 1.
    vary : iterable of str, optional
        Parameters drawn too (``["all"]``: every surveyed one).
    span : str, optional
        "whole" or "near" (`deeplinear_book.ranges.draw`).
    out : Path, str or None, optional
        Output folder (default ``_build/sweep/``).
    scheduler : str or None, optional
        A Dask scheduler's address (None: a LocalCluster).
    workers : int or None, optional
        Worker processes of the LocalCluster (default: one per core).
    retries : int, optional
        Retries of a task that raises, >= 0.
    dashboard : str or None, optional
        The dashboard's address (None: none).
    progress : bool, optional
        Show a progress bar: None (when the run looks long), True or False.
    cache : Path, str or None, optional
        The draws' cache folder (default ``_build/sweep/cache/``, whatever ``out``; benchmarks/chapters.py gives
        each engine its own, empty).

    Returns
    -------
    dict
        ``sweep.json``'s content with the ``draws``.

    Raises
    ------
    ValueError
        If ``retries``, ``workers`` or ``span`` is not valid (the message names the parameter).
    """
    root = Path(root).resolve()
    notebooks = select_chapters(root, chapter_names)
    seed_values = seed_list(seeds)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    the_ledger = ledger.load(root / LEDGER)
    if span not in ranges.SPANS:
        raise ValueError(f"span must be one of {ranges.SPANS}, got {span!r}")
    out, version = (root / OUT if out is None else Path(out).resolve()), code_version(root)
    varied = _varied(notebooks, vary)
    draws = []
    for nb in notebooks:
        code = chapter_code(nb)
        for seed in seed_values:
            parameters = {"seed": seed, **ranges.draw(varied[nb][0], varied[nb][1], seed, span)}
            ident = json.dumps([nb.stem, parameters, version, code], sort_keys=True)
            key = hashlib.sha256(ident.encode()).hexdigest()[:24]
            cached = Path(cache) if cache is not None else root / OUT / "cache"  # one, whatever the output folder
            draws.append({"notebook": nb, "parameters": parameters, "cache": cached / nb.stem / f"{key}.json"})
    done: dict[Path, dict[str, Any]] = {}
    for d in draws:
        with contextlib.suppress(OSError, ValueError):
            done[d["cache"]] = json.loads(d["cache"].read_text(encoding="utf-8"))
    missing = [d for d in draws if d["cache"] not in done]
    print(f"sweep: {len(notebooks)} chapters x {len(seed_values)} seeds = {len(draws)} draws, "
          f"{len(draws) - len(missing)} cached, {len(missing)} to run (code {version or 'outside git'})")  # fmt: skip
    if missing:
        done.update(_compute(root, out, missing, version, scheduler, workers, retries, dashboard, progress))
    results = [
        {"chapter": d["notebook"].stem, "parameters": d["parameters"], **_outcome(done[d["cache"]])} for d in draws
    ]
    results.sort(key=lambda r: (r["chapter"], sorted(r["parameters"].items())))
    draw_rows, robustness = tables(the_ledger, results)
    write_csv(out / "draws.csv", draw_rows)
    write_csv(out / "robustness.csv", robustness)
    summary = {
        "commit": version,
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "chapters": [nb.stem for nb in notebooks],
        "seeds": seed_values,
        "vary": {nb.stem: names for nb, (_, names) in varied.items() if names},
        "span": span,
        "errors": sum(1 for r in results if r["error"]),
    }
    atomic_write(out / "sweep.json", json.dumps(summary, indent=2) + "\n")
    for row in robustness:
        if row["not_held"]:
            inside = row["draws"] - row["not_applicable"]
            print(f"held at {row['held']} of {inside} draws: {row['claim']} ({row['chapter']}); "
                  f"not at {row['not_held']}", file=sys.stderr)  # fmt: skip
    print(
        f"{len(draws) - summary['errors']}/{len(draws)} draws ran ({len(missing)} now, {len(draws) - len(missing)} "
        f"from the cache); {out / 'draws.csv'}, {out / 'robustness.csv'}"
    )
    return dict(summary, draws=results)


def _varied(notebooks: list[Path], vary: Iterable[str]) -> dict[Path, tuple[dict, list[str]]]:
    """Each chapter's declared ranges and the names of ``vary`` it declares; ValueError for a name that no
    chapter declares, or that one declares without a range to draw from (the seed is the sweep's own axis)."""
    items = [vary] if isinstance(vary, str) else list(vary)  # "k depth", "k,depth" or ["k", "depth"]
    names = list(dict.fromkeys(n for item in items for n in str(item).replace(",", " ").split()))
    if "seed" in names:
        raise ValueError("vary: the seed is drawn by SEEDS=, not VARY=")
    if "steps" in names:
        raise ValueError("vary: steps is the budget of a run, not a parameter of a claim, and is never drawn")
    declared = {nb: ranges.declared(nb) for nb in notebooks} if names else {nb: {} for nb in notebooks}
    if names == ["all"]:
        return {nb: (declared[nb], ranges.surveyed(declared[nb])) for nb in notebooks}
    for name in names:
        found = [nb.stem for nb in notebooks if name in declared[nb]]
        if not found:
            every = sorted({n for d in declared.values() for n, r in d.items() if r is not None and n != "seed"})
            raise ValueError(f"vary: no chosen chapter has a parameter {name!r}; they have {', '.join(every)}")
        fixed = [nb.stem for nb in notebooks if name in declared[nb] and declared[nb][name] is None]
        if fixed:
            raise ValueError(f"vary: {name} states no range to draw from in {', '.join(fixed)}")
    return {nb: (declared[nb], [n for n in names if n in declared[nb]]) for nb in notebooks}


def _outcome(cached: dict[str, Any]) -> dict[str, Any]:
    return {"values": cached.get("values", {}), "error": cached.get("error")}


def _compute(
    root, out, missing, version, scheduler, workers, retries, dashboard, progress
) -> dict[Path, dict[str, Any]]:
    """Submit the ``missing`` draws, longest chapters first; cache each result as it arrives."""
    from dask.distributed import as_completed
    from tqdm.auto import tqdm

    results = {}
    with _client(scheduler, workers, dashboard) as client:
        if dashboard or scheduler:
            print(f"Dask dashboard: {client.dashboard_link}")
        cost = {nb: _seconds(nb) for nb in {d["notebook"] for d in missing}}
        futures = {}
        for d in sorted(missing, key=lambda d: -cost[d["notebook"]]):  # the longest chapters first
            nb, label = d["notebook"], _label(d["parameters"])
            safe = re.sub(r"[^\w.,=-]+", "", label)  # a list's brackets and spaces: hidden=[64, 8] -> hidden=64,8
            output = out / "runs" / nb.stem / f"{safe.replace('=', '-').replace(',', '_')}.ipynb"
            output.parent.mkdir(parents=True, exist_ok=True)
            key = f"{nb.stem}-{label}-{d['cache'].stem[:8]}"
            future = client.submit(
                run_draw, str(nb), str(output), d["parameters"], key=key, pure=False, retries=retries,
                priority=round(cost[nb]),
            )  # fmt: skip
            futures[future] = d
        with tqdm(total=len(futures), desc="sweep", unit="draw", disable=not progress) as bar:
            for future in as_completed(futures):
                d = futures[future]
                try:
                    result = future.result()
                except Exception as exc:  # the task itself failed (a worker died too often, ...): not cached
                    entry = {"values": {}, "error": f"{type(exc).__name__}: {exc}"[:2000], "seconds": None}
                else:
                    entry = {"chapter": d["notebook"].stem, "parameters": d["parameters"], "commit": version, **result}
                    if entry.pop("cache"):
                        atomic_write(d["cache"], json.dumps(entry, indent=1, default=str) + "\n")
                results[d["cache"]] = entry
                status = "FAILED" if entry["error"] else "ok"
                bar.write(f"{status:>6}  {d['notebook'].stem:<36} {_label(d['parameters']):<12} {entry['seconds']} s")
                bar.update()
    return results


def _seconds(notebook: Path) -> float:
    """How long the committed chapter took to execute (``make execute`` records it), 0 when unknown."""
    metadata = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]
    return float(metadata.get("deeplinear", {}).get("execution_seconds", 0))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deeplinear_book.sweep",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--chapters", nargs="*", default=[], metavar="CHAPTER", help="stems or numbers (default: all)")
    parser.add_argument("--seeds", nargs="+", default=["8"], help="N (the seeds 0..N-1) or the seeds (default 8)")
    parser.add_argument(
        "--vary",
        nargs="*",
        default=[],
        metavar="NAME",
        help="parameters to draw as well (VARY=; all: every ranged one)",
    )
    parser.add_argument(
        "--span", default="whole", choices=ranges.SPANS, help="draw over the whole range or near the default"
    )
    parser.add_argument(
        "--out", type=Path, help="folder for draws.csv, robustness.csv, sweep.json (default _build/sweep)"
    )
    parser.add_argument("--scheduler", help="an existing Dask scheduler, tcp://host:8786 (or DASK_SCHEDULER_ADDRESS)")
    parser.add_argument("--workers", type=int, help="workers of the LocalCluster (default: one per core)")
    parser.add_argument("--retries", type=int, default=1, help="retries of a task that raises (default 1)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the book's root (holds _toc.yml)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``make sweep``: exit status 1 when a draw errored, 0 otherwise (claims that do not hold are results).

    Parameters
    ----------
    argv : list of str or None, optional
        Command-line arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.

    Raises
    ------
    SystemExit
        See the message.
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    args = _parser().parse_args(argv)
    if not (args.root / "_toc.yml").exists():
        raise SystemExit(f"{args.root} holds no _toc.yml: run from the book's root or pass --root")
    try:
        done = sweep(
            args.root,
            args.chapters,
            " ".join(args.seeds),
            vary=args.vary,
            span=args.span,
            out=args.out,
            scheduler=args.scheduler,
            workers=args.workers,
            retries=args.retries,
        )
    except ValueError as exc:
        hint = "CHAPTERS=, SEEDS=, VARY=; see README, 'Sweeps over seeds (Dask)'"
        raise SystemExit(f"make sweep: {exc} ({hint})") from None
    except KeyboardInterrupt:
        print("\ninterrupted: the draws that finished are cached; the same command runs the rest", file=sys.stderr)
        return 130
    return 1 if done["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
