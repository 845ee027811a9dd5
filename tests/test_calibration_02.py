"""Chapter 02's criteria, simulated at the edges of its stated ranges: n in [4, 400], dim in [2, 10], depth in
[2, 8], width in [2, 64], lr in [0.1, 4], at the default 50,000 steps or fewer.

A run of 50,000 steps costs seconds, so the failure rates are held where they can be simulated cheaply, and
the rest is an argument with these tests as its steps (the ledger's calibration says which):

- what must hold at every step is held at hundreds of draws over the corners of the ranges (norms grow at a
  step from separated data; the part of a layer outside its top singular direction is bounded by the
  imbalance that gradient flow conserves; the smoothed margin bounds the corollary's margin and rises along
  small steps);
- the rates of a 1-layer network, the slowest case of the risk's rate and the one of Soudry et al.'s law, are
  simulated at hundreds of draws (stacked) at the corners of n, dim and lr, with a tenth of the steps;
- every criterion is held, where its hypotheses hold, on full runs at corners of all five parameters with a
  tenth of the steps, and Appendix F's start at the corners with the chapter's steps.

A tenth of the steps is the harder test: the rates and trends approach their limits as the steps grow.
Thresholds are read from the ledger, so the tests hold the ledger's criteria, not copies of them.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from deeplinear import asymptotics, data, directions, schedules, separable, train
from deeplinear_book import ledger

ROOT = Path(__file__).resolve().parents[1]
ELL0 = math.log(2.0)
CORNERS = list(itertools.product((4, 400), (2, 10), (2, 8), (2, 64), (0.1, 4.0)))  # n, dim, depth, width, lr


def criterion(claim_id: str, value: str) -> ledger.Check:
    """The ledger's check of ``value`` in the row ``claim_id``."""
    rows = {c.id: c for c in ledger.load(ROOT / "book" / "ledger.toml").claims}
    return next(c for c in rows[claim_id].checks if c.value == value)


def problem(n: int, dim: int, rng: np.random.Generator):
    """The chapter's data: separable with margin 0.5, scaled to max_i ||x_i|| = 1; u-bar, gamma, Assumption 2.7."""
    X, Y = data.separable(n, dim, margin=0.5, rng=rng)
    X = X / np.linalg.norm(X, axis=0).max()
    u, gamma = separable.max_margin(X, Y)
    spans = np.linalg.matrix_rank(X[:, separable.support_vectors(X, Y, u, gamma)]) == dim
    return X, Y, u, gamma, spans


def product(layers) -> np.ndarray:
    P = layers[0]
    for W in layers[1:]:
        P = W @ P
    return P


def logistic_gradients(Ws, X, Y) -> list[np.ndarray]:
    """dR/dW_k = (W_L ... W_{k+1})^T g (W_{k-1} ... W_1)^T, g = dR/dW_prod: written out, not the library's."""
    n, k0 = X.shape[1], X.shape[0]
    margins = (Y * (product(Ws) @ X)).ravel()
    g = (-(Y.ravel() * expit(-margins)) @ X.T / n)[None, :]
    grads = []
    for k in range(len(Ws)):
        left = product(Ws[k + 1 :]) if k + 1 < len(Ws) else np.ones((1, 1))
        right = product(Ws[:k]) if k else np.eye(k0)
        grads.append(left.T @ g @ right.T)
    return grads


def separating_network(widths, u, rng, *, size):
    """Nearly rank-one aligned layers along u, each of scale ``size ** (1 / L)``, plus Gaussian noise: W_prod
    near ``size`` u (margins up to about ``size``, so the risk stays far above float64 underflow)."""
    scale = size ** (1 / (len(widths) - 1))
    dirs = [u] + [v / np.linalg.norm(v) for v in (rng.standard_normal(k) for k in widths[1:-1])] + [np.ones(1)]
    noise = rng.uniform(0.0, 0.5)
    return [
        scale * np.outer(dirs[i + 1], dirs[i]) + noise * rng.standard_normal((b, a)) / np.sqrt(a)
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))
    ]


