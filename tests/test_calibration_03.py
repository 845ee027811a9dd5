"""Chapter 03's criteria, simulated at the edges of its stated ranges (k in [2, 24], n in [k, 64], depth in
[2, 8], lr in [0.005, 0.05]).

Each test draws what the chapter draws, many times (stacked into ensembles, with fewer steps where fewer
steps make the criterion harder to meet), and holds the ledger's criterion to a failure rate of at most 1%
where the claim is true: on the "if" side (the condition holds) the singular vectors stay at rounding level
and the loss falls as far as Corollary 1's mode dynamics say; on the "only if" side (random data) the runs
leave the aligned set by far more than rounding."""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear import (
    TrainingDiverged,
    aligned,
    boundaries,
    convergence,
    data,
    fixed_bases,
    invariance,
    losses,
    modes,
    network,
    theory,
    train,
)

ROUNDING = 1e-10  # theorem-1-if, section-4-2-*: 1 - invariance where the condition holds
MOVED = 1e-8  # figure-1a, section-4-2-sensing (generic): 1 - invariance, 100 times the rounding cap
TURNED = 1e-6  # theorem-1-only-if: the share of the update that turns the start's bases
LEAK = 1e-10  # theorem-1-only-if-rank, theorem-1-proof-strong-alignment: rank-one form and U_d's turn
V1_TURNED = 1e-8  # theorem-1-proof-strong-alignment: V_1's turn, 100 times the rounding cap
KINDS = ("autoencoding", "factorization", "inversion")


def witness_starts(kind, k, n, depth, lr, draws, rng):
    problems = [data.regression_problem(kind, k, n, max_condition=20.0, rng=rng) for _ in range(draws)]
    return problems, [invariance.witness_start(*p, [k] * (depth + 1), lr=lr, rng=rng) for p in problems]


def curvature(s, lam, n):
    """Independently of the library: max over pairs (a, b) of lam_b sum_i (prod_{j>i} s_ja prod_{j<i} s_jb)^2
    / n, the largest Gauss-Newton curvature of aligned networks with singular values s (D, d, r)."""
    D, d, r = s.shape
    pre = np.concatenate([np.ones((D, 1, r)), np.cumprod(s, axis=1)], axis=1)  # pre[:, i] = prod_{j<i}
    suf = np.concatenate([np.cumprod(s[:, ::-1], axis=1)[:, ::-1], np.ones((D, 1, r))], axis=1)  # prod_{j>=i}
    g2 = sum((suf[:, i + 1, :, None] * pre[:, i, None, :]) ** 2 for i in range(d))
    return (g2 * lam[:, None, :]).max(axis=(1, 2)) / n


@pytest.mark.parametrize(("k", "n", "depth"), [(2, 2, 8), (24, 24, 8), (24, 64, 2)])
def test_stability_rule_keeps_every_step_below_the_edge(k, n, depth):
    """The rule sizes the rate at the flow minimum; along the exact mode dynamics of the chapter's 30,000
    steps (a loop over all draws at once, at the top of the lr range), lr times the largest curvature stays
    below 1.05 at every step checked (the rule aims at 1; the edge is 2)."""
    rng = np.random.default_rng(k + n + depth)
    starts = [st for kind in KINDS for st in witness_starts(kind, k, n, depth, 0.05, 4, rng)[1]]
    s = np.stack([st.sigmas0 for st in starts])
    lam, target = np.stack([st.G for st in starts]), np.stack([st.targets for st in starts])
    lr, nn = np.array([st.lr for st in starts]), np.array([st.n for st in starts])
    worst, ones = lr * curvature(s, lam, nn), np.ones_like(s[:, :1])
    for t in range(30000):
        before = np.cumprod(np.concatenate([ones, s[:, :-1]], axis=1), axis=1)
        after = np.cumprod(np.concatenate([s[:, 1:], ones], axis=1)[:, ::-1], axis=1)[:, ::-1]
        s = s + (lr / nn)[:, None, None] * before * after * (lam * (target - s.prod(axis=1)))[:, None, :]
        if t % 1000 == 999:
            worst = np.maximum(worst, lr * curvature(s, lam, nn))
    assert np.isfinite(s).all()
    assert worst.max() <= 1.05, worst.max()


