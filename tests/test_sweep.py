"""Sweeps over seeds on a real Dask LocalCluster (deeplinear_book.sweep), on a tiny book of two fake chapters.

Each fake chapter takes a ``seed``, appends it to ``executions.log`` (so the tests count what ran), glues
``a_value = seed % 3`` and ``ok = True``, raises at seed 13, and kills its own Dask worker once when the
file ``kill-once`` exists.
"""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deeplinear_book import book, ranges, robustness, sweep

TOC = """format: jb-book
root: book/intro
parts:
  - caption: Chapters
    chapters:
      - file: book/01-a
      - file: book/02-b
      - file: book/reproduction-report
"""
LEDGER = """
[[claim]]
id = "c1"
paper = "RNBU"
kind = "claim"
statement = "the value stays below 2"
chapter = "01-a"
section = "sec-01-a"
checks = [{ value = "a_value", lt = 2 }]
calibration = "a toy"

[[claim]]
id = "c2"
paper = "JT"
kind = "claim"
statement = "ok"
chapter = "02-b"
section = "sec-02-b"
hypotheses = [{ value = "a_value", ge = 1, note = "a toy hypothesis" }]
checks = [{ value = "ok", is = true }]
calibration = "a toy"

[[finding]]
id = "f1"
kind = "sharpening"
title = "the value is small"
source = "RNBU"
quote = "q"
chapter = "01-a"
section = "sec-01-a"
text = "it is {a_value}"
checks = [{ value = "a_value", le = 2 }]
calibration = "a toy"
"""
CHAPTER = """import os, pathlib, signal
from IPython.display import display

with open("executions.log", "a") as log:
    log.write(f"{CHAPTER} {seed}\\n")
if pathlib.Path("kill-once").exists() and not pathlib.Path("killed").exists():
    pathlib.Path("killed").write_text("")
    os.kill(os.getppid(), signal.SIGKILL)  # the kernel's parent: the Dask worker running this draw
if seed == 13:
    raise ValueError("seed 13 breaks this chapter")
for name, value in {"a_value": seed % 3, "ok": True}.items():
    display({"application/papermill.record/text/plain": repr(value)}, raw=True,
            metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}})
"""


def _notebook(path: Path, code: str, parameters: str = "seed = 0  # random seed, integer, at least 0") -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.cells = [
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(code),
    ]
    nbformat.write(nb, path)


@pytest.fixture
def root(tmp_path) -> Path:
    (tmp_path / "book").mkdir()
    (tmp_path / "_toc.yml").write_text(TOC)
    (tmp_path / "book" / "ledger.toml").write_text(LEDGER, encoding="utf-8")
    for stem in ("01-a", "02-b"):
        _notebook(tmp_path / "book" / f"{stem}.ipynb", f"CHAPTER = {stem!r}\n" + CHAPTER)
    _notebook(tmp_path / "book" / "reproduction-report.ipynb", "raise RuntimeError('the report is never swept')")
    return tmp_path


@pytest.fixture(scope="module")
def cluster():
    """One cluster for the tests that bring their own (as SCHEDULER=... does); two single-threaded workers."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _executions(root: Path) -> list[str]:
    log = root / "book" / "executions.log"
    return sorted(log.read_text().splitlines()) if log.exists() else []


def test_a_sweep_of_two_chapters_at_two_seeds_writes_both_tables(root):
    """On the sweep's own LocalCluster: 2 draws for every claim; the not-held draw is named."""
    done = sweep.sweep(root, ["01", "02-b"], "1 2", workers=2, dashboard=None, progress=False)
    assert done["errors"] == 0 and done["seeds"] == [1, 2]
    assert _executions(root) == ["01-a 1", "01-a 2", "02-b 1", "02-b 2"]  # the report is not swept
    draws = _csv(root / "_build/sweep/draws.csv")
    assert [(d["claim"], d["seed"], d["verdict"], d["held"]) for d in draws] == [
        ("c1", "1", "confirmed", "yes"),
        ("c1", "2", "not reproduced", "no"),  # a_value = 2 % 3 = 2, not < 2
        ("f1", "1", "beyond the papers", "yes"),
        ("f1", "2", "beyond the papers", "yes"),
        ("c2", "1", "confirmed", "yes"),
        ("c2", "2", "confirmed", "yes"),
    ]
    assert draws[1]["measured"] == "a_value = 2" and json.loads(draws[1]["parameters"]) == {"seed": 2}
    robustness = {r["claim"]: r for r in _csv(root / "_build/sweep/robustness.csv")}
    assert {c: (r["chapter"], r["draws"], r["held"], r["not_held"]) for c, r in robustness.items()} == {
        "c1": ("01-a", "2", "1", "seed=2"),
        "f1": ("01-a", "2", "2", ""),
        "c2": ("02-b", "2", "2", ""),
    }
    assert sorted(p.name for p in (root / "_build/sweep/runs/01-a").iterdir()) == ["seed-1.ipynb", "seed-2.ipynb"]