@pytest.mark.parametrize(("n", "dim", "depth", "width", "lr"), CORNERS)
def test_every_norm_grows_at_a_step_from_separated_data(n, dim, depth, width, lr):
    """jt-norm-growth: a step from a network that separates the data makes every ||W_k||_F larger, since
    <W_k, dR/dW_k> = <W_prod, dR/dW_prod> = (1/n) sum_j l'(m_j) m_j < 0 when every margin m_j > 0; so the
    criterion fails only where the run loses the separation or its risk underflows (the gradient is then 0),
    which its hypotheses rule out. 12 networks per corner, margins up to 30."""
    rng = np.random.default_rng(abs(hash((n, dim, depth, width, lr))) % 2**32)
    X, Y, u, gamma, _ = problem(n, dim, rng)
    widths = [dim] + [width] * (depth - 1) + [1]
    checked = 0
    for _ in range(12):
        Ws = separating_network(widths, u, rng, size=rng.uniform(0.01, 30.0) / gamma)
        if np.min(Y * (product(Ws) @ X)) <= 0:
            continue
        margins = (Y * (product(Ws) @ X)).ravel()
        rise = 2 * lr * np.mean(expit(-margins) * margins)  # -2 lr <W_k, dR/dW_k>, the same for every k
        for W, G in zip(Ws, logistic_gradients(Ws, X, Y)):
            change = np.linalg.norm(W - lr * G) ** 2 - np.linalg.norm(W) ** 2
            assert change >= rise - 1e-13 * np.linalg.norm(W) ** 2 and rise > 0
        checked += 1
    assert checked >= 6


@pytest.mark.parametrize(("dim", "depth", "width"), list(itertools.product((2, 10), (2, 8), (2, 64))))
def test_the_rest_of_each_layer_is_bounded_by_the_conserved_imbalance(dim, depth, width):
    """jt-rank-one: Ji and Telgarsky's bound, ||W_k||_F^2 - ||W_k||_2^2 <= sum_{j >= k} ||C_j||_* with
    C_j = W_{j+1}^T W_{j+1} - W_j W_j^T (W_L a row), at 40 random networks per corner, any scale; gradient
    flow conserves every C_j, so the rest stays bounded while ||W_k||_F grows, which the criterion tests.
    `directions.rank_one_tail` is compared with the eigenvalues of W W^T."""
    rng = np.random.default_rng(dim * 100 + depth * 10 + width)
    widths = [dim] + [width] * (depth - 1) + [1]
    for _ in range(40):
        Ws = separable.gaussian_layers(widths, scale=rng.uniform(0.05, 3.0), rng=rng)
        nuclear = [np.abs(np.linalg.eigvalsh(B.T @ B - A @ A.T)).sum() for A, B in zip(Ws[:-1], Ws[1:])] + [0.0]
        bound = np.cumsum(nuclear[::-1])[::-1]
        for W, D in zip(Ws, bound):
            rest = directions.rank_one_tail(W)
            top = np.linalg.eigvalsh(W @ W.T)[-1]
            assert rest == pytest.approx(np.linalg.norm(W) ** 2 - top, abs=1e-12 * np.linalg.norm(W) ** 2)
            assert rest <= D + 1e-12 * (1 + D)


