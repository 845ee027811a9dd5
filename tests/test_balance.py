"""Tests for deeplinear.balance against closed forms, eigenvalue solvers and plain gradient-descent loops."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplinear import aligned, balance, balance_drift, minimum_norm

SETTINGS = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def nuclear_by_eigenvalues(P):
    """||P||_* as the sum of the square roots of the eigenvalues of the smaller of P^T P, P P^T (no SVD)."""
    gram = P.T @ P if P.shape[1] <= P.shape[0] else P @ P.T
    return float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(gram), 0, None))))


def gram_imbalance(Ws):
    """W_{i+1}^T W_{i+1} - W_i W_i^T, entry by entry."""
    out = []
    for A, B in zip(Ws[:-1], Ws[1:]):
        k = A.shape[0]
        out.append(
            np.array(
                [[B[:, a] @ B[:, b] - A[a, :] @ A[b, :] for b in range(k)] for a in range(k)],
            )
        )
    return out


def squared_loss_gradients(Ws, X, Y):
    """Gradients of ||Y - W_3 W_2 W_1 X||_F^2 / (2n) for three layers, written out by hand."""
    W1, W2, W3 = Ws
    E = (W3 @ W2 @ W1 @ X - Y) / X.shape[1]
    return [(W3 @ W2).T @ E @ X.T, W3.T @ E @ (W1 @ X).T, E @ (W2 @ W1 @ X).T]


def log_cosh_gradients(Ws, X, Y):
    """Gradients of sum log cosh(W_3 W_2 W_1 X - Y): dL/dF = tanh(F - Y), chained by hand."""
    W1, W2, W3 = Ws
    E = np.tanh(W3 @ W2 @ W1 @ X - Y)
    return [(W3 @ W2).T @ E @ X.T, W3.T @ E @ (W1 @ X).T, E @ (W2 @ W1 @ X).T]


# ---------------------------------------------------------------- Proposition 2


@SETTINGS
@given(st.integers(1, 5), st.integers(1, 5), seeds)
def test_nuclear_norm_against_eigenvalues(m, n, seed):
    rng = np.random.default_rng(seed)
    P = rng.standard_normal((m, n))
    assert minimum_norm.nuclear_norm(P) == pytest.approx(nuclear_by_eigenvalues(P), rel=1e-9)
    stack = rng.standard_normal((3, m, n))
    np.testing.assert_allclose(minimum_norm.nuclear_norm(stack), [nuclear_by_eigenvalues(Q) for Q in stack], rtol=1e-9)


def test_nuclear_norm_and_norm_ratio_closed_forms():
    assert minimum_norm.nuclear_norm(np.diag([3.0, -4.0, 0.5])) == pytest.approx(7.5)
    # scalars: (a^2 + b^2) / (2 |a b|), 1 exactly when |a| = |b|
    assert minimum_norm.norm_ratio(np.array([[3.0]]), np.array([[1.0]])) == pytest.approx(10 / 6)
    assert minimum_norm.norm_ratio(np.array([[2.0]]), np.array([[-2.0]])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="the product W_2 W_1 is 0"):  # was inf: no quiet non-finite ratio
        minimum_norm.norm_ratio(np.array([[1.0, 0.0]]), np.array([[0.0], [0.0]]))


@SETTINGS
@given(st.integers(1, 5), st.integers(1, 5), seeds)
def test_minimum_norm_factors_attain_twice_the_nuclear_norm(m, n, seed):
    rng = np.random.default_rng(seed)
    P = rng.standard_normal((m, n))
    W1, W2 = minimum_norm.minimum_norm_factors(P)
    assert W1.shape == (min(m, n), n) and W2.shape == (m, min(m, n))
    np.testing.assert_allclose(W2 @ W1, P, atol=1e-12)
    assert np.sum(W1**2) + np.sum(W2**2) == pytest.approx(2 * nuclear_by_eigenvalues(P), rel=1e-9)
    np.testing.assert_allclose(W2.T @ W2, W1 @ W1.T, atol=1e-12)  # 0-balanced
    assert minimum_norm.norm_ratio(W1, W2) == pytest.approx(1.0, abs=1e-12)


@SETTINGS
@given(st.integers(2, 5), st.integers(1, 4), seeds)
def test_no_factorisation_beats_the_bound(k, h_extra, seed):
    """Proposition 2: for any W_2 W_1 = P, ||W_1||^2 + ||W_2||^2 >= 2 ||P||_*, hidden width h >= k too."""
    rng = np.random.default_rng(seed)
    h = k + h_extra
    W1, W2 = rng.standard_normal((h, k)), rng.standard_normal((k, h))
    total = np.sum(W1**2) + np.sum(W2**2)
    assert total >= 2 * nuclear_by_eigenvalues(W2 @ W1) * (1 - 1e-12)
    assert minimum_norm.norm_ratio(W1, W2) == pytest.approx(total / (2 * nuclear_by_eigenvalues(W2 @ W1)), rel=1e-9)


def test_random_factors_shapes_bound_and_families():
    rng = np.random.default_rng(0)
    P = rng.standard_normal((4, 4))
    W1, _ = minimum_norm.minimum_norm_factors(P)
    A = minimum_norm.random_factors(W1, 50, rng=np.random.default_rng(1))
    assert A.shape == (100, 4, 4)
    ratios = [(np.sum(a**2) + np.sum((P @ np.linalg.inv(a)) ** 2)) / (2 * nuclear_by_eigenvalues(P)) for a in A]
    assert min(ratios) >= 1 - 1e-12
    # the first member of the second family is a rotation of the minimiser, perturbed by 1e-4: ratio 1 + O(1e-8)
    assert ratios[50] - 1 < 1e-6
    # and the perturbations grow along the family
    assert ratios[-1] > ratios[50] + 1e-3
    # the first family: Q_1 diag(exp(c z)) Q_2 has singular values exp(c z)
    draws = np.random.default_rng(1)
    draws.standard_normal((50, 4, 4))
    draws.standard_normal((50, 4, 4))
    spread = draws.uniform(0.0, 1.5, (50, 1))
    expected = np.sort(np.exp(spread * draws.standard_normal((50, 4))), axis=1)[:, ::-1]
    np.testing.assert_allclose(np.linalg.svd(A[:50], compute_uv=False), expected, rtol=1e-10)


def test_minimise_norm_finds_the_aligned_balanced_minimum():
    rng = np.random.default_rng(2)
    P = rng.standard_normal((4, 4))
    W1, W2 = minimum_norm.minimise_norm(P, np.eye(4) + 0.3 * rng.standard_normal((4, 4)))
    np.testing.assert_allclose(W2 @ W1, P, atol=1e-10)
    total = np.sum(W1**2) + np.sum(W2**2)
    assert total == pytest.approx(2 * nuclear_by_eigenvalues(P), rel=1e-8)
    gram = W1 @ W1.T
    assert np.linalg.norm(W2.T @ W2 - gram) < 1e-5 * np.linalg.norm(gram)


# ---------------------------------------------------------------- imbalance in its two forms


@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=2, max_size=4), seeds)
def test_drift_and_printed_imbalance_against_the_plain_formulas(ks, seed):
    rng = np.random.default_rng(seed)
    k0 = ks[0]
    Ws0 = [rng.standard_normal((k, k0 if i == 0 else ks[i - 1])) for i, k in enumerate(ks)]
    Ws = [W + rng.standard_normal(W.shape) for W in Ws0]
    moved = balance.drift(Ws0, Ws)
    for got, a, b in zip(moved, gram_imbalance(Ws0), gram_imbalance(Ws)):
        np.testing.assert_allclose(got, b - a, atol=1e-12)
    largest = max(np.linalg.norm(b - a) for a, b in zip(gram_imbalance(Ws0), gram_imbalance(Ws)))
    assert balance.drift_norm(Ws0, Ws) == pytest.approx(largest, rel=1e-12)
    assert balance.drift_norm(Ws0, Ws0) == 0.0
    square = [rng.standard_normal((k0, k0)) for _ in ks]
    for i, M in enumerate(balance.printed_imbalance(square)):
        np.testing.assert_allclose(M, square[i].T @ square[i] - square[i + 1].T @ square[i + 1], atol=1e-12)


def test_relative_imbalance_closed_forms_and_stacks():
    W = np.diag([2.0, 1.0])
    assert balance.relative_imbalance([W, W])[0] == 0.0  # symmetric W: W W^T = W^T W
    # W_2 = 0: N = 0, M = W_1 W_1^T: 2 ||M|| / ||M|| = 2
    assert balance.relative_imbalance([W, np.zeros((3, 2))])[0] == pytest.approx(2.0)
    assert balance.relative_imbalance([np.zeros((2, 2)), np.zeros((2, 2))])[0] == 0.0
    # W_1 = diag(2, 1), W_2 = diag(1, 1): M = diag(4, 1), N = I: 2 * 3 / (sqrt 17 + sqrt 2)
    assert balance.relative_imbalance([W, np.eye(2)])[0] == pytest.approx(6 / (np.sqrt(17) + np.sqrt(2)))
    # the printed form compares W_1^T W_1 with W_2^T W_2: W_1 = R diag(2, 1), W_2 = diag(2, 1) differ in
    # Arora and Du's form but not in the printed one
    c, s = np.cos(0.3), np.sin(0.3)
    R = np.array([[c, -s], [s, c]])
    assert balance.relative_imbalance([R @ W, W], printed=True)[0] == pytest.approx(0.0, abs=1e-15)
    assert balance.relative_imbalance([R @ W, W])[0] > 0.1
    rng = np.random.default_rng(3)
    stack = [rng.standard_normal((4, 3, 3)) for _ in range(3)]
    for printed in (False, True):
        np.testing.assert_allclose(
            balance.relative_imbalance(stack, printed=printed),
            [balance.relative_imbalance([W[m] for W in stack], printed=printed) for m in range(4)],
            atol=1e-14,
        )


# ---------------------------------------------------------------- the lr^2 drift of gradient descent


@pytest.mark.parametrize("gradients", [squared_loss_gradients, log_cosh_gradients])
@pytest.mark.parametrize("lr", [1e-3, 0.05])
def test_one_step_changes_the_imbalance_by_exactly_the_lr_squared_term(gradients, lr):
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((3, 7)), rng.standard_normal((2, 7))
    Ws = [rng.standard_normal((4, 3)), rng.standard_normal((5, 4)), rng.standard_normal((2, 5))]
    G = gradients(Ws, X, Y)
    after = [W - lr * g for W, g in zip(Ws, G)]
    change = [b - a for a, b in zip(gram_imbalance(Ws), gram_imbalance(after))]
    for got, expected in zip(balance.step_drift(G, lr), change):
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-12 * np.abs(expected).max())
    assert balance.gradient_identity_residual(Ws, G).max() < 1e-13
    # arbitrary matrices in place of gradients: the first-order terms no longer cancel
    assert balance.gradient_identity_residual(Ws, [rng.standard_normal(W.shape) for W in Ws]).min() > 0.1


def test_over_a_run_the_imbalance_moves_by_the_sum_of_the_lr_squared_terms():
    """The book's chapter 05 check, now here: a plain gradient-descent loop over many steps."""
    rng = np.random.default_rng(5)
    k, n, lr = 4, 6, 0.02
    X, Y = rng.standard_normal((k, n)), rng.standard_normal((k, n))
    Q = np.linalg.qr(rng.standard_normal((k, k)))[0]
    Ws = [Q @ np.diag(np.linspace(0.5, 1.0, k)) @ Q.T] * 3  # balanced: D_i = 0
    start = gram_imbalance(Ws)
    accumulated = [np.zeros((k, k)) for _ in range(2)]
    for _ in range(300):
        G = squared_loss_gradients(Ws, X, Y)
        accumulated = [acc + d for acc, d in zip(accumulated, balance.step_drift(G, lr))]
        Ws = [W - lr * g for W, g in zip(Ws, G)]
    change = [b - a for a, b in zip(start, gram_imbalance(Ws))]
    assert balance.relative_error(change, accumulated) < 1e-9
    assert min(np.linalg.norm(c) for c in change) > 1e-6  # it did move


