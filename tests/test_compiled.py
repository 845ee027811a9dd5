"""The compiled training engine (``train(engine="compiled")``) against the numpy engine, on the same inputs.

Every named loss, every kind of structure, single networks and stacked ensembles with shared and per-member data,
a schedule, ``stop_below`` and divergence: 10⁴ steps each, weights and recorded losses equal to 1e-12 relative
(the two engines sum in different orders, so they agree to rounding, not bitwise), the same recorded steps and
learning rates, the same stopping step, and the same `TrainingDiverged` at the same step. The runs are
well-conditioned (a start near a balanced solution, steps well below the stability edge): where gradient
descent is chaotic, rounding differences grow whatever the engine.
"""

import sys

import numpy as np
import pytest

import deeplinear
from deeplinear import losses, schedules
from deeplinear.structures import Convolution, RandomSubspace, Sparse, Toeplitz, banded_toeplitz
from deeplinear.training import TrainingDiverged, train

pytest.importorskip("numba")
import numba

from deeplinear import _compiled

STEPS = 10_000
RTOL = 1e-12


def near_identity(k, d, rng, S=None, eps=0.1):
    lead = () if S is None else (S,)
    return [np.eye(k) + eps * rng.standard_normal((*lead, k, k)) / np.sqrt(k) for _ in range(d)]


def regression(k, n, rng, S=None):
    X = rng.standard_normal((k, n)) if S is None else rng.standard_normal((S, k, n))
    M = np.eye(k) + 0.3 * rng.standard_normal((k, k)) / np.sqrt(k)
    return X, M @ X


def assert_agree(a, b):
    """Weights, coefficients and history of two runs equal to RTOL relative (to each array's scale)."""
    for Wa, Wb in zip(a.weights, b.weights):
        assert Wa.shape == Wb.shape
        np.testing.assert_allclose(Wb, Wa, rtol=0, atol=RTOL * np.max(np.abs(Wa)))
    if a.coefficients is not None:
        for ca, cb in zip(a.coefficients, b.coefficients):
            if ca is not None:
                np.testing.assert_allclose(cb, ca, rtol=0, atol=RTOL * np.max(np.abs(ca)))
    ha, hb = a.history, b.history
    np.testing.assert_array_equal(hb.steps, ha.steps)
    np.testing.assert_array_equal(hb.metric_steps, ha.metric_steps)
    np.testing.assert_allclose(hb.lr, ha.lr, rtol=RTOL)  # a schedule may depend on the loss
    assert hb.loss.shape == ha.loss.shape
    np.testing.assert_allclose(hb.loss, ha.loss, rtol=RTOL, atol=RTOL * np.max(np.abs(ha.loss)))
    assert ha.metrics.keys() == hb.metrics.keys()
    for name in ha.metrics:
        np.testing.assert_allclose(hb.metrics[name], ha.metrics[name], rtol=1e-10, atol=1e-10)


def both(*args, **kwargs):
    kwargs.setdefault("steps", STEPS)
    kwargs.setdefault("progress", False)
    a = train(*args, engine="numpy", **kwargs)
    b = train(*args, engine="compiled", **kwargs)
    assert_agree(a, b)
    return a, b


def separable(n, rng, S=None):
    X = rng.standard_normal((3, n)) if S is None else rng.standard_normal((S, 3, n))
    y = np.sign(X[..., :1, :] + 0.5 * X[..., 1:2, :])
    y[y == 0] = 1
    return X, y


def test_the_run_moves_and_the_check_can_fail():
    """The runs below are not trivial: 10⁴ steps move the weights far beyond RTOL, and a wrong step is caught."""
    rng = np.random.default_rng(0)
    Ws = near_identity(4, 3, rng)
    X, Y = regression(4, 6, rng)
    a, b = both(Ws, X, Y, lr=0.02)
    assert np.max(np.abs(a.weights[0] - Ws[0])) > 1e-2
    assert a.history.loss[-1] < 1e-3 * a.history.loss[0]
    other = train(Ws, X, Y, lr=0.02 * (1 + 1e-9), steps=STEPS, progress=False, engine="compiled")
    with pytest.raises(AssertionError):
        assert_agree(a, other)


