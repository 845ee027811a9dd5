"""Tests for deeplinear.train against a plain gradient-descent loop written here.

The reference loop computes every loss and gradient with its own formulas (per-sample softmax,
log1p, explicit back-propagation), structured layers through their dense basis and explicit
coefficient gradients <A_j, dL/dW>, and ensembles member by member.
"""

import contextlib
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deeplinear import _engine, data, losses, metrics, network
from deeplinear.structures import Convolution, Sparse, Toeplitz
from deeplinear.training import History, TrainingDiverged, TrainResult, record_schedule, train

SETTINGS = settings(max_examples=15, deadline=None)
NAMED = ["squared", "logistic", "exponential", "cross_entropy"]


def ref_loss_grad(F, Y, name):
    n = F.shape[1]
    if name == "squared":
        R = F - Y
        return 0.5 * float(np.sum(R * R)) / n, R / n
    if name == "logistic":
        z = Y * F
        return float(np.sum(np.log1p(np.exp(-z)))) / n, -Y / (1 + np.exp(z)) / n
    if name == "exponential":
        e = np.exp(-Y * F)
        return float(e.sum()) / n, -Y * e / n
    P = np.exp(F) / np.exp(F).sum(axis=0)
    return -float(np.sum(np.log(P[Y == 1]))) / n, (P - Y) / n


def reference_gd(Ws, X, Y, lr, steps, name="squared", basis=None):
    """Plain GD; returns the weights after each step, losses (steps+1,) and the learning rates."""
    X = np.eye(Ws[0].shape[1]) if X is None else X
    basis = basis or [None] * len(Ws)
    coef = [
        None if B is None else np.tensordot(B, W, axes=([1, 2], [0, 1])) / np.sum(B * B, axis=(1, 2))
        for B, W in zip(basis, Ws)
    ]
    Ws = [W.copy() for W in Ws]
    snapshots, values, rates = [], [], []
    for t in range(steps + 1):
        snapshots.append([W.copy() for W in Ws])
        acts = [X]
        for W in Ws:
            acts.append(W @ acts[-1])
        value, D = ref_loss_grad(acts[-1], Y, name)
        values.append(value)
        eta = lr(t, value) if callable(lr) else lr
        rates.append(eta)
        if t == steps:
            break
        grads = [None] * len(Ws)
        for i in reversed(range(len(Ws))):
            grads[i] = D @ acts[i].T
            D = Ws[i].T @ D
        for i, B in enumerate(basis):
            if B is None:
                Ws[i] = Ws[i] - eta * grads[i]
            else:  # gradient descent on the coefficients: dL/dc_j = <A_j, dL/dW>
                coef[i] = coef[i] - eta * np.tensordot(B, grads[i], axes=([1, 2], [0, 1]))
                Ws[i] = np.tensordot(coef[i], B, axes=(0, 0))
    return snapshots, np.array(values), np.array(rates), coef


@contextlib.contextmanager
def gram_route(on: bool):
    """Force the trainer's X X^T route for the squared loss on (whenever n > 2 k_0) or off."""
    old = _engine._GRAM_MIN_SAVING
    _engine._GRAM_MIN_SAVING = -1 if on else math.inf
    try:
        yield
    finally:
        _engine._GRAM_MIN_SAVING = old


def make_problem(rng, dims, n, name, identity=False):
    Ws = [rng.standard_normal((dims[i + 1], dims[i])) / math.sqrt(dims[i]) for i in range(len(dims) - 1)]
    X = None if identity else rng.standard_normal((dims[0], n))
    n = dims[0] if identity else n
    if name in ("logistic", "exponential"):
        Y = rng.choice([-1.0, 1.0], size=(1, n))
    elif name == "cross_entropy":
        Y = np.eye(dims[-1])[rng.integers(0, dims[-1], size=n)].T
    else:
        Y = rng.standard_normal((dims[-1], n))
    return Ws, X, Y


