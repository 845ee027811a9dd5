"""The compiled training engine (private): the gradient steps between two recording events in one numba call.

`deeplinear.training.train` uses it with ``engine="compiled"`` (or ``"auto"``) for the named losses; it is the
numpy engine's algorithm (`deeplinear._engine`) compiled: the same forward pass, loss, back-propagation and update
per step, the same divergence check and ``stop_below`` test at every step. Recording, metrics and the progress bar
stay in Python, between chunks: a chunk ends at the next metric step or progress update, and the loss of every step
of the chunk comes back, so that the recorded loss steps need no chunk boundary. A schedule ``lr(step, loss)`` that
never reads the loss (`step_only`: `deeplinear.schedules.constant`, ``lambda t, v: f(t)``) is evaluated into the
chunk's array of rates beforehand; one that reads it makes every chunk one step long.

Two layouts. Member by member (`_chunk`; one network, structured layers, larger products): state one row per
member (S = 1 for one network): ``theta`` holds every layer's parameters (a dense layer's entries row-major, a
structured layer's coefficients), ``wmat`` the matrices of the structured layers, ``acts`` the activations of
layers 1..d, ``dF`` the loss gradient dL/dF of the last forward pass (the residual for the squared loss, scaled at
the next step as the numpy engine does); the members of a large stack on their own threads (``prange``). Products
of at least `_BLAS_MIN` multiply-adds go to BLAS (dgemm, called straight through numba's entry point, `_gemm`),
smaller ones are loops. Side by side (`_batched`; a stack of at least `_BATCH_MIN` members of dense layers whose
products have at most `_BATCH_MAX` multiply-adds): the same arrays transposed, one row per entry and the member
index innermost, so that every loop runs over the members, contiguous and vectorised. Either way no fast-math:
each entry of a loop product is summed in order, so a result does not depend on the CPU's vector width, the
members' count or the thread count.
"""

from __future__ import annotations

import dis
import inspect
import types

import numpy as np
from llvmlite import ir
from numba import get_num_threads, njit, prange
from numba import types as nbtypes
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas, make_constant_slot

from ._auto import AUTO_MAX, largest_product
from .losses import _RAW
from .recording import _NEVER, TrainResult, _diverged
from .structures import Convolution, Sparse, Structure, Toeplitz, _Pattern

_DENSE, _PATTERN, _BASIS = 0, 1, 2  # layer kinds
_KIND, _M, _K, _POFF, _WOFF, _AOFF, _SOFF, _R, _NNZ = range(9)  # columns of the layers' table `meta`
_LOSS_CODES = {"squared": 0, "mean_squared": 1, "logistic": 2, "exponential": 3, "cross_entropy": 4}
_BLAS_MIN = 256  # multiply-adds of one product from which np.dot (BLAS) beats the loops (k = 9: twice as fast)
_PARALLEL_MIN = 2_000_000  # multiply-adds of a chunk from which its members run on several threads (about 1 ms)
# a stack of at least _BATCH_MIN members of dense layers whose products have at most _BATCH_MAX multiply-adds runs
# side by side (`_batched`: vector loops over the members) where numba has at most _BATCH_THREADS threads; with
# more, member by member on the threads (BLAS from k = 7 on) is faster (64 members, k = 9, 2 cores: 1.2 µs per
# network-step against 1.8 side by side; on one thread 1.9 side by side against 2.1)
_BATCH_MIN, _BATCH_MAX, _BATCH_THREADS = 16, 1200, 1
_PRIMITIVES = ("_matrix", "_adjoint", "_apply", "_apply_transpose", "_outer_adjoint")
_RUNNING, _DIVERGED, _STOPPED, _BAD_RATE = 0, 1, 2, 3
_NO_SCHEDULE = np.zeros(3)  # `_member`'s ir where no schedule is computed in the loop


# -- which runs it covers ----------------------------------------------------------------------------
def _kind(s) -> int | None:
    """The layer kind of a structure (None: dense), or None where the compiled engine does not know it."""
    if s is None:
        return _DENSE
    t = type(s)
    if isinstance(s, _Pattern) and (
        t in (Toeplitz, Sparse, Convolution) or all(getattr(t, a) is getattr(_Pattern, a) for a in _PRIMITIVES)
    ):
        return _PATTERN
    if all(getattr(t, a) is getattr(Structure, a) for a in _PRIMITIVES):
        return _BASIS
    return None


def _on_data(fn) -> bool:
    """Whether ``fn`` is a `deeplinear.separable.OnData`: a named loss of ``W_prod X`` (compiled as such)."""
    return type(fn).__name__ == "OnData" and type(fn).__module__ == "deeplinear.separable"


def _loss_name(fn) -> str | None:
    raw = fn.fn if _on_data(fn) else fn
    return next((name for name, f in _RAW.items() if raw is f), None)


def covers(fn, X, layers, structures, auto: bool = False) -> bool:
    """Whether the compiled engine runs this training: a named loss and known structures (and, for
    ``auto``, products small enough that Python's overhead, not BLAS, dominates the numpy engine)."""
    if _loss_name(fn) is None or any(s is not None and _kind(s) is None for s in structures):
        return False
    return not auto or largest_product(X, layers) <= AUTO_MAX