@pytest.mark.parametrize("loss", ["squared", "mean_squared"])
@pytest.mark.parametrize("identity", [False, True])
def test_regression_losses(loss, identity):
    rng = np.random.default_rng(1)
    Ws = near_identity(4, 3, rng)
    X, Y = regression(4, 6, rng)
    if identity:
        X, Y = None, Y[:, :4] @ np.linalg.pinv(X[:, :4])
    both(Ws, X, Y, lr=0.02, loss=loss, record=7, metrics=("alignment", "invariance"), record_metrics=1000)


@pytest.mark.parametrize("loss", ["logistic", "exponential"])
def test_classification_losses(loss):
    rng = np.random.default_rng(2)
    X, y = separable(12, rng)
    Ws = [0.5 * rng.standard_normal((3, 3)), 0.5 * rng.standard_normal((1, 3))]
    both(Ws, X, y, lr=0.05, loss=loss, record=1)


@pytest.mark.parametrize("loss", ["logistic", "exponential"])
@pytest.mark.parametrize("S", [None, 3])
def test_a_loss_of_w_prod_on_the_data(loss, S):
    """`deeplinear.separable.OnData` (the network on the identity, its loss that of W_prod X) runs compiled: the
    same steps as the numpy engine's, and as training on the data itself (chapter 02's route to its limits)."""
    from deeplinear.separable import OnData

    rng = np.random.default_rng(16)
    X, y = separable(12, rng)
    Ws = near_identity(3, 3, rng, S=S)
    Ws[-1] = 0.5 * (rng.standard_normal((3, 1, 3)) if S else rng.standard_normal((1, 3)))
    on_data = OnData(X, y, loss)
    assert _compiled.covers(on_data, None, Ws, [None] * 3)
    a, b = both(Ws, None, None, lr=0.05, loss=on_data, record=1, metrics="alignment")
    direct = train(Ws, X, y, lr=0.05, loss=loss, steps=STEPS, record=1, engine="numpy", progress=False)
    np.testing.assert_allclose(b.history.loss, direct.history.loss, rtol=1e-9)


def test_cross_entropy_and_a_loss_function_given_by_value():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 9))
    Y = np.eye(3)[:, rng.integers(0, 3, 9)]
    Ws = [0.5 * rng.standard_normal((4, 4)), 0.5 * rng.standard_normal((3, 4))]
    both(Ws, X, Y, lr=0.1, loss="cross_entropy")
    both(Ws, X, Y, lr=0.1, loss=losses.cross_entropy, steps=500)  # the public function is the named loss


@pytest.mark.parametrize(
    "structure",
    [Toeplitz(4), Sparse(np.tri(4, dtype=bool)), banded_toeplitz(4, 1), RandomSubspace(4, 4, 9, rng=0)],
    ids=["toeplitz", "sparse", "basis", "random-subspace"],
)
def test_structures(structure):
    rng = np.random.default_rng(4)
    Ws = [structure.matrix(structure.coefficients(np.eye(4) + 0.1 * rng.standard_normal((4, 4)))) for _ in range(3)]
    X, Y = regression(4, 6, rng)
    a, b = both(Ws, X, Y, lr=0.02, structure=structure)
    assert b.coefficients is not None and structure.contains(b.weights[1])


def test_convolution_mixed_with_dense_layers_and_the_identity():
    rng = np.random.default_rng(5)
    conv = Convolution(3, 3)
    delta = np.zeros(9)
    delta[4] = 1.0
    Ws = [conv.matrix(delta + 0.1 * rng.standard_normal(9)), np.eye(9) + 0.05 * rng.standard_normal((9, 9))]
    X, Y = regression(9, 12, rng)
    both(Ws, X, Y, lr=0.02, structure=[conv, None], steps=3000)
    both(Ws, None, Y[:, :9], lr=0.02, structure=[conv, None], steps=3000)


