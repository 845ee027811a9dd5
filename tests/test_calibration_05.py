"""Chapter 05's criteria, simulated at the edges of its stated ranges: k in [2, 32], n in [k, 200], lr in
[0.001, 0.1] (capped by the stability rule), init_scale in [1e-4, 1e-2] (relative to the solution's scale).

Each test draws what the chapter draws, many times (stacked: one network per draw, each with its own data),
and holds the ledger's criterion to a failure rate of at most 1% where the claim's hypotheses hold; they hold
here at every draw, with a margin."""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear import balance, balance_drift, metrics, minimum_norm, network, stability, train

EPS = np.finfo(float).eps


def problems(k: int, n: int, draws: int, rng: np.random.Generator):
    """The chapter's regression problem, ``draws`` times: X, Y (draws, k, n) and P* = Y X^+."""
    X, Y = rng.standard_normal((draws, k, n)), rng.standard_normal((draws, k, n))
    return X, Y, Y @ np.linalg.pinv(X)


@pytest.mark.parametrize(("k", "n", "draws", "count"), [(2, 2, 100, 500), (32, 32, 8, 200), (32, 200, 4, 200)])
def test_random_factorisations_never_beat_the_bound(k, n, draws, count):
    """Proposition 2 with its rounding margin: no random factorisation scores below 1 - 1e-12."""
    rng = np.random.default_rng(k + n)
    for P in problems(k, n, draws, rng)[2]:
        A = minimum_norm.random_factors(minimum_norm.minimum_norm_factors(P)[0], count, rng=rng)
        assert minimum_norm.norm_ratio(A, P @ np.linalg.inv(A)).min() >= 1 - 1e-12


@pytest.mark.parametrize(("k", "n", "draws"), [(2, 2, 200), (9, 9, 150), (32, 32, 20), (32, 200, 10)])
def test_optimiser_lands_within_its_resolution(k, n, draws):
    """The optimised factorisation's imbalance and defect are below 10 sqrt(eps cond P*), the chapter's
    tolerance, at every draw (they reach about a third of it at worst)."""
    rng = np.random.default_rng(3 * k + n)
    worst = 0.0
    for P in problems(k, n, draws, rng)[2]:
        W = minimum_norm.minimise_norm(P, np.eye(k) + 0.3 * rng.standard_normal((k, k)))
        tolerance = float(f"{10 * np.sqrt(EPS * np.linalg.cond(P)):.1g}")
        defect = max(balance.relative_imbalance(W).max(), metrics.alignment_defect(W).max())
        worst = max(worst, defect / tolerance)
    assert worst < 0.5


def start_pairs(k, n, lr, scale, draws, steps, seed, large=4.0):
    """The chapter's smallest and largest starts (relative scales ``scale`` and ``large``), one pair per draw,
    each trained at min(lr, its stable rate) for ``steps`` steps: gaps, the small start's size against the
    product reached, and the large start's imbalance (the two hypotheses)."""
    rng = np.random.default_rng(seed)
    X, Y, P = problems(k, n, draws, rng)
    unit = np.sqrt(minimum_norm.nuclear_norm(P) / k)[:, None, None]
    Ws0 = [rng.standard_normal((2, draws, k, k)) * unit / np.sqrt(k) for _ in range(2)]
    Ws0 = [np.concatenate([W[0] * scale, W[1] * large]) for W in Ws0]  # small starts, then large ones
    XX, YY = np.concatenate([X, X]), np.concatenate([Y, Y])
    rates = [
        stability.stable_learning_rate(XX[j], np.concatenate([P, P])[j], [W[j] for W in Ws0]) for j in range(2 * draws)
    ]
    end = train(Ws0, XX, YY, lr=np.minimum(lr, rates), steps=steps, progress=False).weights
    gaps = minimum_norm.norm_ratio(*end) - 1
    reached = 2 * minimum_norm.nuclear_norm(end[1][:draws] @ end[0][:draws])
    size = (np.sum(Ws0[0][:draws] ** 2, axis=(1, 2)) + np.sum(Ws0[1][:draws] ** 2, axis=(1, 2))) / reached
    imbalance = balance.nuclear_imbalance([W[draws:] for W in Ws0])[:, 0] / (2 * minimum_norm.nuclear_norm(P))
    return gaps[:draws], gaps[draws:], size, imbalance