# -- compiled kernels ----------------------------------------------------------------------------------
ensure_blas()  # numba's BLAS entry point (scipy's dgemm), as np.dot uses it


@intrinsic
def _gemm(typingctx, ta, tb, m, n, k, a, ao, lda, b, bo, ldb, c, co, ldc):
    """Fortran dgemm: c[co:] (m, n, column-major) = op(a[ao:]) op(b[bo:]), op = transpose where ta or tb is
    ord("t") (ord("n"): none), straight into numba's BLAS entry point: np.dot's call without its checks."""
    sig = nbtypes.void(ta, tb, m, n, k, a, ao, lda, b, bo, ldb, c, co, ldc)

    def codegen(context, builder, signature, args):
        ta, tb, m, n, k, a, ao, lda, b, bo, ldb, c, co, ldc = args
        char, vp = ir.IntType(8), ir.IntType(8).as_pointer()
        intp = context.get_value_type(nbtypes.intp)
        fnty = ir.FunctionType(ir.IntType(32), [char] * 3 + [intp] * 3 + [vp, vp, intp, vp, intp, vp, vp, intp])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")

        def ptr(arr, ty, off):
            return builder.bitcast(builder.gep(context.make_array(ty)(context, builder, arr).data, [off]), vp)

        one = builder.bitcast(make_constant_slot(context, builder, nbtypes.float64, 1.0), vp)
        zero = builder.bitcast(make_constant_slot(context, builder, nbtypes.float64, 0.0), vp)
        at, bt, ct = signature.args[5], signature.args[8], signature.args[11]
        builder.call(fn, (ir.Constant(char, ord("d")), builder.trunc(ta, char), builder.trunc(tb, char), m, n, k, one,
                          ptr(a, at, ao), lda, ptr(b, bt, bo), ldb, zero, ptr(c, ct, co), ldc))  # fmt: skip
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def _mm(A, ao, m, K, B, bo, N, C, co):  # pragma: no cover - compiled
    """C[co:] (m, N) = A[ao:] (m, K) @ B[bo:] (K, N), all flat row-major."""
    if m * K * N >= _BLAS_MIN:  # column-major: C^T (N, m) = B^T (N, K) A^T (K, m)
        _gemm(110, 110, N, m, K, B, bo, N, A, ao, K, C, co, N)
        return
    for i in range(m):
        ci = co + i * N
        for j in range(N):
            C[ci + j] = 0.0
        for k in range(K):
            a = A[ao + i * K + k]
            bk = bo + k * N
            for j in range(N):
                C[ci + j] += a * B[bk + j]


@njit(cache=True)
def _mtm(A, ao, m, K, B, N, C):  # pragma: no cover - compiled
    """C (K, N) = A[ao:] (m, K)^T @ B (m, N)."""
    if m * K * N >= _BLAS_MIN:  # C^T (N, K) = B^T (N, m) A (m, K)
        _gemm(110, 116, N, K, m, B, 0, N, A, ao, K, C, 0, N)
        return
    for e in range(K * N):
        C[e] = 0.0
    for i in range(m):
        for k in range(K):
            a = A[ao + i * K + k]
            ck, bi = k * N, i * N
            for j in range(N):
                C[ck + j] += a * B[bi + j]


@njit(cache=True)
def _mmt(D, m, N, A, ao, K, G):  # pragma: no cover - compiled
    """G (m, K) = D (m, N) @ A[ao:] (K, N)^T."""
    if m * K * N >= _BLAS_MIN:  # G^T (K, m) = A (K, N) D^T (N, m)
        _gemm(116, 110, K, m, N, A, ao, N, D, 0, N, G, 0, K)
        return
    for e in range(m * K):
        G[e] = 0.0
    for i in range(m):  # independent sums over j, each in order
        gi = i * K
        for j in range(N):
            dij = D[i * N + j]
            for k in range(K):
                G[gi + k] += dij * A[ao + k * N + j]


@njit(cache=True)
def _materialize(i, meta, th, wm, pos, lab, basis):  # pragma: no cover - compiled
    """The matrix of structured layer i from its coefficients, into wm."""
    kind, mk, po, wo = meta[i, _KIND], meta[i, _M] * meta[i, _K], meta[i, _POFF], meta[i, _WOFF]
    so, r = meta[i, _SOFF], meta[i, _R]
    if kind == _PATTERN:
        for e in range(mk):
            wm[wo + e] = 0.0
        for q in range(meta[i, _NNZ]):
            wm[wo + pos[so + q]] = th[po + lab[so + q]]
    else:
        for e in range(mk):
            acc = 0.0
            for j in range(r):
                acc += th[po + j] * basis[so + j * mk + e]
            wm[wo + e] = acc


