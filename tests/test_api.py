"""The public API is typed (py.typed ships with both packages) and documented on the book's API page."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("deeplinear", "companion")


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