def test_relative_error_closed_form():
    a, e = [np.eye(2) * 1.1, np.ones((2, 3))], [np.eye(2), np.ones((2, 3)) * 2]
    assert balance.relative_error(a, e) == pytest.approx(max(0.1, 0.5))
    stacked = balance.relative_error([np.zeros((3, 2, 2))], [np.stack([np.eye(2)] * 3)])
    assert stacked == pytest.approx(1.0)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: minimum_norm.nuclear_norm(np.ones(3)), "P must"),
        (lambda: minimum_norm.norm_ratio(np.ones((2, 3)), np.ones((2, 3))), "W1 .* and W2 .* must chain"),
        (lambda: minimum_norm.minimum_norm_factors(np.full((2, 2), np.nan)), "P must"),
        (lambda: minimum_norm.random_factors(np.ones((2, 3)), 3, rng=np.random.default_rng(0)), "W1 must be square"),
        (lambda: minimum_norm.random_factors(np.eye(2), 0, rng=np.random.default_rng(0)), "count must"),
        (lambda: minimum_norm.minimise_norm(np.eye(3), np.eye(2)), "A0 must have shape"),
        (lambda: minimum_norm.minimise_norm(np.diag([1.0, 2.0, 0.0]), np.eye(3)), r"P must have rank 3 .*got rank 2"),
        (lambda: balance.printed_imbalance([np.ones((3, 2)), np.ones((2, 3))]), "equal input widths"),
        (lambda: balance.drift([np.eye(2)] * 2, [np.eye(3)] * 2), "same layer shapes"),
        (lambda: balance.drift_norm([np.eye(2)], [np.eye(2)]), "no interface"),
        (lambda: balance.step_drift([np.eye(2)] * 2, 0.0), "lr must"),
        (lambda: balance.gradient_identity_residual([np.eye(2)] * 2, [np.eye(3)] * 2), "grads must"),
        (lambda: balance.relative_error([np.eye(2)], []), "same length"),
        (lambda: balance.relative_error([np.eye(2)], [np.zeros((2, 2))]), "nonzero"),
    ],
)
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- Du et al.'s balancedness of structured (convolutional) layers ---------------------------------------