@njit(cache=True)
def _forward(th, wm, ac, x, ident, meta, pos, lab, basis, N):  # pragma: no cover - compiled
    for i in range(meta.shape[0]):
        kind, m, K, ao = meta[i, _KIND], meta[i, _M], meta[i, _K], meta[i, _AOFF]
        if kind == _DENSE:
            W, wo = th, meta[i, _POFF]
        else:
            _materialize(i, meta, th, wm, pos, lab, basis)
            W, wo = wm, meta[i, _WOFF]
        if i == 0 and ident:  # on the identity, A_1 = W_1
            for e in range(m * K):
                ac[ao + e] = W[wo + e]
        elif i == 0:
            _mm(W, wo, m, K, x, 0, N, ac, ao)
        else:
            _mm(W, wo, m, K, ac, meta[i - 1, _AOFF], N, ac, ao)


@njit(cache=True)
def _loss(F, fo, y, df, kd, N, loss):  # pragma: no cover - compiled
    """The loss of F = ac[fo:] (kd, N) against y; writes dL/dF (the residual for the squared loss) into df."""
    size = kd * N
    if loss <= 1:  # squared, mean squared
        acc = 0.0
        for e in range(size):
            r = F[fo + e] - y[e]
            df[e] = r
            acc += r * r
        if loss == 0:
            return acc * (0.5 / N)
        for e in range(size):
            df[e] = 2.0 * (df[e] / N) / kd
        return 2.0 * (0.5 * (acc / N)) / kd
    if loss == 2:  # logistic: logaddexp(0, -y f) as numpy computes it, and -y expit(-y f) / n
        acc = 0.0
        for e in range(size):
            z = y[e] * F[fo + e]
            if z == 0.0:
                t = np.log(2.0)
            elif z > 0.0:
                t = np.log1p(np.exp(-z))
            elif z < 0.0:
                t = -z + np.log1p(np.exp(z))
            else:
                t = z  # nan
            acc += t
            df[e] = (-y[e] * (1.0 / (1.0 + np.exp(z)))) / N
        return acc / N
    if loss == 3:  # exponential
        acc = 0.0
        for e in range(size):
            E = np.exp(-(y[e] * F[fo + e]))
            acc += E
            df[e] = (-y[e] * E) / N
        return acc / N
    # cross-entropy over the kd rows of each column
    t1, t2 = 0.0, 0.0
    for j in range(N):
        mx = F[fo + j]
        for r in range(1, kd):
            f = F[fo + r * N + j]
            if not np.isnan(mx) and (np.isnan(f) or f > mx):  # numpy's max: a nan wins
                mx = f
        s = 0.0
        for r in range(kd):
            E = np.exp(F[fo + r * N + j] - mx)
            df[r * N + j] = E
            s += E
        t1 += mx + np.log(s)
        for r in range(kd):
            t2 += F[fo + r * N + j] * y[r * N + j]
            df[r * N + j] = (df[r * N + j] / s - y[r * N + j]) / N
    return t1 / N - t2 / N


@njit(cache=True)
def _risk(F, fo, y, df, kd, N, loss, data, z, dz):  # pragma: no cover - compiled
    """`_loss` of F = ac[fo:] (kd, N), or, where ``data`` (k_0, n) is not empty (`deeplinear.separable.OnData`:
    F = W_prod (1, k_0) on the identity), the loss of z = F data (1, n) against y (1, n), with
    dL/dF = dL/dz data^T into df."""
    if data.shape[0] == 0:
        return _loss(F, fo, y, df, kd, N, loss)
    n = data.shape[1]
    for j in range(n):
        z[j] = 0.0
    for e in range(N):
        f = F[fo + e]
        for j in range(n):
            z[j] += f * data[e, j]
    v = _loss(z, 0, y, dz, 1, n, loss)
    for e in range(N):
        acc = 0.0
        for j in range(n):
            acc += dz[j] * data[e, j]
        df[e] = acc
    return v


@njit(cache=True)
def _update(i, meta, th, wm, D, x, ac, ident, pos, lab, basis, N, G, g):  # pragma: no cover - compiled
    """Layer i's step: its parameters minus its gradient for the (lr-scaled) output gradient D."""
    kind, m, K, po = meta[i, _KIND], meta[i, _M], meta[i, _K], meta[i, _POFF]
    on_identity = i == 0 and ident
    A, ao = (x, 0) if i == 0 else (ac, meta[i - 1, _AOFF])
    if kind == _DENSE:
        if on_identity:  # dL/dW_1 = D_1
            for e in range(m * K):
                th[po + e] -= D[e]
        else:
            _mmt(D, m, N, A, ao, K, G)
            for e in range(m * K):
                th[po + e] -= G[e]
        return
    so, r = meta[i, _SOFF], meta[i, _R]
    for j in range(r):
        g[j] = 0.0
    if kind == _PATTERN:  # only the support's entries of D A^T
        for q in range(meta[i, _NNZ]):
            p = pos[so + q]
            a, k = p // K, p % K
            if on_identity:
                acc = D[a * N + k]
            else:
                acc = 0.0
                da, ak = a * N, ao + k * N
                for j in range(N):
                    acc += D[da + j] * A[ak + j]
            g[lab[so + q]] += acc
    else:
        mk = m * K
        if on_identity:
            for e in range(mk):
                G[e] = D[e]
        else:
            _mmt(D, m, N, A, ao, K, G)
        for j in range(r):
            acc = 0.0
            for e in range(mk):
                acc += G[e] * basis[so + j * mk + e]
            g[j] = acc
    for j in range(r):
        th[po + j] -= g[j]


