"""The book's chapters: where they are, how one is executed, and what it glued.

There is one list of chapters (``_toc.yml``, in reading order) and one way to execute a chapter (papermill,
with the kernel's start-up log quietened), used by the runner (``python -m companion.run``,
``make reproduce``), by ``make execute`` (in place, with normalised metadata) and by the chapter tests.
"""

from __future__ import annotations

import ast
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "chapters",
    "resolve_chapter",
    "declared_parameters",
    "check_names",
    "run_chapter",
    "execute_in_place",
    "glued_text",
    "glued_values",
    "git",
]

# ipykernel 7 logs a warning at every kernel start that the (local, 127.0.0.1) TCP connection is not
# encrypted; in a batch run that is noise between the chapters' results. Only the kernel process's own log
# is quietened: what a chapter prints, warns or raises still reaches its notebook and the run's report.
# (CRITICAL, not ERROR: papermill's shutdown of the kernel also logs a "KeyboardInterrupt caught" error.)
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


def _papermill():
    try:
        import papermill
    except ImportError as exc:  # pragma: no cover - papermill ships with the book and test extras
        raise SystemExit("the companion's tooling needs papermill: pip install 'deeplinear[book]'") from exc
    return papermill


def chapters(root: Path) -> list[Path]:
    """Every ``.ipynb`` page named in ``root/_toc.yml`` (the report included), in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = [toc["root"]]

    def walk(entries: list[dict[str, Any]] | None) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return [root / f"{name}.ipynb" for name in files if (root / f"{name}.ipynb").exists()]


def resolve_chapter(name: str, root: Path) -> Path:
    """A chapter given as a path, a stem (``03-invariance-theorem``) or its number (``03``)."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.exists():
        return path.resolve()
    found = [p for p in chapters(root) if p.stem == name or p.stem.split("-")[0] == name]
    if len(found) != 1:
        valid = ", ".join(p.stem for p in chapters(root))
        raise SystemExit(f"unknown chapter {name!r}; valid chapters: {valid}")
    return found[0]


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """Name -> default of every parameter in the notebook's ``parameters`` cell."""
    inferred = _papermill().inspect_notebook(str(notebook))
    return {name: info["default"] for name, info in inferred.items()}


def check_names(notebook: Path, parameters: dict[str, Any]) -> None:
    """Refuse parameter names the chapter does not declare, listing the valid ones."""
    declared = declared_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise SystemExit(
            f"{notebook.stem} has no parameter named {', '.join(map(repr, unknown))}; "
            f"valid names: {', '.join(declared)}"
        )


def run_chapter(notebook: Path, output: Path, parameters: dict[str, Any]) -> float:
    """Execute ``notebook`` with ``parameters`` into ``output``, in the notebook's folder; return the seconds."""
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    _papermill().execute_notebook(
        str(notebook),
        str(output),
        parameters=parameters,
        cwd=str(notebook.parent),
        progress_bar=False,
        kernel_name="python3",
        extra_arguments=KERNEL_ARGUMENTS,
    )
    return time.perf_counter() - start


def normalise(nb: Any, seconds: float | None = None) -> None:
    """Drop volatile metadata so that re-executing a notebook gives a small diff.

    ``seconds``, the wall time of the whole execution, is kept (rounded) for the reproduction report's cost
    table.
    """
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"},
    }
    if seconds is not None:
        nb.metadata["deeplinear"] = {"execution_seconds": round(seconds, 1)}
    for cell in nb.cells:
        for key in ("execution", "collapsed", "scrolled", "papermill"):
            cell.metadata.pop(key, None)
        if cell.metadata.get("tags") == []:  # papermill adds empty tag lists
            del cell.metadata["tags"]


def execute_in_place(notebook: Path) -> float:
    """Re-execute a committed chapter with its defaults and write it back, normalised (``make execute``)."""
    import nbformat

    with tempfile.TemporaryDirectory() as scratch:
        executed = Path(scratch) / notebook.name
        seconds = run_chapter(notebook, executed, {})
        nb = nbformat.read(executed, as_version=4)
    normalise(nb, seconds)
    nbformat.write(nb, notebook)
    return seconds


def _value(text: str) -> Any:
    if text in ("'yes'", "'no'", "yes", "no"):  # companion.claims.claim glues a bool as a word
        return text.strip("'") == "yes"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def glued_text(notebook: Path) -> dict[str, str]:
    """Name -> text of every number, boolean or text a notebook glued (figures are skipped)."""
    nb = json.loads(notebook.read_text())
    values = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            data = out.get("data", {})
            if name and not any(k.startswith("application/papermill.record/image") for k in data):
                values[name] = data.get("application/papermill.record/text/plain", "")
    return values


def glued_values(notebook: Path) -> dict[str, Any]:
    """Like `glued_text`, with numbers and booleans read back as Python values."""
    return {name: _value(text) for name, text in glued_text(notebook).items()}


def git(root: Path, *args: str) -> str | None:
    """``git -C root ARGS``'s standard output, or None outside a git clone (or without git)."""
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None
