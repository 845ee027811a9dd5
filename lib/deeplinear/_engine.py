"""The training engine (private): data and loss resolution, forward and backward passes, the kernels
that turn a loss into a learning-rate-scaled gradient in preallocated buffers, the stepper that updates
the layers in place, and the recorder that stores loss, learning rate and metrics on a schedule.

`deeplinear.network` (the public passes), `deeplinear.training` (`train`) and nothing else use it.
A loss (`deeplinear.losses`) returns ``(value, dL/dF)`` and knows nothing of learning rates; the
kernels here do the scaling.

Data may be shared by all members of a stacked network (X ``(k_0, n)``, Y ``(k_d, n)``) or given per
member (X ``(S, k_0, n)``, Y ``(S, k_d, n)``, either or both).

It is longer than the package's other modules because it is one algorithm, a gradient step in preallocated
buffers, whose pieces share those buffers and are timed together (benchmarks/speed.py).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping

import numpy as np

from . import _validate
from ._auto import AUTO_MAX, largest_product
from .losses import _RAW, LOSSES, _raw, _squared
from .metrics import REGISTRY, layer_svds
from .recording import _NEVER, History

LossFn = Callable[[np.ndarray, np.ndarray], tuple]

_RESERVED = tuple(f.name for f in dataclasses.fields(History) if f.name != "metrics")  # not metric names


# -- data and losses ----------------------------------------------------------------------------
def _inputs(X, k0: int, S: int | None) -> np.ndarray | None:
    """Validate X of shape (k_0, n), or (S, k_0, n) per member of a stacked network; None passes."""
    if X is None:
        return None
    per = "" if S is None else f", or ({S}, {k0}, n) per member"
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"X must be an array of shape (k_0, n) = ({k0}, n){per}") from err
    ok = X.ndim == 2 or (S is not None and X.ndim == 3 and X.shape[0] == S)
    if not ok or X.shape[-2] != k0 or X.shape[-1] < 1:
        raise ValueError(f"X must have shape (k_0, n) = ({k0}, n){per} with n >= 1 to match W_1, got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X must contain only finite entries")
    return X


def _labels_pm1(Y: np.ndarray, loss: str) -> None:
    if Y.shape[-2] != 1:
        raise ValueError(f"Y must have shape (1, n) for loss={loss!r} (one output, labels +-1), got {Y.shape}")
    if not np.all(np.abs(Y) == 1):
        raise ValueError(f"Y must contain labels +1 or -1 for loss={loss!r}")


def _resolve(loss, Y, out_shape: tuple[int, int], S: int | None = None) -> tuple[LossFn, np.ndarray | None]:
    """Validate ``loss`` and ``Y`` for a network with output shape ``(k_d, n)`` (S members, or None).

    Returns the loss callable and ``Y`` as a float64 array, ``(k_d, n)`` or ``(S, k_d, n)`` per member
    (passed through unchanged for a user callable, which validates its own ``Y``).
    """
    if callable(loss):
        check = getattr(loss, "validate", None)
        if check is not None:
            check(out_shape, Y)
        members = getattr(loss, "members", None)
        if members is not None and members != S:
            got = "an unstacked network" if S is None else f"a stacked network of S = {S}"
            raise ValueError(f"loss {loss!r} holds data for S = {members} members, but got {got}")
        return _raw(loss), Y
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)} or a callable (F, Y) -> (value, dL/dF), got {loss!r}")
    per = "" if S is None else f", or {(S, *out_shape)} per member"
    try:
        Y = np.asarray(Y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"Y must be an array of shape {tuple(out_shape)}{per}") from err
    if Y.shape != tuple(out_shape) and (S is None or Y.shape != (S, *out_shape)):
        raise ValueError(f"Y must have shape (k_d, n) = {tuple(out_shape)}{per}, got {Y.shape}")
    if not np.isfinite(Y).all():
        raise ValueError("Y must contain only finite entries")
    if loss in ("logistic", "exponential"):
        _labels_pm1(Y, loss)
    elif loss == "cross_entropy":
        if not (np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=-2) == 1)):
            raise ValueError("Y must have one-hot columns (entries 0/1, one 1 per column) for loss='cross_entropy'")
    return _RAW[loss], Y


def _setup(Ws, X, Y, loss, copy: bool = False):
    """Validated layers, S, X, loss callable and Y of a (stacked) network and its data."""
    layers, S = _validate.network(Ws, copy=copy)
    X = _inputs(X, layers[0].shape[-1], S)
    n = layers[0].shape[-1] if X is None else X.shape[-1]
    fn, Y = _resolve(loss, Y, (layers[-1].shape[-2], n), S)
    return layers, S, X, fn, Y


def _checked(fn, F: np.ndarray, value, dF) -> tuple:
    """Check a loss callable's output for F: value shape () or (S,), dL/dF of F's shape."""
    value, dF = np.asarray(value, dtype=np.float64), np.asarray(dF, dtype=np.float64)
    if value.shape != F.shape[:-2] or dF.shape != F.shape:
        raise ValueError(
            f"loss {fn!r} must return (value, dL/dF) with shapes {F.shape[:-2]} and "
            f"{F.shape}, got {value.shape} and {dF.shape}"
        )
    return value, dF


def _forward(layers: list[np.ndarray], X: np.ndarray | None) -> list[np.ndarray]:
    acts = [np.eye(layers[0].shape[-1]) if X is None else X]
    for W in layers:
        acts.append(W @ acts[-1])
    return acts


def _backward(layers: list[np.ndarray], acts: list[np.ndarray], D: np.ndarray) -> list[np.ndarray]:
    grads = [D] * len(layers)
    for i in range(len(layers) - 1, -1, -1):
        grads[i] = D @ np.swapaxes(acts[i], -1, -2)
        if i:
            D = np.swapaxes(layers[i], -1, -2) @ D
    return grads


def _rowdots(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Row-wise dot products of two (S, m) arrays (np.vecdot where numpy has it: twice as fast)."""
    return np.vecdot(A, B) if hasattr(np, "vecdot") else np.einsum("ij,ij->i", A, B)


