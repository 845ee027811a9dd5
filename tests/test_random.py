"""One randomness convention (issue 23, deliverable 4): every public callable of deeplinear that draws random
numbers takes ``rng`` keyword-only, last and None by default, and reads it through `deeplinear._validate.rng`,
which takes None (fresh OS entropy), an int seed >= 0, a SeedSequence or a Generator (itself, so that a
caller's stream goes on), as `numpy.random.default_rng` and SciPy's ``rng=`` do. What each public function
does with those values is fuzzed in tests/test_fuzz.py (`test_rng_values`)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

import deeplinear
from deeplinear import _validate

# A parameter named like a random generator under another name than ``rng`` (``seeds`` counts students).
GENERATOR_LIKE = re.compile(r"rng|generator|random_state|^seed$|bit_?gen", re.IGNORECASE)


def public_callables() -> dict[str, object]:
    """ "module.name" -> every function and class in the ``__all__`` of every public deeplinear module and of
    every module of the plotting package (and ``deeplinear.__all__``)."""
    modules = [deeplinear]
    for info in pkgutil.walk_packages(deeplinear.__path__, prefix="deeplinear."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            modules.append(importlib.import_module(info.name))
    found: dict[str, object] = {}
    for module in modules:
        names = getattr(module, "__all__", None)
        if names is None:
            names = [n for n, o in vars(module).items() if getattr(o, "__module__", None) == module.__name__]
        short = module.__name__.split(".", 1)[-1]
        for name in names:
            obj = getattr(module, name)
            if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj)):
                found.setdefault(f"{short}.{name}", obj)
    return found


CALLABLES = public_callables()


def parameters(obj) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):  # a class without an inspectable signature
        return []


def test_the_scan_finds_the_random_functions():
    """The convention test below sees what it should: the functions that draw, in every module that has them."""
    with_rng = {key for key, obj in CALLABLES.items() if "rng" in [p.name for p in parameters(obj)]}
    assert len(with_rng) >= 50
    for key in ("data.matrix_sensing", "structures.RandomSubspace", "aligned.aligned_start", "trivial.trivial_run"):
        assert key in with_rng


@pytest.mark.parametrize("key", sorted(CALLABLES))
def test_rng_is_keyword_only_last_and_none_by_default(key):
    params = [p for p in parameters(CALLABLES[key]) if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for p in params:
        annotation = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
        assert p.name == "rng" or not (GENERATOR_LIKE.search(p.name) or "Generator" in str(annotation)), (
            f"{key}: parameter {p.name!r} takes randomness: name it rng (keyword-only, last, default None)"
        )
    rng = [p for p in params if p.name == "rng"]
    if not rng:
        return
    (p,) = rng
    assert p.kind is p.KEYWORD_ONLY, f"{key}: rng must be keyword-only (after *), got {p.kind.description}"
    assert params[-1] is p, f"{key}: rng must be the last parameter, got {[q.name for q in params]}"
    assert p.default is None, f"{key}: rng must default to None (fresh entropy), got {p.default!r}"


# -- the helper ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 7, np.int64(7), np.uint8(3), 2**40])
def test_an_int_seed_draws_as_default_rng(seed):
    got = _validate.rng(seed)
    assert isinstance(got, np.random.Generator)
    np.testing.assert_array_equal(got.standard_normal(5), np.random.default_rng(int(seed)).standard_normal(5))


def test_a_seed_sequence_draws_as_default_rng():
    got = _validate.rng(np.random.SeedSequence(11))
    np.testing.assert_array_equal(got.random(3), np.random.default_rng(np.random.SeedSequence(11)).random(3))


def test_a_generator_is_returned_itself_and_its_stream_goes_on():
    g = np.random.default_rng(5)
    assert _validate.rng(g) is g
    first = g.random(2)
    reference = np.random.default_rng(5)
    np.testing.assert_array_equal(first, reference.random(2))
    np.testing.assert_array_equal(_validate.rng(g).random(2), reference.random(2))


def test_none_gives_fresh_generators():
    a, b = _validate.rng(None), _validate.rng(None)
    assert isinstance(a, np.random.Generator) and isinstance(b, np.random.Generator) and a is not b
    assert not np.array_equal(a.random(4), b.random(4))


@pytest.mark.parametrize(
    "bad, error",
    [
        (True, TypeError),
        (np.bool_(False), TypeError),
        (0.5, TypeError),
        (1.0, TypeError),
        ("0", TypeError),
        ([0, 1], TypeError),
        (np.random.PCG64(0), TypeError),
        (-1, ValueError),
        (np.int64(-3), ValueError),
    ],
)
def test_anything_else_is_refused_naming_rng(bad, error):
    with pytest.raises(error, match=r"^rng must be .*(Generator|None)"):
        _validate.rng(bad)


def test_a_public_function_takes_every_accepted_form():
    """One function end to end: a seed reproduces itself and the Generator it names; None draws afresh."""
    from deeplinear import data

    g = np.random.default_rng(3)
    by_seed, by_generator = data.matrix_sensing(3, 4, rng=3), data.matrix_sensing(3, 4, rng=g)
    np.testing.assert_array_equal(by_seed.M, by_generator.M)
    assert not np.array_equal(data.matrix_sensing(3, 4, rng=g).M, by_generator.M)  # g's stream went on
    assert data.matrix_sensing(3, 4).M.shape == (4, 3, 3)
    with pytest.raises(TypeError, match="rng"):
        data.matrix_sensing(3, 4, rng=0.5)
    with pytest.raises(TypeError):
        data.matrix_sensing(3, 4, np.random.default_rng(0))  # no longer positional


# -- the chapters ------------------------------------------------------------------------------------------------
CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "book").glob("0*.ipynb"))


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_a_chapter_draws_in_view_from_its_seed_alone(notebook):
    """A chapter's generators are made in cells the reader sees, from the parameter ``seed`` and nothing else:
    one stream per section, spawned in one line (``np.random.default_rng(seed).spawn(N)``), or a start drawn
    afresh from the seed (``rng=seed``, chapter 08). No ad hoc sub-stream such as ``default_rng([seed, 3])``
    or ``seed + 1``, and no generator in a cell removed from the page."""
    cells = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    makers = []
    for cell in cells:
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(("default_rng", "SeedSequence")):
                makers.append((ast.unparse(node), "remove-cell" in cell.metadata.get("tags", [])))
    assert makers, "the chapter makes no generator from its seed"
    for text, removed in makers:
        assert text == "np.random.default_rng(seed)", f"a generator made from more than the seed: {text}"
        assert not removed, "the chapter's generator is made in a removed cell"
    spawned = [c.source for c in cells if ".spawn(" in c.source]
    assert len(spawned) <= 1, "the streams are spawned in one cell"