@pytest.fixture(params=["member-by-member", "side-by-side"])
def path(request, monkeypatch):
    """A stack runs member by member (`_chunk`), or with the members side by side (`_batched`), as a stack of at
    least `_compiled._BATCH_MIN` members of small dense layers does."""
    if request.param == "side-by-side":
        monkeypatch.setattr(_compiled, "_BATCH_MIN", 2)
        monkeypatch.setattr(_compiled, "_BATCH_THREADS", 1024)
    else:
        monkeypatch.setattr(_compiled, "_BATCH_MAX", 0)
    return request.param


@pytest.mark.parametrize("per_member", ["shared", "X", "Y", "both"])
def test_ensembles(per_member, path, monkeypatch):
    if per_member == "both":  # the members on several threads (prange), as a larger ensemble runs
        monkeypatch.setattr(_compiled, "_PARALLEL_MIN", 0)
    rng = np.random.default_rng(6)
    S = 3
    Ws = near_identity(4, 3, rng, S=S)
    X, Y = regression(4, 6, rng)
    if per_member in ("X", "both"):
        X = X + 0.1 * rng.standard_normal((S, 4, 6))
    if per_member in ("Y", "both"):
        Y = Y + 0.1 * rng.standard_normal((S, 4, 6))
    both(Ws, X, Y, lr=[0.01, 0.02, 0.015], record=50, metrics="alignment")
    both(Ws, None, Y[..., :4], lr=[0.01, 0.02, 0.015], steps=2000, loss="mean_squared")  # on the identity


@pytest.mark.parametrize("S", [None, 3])
def test_products_large_enough_for_blas(S):
    """Products of at least `_compiled._BLAS_MIN` multiply-adds go to BLAS (dgemm, every transpose): the
    benchmark's problem (k = n = 9, d = 4) and a stack at k = 12."""
    rng = np.random.default_rng(15)
    k = 9 if S is None else 12
    assert k**3 >= _compiled._BLAS_MIN
    Ws = near_identity(k, 4, rng, S=S)
    X, Y = regression(k, k, rng)
    both(Ws, X, Y, lr=0.01, steps=3000, record=10)


def test_a_large_stack_of_small_layers_runs_side_by_side():
    """At the default thresholds and on one thread, a 20-member stack of 5 x 5 layers runs side by side (20 is
    not a multiple of the vector width: the remainder too), with per-member data; on more threads, member by
    member."""
    rng = np.random.default_rng(13)
    Ws = near_identity(5, 3, rng, S=20)
    X, Y = regression(5, 7, rng, S=20)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        stepper = _compiled.Stepper(Ws, X, losses._RAW["squared"], Y, [None] * 3)
        assert stepper.batched and all(np.shares_memory(p, stepper.theta) for p in stepper.params)
        both(Ws, X, Y, lr=np.linspace(0.01, 0.03, 20), steps=3000, record=100)
    finally:
        numba.set_num_threads(threads)
    if threads > 1:
        assert not _compiled.Stepper(Ws, X, losses._RAW["squared"], Y, [None] * 3).batched


@pytest.mark.parametrize("loss", ["logistic", "exponential", "cross_entropy"])
def test_classifier_stacks(loss, path):
    rng = np.random.default_rng(14)
    X, y = separable(10, rng, S=3)
    if loss == "cross_entropy":
        y = np.concatenate([(y > 0), (y < 0)], axis=-2).astype(float)
    Ws = [0.5 * rng.standard_normal((3, 3, 3)), 0.5 * rng.standard_normal((3, y.shape[-2], 3))]
    both(Ws, X, y, lr=0.05, loss=loss, steps=3000)


def test_ensemble_of_structured_classifiers():
    rng = np.random.default_rng(7)
    X, y = separable(10, rng, S=2)
    t = Toeplitz(3)
    Ws = [np.stack([t.matrix(0.3 * rng.standard_normal(5)) for _ in range(2)]), 0.5 * rng.standard_normal((2, 1, 3))]
    both(Ws, X, y, lr=0.05, loss="logistic", structure=[t, None])


