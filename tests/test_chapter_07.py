"""Chapter 07 (alignment under layer structure, Figure 2) rerun through papermill with other parameters."""

from __future__ import annotations

import papermill as pm
import pytest

from test_chapters import glued, run

CHAPTER = "07-alignment-is-impossible"


def test_07_conclusions_hold_with_other_parameters(tmp_path):
    raw = glued(run(CHAPTER, tmp_path, seed=1, steps=1500, mnist_index=7))
    values = {
        k: float(v)
        for k, v in raw.items()
        if not k.startswith("fig0") and v not in ("True", "False") and not v.startswith("'")
    }
    # Proposition 3: an aligned interpolating network aligns with the pseudo-inverse solution.
    assert values["prop3_alignment_with_pinv"] > 1 - 1e-6
    assert values["prop3_alignment_gaussian"] < 0.99
    # Proposition 4: below k(k-1)/2 + 1 no layer shares P's singular vectors; from there on one does.
    assert values["prop4_threshold_count"] == 7 and values["prop4_threshold_paper"] == 3
    assert values["prop4_threshold_measured"] == 7
    assert values["prop4_min_defect_below_count"] > 1e-4
    assert raw["prop4_above_count_all_reach"] == "True" and values["prop4_reached_tolerance"] <= 1e-6
    assert values["prop4_conv_min_defect"] > 0.1
    assert values["prop4_fc_min_defect"] < 1e-10 and values["prop4_fc_best_alignment"] > 1 - 1e-6
    assert values["prop4_orthogonal_usvd_error"] < 1e-12
    # The Example: interpolation drives convolutional autoencoder layers towards scalar identities.
    assert values["example_scalar_distance_final"] < 0.5 * values["example_scalar_distance_initial"]
    # Figure 2a and 2b: aligned starts, the loss falls, alignment is not invariant.
    assert values["fig2a_alignment_initial"] > 1 - 1e-6
    assert values["fig2a_loss_final"] < 0.1 * values["fig2a_loss_initial"]
    assert values["fig2a_alignment_final"] < 0.95 and values["fig2a_invariance_final"] < 0.95
    assert values["fig2b_alignment_initial"] > 1 - 1e-6
    assert values["fig2b_loss_final"] < 0.1 * values["fig2b_loss_initial"]
    assert values["fig2b_invariance_final"] < 0.9
    # ... but the basis-free defect leaves 0 only slightly: far below that of independent filters, while the
    # layers' singular values crowd together (what makes the scores fall).
    assert 1e-12 < values["fig2b_defect_final"] < 0.25 * values["fig2b_default_defect_initial"]
    assert values["fig2b_layer_spread"] < 0.05
    assert values["fig2b_sv_gap"] < 1e-6
    assert values["fig2b_default_alignment_initial"] < 0.9
    # Beyond the paper: only fully connected students end aligned.
    assert values["phase_fc_max_defect"] < 0.01
    assert values["phase_structured_median_defect"] > 0.05


def test_07_rejects_mnist_index_out_of_range(tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match=r"mnist_index must be an integer in \[0, 1999\], got 5000"):
        run(CHAPTER, tmp_path, mnist_index=5000)
