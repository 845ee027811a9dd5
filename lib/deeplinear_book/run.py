"""Run the book's chapters through papermill.

One chapter, with chosen parameters (unknown names are refused, unlike papermill's warning)::

    python -m deeplinear_book.run 03-invariance-theorem -p seed 11 -p k 6 [-f preset.yaml] [-o out.ipynb]

which evaluates the chapter's rows of the claims ledger on the run, prints them as a small table, writes them
beside the output as ``out.ledger.csv`` (the columns of ``make reproduce``'s ``ledger.csv``) and exits with
status 1 when a claim is "not reproduced" (a run outside a claim's hypotheses is "not applicable", no failure).

Every chapter of ``_toc.yml``, in parallel, with a preset (``make reproduce``)::

    python -m deeplinear_book.run --all --preset book|paper [--jobs N] [--seed S] [--only 01 06 ...]

which writes the executed chapters, ``claims.json`` (every glued value) and ``ledger.csv`` (every claim of
``book/ledger.toml`` with its verdict) into ``_build/reproduce/<preset>/`` (``<preset>-seed<S>/`` with
``--seed``, which sets every chapter's ``seed``), and exits with status 1 when a chapter fails or a claim
of the chapters run is not reproduced.

Outputs go under ``_build/`` (scratch space, rewritten freely); an explicit ``-o`` file that already exists
is only replaced with ``--overwrite``, and the committed chapters in ``book/`` are never written.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import yaml

from . import ledger
from ._files import atomic_write
from .book import (
    LEDGER,
    REPORT,
    chapter_code,
    chapters,
    check_names,
    code_version,
    glued_values,
    resolve_chapter,
    run_chapter,
)

__all__ = ["reproduce", "merge_claims", "verdicts", "main"]


def _job(notebook: str, output: str, parameters: dict[str, Any]) -> tuple[float, str | None]:
    start = time.perf_counter()
    try:
        run_chapter(Path(notebook), Path(output), parameters)
    except Exception as exc:  # reported with the chapter, the others go on
        error = getattr(exc, "evalue", None) or str(exc)
        return time.perf_counter() - start, f"{type(exc).__name__}: {error}".strip()[:2000]
    return time.perf_counter() - start, None


def reproduce(root: Path, preset: str, jobs: int, seed: int | None = None, only: list[str] | None = None) -> int:
    """Run every chapter (or the ``only`` ones) with ``preset`` (and ``seed``) into
    ``_build/reproduce/<preset>[-seed<seed>]/``; write ``claims.json`` and ``ledger.csv``. ``claims.json`` names
    the library's code (`deeplinear_book.book.code_version`) and each chapter's (`deeplinear_book.book.chapter_code`).
    ValueError for a bad ``seed``, an unknown chapter or preset, or a preset's unknown parameter.

    Parameters
    ----------
    root : Path
        Root of the repository (default: the one holding this package).
    preset : str
        "book" or "paper".
    jobs : int
        Chapters run at a time, >= 1.
    seed : int or None, optional
        A seed for every chapter (None: each chapter's own).
    only : list of str or None, optional
        Chapters to run (None: all).

    Returns
    -------
    int
        Exit status: 1 when a claim is not reproduced, else 0.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    from tqdm.auto import tqdm

    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"--seed must be an integer >= 0, got {seed!r}")
    out_dir = root / "_build" / "reproduce" / (preset if seed is None else f"{preset}-seed{seed}")
    out_dir.mkdir(parents=True, exist_ok=True)
    selected = chapters(root)
    if only:
        wanted = {resolve_chapter(name, root) for name in only}
        selected = [nb for nb in selected if nb in wanted]
    tasks = {}
    for nb in selected:
        parameters: dict[str, Any] = {}
        if preset != "book":
            preset_file = root / "book" / "presets" / nb.stem / f"{preset}.yaml"
            if not preset_file.exists():
                raise ValueError(f"no preset {preset!r} for {nb.stem}: {preset_file} is missing")
            parameters = yaml.safe_load(preset_file.read_text()) or {}
            check_names(nb, parameters)
        if seed is not None and nb.stem != REPORT:
            parameters = dict(parameters, seed=seed)
        tasks[nb] = parameters
    # The report reads the other chapters' outputs, so it runs last, on this run's notebooks.
    report = [nb for nb in tasks if nb.stem == REPORT]
    for nb in report:
        tasks[nb] = dict(tasks[nb], book_dir=str(out_dir))
    results: dict[str, dict[str, Any]] = {}
    with (
        ProcessPoolExecutor(max_workers=jobs) as pool,
        tqdm(total=len(tasks), desc=f"reproduce ({preset})", unit="chapter") as bar,
    ):
        for batch in ([nb for nb in tasks if nb not in report], report):
            futures = {pool.submit(_job, str(nb), str(out_dir / nb.name), tasks[nb]): nb for nb in batch}
            for future in as_completed(futures):
                nb = futures[future]
                seconds, error = future.result()
                results[nb.stem] = {"seconds": round(seconds, 1), "error": error}
                bar.write(f"{'FAILED' if error else 'ok':>6}  {nb.stem:<40} {seconds:7.1f} s")
                bar.update()
    claims = {
        "preset": preset,
        "commit": code_version(root),
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.system()} ({os.cpu_count()} cores)",
        "chapters": {},
    }
    for nb in tasks:
        entry = dict(results[nb.stem], parameters=tasks[nb], code=chapter_code(nb))
        entry["values"] = {} if entry["error"] else glued_values(out_dir / nb.name)
        claims["chapters"][nb.stem] = entry
    atomic_write(out_dir / "claims.json", json.dumps(claims, indent=2, default=str) + "\n")
    failed = [name for name, r in results.items() if r["error"]]
    for name in failed:
        print(f"\n{name} failed:\n  {results[name]['error']}", file=sys.stderr)
    print(f"\n{len(tasks) - len(failed)}/{len(tasks)} chapters ran; claims in {out_dir / 'claims.json'}")
    ran = {name: entry["values"] for name, entry in claims["chapters"].items() if not entry["error"]}
    errors = {name: entry["error"] for name, entry in claims["chapters"].items() if entry["error"]}
    rows = [
        r for r in ledger.evaluate(ledger.load(root / LEDGER), ran, errors) if r.entry.chapter in claims["chapters"]
    ]
    ledger.write_csv(out_dir / "ledger.csv", rows)
    missed = _report(rows)
    print(f"verdicts in {out_dir / 'ledger.csv'}")
    return 1 if failed or missed else 0