def test_schedules_depending_on_the_step_and_on_the_loss(monkeypatch):
    rng = np.random.default_rng(8)
    Ws = near_identity(3, 2, rng)
    X, Y = regression(3, 5, rng)
    both(Ws, X, Y, lr=lambda t, v: 0.03 / (1 + t / 500), steps=2000, record=1)
    calls = []  # a step-only schedule runs in chunks up to the next record, the rates evaluated beforehand
    run = _compiled.Stepper.run
    monkeypatch.setattr(_compiled.Stepper, "run", lambda self, L, *a: calls.append(L) or run(self, L, *a))
    both(Ws, X, Y, lr=schedules.constant(0.02), steps=2000, record=100, metrics="alignment", record_metrics=500)
    both(Ws, X, Y, lr=lambda t, v: 0.03 / (1 + t / 500), steps=2000, record=37)
    assert max(calls) == 500 and len(calls) == 4 + 2000 // 37 + 1
    S3 = near_identity(3, 2, rng, S=3)
    both(S3, X, Y, lr=lambda t, v: 0.03 / (1 + t / 500) * np.array([1.0, 0.8, 0.6]), steps=1000, record=9)
    with pytest.raises(ValueError, match="lr\\(step, loss\\) at step 700 must be a positive number"):
        train(Ws, X, Y, lr=lambda t, v: 0.02 if t < 700 else -1.0, steps=2000, engine="compiled", progress=False)
    X, y = separable(10, rng)
    Ws = [0.5 * rng.standard_normal((3, 3)), 0.5 * rng.standard_normal((1, 3))]
    both(Ws, X, y, lr=lambda t, v: 0.05 * min(np.log(2) / v, 20.0), loss="logistic", steps=2000)
    S3 = near_identity(3, 2, rng, S=3)
    calls.clear()
    both(S3, X[:, :5] * 0 + regression(3, 5, rng)[0], Y, lr=lambda t, v: 0.02 + 0.001 * np.tanh(v), steps=1000)
    assert calls == [1] * 1000  # a schedule that reads the loss: one step per chunk


@pytest.mark.parametrize(("lr", "cap"), [(0.02, 10.0), (0.01, np.inf)])  # steps below the edge: not chaotic
def test_an_inverse_risk_schedule_runs_inside_the_loop(lr, cap, monkeypatch):
    """`schedules.inverse_risk` (chapter 02's step sizes, which read the loss) runs in chunks up to the next record,
    its rates computed in the loop: the same losses and rates as the numpy engine's, which calls the schedule.
    Any other schedule that reads the loss still runs one step per chunk."""
    from deeplinear.separable import OnData

    rng = np.random.default_rng(17)
    X, y = separable(10, rng)
    Ws = [0.5 * rng.standard_normal((3, 3)), 0.5 * rng.standard_normal((1, 3))]
    calls = []
    run = _compiled.Stepper.run
    monkeypatch.setattr(_compiled.Stepper, "run", lambda self, L, *a: calls.append(L) or run(self, L, *a))
    schedule = schedules.inverse_risk(lr, cap=cap)
    a, b = both(Ws, X, y, lr=schedule, loss="logistic", steps=2000, record=100)
    np.testing.assert_allclose(b.history.lr, a.history.lr, rtol=RTOL)
    assert b.history.lr[-1] > 5 * b.history.lr[0]  # the rates grew as the risk fell: the loop computed them
    assert len(calls) == 2000 // 100
    calls.clear()
    like = lambda t, v: schedule(t, v)  # noqa: E731 - the same rates, not marked: one step per chunk
    both(Ws, X, y, lr=like, loss="logistic", steps=300, record=100)
    assert calls == [1] * 300
    calls.clear()
    Ws3 = near_identity(3, 3, rng)
    Ws3[-1] = 0.5 * rng.standard_normal((1, 3))
    a, _ = both(Ws3, None, None, lr=schedules.inverse_risk(0.01, loss="exponential", cap=3.0),
                loss=OnData(X, y, "exponential"), steps=3000, record=[0, 1500, 3000], stop_below=1e-2)  # fmt: skip
    assert 1500 < a.history.steps[-1] < 3000 and len(calls) == 2  # stopped inside the second chunk


