"""Tests for deeplinear.directions' margin and rank-one ratio, against closed forms (the measures of a run on
separable data are tested with the runs, in test_separable.py)."""

import numpy as np
import pytest

from deeplinear import directions


def test_rank_one_ratio_closed_forms():
    rng = np.random.default_rng(1)
    assert directions.rank_one_ratio(np.outer(rng.standard_normal(4), rng.standard_normal(3))) == pytest.approx(1)
    assert directions.rank_one_ratio(np.diag([3.0, 4.0])) == pytest.approx(4 / 5)
    assert directions.rank_one_ratio(np.eye(5)) == pytest.approx(1 / np.sqrt(5))
    stack = rng.standard_normal((2, 3, 4, 5))
    ref = [[np.linalg.norm(W, 2) / np.linalg.norm(W, "fro") for W in row] for row in stack]
    np.testing.assert_allclose(directions.rank_one_ratio(stack), ref, rtol=1e-12)
    with pytest.raises(ValueError, match="W must be nonzero"):  # no quiet nan (issue 23)
        directions.rank_one_ratio(np.zeros((2, 2)))


def test_margin_closed_form_and_shapes():
    X = np.array([[1.0, -2.0, 3.0], [0.0, 5.0, 1.0]])
    y = np.array([1.0, -1.0, 1.0])
    assert directions.margin(np.array([2.0, 0.0]), X, y) == pytest.approx(1.0)
    assert directions.margin(np.array([[0.0, 1.0]]), X, y[None, :]) == pytest.approx(-5.0)
    w = np.array([3.0, 4.0])  # margins (3, -(-6 + 20), 13) / 5
    assert directions.margin(w, X, y) == pytest.approx(-14 / 5)
    stacked = np.array([[[2.0, 0.0]], [[3.0, 4.0]]])
    np.testing.assert_allclose(directions.margin(stacked, X, y), [1.0, -14 / 5])


def test_bad_input_names_parameter():
    with pytest.raises(ValueError, match="W must"):
        directions.rank_one_ratio(np.ones(3))
    X = np.ones((2, 3))
    with pytest.raises(ValueError, match="y must"):
        directions.margin(np.ones(2), X, np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="w must"):
        directions.margin(np.ones(3), X, np.ones(3))
    with pytest.raises(ValueError, match="w must be nonzero"):
        directions.margin(np.zeros(2), X, np.ones(3))
    with pytest.raises(ValueError, match="X must"):
        directions.margin(np.ones(2), np.ones(3), np.ones(3))
