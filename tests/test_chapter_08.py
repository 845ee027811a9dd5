"""Chapter 08 (MNIST classification, Figures 1b and 1c) rerun with other parameters."""

from __future__ import annotations

import json

import pytest

from deeplinear_book import glued_values, ledger
from test_chapters import LEDGER, ROOT, ChapterFailed, assert_claims, assert_ledger, glued, run

CHAPTER = "08-mnist-classification"


def test_08_rejects_a_hidden_width_out_of_range(tmp_path):
    with pytest.raises(
        ChapterFailed,
        match=r"hidden must be a list of 1 to 4 integers in \[2, 4096\], two neighbouring widths multiply to at most "
        r"65536, got \[1024, 1\]",
    ):
        run(CHAPTER, tmp_path, hidden=[1024, 1])


def test_08_rejects_wide_neighbouring_layers_and_a_large_learning_rate(tmp_path):
    with pytest.raises(ChapterFailed, match=r"widths multiply to at most 65536, got \[4096, 4096\]"):
        run(CHAPTER, tmp_path, hidden=[4096, 4096])
    with pytest.raises(ChapterFailed, match=r"lr must be a number in \[0.001, 0.1\], got 0.5"):
        run(CHAPTER, tmp_path, lr=0.5)


def test_08_conclusions_hold_with_other_parameters(tmp_path):
    """Smaller data and network, another seed, the squared loss for the side experiments."""
    path = run(CHAPTER, tmp_path, seed=3, n=64, hidden=[128, 16], steps=300, loss="squared")
    assert_claims(CHAPTER, path)  # book/ledger.toml's criteria
    v = glued_values(path)
    assert v["mnist_subset_separable"] is True and v["mnist_subset_rank"] == 64
    assert v["thm1_condition_mnist"] is False
    # Figures 1b and 1c: the aligned start does not stay aligned, while the loss falls at every step.
    for fig in ("fig1b", "fig1c"):
        assert v[f"{fig}_alignment_final"] < 0.95
        assert v[f"{fig}_steps"] == 300 and v[f"{fig}_reached_threshold"] is False
        assert v[f"{fig}_descended"] is True and v[f"{fig}_verdict"] == "confirmed with a caveat"
    # The released script's invariance (start -> current, weighted by vector counts) is shown beside it.
    assert v["mnist_source"] == "subset"
    for fig in ("fig1b", "fig1c"):
        assert v[f"{fig}_invariance_final"] < v[f"{fig}_invariance_released"] < 0.99
    # The released start (reshape) reaches the same conclusion.
    assert v["reshape_same_conclusion"] is True and v["reshape_alignment_final"] < 0.95
    # Appendix F: with one output and rank-one layers, alignment is invariant; a full-rank start is not.
    assert v["appf_rank_one"] is True and v["appf_loss_final"] < v["appf_loss_initial"]
    assert v["appf_alignment_min"] > 1 - 1e-9
    assert v["fullrank1d_invariance_final"] < 0.99
    # The lemma's small network is full gradient descent; the one-SVD scores are the library's.
    assert_ledger(CHAPTER, v, "reduction_max_deviation", "measure_max_deviation")
    # Rows judged at other settings: the PyTorch run is of the defaults, the runs stop at the cap.
    rows = {r.entry.id: r for r in ledger.evaluate(LEDGER, {CHAPTER: v}) if r.entry.chapter == CHAPTER}
    assert rows["released-scores-pytorch"].verdict == "not applicable"
    assert rows["mnist-step-cap"].verdict == "the book's deviation"
    assert_ledger(CHAPTER, v, "fig1_cap_loss")
    assert rows["section-6-theorem-1-condition"].verdict == "confirmed"


def test_08_stops_once_the_loss_is_below_threshold(tmp_path):
    """Ten digits, a small network and a larger step: the squared-loss runs reach 1e-4 before the cap. The first
    ten digits are one of each class, where Theorem 1's condition holds: Figures 1b and 1c are said to be outside
    their claim ('not applicable'), not failed."""
    path = run(CHAPTER, tmp_path, n=10, hidden=[16, 12], lr=0.05, steps=1500, loss="squared")
    assert_claims(CHAPTER, path)
    rows = {r.entry.id: r for r in ledger.evaluate(LEDGER, {CHAPTER: glued_values(path)}) if r.entry.chapter == CHAPTER}
    assert rows["figure-1b"].verdict == rows["figure-1c"].verdict == "not applicable"
    assert "data condition fails" in rows["figure-1b"].reason
    assert rows["section-6-theorem-1-condition"].verdict == "not applicable"  # one digit of each class
    v = glued(path)
    assert v["thm1_condition_mnist"] == "'yes'" and "data condition holds" in v["fig1b_verdict"]
    assert v["fig1b_reached_threshold"] == "'yes'"
    assert int(v["fig1b_steps"]) < 1500 and float(v["fig1b_loss_final"]) <= 1e-4
    assert v["appf_reached_threshold"] == "'yes'"
    assert_ledger(CHAPTER, glued_values(path), "reduction_max_deviation")


def test_08_released_scores_are_read_from_the_committed_pytorch_run():
    """The committed chapter runs at the settings of the committed PyTorch run of the released loop and scores
    (scripts/released_scores.py), reads its numbers from released-pytorch.json (none is typed here), and the
    ledger's check that compares them with its own reads 'verified'."""
    values = glued_values(ROOT / "book" / f"{CHAPTER}.ipynb")
    external = json.loads((ROOT / "book" / "presets" / CHAPTER / "released-pytorch.json").read_text())
    assert values["pytorch_same_settings"] is True and external["settings"]["steps"] == values["fig1_steps_cap"]
    for fig, found in external["runs"].items():
        assert values[f"{fig}_pytorch_invariance_released"] == round(found["released_invariance"], 4)
        assert values[f"{fig}_pytorch_steps"] == found["steps"]
    rows = {r.entry.id: r for r in ledger.evaluate(LEDGER, {CHAPTER: values}) if r.entry.chapter == CHAPTER}
    assert rows["released-scores-pytorch"].verdict == "verified"
    assert rows["mnist-step-cap"].verdict == "the book's deviation"  # the defaults stop at the cap