def test_a_killed_worker_is_replaced_and_its_draw_retried(root, cluster):
    (root / "book" / "kill-once").write_text("")
    done = sweep.sweep(root, ["01-a"], "3, 4", scheduler=cluster.scheduler_address, progress=False)
    assert (root / "book" / "killed").exists()  # a worker did die part-way
    assert done["errors"] == 0
    assert [(d["parameters"]["seed"], d["values"]) for d in done["draws"]] == [
        (3, {"a_value": 0, "ok": True}),
        (4, {"a_value": 1, "ok": True}),
    ]
    assert len(_executions(root)) == 3  # the killed draw ran twice
    from dask.distributed import Client

    with Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)  # the nanny started a new worker


def test_a_failing_draw_is_recorded_and_the_sweep_goes_on(root, cluster, monkeypatch, capsys):
    """At seed 13 the chapter raises: its draws are not held, with the error; the other seed still runs."""
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)  # as a user with a cluster does
    assert sweep.main(["--root", str(root), "--chapters", "02", "--seeds", "13", "5"]) == 1
    draws = _csv(root / "_build/sweep/draws.csv")
    assert [(d["seed"], d["verdict"], d["held"]) for d in draws] == [("5", "confirmed", "yes"), ("13", "not run", "no")]
    assert "ValueError: seed 13 breaks this chapter" in draws[1]["error"] and not draws[0]["error"]
    assert _csv(root / "_build/sweep/robustness.csv") == [
        {
            "chapter": "02-b",
            "claim": "c2",
            "kind": "claim",
            "draws": "2",
            "held": "1",
            "not_applicable": "0",
            "not_held": "seed=13",
        }
    ]
    assert "held at 1 of 2 draws: c2 (02-b); not at seed=13" in capsys.readouterr().err
    # The chapter's own error is a result: cached like a value, so a rerun executes nothing.
    assert sweep.main(["--root", str(root), "--chapters", "02", "--seeds", "13", "5"]) == 1
    assert _executions(root) == ["02-b 13", "02-b 5"]


def test_a_draw_whose_kernel_fails_is_not_cached(tmp_path):
    """Not the chapter's error but its kernel's (here: no notebook at all): a rerun tries again."""
    result = sweep.run_draw(str(tmp_path / "gone.ipynb"), str(tmp_path / "out.ipynb"), {"seed": 1})
    assert result["error"].startswith("FileNotFoundError") and result["cache"] is False and result["values"] == {}


def test_an_interrupted_sweep_rerun_executes_only_the_missing_draws(root, cluster):
    address = cluster.scheduler_address
    first = sweep.sweep(root, ["01-a"], "6 7", scheduler=address, progress=False)
    assert _executions(root) == ["01-a 6", "01-a 7"]
    caches = sorted((root / "_build/sweep/cache/01-a").glob("*.json"))
    assert len(caches) == 2
    lost = json.loads(caches[0].read_text())["parameters"]["seed"]
    caches[0].unlink()  # the sweep was stopped before this draw came back
    again = sweep.sweep(root, ["01-a"], "6 7 8", scheduler=address, progress=False)
    assert _executions(root) == sorted(["01-a 6", "01-a 7", f"01-a {lost}", "01-a 8"])  # nothing else reran
    assert again["draws"][:2] == first["draws"]
    assert sweep.sweep(root, ["01-a"], [8, 7, 6], scheduler=address, progress=False)["errors"] == 0
    assert len(_executions(root)) == 4  # a third run executes nothing
    # A changed chapter is a new draw: the cache is per chapter code, not per file name.
    nb = root / "book" / "01-a.ipynb"
    nb.write_text(nb.read_text().replace("seed % 3", "seed % 5"))
    changed = sweep.sweep(root, ["01-a"], [6], scheduler=address, progress=False)
    assert changed["draws"][0]["values"]["a_value"] == 6 % 5 and len(_executions(root)) == 5
    # A cache of its own (benchmarks/chapters.py: one per engine) runs the draw again and leaves the default alone.
    own = sweep.sweep(root, ["01-a"], [6], cache=root / "own", scheduler=address, progress=False)
    assert own["draws"] == changed["draws"] and len(_executions(root)) == 6
    assert len(list((root / "own" / "01-a").glob("*.json"))) == 1
    assert len(list((root / "_build/sweep/cache/01-a").glob("*.json"))) == 4