@pytest.mark.parametrize(
    ("k", "n", "lr", "scale", "draws", "steps", "applicable", "large_min"),
    [
        (2, 2, 0.1, 1e-4, 150, 20_000, 0.9, 0.3),  # the step size's floor: largest rate, smallest start
        (2, 200, 0.1, 1e-4, 150, 20_000, 0.9, 0.3),
        (2, 2, 0.1, 1e-2, 150, 20_000, 0.9, 0.3),  # the largest small start
        (2, 2, 0.001, 1e-2, 150, 3_000, 0.0, 0.1),  # stopped far from converged (the chapter runs on)
        (32, 32, 0.1, 1e-4, 6, 5_000, 0.9, 0.3),
    ],
)
def test_small_and_large_starts(k, n, lr, scale, draws, steps, applicable, large_min):
    """Where its hypothesis holds (squared norm at most 1e-3 of the minimum norm of the product reached), the
    small start ends within its own size of the minimum norm (the bound of Proposition 2 and conservation; the
    step size adds at most 1e-4) and within 3e-4, a third of the criterion 1e-3; where its hypothesis
    holds (imbalance at least 1), the large start ends more than 0.3 away, three times outside the criterion
    0.1 (and more than 0.1 from a run stopped long before it converged); at every draw."""
    small, large, size, imbalance = start_pairs(k, n, lr, scale, draws, steps, seed=k * n + int(1 / lr))
    assert np.mean((size <= 1e-3) & (imbalance >= 1)) >= applicable
    small_ok = size <= 1e-3
    assert small[small_ok].max(initial=0.0) <= 3e-4
    assert np.all(small[small_ok] <= size[small_ok] + 1e-4)  # the flow's bound, and the step size's floor
    assert large[imbalance >= 1].min() > large_min


def test_large_starts_are_rarely_balanced():
    """The large start's hypothesis fails by chance at about 0.5% of draws at k = 2, less at larger k."""
    rng = np.random.default_rng(5)
    for k in (2, 3, 32):
        P = problems(k, k, 2000, rng)[2]
        unit = np.sqrt(minimum_norm.nuclear_norm(P) / k)[:, None, None]
        Ws = [4.0 * unit * rng.standard_normal((2000, k, k)) / np.sqrt(k) for _ in range(2)]
        assert np.mean(balance.nuclear_imbalance(Ws)[:, 0] / (2 * minimum_norm.nuclear_norm(P)) < 1) < 0.015


def probes(k, n, draws, seed):
    """The chapter's one-step probes on three Gaussian layers: drift and printed slopes over relative steps
    1e-5 to 1e-2, and the identity's error at 1e-1."""
    rng = np.random.default_rng(seed)
    out = []
    for X, Y, _ in zip(*problems(k, n, draws, rng)):
        Ws = [rng.standard_normal((k, k)) / np.sqrt(k) for _ in range(3)]
        G = network.gradients(Ws, X, Y)
        unit = np.sqrt(sum(np.sum(W**2) for W in Ws) / sum(np.sum(g**2) for g in G))
        lrs = unit * np.geomspace(1e-5, 1e-2, 7)
        stacked = [np.broadcast_to(W, (7, k, k)) for W in Ws]
        one = [W - lrs[:, None, None] * g for W, g in zip(Ws, G)]
        slope = [
            np.polyfit(np.log(lrs), np.log(balance.drift_norm(stacked, one, printed=p)), 1)[0] for p in (False, True)
        ]
        step = [W - 0.1 * unit * g for W, g in zip(Ws, G)]
        error = balance.relative_error(balance.drift(Ws, step), balance.step_drift(G, 0.1 * unit))
        out.append((*slope, error))
    return np.array(out)


@pytest.mark.parametrize(("k", "n", "draws"), [(2, 2, 400), (2, 200, 300), (32, 32, 40), (32, 200, 30)])
def test_drift_slopes_and_step_identity(k, n, draws):
    """Per-step drift slope in [1.9, 2.1] and printed slope in [0.9, 1.1] at every draw (they stay within a
    few hundredths), and the step identity's error at most 1e-10 (a few 1e-12 at worst)."""
    result = probes(k, n, draws, seed=k * 1000 + n)
    assert np.abs(result[:, 0] - 2).max() < 0.01
    assert np.abs(result[:, 1] - 1).max() < 0.05
    assert result[:, 2].max() < 1e-10


@pytest.mark.parametrize(("k", "n", "lr", "steps"), [(2, 2, 0.1, 20_000), (2, 200, 0.001, 2_000), (32, 32, 0.1, 3_000)])
def test_balanced_start_rotates(k, n, lr, steps):
    """From the chapter's balanced, aligned start the singular vectors rotate far above rounding (1 -
    invariance > 1e-8) at every draw, already after a short budget."""
    draws = 100 if k == 2 else 5
    rng = np.random.default_rng(k + n + steps)
    X, Y, P = problems(k, n, draws, rng)
    Q = np.linalg.qr(rng.standard_normal((draws, k, k)))[0]
    Ws0 = 3 * [Q @ np.diag(np.linspace(0.5, 1.0, k)) @ np.swapaxes(Q, 1, 2)]
    rates = [stability.stable_learning_rate(X[j], P[j], [W[j] for W in Ws0]) for j in range(draws)]
    end = train(Ws0, X, Y, lr=np.minimum(lr, rates), steps=steps, progress=False).weights
    rotation = 1 - metrics.invariance(Ws0, end).min(axis=1)
    assert rotation.min() > 1e-6