def _coefficient_loop(structure, Ws0, X, lr, steps):
    """Plain coefficient gradient descent by finite differences of the loss ||X - W_d..W_1 X||^2 / (2n)."""
    c = [structure.coefficients(W).copy() for W in Ws0]
    n = X.shape[1]

    def loss(cs):
        F = X
        for ci in cs:
            F = structure.matrix(ci) @ F
        return np.sum((X - F) ** 2) / (2 * n)

    for _ in range(steps):
        grads = []
        for i in range(len(c)):
            g = np.zeros_like(c[i])
            for j in range(len(g)):
                for sign in (1, -1):
                    shifted = [x.copy() for x in c]
                    shifted[i][j] += sign * 1e-6
                    g[j] += sign * loss(shifted) / 2e-6
            grads.append(g)
        c = [ci - lr * g for ci, g in zip(c, grads)]
    return np.stack(c)


def test_filter_norm_differences_by_hand():
    c = np.array([[1.0, 2.0], [0.0, 3.0], [1.0, 1.0]])
    np.testing.assert_allclose(balance_drift.filter_norm_differences(c), [5.0 - 9.0, 9.0 - 2.0])
    with pytest.raises(ValueError, match="coefficients must"):
        balance_drift.filter_norm_differences(np.ones((1, 3)))


