"""Maintenance commands for the book, called by the Makefile.

python scripts/book_tools.py notebooks        # chapter notebooks listed in _toc.yml, in order
python scripts/book_tools.py execute [NB...]  # re-execute notebooks in place, normalised metadata
python scripts/book_tools.py sync-env         # environment.yml and binder/environment.yml from requirements.lock
python scripts/book_tools.py comments [NB...] # the parameters cells' comments, rendered from the declared ranges
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def execute(paths: list[Path]) -> None:
    """Execute each chapter in place (deeplinear_book's one way of executing), stopping at the first error."""
    from deeplinear_book.book import execute_in_place

    for path in paths:
        seconds = execute_in_place(path)
        print(f"executed {path.relative_to(ROOT)} in {seconds:.1f} s", flush=True)


def comments(paths: list[Path]) -> None:
    """Rewrite each notebook's parameters cell with its comments rendered from the one declaration of its
    parameters, lib/deeplinear_book/parameters.toml (deeplinear_book.ranges.render): the range of a parameter
    is written there only. Only that cell's source changes; the file keeps its JSON layout (nbformat's)."""
    from deeplinear_book.book import parameters_cell
    from deeplinear_book.ranges import render

    for path in paths:
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        if json.dumps(nb, indent=1, ensure_ascii=False) + "\n" != text:
            raise SystemExit(f"{path}: not in nbformat's JSON layout; write it with nbformat first")
        cell = nb["cells"][parameters_cell(path)[0]]
        source = "".join(cell["source"])
        rendered = render(source, path.stem)
        if rendered != source:
            cell["source"] = rendered.splitlines(keepends=True)
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"rendered the parameters' comments of {path.relative_to(ROOT)}", flush=True)


def sync_env() -> None:
    """environment.yml and binder/environment.yml from requirements.lock (scripts/environments.py; make lock)."""
    import environments

    environments.main(["sync"])


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    command, args = argv[0], argv[1:]
    if command == "notebooks":
        from deeplinear_book.book import chapters

        print(" ".join(str(p.relative_to(ROOT)) for p in chapters(ROOT)))
    elif command == "execute":
        from deeplinear_book.book import chapters

        execute([Path(a).resolve() for a in args] or chapters(ROOT))
    elif command == "comments":
        from deeplinear_book.book import chapters

        comments([Path(a).resolve() for a in args] or chapters(ROOT))
    elif command == "sync-env":
        sync_env()
    else:
        print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