# -- kernels: value(F), then grad(lr) writes lr * dL/dF into their buffer `out` -------------------
class _Kernel:
    """Any loss callable; `value` keeps dL/dF for `grad`."""

    def __init__(self, fn: LossFn, Y, shape: tuple[int, ...]) -> None:
        self.fn, self.Y, self.out = fn, Y, np.zeros(shape)
        self.dF, self.stacked, self.checked = self.out, len(shape) == 3, False

    def value(self, F: np.ndarray):
        v, self.dF = self.fn(F, self.Y)
        if not self.checked:  # first call: check what a user's callable returns
            v, self.dF = _checked(self.fn, F, v, self.dF)
            self.checked = True
        return np.asarray(v, dtype=np.float64) if self.stacked else float(v)

    def grad(self, lr) -> None:
        np.multiply(self.dF, lr, out=self.out)


class _SquaredKernel(_Kernel):
    """Squared loss with the residual kept in `out` (no allocation per step); Y shared or per member."""

    def __init__(self, Y: np.ndarray, shape: tuple[int, ...]) -> None:
        super().__init__(_squared, Y, shape)
        self.flat = self.out.reshape(shape[0], -1) if self.stacked else self.out.reshape(-1)
        self.half_inv_n, self.inv_n = 0.5 / shape[-1], 1.0 / shape[-1]

    def value(self, F: np.ndarray):
        np.subtract(F, self.Y, out=self.out)
        r = self.flat
        return (_rowdots(r, r) if self.stacked else float(r @ r)) * self.half_inv_n

    def grad(self, lr) -> None:
        np.multiply(self.out, lr * self.inv_n, out=self.out)