@SETTINGS
@given(
    seed=st.integers(0, 2**31),
    depth=st.integers(1, 4),
    n=st.integers(1, 12),
    identity=st.booleans(),
    name=st.sampled_from(NAMED),
    gram=st.booleans(),
    data=st.data(),
)
def test_train_equals_reference_loop(seed, depth, n, identity, name, gram, data):
    rng = np.random.default_rng(seed)
    dims = data.draw(st.lists(st.integers(1, 5), min_size=depth + 1, max_size=depth + 1), label="dims")
    if name in ("logistic", "exponential"):
        dims[-1] = 1
    Ws, X, Y = make_problem(rng, dims, n, name, identity)
    before = [W.copy() for W in Ws]
    with np.errstate(all="ignore"):
        snaps, values, _, _ = reference_gd(Ws, X, Y, 0.05, 12, name)
    # a draw on which lr = 0.05 diverges (the exponential loss can) is test_divergence_*'s business
    assume(np.isfinite(values).all() and values.max() <= 1e8 * max(values[0], 1.0))
    with gram_route(gram):
        result = train(Ws, X, Y, lr=0.05, steps=12, loss=name, record=1, progress=False)
    np.testing.assert_allclose(result.history.loss, values, rtol=1e-10, atol=1e-14)
    for W, R in zip(result.weights, snaps[-1]):
        np.testing.assert_allclose(W, R, rtol=1e-10, atol=1e-13)
    for W, B, I in zip(Ws, before, result.initial_weights):
        np.testing.assert_array_equal(W, B)  # caller's arrays untouched
        np.testing.assert_array_equal(I, B)
    assert isinstance(result, TrainResult) and isinstance(result.history, History)
    np.testing.assert_array_equal(result.history.steps, np.arange(13))
    np.testing.assert_array_equal(result.history.lr, np.full(13, 0.05))


@pytest.mark.parametrize("dims", [[1, 2], [2, 3, 2], [3, 4, 5, 2]])
@pytest.mark.parametrize("S", [None, 2])
def test_gram_route_equals_reference_loop(dims, S):
    rng = np.random.default_rng(len(dims))
    n = 3 * dims[0] + 2
    members = [make_problem(np.random.default_rng(s), dims, n, "squared")[0] for s in range(S or 1)]
    _, X, Y = make_problem(rng, dims, n, "squared")
    Ws = members[0] if S is None else [np.stack(layer) for layer in zip(*members)]
    with gram_route(True):
        result = train(Ws, X, Y, lr=0.05, steps=15, record=1, progress=False)
    for s, member in enumerate(members):
        snaps, values, _, _ = reference_gd(member, X, Y, 0.05, 15)
        got = result.history.loss if S is None else result.history.loss[:, s]
        np.testing.assert_allclose(got, values, rtol=1e-10)
        for W, R in zip(result.weights, snaps[-1]):
            np.testing.assert_allclose(W if S is None else W[s], R, rtol=1e-10, atol=1e-13)


def test_gram_rewrite_matches_direct_loss_near_zero():
    # n much larger than k_0 takes the X X^T route; near an exact fit its loss must stay accurate.
    rng = np.random.default_rng(0)
    k0, n = 3, 200
    X = rng.standard_normal((k0, n))
    Ws = [rng.standard_normal((4, k0)), rng.standard_normal((2, 4))]
    Y = Ws[1] @ Ws[0] @ X
    start = [Ws[0] + 1e-6 * rng.standard_normal(Ws[0].shape), Ws[1]]
    with gram_route(True):
        assert isinstance(_engine._kernel(losses.squared, X, Y, (2, n), 20)[0], _engine._GramKernel)
        result = train(start, X, Y, lr=0.01, steps=20, record=1, progress=False)
    _, values, _, _ = reference_gd(start, X, Y, 0.01, 20)
    assert values[0] < 1e-10
    np.testing.assert_allclose(result.history.loss, values, rtol=1e-8)


def test_callable_lr_gets_step_and_current_loss():
    rng = np.random.default_rng(1)
    Ws, X, Y = make_problem(rng, [3, 4, 2], 5, "squared")
    calls = []

    def lr(step, value):
        calls.append((step, value))
        return 0.1 / (1 + step) / (1 + value)

    result = train(Ws, X, Y, lr=lr, steps=10, record=1, progress=False)
    snaps, values, rates, _ = reference_gd(Ws, X, Y, lambda t, v: 0.1 / (1 + t) / (1 + v), 10)
    assert [c[0] for c in calls] == list(range(11))
    np.testing.assert_allclose([c[1] for c in calls], values, rtol=1e-12)
    np.testing.assert_allclose(result.history.lr, rates, rtol=1e-12)
    for W, R in zip(result.weights, snaps[-1]):
        np.testing.assert_allclose(W, R, rtol=1e-11)


def test_logistic_growing_steps_do_not_warn():
    # Ji-Telgarsky style: separable data, step size growing like 1/risk, huge margins later on.
    rng = np.random.default_rng(2)
    X = rng.standard_normal((2, 20))
    Y = np.sign(X[:1] + 0.05)
    Ws = [rng.standard_normal((3, 2)), rng.standard_normal((1, 3))]
    with np.errstate(all="raise"):
        result = train(Ws, X, Y, lr=lambda t, risk: min(0.5 / risk, 1e3), steps=300, loss="logistic", progress=False)
    assert np.all(np.isfinite(result.history.loss)) and result.history.loss[-1] < result.history.loss[0]