def fixed_time_slopes(k, n, lr, draws, seed):
    """The chapter's fixed-time runs (balance_drift.drift_scaling's second half), stacked over draws: three Gaussian
    layers, rate min(lr, stable rate), time 100 rate, at rate/8 .. rate; the log-log slope of the drift."""
    rng = np.random.default_rng(seed)
    X, Y, P = problems(k, n, draws, rng)
    Ws = [rng.standard_normal((draws, k, k)) / np.sqrt(k) for _ in range(3)]
    rate = np.minimum(lr, [stability.stable_learning_rate(X[j], P[j], [W[j] for W in Ws]) for j in range(draws)])
    fractions = 2.0 ** -np.arange(3, -1, -1)
    drifts = [
        balance.drift_norm(Ws, train(Ws, X, Y, lr=rate * f, steps=round(100 / f), progress=False).weights)
        for f in fractions
    ]
    return np.polyfit(np.log(fractions), np.log(np.array(drifts)), 1)[0]


@pytest.mark.parametrize(
    ("k", "n", "lr", "draws", "outside"),
    [
        (2, 2, 0.1, 3000, 0.003),
        (2, 200, 0.1, 2000, 0.003),
        (3, 3, 0.1, 2000, 0.003),
        (2, 2, 0.001, 1000, 0.0),
        (32, 32, 0.1, 30, 0.0),
        (32, 200, 0.001, 30, 0.0),
    ],
)
def test_fixed_time_drift_is_first_order(k, n, lr, draws, outside):
    """Finding balancedness-fixed-time: the slope of the drift over a fixed time against lr lies in [0.5, 1.5]
    but at a fraction `outside` of draws (it is above 1.5 only where the leading, first-order integral nearly
    cancels, about 1 draw in 1500 at k = 2 and lr = 0.1); never below 0.8, so the drift is O(lr) at every draw."""
    slopes = fixed_time_slopes(k, n, lr, draws, seed=13 * k + n)
    assert slopes.min() > 0.8
    assert np.mean((slopes < 0.5) | (slopes > 1.5)) <= outside
    assert np.quantile(slopes, 0.99) < 1.35


@pytest.mark.parametrize(("k", "n"), [(2, 2), (2, 200), (32, 32), (32, 200)])
def test_aligned_global_minimum_at_every_depth(k, n):
    """The aligned, 0-balanced factorisation of P* into d = 2..12 layers attains the least loss and its chained
    usSVDs reproduce it, to rounding (below 1e-13; the checks allow 1e-12), at 20 draws of each corner."""
    from deeplinear import theory

    rng = np.random.default_rng(k + n)
    X, Y, P = problems(k, n, 20, rng)
    for x, y, p in zip(X, Y, P):
        least, zero = theory.least_squares_loss(x, y), np.sum(y**2) / (2 * n)
        for d in range(2, 13):
            Ws = stability.balanced_factors(p, d)
            assert abs(network.loss(Ws, x, y) - least) / zero < 1e-13
            assert balance.chain_error(Ws) < 1e-13


@pytest.mark.parametrize("k", [2, 3, 9, 32])
def test_balanced_networks_are_aligned_and_near_balance_bounds_the_defect(k):
    """A random 0-balanced network (Gaussian first layer, any conditioning) is reproduced by its chained usSVDs
    to below 1e-13 at every draw; Gaussian layers are not (the construction can fail). The defect of the
    chapter's trained starts is below sqrt(2) times their relative imbalance at the corners of init_scale and lr."""
    rng = np.random.default_rng(k)
    for _ in range(300 if k < 32 else 40):
        assert balance.chain_error(balance.balanced_network(rng.standard_normal((k, k)), 3, rng=rng)) < 1e-13
    assert balance.chain_error([rng.standard_normal((k, k)) for _ in range(3)]) > 1e-3
    for scale, lr in ((1e-4, 0.1), (1e-2, 0.001)):
        X, Y, _ = problems(k, k, 1, rng)
        runs = balance_drift.start_scale_runs(X[0], Y[0], np.geomspace(scale, 4.0, 8), lr=lr, steps=2000, rng=rng)
        ratio = metrics.alignment_defect(runs.weights) / (np.sqrt(2) * balance.relative_imbalance(runs.weights))
        assert ratio.max() < 1.0