def test_filter_balance_drift_against_a_finite_difference_loop():
    from deeplinear import structures

    rng = np.random.default_rng(7)
    conv = structures.Convolution(3, 3)
    Ws0 = structures.random_layers(conv, 2, rng=rng)
    X = rng.standard_normal((9, 2))
    lr, steps = 0.05, 6
    drift = balance_drift.filter_balance_drift(conv, Ws0, X, X, lrs=[lr], time=lr * steps)
    c0, c1 = np.stack([conv.coefficients(W) for W in Ws0]), _coefficient_loop(conv, Ws0, X, lr, steps)
    n0, n1 = np.sum(c0**2, axis=1), np.sum(c1**2, axis=1)
    expected = abs((n1[0] - n1[1]) - (n0[0] - n0[1])) / np.abs(n1 - n0).max()
    assert drift.steps.tolist() == [steps]
    assert drift.filter[0] == pytest.approx(expected, rel=1e-5)


def test_filter_balance_is_conserved_in_the_flow_limit_and_matrix_balance_is_not():
    from deeplinear import structures

    rng = np.random.default_rng(8)
    conv = structures.Convolution(5, 3)
    Ws0 = structures.random_layers(conv, 3, rng=rng)
    X = rng.standard_normal((25, 3))
    drift = balance_drift.filter_balance_drift(conv, Ws0, X, X, lrs=[4e-3, 2e-3, 1e-3], time=0.4)
    np.testing.assert_allclose(drift.filter[:-1] / drift.filter[1:], 2.0, rtol=0.05)  # O(lr)
    assert drift.matrix[-1] > 20 * drift.filter[-1]  # at the smallest rate
    # with an orthonormal basis the matrix norm is the coefficient norm: both drift alike
    on = balance_drift.filter_balance_drift(structures.orthonormal(conv), Ws0, X, X, lrs=[2e-3], time=0.4)
    assert on.matrix[0] == pytest.approx(on.filter[0], rel=1e-8)


