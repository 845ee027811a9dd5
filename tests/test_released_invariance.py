"""The released MNIST script's invariance score (`fixed_bases.released_invariance`, `reduction.released_invariance`)
against a plain loop written from the script's description (shared/papers/README.md)."""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear import aligned, fixed_bases, metrics, reduction


def reference(Ws0, Ws):
    """For every starting left singular vector of W_1..W_{d-1} and right one of W_2..W_d: the largest
    |u_init . u_cur| over the current vectors of that kind and layer; summed, divided by the count."""
    total, count, d = 0.0, 0, len(Ws0)
    for i in range(d):
        U0, _, Vt0 = np.linalg.svd(Ws0[i], full_matrices=False)
        U, _, Vt = np.linalg.svd(Ws[i], full_matrices=False)
        kinds = []
        if i < d - 1:
            kinds.append((U0, U))
        if i > 0:
            kinds.append((Vt0.T, Vt.T))
        for start, now in kinds:
            for j in range(start.shape[1]):
                best = 0.0
                for l in range(now.shape[1]):
                    best = max(best, abs(float(np.dot(start[:, j], now[:, l]))))
                total += best
                count += 1
    return total / count


def network(rng, widths):
    return [rng.standard_normal((b, a)) for a, b in zip(widths, widths[1:])]


@pytest.mark.parametrize("widths", [[7, 9, 4, 3], [5, 3, 6], [6, 6, 6, 6, 6]])
def test_matches_the_reference_loop(widths):
    rng = np.random.default_rng(1)
    Ws0 = network(rng, widths)
    Ws = [W + 0.3 * rng.standard_normal(W.shape) for W in Ws0]
    got = fixed_bases.released_invariance(Ws0, Ws)
    assert isinstance(got, float) and 0 < got < 1
    assert got == pytest.approx(reference(Ws0, Ws), abs=1e-12)


def test_orientation_and_weighting_differ_from_invariance():
    """Start -> current, weighted by vector counts, is not `invariance`'s current -> start per layer."""
    rng = np.random.default_rng(2)
    Ws0 = network(rng, [12, 20, 5, 3])
    Ws = [W + 0.5 * rng.standard_normal(W.shape) for W in Ws0]
    released = fixed_bases.released_invariance(Ws0, Ws)
    assert released == pytest.approx(reference(Ws0, Ws), abs=1e-12)
    assert abs(released - metrics.invariance(Ws0, Ws).mean()) > 1e-3


def test_is_one_when_only_singular_values_change():
    rng = np.random.default_rng(3)
    Ws0 = network(rng, [6, 5, 4])
    Ws = []
    for W in Ws0:
        U, s, Vt = np.linalg.svd(W, full_matrices=False)
        Ws.append(-U @ np.diag(s * rng.uniform(0.5, 2.0, s.size)) @ Vt)
    assert fixed_bases.released_invariance(Ws0, Ws) == pytest.approx(1.0, abs=1e-12)


def test_stacks_give_one_score_per_network():
    rng = np.random.default_rng(4)
    Ws0 = [rng.standard_normal((3, b, a)) for a, b in zip([5, 4, 3], [4, 3])]
    Ws = [W + 0.2 * rng.standard_normal(W.shape) for W in Ws0]
    got = fixed_bases.released_invariance(Ws0, Ws)
    assert got.shape == (3,)
    for s in range(3):
        assert got[s] == pytest.approx(reference([W[s] for W in Ws0], [W[s] for W in Ws]), abs=1e-12)


def test_rejects_bad_networks():
    rng = np.random.default_rng(5)
    Ws0 = network(rng, [4, 3, 2])
    with pytest.raises(ValueError, match="d >= 2 layers"):
        fixed_bases.released_invariance(Ws0[:1], Ws0[:1])
    with pytest.raises(ValueError, match="layer shapes of Ws0"):
        fixed_bases.released_invariance(Ws0, network(rng, [4, 5, 2]))


def test_reduction_scores_the_expanded_network():
    """The lemma's small network: the released score of expand(red, A) against the start, with the
    784-1024-64-10 weighting in miniature (a wide first layer with dormant units)."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((30, 8))
    Y = rng.standard_normal((3, 8))
    U_x, U_y = np.linalg.svd(X)[0], np.linalg.svd(Y)[0]
    Ws = aligned.aligned_start(U_x, U_y, [30, 40, 6, 3], inner="identity", low=0.0, high=1.0, rng=rng)
    red = reduction.reduce_network(Ws, X)
    A = [a + 0.2 * rng.standard_normal(a.shape) for a in red.layers]
    full = reduction.expand(red, A)
    assert reduction.released_invariance(red, red.layers) == pytest.approx(1.0, abs=1e-10)
    assert reduction.released_invariance(red, A) == pytest.approx(reference(Ws, full), abs=1e-12)