@njit(cache=True)
def _member(
    s,
    L,
    rates,
    limit,
    stop,
    theta,
    wmat,
    acts,
    dF,
    X,
    Y,
    ident,
    meta,
    pos,
    lab,
    basis,
    loss,
    N,
    data,
    ir,
    losses,
    status,
):  # pragma: no cover - compiled
    """Up to L steps of member s; losses[l, s] is the loss after step l + 1. status[s] = (steps made, code).

    The rate of step l is rates[l, s], or rates[0, s] for all steps where rates has one row. Where ir[0] > 0 the
    rates of steps l >= 1 are `deeplinear.schedules.inverse_risk`'s, ``lr * min(l(0) / max(R, 1e-300), cap)``
    with ir = (lr, l(0), cap) and R the loss before the step, written into rates[l, s] as Python computes them; a
    rate that is not a positive finite number ends the chunk before its step (code _BAD_RATE). L = 0: the loss of
    the current weights into losses[0, s], without a step.
    """
    th, wm, ac, df = theta[s], wmat[s], acts[s], dF[s]
    x = X[s if X.shape[0] > 1 else 0]
    y = Y[s if Y.shape[0] > 1 else 0]
    d = meta.shape[0]
    big, gsz, rmax = 1, 1, 1
    for i in range(d):
        big = max(big, max(meta[i, _M], meta[i, _K]) * N)
        gsz = max(gsz, meta[i, _M] * meta[i, _K])
        rmax = max(rmax, meta[i, _R])
    D1, D2, G, g = np.empty(big), np.empty(big), np.empty(gsz), np.empty(rmax)
    z, dz = np.empty(data.shape[1]), np.empty(data.shape[1])
    kd, fo = meta[d - 1, _M], meta[d - 1, _AOFF]
    if L == 0:  # the forward pass and loss of the current weights, without a step
        _forward(th, wm, ac, x, ident, meta, pos, lab, basis, N)
        losses[0, s] = _risk(ac, fo, y, df, kd, N, loss, data, z, dz)
        return
    for l in range(L):
        if ir[0] > 0.0 and l > 0:  # Python's max and min: the first argument unless the second is beyond it
            R = losses[l - 1, s]
            R = 1e-300 if 1e-300 > R else R
            q = ir[1] / R
            rate = ir[0] * (ir[2] if ir[2] < q else q)
            if not (rate > 0.0 and rate < np.inf):
                status[s, 0], status[s, 1] = l, _BAD_RATE
                return
            rates[l, s] = rate
        rate = rates[l if rates.shape[0] > 1 else 0, s]
        scale = rate * (1.0 / N) if loss == 0 else rate
        D, Dp = D1, D2
        for e in range(kd * N):
            D[e] = df[e] * scale
        for i in range(d - 1, -1, -1):
            if i > 0:  # back-propagate through W_i before it changes
                if meta[i, _KIND] == _DENSE:
                    _mtm(th, meta[i, _POFF], meta[i, _M], meta[i, _K], D, N, Dp)
                else:
                    _mtm(wm, meta[i, _WOFF], meta[i, _M], meta[i, _K], D, N, Dp)
            _update(i, meta, th, wm, D, x, ac, ident, pos, lab, basis, N, G, g)
            D, Dp = Dp, D
        _forward(th, wm, ac, x, ident, meta, pos, lab, basis, N)
        v = _risk(ac, fo, y, df, kd, N, loss, data, z, dz)
        losses[l, s] = v
        if not v <= limit:
            status[s, 0], status[s, 1] = l + 1, _DIVERGED
            return
        if v < stop:
            status[s, 0], status[s, 1] = l + 1, _STOPPED
            return
    status[s, 0], status[s, 1] = L, _RUNNING


@njit(cache=True)
def _chunk(
    L,
    rates,
    limits,
    stop,
    theta,
    wmat,
    acts,
    dF,
    X,
    Y,
    ident,
    meta,
    pos,
    lab,
    basis,
    loss,
    N,
    data,
    ir,
    losses,
    status,
):  # pragma: no cover - compiled
    for s in range(theta.shape[0]):
        _member(
            s,
            L,
            rates,
            limits[s],
            stop,
            theta,
            wmat,
            acts,
            dF,
            X,
            Y,
            ident,
            meta,
            pos,
            lab,
            basis,
            loss,
            N,
            data,
            ir,
            losses,
            status,
        )


@njit(cache=True, parallel=True)
def _chunk_parallel(
    L,
    rates,
    limits,
    stop,
    theta,
    wmat,
    acts,
    dF,
    X,
    Y,
    ident,
    meta,
    pos,
    lab,
    basis,
    loss,
    N,
    data,
    ir,
    losses,
    status,
):  # pragma: no cover - compiled
    for s in prange(theta.shape[0]):
        _member(
            np.int64(s),
            L,
            rates,
            limits[s],
            stop,
            theta,
            wmat,
            acts,
            dF,
            X,
            Y,
            ident,
            meta,
            pos,
            lab,
            basis,
            loss,
            N,
            data,
            ir,
            losses,
            status,
        )