def test_vary_draws_the_named_parameters_from_the_stated_ranges(root, cluster, monkeypatch):
    """VARY=width: 01-a declares width (integer in [2, 64], default 4), 02-b does not and runs at defaults."""
    data = root / "parameters.toml"  # the tiny book's declared ranges, in place of the book's own
    data.write_text(
        '["01-a".seed]\nabout = "random seed"\nrange = "integer, at least 0"\n'
        '["01-a".width]\nabout = "layer width"\nrange = "integer in [2, 64]"\n'
        '["02-b".seed]\nabout = "random seed"\nrange = "integer, at least 0"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(ranges, "DATA", data)
    nb = root / "book" / "01-a.ipynb"
    parameters = "seed = 0  # random seed, integer, at least 0\nwidth = 4  # layer width, integer in [2, 64]"
    _notebook(nb, "CHAPTER = '01-a'\n" + CHAPTER.replace("{seed}", "{seed} {width}"), parameters)
    address = cluster.scheduler_address
    done = sweep.sweep(root, None, "1 2 3", vary=["width"], span="near", scheduler=address, progress=False)
    assert done["vary"] == {"01-a": ["width"]} and done["span"] == "near"
    widths = {d["parameters"]["seed"]: d["parameters"]["width"] for d in done["draws"] if d["chapter"] == "01-a"}
    assert all(2 <= w <= 8 for w in widths.values()), widths  # within a factor 2 of the default 4
    assert _executions(root) == sorted([f"01-a {s} {w}" for s, w in widths.items()] + ["02-b 1", "02-b 2", "02-b 3"])
    assert [d["parameters"] for d in done["draws"] if d["chapter"] == "02-b"] == [{"seed": s} for s in (1, 2, 3)]
    draws = _csv(root / "_build/sweep/draws.csv")
    assert {json.loads(d["parameters"])["width"] for d in draws if d["chapter"] == "01-a"} == set(widths.values())
    # The same draws again: each seed draws the same width, so everything comes from the cache.
    again = sweep.sweep(root, None, "1 2 3", vary="width", span="near", scheduler=address, progress=False)
    assert again["draws"] == done["draws"] and len(_executions(root)) == 6
    # The survey: every ranged parameter (width here) over its whole range, into a folder of its own.
    out = root / "_build" / "survey"
    survey = sweep.sweep(root, ["01-a"], 12, vary="all", out=out, scheduler=address, progress=False)
    drawn = [d["parameters"]["width"] for d in survey["draws"]]
    assert survey["span"] == "whole" and max(drawn) > 8 and min(drawn) >= 2, drawn  # beyond the default's factor 2
    assert (out / "robustness.csv").exists() and json.loads((out / "sweep.json").read_text())["vary"] == {
        "01-a": ["width"]
    }
    with pytest.raises(ValueError, match="steps is the budget of a run"):
        sweep.sweep(root, None, 2, vary=["steps"])
    with pytest.raises(ValueError, match=r"vary: no chosen chapter has a parameter 'depth'; they have width$"):
        sweep.sweep(root, None, 2, vary=["depth"])
    with pytest.raises(ValueError, match="the seed is drawn by SEEDS="):
        sweep.sweep(root, None, 2, vary=["seed"])


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_code_version_changes_with_the_library_committed_or_not(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    assert sweep.code_version(tmp_path) is None  # not a git clone
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    clean = sweep.code_version(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{40}", clean)
    (tmp_path / "notes.txt").write_text("not the library")
    assert sweep.code_version(tmp_path) == clean
    (tmp_path / "lib" / "b.py").write_text("y = 2\n")  # a new module, not yet added
    untracked = sweep.code_version(tmp_path)
    (tmp_path / "lib" / "b.py").write_text("y = 3\n")
    assert len({clean, untracked, sweep.code_version(tmp_path)}) == 3
    (tmp_path / "lib" / "b.py").unlink()
    (tmp_path / "lib" / "a.py").write_text("x = 2\n")  # a tracked module, changed
    changed = sweep.code_version(tmp_path)
    assert changed.startswith(clean + "+") and changed != untracked


def test_the_tables_do_not_depend_on_the_order_draws_come_back(root):
    from deeplinear_book import ledger

    the_ledger = ledger.load(root / "book" / "ledger.toml")
    results = [
        {"chapter": c, "parameters": {"seed": s}, "values": {"a_value": s % 3, "ok": True}, "error": None}
        for c in ("01-a", "02-b")
        for s in (3, 10, 2, 5)
    ]
    results.append({"chapter": "02-b", "parameters": {"seed": 13}, "values": {}, "error": "ValueError: x"})
    expected = robustness.tables(the_ledger, results)
    for _ in range(5):
        random.shuffle(results)
        assert robustness.tables(the_ledger, results) == expected
    draws, rows = expected
    assert [d["seed"] for d in draws if d["claim"] == "c1"] == [2, 3, 5, 10]
    assert rows[0] == {
        "chapter": "01-a",
        "claim": "c1",
        "kind": "claim",
        "draws": 4,
        "held": 2,
        "not_applicable": 0,
        "not_held": "seed=2; seed=5",
    }
    # c2's hypothesis (a_value >= 1) fails at seeds 3 (0) and ... : those draws are neither held nor failed
    assert rows[2]["claim"] == "c2" and (rows[2]["draws"], rows[2]["held"], rows[2]["not_applicable"]) == (5, 3, 1)
    assert rows[2]["not_held"] == "seed=13"
    outside = [d for d in draws if d["claim"] == "c2" and d["held"] == "n/a"]
    assert [d["seed"] for d in outside] == [3] and "a toy hypothesis" in outside[0]["reason"]


@pytest.mark.parametrize(
    ("seeds", "expected"),
    [("16", list(range(16))), (3, [0, 1, 2]), ("29 41", [29, 41]), ("29,41", [29, 41]), ("29,", [29]), ([29], [29])],
)
def test_seeds_are_a_count_or_a_list(seeds, expected):
    assert sweep.seed_list(seeds) == expected


@pytest.mark.parametrize("seeds", ["abc", "1.5", "-3", "0", "", [True], [2.0], "1 x"])
def test_seeds_that_are_not_integers_are_refused_naming_the_parameter(seeds):
    with pytest.raises(ValueError, match="^seeds"):
        sweep.seed_list(seeds)


def test_bad_input_is_refused_before_any_cluster_starts(root):
    with pytest.raises(ValueError, match=r"chapters: unknown chapter '99'; valid chapters: 01-a, 02-b$"):
        sweep.sweep(root, ["01", "99"], 2)
    with pytest.raises(ValueError, match="chapters: unknown chapter 'reproduction-report'"):
        sweep.sweep(root, ["reproduction-report"], 2)
    with pytest.raises(SystemExit, match=r"make sweep: seeds must be a count N >= 1 or integers >= 0, got 'x'"):
        sweep.main(["--root", str(root), "--seeds", "1", "x"])
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        sweep.sweep(root, None, 2, workers=0)
    assert not (root / "_build").exists()


def test_the_chapter_code_key_changes_with_the_code_cells_only(tmp_path):
    """Part of a draw's cache key: a change of a code cell (or of their order) makes a new key, so the draw
    reruns; outputs, prose, metadata and the cells' storage (a list of lines or one string) do not."""
    import nbformat

    path = tmp_path / "c.ipynb"
    _notebook(path, "x = seed + 1\nprint(x)")
    key = sweep.chapter_code(path)
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("Prose."))
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells[2].execution_count = 7
    nb.cells[2].metadata["tags"] = ["hide-input"]
    nb.metadata["deeplinear"] = {"execution_seconds": 1.0}
    nbformat.write(nb, path)
    assert sweep.chapter_code(path) == key
    raw = json.loads(path.read_text())
    raw["cells"][0]["source"] = "".join(raw["cells"][0]["source"])  # nbformat writes lists of lines
    path.write_text(json.dumps(raw))
    assert sweep.chapter_code(path) == key
    nb.cells[2].source = "x = seed + 2\nprint(x)"
    nbformat.write(nb, path)
    changed = sweep.chapter_code(path)
    assert changed != key
    nb.cells[0], nb.cells[2] = nb.cells[2], nb.cells[0]
    nbformat.write(nb, path)
    assert sweep.chapter_code(path) not in (key, changed)
    assert sweep.chapter_code is book.chapter_code and sweep.code_version is book.code_version  # one notion