@pytest.mark.parametrize("name, n", [("squared", 6), ("squared", 20), ("cross_entropy", 6), ("logistic", 6)])
@pytest.mark.parametrize("gram", [True, False])
def test_stacked_ensemble_equals_member_runs(name, n, gram, monkeypatch):
    monkeypatch.setattr(_engine, "_GRAM_MIN_SAVING", -1 if gram else math.inf)
    rng = np.random.default_rng(3)
    S, dims = 4, [3, 5, 1 if name == "logistic" else 3]
    members = [make_problem(np.random.default_rng(s), dims, n, name)[0] for s in range(S)]
    _, X, Y = make_problem(rng, dims, n, name)
    stacked = [np.stack([m[i] for m in members]) for i in range(len(dims) - 1)]
    lrs = np.array([0.01, 0.05, 0.1, 0.2])
    result = train(stacked, X, Y, lr=lrs, steps=25, loss=name, record=5, progress=False)
    assert result.history.loss.shape == (6, S) and result.history.lr.shape == (6, S)
    assert [W.shape for W in result.weights] == [W.shape for W in stacked]
    for s in range(S):
        single = train(members[s], X, Y, lr=float(lrs[s]), steps=25, loss=name, record=5, progress=False)
        np.testing.assert_allclose(result.history.loss[:, s], single.history.loss, rtol=1e-12)
        for W, Wm in zip(result.weights, single.weights):
            np.testing.assert_allclose(W[s], Wm, rtol=1e-11, atol=1e-14)
    by_call = train(stacked, X, Y, lr=lambda t, v: lrs, steps=25, loss=name, record=5, progress=False)
    np.testing.assert_allclose(by_call.history.loss, result.history.loss, rtol=1e-13)
    np.testing.assert_array_equal(by_call.history.lr, np.tile(lrs, (6, 1)))
    # a callable learning rate sees the (S,) losses
    seen = []
    train(stacked, X, Y, lr=lambda t, v: seen.append(np.shape(v)) or 0.01, steps=2, loss=name, progress=False)
    assert seen == [(S,)] * 3


def test_divergence_raises_at_first_offending_step():
    rng = np.random.default_rng(4)
    Ws, X, Y = make_problem(rng, [4, 4, 4, 4], 6, "squared")
    lr, blowup = 3.0, 1e4
    with np.errstate(all="ignore"):
        _, values, _, _ = reference_gd(Ws, X, Y, lr, 40)
    limit = blowup * max(values[0], 1.0)
    first = int(np.flatnonzero(~(values <= limit))[0])
    with pytest.raises(TrainingDiverged, match=rf"step {first}\b.*lower lr") as info:
        train(Ws, X, Y, lr=lr, steps=40, blowup=blowup, record=1, progress=False)
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert err.step == first and err.lr == lr and err.member is None
    np.testing.assert_array_equal(err.history.steps, np.arange(first))
    assert np.all(np.isfinite(err.history.loss))
    # ensembles name the member; NaN losses are caught too (blowup = inf)
    stacked = [np.stack([W, W, W]) for W in Ws]
    with pytest.raises(TrainingDiverged, match="member 1") as info:
        train(stacked, X, Y, lr=np.array([0.01, lr, 0.01]), steps=2000, blowup=math.inf, progress=False)
    assert info.value.member == 1 and not np.isfinite(info.value.loss)


def test_infinite_losses_are_caught_even_without_blowup_limit():
    rng = np.random.default_rng(12)
    X = rng.standard_normal((2, 5))
    Y = np.ones((1, 5))
    huge = [np.full((1, 2), -1e3) * np.sign(X.sum(axis=1))]  # margins about -1e3: exp overflows
    with pytest.raises(TrainingDiverged, match="initial loss is not finite") as info:
        train(huge, X, Y, lr=0.1, steps=5, loss="exponential", blowup=math.inf)
    assert info.value.step == 0 and len(info.value.history) == 0
    Ws, X, Y = make_problem(rng, [3, 3, 3], 4, "squared")
    with pytest.raises(TrainingDiverged, match="not finite"):
        train(Ws, X, Y, lr=50.0, steps=200, blowup=math.inf, progress=False)


def test_callable_loss_output_is_checked():
    rng = np.random.default_rng(13)
    Ws, X, Y = make_problem(rng, [3, 2], 4, "squared")
    bad = lambda F, Y: (0.0, F[:1])  # noqa: E731  dL/dF of the wrong shape
    with pytest.raises(ValueError, match="loss"):
        train(Ws, X, Y, lr=0.1, steps=3, loss=bad)
    ours = lambda F, Y: (0.5 * float(np.sum((F - Y) ** 2)) / 4, (F - Y) / 4)  # noqa: E731
    a = train(Ws, X, Y, lr=0.1, steps=20, loss=ours, progress=False)
    b = train(Ws, X, Y, lr=0.1, steps=20, progress=False)
    np.testing.assert_allclose(a.history.loss, b.history.loss, rtol=1e-12)