# -- stacked dense networks: the members side by side ----------------------------------------------------
# State of shape (rows, S): the member index innermost, so that every loop over the members is one contiguous,
# vectorised loop (each member's entries still summed in order: the result does not depend on S or the CPU).
@njit(cache=True)
def _bmm(A, ao, ai, ak, B, bo, bk, bj, C, co, m, K, N, s0, s1, sub, acc):  # pragma: no cover - compiled
    """C[co + i N + j] (=, or -= for sub) sum_k A[ao + i ai + k ak] B[bo + k bk + j bj], members s0..s1-1.

    The loops over the members are contiguous and vectorise; each member's sum runs in order of k.
    """
    w = s1 - s0
    for i in range(m):
        for j in range(N):
            for s in range(w):
                acc[s] = 0.0
            for k in range(K):
                a, b = A[ao + i * ai + k * ak, s0:s1], B[bo + k * bk + j * bj, s0:s1]
                for s in range(w):
                    acc[s] += a[s] * b[s]
            c = C[co + i * N + j, s0:s1]
            if sub:
                for s in range(w):
                    c[s] -= acc[s]
            else:
                for s in range(w):
                    c[s] = acc[s]


@njit(cache=True)
def _bforward(s0, s1, theta, acts, X, ident, meta, N, acc):  # pragma: no cover - compiled
    for i in range(meta.shape[0]):
        m, K, po, ao = meta[i, _M], meta[i, _K], meta[i, _POFF], meta[i, _AOFF]
        if i == 0 and ident:
            for e in range(m * K):
                a, t = acts[ao + e], theta[po + e]
                for s in range(s0, s1):
                    a[s] = t[s]
        elif i == 0:
            _bmm(theta, po, K, 1, X, 0, N, 1, acts, ao, m, K, N, s0, s1, False, acc)
        else:
            _bmm(theta, po, K, 1, acts, meta[i - 1, _AOFF], N, 1, acts, ao, m, K, N, s0, s1, False, acc)


@njit(cache=True)
def _bloss(s0, s1, acts, Y, dF, meta, loss, N, out, buf):  # pragma: no cover - compiled
    """The loss of members s0..s1-1 into out[s], dL/dF into dF (as `_loss`, member by member)."""
    d = meta.shape[0]
    kd, fo = meta[d - 1, _M], meta[d - 1, _AOFF]
    size, w = kd * N, s1 - s0
    if loss <= 1:  # squared, mean squared: vectorised over the members, the same sums as `_loss`
        acc = buf[0, :w]
        for s in range(w):
            acc[s] = 0.0
        for e in range(size):
            f, y, g = acts[fo + e, s0:s1], Y[e, s0:s1], dF[e, s0:s1]
            for s in range(w):
                r = f[s] - y[s]
                g[s] = r
                acc[s] += r * r
        if loss == 0:
            for s in range(w):
                out[s0 + s] = acc[s] * (0.5 / N)
            return
        for e in range(size):
            g = dF[e, s0:s1]
            for s in range(w):
                g[s] = 2.0 * (g[s] / N) / kd
        for s in range(w):
            out[s0 + s] = 2.0 * (0.5 * (acc[s] / N)) / kd
        return
    f, y, g = buf[1, :size], buf[2, :size], buf[3, :size]
    for s in range(s0, s1):
        for e in range(size):
            f[e], y[e] = acts[fo + e, s], Y[e, s]
        out[s] = _loss(f, 0, y, g, kd, N, loss)
        for e in range(size):
            dF[e, s] = g[e]


@njit(cache=True)
def _bblock(
    s0, s1, L, rates, limits, stop, theta, acts, dF, X, Y, ident, meta, loss, N, losses, status, D1, D2
):  # pragma: no cover - compiled
    """Up to L steps of members s0..s1-1 together (L = 0: the loss of the current weights into losses[0])."""
    w, d = s1 - s0, meta.shape[0]
    kd = meta[d - 1, _M]
    rows = kd * N
    for i in range(d):
        rows = max(rows, meta[i, _M] * meta[i, _K])
    acc, scale = np.empty(w), np.empty(w)
    buf = np.empty((4, max(rows, w)))
    out = np.empty(s1)
    if L == 0:
        _bforward(s0, s1, theta, acts, X, ident, meta, N, acc)
        _bloss(s0, s1, acts, Y, dF, meta, loss, N, out, buf)
        for s in range(s0, s1):
            losses[0, s] = out[s]
        return
    for l in range(L):
        row = l if rates.shape[0] > 1 else 0
        for s in range(w):
            scale[s] = rates[row, s0 + s] * (1.0 / N) if loss == 0 else rates[row, s0 + s]
        D, Dp = D1, D2
        for e in range(kd * N):
            g, dd = dF[e, s0:s1], D[e, s0:s1]
            for s in range(w):
                dd[s] = g[s] * scale[s]
        for i in range(d - 1, -1, -1):
            m, K, po = meta[i, _M], meta[i, _K], meta[i, _POFF]
            if i > 0:  # back-propagate through W_i before it changes: Dp (K, N) = W_i^T D
                _bmm(theta, po, 1, K, D, 0, N, 1, Dp, 0, K, m, N, s0, s1, False, acc)
            if i == 0 and ident:  # dL/dW_1 = D_1
                for e in range(m * K):
                    t, dd = theta[po + e, s0:s1], D[e, s0:s1]
                    for s in range(w):
                        t[s] -= dd[s]
            else:  # W_i -= D A_{i-1}^T
                A, ao = (X, 0) if i == 0 else (acts, meta[i - 1, _AOFF])
                _bmm(D, 0, N, 1, A, ao, 1, N, theta, po, m, N, K, s0, s1, True, acc)
            D, Dp = Dp, D
        _bforward(s0, s1, theta, acts, X, ident, meta, N, acc)
        _bloss(s0, s1, acts, Y, dF, meta, loss, N, out, buf)
        diverged, below = False, True
        for s in range(s0, s1):
            v = out[s]
            losses[l, s] = v
            diverged |= not v <= limits[s]
            below &= v < stop
        if diverged or below:  # the block ends at the step: a member diverged, or all are below stop
            for s in range(s0, s1):
                status[s, 0] = l + 1
                status[s, 1] = _DIVERGED if not out[s] <= limits[s] else _STOPPED if below else _RUNNING
            return
    for s in range(s0, s1):
        status[s, 0], status[s, 1] = L, _RUNNING


