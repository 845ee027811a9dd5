"""Chapter 05 (Proposition 2, balancedness) reruns with other parameters, and rejects bad ones."""

from __future__ import annotations

import pytest

from deeplinear_book import glued_values
from test_chapters import ChapterFailed, assert_claims, assert_ledger, glued, run

CHAPTER = "05-minimum-norm-and-balancedness"


def test_05_rejects_a_large_init_scale(tmp_path):
    """The claim is about small starts: init_scale (relative to the solution's scale) stops at 0.01."""
    with pytest.raises(ChapterFailed, match=r"init_scale must be a number in \[0.0001, 0.01\]"):
        run(CHAPTER, tmp_path, init_scale=0.05)


def test_05_rejects_fewer_samples_than_the_width(tmp_path):
    """With n < k, P* has rank n < k and no invertible first factor attains Proposition 2's minimum."""
    with pytest.raises(ChapterFailed, match=r"n must be an integer in \[2, 200\], at least k, got 4 with k = 6"):
        run(CHAPTER, tmp_path, k=6, n=4)


def test_05_reruns_with_other_seed_and_sizes(tmp_path):
    """At the smallest width and the largest rate (capped by the stability rule), many samples."""
    path = run(CHAPTER, tmp_path, seed=3, k=2, n=40, lr=0.1, init_scale=0.0001)
    assert_claims(CHAPTER, path)  # book/ledger.toml's criteria (hypotheses included)
    values = glued(path)
    num = {k: float(v) for k, v in values.items() if not v.startswith("'") and not k.startswith("fig")}
    typed = glued_values(path)
    assert values["prop2_inside_hypotheses"] == "'yes'"
    # Proposition 2: nothing beats 2 ||P||_*, the aligned 0-balanced factorisation attains it, an optimiser finds it.
    assert num["prop2_aligned_ratio_error"] < 1e-12
    assert num["prop2_random_min_ratio"] >= 1 - 1e-12
    assert abs(num["prop2_optimised_ratio"] - 1) < 1e-6
    # Small start ends near the minimum norm and aligned, the large one farther from both; the rates respect the rule.
    assert num["prop2_norm_gap_large_init"] > 100 * num["prop2_norm_gap_small_init"]
    assert num["prop2_alignment_small_init"] > max(0.999, num["prop2_alignment_large_init"])
    assert num["prop2_lr_large"] <= num["prop2_lr_small"] <= 0.1
    # An aligned global minimum at depths 2 to 12; balancedness implies alignment (a random 0-balanced network is
    # reproduced by its chained usSVDs, Gaussian layers are not; near balance the defect is below the bound).
    assert values["global_min_depths"] == "'2 to 12'"
    assert_ledger(CHAPTER, typed, "global_min_loss_gap", "global_min_chain_error")
    assert_ledger(CHAPTER, typed, "implies_chain_error", "implies_defect_over_bound")
    assert 1e-3 < num["implies_gaussian_chain_error"]
    # Balancedness: exact lr^2 step identity, slope 2 per step, O(lr) over a fixed time, printed form first order.
    assert num["balancedness_accumulated_identity_error"] < 1e-8
    assert abs(num["balancedness_printed_slope"] - 1) < 0.1
    assert_ledger(CHAPTER, typed, "balancedness_fixed_time_slope")
    # A balanced start: the printed imbalance grows far beyond Arora and Du's, the singular vectors rotate.
    # (at k = 2 the printed form ends about 10 times above the correct one's residue, at k = 9 about 400 times)
    assert num["balancedness_random_final"] > 5 * num["balancedness_random_arora_final"]
    assert num["balancedness_random_arora_final"] < 0.1
    assert_ledger(CHAPTER, typed, "balancedness_random_rotation")
