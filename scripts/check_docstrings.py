"""Check the public API's docstrings against the numpydoc layout the API page renders (run by `make lint`).

The public API is every name in the ``__all__`` of each public module of ``deeplinear`` and ``deeplinear_book``
(and the public methods of the classes among them). For each function and method:

- a docstring with a one-line summary;
- a ``Parameters`` section whose names are those of the signature, in order (``self`` and ``cls`` aside), each
  entry ``name : type`` with a type and an indented description;
- a ``Returns`` section, each entry with an indented description, unless the function returns None;
- each ``Raises`` entry an exception name with an indented description;
- no section header that numpydoc does not know, no section twice.

For each class: a docstring with a summary; a dataclass documents every field under ``Attributes`` (or
``Parameters``); a named tuple documents every field with a ``#:`` comment (else Sphinx shows "Alias for field
number 0"); another class with its own ``__init__`` documents that signature under ``Parameters``.

Usage: ``python scripts/check_docstrings.py`` prints one line per problem and exits 1 if there is any; ``--stats``
also prints how many public objects there are and how many carry an ``Examples`` section.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import pkgutil
import re
import sys
from collections.abc import Callable, Iterator

PACKAGES = ("deeplinear", "deeplinear_book")
SECTIONS = (
    "Parameters",
    "Attributes",
    "Returns",
    "Yields",
    "Other Parameters",
    "Raises",
    "Warns",
    "Warnings",
    "See Also",
    "Notes",
    "References",
    "Examples",
    "Methods",
)


def public_objects(packages: tuple[str, ...] = PACKAGES) -> Iterator[tuple[str, object]]:
    """Every public function, class and public method of a class, once, with its qualified name."""
    seen: set[int] = set()
    for package in packages:
        root = importlib.import_module(package)
        names = [package] + [m.name for m in pkgutil.walk_packages(root.__path__, package + ".")]
        for name in names:
            if any(part.startswith("_") for part in name.split(".")):
                continue
            module = importlib.import_module(name)
            for attr in getattr(module, "__all__", []):
                obj = getattr(module, attr)
                if not (inspect.isfunction(obj) or inspect.isclass(obj)) or id(obj) in seen:
                    continue
                if not obj.__module__.startswith(package):
                    continue
                seen.add(id(obj))
                yield f"{obj.__module__}.{obj.__qualname__}", obj
                if inspect.isclass(obj):
                    for member_name, member in vars(obj).items():
                        func = member.__func__ if isinstance(member, classmethod | staticmethod) else member
                        if member_name.startswith("_") or not inspect.isfunction(func) or id(func) in seen:
                            continue
                        seen.add(id(func))
                        yield f"{obj.__module__}.{func.__qualname__}", func


def sections(doc: str) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """Split a cleaned docstring into its text before the first section, the sections and the problems found."""
    lines = doc.split("\n")
    head: list[str] = []
    found: dict[str, list[str]] = {}
    problems: list[str] = []
    current = head
    i = 0
    while i < len(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if lines[i].strip() and not lines[i].startswith(" ") and re.fullmatch(r"-{3,}", nxt.strip()):
            title = lines[i].strip()
            if title not in SECTIONS:
                problems.append(f"unknown section {title!r}")
            if title in found:
                problems.append(f"section {title!r} twice")
            current = found.setdefault(title, [])
            i += 2
            continue
        current.append(lines[i])
        i += 1
    return head, found, problems


def entries(body: list[str]) -> list[tuple[str, list[str]]]:
    """The entries of a section: a line at the section's indentation, then its indented description."""
    out: list[tuple[str, list[str]]] = []
    for line in body:
        if line.strip() and not line.startswith(" "):
            out.append((line.strip(), []))
        elif out:
            out[-1][1].append(line)
        elif line.strip():
            out.append(("", [line]))  # an indented line before any entry
    return out


def signature_names(func: Callable) -> list[str]:
    """The parameter names a docstring documents: ``*args`` and ``**kwargs`` with their stars."""
    names = []
    for p in inspect.signature(func).parameters.values():
        if p.name in ("self", "cls"):
            continue
        star = "*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD else ""
        names.append(star + p.name)
    return names