def _report(rows: list[ledger.Row]) -> list[ledger.Row]:
    """Print what did not hold (and what was outside its hypotheses) and a count; return the rows not
    reproduced or not run."""
    missed = [r for r in rows if r.verdict in ("not reproduced", "not run")]
    for r in rows:
        if r.verdict in ("not reproduced", "not run", "not applicable"):
            detail = r.reason or "; ".join(
                f"{n} = {ledger.fmt(v)}, expected {c}" for n, v, c, ok in r.measured if not ok
            )
            print(f"{r.verdict}: {r.entry.id} ({r.entry.chapter}){': ' + detail if detail else ''}", file=sys.stderr)
    outside = sum(r.verdict == "not applicable" for r in rows)
    print(
        f"{len(rows) - len(missed) - outside}/{len(rows)} claims, checks and findings reproduced"
        + (f", {outside} outside their hypotheses" if outside else "")
    )
    return missed


def merge_claims(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A run's ``claims.json`` (``new``) merged into an earlier one (``old``): the chapters ``new`` ran replace
    theirs, the others are kept, and every chapter entry names the commit and time of the run it came from.

    Parameters
    ----------
    old : dict
        The earlier ``claims.json``.
    new : dict
        The run's ``claims.json``.

    Returns
    -------
    dict
        The merged ``claims.json``.

    Examples
    --------
    >>> from deeplinear_book.run import merge_claims
    >>> old = {"commit": "a", "chapters": {"01": {"claims": {}}, "02": {"claims": {}}}}
    >>> merged = merge_claims(old, {"commit": "b", "chapters": {"02": {"claims": {}}}})
    >>> merged["commit"], {name: entry["commit"] for name, entry in merged["chapters"].items()}
    ('b', {'01': 'a', '02': 'b'})
    """
    merged = dict(old, chapters={})
    for name, entry in old.get("chapters", {}).items():
        merged["chapters"][name] = {"commit": old.get("commit"), "finished": old.get("finished"), **entry}
    for name, entry in new["chapters"].items():
        merged["chapters"][name] = {**entry, "commit": new.get("commit"), "finished": new.get("finished")}
    merged.update({key: new[key] for key in ("preset", "commit", "finished", "python", "machine") if key in new})
    return merged


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deeplinear_book.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("chapter", nargs="?", help="chapter stem, number or path (omit with --all)")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter (VALUE is read as YAML)",
    )
    parser.add_argument("-f", "--parameters-file", type=Path, help="YAML file of parameters (a preset)")
    parser.add_argument("-o", "--output", type=Path, help="output notebook (default _build/runs/CHAPTER.ipynb)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing -o file")
    parser.add_argument("--all", action="store_true", help="run every chapter (make reproduce)")
    parser.add_argument("--preset", default="book", help="with --all: book (defaults) or paper")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="with --all: parallel chapters")
    parser.add_argument("--seed", type=int, help="with --all: every chapter's seed (an integer >= 0)")
    parser.add_argument("--only", nargs="+", metavar="CHAPTER", help="with --all: run only these chapters")
    parser.add_argument(
        "--merge-into",
        type=Path,
        metavar="CLAIMS_JSON",
        help="with --all: merge the run's claims.json into this file (the chapters not run keep their entries)",
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the book's root (holds _toc.yml)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m deeplinear_book.run``: run chapters, or every chapter with a preset (``make reproduce``).

    Parameters
    ----------
    argv : list of str or None, optional
        Command-line arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 1 when a claim is not reproduced, else 0.

    Raises
    ------
    SystemExit
        With the message, for a bad chapter, parameter, preset or seed.
    """
    args = _parser().parse_args(argv)
    try:
        return _main(args)
    except ValueError as exc:  # a bad chapter, parameter, preset or seed: the message, without a traceback
        raise SystemExit(str(exc)) from None


def _main(args: argparse.Namespace) -> int:
    root = args.root.resolve()
    if not (root / "_toc.yml").exists():
        raise SystemExit(f"{root} holds no _toc.yml: run from the book's root or pass --root")
    if args.all:
        if args.jobs < 1:
            raise SystemExit(f"--jobs must be a positive integer, got {args.jobs}")
        status = reproduce(root, args.preset, args.jobs, seed=args.seed, only=args.only)
        if args.merge_into:
            out = (
                root / "_build" / "reproduce" / (args.preset if args.seed is None else f"{args.preset}-seed{args.seed}")
            )
            new = json.loads((out / "claims.json").read_text())
            old = json.loads(args.merge_into.read_text()) if args.merge_into.exists() else {"chapters": {}}
            atomic_write(args.merge_into, json.dumps(merge_claims(old, new), indent=2, default=str) + "\n")
            print(f"merged {len(new['chapters'])} chapters into {args.merge_into}")
        return status
    if not args.chapter:
        raise SystemExit("name a chapter (e.g. 01-alignment) or pass --all")
    notebook = resolve_chapter(args.chapter, root)
    parameters: dict[str, Any] = {}
    if args.parameters_file:
        parameters.update(yaml.safe_load(args.parameters_file.read_text()) or {})
    parameters.update({name: yaml.safe_load(value) for name, value in args.parameter})
    check_names(notebook, parameters)
    output = args.output or root / "_build" / "runs" / notebook.name
    output = output.resolve()
    if output.parent == (root / "book").resolve() or output == notebook:
        raise SystemExit(f"refusing to write into the committed chapters: {output}")
    if args.output and output.exists() and not args.overwrite:
        raise SystemExit(f"{output} exists; choose another -o or pass --overwrite")
    seconds = run_chapter(notebook, output, parameters)
    print(f"{notebook.stem}: ran in {seconds:.1f} s -> {output}")
    return verdicts(root, notebook.stem, output)


def verdicts(root: Path, chapter: str, output: Path) -> int:
    """Evaluate ``chapter``'s ledger rows on the executed ``output``, print them as a table, write them to
    ``output``'s ``.ledger.csv`` sibling; 1 when a claim is not reproduced, else 0.

    Parameters
    ----------
    root : Path
        Root of the repository (default: the one holding this package).
    chapter : str
        Chapter stem or number, e.g. "03" or "03-invariance-theorem".
    output : Path
        The executed notebook.

    Returns
    -------
    int
        1 when a claim is not reproduced, else 0.
    """
    rows = [
        r
        for r in ledger.evaluate(ledger.load(root / LEDGER), {chapter: glued_values(output)})
        if r.entry.chapter == chapter
    ]
    if not rows:
        return 0
    print(ledger.table(rows))
    path = output.with_suffix(".ledger.csv")
    ledger.write_csv(path, rows)
    missed = [r for r in rows if r.verdict == "not reproduced"]
    outside = sum(r.verdict == "not applicable" for r in rows)
    print(
        f"{len(rows) - len(missed) - outside}/{len(rows)} rows reproduced"
        + (f", {outside} outside their hypotheses" if outside else "")
        + (f", {len(missed)} NOT reproduced" if missed else "")
        + f"; verdicts in {path}"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
