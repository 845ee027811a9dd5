"""Chapter 03 (Theorem 1 and its problem classes) reruns with other parameters; bad ones are rejected by name."""

from __future__ import annotations

import pytest

from deeplinear_book import glued_values, ledger
from test_chapters import LEDGER, ChapterFailed, assert_claims, assert_ledger, glued, run

CHAPTER = "03-invariance-theorem"
CLASSES = ("autoencoding", "factorization", "inversion", "sensing", "nonsquare")


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """The acceptance rerun of issue 4 (seed 11, k 6, depth 5), with fewer steps to stay fast; n = 9 > k, so
    that random data have a positive least-squares floor (outside Theorem 1's hypotheses)."""
    return run(CHAPTER, tmp_path_factory.mktemp("ch03"), seed=11, k=6, depth=5, steps=5000)


@pytest.fixture(scope="module")
def values(notebook):
    return {name: value for name, value in glued(notebook).items() if not name.startswith("fig")}


@pytest.fixture(scope="module")
def typed(notebook):
    """The glued values read back as numbers and booleans, as the ledger reads them (`assert_ledger`)."""
    return glued_values(notebook)


def test_the_ledger_criteria_hold(notebook):
    """book/ledger.toml's criteria (the losses' against the budget of the steps run), where they apply."""
    assert_claims(CHAPTER, notebook)


def test_random_data_that_no_map_fits_are_outside_theorem_1(notebook, values):
    """n > k: the chapter says so, and the ledger's rows on random data are not applicable, with the reason."""
    assert values["thm1_zero_floor"] == "'no'"
    assert "no linear map fits these data" in values["thm1_scope_random"]
    rows = ledger.evaluate(LEDGER, {CHAPTER: glued_values(notebook)})
    outside = {row.entry.id: row for row in rows if row.entry.chapter == CHAPTER and row.verdict == "not applicable"}
    assert set(outside) >= {"theorem-1-only-if", "figure-1a"}
    assert "fits exactly" in outside["figure-1a"].reason
    assert not [row.entry.id for row in rows if row.entry.chapter == CHAPTER and row.verdict == "not reproduced"]


def number(values, name):
    return float(values[name])


def test_condition_is_decided_as_the_theorem_says(values):
    assert values["thm1_condition_random"] == "'no'"
    assert values["thm1_condition_sensing_generic"] == "'no'"
    for name in ("autoencoding", "factorization", "inversion", "sensing"):
        assert values[f"thm1_condition_{name}"] == "'yes'", name


def test_invariance_stays_at_one_exactly_where_the_condition_holds(values, typed):
    for name in CLASSES:
        assert number(values, f"thm1_invariance_{name}") == 1.0, name
    assert_ledger(CHAPTER, typed, "thm1_invariance_max_deviation", "sweep_condition_max_deviation")
    # where it fails, the singular vectors move (the ledger checks the invariances; a missing training
    # loop would leave them at 1)
    assert number(values, "thm1_alignment_random") < 0.95
    assert number(values, "sweep_random_invariance_max") < 0.95


def test_loss_goes_to_zero_where_the_condition_holds(values):
    for name in CLASSES:  # whole orders of magnitude below the start (at most 20), as far as the budget allows
        assert number(values, f"thm1_loss_orders_{name}") >= number(values, f"thm1_budget_orders_{name}"), name
        assert 0 < number(values, f"thm1_lr_{name}") <= 0.01, name
    assert number(values, "thm1_loss_max_condition") < 1e-2  # the slowest class after only 5000 steps
    assert 0 <= number(values, "sweep_random_fits") <= number(values, "sweep_members")
    # random data with n > k cannot be fitted exactly; training still reaches the least-squares minimum
    assert number(values, "thm1_loss_random") < number(values, "thm1_initial_loss_random")
    assert number(values, "thm1_loss_random") <= 1.05 * number(values, "thm1_loss_random_min") + 1e-8


def test_two_layers_see_only_the_symmetric_part(values, typed):
    assert values["d2_condition_one_step"] == "'no'"
    assert abs(number(values, "d2_rotation_slope_antisymmetric") - 2) < 0.1
    assert abs(number(values, "d2_rotation_slope_symmetric") - 1) < 0.1
    assert abs(number(values, "d3_rotation_slope_antisymmetric") - 1) < 0.1
    assert_ledger(CHAPTER, typed, "d2_invariance_autoencoding")


def test_rank_one_layers_escape_the_only_if(values, typed):
    assert values["thm1_rank1_condition"] == "'no'"
    assert_ledger(CHAPTER, typed, "thm1_rank1_leak", "thm1_rank1_loss_orders", "thm1_rank1_budget_orders")
    # the proof sketch's step: V_1 turns while the chain stays aligned, U_d does not
    assert_ledger(CHAPTER, typed, "thm1_rank1_v1_turn", "thm1_rank1_ud_turn")


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("k", 0, r"k must be an integer in \[2, 24\], got 0"),
        ("lr", "fast", r"lr must be a number in \[0.005, 0.05\], got 'fast'"),
        ("n", 3, r"n must be an integer in \[2, 64\], at least k, got 3 with k = 9"),
    ],
)
def test_rejects_bad_parameters(tmp_path, name, value, message):
    with pytest.raises(ChapterFailed, match=message):
        run(CHAPTER, tmp_path, **{name: value})