@njit(cache=True)
def _batched(L, rates, limits, stop, theta, acts, dF, X, Y, ident, meta, loss, N, losses, status):
    """Up to L steps of a stacked dense network, all members side by side (L = 0: the loss of the current
    weights into losses[0])."""  # pragma: no cover - compiled
    rows = dF.shape[0]
    for i in range(meta.shape[0]):
        rows = max(rows, max(meta[i, _M], meta[i, _K]) * N)
    D1, D2 = np.empty((rows, theta.shape[1])), np.empty((rows, theta.shape[1]))
    _bblock(0, theta.shape[1], L, rates, limits, stop, theta, acts, dF, X, Y, ident, meta, loss, N, losses, status,
            D1, D2)  # fmt: skip


# -- the stepper: the state of a run and one compiled call per chunk -------------------------------------
class Stepper:
    """The compiled engine's state of a (stacked) network; `weights()` and `params` as `_engine._Stepper`'s."""

    def __init__(self, layers, X, fn, Y, structures) -> None:
        self.structures, self.stacked = structures, layers[0].ndim == 3
        S = layers[0].shape[0] if self.stacked else 1
        self.ident = X is None
        N = layers[0].shape[-1] if X is None else X.shape[-1]
        meta = np.zeros((len(layers), 9), dtype=np.int64)
        coef, pos, lab, basis = [], [], [], []
        poff = woff = aoff = soff_p = soff_b = 0
        for i, (W, s) in enumerate(zip(layers, structures)):
            m, K = W.shape[-2:]
            kind = _kind(s)
            c = W.reshape(S, m * K) if s is None else np.array(s.coefficients(W), dtype=np.float64).reshape(S, -1)
            r = c.shape[1]
            row = meta[i]
            row[_KIND], row[_M], row[_K], row[_POFF], row[_AOFF], row[_R] = kind, m, K, poff, aoff, r
            if kind != _DENSE:
                row[_WOFF] = woff
                woff += m * K
            if kind == _PATTERN:
                order = np.argsort(s._lab, kind="stable")
                row[_SOFF], row[_NNZ] = soff_p, len(order)
                pos.append(s._pos[order])
                lab.append(s._lab[order])
                soff_p += len(order)
            elif kind == _BASIS:
                row[_SOFF] = soff_b
                basis.append(s.basis.reshape(-1))
                soff_b += s.basis.size
            coef.append(c)
            poff += r
            aoff += m * N
        self.meta, self.N, self.S = meta, N, S
        self.work = 3 * S * sum(W.shape[-2] * W.shape[-1] for W in layers) * N  # multiply-adds per step
        # a stack of dense layers runs side by side, the member index innermost (state (rows, S))
        self.batched = (
            S >= _BATCH_MIN
            and get_num_threads() <= _BATCH_THREADS
            and not (meta[:, _KIND] != _DENSE).any()
            and max(W.shape[-2] * W.shape[-1] for W in layers) * N <= _BATCH_MAX
            and not _on_data(fn)
        )
        self.theta = np.ascontiguousarray(np.concatenate(coef, axis=1))
        self.wmat, self.acts = np.zeros((S, max(woff, 1))), np.zeros((S, aoff))
        self.dF = np.zeros((S, layers[-1].shape[-2] * N))
        ints = np.zeros(1, dtype=np.int64)
        self.pos = np.ascontiguousarray(np.concatenate(pos)).astype(np.int64) if pos else ints
        self.lab = np.ascontiguousarray(np.concatenate(lab)).astype(np.int64) if lab else ints
        self.basis = np.ascontiguousarray(np.concatenate(basis)) if basis else np.zeros(1)
        self.X = (
            np.zeros((1, 1)) if X is None else np.ascontiguousarray(X.reshape(X.shape[0] if X.ndim == 3 else 1, -1))
        )
        self.data = np.zeros((0, 1))  # OnData's X (k_0, n), with its labels as Y (1, n)
        if _on_data(fn):
            self.data, Y = np.ascontiguousarray(fn.X), fn.Y
        self.Y = np.ascontiguousarray(Y.reshape(Y.shape[0] if Y.ndim == 3 else 1, -1))
        self.loss = _LOSS_CODES[_loss_name(fn)]
        if self.batched:
            self.theta, self.acts, self.dF = (np.ascontiguousarray(a.T) for a in (self.theta, self.acts, self.dF))
            self.wmat = np.zeros((1, 1))
            self.X, self.Y = (np.ascontiguousarray(np.broadcast_to(a, (S, a.shape[1])).T) for a in (self.X, self.Y))
        self.params = []
        for i, W in enumerate(layers):
            rows = slice(meta[i, _POFF], meta[i, _POFF] + meta[i, _R])
            view = self.theta[rows].T if self.batched else self.theta[:, rows]
            view = view.reshape(S, *W.shape[-2:]) if structures[i] is None else view
            self.params.append(view if self.stacked else view[0])

    def _args(self):
        return (self.theta, self.wmat, self.acts, self.dF, self.X, self.Y, self.ident, self.meta, self.pos,
                self.lab, self.basis, self.loss, self.N, self.data)  # fmt: skip

    def _bargs(self):
        return (self.theta, self.acts, self.dF, self.X, self.Y, self.ident, self.meta, self.loss, self.N)

    def start(self):
        """The loss of the current weights (float, or (S,) for a stacked network), keeping the pass."""
        losses, ones, status = np.empty((1, self.S)), np.ones(self.S), np.zeros((self.S, 2), np.int64)
        if self.batched:
            _batched(0, losses, ones, 0.0, *self._bargs(), losses, status)
        else:
            _chunk(0, losses, ones, 0.0, *self._args(), _NO_SCHEDULE, losses, status)
        return losses[0] if self.stacked else float(losses[0, 0])

    def run(self, L: int, rates: np.ndarray, limits: np.ndarray, stop: float, parallel: bool, ir=None):
        """Up to L steps at rates (L or 1, S); returns the losses (L, S) and status (S, 2): steps made and how
        each member ended. ``ir``: (lr, l(0), cap) of an inverse-risk schedule computed in the loop (one network;
        rates (L, 1) then holds the first step's rate and receives the others)."""
        losses, status = np.full((L, self.S), np.nan), np.zeros((self.S, 2), dtype=np.int64)
        if self.batched:
            _batched(L, rates, limits, stop, *self._bargs(), losses, status)
            return losses, status
        kernel = _chunk_parallel if parallel and L * self.work >= _PARALLEL_MIN and get_num_threads() > 1 else _chunk
        kernel(L, rates, limits, stop, *self._args(), _NO_SCHEDULE if ir is None else ir, losses, status)
        return losses, status

    def checkpoint(self):
        return [a.copy() for a in (self.theta, self.wmat, self.acts, self.dF)]

    def restore(self, saved) -> None:
        for a, b in zip((self.theta, self.wmat, self.acts, self.dF), saved):
            np.copyto(a, b)

    def weights(self) -> list[np.ndarray]:
        """The current layers (the live arrays for dense layers)."""
        return [p if s is None else s.matrix(p) for p, s in zip(self.params, self.structures)]


