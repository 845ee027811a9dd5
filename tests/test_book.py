"""The book's configuration, citation metadata, environment and chapter conventions."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import nbformat
import papermill
import pytest
import yaml

from deeplinear_book import book, chapters

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # portability.py

CHAPTERS = chapters(ROOT)


def _pins(lines):
    """{name: version} of the requirement lines (uv's lock: `name==version ; marker \\` then hash lines)."""
    pins = {}
    for line in lines:
        line = line.strip()
        if "==" in line and not line.startswith(("#", "-")):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = re.split(r"[\s;\\]", version.strip(), maxsplit=1)[0]
    return pins


def test_citation_cff_is_valid():
    schema = json.loads((ROOT / "tests/data/cff-schema-1.2.0.json").read_text())
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(cff)
    titles = {ref["title"] for ref in cff["references"]}
    assert "On Alignment in Deep Linear Neural Networks" in titles
    assert "Gradient descent aligns the layers of deep linear networks" in titles


def test_cff_schema_rejects_a_broken_citation():
    """The validation above can fail: a record without authors is refused."""
    schema = json.loads((ROOT / "tests/data/cff-schema-1.2.0.json").read_text())
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    del cff["authors"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(cff)


def test_zenodo_metadata_matches_citation():
    zenodo = json.loads((ROOT / ".zenodo.json").read_text())
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert zenodo["title"] == cff["title"]
    assert zenodo["version"] == cff["version"]
    assert zenodo["license"] == cff["license"] == "MIT"
    assert zenodo["creators"]


def test_lock_and_pyproject_pin_jupyter_book_1():
    lock = _pins((ROOT / "requirements.lock").read_text().splitlines())
    assert lock["jupyter-book"].startswith("1.")
    assert '"jupyter-book>=1.0.4,<2"' in (ROOT / "pyproject.toml").read_text()
    for needed in (
        "numpy",
        "scipy",
        "matplotlib",
        "seaborn",
        "papermill",
        "pytest",
        "nbval",
        "hypothesis",
        "tqdm",
        "myst-nb",
        "sphinx-proof",
        "sphinxcontrib-bibtex",
    ):
        assert needed in lock, needed


def test_book_config():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["only_build_toc_files"] is True
    assert {"dollarmath", "amsmath"} <= set(config["parse"]["myst_enable_extensions"])
    assert "sphinx_proof" in config["sphinx"]["extra_extensions"]
    assert config["bibtex_bibfiles"] == ["references.bib"]
    assert config["sphinx"]["config"]["nb_execution_raise_on_error"] is True
    assert config["execute"]["allow_errors"] is False
    # The site shows the committed outputs that nbval verifies and the report reads (README, "Two commands").
    assert config["execute"]["execute_notebooks"] == "off"


def test_every_toc_entry_exists():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", [toc]) for c in part["chapters"]]
    for name in files:
        assert any((ROOT / f"{name}{ext}").exists() for ext in (".md", ".ipynb")), name
    assert CHAPTERS, "no chapter notebook in _toc.yml"


def test_cited_keys_exist_in_references_bib():
    keys = set(re.findall(r"@\w+\{([^,]+),", (ROOT / "references.bib").read_text()))
    texts = [p.read_text() for p in (ROOT / "book").glob("*.md")] + [
        "\n".join(c.source for c in nbformat.read(p, 4).cells if c.cell_type == "markdown") for p in CHAPTERS
    ]
    cited = set()
    for text in texts:
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
            cited.update(k.strip() for k in group.split(","))
    assert cited, "no citation found"
    assert cited <= keys, f"missing from references.bib: {sorted(cited - keys)}"


def _parameters(path: Path) -> tuple[int, dict[str, object]]:
    """The parameters cell's index and name -> default, as `deeplinear_book.book.parameters_cell` (the one reader of
    that cell, which the runner and the sweep's ranges use) reads them."""
    index, parameters = book.parameters_cell(path)
    return index, {name: p.default for name, p in parameters.items()}


def test_the_parameters_cell_is_read_once_for_everyone(tmp_path):
    """Defaults as Python values, the comment on each line and the notes above it; a cell that is not one
    assignment per name is refused."""
    nb = nbformat.v4.new_notebook()
    cell = 'x = 3  # a count, integer in [1, 9]\n# h: note one\n# and two\nh = [1, 2]  # widths "#"\ns = "a#b"'
    nb.cells = [nbformat.v4.new_markdown_cell("x"), nbformat.v4.new_code_cell(cell, metadata={"tags": ["parameters"]})]
    path = tmp_path / "p.ipynb"
    nbformat.write(nb, path)
    index, parameters = book.parameters_cell(path)
    assert index == 1 and list(parameters) == ["x", "h", "s"]
    assert parameters["x"] == book.Parameter("x", 3, "a count, integer in [1, 9]")
    assert parameters["h"] == book.Parameter("h", [1, 2], 'widths "#"', ("note one", "and two"))
    assert parameters["s"].default == "a#b" and parameters["s"].comment == ""
    assert book.declared_parameters(path) == {"x": 3, "h": [1, 2], "s": "a#b"}
    nb.cells[1].source = "x = 3\nprint(x)"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="one assignment per line, got 'print\\(x\\)'"):
        book.parameters_cell(path)
    nb.cells[1].metadata = {}
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="exactly one cell tagged 'parameters', has 0"):
        book.parameters_cell(path)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_conventions(path):
    nb = nbformat.read(path, as_version=4)
    index, values = _parameters(path)
    assert values, "the parameters cell declares no parameter"
    for line in nb.cells[index].source.strip().splitlines():
        assert "#" in line, f"parameter line without a comment giving meaning and range: {line!r}"
    assert set(papermill.inspect_notebook(str(path))) == set(values), "papermill must see every parameter"
    after = nb.cells[index + 1]
    assert after.cell_type == "code" and "validation" in after.metadata.get("tags", [])
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert None not in counts, "commit chapters executed (make execute)"
    assert counts == sorted(counts), "cells were executed out of order"
    assert not any(o.output_type == "error" for c in code for o in c.outputs)
    preset = ROOT / "book/presets" / path.stem / "paper.yaml"
    assert preset.exists(), f"missing preset {preset}"
    assert set(yaml.safe_load(preset.read_text())) <= set(values)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_validation_cell_names_each_bad_parameter(path, monkeypatch):
    """Setting any one parameter to nonsense makes the validation cell raise, naming it."""
    monkeypatch.chdir(path.parent)  # chapters run in their own folder (papermill, nbval, jupyter-book)
    nb = nbformat.read(path, as_version=4)
    index, values = _parameters(path)
    prelude = [c.source for c in nb.cells[:index] if c.cell_type == "code"]
    for name in values:
        namespace: dict[str, object] = {}
        for source in prelude:
            exec(compile(source, str(path), "exec"), namespace)
        exec(compile(nb.cells[index].source, str(path), "exec"), namespace)
        namespace[name] = "not a valid value"
        with pytest.raises(ValueError, match=re.escape(name)):
            exec(compile(nb.cells[index + 1].source, str(path), "exec"), namespace)


