"""Chapters rerun through papermill with other parameters, and reject bad ones."""

from __future__ import annotations

from pathlib import Path

import papermill as pm
import pytest

from companion import glued_text as glued

ROOT = Path(__file__).resolve().parents[1]


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


def test_01_rejects_k_out_of_range(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match=r"k must be an integer in \[2, 64\], got 0"):
        run("01-alignment", tmp_path, k=0)


def test_01_reruns_with_other_parameters(tmp_path):
    values = glued(run("01-alignment", tmp_path, seed=3, k=6, depth=5))
    assert abs(float(values["aligned_example_alignment"]) - 1) < 1e-6
    assert float(values["random_example_alignment"]) < 0.95
    assert float(values["collapse_max_error"]) <= 1e-12