def _reads_second_argument(fn) -> bool:
    """False only where ``fn`` is a plain Python function of exactly two parameters that provably never reads its
    second: no instruction loads it, no inner function captures it, and it does not call locals() or vars()."""
    if not isinstance(fn, types.FunctionType):
        return True
    code = fn.__code__
    if code.co_argcount != 2 or code.co_kwonlyargcount or code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
        return True
    name = code.co_varnames[1]
    if name in code.co_cellvars or {"locals", "vars", "exec", "eval"} & set(code.co_names):
        return True
    for ins in dis.get_instructions(code):
        if ins.opname != "STORE_FAST" and name in (ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)):
            return True
    return False


def step_only(fn) -> bool:
    """Whether the schedule ``fn(step, loss)`` depends on the step alone (it never reads the loss), so that its rates
    can be evaluated before the steps. `deeplinear.schedules.constant` and any ``lambda t, v: f(t)`` are
    step-only; `deeplinear.schedules.inverse_risk` reads the loss. A schedule may say so itself: an attribute
    ``step_only`` (True or False) wins over the inspection of its code."""
    said = getattr(fn, "step_only", None)
    return bool(said) if isinstance(said, (bool, np.bool_)) else not _reads_second_argument(fn)


def _in_loop(fn) -> np.ndarray | None:
    """(lr, l(0), cap) of a `deeplinear.schedules.inverse_risk` schedule (its ``inverse_risk`` attribute), whose
    rates the compiled loop computes from the loss step by step; None for any other schedule."""
    said = getattr(fn, "inverse_risk", None)
    if isinstance(said, tuple) and len(said) == 3 and all(type(x) is float for x in said) and said[0] > 0:
        return np.array(said)
    return None