class _GramKernel(_Kernel):
    """Squared loss as a function of the end-to-end matrix P, through C = X X^T and B = Y X^T.

    ``(1/2n)||P X - Y||^2 = (1/2n)(||Y||^2 - 2<P, B> + <P C, P>)`` with gradient ``(P C - B)/n``:
    an exact rewrite, cheaper when n > k_0. Where cancellation would cost accuracy (the value
    below 1e-4 of its terms), the value is recomputed from the residual ``P X - Y``. X and Y may be
    shared or per member; then C, B and ||Y||^2 are per member too.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, shape: tuple[int, ...]) -> None:
        super().__init__(_squared, Y, shape)
        shared_X, shared_Y = X.ndim == 2, Y.ndim == 2
        XT = X.T if shared_X else np.swapaxes(X, -1, -2)
        self.X, self.C, self.B = X, X @ XT, Y @ XT
        self.yy = float(np.sum(Y * Y)) if shared_Y else np.sum(Y * Y, axis=(-2, -1))
        self.n, self.shared_C = X.shape[-1], shared_X
        self.PC = np.empty(shape)
        self.rows = (self.PC.size // shape[-1], shape[-1])  # P as one matrix for one product with C
        self.views = None

    def _flat(self, A: np.ndarray) -> np.ndarray:
        return A.reshape(A.shape[0], -1) if self.stacked else A.reshape(-1)

    def _dots(self, A: np.ndarray, B: np.ndarray):
        """<A, B>_F per member of flat views; B may be shared (1-D)."""
        if not self.stacked:
            return float(A @ B)
        return A @ B if B.ndim == 1 else _rowdots(A, B)

    def value(self, P: np.ndarray):
        if self.views is None:  # P is the trainer's output buffer, updated in place: view it once
            if not P.flags.c_contiguous:
                raise RuntimeError("the end-to-end buffer must be C-contiguous")
            Bf = self.B.reshape(-1) if self.B.ndim == 2 else self._flat(self.B)
            self.views = (P.reshape(self.rows), self._flat(P), self._flat(self.PC), Bf)
        Prows, Pf, PCf, Bf = self.views
        if self.shared_C:
            np.dot(Prows, self.C, out=self.PC.reshape(self.rows))
        else:
            np.matmul(P, self.C, out=self.PC)
        t1, t2 = self._dots(Pf, Bf), self._dots(PCf, Pf)
        v = self.yy - 2.0 * t1 + t2
        scale = self.yy + 2.0 * (np.abs(t1) if self.stacked else abs(t1)) + t2
        if np.any(v < 1e-4 * scale) if self.stacked else v < 1e-4 * scale:
            R = self._flat(P @ self.X - self.Y)
            v = self._dots(R, R)
        return v * (0.5 / self.n)

    def grad(self, lr) -> None:
        np.subtract(self.PC, self.B, out=self.out)
        np.multiply(self.out, lr / self.n, out=self.out)


_GRAM_MIN_SAVING = 30_000  # multiply-adds per step the X X^T route must save to pay its overhead


def _kernel(fn: LossFn, X: np.ndarray | None, Y, out_shape: tuple[int, ...], weights: int) -> tuple[_Kernel, bool]:
    """The trainer's kernel for `fn` and the output shape lead + (k_d, n); the flag says whether
    the network runs on the identity instead of X (always when X is None). `weights` is the
    number of weights of all layers (all members): the X X^T route saves about that many
    multiply-adds per column of X beyond k_0, and pays a few more numpy calls per step."""
    fn = _raw(fn)
    if (
        fn is _squared
        and X is not None
        and X.shape[-1] > 2 * X.shape[-2]
        and (X.shape[-1] - X.shape[-2]) * weights > _GRAM_MIN_SAVING
    ):
        return _GramKernel(X, Y, (*out_shape[:-1], X.shape[-2])), True
    if fn is _squared:
        return _SquaredKernel(Y, out_shape), X is None
    return _Kernel(fn, Y, out_shape), X is None


# -- the stepper --------------------------------------------------------------------------------
def _s_apply(s, c, A, out):
    np.copyto(out, s.apply(c, A))


def _s_apply_transpose(s, c, D, out):
    np.copyto(out, s.apply_transpose(c, D))


def _s_update(s, c, D, A):
    np.subtract(c, s.outer_adjoint(D, A), out=c)


def _product(W: np.ndarray, A: np.ndarray, out: np.ndarray) -> tuple:
    """One op (func, args) writing W @ A into out: np.dot for 2-D, one flat np.dot for a stack
    times a shared matrix, np.matmul for stack times stack."""
    if W.ndim == 2:
        return np.dot, (W, A, out)
    if A.ndim == 2:
        return np.dot, (W.reshape(-1, W.shape[-1]), A, out.reshape(-1, out.shape[-1]))
    return np.matmul, (W, A, out)


class _Stepper:
    """Gradient descent with preallocated buffers: `forward()` returns the loss of the current
    weights and keeps the activations; `step(lr)` back-propagates lr * dL/dF and updates in place.

    `layers` are owned C-contiguous copies; `structures` has one entry per layer (None = dense),
    and a structured layer is stored as its coefficients (Paper: Definition 4, Theorem 2).
    X is None, shared (k_0, n) or per member (S, k_0, n).
    """

    def __init__(self, layers, X, fn, Y, structures) -> None:
        lead = layers[0].shape[:-2]
        n = layers[0].shape[-1] if X is None else X.shape[-1]
        self.kernel, identity = _kernel(fn, X, Y, (*lead, layers[-1].shape[-2], n), sum(W.size for W in layers))
        self.structures = structures
        # all-dense networks keep their layers (and gradients) as views of one flat buffer, so
        # that one subtraction updates every layer
        flat = all(s is None for s in structures) and not (identity and len(layers) == 1)
        if flat:
            sizes = np.cumsum([0] + [W.size for W in layers])
            self.flat_W = np.concatenate([W.reshape(-1) for W in layers])
            self.flat_G = np.empty_like(self.flat_W)
            self.params, grads = (
                [buf[a:b].reshape(W.shape) for a, b, W in zip(sizes, sizes[1:], layers)]
                for buf in (self.flat_W, self.flat_G)
            )
        else:
            self.params = [
                W if s is None else np.array(s.coefficients(W), dtype=np.float64) for W, s in zip(layers, structures)
            ]
        A0 = np.ascontiguousarray(X) if not identity else None
        XT = None if A0 is None else np.ascontiguousarray(np.swapaxes(A0, -1, -2))  # dL/dW_1 without a transpose
        if identity and structures[0] is not None:
            A0 = np.eye(layers[0].shape[-1])
        acts, self.fwd, self.bwd = [A0], [], []
        for i, (p, s) in enumerate(zip(self.params, structures)):
            if i == 0 and A0 is None:  # dense first layer on the identity: A_1 = W_1
                acts.append(p)
                continue
            A = np.empty((*lead, layers[i].shape[-2], self.kernel.out.shape[-1]))
            self.fwd.append((_s_apply, (s, p, acts[i], A)) if s is not None else _product(p, acts[i], A))
            acts.append(A)
        self.F = acts[-1]
        D = self.kernel.out
        for i in range(len(layers) - 1, -1, -1):
            p, s, A = self.params[i], structures[i], acts[i]
            Dprev = None
            if i:  # on the identity, dL/dW_1 = D_1: back-propagate straight into its gradient
                Dprev = grads[0] if flat and i == 1 and A0 is None else np.empty(acts[i].shape)
            if i and s is not None:
                self.bwd.append((_s_apply_transpose, (s, p, D, Dprev)))
            elif i:
                self.bwd.append(_product(np.swapaxes(p, -1, -2), D, Dprev))
            if s is not None:
                self.bwd.append((_s_update, (s, p, D, A)))
            elif A is None and not flat:
                self.bwd.append((np.subtract, (p, D, p)))
            elif A is not None:
                G = grads[i] if flat else np.empty(p.shape)
                self.bwd.append(_product(D, XT if i == 0 else np.swapaxes(A, -1, -2), G))
                if not flat:
                    self.bwd.append((np.subtract, (p, G, p)))
            D = Dprev
        if flat:
            self.bwd.append((np.subtract, (self.flat_W, self.flat_G, self.flat_W)))

    def forward(self):
        for f, args in self.fwd:
            f(*args)
        return self.kernel.value(self.F)

    def step(self, lr) -> None:
        self.kernel.grad(lr)
        for f, args in self.bwd:
            f(*args)

    def weights(self) -> list[np.ndarray]:
        """The current layers (the live arrays for dense layers)."""
        return [p if s is None else s.matrix(p) for p, s in zip(self.params, self.structures)]


# -- the recorder -------------------------------------------------------------------------------
class _SharesSVDs:
    """A named metric that takes ``svds=``: the recorder passes it the SVDs of the record (one per layer)."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def __call__(self, Ws, svds=None):
        return self.fn(Ws, svds=svds)