def at_flow_minimum(X, Y, start):
    """The aligned network with the start's bases and the singular values of its flow minimum."""
    _, V = theory.alignment_invariant_witness(X, Y)
    grow = modes.flow_minimum(start.sigmas0, start.targets) / start.sigmas0
    out, h = [], V
    for W, g in zip(start.Ws, grow):
        Q = h / np.linalg.norm(h, axis=0)  # the start's basis before this layer
        out.append(W @ Q @ np.diag(g) @ Q.T)
        h = W @ h
    return out


@pytest.mark.parametrize(("k", "n", "depth"), [(2, 2, 8), (24, 24, 8), (24, 64, 2)])
def test_condition_runs_keep_their_vectors_at_the_sharpest_point(k, n, depth):
    """Full gradient descent from the aligned minimum the rule sizes its rate for (the sharpest point of the
    path), 1,000 steps: at the rule's rate 1 - invariance stays at rounding level (1e-12). Where a pair of
    modes limits the edge (not a mode alone), 1.25 times the edge keeps the modes stable but lets rounding
    errors off the aligned set grow: the criterion then fails, so it can."""
    rng = np.random.default_rng(3 * k + n + depth)
    options = dict(steps=1000, record=[0, 1000], metrics=("invariance",))
    controls = 0
    for kind in ("autoencoding", "factorization"):
        problems, starts = witness_starts(kind, k, n, depth, 0.05, 8, rng)
        ends = [at_flow_minimum(X, Y, st) for (X, Y), st in zip(problems, starts)]
        Xs, Ys = map(np.stack, zip(*problems))
        res = train(network.stack(ends), Xs, Ys, lr=np.array([st.lr for st in starts]), **options)
        assert (1 - res.history.metrics["invariance"][-1].min(axis=1)).max() <= ROUNDING / 100, kind
        for end, st, X, Y in zip(ends, starts, Xs, Ys):
            single, pairs = convergence.edges_of_stability(modes.flow_minimum(st.sigmas0, st.targets), st.G, st.n)
            if pairs > 0.7 * single or controls >= 2:
                continue
            controls += 1
            try:
                res = train(end, X, Y, lr=1.25 * pairs, **options)
            except TrainingDiverged:
                continue
            assert 1 - res.history.metrics["invariance"][-1].min() > ROUNDING, kind
    assert controls > 0 or depth == 2 or k == 2  # shallow or narrow, the stiffest direction is often a mode


@pytest.mark.parametrize(("k", "n", "depth"), [(2, 2, 2), (24, 24, 8)])
def test_losses_follow_the_budget(k, n, depth):
    """theorem-1-if, section-4-2-*: a full run's loss falls by at least as many orders as its mode dynamics
    predict (counted with half an order of margin) at every draw, over 1,000 steps at the top and the bottom
    of the lr range; the two agree to rounding while the network stays aligned."""
    rng = np.random.default_rng(5 * k + n + depth)
    widths = [k] * (depth + 1)
    for lr in (0.005, 0.05):
        for kind in (*KINDS, "sensing"):
            if kind == "sensing":
                problems = [data.matrix_sensing(k, n, rng=rng) for _ in range(4)]
                starts = [invariance.sensing_start(p.M, p.y, widths, lr=lr, rng=rng) for p in problems]
                args = (None, None)
                loss = losses.MatrixSensing([p.M for p in problems], [p.y for p in problems])
            else:
                problems, starts = witness_starts(kind, k, n, depth, lr, 4, rng)
                args, loss = tuple(map(np.stack, zip(*problems))), "squared"
            Ws = network.stack([st.Ws for st in starts])
            res = train(Ws, *args, loss=loss, lr=np.array([st.lr for st in starts]), steps=1000, record=[0, 1000])
            for st, member in zip(starts, res.history.loss.T):
                assert modes.orders(member) >= st.budget_orders(1000), (kind, lr)


