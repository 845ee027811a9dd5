"""The public API is typed (py.typed ships with both packages) and documented on the book's API page."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("deeplinear", "deeplinear_book")


def public_modules():
    """The packages' top-level public modules (deeplinear.metrics, ..., deeplinear.plotting)."""
    for package in PACKAGES:
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
            if not info.name.startswith("_"):
                yield importlib.import_module(f"{package}.{info.name}")


def all_modules():
    """The public modules and every module inside a public package (the figures are defined in
    deeplinear.plotting's topic modules, some private, and are public through deeplinear.plotting)."""
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if not info.name.split(".")[1].startswith("_"):
                yield importlib.import_module(info.name)


def public_functions(module):
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj):
            for attr, fn in vars(obj).items():
                if inspect.isfunction(fn) and (not attr.startswith("_") or attr == "__init__"):
                    yield f"{name}.{attr}", fn


@pytest.mark.parametrize("module", list(all_modules()), ids=lambda m: m.__name__)
def test_public_functions_have_type_hints(module):
    untyped = []
    for name, fn in public_functions(module):
        signature = inspect.signature(fn)
        missing = [
            p for p, prm in signature.parameters.items() if p not in ("self", "cls") and prm.annotation is prm.empty
        ]
        if missing or (signature.return_annotation is signature.empty and not name.endswith("__init__")):
            untyped.append(
                f"{name}({', '.join(missing)})" + (" -> ?" if signature.return_annotation is signature.empty else "")
            )
    assert not untyped, f"{module.__name__}: untyped " + "; ".join(untyped)


@pytest.mark.parametrize("module", list(public_modules()), ids=lambda m: m.__name__)
def test_every_public_module_is_on_the_api_page(module):
    assert f"automodule:: {module.__name__}" in (ROOT / "book" / "api.md").read_text()


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_ship_py_typed(package):
    assert (ROOT / "lib" / package / "py.typed").is_file()


def _module_names(directory: Path, prefix: str):
    """Every module and subpackage under ``directory`` whose name has no leading underscore, as dotted names."""
    for path in sorted(directory.iterdir()):
        name = path.stem if path.suffix == ".py" else path.name
        if name.startswith("_") or not (path.suffix == ".py" or (path / "__init__.py").is_file()):
            continue
        yield f"{prefix}.{name}"
        if path.is_dir():
            yield from _module_names(path, f"{prefix}.{name}")


def test_import_deeplinear_gives_every_public_module_as_an_attribute():
    """After ``import deeplinear`` alone, in a fresh interpreter, ``deeplinear.<module>`` (and
    ``deeplinear.plotting.<module>``) is reachable for every public module in lib/deeplinear."""
    names = list(_module_names(ROOT / "lib" / "deeplinear", "deeplinear"))
    assert "deeplinear.balance" in names and "deeplinear.plotting.balance" in names
    script = (
        "import functools\n"
        "import deeplinear\n"
        "missing = []\n"
        f"for name in {names!r}:\n"
        "    try:\n"
        "        functools.reduce(getattr, name.split('.')[1:], deeplinear)\n"
        "    except AttributeError:\n"
        "        missing.append(name)\n"
        "print(missing)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"not reachable after `import deeplinear`: {out.stdout.strip()}"


def _imports(path: Path, module: str, package: str) -> set[str]:
    """The deeplinear modules that ``path`` imports, at top level or inside a function (not those under
    ``if TYPE_CHECKING:``, which never run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {
        id(node)
        for top in ast.walk(tree)
        if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test)
        for node in ast.walk(top)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        elif (node.module or "").startswith("deeplinear"):
            target = node.module
        else:
            continue
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            found.add(sub if _is_module(sub) else target)
    return found - {module}


def _is_module(dotted: str) -> bool:
    path = ROOT / "lib" / Path(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_the_library_has_no_import_cycle():
    """The graph of imports between deeplinear's modules (a package's __init__ left out: it gathers its
    modules) has no cycle: each module can be read knowing only the ones below it."""
    root = ROOT / "lib" / "deeplinear"
    graph = {}
    for path in root.rglob("*.py"):
        parts = ("deeplinear", *path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            continue
        module = ".".join(parts)
        graph[module] = {
            m for m in _imports(path, module, ".".join(parts[:-1])) if m not in ("deeplinear", "deeplinear.plotting")
        }
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as err:
        raise AssertionError(f"import cycle: {' -> '.join(err.args[1])}") from None


def test_the_api_links_preface_restates_every_chapter_import():
    """sphinx-codeautolink links a chapter's library calls to the API page through `_config.yml`'s preface of
    imports; a name a chapter imports that the preface lacks leaves its calls unlinked."""
    import ast
    import json

    import yaml

    root = Path(__file__).resolve().parents[1]
    preface = yaml.safe_load((root / "_config.yml").read_text())["sphinx"]["config"]["codeautolink_global_preface"]
    stated = {
        (node.module, alias.name)
        for node in ast.walk(ast.parse("\n".join(s.strip() for s in preface.split(";"))))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    missing = set()
    for path in sorted((root / "book").glob("0*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            for node in ast.walk(ast.parse("".join(cell["source"]))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("deeplinear"):
                    missing |= {(node.module, a.name) for a in node.names} - stated
    assert not missing, sorted(missing)
