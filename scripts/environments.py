"""The environments generated from requirements.lock, the one place where versions are chosen (make lock).

requirements.lock is written by ``uv pip compile --universal --generate-hashes`` (see the Makefile): every
package of pyproject's dependencies, of the extras ``make env`` installs (book, test, sweep) and of the build
backend, for every platform, each pinned to one version with the hashes of its files (a few carry a marker,
as ``colorama ; sys_platform == 'win32'``), and with ``# via`` lines naming who needs it. From it:

- ``environment.yml``: the whole locked set for conda users; the scientific stack (CONDA_ROOTS and what it
  needs, plus CONDA_EXTRAS) from conda-forge, at the locked versions; the rest from pip, exactly as locked.
- ``binder/environment.yml``: what reading and rerunning a chapter needs on Binder (RUNTIME_ROOTS and what they
  need, by the lock's ``# via`` lines), split the same way; ``binder/postBuild`` installs the package itself.

python scripts/environments.py sync             # write both from requirements.lock
python scripts/environments.py build-requires   # pyproject's [build-system] requires, one a line (make lock)

tests/test_packaging.py holds the two files to the lock: same version for every package they name.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
ENVIRONMENT = ROOT / "environment.yml"
BINDER_ENVIRONMENT = ROOT / "binder" / "environment.yml"

# The scientific stack, from conda-forge: these and every package of the lock they need (by its # via lines).
CONDA_ROOTS = ("numpy", "scipy", "matplotlib", "seaborn", "pandas")
# Compiled or common pieces that conda-forge also carries at the same versions as PyPI.
CONDA_EXTRAS = ("tqdm", "pyyaml", "pyzmq", "tornado", "psutil", "setuptools", "wheel")
# conda-forge's name where it differs from PyPI's: the -base packages leave out the optional extras
# (matplotlib's Qt, seaborn's statsmodels), which the lock does not have either.
CONDA_NAMES = {"matplotlib": "matplotlib-base", "seaborn": "seaborn-base", "tzdata": "python-tzdata"}

# Reading and rerunning a chapter on Binder: deeplinear's dependencies (from pyproject) and the pieces of the
# book extra a chapter imports at run time (myst-nb's glue, the tooling's papermill and pyyaml, a kernel);
# setuptools and wheel for binder/postBuild's install of the package without build isolation.
RUNTIME_ROOTS = ("pyyaml", "myst-nb", "papermill", "ipykernel", "setuptools", "wheel")

HEADER = "# Generated from requirements.lock by `make lock` (scripts/environments.py); do not edit."


def canonical(name: str) -> str:
    """PEP 503's normalised name: ``PyYAML`` and ``pyyaml``, ``typing_extensions`` and ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: str
    marker: str  # "" when the package is needed everywhere
    via: tuple[str, ...]  # canonical names of the packages that need it (and "-r file", "deeplinear (...)")

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}" + (f" ; {self.marker}" if self.marker else "")


_REQUIREMENT = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$"
)


def read_lock(text: str) -> list[Pin]:
    """The lock's requirements in order, with their markers and # via lines (uv's annotation format)."""
    entries: list[tuple[str, str, str, list[str]]] = []
    in_via = False
    for line in text.splitlines():
        if match := _REQUIREMENT.match(line):
            entries.append((canonical(match["name"]), match["version"], (match["marker"] or "").strip(), []))
            in_via = False
        elif line.startswith("    # via"):
            rest = line.removeprefix("    # via").strip()
            if rest:
                entries[-1][3].append(rest)
            in_via = not rest
        elif in_via and line.startswith("    #   "):
            entries[-1][3].append(line.removeprefix("    #   ").strip())
        else:
            in_via = False
    return [Pin(n, v, m, tuple(canonical(x) if " " not in x else x for x in via)) for n, v, m, via in entries]


def lock_python(text: str) -> str:
    """The Python version the lock was made for (``--python-version`` in its header)."""
    match = re.search(r"--python-version[ =](\d+\.\d+)", text)
    if not match:
        raise ValueError("requirements.lock does not say its --python-version (make lock writes it in the header)")
    return match[1]


def closure(pins: list[Pin], roots: list[str] | tuple[str, ...]) -> set[str]:
    """The roots and every package of the lock that one of them needs, directly or not (by the # via lines)."""
    names = {p.name for p in pins}
    missing = sorted(set(map(canonical, roots)) - names)
    if missing:
        raise ValueError(f"not in requirements.lock: {', '.join(missing)}")
    needs: dict[str, set[str]] = {}
    for pin in pins:
        for parent in pin.via:
            needs.setdefault(parent, set()).add(pin.name)
    found, todo = set(), [canonical(r) for r in roots]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(needs.get(name, ()))
    return found


def conda_packages(pins: list[Pin]) -> set[str]:
    """The lock's packages that come from conda-forge: the scientific stack and CONDA_EXTRAS, where a package
    has one version on every platform (a package with a marker, or with one version per Python, stays on pip)."""
    counts: dict[str, int] = {}
    for pin in pins:
        counts[pin.name] = counts.get(pin.name, 0) + 1
    wanted = closure(pins, CONDA_ROOTS) | set(CONDA_EXTRAS)
    return {p.name for p in pins if p.name in wanted and not p.marker and counts[p.name] == 1}


def project_dependencies(pyproject: dict) -> list[str]:
    """The names of deeplinear's own dependencies (pyproject's [project] dependencies)."""
    return [canonical(re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0]) for spec in pyproject["project"]["dependencies"]]


def render(name: str, comment: list[str], python: str, pins: list[Pin], conda: set[str], local: list[str]) -> str:
    """An environment.yml: python and the conda packages from conda-forge, the rest of `pins` from pip."""
    from_conda = sorted(f"{CONDA_NAMES.get(p.name, p.name)}=={p.version}" for p in pins if p.name in conda)
    from_pip = [p.requirement for p in pins if p.name not in conda]
    lines = [
        HEADER,
        *comment,
        f"name: {name}",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={python}",
        *[f"  - {spec}" for spec in from_conda],
        "  - pip",
        "  - pip:",
        *[f'      - "{req}"' if ";" in req else f"      - {req}" for req in from_pip],
        *[f"      - {spec}" for spec in local],
    ]
    return "\n".join(lines) + "\n"


def generate(lock_text: str, pyproject: dict) -> dict[Path, str]:
    """The text of environment.yml and binder/environment.yml for this lock."""
    pins = read_lock(lock_text)
    python = lock_python(lock_text)
    conda = conda_packages(pins)
    runtime = closure(pins, [*project_dependencies(pyproject), *RUNTIME_ROOTS])
    everything = render(
        "deeplinear",
        [
            "# Every locked package (the book, test and sweep extras, as make env installs them): the scientific",
            "# stack from conda-forge, the rest from pip, at the versions of the lock; then the package itself.",
        ],
        python,
        pins,
        conda,
        ["-e ."],
    )
    binder = render(
        "deeplinear-binder",
        [
            "# Binder (which reads binder/ before the root): what reading and rerunning a chapter needs, without the",
            "# book-building and test tooling; at the versions of the lock. binder/postBuild installs the package.",
        ],
        python,
        [p for p in pins if p.name in runtime],
        conda,
        [],
    )
    return {ENVIRONMENT: everything, BINDER_ENVIRONMENT: binder}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def main(argv: list[str]) -> int:
    if argv == ["sync"]:
        for path, text in generate(LOCK.read_text(), _pyproject()).items():
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    elif argv == ["build-requires"]:
        print("\n".join(_pyproject()["build-system"]["requires"]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