def test_filter_balance_drift_refuses_bad_input():
    from deeplinear import structures

    conv = structures.Convolution(3, 3)
    Ws0 = structures.random_layers(conv, 2, rng=np.random.default_rng(0))
    X = np.eye(9)
    with pytest.raises(ValueError, match="lrs must"):
        balance_drift.filter_balance_drift(conv, Ws0, X, X, lrs=[-1.0], time=1.0)
    with pytest.raises(ValueError, match="time must"):
        balance_drift.filter_balance_drift(conv, Ws0, X, X, lrs=[0.1], time=0.01)
    with pytest.raises(ValueError, match="at least 2 layers"):
        balance_drift.filter_balance_drift(conv, Ws0[:1], X, X, lrs=[0.1], time=1.0)
    with pytest.raises(ValueError, match="structure must"):
        balance_drift.filter_balance_drift(np.eye(9), Ws0, X, X, lrs=[0.1], time=1.0)


def test_nuclear_imbalance_bounds_the_excess_norm():
    """Against explicit eigenvalues, and the bounds the chapter uses: excess <= ||D||_* (Powers-Stormer),
    ||W_1||^2 + ||W_2||^2 >= ||D||_*, and (||W_1||^2 + ||W_2||^2)^2 >= ||D||_*^2 + 4 ||W_2 W_1||_*^2, on random
    factorisations of random shapes and scales."""
    rng = np.random.default_rng(11)
    for _ in range(500):
        m, h, n = rng.integers(1, 6, 3)
        W1 = rng.standard_normal((h, n)) * np.exp(rng.normal(size=(h, 1)))
        W2 = rng.standard_normal((m, h)) * np.exp(rng.normal(size=(1, h)))
        D = W2.T @ W2 - W1 @ W1.T
        nuclear = balance.nuclear_imbalance([W1, W2])[0]
        np.testing.assert_allclose(nuclear, np.abs(np.linalg.eigvals(D)).sum(), rtol=1e-10)
        total = np.sum(W1**2) + np.sum(W2**2)
        excess = total - 2 * minimum_norm.nuclear_norm(W2 @ W1)
        assert excess <= nuclear * (1 + 1e-10) + 1e-12
        assert total >= nuclear * (1 - 1e-10)
        # hence, with r = ||D||_* / (2 ||P||_*), a gap (total / 2||P||_*) - 1 of at least sqrt(1 + r^2) - 1
        assert total**2 >= (nuclear**2 + 4 * minimum_norm.nuclear_norm(W2 @ W1) ** 2) * (1 - 1e-10)


def test_start_size_against_a_plain_loop():
    rng = np.random.default_rng(12)
    Ws0 = [rng.standard_normal((3, 4, 4)) * 0.01, rng.standard_normal((3, 2, 4)) * 0.01]
    Ws = [rng.standard_normal((3, 4, 4)), rng.standard_normal((3, 2, 4))]
    for s in range(3):
        expected = (np.sum(Ws0[0][s] ** 2) + np.sum(Ws0[1][s] ** 2)) / (
            2 * np.linalg.svd(Ws[1][s] @ Ws[0][s], compute_uv=False).sum()
        )
        np.testing.assert_allclose(balance.start_size(Ws0, Ws)[s], expected, rtol=1e-12)
        np.testing.assert_allclose(balance.start_size([W[s] for W in Ws0], [W[s] for W in Ws]), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="two-layer"):
        balance.start_size([np.eye(2)] * 3, [np.eye(2)] * 3)


# -- balancedness implies alignment: the chained usSVDs --------------------------------------------------


def test_balanced_network_is_zero_balanced_entry_by_entry():
    """W_{i+1}^T W_{i+1} = W_i W_i^T, written out entry by entry; the rotations are drawn afresh."""
    rng = np.random.default_rng(30)
    W1 = rng.standard_normal((4, 4))
    Ws = balance.balanced_network(W1, 4, rng=rng)
    assert len(Ws) == 4 and np.array_equal(Ws[0], W1) and Ws[0] is not W1
    for D in gram_imbalance(Ws):
        assert np.abs(D).max() < 1e-12 * np.sum(W1**2)
    assert np.abs(balance.balanced_network(W1, 4, rng=rng)[1] - Ws[1]).max() > 0.1  # another Q_2
    assert len(balance.balanced_network(W1, 1, rng=rng)) == 1


