"""deeplinear.ensembles, chapter 03's many problems at once, each against an independent reference: the
single starts of deeplinear.invariance from the same draws, and the sweep against its ensembles drawn by hand."""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear import data, ensembles, invariance, theory


def test_ensemble_start_and_run_give_each_kind_its_start_and_rate():
    rng = np.random.default_rng(10)
    problems = [data.regression_problem("factorization", 3, 3, rng=rng), data.random_regression(3, 3, rng=rng)]
    Ws, rates = ensembles.ensemble_start(problems, [3] * 4, lr=0.5, rng=np.random.default_rng(11))
    ref = np.random.default_rng(11)
    first = invariance.witness_start(*problems[0], [3] * 4, lr=0.5, rng=ref)
    second = theory.aligned_start_on(*problems[1], [3] * 4, outer="svd", rng=ref)
    np.testing.assert_array_equal(Ws[0][0], first.Ws[0])
    np.testing.assert_array_equal(Ws[0][1], second[0])
    assert rates[0] == first.lr and rates[1] == 0.5
    sensing = [data.matrix_sensing(3, 4, rng=rng) for _ in range(2)]
    invariances, ratios = ensembles.ensemble_run(sensing, [3] * 3, lr=0.01, steps=200, rng=rng)
    assert invariances.shape == ratios.shape == (2,) and invariances.min() > 1 - 1e-12 and ratios.max() < 1


def test_family_runs_leave_the_aligned_set():
    rng = np.random.default_rng(12)
    X, Y = data.random_regression(3, 3, rng=rng)
    kept, turned = ensembles.family_runs(X, Y, [3] * 4, lr=0.02, steps=500, members=2, rng=rng)
    assert kept.shape == turned.shape == (3,)
    assert kept.max() < 1 - 1e-8 and turned.min() > 1e-3


def test_sweep_is_one_ensemble_run_per_kind_in_order():
    kw = dict(lr=0.01, steps=50)
    inv, ratio = ensembles.sweep(3, 4, [3] * 3, members=2, max_condition=20.0, **kw, rng=np.random.default_rng(15))
    ref = np.random.default_rng(15)  # by hand: each kind's problems, then its run, in the documented order
    for kind in (*data.REGRESSION_KINDS, "sensing"):
        if kind == "sensing":
            problems = [data.matrix_sensing(3, 4, rng=ref) for _ in range(2)]
        else:
            problems = [data.regression_problem(kind, 3, 4, max_condition=20.0, rng=ref) for _ in range(2)]
        expected = ensembles.ensemble_run(problems, [3] * 3, **kw, rng=ref)
        np.testing.assert_array_equal(inv[kind], expected[0])
        np.testing.assert_array_equal(ratio[kind], expected[1])
    assert list(inv) == [*data.REGRESSION_KINDS, "sensing"]
    assert inv["random"].max() < 1 - 1e-8 and inv["autoencoding"].min() > 1 - 1e-12
    with pytest.raises(ValueError, match="members must"):
        ensembles.sweep(3, 4, [3] * 3, members=0, **kw, rng=ref)
