"""The tooling's one way of writing a file: atomically, so that a reader (or a rerun after an interruption)
never sees half of one."""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "csv_text"]


def atomic_write(path: Path | str, text: str) -> None:
    """Write ``text`` (UTF-8, line endings as given) to ``path`` through a temporary file beside it, renamed
    over ``path`` when complete; the folder is created if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV file's text (the csv module's dialect): the ``header`` line, then one line per row."""
    out = io.StringIO(newline="")
    w = csv.writer(out)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()