def test_chained_usvds_reproduce_aligned_and_balanced_networks_and_not_gaussian_ones():
    """On an aligned network (Definition 2, distinct values, random signs and orders) and a balanced one with a
    repeated singular value the chained triples are usSVDs with V_{i+1} = U_i; on Gaussian layers they are not."""
    rng = np.random.default_rng(31)
    k = 5
    bases = [aligned.random_orthogonal(k, rng=rng) for _ in range(4)]
    sigmas = [rng.permutation(np.linspace(0.5, 2.0, k)) * rng.choice([-1, 1], k) for _ in range(3)]
    aligned_net = aligned.aligned_network(bases, sigmas)
    repeated = aligned.random_orthogonal(k, rng=rng) @ np.diag([2.0, 2.0, 2.0, 1.0, 0.5])
    for Ws in (aligned_net, balance.balanced_network(repeated, 4, rng=rng)):
        triples = balance.chained_usvds(Ws)
        for i, (W, (U, s, V)) in enumerate(zip(Ws, triples)):
            np.testing.assert_allclose(U.T @ U, np.eye(k), atol=1e-12)
            np.testing.assert_allclose(V.T @ V, np.eye(k), atol=1e-12)
            np.testing.assert_allclose(U @ np.diag(s) @ V.T, W, atol=1e-12)
            if i:
                assert V is triples[i - 1][0]
        assert balance.chain_error(Ws) < 1e-13
    assert balance.chain_error([rng.standard_normal((k, k)) for _ in range(3)]) > 0.01


def test_chain_error_closed_form_for_two_layers():
    """W_1 = I (its SVD is the identity basis): the error of W_2 is that of keeping only the diagonal of
    H = (W_2^T W_2)^{1/2}, computed here with scipy's sqrtm."""
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(32)
    W2 = rng.standard_normal((3, 3))
    H = np.real(sqrtm(W2.T @ W2))
    expected = np.linalg.norm(H - np.diag(np.diag(H))) / np.linalg.norm(W2)
    assert balance.chain_error([np.eye(3), W2]) == pytest.approx(expected, rel=1e-8)


def test_near_balance_bounds_the_defect():
    """Böttcher-Wenzel: ||MN - NM||_F <= sqrt(2) ||M||_F ||N - M||_F, so the alignment defect is at most sqrt(2)
    times the relative imbalance; near 0-balanced networks are nearly aligned."""
    from deeplinear import metrics

    rng = np.random.default_rng(33)
    for eps in (1e-6, 1e-3, 1.0):
        Ws = balance.balanced_network(rng.standard_normal((200, 4, 4))[0], 3, rng=rng)
        Ws = [W + eps * rng.standard_normal(W.shape) for W in Ws]
        assert np.all(metrics.alignment_defect(Ws) <= np.sqrt(2) * balance.relative_imbalance(Ws))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: balance.balanced_network(np.ones((2, 3)), 2, rng=np.random.default_rng(0)), "square"),
        (lambda: balance.balanced_network(np.eye(2), 0, rng=np.random.default_rng(0)), "depth must"),
        (lambda: balance.balanced_network(np.eye(2), 2, rng=-1), "rng must"),
        (lambda: balance.chained_usvds([np.eye(2), np.eye(3)]), "square"),
        (lambda: balance.chain_error([]), "non-empty"),
    ],
)
def test_balanced_chain_refuses_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- the chapter's experiments, as library functions ------------------------------------------------------