def _rates_ahead(lr_at, fn, t: int, end: int, v, stacked: bool) -> list:
    """The validated rates ``lr_at(u, v)`` of steps u = t..end-1 of a step-only schedule ``fn``. For one network the
    schedule's values are checked all at once (a value that is not a positive finite real number is checked again
    by ``lr_at``, which raises the error the numpy engine raises at that step)."""
    if stacked:
        return [lr_at(u, v) for u in range(t, end)]
    raw = [fn(u, v) for u in range(t, end)]
    if all(type(x) is float or (type(x) is int) for x in raw):  # bools and numpy types: checked one by one
        a = np.array(raw, dtype=np.float64)
        if np.all(np.isfinite(a) & (a > 0)):
            return a.tolist()
    return [lr_at(u, v) for u in range(t, end)]


def descend(
    stepper: Stepper, recorder, initial, steps, lr_at, lr_now, blowup, stop_below, schedule=None
) -> TrainResult:
    """`train`'s loop on the compiled engine: the same records, stop and divergence as the numpy engine's.

    ``lr_at(t, v)`` is the validated learning rate of a callable ``lr`` (None for a fixed one, ``lr_now``), and
    ``schedule`` that callable as the user gave it. A
    schedule that never reads the loss (`step_only`) is evaluated into the chunk's array of rates beforehand; an
    inverse-risk schedule of one network is computed in the compiled loop (`_in_loop`); any other that reads the
    loss makes every chunk one step long.
    """
    stacked, S = stepper.stacked, stepper.S
    ahead = lr_at is not None and schedule is not None and step_only(schedule)
    ir = _in_loop(schedule) if lr_at is not None and not ahead and S == 1 else None
    listed = ahead or ir is not None  # the rate of every step of a chunk is known after it ran
    stop = -np.inf if stop_below is None else float(stop_below)
    try:
        v = stepper.start()
        if not np.all(np.isfinite(v)):
            raise _diverged(0, v, np.inf, np.nan, recorder, stacked)
        limit = np.minimum(blowup * np.maximum(v, 1.0), np.finfo(np.float64).max)
        limits = np.broadcast_to(limit, (S,)).astype(np.float64)
        limit = float(limit) if not stacked else limit
        if lr_at is not None:
            lr_now = lr_at(0, v)
        if recorder.next_event() == 0:
            recorder(0, v, lr_now)
        if stop_below is not None and np.all(v < stop_below):
            steps = 0
            recorder.stop(0, v, lr_now)
        t, parallel = 0, S > 1
        # members stop on their own only when alone; a stack stops at the first step where all are below
        own_stop = stop if S == 1 else -np.inf
        while t < steps:
            end = steps if lr_at is None or listed else t + 1
            for e in (recorder.met.next, recorder.next_prog):
                if e != _NEVER:
                    end = min(end, e)
            L = end - t
            lrs = [lr_now, *_rates_ahead(lr_at, schedule, t + 1, end, v, stacked)] if ahead else [lr_now]  # step t+j+1
            if stacked:
                rates = np.stack([np.broadcast_to(np.asarray(r, dtype=np.float64).reshape(-1), (S,)) for r in lrs])
            elif ir is not None:  # the first step's rate; the loop writes the others
                rates = np.full((L, 1), lr_now, dtype=np.float64)
            else:
                rates = np.array(lrs, dtype=np.float64).reshape(-1, 1)
            saved = stepper.checkpoint() if S > 1 and stop_below is not None else None
            losses, status = stepper.run(L, rates, limits, own_stop, parallel, ir)
            if ir is not None:
                lrs = rates[:, 0].tolist()
            made = int(status[:, 0].min()) if (status[:, 1] == _DIVERGED).any() else L
            diverged = bool((status[:, 1] == _DIVERGED).any())
            if S > 1 and stop_below is not None:
                below = np.flatnonzero(np.all(losses[:made] < stop, axis=1))
                if len(below) and (not diverged or below[0] + 1 < made):
                    made, diverged = int(below[0]) + 1, False
                    if made < L:  # the members ran past the stop: run again from the chunk's start
                        stepper.restore(saved)
                        losses, status = stepper.run(made, rates[:made], limits, -np.inf, parallel)
            elif S == 1 and status[0, 1] != _RUNNING:
                made = int(status[0, 0])
            last = t + made

            def loss_at(u, losses=losses, t=t):  # the loss after step u of this chunk, as the numpy engine gives it
                return losses[u - t - 1].copy() if stacked else float(losses[u - t - 1, 0])

            while recorder.rec.next != _NEVER and recorder.rec.next < last:
                u = recorder.rec.next
                recorder(u, loss_at(u), lrs[u - t] if listed else lr_now)
            v = loss_at(last)
            if diverged:
                raise _diverged(last, v, limit, lrs[made - 1] if listed else lr_now, recorder, stacked)
            if lr_at is not None:
                lr_now = lr_at(last, v)
            if last == recorder.next_event():
                recorder(last, v, lr_now)
            t = last
            if stop_below is not None and np.all(v < stop_below):
                recorder.stop(t, v, lr_now)
                break
    finally:
        recorder.close()
    structures = stepper.structures
    coefficients = None
    if any(s is not None for s in structures):
        coefficients = [None if s is None else p for p, s in zip(stepper.params, structures)]
    return TrainResult(
        weights=stepper.weights(), initial_weights=initial, history=recorder.history(), coefficients=coefficients
    )