@pytest.mark.parametrize("k", [2, 24])
def test_random_data_fail_the_condition(k):
    """theorem-1-only-if (n = k, where it applies): the relative commutator of Gaussian data is far above the
    test's 1e-10 at every draw; the zero-floor hypothesis holds at n = k (relative floor at rounding) and
    fails at n = k + 1."""
    rng = np.random.default_rng(k)
    commutators = []
    for _ in range(300):
        X, Y = data.random_regression(k, k, rng=rng)
        commutators.append(theory.relative_commutator(X, Y))
        assert theory.least_squares_loss(X, Y) <= 1e-14 * 0.5 * np.sum(Y**2) / k
        assert theory.least_squares_loss(*data.random_regression(k, k + 1, rng=rng)) > 1e-6
    assert min(commutators) > 1e-10 and np.quantile(commutators, 0.01) > 1e-4


def random_ensemble(k, depth, draws, rng, low=0.5, high=1.0, outer="svd"):
    problems = [data.random_regression(k, k, rng=rng) for _ in range(draws)]
    starts = []
    for X, Y in problems:
        if outer == "svd":
            V, U = np.linalg.svd(X)[0], np.linalg.svd(Y)[0]
        else:
            V, U = aligned.random_orthogonal(k, rng=rng), aligned.random_orthogonal(k, rng=rng)
        starts.append(aligned.aligned_start(V, U, [k] * (depth + 1), low=low, high=high, rng=rng))
    return network.stack(starts), tuple(map(np.stack, zip(*problems)))


def in_sweeps(Ws, Xs, Ys, lr, steps, **kwargs):
    """`modes.train_halving` over ensembles of 32, as the chapter's sweep runs them."""
    out = []
    for start in range(0, len(Xs), 32):
        part = [W[start : start + 32] for W in Ws]
        out.append(
            modes.train_halving(part, Xs[start : start + 32], Ys[start : start + 32], lr=lr, steps=steps, **kwargs)[0]
        )
    return out


@pytest.mark.parametrize(("depth", "lr"), [(2, 0.005), (2, 0.05), (8, 0.005), (8, 0.05)])
def test_random_runs_leave_the_aligned_set(depth, lr):
    """figure-1a at k = n = 2 (the smallest width, where a draw can nearly satisfy the condition), over 3,000
    steps (fewer than the sweep's 10,000, so less movement): 1 - invariance exceeds 1e-8 at every draw and
    1e-4 at 99% of them. Its tail near 0 is that of sin^2 of an angle (P(< e) grows like sqrt(e)), so a member
    falls below 1e-8 with probability about 1e-2 sqrt(1e-8 / 1e-4) = 1e-4, and all 32 of the sweep clear it
    with probability above 99%."""
    rng = np.random.default_rng(depth)
    Ws, (Xs, Ys) = random_ensemble(2, depth, 128, rng)
    runs = in_sweeps(Ws, Xs, Ys, lr, 3000, record=[0, 3000], metrics=("invariance",))
    deviation = np.concatenate([1 - r.history.metrics["invariance"][-1].min(axis=1) for r in runs])
    assert deviation.min() > MOVED
    assert np.quantile(deviation, 0.01) > 1e-4