def check_parameters(body: list[str], expected: list[str], section: str = "Parameters") -> list[str]:
    """Problems of a Parameters (or Attributes) section: names that differ from ``expected``, a missing type
    or description."""
    problems = []
    documented: list[str] = []
    for head, description in entries(body):
        if not head:
            problems.append(f"{section}: an indented line before any entry")
            continue
        names, sep, kind = head.partition(" : ")
        if not sep or not kind.strip():
            problems.append(f"{section}: {head!r} has no type (write 'name : type')")
        if not "".join(description).strip():
            problems.append(f"{section}: {names.strip()!r} has no description")
        documented += [n.strip() for n in names.split(",")]
    if documented != expected:
        missing = [n for n in expected if n not in documented]
        extra = [n for n in documented if n not in expected]
        if missing:
            problems.append(f"{section}: not documented: {', '.join(missing)}")
        if extra:
            problems.append(f"{section}: documented but not in the signature: {', '.join(extra)}")
        if not missing and not extra:
            problems.append(f"{section}: not in the signature's order {expected}")
    return problems


def check_described(body: list[str], section: str) -> list[str]:
    """Problems of a Returns, Yields or Raises section: an entry without an indented description."""
    problems = []
    if not entries(body):
        problems.append(f"{section}: empty")
    for head, description in entries(body):
        if not head:
            problems.append(f"{section}: an indented line before any entry")
        elif not "".join(description).strip():
            problems.append(f"{section}: {head!r} has no description (write the type, then an indented line)")
    return problems


def check_function(func: Callable) -> list[str]:
    """Problems of one function's or method's docstring (an empty list when it is complete)."""
    doc = inspect.getdoc(func)
    if not doc or not doc.strip():
        return ["no docstring"]
    head, found, problems = sections(doc)
    if not head or not head[0].strip():
        problems.append("no summary line")
    expected = signature_names(func)
    if expected or "Parameters" in found:
        if "Parameters" not in found:
            problems.append(f"no Parameters section (parameters: {', '.join(expected)})")
        else:
            problems += check_parameters(found["Parameters"], expected)
    returns = inspect.signature(func).return_annotation
    returns_none = returns in (None, "None")
    if "Returns" in found:
        problems += check_described(found["Returns"], "Returns")
    elif "Yields" in found:
        problems += check_described(found["Yields"], "Yields")
    elif not returns_none:
        problems.append("no Returns section")
    if "Raises" in found:
        problems += check_described(found["Raises"], "Raises")
    return problems


def field_comments(cls: type) -> set[str]:
    """The fields of a class body that a ``#:`` comment line documents (Sphinx reads them as the field's doc)."""
    try:
        lines = inspect.getsource(cls).split("\n")
    except (OSError, TypeError):
        return set()
    found = set()
    for before, line in zip(lines, lines[1:]):
        match = re.match(r"\s+(\w+)\s*:", line)
        if match and before.strip().startswith("#:") and before.strip()[2:].strip():
            found.add(match.group(1))
    return found


def check_class(cls: type) -> list[str]:
    """Problems of one class's docstring (its methods are checked one by one)."""
    doc = inspect.getdoc(cls) if cls.__doc__ else None
    if not doc or not doc.strip():
        return ["no docstring"]
    head, found, problems = sections(doc)
    if not head or not head[0].strip():
        problems.append("no summary line")
    if dataclasses.is_dataclass(cls):
        fields = [f.name for f in dataclasses.fields(cls)]
        key = "Attributes" if "Attributes" in found else "Parameters"
        if key not in found:
            problems.append(f"no Attributes section (fields: {', '.join(fields)})")
        else:
            problems += check_parameters(found[key], fields, key)
    elif issubclass(cls, tuple) and hasattr(cls, "_fields"):
        commented = field_comments(cls)
        for name in cls._fields:
            text = getattr(cls, name).__doc__ or ""
            if name not in commented and (not text.strip() or text.startswith("Alias for field number")):
                problems.append(f"field {name!r} has no '#:' comment (Sphinx shows {text!r})")
    elif "__init__" in vars(cls):
        expected = signature_names(cls.__init__)
        if expected and "Parameters" not in found:
            problems.append(f"no Parameters section for __init__ (parameters: {', '.join(expected)})")
        elif "Parameters" in found:
            problems += check_parameters(found["Parameters"], expected)
    if "Raises" in found:
        problems += check_described(found["Raises"], "Raises")
    return problems


def check(obj: object) -> list[str]:
    """Problems of one public function, method or class."""
    return check_class(obj) if inspect.isclass(obj) else check_function(obj)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stats", action="store_true", help="print the counts of objects and of Examples")
    args = parser.parse_args(argv)
    total = with_examples = failed = 0
    for name, obj in public_objects():
        total += 1
        doc = inspect.getdoc(obj) or ""
        with_examples += bool(re.search(r"^Examples\n-{3,}$", doc, re.M))
        for problem in check(obj):
            failed += 1
            print(f"{name}: {problem}")
    if args.stats or failed:
        print(f"{total} public objects, {with_examples} with Examples, {failed} problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