def test_start_scale_runs_against_a_plain_loop():
    """Each start trained alone by a plain gradient-descent loop at its own rate ends where the stacked run
    does; the starts, rates and statistics are the plain formulas."""
    from deeplinear import metrics, stability

    rng = np.random.default_rng(34)
    k, n = 3, 5
    X, Y = rng.standard_normal((k, n)), rng.standard_normal((k, n))
    scales = np.array([1e-3, 0.1, 2.0])
    runs = balance_drift.start_scale_runs(X, Y, scales, lr=0.05, steps=300, rng=np.random.default_rng(7))
    P = Y @ np.linalg.pinv(X)
    unit = np.sqrt(nuclear_by_eigenvalues(P) / k) * scales[:, None, None] / np.sqrt(k)
    draws = np.random.default_rng(7)
    for W in runs.starts:
        np.testing.assert_allclose(W, draws.standard_normal((3, k, k)) * unit, rtol=1e-10)
    for j in range(len(scales)):
        W1, W2 = runs.starts[0][j].copy(), runs.starts[1][j].copy()
        total0 = np.sum(W1**2) + np.sum(W2**2)
        D = gram_imbalance([W1, W2])[0]
        assert runs.imbalance[j] == pytest.approx(np.abs(np.linalg.eigvalsh(D)).sum() / (2 * nuclear_by_eigenvalues(P)))
        rate = min(0.05, stability.stable_learning_rate(X, P, [W1, W2]))
        assert runs.rates[j] == pytest.approx(rate)
        for _ in range(300):
            E = (W2 @ W1 @ X - Y) / n
            W1, W2 = W1 - rate * W2.T @ E @ X.T, W2 - rate * E @ (W1 @ X).T
        np.testing.assert_allclose(runs.weights[0][j], W1, atol=1e-9)
        np.testing.assert_allclose(runs.weights[1][j], W2, atol=1e-9)
        reached = 2 * nuclear_by_eigenvalues(W2 @ W1)
        assert runs.gaps[j] == pytest.approx((np.sum(W1**2) + np.sum(W2**2)) / reached - 1, abs=1e-8)
        assert runs.start_size[j] == pytest.approx(total0 / reached, rel=1e-8)
    assert runs.steps == 300
    np.testing.assert_allclose(runs.alignment, metrics.alignment(runs.weights)[:, 0])
    assert runs.gaps[0] < 1e-3 < runs.gaps[2]  # Proposition 2's story, in small


def test_drift_scaling_slopes_and_its_probes():
    """Per-step slope 2 (the lr^2 identity), printed slope 1, fixed-time slope near 1; the probes are single
    plain gradient steps at rates u * 1e-5 .. u * 1e-2 with u = ||W|| / ||G||."""
    rng = np.random.default_rng(35)
    k = 3
    X, Y = rng.standard_normal((k, 6)), rng.standard_normal((k, 6))
    Ws = [rng.standard_normal((k, k)) / np.sqrt(k) for _ in range(3)]
    G = squared_loss_gradients(Ws, X, Y)
    u = np.sqrt(sum(np.sum(W**2) for W in Ws) / sum(np.sum(g**2) for g in G))
    assert balance_drift.unit_learning_rate(Ws, G) == pytest.approx(u)
    out = balance_drift.drift_scaling(Ws, X, Y, lr=0.01)
    np.testing.assert_allclose(out.lrs, u * np.geomspace(1e-5, 1e-2, 7))
    step = [W - out.lrs[3] * g for W, g in zip(Ws, G)]
    change = [b - a for a, b in zip(gram_imbalance(Ws), gram_imbalance(step))]
    assert out.per_step[3] == pytest.approx(max(np.linalg.norm(c) for c in change), rel=1e-6)
    assert out.per_step_slope == pytest.approx(2, abs=0.01)
    assert out.printed_slope == pytest.approx(1, abs=0.05)
    assert 0.8 < out.fixed_time_slope < 1.3
    np.testing.assert_allclose(out.fixed_lrs, [0.00125, 0.0025, 0.005, 0.01])


def test_tracked_balancedness_and_accumulated_drift():
    """The tracked metrics are the plain ones; the accumulated lr^2 terms match the change to rounding."""
    from deeplinear import metrics

    rng = np.random.default_rng(36)
    k = 3
    X, Y = rng.standard_normal((k, 5)), rng.standard_normal((k, 5))
    Q = np.linalg.qr(rng.standard_normal((k, k)))[0]
    Ws0 = [Q @ np.diag([0.5, 0.75, 1.0]) @ Q.T] * 3
    Ws = [W + 0.1 * rng.standard_normal((k, k)) for W in Ws0]
    tracked = balance_drift.tracked_balancedness(Ws0)
    np.testing.assert_allclose(tracked["invariance"](Ws), metrics.invariance(Ws0, Ws))
    np.testing.assert_allclose(tracked["printed"](Ws), balance.relative_imbalance(Ws, printed=True))
    np.testing.assert_allclose(tracked["arora"](Ws), balance.relative_imbalance(Ws))
    assert balance_drift.accumulated_drift_error(Ws0, X, Y, lr=0.02, steps=200) < 1e-9