def test_nbval_really_compares_outputs(tmp_path):
    """A stale output (code changed, notebook not re-executed) fails nbval in strict mode."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(round(0.1 + 0.2, 3))")
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="0.3\n")]
    nb.cells = [cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    good, stale = tmp_path / "good.ipynb", tmp_path / "stale.ipynb"
    nbformat.write(nb, good)
    cell.source = "print(round(0.1 + 0.2, 3) * 2)"
    nbformat.write(nb, stale)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "--nbval",
        "--nbval-current-env",
        "-p",
        "no:cacheprovider",
        "--nbval-sanitize-with",
        str(ROOT / "tests/nbval_sanitize.cfg"),
    ]
    assert subprocess.run([*cmd, str(good)], capture_output=True, cwd=tmp_path).returncode == 0
    assert subprocess.run([*cmd, str(stale)], capture_output=True, cwd=tmp_path).returncode != 0


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_a_chapter_opened_without_the_library_says_how_to_install_it(path):
    """Colab runs a chapter with neither deeplinear nor myst-nb: its first cell must say what to do."""
    first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    script = (
        "import sys\n"
        "sys.modules['deeplinear'] = sys.modules['myst_nb'] = None  # as if not installed\n"
        f"exec(compile({first.source!r}, 'first cell', 'exec'), {{}})\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: This chapter needs"), last
    assert "%pip install" in last and "git+https://github.com/" in last and "make env" in last


def test_launch_buttons_are_binder_and_colab_only():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    buttons = config["launch_buttons"]
    assert buttons["binderhub_url"] == "https://mybinder.org"
    assert buttons["colab_url"] == "https://colab.research.google.com"
    assert not buttons.get("jupyterhub_url") and not buttons.get("thebe") and not buttons.get("deepnote_url")
    # Binder builds from binder/ (the chapters' runtime, tests/test_packaging.py), which wins over the root's files.
    assert (ROOT / "binder/environment.yml").exists() and not (ROOT / "requirements.txt").exists()
    assert config["repository"]["path_to_book"] == ""  # the chapters' paths are relative to the root
    assert "launch_links" in config["sphinx"]["local_extensions"]


def _sanitize(text: str) -> str:
    """Apply tests/nbval_sanitize.cfg as nbval does (each section's regex, in order)."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "tests/nbval_sanitize.cfg")
    for section in config.sections():
        text = re.sub(config[section]["regex"], config[section]["replace"], text)
    return text


@pytest.mark.parametrize(
    "text",
    [
        "2.2e-15",
        "-2.2e-16",
        "1e-10",
        "9.9e-11",
        "0.0e+00",
        "-0.0e+00",
        "1.5e-300",
        "0.0",
        "-0.0",
        "0x7f3a2c1b9e40",
        "12.3 s elapsed",
    ],
)
def test_sanitizer_hides_rounding_level_values_timings_and_addresses(text):
    assert _sanitize(f"value {text} here" if text not in ("0.0", "-0.0") else text) != (
        f"value {text} here" if text not in ("0.0", "-0.0") else text
    )


@pytest.mark.parametrize(
    "text",
    [
        "3.2e-09",
        "1.0e-09",
        "1.1e-10x",
        "0.175",
        "1.0e+00",
        "10.0e-12",
        "35.0",
        "0.0001",
        "loss 0.0 at the start",
        "[0.67 0.97]",
        "x2.0e-15",
        "1.00000001",
    ],
)
def test_sanitizer_never_hides_a_number_above_rounding_level(text):
    """Numbers a claim rests on (1e-9 and above, fixed point, a 0.0 inside a sentence) are compared digit for digit."""
    assert _sanitize(text) == text


def test_second_numerical_configuration_differs_from_the_default(monkeypatch):
    """scripts/portability.py picks another OpenBLAS kernel than the one running, also where one is forced,
    switches numpy's SIMD dispatch off and uses two threads."""
    import portability

    for forced in (None, "Sandybridge", "Haswell"):
        if forced:
            monkeypatch.setenv("OPENBLAS_CORETYPE", forced)
        else:
            monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
        env, default = portability.second_configuration()
        assert env["OPENBLAS_NUM_THREADS"] == "2"
        if default["dispatch"]:
            assert env["NPY_DISABLE_CPU_FEATURES"].split() == default["dispatch"]
        if default["blas"] != "openblas":
            continue
        assert "OPENBLAS_CORETYPE" in env, f"no other kernel than {default['kernel']} found"
        second = portability.probe(env)
        assert second["kernel"].lower() != default["kernel"].lower()
        assert second["dispatch"] == []


def test_deeplinear_is_the_science_and_knows_nothing_of_the_book():
    """import deeplinear loads neither pyyaml nor papermill, and no module of it imports deeplinear_book."""
    code = (
        "import sys, deeplinear, deeplinear.bases; "
        "print(sorted(m for m in ('yaml', 'papermill', 'nbformat', 'deeplinear_book') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for module in (ROOT / "lib" / "deeplinear").glob("*.py"):
        assert "deeplinear_book" not in re.findall(r"^\s*(?:from|import)\s+(\w+)", module.read_text(), re.M), module


def test_the_version_lives_in_one_place():
    import importlib.metadata

    import deeplinear

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    zenodo = json.loads((ROOT / ".zenodo.json").read_text())
    assert str(cff["version"]) == zenodo["version"] == deeplinear.__version__
    assert importlib.metadata.version("deeplinear") == deeplinear.__version__
    assert 'dynamic = ["version"]' in (ROOT / "pyproject.toml").read_text()
    for package in ("deeplinear", "deeplinear_book"):
        assert (ROOT / "lib" / package / "py.typed").exists()


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_glued_figure_carries_its_image(path):
    """A figure glued without its PNG renders on the site as "<Figure size ...>" text."""
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name", "")
            if re.match(r"fig\d\d_", name):  # figures are glued as figNN_...
                assert "application/papermill.record/image/png" in output["data"], f"{path.stem}: {name}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_cell_shows_a_stray_result(path):
    """A chapter prints what it means to show; a bare value at the end of a cell (Out[n]) is an accident."""
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "execute_result", f"{path.stem}: {cell.source.splitlines()[-1]}"


def _tiny_chapter(path: Path) -> None:
    """A chapter of two code cells, one glued value and papermill's own metadata, as a committed one looks."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}, "x": 1}
    nb.cells = [
        nbformat.v4.new_code_cell("seed = 0  # random seed, integer, at least 0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("Some prose."),
        nbformat.v4.new_code_cell(
            "from myst_nb import glue\nglue('twice', 2 * (seed + 1), display=False)\nprint(seed)",
            metadata={"tags": [], "scrolled": True, "collapsed": False, "execution": {"iopub.status.busy": "2026"}},
        ),
    ]
    nbformat.write(nb, path)


def test_normalise_keeps_what_the_book_needs_and_drops_the_volatile():
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "other"}, "papermill": {"duration": 3.0}, "widgets": {}}
    nb.cells = [
        nbformat.v4.new_code_cell("1", metadata={"tags": [], "papermill": {"x": 1}, "execution": {}, "scrolled": True}),
        nbformat.v4.new_code_cell("2", metadata={"tags": ["parameters"], "collapsed": True}),
        nbformat.v4.new_markdown_cell("m", metadata={"papermill": {}}),
    ]
    book.normalise(nb, seconds=12.345)
    assert nb.metadata == {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"},
        "deeplinear": {"execution_seconds": 12.3},  # the report's cost table reads it
    }
    assert [c.metadata for c in nb.cells] == [{}, {"tags": ["parameters"]}, {}]
    book.normalise(nb)
    assert "deeplinear" not in nb.metadata  # no time given, none recorded
    again = nbformat.reads(nbformat.writes(nb), as_version=4)
    book.normalise(again)
    assert again == nb  # idempotent


def test_normalise_keeps_the_provenance_it_is_given():
    nb = nbformat.v4.new_notebook()
    executed = {"executed_on": "2026-12-06", "commit": "a" * 40, "uncommitted": ["lib"]}
    book.normalise(nb, seconds=1.04, executed=executed)
    assert nb.metadata["deeplinear"] == {"execution_seconds": 1.0, **executed}


def _git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_provenance_names_the_commit_and_what_differs_from_it(tmp_path):
    """The commit recorded with a chapter's outputs is HEAD, and it says so when HEAD is not the code that ran:
    uncommitted library changes ("lib") and the chapter's own code cells (its prose and outputs do not count)."""
    _git(tmp_path, "init", "-q")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "m.py").write_text("x = 1\n")
    path = tmp_path / "book" / "tiny.ipynb"
    path.parent.mkdir()
    _tiny_chapter(path)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    when = datetime(2026, 12, 6, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # already the 7th in UTC
    assert book.provenance(path, when) == {"executed_on": "2026-12-07", "commit": head.strip(), "uncommitted": []}
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source += " (prose)"
    nbformat.write(nb, path)
    assert book.provenance(path)["uncommitted"] == []
    nb.cells[2].source += "\nprint(2)"
    nbformat.write(nb, path)
    assert book.provenance(path)["uncommitted"] == ["book/tiny.ipynb"]
    (tmp_path / "lib" / "m.py").write_text("x = 2\n")
    assert book.provenance(path)["uncommitted"] == ["lib", "book/tiny.ipynb"]


def test_execute_in_place_rewrites_the_chapter_executed_and_normalised(tmp_path):
    """make execute's one step: the chapter is executed with its defaults, in its folder, and written back with
    its outputs and normalised metadata; prose and code are untouched."""
    path = tmp_path / "tiny.ipynb"
    _tiny_chapter(path)
    before = nbformat.read(path, as_version=4)
    seconds = book.execute_in_place(path)
    after = nbformat.read(path, as_version=4)
    recorded = after.metadata["deeplinear"]
    assert seconds > 0 and recorded["execution_seconds"] == round(seconds, 1)
    assert recorded["commit"] is None and recorded["uncommitted"] == []  # tmp_path is no git clone
    assert recorded["executed_on"] in {str(datetime.now(UTC).date() - timedelta(days=d)) for d in (0, 1)}
    assert [c.source for c in after.cells] == [c.source for c in before.cells]
    assert after.cells[2].outputs[-1]["text"] == "0\n" and after.cells[2].execution_count == 2
    assert book.glued_values(path) == {"twice": 2}
    assert all(not set(c.metadata) & {"papermill", "execution", "scrolled", "collapsed"} for c in after.cells)
    assert after.cells[2].metadata == {} and after.cells[0].metadata == {"tags": ["parameters"]}
    assert set(after.metadata) == {"kernelspec", "language_info", "deeplinear"}
    assert not list(tmp_path.glob("*.ipynb"))[1:]  # nothing left beside it


@pytest.mark.parametrize("missing", ["yaml", "papermill"])
def test_import_deeplinear_book_without_the_book_extra_names_it(missing):
    """Without the book extra's packages, ``import deeplinear_book`` says which are missing and how to install them,
    instead of a raw ImportError from inside the package."""
    code = f"import sys; sys.modules[{missing!r}] = None\nimport deeplinear_book"  # as if not installed
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    distribution = {"yaml": "pyyaml"}.get(missing, missing)
    assert last.startswith("ImportError: the book's tooling (deeplinear_book) needs " + distribution), last
    assert "pip install '.[book]'" in last, last