def test_an_inverse_risk_rate_that_is_not_finite_ends_the_chunk_before_its_step():
    """In the loop, a rate that overflows (lr l(0) / R = inf) ends the chunk before its step, the steps before it
    made: the driver then asks the schedule itself at that step, which raises the numpy engine's error."""
    rng = np.random.default_rng(18)
    X, y = separable(10, rng)
    Ws = [0.5 * rng.standard_normal((3, 3)), 0.5 * rng.standard_normal((1, 3))]
    stepper = _compiled.Stepper(Ws, X, losses._RAW["logistic"], y, [None] * 2)
    stepper.start()
    rates = np.full((3, 1), 0.01)
    out, status = stepper.run(3, rates, np.array([np.inf]), -np.inf, False, ir=np.array([1e300, 1e10, np.inf]))
    assert status.tolist() == [[1, _compiled._BAD_RATE]] and np.isfinite(out[0, 0]) and rates[1, 0] == 0.01
    out, status = stepper.run(3, rates, np.array([np.inf]), -np.inf, False, ir=np.array([0.01, 1.0, 2.0]))
    assert status.tolist() == [[3, _compiled._RUNNING]]
    assert rates[1, 0] == 0.01 * min(1.0 / out[0, 0], 2.0) and rates[2, 0] == 0.01 * min(1.0 / out[1, 0], 2.0)


def test_which_schedules_are_step_only():
    def captures(t, v):
        return (lambda: v)()

    def overwrites(t, v):
        v = 0.1
        return v

    cases = {
        schedules.constant(0.1): True,
        schedules.inverse_risk(0.1): False,
        (lambda t, v: 0.1 / (1 + t)): True,
        (lambda t, v: 0.1 * v): False,
        (lambda t, v: locals()["v"]): False,
        (lambda t, v, c=1: c * t): False,  # not two parameters: not checked
        captures: False,
        overwrites: False,  # conservative: a name stored and read counts as read
        np.maximum: False,  # not a Python function
    }
    for fn, expected in cases.items():
        assert _compiled.step_only(fn) is expected, fn

    def said(t, v):
        return 0.1

    said.step_only = False  # a schedule that says so wins over the inspection (as a callable object can)
    assert not _compiled.step_only(said)
    said.step_only = "yes"  # not a bool: ignored
    assert _compiled.step_only(said)


@pytest.mark.parametrize("S", [None, 3])
def test_stop_below_stops_at_the_same_step(S, path):
    rng = np.random.default_rng(9)
    Ws = near_identity(4, 3, rng, S=S)
    X, Y = regression(4, 6, rng)
    lr = 0.02 if S is None else [0.01, 0.02, 0.03]  # members cross the threshold at different steps
    a, b = both(Ws, X, Y, lr=lr, stop_below=1e-5, metrics="balancedness")
    assert 0 < a.history.steps[-1] < STEPS
    assert np.all(a.history.loss[-1] < 1e-5) and not np.all(a.history.loss[-2] < 1e-5)
    if S is not None:  # one member had crossed much earlier: the stop waits for all
        crossed = [int(np.argmax(a.history.loss[:, s] < 1e-5)) for s in range(S)]
        assert len(set(crossed)) > 1


@pytest.mark.parametrize("S", [None, 3])
def test_divergence_at_the_same_step(S, path):
    rng = np.random.default_rng(10)
    Ws = near_identity(4, 3, rng, S=S, eps=0.3)
    X, Y = regression(4, 6, rng)
    X = 3 * X
    lr = 0.5 if S is None else [0.001, 0.5, 0.4]
    errors = []
    for engine in ("numpy", "compiled"):
        with pytest.raises(TrainingDiverged) as info:
            train(Ws, X, Y, lr=lr, steps=STEPS, record=1, engine=engine, progress=False)
        errors.append(info.value)
    a, b = errors
    assert a.step > 1 and (a.step, a.member, a.lr) == (b.step, b.member, b.lr)
    assert str(a) == str(b) or abs(a.loss - b.loss) <= 1e-12 * abs(a.loss)
    np.testing.assert_array_equal(b.history.steps, a.history.steps)
    np.testing.assert_allclose(b.history.loss, a.history.loss, rtol=RTOL)


