"""The book's chapters: where they are, how one is executed, what it declares and what it glued.

There is one list of chapters (``_toc.yml``, in reading order), one way to name one (`resolve_chapter`), one
reading of a chapter's parameters cell (`parameters_cell`), one way to execute a chapter (`run_chapter`:
papermill, with the kernel's start-up log quietened), used by the runner (``python -m deeplinear_book.run``,
``make reproduce``), by the sweep, by ``make execute`` (in place, with normalised metadata) and by the chapter
tests, and one notion of which code ran (`code_version`, the library's, and `chapter_code`, a chapter's).
Errors are ``ValueError``; only the command lines' ``main`` turn them into ``SystemExit``.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import re
import subprocess
import tempfile
import time
import tokenize
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "REPORT",
    "LEDGER",
    "chapters",
    "resolve_chapter",
    "Parameter",
    "parameters_cell",
    "declared_parameters",
    "check_names",
    "run_chapter",
    "execute_in_place",
    "provenance",
    "glued_text",
    "glued_values",
    "git",
    "code_version",
    "chapter_code",
]

REPORT = "reproduction-report"  # the report's stem: it reads the other chapters, so it runs last and is not swept
LEDGER = Path("book") / "ledger.toml"  # the claims ledger, relative to the book's root

# ipykernel 7 logs a warning at every kernel start that the (local, 127.0.0.1) TCP connection is not
# encrypted; in a batch run that is noise between the chapters' results. Only the kernel process's own log
# is quietened: what a chapter prints, warns or raises still reaches its notebook and the run's report.
# (CRITICAL, not ERROR: papermill's shutdown of the kernel also logs a "KeyboardInterrupt caught" error.)
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


def _papermill():
    try:
        import papermill
    except ImportError as exc:  # pragma: no cover - papermill ships with the book extra (checked on import)
        raise ImportError("the book's tooling (deeplinear_book) needs papermill: pip install '.[book]'") from exc
    return papermill


def chapters(root: Path) -> list[Path]:
    """Every ``.ipynb`` page named in ``root/_toc.yml`` (the report included), in reading order.

    Parameters
    ----------
    root : Path
        Root of the repository (default: the one holding this package).

    Returns
    -------
    list of Path
        Every ``.ipynb`` page named in ``root/_toc.yml`` (the report included), in reading order.
    """
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


def resolve_chapter(name: str, root: Path, among: list[Path] | None = None) -> Path:
    """The chapter named ``name``: a path to a notebook, a file name, a stem (``03-invariance-theorem``) or its
    number (``03``), among ``among`` (default: every chapter of ``root/_toc.yml``). ValueError naming the valid
    chapters when none or several match.

    Parameters
    ----------
    name : str
        A path, file name, stem or number.
    root : Path
        Root of the repository (default: the one holding this package).
    among : list of Path or None, optional
        The chapters to choose from (default: every chapter of ``root/_toc.yml``).

    Returns
    -------
    Path
        The notebook.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    Examples
    --------
    >>> from pathlib import Path
    >>> from deeplinear_book.book import resolve_chapter
    >>> chapters = [Path("book/01-alignment.ipynb"), Path("book/03-invariance-theorem.ipynb")]
    >>> resolve_chapter("03", Path("."), among=chapters).name
    '03-invariance-theorem.ipynb'
    """
    path = Path(name)
    if among is None and path.suffix == ".ipynb" and path.exists():
        return path.resolve()
    every = chapters(root) if among is None else among
    found = [p for p in every if name in (p.stem, p.name, p.stem.split("-")[0])]
    if len(found) != 1:
        raise ValueError(f"unknown chapter {name!r}; valid chapters: {', '.join(p.stem for p in every)}")
    return found[0]


@dataclass(frozen=True)
class Parameter:
    """A parameter of a chapter's ``parameters`` cell: its ``default`` (a Python value; the source text where it
    is not a literal), the ``comment`` on its line, and ``notes``, the comment lines ``# name: ...`` above it
    (with their continuation lines).

    Attributes
    ----------
    name : str
        The parameter.
    default : object
        Its default (a Python value; the source text where it is not a literal).
    comment : str
        The comment on its line.
    notes : tuple
        The comment lines ``# name: ...`` above it.
    """

    name: str
    default: Any
    comment: str = ""
    notes: tuple[str, ...] = ()


def parameters_cell(notebook: Path) -> tuple[int, dict[str, Parameter]]:
    """The index of ``notebook``'s one cell tagged ``parameters`` and its parameters in order: the one reading
    of that cell (the runner, the ranges of `deeplinear_book.ranges` and the tests all use it). ValueError when the
    notebook has no such cell, or several, or the cell holds anything but one assignment per name.

    Parameters
    ----------
    notebook : Path
        Path of a chapter notebook (.ipynb).

    Returns
    -------
    tuple
        ``(index, parameters)``: the cell's index and name -> `Parameter`, in order.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"{Path(notebook).name} needs exactly one cell tagged 'parameters', has {len(tagged)}")
    source = nb.cells[tagged[0]].source
    comments = {
        token.start[0]: token.string.lstrip("#").strip()
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    notes: dict[str, list[str]] = {}
    current = None
    for line in source.splitlines():
        found = re.match(r"#\s*([A-Za-z_]\w*):\s*(.*)", line)
        if found:
            current = found[1]
            notes.setdefault(current, []).append(found[2])
        elif current and line.startswith("#"):
            notes[current].append(line.lstrip("# "))
        else:
            current = None
    out = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            segment = ast.get_source_segment(source, node)
            raise ValueError(
                f"{Path(notebook).name}: the parameters cell holds one assignment per line, got {segment!r}"
            )
        name = node.targets[0].id
        try:
            default = ast.literal_eval(node.value)
        except (ValueError, TypeError):
            default = ast.get_source_segment(source, node.value)
        out[name] = Parameter(name, default, comments.get(node.end_lineno, ""), tuple(notes.get(name, ())))
    return tagged[0], out


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """Name -> default of every parameter in the notebook's ``parameters`` cell (`parameters_cell`).

    Parameters
    ----------
    notebook : Path
        Path of a chapter notebook (.ipynb).

    Returns
    -------
    dict
        Name -> default.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    return {name: p.default for name, p in parameters_cell(notebook)[1].items()}


def check_names(notebook: Path, parameters: dict[str, Any]) -> None:
    """Refuse parameter names the chapter does not declare, listing the valid ones (ValueError).

    Parameters
    ----------
    notebook : Path
        Path of a chapter notebook (.ipynb).
    parameters : dict
        Name -> value.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    declared = declared_parameters(notebook)
    unknown = [name for name in parameters if name not in declared]
    if unknown:
        raise ValueError(
            f"{notebook.stem} has no parameter named {', '.join(map(repr, sorted(unknown)))}; "
            f"valid names: {', '.join(declared)}"
        )


def run_chapter(notebook: Path, output: Path, parameters: dict[str, Any]) -> float:
    """Execute ``notebook`` with ``parameters`` into ``output``, in the notebook's folder; return the seconds.

    Parameters
    ----------
    notebook : Path
        Path of a chapter notebook (.ipynb).
    output : Path
        Where the executed notebook goes.
    parameters : dict
        Name -> value.

    Returns
    -------
    float
        The seconds it took.
    """
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


def normalise(nb: Any, seconds: float | None = None, executed: dict[str, Any] | None = None) -> None:
    """Drop volatile metadata so that re-executing a notebook gives a small diff.

    ``seconds``, the wall time of the whole execution, is kept (rounded) for the reproduction report's cost
    table; ``executed``, when and from which commit the notebook was executed (`provenance`), is kept beside it
    for the landing page.
    """
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"},
    }
    if seconds is not None or executed:
        nb.metadata["deeplinear"] = {
            **({"execution_seconds": round(seconds, 1)} if seconds is not None else {}),
            **(executed or {}),
        }
    for cell in nb.cells:
        for key in ("execution", "collapsed", "scrolled", "papermill"):
            cell.metadata.pop(key, None)
        if cell.metadata.get("tags") == []:  # papermill adds empty tag lists
            del cell.metadata["tags"]


