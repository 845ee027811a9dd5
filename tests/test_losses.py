"""Tests for deeplinear.losses and deeplinear.network against independent references.

References: central finite differences of the loss, direct per-sample formulas written with plain
loops and the math module, asymptotic expansions for huge margins, and per-member evaluation of
stacked networks.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplinear import losses
from deeplinear.network import backward, end_to_end, forward, gradients, loss

SETTINGS = settings(max_examples=12, deadline=None)
NAMED = ["squared", "logistic", "exponential", "cross_entropy"]


def random_problem(rng, dims, n, S, name):
    lead = () if S is None else (S,)
    Ws = [rng.standard_normal(lead + (dims[i + 1], dims[i])) / math.sqrt(dims[i]) for i in range(len(dims) - 1)]
    X = rng.standard_normal((dims[0], n))
    kd = dims[-1]
    if name in ("logistic", "exponential"):
        Y = rng.choice([-1.0, 1.0], size=(1, n))
    elif name == "cross_entropy":
        Y = np.eye(kd)[rng.integers(0, kd, size=n)].T
    else:
        Y = rng.standard_normal((kd, n))
    return Ws, X, Y


def finite_differences(Ws, X, Y, name, h=1e-6):
    """Central differences of the loss in every weight entry; stacked values stay (S,)."""
    out = []
    for i, W in enumerate(Ws):
        G = np.zeros(W.shape)
        for idx in np.ndindex(*W.shape):
            plus = [w.copy() for w in Ws]
            minus = [w.copy() for w in Ws]
            plus[i][idx] += h
            minus[i][idx] -= h
            diff = (np.asarray(loss(plus, X, Y, name)) - np.asarray(loss(minus, X, Y, name))) / (2 * h)
            G[idx] = diff[idx[0]] if W.ndim == 3 else diff
        out.append(G)
    return out


@SETTINGS
@given(
    seed=st.integers(0, 2**31),
    depth=st.integers(1, 6),
    n=st.integers(1, 5),
    stacked=st.booleans(),
    name=st.sampled_from(NAMED),
    data=st.data(),
)
def test_gradients_match_finite_differences(seed, depth, n, stacked, name, data):
    rng = np.random.default_rng(seed)
    kd = 1 if name in ("logistic", "exponential") else data.draw(st.integers(1, 4), label="kd")
    hidden = data.draw(st.lists(st.integers(1, 4), min_size=depth, max_size=depth), label="dims")
    dims = hidden + [kd]  # dims[0] = k_0, rectangular layers
    Ws, X, Y = random_problem(rng, dims, n, 2 if stacked else None, name)
    G = gradients(Ws, X, Y, name)
    for g, fd, W in zip(G, finite_differences(Ws, X, Y, name), Ws):
        assert g.shape == W.shape
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


def test_matrix_sensing_value_and_gradient():
    rng = np.random.default_rng(3)
    k, m = 3, 7
    M = rng.standard_normal((m, k, k))
    y = rng.standard_normal(m)
    Ws = [rng.standard_normal((k, k)) for _ in range(3)]
    ms = losses.MatrixSensing(M, y)
    P = Ws[2] @ Ws[1] @ Ws[0]
    direct = sum((y[i] - np.trace(M[i].T @ P)) ** 2 for i in range(m)) / (2 * m)
    assert loss(Ws, None, None, ms) == pytest.approx(direct, rel=1e-12)
    assert loss(Ws, np.eye(k), "ignored", ms) == pytest.approx(direct, rel=1e-12)
    for g, fd in zip(gradients(Ws, None, None, ms), finite_differences(Ws, None, None, ms)):
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)
    stacked = [np.stack([W, 2 * W]) for W in Ws]
    both = loss(stacked, None, None, ms)
    assert both.shape == (2,)
    assert both[1] == pytest.approx(loss([2 * W for W in Ws], None, None, ms), rel=1e-12)
    with pytest.raises(ValueError, match="MatrixSensing"):
        loss(Ws, np.ones((k, 5)), None, ms)
    with pytest.raises(ValueError, match="y must have shape"):
        losses.MatrixSensing(M, y[:-1])


@pytest.mark.parametrize("name", NAMED)
def test_stacked_values_and_gradients_equal_per_member(name):
    rng = np.random.default_rng(5)
    Ws, X, Y = random_problem(rng, [3, 4, 2 if name in ("squared", "cross_entropy") else 1], 6, 3, name)
    values, grads = loss(Ws, X, Y, name), gradients(Ws, X, Y, name)
    assert values.shape == (3,)
    for s in range(3):
        member = [W[s] for W in Ws]
        assert isinstance(loss(member, X, Y, name), float)
        assert values[s] == pytest.approx(loss(member, X, Y, name), rel=1e-13)
        for g, gm in zip(grads, gradients(member, X, Y, name)):
            np.testing.assert_allclose(g[s], gm, rtol=1e-13, atol=1e-15)


def test_squared_loss_is_eq2():
    rng = np.random.default_rng(0)
    Ws, X, Y = random_problem(rng, [3, 5, 2], 4, None, "squared")
    F = Ws[1] @ Ws[0] @ X
    direct = sum(np.sum((Y[:, j] - F[:, j]) ** 2) for j in range(4)) / (2 * 4)
    assert loss(Ws, X, Y) == pytest.approx(direct, rel=1e-13)


def test_logistic_huge_margins_stable():
    z = np.array([[-1e300, -1e6, -50.0, -1.0, 0.0, 1.0, 50.0, 800.0, 1e6, 1e300]])
    Y = np.ones_like(z)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for margin in z[0]:
            value, dF = losses.logistic(np.array([[margin]]), np.array([[1.0]]))
            # independent references: exact formula where it is safe, asymptotics elsewhere
            if margin < -40:
                ref, ref_grad = -margin, -1.0
            elif margin > 700:
                ref, ref_grad = 0.0, 0.0
            elif margin > 40:
                ref, ref_grad = math.exp(-margin), -math.exp(-margin)
            else:
                ref, ref_grad = math.log(1 + math.exp(-margin)), -1 / (1 + math.exp(margin))
            assert value == pytest.approx(ref, rel=1e-12, abs=1e-300)
            assert dF[0, 0] == pytest.approx(ref_grad, rel=1e-12, abs=1e-300)
        value, dF = losses.logistic(z, Y)  # mean over n = 10 samples
        assert np.isfinite(value) and np.all(np.isfinite(dF))


def test_exponential_direct_formula():
    rng = np.random.default_rng(1)
    F, Y = rng.standard_normal((1, 6)), rng.choice([-1.0, 1.0], size=(1, 6))
    direct = sum(math.exp(-Y[0, j] * F[0, j]) for j in range(6)) / 6
    value, dF = losses.exponential(F, Y)
    assert value == pytest.approx(direct, rel=1e-13)
    np.testing.assert_allclose(dF, [[-Y[0, j] * math.exp(-Y[0, j] * F[0, j]) / 6 for j in range(6)]])


def test_cross_entropy_direct_formula_and_stability():
    rng = np.random.default_rng(2)
    k, n = 4, 5
    F = rng.standard_normal((k, n))
    labels = rng.integers(0, k, size=n)
    Y = np.eye(k)[labels].T
    direct = -sum(math.log(math.exp(F[labels[j], j]) / sum(math.exp(F[c, j]) for c in range(k))) for j in range(n)) / n
    value, dF = losses.cross_entropy(F, Y)
    assert value == pytest.approx(direct, rel=1e-13)
    softmax = np.exp(F) / np.exp(F).sum(axis=0)
    np.testing.assert_allclose(dF, (softmax - Y) / n, rtol=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shifted, dshift = losses.cross_entropy(F + 1e4 * np.arange(1, n + 1), Y)  # per-column shifts
    assert shifted == pytest.approx(value, rel=1e-9)
    np.testing.assert_allclose(dshift, dF, atol=1e-12)


def test_end_to_end_forward_backward():
    rng = np.random.default_rng(4)
    Ws = [rng.standard_normal((s, 3, 2)) for s in [5]] + [rng.standard_normal((5, 4, 3))]
    P = end_to_end(Ws)
    assert P.shape == (5, 4, 2)
    for s in range(5):
        np.testing.assert_allclose(P[s], Ws[1][s] @ Ws[0][s], rtol=1e-14)
    single = [W[0] for W in Ws]
    np.testing.assert_allclose(end_to_end(single), Ws[1][0] @ Ws[0][0], rtol=1e-14)
    assert end_to_end([single[0]]) is not single[0]
    X = rng.standard_normal((2, 3))
    acts = forward(single, X)
    assert [a.shape for a in acts] == [(2, 3), (3, 3), (4, 3)]
    dF = rng.standard_normal((4, 3))
    G = backward(single, acts, dF)
    np.testing.assert_allclose(G[1], dF @ acts[1].T)
    np.testing.assert_allclose(G[0], single[1].T @ dF @ X.T)


def test_network_does_not_mutate_inputs():
    rng = np.random.default_rng(6)
    Ws, X, Y = random_problem(rng, [3, 3, 3], 4, None, "squared")
    before = [W.copy() for W in Ws]
    gradients(Ws, X, Y)
    for W, B in zip(Ws, before):
        np.testing.assert_array_equal(W, B)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda Ws, X, Y: loss([], X, Y), "Ws"),
        (lambda Ws, X, Y: loss([Ws[0], np.ones((2, 2))], X, Y), "Ws"),  # does not chain
        (lambda Ws, X, Y: loss([np.ones((2, 3, 3)), np.ones((3, 3, 3))], X, Y), "Ws"),  # S differs
        (lambda Ws, X, Y: loss(Ws[0], X, Y), "Ws"),  # not a list
        (lambda Ws, X, Y: loss([np.full((3, 3), np.nan)] + Ws[1:], X, Y), "Ws"),
        (lambda Ws, X, Y: loss(Ws, X[:2], Y), "X"),
        (lambda Ws, X, Y: loss(Ws, X, Y[:, :2]), "Y"),
        (lambda Ws, X, Y: loss(Ws, X, Y, "hinge"), "loss"),
        (lambda Ws, X, Y: loss(Ws, X, Y, "logistic"), "Y"),  # (3, n), not (1, n)
        (lambda Ws, X, Y: loss([Ws[0], np.ones((1, 3))], X, np.full((1, 4), 0.5), "logistic"), "Y"),
        (lambda Ws, X, Y: loss([Ws[0], np.ones((1, 3))], X, np.zeros((1, 4)), "exponential"), "Y"),
        (lambda Ws, X, Y: loss(Ws, X, np.full((3, 4), 1 / 3), "cross_entropy"), "Y"),
    ],
)
def test_bad_inputs_raise_value_error_naming_parameter(call, match):
    rng = np.random.default_rng(7)
    Ws, X, Y = random_problem(rng, [3, 3, 3], 4, None, "squared")
    with pytest.raises(ValueError, match=match):
        call(Ws, X, Y)


def test_per_member_matrix_sensing_value_and_gradient_by_hand_and_finite_differences():
    rng = np.random.default_rng(4)
    S, n, k = 3, 5, 3
    M, y, F = rng.standard_normal((S, n, k, k)), rng.standard_normal((S, n)), rng.standard_normal((S, k, k))
    loss_fn = losses.MatrixSensing(M, y)
    assert loss_fn.members == S and loss_fn.k == k
    value, dF = loss_fn(F)
    for s in range(S):  # the loss by hand: (1/2n) sum_i (y_i - Tr(M_i^T F))^2
        r = y[s] - np.array([np.trace(M[s, i].T @ F[s]) for i in range(n)])
        assert value[s] == pytest.approx(0.5 * np.sum(r**2) / n, rel=1e-13)
        for idx in np.ndindex(k, k):
            E = np.zeros((S, k, k))
            E[(s, *idx)] = 1e-6
            fd = (loss_fn(F + E)[0][s] - loss_fn(F - E)[0][s]) / 2e-6
            assert dF[(s, *idx)] == pytest.approx(fd, rel=1e-6, abs=1e-9)
    with pytest.raises(ValueError, match="y must have shape"):
        losses.MatrixSensing(M, y[:, :2])


def test_mean_squared_is_the_mean_over_all_entries_with_its_gradient():
    rng = np.random.default_rng(4)
    F, Y = rng.standard_normal((3, 7)), rng.standard_normal((3, 7))
    value, dF = losses.mean_squared(F, Y)
    assert value == pytest.approx(np.mean((F - Y) ** 2), rel=1e-14)  # nn.MSELoss
    h, E = 1e-6, np.zeros_like(F)
    E[1, 2] = h
    numeric = (losses.mean_squared(F + E, Y)[0] - losses.mean_squared(F - E, Y)[0]) / (2 * h)
    assert dF[1, 2] == pytest.approx(numeric, rel=1e-7)
    stacked, dS = losses.mean_squared(np.stack([F, Y]), Y)
    np.testing.assert_allclose(stacked, [value, 0.0])
    assert dS.shape == (2, 3, 7)