def _metric_fns(metrics, initial: list[np.ndarray]) -> list[tuple[str, Callable]]:
    if isinstance(metrics, Mapping):
        items = list(metrics.items())
        bad = [k for k, f in items if not isinstance(k, str) or not callable(f)]
        if bad:
            raise ValueError(f"metrics must map names to callables fn(Ws), got bad entries {bad!r}")
    else:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [name for name in names if not isinstance(name, str) or name not in REGISTRY]
        if unknown:
            raise ValueError(
                f"metrics: {', '.join(map(repr, unknown))} not among the named metrics "
                f"{', '.join(REGISTRY)}; pass a mapping name -> fn(Ws) for any other"
            )
        items = [
            (name, _SharesSVDs(REGISTRY[name](initial)) if REGISTRY[name].shares_svds else REGISTRY[name](initial))
            for name in names
        ]
    clash = [k for k, _ in items if k in _RESERVED]
    if clash:
        raise ValueError(f"metrics names must differ from {_RESERVED}, got {clash}")
    return items


class _Schedule:
    """The steps at which something is recorded, with a cursor at the next one."""

    def __init__(self, steps: np.ndarray) -> None:
        self.ticks = np.asarray(steps, dtype=int).tolist()  # Python ints: cheap to compare with the step
        self.j = 0
        self.next = self.ticks[0] if self.ticks else _NEVER

    def advance(self) -> None:
        self.j += 1
        self.next = self.ticks[self.j] if self.j < len(self.ticks) else _NEVER

    def end_at(self, t: int) -> None:
        """Make step ``t`` the last one (an early stop): drop later steps, add ``t`` if not yet recorded."""
        del self.ticks[self.j :]
        if not self.ticks or self.ticks[-1] != t:
            self.ticks.append(t)
        self.next = self.ticks[self.j] if self.j < len(self.ticks) else _NEVER

    def recorded(self) -> np.ndarray:
        return np.asarray(self.ticks[: self.j], dtype=int)


