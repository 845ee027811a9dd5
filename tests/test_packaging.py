"""Packaging: the hashed, cross-platform lock, the environments generated from it, and the CI workflow.

requirements.lock is the one place where versions are chosen (make lock); environment.yml (conda users) and
binder/environment.yml (Binder) must name every package at the lock's version. Offline and fast: the files
are read, not installed.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import environments  # noqa: E402  (scripts/environments.py)

LOCK_TEXT = (ROOT / "requirements.lock").read_text()
LOCK = environments.read_lock(LOCK_TEXT)
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONDA_TO_PYPI = {conda: pypi for pypi, conda in environments.CONDA_NAMES.items()}

# Test, lint, browser and book-building tooling: none of it belongs in the Binder environment.
NOT_RUNTIME = (
    "pytest",
    "pytest-xdist",
    "nbval",
    "hypothesis",
    "ruff",
    "playwright",
    "coverage",
    "jupyter-book",
    "sphinx-book-theme",
    "dask",
    "distributed",
    "bokeh",
    "threadpoolctl",
)


def _lock_versions() -> dict[str, set[str]]:
    versions: dict[str, set[str]] = {}
    for pin in LOCK:
        versions.setdefault(pin.name, set()).add(pin.version)
    return versions


def _environment(path: Path) -> tuple[dict, dict[str, str], list[str]]:
    """(the parsed file, {PyPI name: version} of its conda-forge packages, its pip lines)."""
    env = yaml.safe_load(path.read_text())
    conda, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip = dep["pip"]
        elif "==" in dep:
            name, version = dep.split("==")
            conda[CONDA_TO_PYPI.get(name, name)] = version
    return env, conda, pip


def _pip_pins(lines: list[str]) -> list[Requirement]:
    return [Requirement(line) for line in lines if not line.startswith("-")]


def _pinned_version(req: Requirement) -> str:
    (spec,) = req.specifier
    assert spec.operator == "==", req
    return spec.version


def test_the_lock_is_hashed_cross_platform_and_made_for_the_pinned_python():
    assert "--universal" in LOCK_TEXT and "--generate-hashes" in LOCK_TEXT
    assert environments.lock_python(LOCK_TEXT) == "3.11"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^LOCK_PYTHON := 3\.11$", makefile, re.M), "make lock pins the Python version"
    # Every requirement has at least one sha256 hash: split the file at each requirement line.
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK_TEXT.split("\n", 2)[2])
    assert len(blocks) == len(LOCK) > 100
    for block in blocks:
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), block.splitlines()[0]
    # One version per package, except where the lock splits by Python version, each half with its marker.
    for name, versions in _lock_versions().items():
        if len(versions) > 1:
            assert all(p.marker for p in LOCK if p.name == name), name


def test_the_build_backend_is_pinned_in_pyproject_and_the_lock():
    requires = PYPROJECT["build-system"]["requires"]
    assert {Requirement(r).name for r in requires} == {"setuptools", "wheel"}
    versions = _lock_versions()
    for spec in requires:
        req = Requirement(spec)
        assert versions[req.name] == {_pinned_version(req)}, f"{spec} in pyproject, {versions[req.name]} locked"


def test_the_lock_holds_everything_make_env_installs_within_pyproject_ranges():
    extras = PYPROJECT["project"]["optional-dependencies"]
    wanted = [*PYPROJECT["project"]["dependencies"], *extras["book"], *extras["test"], *extras["sweep"]]
    versions = _lock_versions()
    for spec in wanted:
        req = Requirement(spec)
        name = environments.canonical(req.name)
        assert name in versions, f"{spec} is not in requirements.lock: run make lock"
        assert all(req.specifier.contains(v) for v in versions[name]), f"{spec}: locked {versions[name]}"
    assert {"distributed", "bokeh"} <= set(versions)  # dask[distributed,diagnostics]


def test_make_env_installs_the_lock_with_hashes_then_the_package_alone():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("$(STAMP): requirements.lock pyproject.toml") :].split("\n\n")[0]
    assert "pip install" in recipe and "--require-hashes" in recipe and "-r requirements.lock" in recipe
    assert "--no-deps --no-build-isolation -e ." in recipe


@pytest.mark.parametrize("path", ["environment.yml", "binder/environment.yml"])
def test_an_environment_names_each_package_at_the_lock_version(path):
    env, conda, pip = _environment(ROOT / path)
    assert env["channels"] == ["conda-forge"]
    assert f"python={environments.lock_python(LOCK_TEXT)}" in env["dependencies"]
    versions = _lock_versions()
    for name, version in conda.items():
        assert versions.get(name) == {version}, f"{path}: conda-forge {name}=={version}, locked {versions.get(name)}"
    for req in _pip_pins(pip):
        name = environments.canonical(req.name)
        assert _pinned_version(req) in versions.get(name, ()), f"{path}: pip {req}, locked {versions.get(name)}"
        (pin,) = [p for p in LOCK if p.name == name and p.version == _pinned_version(req)]
        assert str(req.marker or "") == str(Requirement(pin.requirement).marker or ""), f"{path}: {req}"
    names = [*conda, *(environments.canonical(r.name) for r in _pip_pins(pip))]
    assert not set(conda) & {environments.canonical(r.name) for r in _pip_pins(pip)}, "both from conda and pip"
    assert len(set(names)) == len(set(names) & set(versions))


def test_environment_yml_is_the_whole_lock_with_the_scientific_stack_from_conda_forge():
    env, conda, pip = _environment(ROOT / "environment.yml")
    for name in ("numpy", "scipy", "matplotlib", "seaborn", "pandas"):
        assert name in conda, f"{name} should come from conda-forge"
    assert "matplotlib-base==" + conda["matplotlib"] in env["dependencies"]  # without Qt
    named = set(conda) | {environments.canonical(r.name) for r in _pip_pins(pip)}
    assert named == set(_lock_versions()), "environment.yml names every locked package, and no other"
    assert "-e ." in pip


def test_binder_gets_the_chapters_runtime_only():
    env, conda, pip = _environment(ROOT / "binder/environment.yml")
    named = set(conda) | {environments.canonical(r.name) for r in _pip_pins(pip)}
    for name in [*environments.project_dependencies(PYPROJECT), "pyyaml", "papermill", "ipykernel", "myst-nb"]:
        assert name in named, f"binder/environment.yml lacks {name}"
    assert not named & set(NOT_RUNTIME), f"test or build tooling on Binder: {sorted(named & set(NOT_RUNTIME))}"
    assert not [line for line in pip if line.startswith("-")], "binder/postBuild installs the package"
    post_build = (ROOT / "binder/postBuild").read_text()
    assert "--no-deps --no-build-isolation -e ." in post_build
    assert (ROOT / "binder/postBuild").stat().st_mode & 0o111, "binder/postBuild is executable"
    # Binder reads binder/ first, and only environment.yml and postBuild there; nothing else decides.
    assert sorted(p.name for p in (ROOT / "binder").iterdir()) == ["environment.yml", "postBuild"]
    assert not (ROOT / "requirements.txt").exists()


def test_the_committed_environments_are_what_make_lock_writes():
    for path, text in environments.generate(LOCK_TEXT, PYPROJECT).items():
        assert path.read_text() == text, f"{path.relative_to(ROOT)} is stale: run python scripts/environments.py sync"


def test_the_runtime_closure_follows_the_lock_annotations():
    """The # via lines are read as uv writes them: numpy's dependants include scipy, and seaborn needs pandas."""
    numpy = next(p for p in LOCK if p.name == "numpy")
    assert "scipy" in numpy.via
    assert "pandas" in environments.closure(LOCK, ["seaborn"])
    assert "pytest" not in environments.closure(LOCK, ["numpy"])
    with pytest.raises(ValueError, match="not in requirements.lock"):
        environments.closure(LOCK, ["no-such-package"])


def test_the_hosted_ci_runs_ci_run_on_python_3_11():
    workflow = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    (job,) = workflow["jobs"].values()
    container = job["container"]
    assert (container["image"] if isinstance(container, dict) else container).startswith("python:3.11-")
    assert any(step.get("run", "").strip() == ".ci/run" for step in job["steps"])
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as True
    assert {"push", "pull_request"} <= set(triggers)
