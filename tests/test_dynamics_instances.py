"""Tests for deeplinear.proposition1.proposition1_over_instances against independent references: the draws
redone by hand (proposition1.prop1_learning_rate on the same instance), and the closed forms of one layer."""

import numpy as np
import pytest

from deeplinear import dynamics, proposition1


def test_one_layer_factor_and_window_are_the_closed_forms():
    # d = 1: sigma <- sigma + (lr/n)(lam' - sigma lam) converges iff lr < 2n / max(lam), and every pair
    # (a, b) has curvature lam_b / n, so the edge over all pairs is the edge over the modes: no window
    k, n = 3, 5
    out = proposition1.proposition1_over_instances(k, n, [(0.2, 0.3)], rng=7, instances=2, depth=1, iterations=8)
    rng = np.random.default_rng(7)
    for i in range(2):
        X, Y, U, V = dynamics.planted_problem(k, n, *rng.uniform(0.5, 2.0, (2, k)), rng=rng)
        lam, lam_prime = np.diag(V.T @ X @ X.T @ V), np.diag(U.T @ Y @ X.T @ V)
        s0 = rng.uniform(0.2, 0.3, (1, k))
        bound = n * np.log(2) * np.min(s0**2 * lam / lam_prime**2)
        edge = 2 * n / lam.max()
        assert out["bound"][i, 0] == pytest.approx(bound, rel=1e-12)
        assert out["edge"][i, 0] == pytest.approx(edge, rel=1e-9)
        assert 0.97 * edge < out["critical"][i, 0] <= edge
        assert out["factor"][i, 0] == pytest.approx(out["critical"][i, 0] / bound, rel=1e-12)
        assert out["window"][i, 0] == pytest.approx(0.0, abs=1e-12)


def test_shapes_order_and_margins_at_depth_3():
    ranges = [(0.1, 0.3), (0.5, 0.8)]
    out = proposition1.proposition1_over_instances(
        3, 4, ranges, rng=np.random.SeedSequence([1, 2]), instances=2, iterations=4
    )
    assert set(out) >= {"bound", "critical", "edge", "edge_transverse", "factor", "window"}
    assert all(v.shape == (2, 2) for v in out.values())
    # the bound is sufficient (below the critical rate); a smaller start makes it more conservative
    assert np.all(out["factor"] > 1)
    assert np.all(out["factor"][:, 0] > out["factor"][:, 1])
    # the edge over all pairs includes the modes: never above it
    assert np.all((out["window"] >= 0) & (out["window"] < 1))
    # the first instance is the planted problem drawn first; its bound is Proposition 1's formula
    rng = np.random.default_rng([1, 2])
    X, Y, U, V = dynamics.planted_problem(3, 4, *rng.uniform(0.5, 2.0, (2, 3)), rng=rng)
    lam, lam_prime = dynamics.lambdas(X, Y, U, V)
    s0 = rng.uniform(0.1, 0.3, (3, 3))
    assert np.all(s0.prod(axis=0) < lam_prime / lam)  # no redraw was needed for this start
    assert out["bound"][0, 0] == proposition1.prop1_learning_rate(s0, lam, lam_prime, 4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(init_ranges=[(0.0, 0.3)]), "init_ranges"),
        (dict(init_ranges=[(0.5, 0.3)]), "init_ranges"),
        (dict(init_ranges=[(2.0, 3.0)]), "violates Proposition 1's hypothesis"),
        (dict(instances=0), "instances"),
    ],
)
def test_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        proposition1.proposition1_over_instances(3, 4, rng=0, **kwargs)