@pytest.mark.parametrize(("depth", "lr"), [(3, 0.005), (8, 0.005), (8, 0.05)])
def test_every_family_turns_its_bases(depth, lr):
    """theorem-1-only-if at k = n = 2, 2,000 steps: the share of the update that turns the start's bases
    exceeds 1e-6 at every draw and 1e-3 at 99% of them, for Figure 1a's start and the three other families
    (singular values on [0, 1), random outer bases, small singular values on [0.1, 0.5)), also where the deep,
    small starts hardly move (their 1 - invariance falls to 1e-10 at depth 8)."""
    rng = np.random.default_rng(10 + depth)
    for low, high, outer in ((0.5, 1.0, "svd"), (0.0, 1.0, "svd"), (0.5, 1.0, "random"), (0.1, 0.5, "svd")):
        Ws, (Xs, Ys) = random_ensemble(2, depth, 64, rng, low, high, outer)
        runs = in_sweeps(Ws, Xs, Ys, lr, 2000, record=[0, 2000])
        share = np.concatenate([invariance.turn_share(r.initial_weights, r.weights) for r in runs])
        assert share.min() > TURNED, (low, high, outer, share.min())
        assert np.quantile(share, 0.01) > 1e-3


@pytest.mark.parametrize(("k", "n", "depth"), [(2, 2, 2), (2, 64, 8), (24, 24, 8)])
def test_generic_sensing_leaves_the_aligned_set(k, n, depth):
    """section-4-2-sensing's contrast: generic measurements, started aligned with X*'s bases, leave it by far
    more than 1e-8 at every draw (3,000 steps, a tenth of the chapter's), and the witness never finds common
    bases for them."""
    rng = np.random.default_rng(k + n)
    problems = [data.matrix_sensing(k, n, aligned=False, rng=rng) for _ in range(96 if k == 2 else 4)]
    Ws = network.stack([aligned.aligned_start(p.V, p.U, [k] * (depth + 1), rng=rng) for p in problems])
    loss = losses.MatrixSensing([p.M for p in problems], [p.y for p in problems])
    res, _ = modes.train_halving(
        Ws, None, None, loss=loss, lr=0.005, steps=3000, record=[0, 3000], metrics=("invariance",)
    )
    assert (1 - res.history.metrics["invariance"][-1].min(axis=1)).min() > MOVED
    assert not any(invariance.common_bases(p.M, p.y, rng=rng)[0] for p in problems)


@pytest.mark.parametrize(("k", "n"), [(2, 2), (24, 24), (24, 64)])
def test_sensing_witness_finds_the_condition(k, n):
    """section-4-2-sensing: one random combination misses the common bases now and then at k = 24 (two of its
    singular values nearly coincide); the best of three (`common_bases`) finds them at every draw, with an
    off-diagonal part below the 1e-10 tolerance (three independent misses: below 1e-5 at these rates)."""
    rng = np.random.default_rng(k * n)
    problems = [data.matrix_sensing(k, n, rng=rng) for _ in range(300)]
    single = np.array([theory.sensing_witness(p.M, p.y, rng=rng)[1] for p in problems])
    assert np.mean(single > 1e-10) < 0.02
    assert all(invariance.common_bases(p.M, p.y, rng=rng)[0] for p in problems)


def test_inversion_redraws_succeed_at_the_largest_width():
    """The chapter redraws X for matrix inversion until cond(X) <= 20 (at most 10,000 draws): at k = 24 a
    draw succeeds with probability p well above 1e-3, so 10,000 draws all fail with probability below 1e-4."""
    rng = np.random.default_rng(24)
    p = np.mean([np.linalg.cond(rng.standard_normal((24, 24))) <= 20 for _ in range(2000)])
    assert (1 - p) ** 10000 < 1e-4


@pytest.mark.parametrize(
    ("k", "n", "depth", "lr"), [(2, 2, 2, 0.05), (2, 64, 8, 0.005), (24, 24, 8, 0.05), (24, 64, 2, 0.005)]
)
def test_rank_one_chains_keep_their_form(k, n, depth, lr):
    """theorem-1-only-if-rank: the data fail the condition, the chain stays rank-one to 1e-13 (a thousandth of
    the criterion) and its loss falls as far as its width-one reduction's, at every draw (5,000 steps)."""
    rng = np.random.default_rng(k + n + depth)
    for _ in range(3 if k == 24 else 8):
        X, Y, q, Ws = boundaries.rank_one_problem(k, n, depth, rng=rng)
        assert not theory.alignment_invariant(X, Y)
        leak = {"leak": lambda W, q=q: fixed_bases.rank_one_leak(W, q)}
        run = boundaries.rank_one_run(Ws, q, X, Y, lr=lr, steps=5000, metrics=leak)
        assert run.history.metrics["leak"].max() < LEAK / 1000
        assert modes.orders(run.history.loss) >= run.budget_orders