class _Recorder:
    """Stores loss and lr at the record steps and metrics at the metric steps; drives the progress bar."""

    def __init__(self, steps: int, schedule, metric_schedule, metric_fns, stepper, progress) -> None:
        self.steps, self.fns, self.stepper = steps, metric_fns, stepper
        self.rec, self.met = _Schedule(schedule), _Schedule(metric_schedule)
        self.loss, self.lr, self.values = None, None, {}
        env_off = os.environ.get("DEEPLINEAR_PROGRESS", "").strip().lower() in ("0", "false", "no", "off")
        self.auto = progress is None
        self.next_prog = 1 if (progress or (progress is None and not env_off)) and steps else _NEVER
        self.bar, self.t0 = None, time.perf_counter()

    def next_event(self) -> int:
        pending = [e for e in (self.rec.next, self.met.next, self.next_prog) if e != _NEVER]
        return min(pending) if pending else _NEVER

    def __call__(self, t: int, v, lr) -> int:
        if t == self.rec.next:
            if self.loss is None:  # one spare row for an early stop off the schedule
                T = len(self.rec.ticks) + 1
                self.loss, self.lr = np.empty((T, *np.shape(v))), np.empty((T, *np.shape(lr)[:1]))
            self.loss[self.rec.j] = v
            self.lr[self.rec.j] = lr if isinstance(lr, float) else lr.reshape(-1)
            self.rec.advance()
        if t == self.met.next:
            if self.fns:
                Ws = self.stepper.weights()
                shared = [fn for _, fn in self.fns if isinstance(fn, _SharesSVDs)]
                svds = layer_svds(Ws) if shared else None  # one SVD per layer, for every metric that needs it
                for name, fn in self.fns:
                    value = np.asarray(fn(Ws, svds) if isinstance(fn, _SharesSVDs) else fn(Ws), dtype=np.float64)
                    if name not in self.values:
                        self.values[name] = np.full((len(self.met.ticks) + 1, *value.shape), np.nan)
                    self.values[name][self.met.j] = value
            self.met.advance()
        if t == self.next_prog:
            self._progress(t, v)
        return self.next_event()

    def stop(self, t: int, v, lr) -> None:
        """Record step ``t`` as the last one (an early stop), whether or not it was scheduled."""
        self.rec.end_at(t)
        self.met.end_at(t)
        if t in (self.rec.next, self.met.next):
            self(t, v, lr)

    def _progress(self, t: int, v) -> None:
        elapsed = time.perf_counter() - self.t0
        if self.bar is None:
            if self.auto and elapsed < 0.05 and t < self.steps:
                self.next_prog = 2 * t
                return
            if self.auto and elapsed * self.steps / t < 3.0:
                self.next_prog = _NEVER
                return
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.steps, initial=t, desc="train", leave=False, unit="step")
        self.bar.update(t - self.bar.n)
        self.bar.set_postfix(loss=f"{np.max(v):.3e}", refresh=False)
        self.next_prog = min(self.steps, t + max(1, int(0.2 * t / max(elapsed, 1e-9))))
        if t == self.steps:
            self.next_prog = _NEVER

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def history(self) -> History:
        j, m = self.rec.j, self.met.j
        loss = self.loss[:j] if self.loss is not None else np.empty((0,))
        lr = self.lr[:j] if self.lr is not None else np.empty((0,))
        return History(
            steps=self.rec.recorded(),
            loss=loss,
            lr=lr,
            metrics={k: v[:m] for k, v in self.values.items()},
            metric_steps=self.met.recorded(),
        )


