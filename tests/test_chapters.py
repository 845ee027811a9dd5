"""Chapters rerun through papermill with other parameters, and reject bad ones."""

from __future__ import annotations

from pathlib import Path

import papermill as pm
import pytest

from companion import glued_text as glued  # the chapter tests import it from here
from companion import glued_values, ledger

ROOT = Path(__file__).resolve().parents[1]
LEDGER = ledger.load(ROOT / "book" / "ledger.toml")


def run(chapter: str, tmp_path: Path, **parameters) -> Path:
    out = tmp_path / f"{chapter}.ipynb"
    pm.execute_notebook(
        str(ROOT / "book" / f"{chapter}.ipynb"),
        str(out),
        parameters=parameters,
        cwd=str(ROOT / "book"),
        progress_bar=False,
        kernel_name="python3",
    )
    return out


def assert_claims(chapter: str, notebook: Path, skip: tuple[str, ...] = ()) -> None:
    """The ledger's criteria for ``chapter`` hold on a rerun (book/ledger.toml is their one source);
    ``skip`` names values whose criteria assume the chapter's default step budget."""
    failed = ledger.failed_checks(LEDGER, chapter, glued_values(notebook), skip)
    assert not failed, "\n".join(failed)


def test_01_rejects_k_out_of_range(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match=r"k must be an integer in \[2, 64\], got 0"):
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
