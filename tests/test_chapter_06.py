"""Chapter 06 (layer structure, Theorem 2) rerun with other parameters."""

from __future__ import annotations

import pytest

from deeplinear_book import glued_values
from test_chapters import ChapterFailed, assert_claims, assert_ledger, glued, run

CHAPTER = "06-layer-structure"


def test_06_theorem2_holds_with_other_parameters(tmp_path):
    path = run(CHAPTER, tmp_path, seed=2, p=4, s=5, k=5, depth=2, steps=60, lr=0.001)
    assert_claims(CHAPTER, path)  # Theorem 2's criteria in book/ledger.toml
    values = {k: float(v) for k, v in glued(path).items() if not k.startswith("fig") and not v.startswith("'")}
    typed = glued_values(path)
    assert glued(path)["def4_dims_as_stated"] == "'yes'"
    # Definition 4: dimensions s^2, 2k - 1, and the convolution matrix is scipy's correlate2d.
    assert values["def4_conv_dim"] == 25
    assert values["def4_toeplitz_dim"] == 9
    assert values["def4_matrix_side"] == 16
    assert_ledger(CHAPTER, typed, "def4_basis_mismatch", "def4_conv_vs_correlate")
    # Footnote 3: the orthogonal projection differs unless the basis is orthonormal (sparse).
    assert_ledger(CHAPTER, typed, "thm2_unscaled_deviation_convolution", "thm2_unscaled_deviation_toeplitz")
    assert_ledger(CHAPTER, typed, "thm2_unscaled_deviation_sparse", "fn3_idempotence_defect")
    assert_ledger(CHAPTER, typed, "fn3_orthogonal_idempotence", "fn3_orthonormal_deviation")
    # Footnotes 1 and 4, and Du et al.'s balancedness (their ledger rows are checked above)
    assert_ledger(CHAPTER, typed, "fn1_defect_max", "fn1_loss_over_floor", "fn4_generic_floor_fraction")
    assert values["fn4_generic_floor_fraction"] <= 1.0
    assert values["du_matrix_first_order"] > 1e6 * values["du_filter_first_order"]
    assert 0.8 < values["du_filter_slope"] < 1.2


def test_06_rejects_even_filter(tmp_path):
    with pytest.raises(ChapterFailed, match=r"s must be an odd integer in \[3, 2p-1\]"):
        run(CHAPTER, tmp_path, p=4, s=4)


def test_06_rejects_a_filter_too_large_for_its_images(tmp_path):
    """Dense bases are formed: s^2 p^4 stops at the paper's 3 x 3 filter on 28 x 28 images."""
    with pytest.raises(ChapterFailed, match=r"s\^2 p\^4 at most 9 \* 28\^4, got 5 with p = 28"):
        run(CHAPTER, tmp_path, p=28, s=5)


def test_06_rejects_nonsense_lr(tmp_path):
    with pytest.raises(ChapterFailed, match=r"lr must be a number in \[0.001, 0.01\], got 'fast'"):
        run(CHAPTER, tmp_path, lr="fast")