def _code_cells(text: str) -> list[str]:
    cells = json.loads(text)["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def provenance(notebook: Path, when: datetime | None = None) -> dict[str, Any]:
    """When and from which code ``notebook`` is executed, as `execute_in_place` records it: ``executed_on``, the
    UTC date (``"2026-12-06"``); ``commit``, the clone's ``HEAD`` (None outside a git clone); and ``uncommitted``,
    what of the code the outputs depend on differs from that commit: ``"lib"`` (`code_version` sees uncommitted
    changes to the library) and the chapter's path when its code cells differ from the commit's (a chapter new
    since). Empty, the commit is the code that ran; otherwise the commit alone does not say which code ran.

    Parameters
    ----------
    notebook : Path
        Path of a chapter notebook (.ipynb).
    when : datetime or None, optional
        The time of execution (default: now).

    Returns
    -------
    dict
        ``executed_on``, ``commit`` and ``uncommitted``.
    """
    record: dict[str, Any] = {
        "executed_on": (when or datetime.now(UTC)).astimezone(UTC).date().isoformat(),
        "commit": None,
        "uncommitted": [],
    }
    top = git(Path(notebook).resolve().parent, "rev-parse", "--show-toplevel")
    version = code_version(Path(top.strip())) if top else None
    if version is None:
        return record
    root = Path(top.strip())
    record["commit"], _, changes = version.partition("+")
    relative = Path(notebook).resolve().relative_to(root).as_posix()
    committed = git(root, "show", f"HEAD:{relative}")
    record["uncommitted"] = ["lib"] * bool(changes) + [relative] * (
        committed is None or _code_cells(committed) != _code_cells(Path(notebook).read_text(encoding="utf-8"))
    )
    return record


def execute_in_place(notebook: Path) -> float:
    """Re-execute a committed chapter with its defaults and write it back, normalised, with its `provenance`
    (``make execute``).

    Parameters
    ----------
    notebook : Path
        Path of a chapter notebook (.ipynb).

    Returns
    -------
    float
        The seconds it took.
    """
    import nbformat

    executed_from = provenance(notebook)  # the code as it is when the run starts
    with tempfile.TemporaryDirectory() as scratch:
        executed = Path(scratch) / notebook.name
        seconds = run_chapter(notebook, executed, {})
        nb = nbformat.read(executed, as_version=4)
    normalise(nb, seconds, executed_from)
    nbformat.write(nb, notebook)
    return seconds


def _value(text: str) -> Any:
    if text in ("'yes'", "'no'", "yes", "no"):  # deeplinear_book.claims.claim glues a bool as a word
        return text.strip("'") == "yes"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def glued_text(notebook: Path) -> dict[str, str]:
    """Name -> text of every number, boolean or text a notebook glued (figures are skipped).

    Parameters
    ----------
    notebook : Path
        Path of a chapter notebook (.ipynb).

    Returns
    -------
    dict
        Name -> text.
    """
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
    """Like `glued_text`, with numbers and booleans read back as Python values.

    Parameters
    ----------
    notebook : Path
        Path of a chapter notebook (.ipynb).

    Returns
    -------
    dict
        Name -> value.
    """
    return {name: _value(text) for name, text in glued_text(notebook).items()}


def git(root: Path, *args: str) -> str | None:
    """``git -C root ARGS``'s standard output, or None outside a git clone (or without git).

    Parameters
    ----------
    root : Path
        Root of the repository (default: the one holding this package).
    *args : str
        The git command's arguments.

    Returns
    -------
    str or None
        The standard output, or None.
    """
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def code_version(root: Path) -> str | None:
    """Which library code ran: the commit (``git rev-parse HEAD``), with ``+`` and a hash of the library's
    uncommitted changes when it has any (``git diff HEAD -- lib`` and the files under ``lib`` that git does not
    track yet); None outside a git clone. A chapter's own code is `chapter_code`. The runner records it in
    ``claims.json``, the sweep in its cache key and ``sweep.json``.

    Parameters
    ----------
    root : Path
        Root of the repository (default: the one holding this package).

    Returns
    -------
    str or None
        The commit (with ``+`` and a hash of uncommitted changes), or None.
    """
    head = git(root, "rev-parse", "HEAD")
    if head is None:
        return None
    diff = git(root, "diff", "HEAD", "--no-ext-diff", "--", "lib") or ""
    untracked = (git(root, "ls-files", "--others", "--exclude-standard", "--", "lib") or "").splitlines()
    digest = hashlib.sha256(diff.encode())
    for name in sorted(untracked):
        digest.update(name.encode() + b"\0" + (root / name).read_bytes())
    return head.strip() + (f"+{digest.hexdigest()[:12]}" if diff or untracked else "")


def chapter_code(notebook: Path) -> str:
    """Which chapter code ran: a hash of the chapter's code cells, in order (its outputs, prose and metadata do
    not change what a run computes).

    Parameters
    ----------
    notebook : Path
        Path of a chapter notebook (.ipynb).

    Returns
    -------
    str
        A hash of the chapter's code cells.
    """
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    code = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
    code = [text for c, text in zip(cells, code) if c["cell_type"] == "code"]
    return hashlib.sha256(json.dumps(code).encode()).hexdigest()[:16]
