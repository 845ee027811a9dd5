"""Tests for deeplinear.dynamics against independent references: the planted construction, finite
differences, full gradient descent (`deeplinear.train`), closed forms for one layer, a numerical Hessian
and scipy's ODE solver. The chapter-04 figures in deeplinear.plotting are checked at the end."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from deeplinear import (
    TrainingDiverged,
    aligned,
    convergence,
    dynamics,
    network,
    plotting,
    proposition1,
    sequential,
    theory,
    train,
)


def planted(k=4, n=6, d=2, seed=0):
    rng = np.random.default_rng(seed)
    v, s = rng.uniform(0.5, 2.0, k), rng.uniform(0.5, 2.0, k)
    X, Y, U0, V0 = dynamics.planted_problem(k, n, v, s, rng=rng)
    U, V = theory.alignment_invariant_witness(X, Y)
    lam, lam_prime = dynamics.lambdas(X, Y, U, V)
    sigma0 = rng.uniform(0.3, 0.6, (d, k))
    bases = [V] + [aligned.random_orthogonal(k, rng=rng) for _ in range(d - 1)] + [U]
    return dict(X=X, Y=Y, U0=U0, V0=V0, v=v, s=s, U=U, V=V, lam=lam, lam_prime=lam_prime, sigma0=sigma0, bases=bases)


def numerical_gradient(f, Ws, h=1e-6):
    grads = []
    for i, W in enumerate(Ws):
        G = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            up = [M.copy() for M in Ws]
            down = [M.copy() for M in Ws]
            up[i][idx] += h
            down[i][idx] -= h
            G[idx] = (f(up) - f(down)) / (2 * h)
        grads.append(G)
    return grads


# ---------------------------------------------------------------- the planted problem


def test_planted_problem_has_the_constructed_spectra():
    p = planted(k=5, n=8)
    X, Y, U0, V0, v, s, n = p["X"], p["Y"], p["U0"], p["V0"], p["v"], p["s"], 8
    # with the generator's bases, the two matrices of Theorem 1 are the constructed diagonals
    assert np.allclose(V0.T @ X @ X.T @ V0, np.diag(n * v), atol=1e-12)
    assert np.allclose(U0.T @ Y @ X.T @ V0, np.diag(n * v * s), atol=1e-12)
    assert theory.alignment_invariant(X, Y)
    # the witness recovers them up to order (by decreasing ||Y X^T v_j|| = n v_j s_j)
    order = np.argsort(-(v * s))
    assert np.allclose(p["lam"], n * v[order], rtol=1e-10)
    assert np.allclose(p["lam_prime"], n * (v * s)[order], rtol=1e-10)
    assert np.allclose(p["lam_prime"] / p["lam"], s[order], rtol=1e-10)


def test_planted_problem_draws_in_the_documented_order():
    rng, ref = np.random.default_rng(3), np.random.default_rng(3)
    X, Y, U, V = dynamics.planted_problem(3, 5, np.ones(3), np.full(3, 2.0), rng=rng)
    V_ref, U_ref = aligned.random_orthogonal(3, rng=ref), aligned.random_orthogonal(3, rng=ref)
    R = aligned.random_orthogonal(5, rng=ref)[:, :3]
    assert np.array_equal(V, V_ref) and np.array_equal(U, U_ref)
    assert np.allclose(X, np.sqrt(5) * V_ref @ R.T) and np.allclose(X @ X.T, 5 * np.eye(3))
    assert np.allclose(Y, 2 * U_ref @ V_ref.T @ X)


def test_lambdas_rectangular_takes_the_first_r_entries():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((4, 7)), rng.standard_normal((2, 7))
    U, V = aligned.random_orthogonal(2, rng=rng), aligned.random_orthogonal(4, rng=rng)
    lam, lam_prime = dynamics.lambdas(X, Y, U, V)
    assert lam.shape == lam_prime.shape == (2,)
    assert np.allclose(lam, [V[:, j] @ X @ X.T @ V[:, j] for j in range(2)])
    assert np.allclose(lam_prime, [U[:, j] @ Y @ X.T @ V[:, j] for j in range(2)])


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: dynamics.planted_problem(4, 3, np.ones(4), np.ones(4), rng=np.random.default_rng(0)),
            "n must be at least",
        ),
        (lambda: dynamics.planted_problem(3, 3, np.ones(2), np.ones(3), rng=np.random.default_rng(0)), "variances"),
        (lambda: dynamics.planted_problem(3, 3, -np.ones(3), np.ones(3), rng=np.random.default_rng(0)), "non-negative"),
        (lambda: dynamics.lambdas(np.ones((2, 3)), np.ones((2, 4)), np.eye(2), np.eye(2)), "columns"),
        (lambda: dynamics.lambdas(np.ones((2, 3)), np.ones((2, 3)), np.eye(3), np.eye(2)), "V must be"),
    ],
)
def test_problem_rejects_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- Corollary 1


def test_equation_5_is_the_gradient_even_off_the_aligned_set():
    p = planted(k=3, n=5, d=3)
    X, Y, bases = p["X"], p["Y"], p["bases"]
    rng = np.random.default_rng(7)
    Ws = [rng.standard_normal((3, 3)) for _ in range(3)]  # not aligned: the formula is exact anyway
    eq5 = dynamics.equation_5(Ws, bases, X, Y)
    numeric = numerical_gradient(lambda W: float(network.loss(W, X, Y)), Ws)
    for g, h in zip(eq5, numeric):
        assert np.allclose(g, h, atol=1e-7)


def test_equation_5_error_is_rounding_and_reads_a_wrong_formula_as_its_relative_error(monkeypatch):
    p = planted(k=3, n=5, d=3)
    Ws = aligned.aligned_network(p["bases"], list(p["sigma0"]))
    assert dynamics.equation_5_error(Ws, p["bases"], p["X"], p["Y"]) < 1e-14
    # a formula off by a factor 1 + delta on one layer: its error is delta |G_1|max / max_i |G_i|max
    G = network.gradients(Ws, p["X"], p["Y"])
    true = dynamics.equation_5
    delta = 0.3
    monkeypatch.setattr(
        dynamics, "equation_5", lambda *a: [(1 + delta) * g if i == 1 else g for i, g in enumerate(true(*a))]
    )
    expected = delta * np.abs(G[1]).max() / max(np.abs(g).max() for g in G)
    assert dynamics.equation_5_error(Ws, p["bases"], p["X"], p["Y"]) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="gradient is zero"):
        dynamics.equation_5_error([np.zeros((3, 3))] * 3, p["bases"], p["X"], p["Y"])


def test_diagonal_blocks_and_off_diagonal_of_an_aligned_network():
    p = planted(k=4, d=3)
    Ws = aligned.aligned_network(p["bases"], list(p["sigma0"]))
    assert np.allclose(dynamics.diagonal_blocks(Ws, p["bases"]), p["sigma0"], atol=1e-14)
    assert dynamics.off_diagonal(Ws, p["bases"]) < 1e-14
    # one known off-diagonal entry in layer 2
    E = np.zeros((4, 4))
    E[1, 3] = -0.25
    Ws[1] = Ws[1] + p["bases"][2] @ E @ p["bases"][1].T
    assert dynamics.off_diagonal(Ws, p["bases"]) == pytest.approx(0.25, abs=1e-14)
    metrics = dynamics.basis_metrics(p["bases"])
    assert set(metrics) == {"sigma", "off"}
    assert metrics["off"](Ws) == dynamics.off_diagonal(Ws, p["bases"])
    with pytest.raises(ValueError, match="bases must hold"):
        dynamics.diagonal_blocks(Ws, p["bases"][:-1])


def test_printed_equation_6_has_the_extra_factor():
    rng = np.random.default_rng(2)
    s0, lam, lam_prime = rng.uniform(0.2, 1.0, (3, 4)), rng.uniform(1, 2, 4), rng.uniform(1, 2, 4)
    corrected = dynamics.singular_value_dynamics(s0, lam, lam_prime, lr=0.1, steps=1, n=3)[1] - s0
    printed = dynamics.printed_equation_6(s0, lam, lam_prime, lr=0.1, steps=1, n=3)[1] - s0
    assert np.allclose(printed, s0 * corrected, rtol=1e-12)  # the printed product includes sigma_i itself
    # one layer by hand: sigma + (lr/n) sigma (lam' - sigma lam)
    one = dynamics.printed_equation_6(s0[:1], lam, lam_prime, lr=0.1, steps=1, n=3)[1, 0]
    assert np.allclose(one, s0[0] + 0.1 / 3 * s0[0] * (lam_prime - s0[0] * lam))


def test_corollary1_tolerance_is_rounding_per_step_plus_second_order_misalignment():
    traj = np.zeros((101, 3, 4))
    traj[:, 1, 2] = np.linspace(0.5, 1.5, 101)
    eps = np.finfo(float).eps
    assert dynamics.corollary1_tolerance(traj, 0.0) == pytest.approx(100 * 1.5 * eps, rel=1e-12)
    assert dynamics.corollary1_tolerance(traj, 1e-3) == pytest.approx(100 * 1.5 * eps + 12e-6, rel=1e-12)
    with pytest.raises(ValueError, match="traj"):
        dynamics.corollary1_tolerance(traj[0], 0.0)
    with pytest.raises(ValueError, match="off"):
        dynamics.corollary1_tolerance(traj, -1.0)


def test_full_gradient_descent_stays_within_the_tolerance_and_a_misaligned_start_does_not():
    # a misalignment enters the diagonal at second order: kicked by 1e-3, the full run's singular values
    # leave the recursion by far more than rounding but within d r off^2
    p = planted(k=4, n=6, d=3, seed=5)
    Ws = aligned.aligned_network(p["bases"], list(p["sigma0"]))
    lr, steps = 0.02, 300
    reduced = dynamics.singular_value_dynamics(p["sigma0"], p["lam"], p["lam_prime"], lr=lr, steps=steps, n=6)
    for start, inside in (
        (Ws, True),
        (proposition1.misaligned(Ws, p["bases"], 1e-3, rng=np.random.default_rng(0)), False),
    ):
        full = train(start, p["X"], p["Y"], lr=lr, steps=steps, record=1, metrics=dynamics.basis_metrics(p["bases"]))
        sigma, off = full.history.metrics["sigma"], full.history.metrics["off"].max()
        deviation = np.abs(sigma - reduced).max()
        assert deviation <= dynamics.corollary1_tolerance(sigma, off)
        assert bool(deviation <= dynamics.corollary1_tolerance(sigma, 0.0)) is inside


def test_reduced_run_is_full_gradient_descent_on_an_aligned_start():
    p = planted(k=4, n=6, d=3)
    lr, n = 0.02, 6
    Ws = aligned.aligned_network(p["bases"], list(p["sigma0"]))
    losses, end = convergence.reduced_run(
        p["sigma0"], p["lam"], p["lam_prime"], lr=lr, n=n, max_steps=250, tol=1e-30, chunk=37
    )
    assert len(losses) == 251
    full = train(Ws, p["X"], p["Y"], lr=lr, steps=250, record=1)
    assert np.allclose(losses, full.history.loss, rtol=1e-8, atol=1e-14)
    assert np.allclose(end, dynamics.diagonal_blocks(full.weights, p["bases"]), atol=1e-10)


def test_reduced_run_stops_below_tol_and_on_divergence():
    p = planted(k=3, n=4, d=2)
    args = (p["sigma0"], p["lam"], p["lam_prime"])
    losses, _ = convergence.reduced_run(*args, lr=0.05, n=4, tol=1e-6, chunk=10)
    # checked at the end of each chunk: the first chunk that ends below tol is the last
    assert (len(losses) - 1) % 10 == 0 and losses[-1] < 1e-6 * losses[0] <= losses[-11]
    with pytest.raises(TrainingDiverged, match="the recursion \\(6\\) diverged at step") as err:
        convergence.reduced_run(*args, lr=50.0, n=4, max_steps=1000, chunk=10)
    blown = err.value
    assert 0 < blown.step < 1000 and blown.lr == 50.0 and not (blown.loss <= 1e8 * losses[0])
    # the losses before the divergence, all finite and at most 1e8 times the start
    assert len(blown.history.loss) == blown.step and np.all(blown.history.loss <= 1e8 * losses[0])
    np.testing.assert_array_equal(blown.history.steps, np.arange(blown.step))
    # the criterion sees its run diverge, and says so by False
    assert convergence.reduced_converges(*args, 4, 50.0, flow_time=10.0) is False
    assert len(losses) - 11 < convergence.steps_to(losses, 1e-6) <= len(losses) - 1
    assert convergence.steps_to(losses, 1e-30) is None


def test_linear_fit_recovers_an_exponential():
    t = np.arange(3000)
    fit = convergence.linear_fit(5.0 * np.exp(-0.01 * t))
    assert fit.rate == pytest.approx(0.01, rel=1e-9)
    assert fit.intercept == pytest.approx(np.log(5.0), rel=1e-9)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)
    assert fit.window.min() == np.ceil(np.log(1e3) / 0.01) and fit.window.max() == np.floor(np.log(1e12) / 0.01)
    with pytest.raises(ValueError, match=r"losses must lie between low = 1e-12 and high = 0.001 .* 0 do"):
        convergence.linear_fit(np.ones(20))  # never falls into the window
    with pytest.raises(ValueError, match="9 do"):
        convergence.linear_fit(np.exp(-2.5 * np.arange(30.0)))  # falls through it in 9 steps: too few for a line


def test_decay_rate_is_the_slope_between_two_crossings():
    t = np.arange(3000)
    assert convergence.decay_rate(5.0 * np.exp(-0.01 * t)) == pytest.approx(0.01, rel=1e-9)
    # a sum of two exponentials ends at the slower one's rate, from above
    two = np.exp(-0.05 * t) + 1e-3 * np.exp(-0.01 * t)
    assert 0.01 <= convergence.decay_rate(two, high=1e-6, low=1e-9) < 0.0101
    with pytest.raises(ValueError, match=r"losses must fall below high = 1e-06 times their start .* end at 1 of it"):
        convergence.decay_rate(np.ones(50))
    with pytest.raises(ValueError, match="below high at step 1 and fall below low at step 1"):
        convergence.decay_rate(np.array([1.0, 1e-13, 1e-14]))  # from above 1e-6 to below 1e-12 in one step
    with pytest.raises(ValueError, match="below high at step 2 and end at step 2"):
        convergence.decay_rate(np.array([1.0, 0.5, 1e-7]))  # below 1e-6 only at the last step
    # never below low: up to the last step
    assert convergence.decay_rate(np.exp(-0.01 * t[:1500])) == pytest.approx(0.01, rel=1e-9)


# ---------------------------------------------------------------- Proposition 1: stability


def test_edges_of_stability_match_a_numerical_hessian():
    rng = np.random.default_rng(4)
    k, n, d = 3, 5, 3
    v = rng.uniform(0.5, 2.0, k)
    X, _, U, V = dynamics.planted_problem(k, n, v, np.ones(k), rng=rng)  # V^T X X^T V = n diag(v)
    lam = n * v
    sigmas = rng.uniform(0.6, 1.4, (d, k))
    bases = [V] + [aligned.random_orthogonal(k, rng=rng) for _ in range(d - 1)] + [U]
    Ws = aligned.aligned_network(bases, list(sigmas))
    Y = network.end_to_end(Ws) @ X  # interpolated exactly: a minimum of zero loss
    shapes, sizes = [W.shape for W in Ws], [W.size for W in Ws]

    def grad(theta):
        parts = np.split(theta, np.cumsum(sizes)[:-1])
        return np.concatenate(
            [g.ravel() for g in network.gradients([q.reshape(s) for q, s in zip(parts, shapes)], X, Y)]
        )

    theta, h = np.concatenate([W.ravel() for W in Ws]), 1e-6
    H = np.stack([(grad(theta + h * e) - grad(theta - h * e)) / (2 * h) for e in np.eye(theta.size)])
    reduced, full = convergence.edges_of_stability(sigmas, lam, n)
    assert full == pytest.approx(2 / np.linalg.eigvalsh((H + H.T) / 2).max(), rel=1e-5)
    # the recursion's Hessian: the loss as a function of the (d, k) singular values
    f = lambda s: convergence.reduced_loss(s.reshape(d, k), lam, lam * np.prod(sigmas, axis=0), n)  # noqa: E731
    x0, Hs = sigmas.ravel(), np.zeros((d * k, d * k))
    for a, ea in enumerate(np.eye(d * k) * 1e-4):
        for b, eb in enumerate(np.eye(d * k) * 1e-4):
            Hs[a, b] = (f(x0 + ea + eb) - f(x0 + ea - eb) - f(x0 - ea + eb) + f(x0 - ea - eb)) / 4e-8
    assert reduced == pytest.approx(2 / np.linalg.eigvalsh(Hs).max(), rel=1e-5)
    assert full <= reduced


def test_asymptotic_rate_is_the_recursions_rate_near_the_minimum():
    rng = np.random.default_rng(6)
    d, k, n, lr = 3, 4, 5, 0.005
    lam = n * rng.uniform(0.5, 2.0, k)
    minimum = rng.uniform(0.8, 1.2, (d, k))
    lam_prime = lam * minimum.prod(axis=0)
    near = minimum * (1 + 1e-4 * rng.standard_normal((d, k)))
    traj = dynamics.singular_value_dynamics(near, lam, lam_prime, lr=lr, steps=400, n=n)
    error = np.abs(traj.prod(axis=1) - lam_prime / lam)  # each mode's error shrinks geometrically
    measured = (-2 * np.log(error[300] / error[200]) / 100).min()
    assert convergence.asymptotic_rate(traj[-1], lam, n, lr) == pytest.approx(measured, rel=1e-3)
    # one layer: the error shrinks by |1 - lr lam / n| a step
    one = convergence.asymptotic_rate(np.array([[1.0, 2.0]]), np.array([3.0, 1.0]), 4, 0.5)
    assert one == pytest.approx(-2 * np.log(1 - 0.5 / 4), rel=1e-12)


def test_stability_edge_along_is_the_smallest_edge_a_run_visits():
    p = planted(k=3, n=4, d=3)
    traj = dynamics.singular_value_dynamics(p["sigma0"], p["lam"], p["lam_prime"], lr=0.05, steps=600, n=4)
    every = min(convergence.edges_of_stability(s, p["lam"], 4)[1] for s in traj)
    along = convergence.stability_edge_along(traj, p["lam"], 4)
    assert every <= along <= 1.01 * every
    assert (
        convergence.stability_edge_along(traj[:1], p["lam"], 4)
        == convergence.edges_of_stability(traj[0], p["lam"], 4)[1]
    )
    blown = traj.copy()
    blown[-1, 0, 0] = np.inf
    assert convergence.stability_edge_along(blown, p["lam"], 4) == 0.0


def test_critical_lr_finds_a_threshold():
    calls = []

    def converges(lr):
        calls.append(lr)
        return lr < 0.37

    found = convergence.critical_lr(converges, 0.01, 0.02, iterations=30)
    assert found < 0.37 and found == pytest.approx(0.37, rel=1e-6)
    assert convergence.critical_lr(lambda lr: lr < 0.37, 5.0, 10.0, iterations=20) == pytest.approx(0.37, rel=1e-4)


def test_reduced_critical_lr_of_one_layer_is_the_closed_form():
    # d = 1: sigma <- sigma + (lr/n)(lam' - sigma lam) is linear and converges iff lr < 2n / max(lam)
    lam, lam_prime, n = np.array([3.0, 1.5]), np.array([3.0, 0.6]), 4
    edge = 2 * n / lam.max()
    s0 = np.array([[0.2, 0.1]])
    assert convergence.edges_of_stability(np.array([[1.0, 0.4]]), lam, n)[0] == pytest.approx(edge)
    found = convergence.reduced_critical_lr(s0, lam, lam_prime, n, flow_time=2000.0, low=0.5, high=4.0)
    assert 0.98 * edge < found < edge
    assert convergence.reduced_converges(s0, lam, lam_prime, n, 0.9 * edge, flow_time=2000.0)
    assert not convergence.reduced_converges(s0, lam, lam_prime, n, 1.05 * edge, flow_time=2000.0)
    assert convergence.trial_steps(0.5, 100.0) == 400


def test_proposition1_by_depth_is_consistent():
    p = planted(k=3, n=5, d=3)
    table = proposition1.proposition1_by_depth(p["sigma0"], p["lam"], p["lam_prime"], 5, [2, 3], iterations=4)
    assert list(table["depth"]) == [2, 3]
    for i, d in enumerate((2, 3)):
        assert table["bound"][i] == proposition1.prop1_learning_rate(p["sigma0"][:d], p["lam"], p["lam_prime"], 5)
    # the bound converges (Proposition 1) and is below the critical rate, itself near the edge over the modes
    assert np.all(table["bound"] < table["critical"])
    assert np.all(np.abs(table["critical"] / table["edge"] - 1) < 0.1)
    assert np.all(table["rate"] > 0) and np.all(table["steps"] > 0)
    with pytest.raises(ValueError, match="depths"):
        proposition1.proposition1_by_depth(p["sigma0"], p["lam"], p["lam_prime"], 5, [2, 4])


def test_misaligned_moves_only_off_diagonal_entries():
    p = planted(k=4, d=2)
    Ws = aligned.aligned_network(p["bases"], list(p["sigma0"]))
    kicked = proposition1.misaligned(Ws, p["bases"], 1e-3, rng=np.random.default_rng(0))
    assert dynamics.off_diagonal(kicked, p["bases"]) == pytest.approx(1e-3, rel=1e-9)
    assert np.allclose(dynamics.diagonal_blocks(kicked, p["bases"]), p["sigma0"], atol=1e-15)
    with pytest.raises(ValueError, match="size"):
        proposition1.misaligned(Ws, p["bases"], 0.0, rng=np.random.default_rng(0))


def test_stability_scan_of_one_layer_fails_above_the_closed_form_edge():
    # d = 1: full gradient descent on W is linear; every entry (a, b) contracts iff lr < 2n / lam_b
    p = planted(k=3, n=4, d=1)
    n, lam = 4, p["lam"]
    Ws = aligned.aligned_network(p["bases"], list(p["sigma0"]))
    kicked = proposition1.misaligned(Ws, p["bases"], 1e-6, rng=np.random.default_rng(1))
    edge = 2 * n / lam.max()
    rates = edge * np.array([0.5, 0.9, 1.02, 1.2])
    scan = proposition1.stability_scan(kicked, p["X"], p["Y"], p["bases"], rates, flow_time=60.0)
    assert scan.kick == pytest.approx(1e-6, rel=1e-9)
    # at half the smallest rate the misalignment decays (d = 1 has no transient growth): the start sets the scale
    assert scan.reference < scan.kick and scan.allowed_from == scan.kick
    assert list(scan.converged) == [True, True, False, False]
    assert scan.found and scan.first_failure == 2 and scan.critical == rates[1]
    assert scan.failures_between(rates[-1] * 1.1) == (2, 2)
    # a run that diverged is marked, and keeps its last record before the divergence (the start's kick): no inf
    assert np.isfinite(scan.off).all() and not scan.reference_diverged and not scan.diverged[:2].any()
    assert scan.diverged[-1] or scan.off[-1] > 10 * scan.kick
    assert np.all(scan.off[scan.diverged] == scan.kick)
    none = proposition1.stability_scan(kicked, p["X"], p["Y"], p["bases"], rates[2:], flow_time=60.0)
    assert not none.found and np.isnan(none.critical) and none.failures_between(rates[-1]) == (0, 0)
    with pytest.raises(ValueError, match="rates"):
        proposition1.stability_scan(kicked, p["X"], p["Y"], p["bases"], [], flow_time=60.0)


def test_stability_scan_measures_misalignment_against_a_run_at_a_small_rate():
    # a misalignment that grows at every rate (here the reference ends far above the start) is not held
    # against the rates: each is compared with the reference, not with the start
    scan = proposition1.StabilityScan(np.array([1.0, 2.0]), np.array([True, False]), np.array([5e-3, 1.0]), 1e-6, 1e-3)
    assert scan.allowed_from == 1e-3
    assert proposition1.StabilityScan(np.ones(1), np.ones(1, bool), np.ones(1), 1e-6, np.inf).allowed_from == 1e-6
    record = proposition1.StabilityScan(np.ones(2), np.ones(2, bool), np.ones(2), 1e-6, 1e-6, reference_diverged=True)
    assert record.allowed_from == 1e-6 and record.diverged.dtype == bool and not record.diverged.any()
    p = planted(k=4, n=6, d=4, seed=3)
    sigma0 = np.full((4, 4), 0.2) * (1 + 0.5 * np.arange(4))  # small products: a long transient
    Ws = aligned.aligned_network(p["bases"], list(sigma0))
    kicked = proposition1.misaligned(Ws, p["bases"], 1e-6, rng=np.random.default_rng(1))
    scan = proposition1.stability_scan(
        kicked, p["X"], p["Y"], p["bases"], [0.02], flow_time=200.0, reference_rate=0.005
    )
    assert scan.reference > scan.kick  # the transient growth, at a small rate
    assert scan.converged[0] and scan.off[0] < 10 * scan.reference


# ---------------------------------------------------------------- sequential learning


def test_saxe_map_is_the_balanced_two_layer_recursion():
    n, s, lr = 5, np.array([3.0, 1.0, 0.3]), 0.02
    sigma = np.full((2, 3), np.sqrt(1e-3))
    traj = dynamics.singular_value_dynamics(sigma, np.full(3, float(n)), n * s, lr=lr, steps=300, n=n)
    u = sequential.saxe_map(np.full(3, 1e-3), s, lr, 300)
    assert np.allclose(u, traj.prod(axis=1), rtol=1e-12)


def test_saxe_closed_form_solves_the_ode():
    s, u0, lr, steps = np.array([2.0, 0.5]), np.array([1e-3, 2e-3]), 0.01, 800
    ode = solve_ivp(
        lambda t, u: 2 * lr * u * (s - u), (0, steps), u0, t_eval=np.arange(steps + 1), rtol=1e-10, atol=1e-14
    )
    assert np.allclose(sequential.saxe_closed_form(u0, s, lr, steps), ode.y.T, rtol=1e-6, atol=1e-10)


def test_learning_times():
    u = np.array([[0.0, 0.0], [0.5, 0.1], [1.0, 0.2]])
    assert list(sequential.learning_times(u, [0.9, 0.15])) == [2, 2]
    assert list(sequential.learning_times(u, [0.4, 5.0])) == [1, 3]  # never: len(u)


def test_sequential_run_follows_the_discrete_map():
    k, n, lr = 3, 5, 0.05
    rng = np.random.default_rng(0)
    s = np.array([2.0, 1.0, 0.5])
    problem = dynamics.planted_problem(k, n, np.ones(k), s, rng=rng)
    u = sequential.sequential_run(*problem, strengths=s, depth=2, u0=1e-2, lr=lr, steps=300, rng=rng)
    assert u.shape == (301, k)
    assert np.allclose(u, sequential.saxe_map(u[0], s, lr, 300), rtol=1e-9)
    assert np.allclose(u[0], 1e-2 * (1 + 1e-3 * np.arange(k)) ** 2)
    deep = sequential.sequential_run(*problem, strengths=s, depth=3, u0=1e-2, lr=lr, steps=300, rng=rng)
    assert np.all(deep[-1] >= s - 1e-2)  # run until every mode is learned
    # 1.2 times the first step at which the recursion (one long run, no chunks) has learned every mode
    start = np.full((3, k), 1e-2 ** (1 / 3)) * (1 + 1e-3 * np.arange(k))
    traj = dynamics.singular_value_dynamics(start, np.full(k, float(n)), n * s, lr=lr, steps=12000, n=n)
    first = np.argmax((traj.prod(axis=1) >= s - 1e-2).all(axis=1))
    assert len(deep) == int(1.2 * first) + 1
    assert sequential._steps_until_learned(start, n, s, 1e-2, lr=lr, max_steps=12000, chunk=7) == first


# ---------------------------------------------------------------- the chapter's figures


@pytest.fixture
def close_figures():
    yield
    plt.close("all")


def test_plot_corollary1(close_figures):
    rng = np.random.default_rng(0)
    full = rng.uniform(0.5, 1.0, (50, 2, 3))
    fig = plotting.plot_corollary1(full, full + 1e-15, 0.9 * full, np.full(50, 1e-16))
    assert len(fig.axes) == 2
    plt.close(fig)
    left, right = fig.axes
    assert len(left.get_legend().get_texts()) == 3 and len(left.get_lines()) == 3 * 3 + 3
    assert [line.get_label() for line in right.get_lines()] == [
        "corrected (6)",
        "(6) as printed",
        "off-diagonal of full GD",
    ]
    assert np.allclose(right.get_lines()[1].get_ydata(), np.abs(0.1 * full).max(axis=(1, 2)))
    with pytest.raises(ValueError, match="share one"):
        plotting.plot_corollary1(full, full[:-1], full, np.zeros(50))


def test_plot_proposition1(close_figures):
    losses = np.exp(-0.01 * np.arange(4000))
    fit = convergence.linear_fit(losses)
    table = {
        "depth": np.arange(2, 5),
        "bound": [1, 0.8, 0.6],
        "critical": [30, 25, 20],
        "edge_transverse": [29, 24, 19],
    }
    with pytest.raises(ValueError, match="steps"):
        plotting.plot_proposition1(losses, fit, table, depth=3)
    fig = plotting.plot_proposition1(losses, fit, table | {"steps": [10, 20, 40]}, depth=3)
    assert len(fig.axes) == 3
    assert len(fig.axes[1].get_lines()) == 3 and fig.axes[2].get_yscale() == "log"
    assert "rate 0.01 per step" in fig.axes[0].get_lines()[1].get_label()  # a reader's number, not 1.00e-02


def test_plot_sequential_learning(close_figures):
    u = np.linspace(0, 1, 40)[:, None] * np.ones(3)
    fig = plotting.plot_sequential_learning({2: u, 3: u[:20]}, u, u, [5, 10, 20], [3.0, 1.0, 0.3])
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "d = 3"
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["3.00", "1.00", "0.30"]
    with pytest.raises(ValueError, match="depth 2"):
        plotting.plot_sequential_learning({3: u}, u, u, [1, 2, 3], [1, 1, 1])


def test_plot_singular_values_passes_style_and_can_skip_the_legend(close_figures):
    ax = plotting.plot_singular_values(np.ones((5, 2)), legend=False, linestyle=":", marker="o")
    assert ax.get_legend() is None
    assert all(line.get_linestyle() == ":" and line.get_marker() == "o" for line in ax.get_lines())