def test_record_schedules():
    default = record_schedule(10_000)
    assert default[0] == 0 and default[-1] == 10_000 and 50 <= len(default) <= 60
    assert np.all(np.diff(default) > 0)
    np.testing.assert_array_equal(record_schedule(20), np.arange(21))
    np.testing.assert_array_equal(record_schedule(10, 4), [0, 4, 8, 10])
    np.testing.assert_array_equal(record_schedule(10, [7, 3, 3, 0]), [0, 3, 7])
    np.testing.assert_array_equal(record_schedule(0), [0])
    rng = np.random.default_rng(5)
    Ws, X, Y = make_problem(rng, [3, 3, 3], 4, "squared")
    _, values, _, _ = reference_gd(Ws, X, Y, 0.02, 300)
    for record in (None, 7, [299, 5, 300]):
        hist = train(Ws, X, Y, lr=0.02, steps=300, record=record, progress=False).history
        np.testing.assert_array_equal(hist.steps, record_schedule(300, record))
        np.testing.assert_allclose(hist.loss, values[hist.steps], rtol=1e-10)


def test_metrics_recorded_on_schedule():
    rng = np.random.default_rng(6)
    Ws, X, Y = make_problem(rng, [4, 4, 4, 4], 8, "squared")
    norms = {"norm1": lambda W: np.linalg.norm(W[0]), "prod": lambda W: W[2] @ W[1] @ W[0]}
    result = train(Ws, X, Y, lr=0.02, steps=100, metrics=norms, record=[0, 10, 100], progress=False)
    snaps, _, _, _ = reference_gd(Ws, X, Y, 0.02, 100)
    for j, t in enumerate([0, 10, 100]):
        assert result.history.metrics["norm1"][j] == pytest.approx(np.linalg.norm(snaps[t][0]), rel=1e-10)
        np.testing.assert_allclose(
            result.history.metrics["prod"][j], snaps[t][2] @ snaps[t][1] @ snaps[t][0], rtol=1e-9
        )
    named = train(Ws, X, Y, lr=0.02, steps=100, metrics=("alignment", "invariance"), progress=False)
    steps = named.history.steps
    for j in (0, len(steps) // 2, len(steps) - 1):
        W_t = snaps[steps[j]]
        np.testing.assert_allclose(named.history.metrics["alignment"][j], metrics.alignment(W_t), rtol=1e-8)
        np.testing.assert_allclose(named.history.metrics["invariance"][j], metrics.invariance(Ws, W_t), rtol=1e-8)
    with pytest.raises(KeyError):
        named.history.metrics["nope"]


def stop_problem():
    """A squared-loss problem, its plain-loop run at lr 0.05 (snapshots, losses for 3000 steps), a threshold
    first crossed at step 1000 or earlier, and that first step."""
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((4, 12)), rng.standard_normal((3, 12))
    Ws = [0.5 * rng.standard_normal((5, 4)), 0.5 * rng.standard_normal((3, 5))]
    snapshots, values, _, _ = reference_gd(Ws, X, Y, 0.05, 3000)
    threshold = 1.001 * values[1000]
    return X, Y, Ws, snapshots, values, threshold, int(np.flatnonzero(values < threshold)[0])


def test_metrics_on_their_own_schedule_with_the_loss_every_step():
    rng = np.random.default_rng(6)
    Ws, X, Y = make_problem(rng, [4, 4, 4], 8, "squared")
    snaps, values, _, _ = reference_gd(Ws, X, Y, 0.02, 60)
    prod = {"prod": lambda W: W[1] @ W[0]}
    hist = train(Ws, X, Y, lr=0.02, steps=60, metrics=prod, record=1, record_metrics=[0, 7, 60], progress=False).history
    np.testing.assert_array_equal(hist.steps, np.arange(61))
    np.testing.assert_allclose(hist.loss, values, rtol=1e-10)
    np.testing.assert_array_equal(hist.metric_steps, [0, 7, 60])
    assert hist.metrics["prod"].shape == (3, 4, 4)
    for j, t in enumerate([0, 7, 60]):
        np.testing.assert_allclose(hist.metrics["prod"][j], snaps[t][1] @ snaps[t][0], rtol=1e-9)
    same = train(Ws, X, Y, lr=0.02, steps=60, metrics=prod, record=7, progress=False).history
    np.testing.assert_array_equal(same.metric_steps, same.steps)  # default: the record steps
    assert "metric_steps" not in same.metrics and len(same.metric_steps) == len(same.metrics["prod"])


@pytest.mark.parametrize("stacked", [False, True])
def test_an_early_stop_off_both_schedules_records_its_step_last(stacked):
    """Stopping between scheduled steps (or after the last one) records the stop step, loss and metrics."""
    X, Y, Ws, snaps, values, threshold, first = stop_problem()
    assert 100 < first < 2000
    start = [np.stack([W, W]) for W in Ws] if stacked else Ws
    norm = {"norm": lambda W: np.linalg.norm(W[-1], axis=(-2, -1))}
    for record, record_metrics in (([0, 100], [0, 50, 2000]), (1, [0, 100]), ([0, 2000], None)):
        hist = train(
            start,
            X,
            Y,
            lr=0.05,
            steps=3000,
            stop_below=threshold,
            metrics=norm,
            record=record,
            record_metrics=record_metrics,
            progress=False,
        ).history
        assert hist.steps[-1] == first and hist.metric_steps[-1] == first
        assert np.all(np.diff(hist.metric_steps) > 0) and np.all(hist.metric_steps <= first)
        expected = np.linalg.norm(snaps[first][-1])
        np.testing.assert_allclose(hist.metrics["norm"][-1], np.full(2, expected) if stacked else expected, rtol=1e-9)
        assert not np.isnan(hist.metrics["norm"]).any()


STRUCTURES = [Toeplitz(4), Sparse(np.random.default_rng(7).random((4, 4)) < 0.6), Convolution(2, 3)]


@pytest.mark.parametrize("identity", [True, False])
@pytest.mark.parametrize("which", [0, 1, 2, "mixed"])
def test_structure_equals_coefficient_gradient_descent(which, identity):
    rng = np.random.default_rng(8)
    layers = [STRUCTURES[0], None, STRUCTURES[1]] if which == "mixed" else [STRUCTURES[which]] * 3
    Ws = [0.4 * (rng.standard_normal((4, 4)) if s is None else s.matrix(rng.standard_normal(s.dim))) for s in layers]
    X = None if identity else rng.standard_normal((4, 6))
    Y = rng.standard_normal((4, 4 if identity else 6))
    structure = layers if which == "mixed" else layers[0]
    result = train(Ws, X, Y, lr=0.02, steps=30, structure=structure, record=1, progress=False)
    basis = [None if s is None else s.basis for s in layers]
    snaps, values, _, coef = reference_gd(Ws, X, Y, 0.02, 30, basis=basis)
    np.testing.assert_allclose(result.history.loss, values, rtol=1e-10)
    for W, R in zip(result.weights, snaps[-1]):
        np.testing.assert_allclose(W, R, rtol=1e-10, atol=1e-13)
    for c, cr, s in zip(result.coefficients, coef, layers):
        assert (c is None) == (s is None)
        if s is not None:
            np.testing.assert_allclose(c, cr, rtol=1e-10, atol=1e-13)


def test_structure_stacked_and_validation():
    rng = np.random.default_rng(9)
    T = STRUCTURES[0]
    members = [[T.matrix(rng.standard_normal(T.dim)) for _ in range(2)] for _ in range(3)]
    stacked = [np.stack([m[i] for m in members]) for i in range(2)]
    X, Y = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    both = train(stacked, X, Y, lr=0.03, steps=15, structure=T, progress=False)
    assert both.coefficients[0].shape == (3, T.dim)
    for s in range(3):
        one = train(members[s], X, Y, lr=0.03, steps=15, structure=T, progress=False)
        np.testing.assert_allclose(both.history.loss[:, s], one.history.loss, rtol=1e-12)
    bad = [members[0][0], rng.standard_normal((4, 4))]
    with pytest.raises(ValueError, match=r"W_2 \(Ws\[1\]\).*structure"):
        train(bad, X, Y, lr=0.1, steps=1, structure=T)
    with pytest.raises(ValueError, match="structure"):
        train(members[0], X, Y, lr=0.1, steps=1, structure=[T])
    with pytest.raises(ValueError, match="structure for layer 1"):
        train(members[0], X, Y, lr=0.1, steps=1, structure=[Toeplitz(3), None])


def fake_clock(monkeypatch, dt):
    """Every reading of the trainer's clock comes dt seconds after the previous one."""
    ticks = iter(range(10**6))
    monkeypatch.setattr(_engine.time, "perf_counter", lambda: dt * next(ticks))


def test_progress_bar_auto_forced_and_disabled(monkeypatch, capsys):
    rng = np.random.default_rng(10)
    Ws, X, Y = make_problem(rng, [2, 2], 3, "squared")
    run = lambda **kw: train(Ws, X, Y, lr=0.01, steps=50, **kw)  # noqa: E731
    monkeypatch.delenv("DEEPLINEAR_PROGRESS", raising=False)
    fake_clock(monkeypatch, 1e-6)  # a fast run: no bar
    run(progress=None)
    assert capsys.readouterr().err == ""
    run(progress=True)
    assert "train" in capsys.readouterr().err
    fake_clock(monkeypatch, 1.0)  # a slow run: the bar appears
    run(progress=None)
    assert "train" in capsys.readouterr().err
    run(progress=False)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("DEEPLINEAR_PROGRESS", "0")
    run(progress=None)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": -1}, "steps"),
        ({"steps": 2.0}, "steps"),
        ({"steps": True}, "steps"),
        ({"lr": 0.0}, "lr"),
        ({"lr": -1.0}, "lr"),
        ({"lr": math.nan}, "lr"),
        ({"lr": math.inf}, "lr"),
        ({"lr": True}, "lr"),
        ({"lr": "0.1"}, "lr"),
        ({"lr": np.array([0.1, 0.1])}, "lr"),
        ({"lr": lambda t, v: -1.0}, "lr"),
        ({"loss": "hinge"}, "loss"),
        ({"record": 0}, "record"),
        ({"record": [-1]}, "record"),
        ({"record": [11]}, "record"),
        ({"record": [[1]]}, "record"),
        ({"record": [1.5]}, "record"),
        ({"record_metrics": 0}, "record_metrics"),
        ({"record_metrics": [11]}, "record_metrics"),
        ({"blowup": 0.0}, "blowup"),
        ({"progress": "yes"}, "progress"),
        ({"metrics": ("no_such_metric",)}, "metrics"),
        ({"metrics": {"loss": np.linalg.norm}}, "metrics"),
        ({"metrics": {"a": 3}}, "metrics"),
        ({"structure": Toeplitz(5)}, "structure"),
    ],
)
def test_bad_arguments_raise_value_error_naming_parameter(kwargs, match):
    rng = np.random.default_rng(11)
    Ws, X, Y = make_problem(rng, [3, 3], 4, "squared")
    args = {"lr": 0.1, "steps": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        train(Ws, X, Y, **args)


@pytest.mark.parametrize("stacked", [False, True])
def test_stop_below_stops_at_the_first_step_under_the_threshold(stacked):
    """The run ends exactly where a plain loop first sees a loss below the threshold."""
    X, Y, Ws, snapshots, values, threshold, first = stop_problem()
    snapshots = snapshots[: first + 1]
    if stacked:
        result = train([np.stack([W, W]) for W in Ws], X, Y, lr=0.05, steps=3000, stop_below=threshold, progress=False)
        final = [W[1] for W in result.weights]
    else:
        result = train(Ws, X, Y, lr=0.05, steps=3000, stop_below=threshold, progress=False)
        final = result.weights
    assert 0 < first < 3000 and result.history.steps[-1] == first
    assert np.all(np.diff(result.history.steps) > 0)
    loss_last = result.history.loss[-1] if not stacked else result.history.loss[-1, 1]
    assert loss_last == pytest.approx(values[first], rel=1e-12)
    for W, W_ref in zip(final, snapshots[-1]):
        np.testing.assert_allclose(W, W_ref, rtol=1e-10, atol=1e-12)


def test_stop_below_validates_and_can_stop_before_any_update():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    Ws = [rng.standard_normal((2, 2))]
    with pytest.raises(ValueError, match="stop_below"):
        train(Ws, X, Y, lr=0.1, steps=10, stop_below=-1.0)
    result = train(Ws, X, Y, lr=0.1, steps=10, stop_below=1e9, progress=False)
    assert list(result.history.steps) == [0]
    np.testing.assert_array_equal(result.weights[0], Ws[0])


def test_named_metrics_come_from_the_registry_only():
    """A name outside metrics.REGISTRY is refused with the valid names, even a public function of the module."""
    rng = np.random.default_rng(0)
    Ws, X, Y = [rng.standard_normal((3, 3)) for _ in range(2)], rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    for bad in ("margin", "best_match", "_grams", "nonsense", 3):
        with pytest.raises(ValueError, match="not among the named metrics alignment, alignment_defect, invariance"):
            train(Ws, X, Y, lr=0.01, steps=2, metrics=(bad,), progress=False)
    res = train(Ws, X, Y, lr=0.01, steps=2, metrics=tuple(metrics.REGISTRY), progress=False)
    for name, factory in metrics.REGISTRY.items():
        np.testing.assert_allclose(res.history.metrics[name][-1], factory(Ws)(res.weights), atol=1e-12)
    np.testing.assert_allclose(res.history.metrics["balancedness"][-1], metrics.balancedness(res.weights), atol=1e-12)


def test_alignment_and_invariance_share_one_svd_per_layer_per_record(monkeypatch):
    """Recording alignment, invariance and top_alignment costs one SVD per layer per record (plus the start's)."""
    rng = np.random.default_rng(1)
    Ws, X, Y = [rng.standard_normal((4, 4)) for _ in range(3)], rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    run = dict(lr=0.01, steps=20, record=[0, 10, 20], progress=False)
    separate = {"alignment": metrics.alignment, "invariance": lambda W: metrics.invariance(Ws, W)}
    reference = train(Ws, X, Y, **run, metrics=separate)
    calls = []
    svd = np.linalg.svd

    def counted(A, *args, **kwargs):
        calls.append(np.shape(A))
        return svd(A, *args, **kwargs)

    monkeypatch.setattr(np.linalg, "svd", counted)
    res = train(Ws, X, Y, **run, metrics=("alignment", "invariance", "top_alignment"))
    assert len(calls) == 3 + 3 * 3  # the initial network's (invariance), then 3 layers at each of 3 records
    monkeypatch.setattr(np.linalg, "svd", svd)
    np.testing.assert_allclose(res.history.metrics["alignment"], reference.history.metrics["alignment"], atol=1e-12)
    np.testing.assert_allclose(res.history.metrics["invariance"], reference.history.metrics["invariance"], atol=1e-12)
    np.testing.assert_allclose(res.history.metrics["top_alignment"][-1], metrics.top_alignment(res.weights), atol=1e-12)


# ---------------------------------------------------------------- ensembles with per-member data
def member_problems(name, S, dims, n, identity=False):
    """S problems (Ws, X, Y), each drawn alone, and the stacked network (S, ...) with stacked data."""
    problems = [make_problem(np.random.default_rng(100 + s), dims, n, name, identity) for s in range(S)]
    stacked = network.stack([Ws for Ws, _, _ in problems])
    Xs = None if identity else np.stack([X for _, X, _ in problems])
    return problems, stacked, Xs, np.stack([Y for _, _, Y in problems])


@pytest.mark.parametrize("name, n", [("squared", 4), ("squared", 20), ("logistic", 5), ("cross_entropy", 6)])
@pytest.mark.parametrize("gram", [True, False])
@pytest.mark.parametrize("shared_X", [False, True])
def test_per_member_data_equals_member_runs(name, n, gram, shared_X, monkeypatch):
    monkeypatch.setattr(_engine, "_GRAM_MIN_SAVING", -1 if gram else math.inf)
    S, dims = 3, [3, 4, 1 if name == "logistic" else 2]
    problems, stacked, Xs, Ys = member_problems(name, S, dims, n)
    if shared_X:  # per-member targets on shared inputs
        Xs = problems[0][1]
        problems = [(Ws, Xs, Y) for Ws, _, Y in problems]
    lrs = np.array([0.02, 0.05, 0.1])
    result = train(stacked, Xs, Ys, lr=lrs, steps=20, loss=name, record=4, progress=False)
    assert result.history.loss.shape == (6, S)
    for s, (Ws, X, Y) in enumerate(problems):
        alone = train(Ws, X, Y, lr=float(lrs[s]), steps=20, loss=name, record=4, progress=False)
        np.testing.assert_allclose(result.history.loss[:, s], alone.history.loss, rtol=1e-11)
        snaps, values, _, _ = reference_gd(Ws, X, Y, float(lrs[s]), 20, name)  # and the plain loop
        np.testing.assert_allclose(result.history.loss[-1, s], values[-1], rtol=1e-10)
        for W, Wm, R in zip(result.weights, alone.weights, snaps[-1]):
            np.testing.assert_allclose(W[s], Wm, rtol=1e-10, atol=1e-13)
            np.testing.assert_allclose(W[s], R, rtol=1e-10, atol=1e-13)


def test_per_member_data_with_structure_equals_member_runs():
    S, k, n = 3, 4, 6
    problems, stacked, Xs, Ys = member_problems("squared", S, [k, k, k], n)
    toeplitz = Toeplitz(k)
    problems = [([toeplitz.matrix(toeplitz.coefficients(W)) for W in Ws], X, Y) for Ws, X, Y in problems]
    stacked = network.stack([Ws for Ws, _, _ in problems])
    result = train(stacked, Xs, Ys, lr=0.05, steps=15, structure=toeplitz, record=5, progress=False)
    for s, (Ws, X, Y) in enumerate(problems):
        alone = train(Ws, X, Y, lr=0.05, steps=15, structure=toeplitz, record=5, progress=False)
        np.testing.assert_allclose(result.history.loss[:, s], alone.history.loss, rtol=1e-11)
        for W, Wm in zip(result.weights, alone.weights):
            np.testing.assert_allclose(W[s], Wm, rtol=1e-10, atol=1e-13)


def test_per_member_matrix_sensing_equals_member_runs():
    S, k, n = 3, 4, 6
    problems = [data.matrix_sensing(k, n, rng=np.random.default_rng(s)) for s in range(S)]
    starts = [make_problem(np.random.default_rng(50 + s), [k, k, k], k, "squared")[0] for s in range(S)]
    loss = losses.MatrixSensing(np.stack([p.M for p in problems]), np.stack([p.y for p in problems]))
    assert loss.members == S and "S=3" in repr(loss)
    result = train(network.stack(starts), None, None, loss=loss, lr=0.05, steps=20, record=5, progress=False)
    for s, (p, Ws) in enumerate(zip(problems, starts)):
        one = losses.MatrixSensing(p.M, p.y)
        alone = train(Ws, None, None, loss=one, lr=0.05, steps=20, record=5, progress=False)
        np.testing.assert_allclose(result.history.loss[:, s], alone.history.loss, rtol=1e-11)
        for W, Wm in zip(result.weights, alone.weights):
            np.testing.assert_allclose(W[s], Wm, rtol=1e-10, atol=1e-13)
    with pytest.raises(ValueError, match="S = 3 members"):
        train(starts[0], None, None, loss=loss, lr=0.05, steps=1)
    with pytest.raises(ValueError, match="S = 3 members"):
        train(network.stack(starts[:2]), None, None, loss=loss, lr=0.05, steps=1)


def test_per_member_loss_and_gradients_equal_member_by_member():
    S = 3
    problems, stacked, Xs, Ys = member_problems("squared", S, [3, 4, 2], 5)
    values = network.loss(stacked, Xs, Ys)
    grads = network.gradients(stacked, Xs, Ys)
    for s, (Ws, X, Y) in enumerate(problems):
        R = Ws[1] @ Ws[0] @ X - Y  # the squared loss by hand: (1/2n)||R||^2, dL/dW_2 = R (W_1 X)^T / n
        np.testing.assert_allclose(values[s], 0.5 * np.sum(R * R) / 5, rtol=1e-13)
        np.testing.assert_allclose(grads[1][s], R @ (Ws[0] @ X).T / 5, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(grads[0][s], Ws[1].T @ R @ X.T / 5, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "Xs, Ys, match",
    [
        (np.ones((2, 3, 5)), np.ones((3, 2, 5)), "X must have shape"),  # S = 2, not 3
        (np.ones((3, 3, 5)), np.ones((2, 2, 5)), "Y must have shape"),
        (np.ones((3, 3, 5)), np.ones((3, 2, 4)), "Y must have shape"),
        (np.ones((3, 4, 5)), np.ones((3, 2, 5)), "X must have shape"),
    ],
)
def test_per_member_data_is_checked(Xs, Ys, match):
    _, stacked, _, _ = member_problems("squared", 3, [3, 4, 2], 5)
    with pytest.raises(ValueError, match=match):
        train(stacked, Xs, Ys, lr=0.1, steps=1)
    Ws = [W[0] for W in stacked]
    with pytest.raises(ValueError, match="X must have shape"):  # an unstacked network takes shared data only
        train(Ws, np.ones((3, 3, 5)), np.ones((2, 5)), lr=0.1, steps=1)


def test_stack_stacks_members_and_checks_their_shapes():
    rng = np.random.default_rng(0)
    nets = [[rng.standard_normal((4, 3)), rng.standard_normal((2, 4))] for _ in range(3)]
    stacked = network.stack(nets)
    assert [W.shape for W in stacked] == [(3, 4, 3), (3, 2, 4)]
    for s, Ws in enumerate(nets):
        for W, Wm in zip(stacked, Ws):
            np.testing.assert_array_equal(W[s], Wm)
    with pytest.raises(ValueError, match=r"networks\[1\] has layer shapes"):
        network.stack([nets[0], [np.ones((5, 3)), np.ones((2, 5))]])
    with pytest.raises(ValueError, match="networks"):
        network.stack([])
    with pytest.raises(ValueError, match="unstacked"):
        network.stack([stacked])


@pytest.mark.parametrize("bad", [0.0, -0.1, math.inf, math.nan, True, "0.1", np.array([0.1, 0.1])])
def test_a_bad_learning_rate_is_refused_by_name(bad):
    rng = np.random.default_rng(0)
    Ws, X, Y = [rng.standard_normal((3, 3))], rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match=r"^lr must be a positive number, got"):
        train(Ws, X, Y, lr=bad, steps=1)
    with pytest.raises(ValueError, match=r"^lr\(step, loss\) at step 0 must be a positive number"):
        train(Ws, X, Y, lr=lambda step, loss: bad, steps=1)


@pytest.mark.parametrize("bad", [[0.1, 0.0], [0.1, math.nan], [0.1], ["a", "b"], np.full((2, 1), 0.1)])
def test_an_ensemble_refuses_a_bad_rate_per_member_by_name(bad):
    rng = np.random.default_rng(0)
    Ws, X, Y = [rng.standard_normal((2, 3, 3))], rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match=r"^lr must be"):
        train(Ws, X, Y, lr=bad, steps=1)
    rates = train(Ws, X, Y, lr=np.full((2, 1, 1), 0.1), steps=1, record=1).history.lr
    np.testing.assert_array_equal(rates, 0.1)