@pytest.mark.parametrize(("n", "dim", "depth", "width"), list(itertools.product((4, 400), (2, 10), (2, 8), (2, 64))))
def test_the_smoothed_margin_bounds_the_corollary_and_rises_along_small_steps(n, dim, depth, width):
    """jt-margin-corollary: Lyu and Li's smoothed margin is at most the corollary's margin over gamma at every
    separated network, and rises at every one of 20 small steps (gradient flow: never decreases once
    n R < l(0)); 6 networks per corner. The chapter's runs take larger steps; over their last decade it rose
    at every draw of the survey the ledger cites."""
    rng = np.random.default_rng(n + dim + depth * width)
    X, Y, u, gamma, _ = problem(n, dim, rng)
    widths = [dim] + [width] * (depth - 1) + [1]
    risk = lambda Ws: float(np.mean(np.logaddexp(0.0, -(Y * (product(Ws) @ X)))))  # noqa: E731
    for _ in range(6):
        Ws = separating_network(widths, u, rng, size=rng.uniform(math.log(n) + 2, 30.0) / gamma)
        if not n * risk(Ws) < ELL0:
            continue
        norms = [np.linalg.norm(W) for W in Ws]
        smooth = directions.smoothed_margin(risk(Ws), norms, n=n, gamma=gamma)
        ratio = np.min(Y * (product(Ws) @ X)) / (gamma * np.prod(norms))
        assert smooth <= ratio + 1e-12
        lr = 0.01 / (depth * max(norms) ** (2 * depth - 2))
        for _ in range(20):
            Ws = [W - lr * G for W, G in zip(Ws, logistic_gradients(Ws, X, Y))]
            new = directions.smoothed_margin(risk(Ws), [np.linalg.norm(W) for W in Ws], n=n, gamma=gamma)
            assert new >= smooth - 1e-12 * abs(smooth)
            smooth = new