def test_user_callable_loss_runs_on_the_numpy_engine():
    rng = np.random.default_rng(11)
    Ws = near_identity(3, 2, rng)
    M = rng.standard_normal((5, 3, 3))
    sensing = losses.MatrixSensing(M, np.einsum("nij,ij->n", M, np.eye(3)))
    a = train(Ws, None, None, lr=0.01, steps=200, loss=sensing, engine="numpy", progress=False)
    b = train(Ws, None, None, lr=0.01, steps=200, loss=sensing, engine="compiled", progress=False)
    for Wa, Wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(Wb, Wa)


def test_auto_runs_small_networks_compiled():
    rng = np.random.default_rng(12)
    Ws = near_identity(3, 2, rng)
    X, Y = regression(3, 5, rng)
    compiled = train(Ws, X, Y, lr=0.02, steps=300, engine="compiled", progress=False)
    auto = train(Ws, X, Y, lr=0.02, steps=300, engine="auto", progress=False)
    for Wa, Wb in zip(compiled.weights, auto.weights):
        np.testing.assert_array_equal(Wb, Wa)


def test_engine_is_checked(monkeypatch):
    with pytest.raises(ValueError, match="engine must be one of 'numpy', 'compiled', 'auto'"):
        train([np.eye(2)], np.eye(2), np.eye(2), lr=0.1, steps=1, engine="numba")
    monkeypatch.setenv("DEEPLINEAR_ENGINE", "fast")
    with pytest.raises(ValueError, match="DEEPLINEAR_ENGINE must be one of numpy, compiled, auto .*'fast'"):
        train([np.eye(2)], np.eye(2), np.eye(2), lr=0.1, steps=1)


@pytest.mark.parametrize(("env", "small", "large"), [(None, True, False), ("numpy", False, False),
                                                     (" Compiled", True, True), ("auto", True, False)])  # fmt: skip
def test_the_default_engine_is_auto_unless_the_environment_says(env, small, large, monkeypatch):
    """``engine=None`` (train's default) is DEEPLINEAR_ENGINE, "auto" where unset: compiled for small products,
    numpy above 64³ multiply-adds and for a callable loss."""
    from deeplinear._engine import _compiled_engine

    if env is None:
        monkeypatch.delenv("DEEPLINEAR_ENGINE", raising=False)
    else:
        monkeypatch.setenv("DEEPLINEAR_ENGINE", env)
    squared = losses._RAW["squared"]
    for k, want in ((9, small), (65, large)):
        X, layers = np.ones((k, k)), [np.eye(k)] * 2
        assert (_compiled_engine(None, squared, X, layers, [None] * 2) is _compiled) is want
    X, layers = np.ones((3, 3)), [np.eye(3)] * 2
    assert _compiled_engine(None, lambda F, Y: (0.0, F), X, layers, [None] * 2) is None


def test_auto_decides_on_a_large_network_without_importing_numba():
    """A run that "auto" leaves to the numpy engine (products above 64³ multiply-adds: chapter 08's networks) does
    not pay numba's import (about half a second, which chapter 08's timing of ten steps would count)."""
    import subprocess

    code = (
        "import sys, numpy as np\n"
        "from deeplinear import train\n"
        "train([np.eye(65)] * 2, np.ones((65, 65)), np.ones((65, 65)), lr=1e-6, steps=2, progress=False)\n"
        "assert 'numba' not in sys.modules, 'numba imported'\n"
        "train([np.eye(3)] * 2, np.ones((3, 3)), np.ones((3, 3)), lr=1e-3, steps=2, progress=False)\n"
        "assert 'numba' in sys.modules, 'the small run did not compile'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


def test_compiled_without_numba_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    monkeypatch.delitem(sys.modules, "deeplinear._compiled", raising=False)
    monkeypatch.delattr(deeplinear, "_compiled", raising=False)
    with pytest.raises(ImportError, match="numba"):
        train([np.eye(2)], np.eye(2), np.eye(2), lr=0.1, steps=1, engine="compiled")
    auto = train([np.eye(2)], np.eye(2), 2 * np.eye(2), lr=0.1, steps=3, engine="auto", progress=False)
    assert auto.history.steps[-1] == 3  # "auto" falls back to the numpy engine