# -- which engine -------------------------------------------------------------------------------
ENGINES = ("numpy", "compiled", "auto")


def _compiled_engine(engine, fn, X, layers, structures):
    """The compiled engine's module (`deeplinear._compiled`) where ``engine`` asks for it and it covers the run
    (a named loss, known structures; for "auto" also small products and numba installed), else None: the
    numpy engine. ``engine=None`` reads DEEPLINEAR_ENGINE, "auto" where it is unset. ``engine="compiled"``
    without numba raises ImportError."""
    if engine is None:
        engine = os.environ.get("DEEPLINEAR_ENGINE", "").strip().lower() or "auto"
        if engine not in ENGINES:
            raise ValueError(
                f"the environment variable DEEPLINEAR_ENGINE must be one of {', '.join(ENGINES)} (or unset), "
                f"got {os.environ['DEEPLINEAR_ENGINE']!r}"
            )
    elif not isinstance(engine, str) or engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))} or None, got {engine!r}")
    if engine == "numpy":
        return None
    if engine == "auto" and largest_product(X, layers) > AUTO_MAX:  # decided before numba is imported
        return None
    try:
        from . import _compiled
    except ImportError as err:
        if engine == "auto":
            return None
        raise ImportError(
            "engine='compiled' needs the package numba (pip install numba); engine='numpy' or 'auto' runs without it"
        ) from err
    return _compiled if _compiled.covers(fn, X, layers, structures, auto=engine == "auto") else None