@pytest.mark.parametrize(("n", "dim", "lr"), list(itertools.product((4, 400), (2, 10), (0.1, 4.0))))
def test_a_linear_predictor_keeps_the_rates_at_the_range_edges(n, dim, lr):
    """jt-risk and soudry-fixed-step-rate (and jt-max-margin's 1-layer check) for the 1-layer network: 40
    draws per corner of n, dim and lr (24 at n = 400; 256 in all), from the chapter's start, to a flow time
    lr t of 20,000 at lr = 4 (a tenth of the chapter's) and 2,000 at lr = 0.1 (its window then starts at 200,
    the chapter's at 500); over the last decade 1/R grows at least half as fast as gamma^2 lr t, W_prod grows
    along u-bar at least half as fast as log(t)/gamma, and its orthogonal part at most half as fast, at every
    draw inside the hypotheses (support vectors spanning, past the saddle), computed here from the weights,
    not by the library."""
    rate, parallel, perp = (
        criterion("jt-risk", "jt_risk_rate"),
        criterion("soudry-fixed-step-rate", "jt_parallel_rate_linear"),
        criterion("soudry-fixed-step-rate", "jt_perpendicular_ratio_linear"),
    )
    draws = 40 if n < 100 else 24
    steps = 5000 if lr > 1 else 20000  # the window starts at a flow time lr t of 200 or 2000
    rng = np.random.default_rng(int(n * dim * 10 * lr))
    problems = [problem(n, dim, rng) for _ in range(draws)]
    X = np.stack([p[0] for p in problems])
    Y = np.stack([p[1] for p in problems])
    w0 = np.stack([separable.gaussian_start([dim, 1], p[0], p[1], rng=rng)[0] for p in problems])
    late = train([w0], X, Y, lr=lr, steps=steps // 10, loss="logistic", record=[0]).weights[0]
    end = train([late], X, Y, lr=lr, steps=steps - steps // 10, loss="logistic", record=[0]).weights[0]
    inside = failures = 0
    for (Xs, Ys, u, gamma, spans), a, b in zip(problems, late, end):
        risk = [float(np.mean(np.logaddexp(0.0, -(Ys * (w @ Xs))))) for w in (a, b)]
        if not (spans and np.min(Ys * (a @ Xs)) > 0 and risk[0] <= ELL0 / 2):
            continue
        inside += 1
        along = float((b - a).ravel() @ u)
        across = [np.linalg.norm(w.ravel() - (w.ravel() @ u) * u) for w in (a, b)]
        values = {
            rate.value: (1 / risk[1] - 1 / risk[0]) / (gamma**2 * lr * (steps - steps // 10)),
            parallel.value: gamma * along / math.log(10),
            perp.value: (across[1] - across[0]) / along,
        }
        failures += not all(c.holds(values) for c in (rate, parallel, perp))
    assert inside >= (0 if n < dim else draws // 2)  # 4 points cannot span R^10: outside Assumption 2.7
    assert failures <= 0.01 * inside


# corners of all five parameters where a tenth of the steps reaches the late phase, and two where it does not
RUNS = [
    (4, 2, 2, 2, 4.0, 1),
    (4, 10, 2, 64, 4.0, 2),
    (400, 2, 2, 64, 0.1, 3),
    (400, 10, 2, 2, 4.0, 4),
    (40, 2, 4, 10, 1.0, 7),
    (400, 10, 4, 64, 4.0, 5),
    (4, 2, 8, 64, 4.0, 6),
    (400, 2, 8, 2, 0.1, 8),
]


def late_values(prefix: str, stats: dict) -> dict:
    """The chapter's glued values of a run at the theorem's steps or with the exponential loss (`trend_values`;
    nan for what the run cannot measure, as the chapter records it)."""
    return {f"{prefix}_{key}": value for key, value in asymptotics.trend_values(stats, unmeasured=np.nan).items()}


@pytest.mark.parametrize(("n", "dim", "depth", "width", "lr", "seed"), RUNS)
def test_every_criterion_holds_on_runs_at_the_corners_inside_its_hypotheses(n, dim, depth, width, lr, seed):
    """Every claim of the chapter on full runs (the library's pipeline, as the chapter calls it) with a tenth of
    the default steps: the fixed-step runs of both networks, the run at Assumption 3.5's steps and the run with the
    exponential loss. Where a row's hypotheses hold, its checks hold; where they fail, the run is one that the
    hypotheses describe (not past the saddle, not moving, or diverged)."""
    steps = 5000
    rng = np.random.default_rng(seed)
    X, Y, u, gamma, spans = problem(n, dim, rng)
    widths = [dim] + [width] * (depth - 1) + [1]
    record = np.unique(np.r_[0, np.rint(np.geomspace(1, steps, 60)).astype(int), steps // 10])
    kw = dict(steps=steps, loss=separable.OnData(X, Y), metrics=separable.measurements(X, Y), record=record)
    at = dict(n=n, lr=lr, start=steps // 10)
    values = {"jt_assumption_27": bool(spans), "jt_progress_min": 5}
    for net, w in (("deep", widths), ("linear", [dim, 1])):
        Ws0 = separable.gaussian_start(w, X, Y, scale=0.2, rng=rng)
        values["jt_init_condition"] = values.get("jt_init_condition", True) and bool(
            np.mean(np.logaddexp(0.0, -(Y * (product(Ws0) @ X)))) < ELL0
        )
        result = separable.train_until_divergence(Ws0, None, None, lr=lr, **kw)
        h = result.history
        late = asymptotics.late_phase(h, u, gamma, diverged_at=result.diverged_at, unmeasured=np.nan, **at)
        values |= {f"jt_stable_{net}": late["stable"], f"jt_late_escaped_{net}": late["escaped"]}
        values |= {f"jt_late_progress_{net}": late["progress"], f"jt_parallel_rate_{net}": late["parallel_rate"]}
        values |= {f"jt_perpendicular_ratio_{net}": late["perpendicular_ratio"]}
        if net == "deep":
            m, deep0 = h.metrics, Ws0
            ratio = 1 - m["layer_gap"] / gamma
            values |= {
                "jt_risk_rate": late["risk_rate"],
                "jt_norm_growth_late": late["norm_growth"] - 1,
                "jt_product_norm_growth_late": late["product_norm_growth"] - 1,
                "jt_rank_one_tail_growth": late["tail_growth"],
                "jt_rank_one_ratio_min": m["rank_one"][-1].min(),
                "jt_rank_one_ratio_min_initial": m["rank_one"][0].min(),
                "jt_alignment_defect_ratio": late["alignment_defect_ratio"],
                "jt_alignment_min": m["alignment"][-1].min(),
                "jt_alignment_min_initial": m["alignment"][0].min(),
                "jt_product_v1_defect_ratio": late["product_v1_defect_ratio"],
                "jt_product_v1_deep": m["product_v1"][-1],
                "jt_product_v1_initial": m["product_v1"][0],
                "jt_v1_perpendicular_ratio": late["first_layer_perpendicular_ratio"],
                "jt_normalised_defect_ratio": late["normalised_defect_ratio"],
                "jt_smoothed_margin_rise": late["smoothed_margin_rise"],
                "jt_layer_margin_ratio": ratio[-1],
                "jt_layer_margin_ratio_initial": ratio[0],
                "jt_layer_gap_deep": m["layer_gap"][-1],
                "jt_margin_gap": m["gap"][-1],
            }
    two0 = separable.below_loss_at_zero([deep0[0], deep0[-1]], X, Y)  # the chapter's 2-layer network
    theorem, flow = schedules.assumption_35_descent(two0, None, None, **kw)
    late = asymptotics.late_phase(theorem.history, u, gamma, flow=flow, unmeasured=np.nan, **at)
    values |= late_values("jt_theorem", late) | {"jt_theorem_init_condition": bool(theorem.history.loss[0] < ELL0)}
    values["jt_theorem_lr_ratio"] = lr / schedules.assumption_35_step(deep0)
    Ws0 = separable.below_loss_at_zero(deep0, X, Y, "exponential")
    result = separable.train_until_divergence(
        Ws0, None, None, lr=lr, **(kw | {"loss": separable.OnData(X, Y, "exponential")})
    )
    late = asymptotics.late_phase(
        result.history, u, gamma, loss="exponential", diverged_at=result.diverged_at, unmeasured=np.nan, **at
    )
    values |= late_values("jt_exponential", late)
    values["jt_init_condition_exponential"] = bool(result.history.loss[0] < 1.0)
    rows = ledger.load(ROOT / "book" / "ledger.toml").for_chapter("02-one-dimensional-outputs")
    applicable = 0
    for row in rows:
        if not all(c.value in values for c in (*row.checks, *row.hypotheses)):
            continue  # Appendix F: its own test
        if all(h.holds(values) for h in row.hypotheses):
            applicable += 1
            failed = [f"{c.value} = {values[c.value]}" for c in row.checks if not c.holds(values)]
            assert not failed, (row.id, failed)
    assert applicable >= (0 if depth == 8 else 8)


@pytest.mark.parametrize(("n", "dim", "width"), list(itertools.product((4, 400), (2, 10), (2, 64))))
def test_the_theorem_steps_meet_the_criteria_where_they_leave_the_saddle(n, dim, width):
    """jt-gd-theorem and jt-gd-max-margin: gradient descent at Assumption 3.5's steps from a start distributed as the
    chapter's 2-layer network (the first and last layers of its deep start; deeper, the steps keep the start at the
    saddle for the whole budget), with the default steps (at width
    64 the start's larger norm makes the steps too small to leave the saddle within a tenth of them), two draws per
    corner of n, dim and width: where the run has left the saddle and moves, every check of both rows holds (the
    max-margin row where the support vectors span), and it leaves the saddle at most draws. The risk falls at
    every step."""
    steps, checked = 50_000, 0
    rows = {r.id: r for r in ledger.load(ROOT / "book" / "ledger.toml").claims}
    for seed in range(2):
        rng = np.random.default_rng(1000 * seed + n + dim + width)
        X, Y, u, gamma, spans = problem(n, dim, rng)
        Ws0 = separable.gaussian_start([dim, width, 1], X, Y, scale=0.2, rng=rng)
        record = np.unique(np.r_[0, np.rint(np.geomspace(1, steps, 60)).astype(int), steps // 10])
        kw = dict(steps=steps, loss=separable.OnData(X, Y), metrics=separable.measurements(X, Y), record=record)
        theorem, flow = schedules.assumption_35_descent(Ws0, None, None, **kw)
        late = asymptotics.late_phase(
            theorem.history, u, gamma, n=n, lr=1.0, start=steps // 10, flow=flow, unmeasured=np.nan
        )
        values = late_values("jt_theorem", late) | {"jt_theorem_init_condition": True}
        values |= {"jt_init_condition": True, "jt_assumption_27": bool(spans), "jt_progress_min": 5}
        assert np.all(np.diff(theorem.history.loss) <= 1e-15)  # the steps lower the risk at every step
        for row in (rows["jt-gd-theorem"], rows["jt-gd-max-margin"]):
            if all(h.holds(values) for h in row.hypotheses):
                checked += 1
                failed = [f"{c.value} = {values[c.value]}" for c in row.checks if not c.holds(values)]
                assert not failed, (row.id, failed)
    assert checked >= 2


@pytest.mark.parametrize(("n", "dim", "depth", "width"), list(itertools.product((4, 400), (2, 10), (2, 8), (2, 64))))
def test_the_theorem_step_is_below_the_smallest_lr(n, dim, depth, width):
    """jt-assumption-35-steps: Assumption 3.5's step at the chapter's start, 1/(2 L^2 R^(2L-2) (1/4 + 1)) with
    R = 1 + max_k ||W_k||_F > 1, is below 1/(8 * 1.25) = 0.1, the smallest lr of the range, at every draw (20 per
    corner), so the fixed step is at least the theorem's and the glued ratio at least 1."""
    rng = np.random.default_rng(n * dim + depth * width)
    X, Y, _, _, _ = problem(n, dim, rng)
    check = next(c for c in ledger.load(ROOT / "book" / "ledger.toml").findings if c.id == "jt-assumption-35-steps")
    for _ in range(20):
        Ws0 = separable.gaussian_start([dim] + [width] * (depth - 1) + [1], X, Y, scale=0.2, rng=rng)
        eta0 = schedules.assumption_35_step(Ws0)
        R = 1 + max(np.linalg.norm(W) for W in Ws0)
        assert eta0 == pytest.approx(1 / (2 * depth**2 * R ** (2 * depth - 2) * 1.25), rel=1e-12) and eta0 < 0.1
        assert all(c.holds({"jt_theorem_lr_ratio": float(f"{0.1 / eta0:.2g}")}) for c in check.checks)


@pytest.mark.parametrize(("n", "dim", "depth", "width"), [(4, 10, 8, 64), (400, 2, 8, 2), (400, 10, 2, 64)])
def test_appendix_f_start_stays_aligned_to_rounding_at_the_corners(n, dim, depth, width):
    """appendix-f-one-dimensional: from the rank-one start, both losses, the chapter's 5,000 steps at its step
    0.1; the worst alignment stays within 1e-12 of 1, four orders below the criterion's 1e-8 (rounding errors
    off the rank-one set do not grow: each step's gradient is rank one along the current layers)."""
    check = criterion("appendix-f-one-dimensional", "appF_alignment_min")
    rng = np.random.default_rng(n + dim + depth + width)
    X, Y, _, _, _ = problem(n, dim, rng)
    widths = [dim] + [width] * (depth - 1) + [1]
    Ws0 = separable.rank_one_start(widths, rng=rng)
    target = (rng.standard_normal(dim) @ X)[None, :]
    worst = 1.0
    for setup in ((X, target, "squared"), (None, None, separable.OnData(X, Y))):
        Ws = Ws0 if setup[2] == "squared" else separable.below_loss_at_zero(Ws0, X, Y)
        h = train(
            Ws, setup[0], setup[1], lr=0.1, steps=5000, loss=setup[2], record=50, metrics=["top_alignment"]
        ).history
        worst = min(worst, float(h.metrics["top_alignment"].min()))
    assert 1 - worst <= 1e-12 and check.holds({check.value: worst})