@pytest.mark.parametrize(
    ("k", "n", "depth", "lr"), [(2, 2, 3, 0.05), (2, 64, 3, 0.005), (2, 2, 8, 0.005), (24, 64, 8, 0.05)]
)
def test_rank_one_chains_turn_v1_and_keep_ud(k, n, depth, lr):
    """theorem-1-proof-strong-alignment: the rank-one chains of theorem-1-only-if-rank, stacked (300 draws at
    k = 2, where b can lie near an eigenvector of X X^T and the spread of its variances can be small; 8 at
    k = 24), over 2,000 steps (the turn peaks early, while the residual is large: fewer steps can only lower
    the largest turn recorded). Where the row applies (the width-one reduction falls 6 orders), V_1's largest
    turn exceeds 1e-8 at every draw and 1e-5 at 99% of them; its tail near 0 is that of a product of three
    factors that vanish linearly (the angle of b to an eigenvector, the spread of the variances, 1 minus the
    initial product), P(< e) ~ e log^2(1/e). U_d's turn stays at rounding (below 1e-12) at every draw."""
    rng = np.random.default_rng(7 * k + n + depth)
    draws = 300 if k == 2 else 8
    problems = [boundaries.rank_one_problem(k, n, depth, rng=rng) for _ in range(draws)]
    reductions = [boundaries.rank_one_reduction(Ws, q, X, Y, lr=lr) for X, Y, q, Ws in problems]
    Xs, Ys = np.stack([p[0] for p in problems]), np.stack([p[1] for p in problems])
    rates = np.array([r[1] for r in reductions])
    reduced = train(network.stack([r[0] for r in reductions]), Xs, Ys, lr=rates, steps=2000)
    applies = np.array([modes.orders(loss, 0.5) >= 6 for loss in reduced.history.loss.T])
    start = network.stack([p[3] for p in problems])
    watch = {"turns": lambda Ws: boundaries.outer_turns(start, Ws)}
    run, _ = modes.train_halving(start, Xs, Ys, lr=rates, steps=2000, metrics=watch)
    turns = run.history.metrics["turns"].max(axis=0)[applies]  # (draws, 2): V_1, U_d
    assert applies.mean() > 0.5
    assert turns[:, 0].min() > V1_TURNED and np.quantile(turns[:, 0], 0.01) > 1e-5
    assert turns[:, 1].max() < LEAK / 100


@pytest.mark.parametrize(("k", "n"), [(2, 2), (2, 64), (3, 3), (24, 24), (24, 64)])
def test_one_step_slopes_are_one_and_two(k, n):
    """theorem-1-two-layers: the fitted slopes over the chapter's rates (1e-5 to 1e-2, 7 rates) lie within
    0.05 of 2 (two layers, antisymmetric D) and of 1 (the two other cases) at every draw, half the ledger's
    tolerance of 0.1: 300 draws at k <= 3 (where a single pair of singular values decides), 20 at k = 24.
    Evenly spread singular values keep the first-order turn of three layers away from 0, and targets that
    scale D by n keep the second-order turn of two layers above rounding at n = 64."""
    rng = np.random.default_rng(k * n)
    rates = np.geomspace(1e-5, 1e-2, 7)
    expected = dict(zip(boundaries.CASES, (2.0, 1.0, 1.0)))
    for _ in range(300 if k <= 3 else 20):
        _, slopes, holds = boundaries.one_step_turns(k, n, rates, rng=rng)
        assert not holds
        for case, slope in slopes.items():
            assert abs(slope - expected[case]) < 0.05, (case, slope)
