"""The chapter runner: refuses unknown parameters and never writes over what it should not."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deeplinear_book import book, run

ROOT = Path(__file__).resolve().parents[1]


def test_unknown_parameter_is_refused_with_the_valid_names():
    with pytest.raises(SystemExit, match=r"no parameter named 'kk'; valid names: seed, k, depth"):
        run.main(["01-alignment", "-p", "kk", "3", "--root", str(ROOT)])


def test_unknown_chapter_lists_the_chapters():
    with pytest.raises(SystemExit, match="valid chapters: .*01-alignment"):
        run.main(["99-nothing", "--root", str(ROOT)])


def test_existing_output_is_not_overwritten(tmp_path):
    out = tmp_path / "mine.ipynb"
    out.write_text("my own work")
    with pytest.raises(SystemExit, match="exists"):
        run.main(["01", "-p", "k", "3", "-o", str(out), "--root", str(ROOT)])
    assert out.read_text() == "my own work"


def test_refuses_to_write_into_the_book():
    with pytest.raises(SystemExit, match="refusing"):
        run.main(["01", "-o", str(ROOT / "book" / "01-alignment.ipynb"), "--overwrite", "--root", str(ROOT)])


def test_values_are_read_as_yaml_and_glued_values_collected(tmp_path, capsys):
    out = tmp_path / "o.ipynb"
    assert run.main(["01", "-p", "k", "3", "-p", "depth", "2", "-o", str(out), "--root", str(ROOT)]) == 0
    values = book.glued_values(out)
    assert values["aligned_example_alignment"] == pytest.approx(1.0, abs=1e-6)
    assert "fig01_overlap" not in values  # figures are not claims
    # The chapter's ledger rows are evaluated on the run, printed and written beside it.
    printed = capsys.readouterr().out
    assert "definition-1-usvd" in printed and "verified" in printed and "rows reproduced" in printed
    with open(tmp_path / "o.ledger.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["claim", "chapter", "kind", "verdict", "statement", "measured", "reason"]
    assert {r["chapter"] for r in rows} == {"01-alignment"} and len(rows) >= 5


def _glued_notebook(path: Path, values: dict) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    for name, value in values.items():
        data = {"application/papermill.record/text/plain": repr(value)}
        metadata = {"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}}
        cell.outputs.append(nbformat.v4.new_output("display_data", data=data, metadata=metadata))
    nb.cells = [cell]
    nbformat.write(nb, path)


TOY_LEDGER = """
[[claim]]
id = "toy"
paper = "P"
kind = "claim"
statement = "a score stays low"
chapter = "01-x"
section = "sec-x"
hypotheses = [{ value = "floor", le = 1e-10, note = "zero loss is reachable" }]
checks = [{ value = "score", lt = 0.95 }]
calibration = "a toy"
"""


@pytest.mark.parametrize(
    ("values", "status", "verdict"),
    [
        ({"floor": 0.0, "score": 0.5}, 0, "confirmed"),
        ({"floor": 0.0, "score": 0.99}, 1, "not reproduced"),
        ({"floor": 0.5, "score": 0.99}, 0, "not applicable"),  # outside the hypotheses: no failure
    ],
)
def test_a_rerun_prints_its_verdicts_writes_them_beside_it_and_fails_on_not_reproduced(
    tmp_path, capsys, values, status, verdict
):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "ledger.toml").write_text(TOY_LEDGER, encoding="utf-8")
    out = tmp_path / "out.ipynb"
    _glued_notebook(out, values)
    assert run.verdicts(tmp_path, "01-x", out) == status
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].startswith(f"{verdict}  toy")
    with open(tmp_path / "out.ledger.csv", newline="", encoding="utf-8") as f:
        (row,) = list(csv.DictReader(f))
    assert row["verdict"] == verdict
    if verdict == "not applicable":
        assert "zero loss is reachable: floor = 0.5, not ≤ 1e-10" in row["reason"] and row["reason"] in printed


def test_reproduce_reports_a_failing_chapter_and_keeps_going(tmp_path):
    """A broken preset makes one chapter fail; the other still runs, and the run writes claims.json and
    ledger.csv and exits non-zero."""
    root = tmp_path / "book-root"
    shutil.copytree(ROOT / "book", root / "book")
    shutil.copy(ROOT / "_toc.yml", root / "_toc.yml")
    broken = "05-minimum-norm-and-balancedness"
    (root / "book" / "presets" / broken / "paper.yaml").write_text("seed: -1\n")  # the validation cell refuses it
    assert run.reproduce(root, "paper", jobs=2, only=["01", "05"]) == 1
    claims = json.loads((root / "_build/reproduce/paper/claims.json").read_text())
    assert claims["commit"] is None and claims["finished"].endswith("UTC")  # tmp_path is no git clone
    assert sorted(claims["chapters"]) == ["01-alignment", broken]
    entry = claims["chapters"][broken]
    assert "seed must be an integer" in entry["error"]
    assert entry["values"] == {}
    assert claims["chapters"]["01-alignment"]["error"] is None and claims["chapters"]["01-alignment"]["values"]
    with open(root / "_build/reproduce/paper/ledger.csv", newline="", encoding="utf-8") as f:
        verdicts = {row["claim"]: (row["chapter"], row["verdict"]) for row in csv.DictReader(f)}
    assert verdicts["proposition-2"] == (broken, "not run")
    assert verdicts["definition-1-usvd"] == ("01-alignment", "verified")


def test_a_run_is_quiet_and_its_chapters_still_report_their_warnings(tmp_path):
    """ipykernel's start-up warning stays out of the run's output; a chapter's own output is untouched."""
    out = tmp_path / "quiet.ipynb"
    result = subprocess.run(
        [sys.executable, "-m", "deeplinear_book.run", "01", "-p", "k", "3", "-o", str(out), "--root", str(ROOT)],
        capture_output=True,
        text=True,
        env={**os.environ, "DEEPLINEAR_PROGRESS": "0"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "WARNING" not in result.stderr and "without encryption" not in result.stderr, result.stderr
    assert book.glued_values(out)["aligned_example_alignment"] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(Exception, match="seed must be an integer"):  # errors still come through
        run.main(["01", "-p", "seed", "-1", "-o", str(tmp_path / "bad.ipynb"), "--root", str(ROOT)])


def test_library_functions_raise_valueerror_and_only_main_exits():
    """One resolver and one name check, raising ValueError (the sweep and the runner share them); ``main``
    turns the message into an exit."""
    with pytest.raises(ValueError, match="unknown chapter '99'; valid chapters: 01-alignment, "):
        book.resolve_chapter("99", ROOT)
    every = book.chapters(ROOT)
    third = next(p for p in every if p.stem == "03-invariance-theorem")
    for name in ("03", "03-invariance-theorem", "03-invariance-theorem.ipynb", str(third)):
        assert book.resolve_chapter(name, ROOT) == third
    with pytest.raises(ValueError, match="unknown chapter '03'; valid chapters: 01-alignment$"):
        book.resolve_chapter("03", ROOT, among=every[:1])
    with pytest.raises(ValueError, match=r"no parameter named 'kk'; valid names: seed, k, depth"):
        book.check_names(every[0], {"k": 3, "kk": 3})


def test_reproduce_at_another_seed_runs_only_the_named_chapters(tmp_path):
    """make reproduce SEED=29 (here one chapter): the seed reaches the chapter, the ledger lists its rows only."""
    root = tmp_path / "book-root"
    shutil.copytree(ROOT / "book", root / "book")
    shutil.copy(ROOT / "_toc.yml", root / "_toc.yml")
    assert run.reproduce(root, "book", jobs=1, seed=29, only=["01"]) == 0
    out = root / "_build/reproduce/book-seed29"
    claims = json.loads((out / "claims.json").read_text())
    assert list(claims["chapters"]) == ["01-alignment"]
    assert claims["chapters"]["01-alignment"]["parameters"] == {"seed": 29}
    # which code ran: the library's version (None outside a git clone) and the chapter's code cells
    assert claims["commit"] is None and claims["chapters"]["01-alignment"]["code"] == book.chapter_code(
        root / "book" / "01-alignment.ipynb"
    )
    with open(out / "ledger.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and {row["chapter"] for row in rows} == {"01-alignment"}
    assert all(row["verdict"] not in ("not run", "not reproduced") for row in rows)
    with pytest.raises(ValueError, match="--seed must be"):
        run.reproduce(root, "book", jobs=1, seed=-1, only=["01"])


def test_merge_claims_keeps_the_chapters_not_rerun_with_their_commit():
    old = {"commit": "aaa", "finished": "t0", "chapters": {"01": {"values": {"x": 1}}, "02": {"values": {"y": 2}}}}
    new = {"commit": "bbb", "finished": "t1", "python": "3.11", "chapters": {"02": {"values": {"y": 3}}}}
    merged = run.merge_claims(old, new)
    assert merged["commit"] == "bbb" and merged["python"] == "3.11"
    assert merged["chapters"]["01"] == {"commit": "aaa", "finished": "t0", "values": {"x": 1}}
    assert merged["chapters"]["02"] == {"commit": "bbb", "finished": "t1", "values": {"y": 3}}
    assert old["chapters"]["01"] == {"values": {"x": 1}}  # not modified
