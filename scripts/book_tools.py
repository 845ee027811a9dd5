"""Maintenance commands for the book, called by the Makefile.

    python scripts/book_tools.py notebooks        # chapter notebooks listed in _toc.yml, in order
    python scripts/book_tools.py execute [NB...]  # re-execute notebooks in place, normalised metadata
    python scripts/book_tools.py sync-env         # write environment.yml from requirements.lock
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def toc_notebooks() -> list[Path]:
    """Every ``.ipynb`` chapter named in ``_toc.yml``, in reading order."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files: list[str] = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))
            for part in entry.get("parts", []) if isinstance(entry, dict) else []:
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return [ROOT / f"{name}.ipynb" for name in files if (ROOT / f"{name}.ipynb").exists()]


def normalise(nb, seconds: float | None = None) -> None:
    """Drop volatile metadata so that re-executing a notebook gives a small diff.

    ``seconds``, the wall time of the whole execution, is kept (rounded) for the reproduction
    report's cost table.
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


def execute(paths: list[Path]) -> None:
    """Execute each notebook in place, in its own directory, stopping at the first error."""
    import nbformat
    from nbclient import NotebookClient

    from deeplinear.run import KERNEL_ARGUMENTS

    for path in paths:
        start = time.perf_counter()
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
            extra_arguments=KERNEL_ARGUMENTS,
        )
        client.execute()
        seconds = time.perf_counter() - start
        normalise(nb, seconds)
        nbformat.write(nb, path)
        print(f"executed {path.relative_to(ROOT)} in {seconds:.1f} s", flush=True)


def sync_env() -> None:
    """environment.yml = conda-forge Python 3.11 + pip + exactly the pins of requirements.lock."""
    pins = [
        line.strip()
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    lines = [
        "# Generated from requirements.lock by `make lock` (scripts/book_tools.py sync-env); do not edit.",
        "# Binder and conda users get exactly the environment the published book was built with.",
        "name: deeplinear",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
        "  - pip:",
        *[f"      - {pin}" for pin in pins],
        "      - -e .",
    ]
    (ROOT / "environment.yml").write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    command, args = argv[0], argv[1:]
    if command == "notebooks":
        print(" ".join(str(p.relative_to(ROOT)) for p in toc_notebooks()))
    elif command == "execute":
        execute([Path(a).resolve() for a in args] or toc_notebooks())
    elif command == "sync-env":
        sync_env()
    else:
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
