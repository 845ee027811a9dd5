"""Loss functions of the network output ``F = f(X)``: each returns its value and ``dL/dF``.

A loss is a callable ``loss_fn(F, Y) -> (value, dL/dF)`` with ``F`` of shape ``(k_d, n)`` (value a
float) or stacked ``(S, k_d, n)`` (value of shape ``(S,)``, one per network); ``dL/dF`` has ``F``'s
shape. The four named losses below and `MatrixSensing` follow this protocol, and so may a user's own;
a callable may also define ``validate(out_shape, Y)``, called once with the network's output shape
``(k_d, n)``, to raise ``ValueError`` for data it cannot take (a user callable gets ``Y`` unchecked).

Paper: Radhakrishnan et al., eq. (2) and Section 4.2; Ji & Telgarsky, Section 2 (the risk).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit

__all__ = ["LOSSES", "squared", "logistic", "exponential", "cross_entropy", "MatrixSensing"]

LossFn = Callable[[np.ndarray, np.ndarray], tuple]


def _mean_cols(v: np.ndarray) -> np.ndarray | float:
    """Sum over the last two axes divided by the number of columns n; a float for 2-D input."""
    out = v.sum(axis=(-2, -1)) / v.shape[-1]
    return float(out) if v.ndim == 2 else out


def squared(F: np.ndarray, Y: np.ndarray) -> tuple:
    """Squared loss ``(1/2n) sum_j ||y_j - f(x_j)||^2`` and its gradient ``(F - Y) / n``.

    Parameters
    ----------
    F : ndarray (k_d, n) or (S, k_d, n), the network outputs.
    Y : ndarray (k_d, n), the targets.

    Returns
    -------
    value : float or ndarray (S,);  dF : ndarray, F's shape.

    Paper: eq. (2) with the squared loss.
    """
    R = F - Y
    return 0.5 * _mean_cols(R * R), R / F.shape[-1]


def logistic(F: np.ndarray, Y: np.ndarray) -> tuple:
    """Logistic loss ``(1/n) sum_j log(1 + exp(-y_j f(x_j)))``, stable for any margin.

    Parameters
    ----------
    F : ndarray (1, n) or (S, 1, n), the network outputs.
    Y : ndarray (1, n), labels +-1.

    Returns
    -------
    value : float or ndarray (S,);  dF : ndarray, F's shape, ``-y sigmoid(-y f) / n``.

    Paper: Ji & Telgarsky, the risk with ``l(z) = log(1 + exp(-z))`` (Assumption 1.1).
    """
    Z = Y * F
    return _mean_cols(np.logaddexp(0.0, -Z)), -Y * expit(-Z) / F.shape[-1]


def exponential(F: np.ndarray, Y: np.ndarray) -> tuple:
    """Exponential loss ``(1/n) sum_j exp(-y_j f(x_j))``.

    Parameters
    ----------
    F : ndarray (1, n) or (S, 1, n), the network outputs.
    Y : ndarray (1, n), labels +-1.

    Returns
    -------
    value : float or ndarray (S,);  dF : ndarray, F's shape, ``-y exp(-y f) / n``.

    Paper: Ji & Telgarsky, the risk with ``l(z) = exp(-z)`` (Assumption 1.1).
    """
    E = np.exp(-(Y * F))
    return _mean_cols(E), -Y * E / F.shape[-1]


def cross_entropy(F: np.ndarray, Y: np.ndarray) -> tuple:
    """Mean softmax cross-entropy ``(1/n) sum_j [logsumexp(f(x_j)) - <y_j, f(x_j)>]``, stable.

    Parameters
    ----------
    F : ndarray (k_d, n) or (S, k_d, n), the logits, one column per sample.
    Y : ndarray (k_d, n), one-hot columns.

    Returns
    -------
    value : float or ndarray (S,);  dF : ndarray, F's shape, ``(softmax(F) - Y) / n``.

    Paper: eq. (2) with ``l`` the cross-entropy (used for the MNIST classifier).
    """
    m = F.max(axis=-2, keepdims=True)
    E = np.exp(F - m)
    s = E.sum(axis=-2, keepdims=True)
    value = _mean_cols(m + np.log(s)) - _mean_cols(F * Y)
    return value, (E / s - Y) / F.shape[-1]


LOSSES: dict[str, LossFn] = {
    "squared": squared,
    "logistic": logistic,
    "exponential": exponential,
    "cross_entropy": cross_entropy,
}


class MatrixSensing:
    """Matrix sensing loss ``(1/2n) sum_i (y_i - Tr(M_i^T F))^2`` of the end-to-end matrix ``F``.

    Train or evaluate it with ``X = None`` (the identity ``I_k``), so that ``F = W_d ... W_1``;
    the ``Y`` argument of the protocol is ignored.

    Parameters
    ----------
    M : ndarray (n, k, k), the measurement matrices M_i.
    y : ndarray (n,), the observations y_i = Tr(M_i^T X*).

    Paper: Section 4.2, matrix sensing.
    """

    def __init__(self, M, y) -> None:
        M = np.array(M, dtype=np.float64)
        if M.ndim != 3 or M.shape[1] != M.shape[2] or M.shape[0] < 1:
            raise ValueError(f"M must have shape (n, k, k) with n >= 1, got {M.shape}")
        y = np.array(y, dtype=np.float64)
        if y.shape != (M.shape[0],):
            raise ValueError(f"y must have shape ({M.shape[0]},) to match M, got {y.shape}")
        if not (np.isfinite(M).all() and np.isfinite(y).all()):
            raise ValueError("M and y must contain only finite entries")
        self.M, self.y = M, y
        self._flat = M.reshape(M.shape[0], -1)

    @property
    def k(self) -> int:
        """The side k of the sensed k x k matrix."""
        return int(self.M.shape[1])

    def __repr__(self) -> str:
        return f"MatrixSensing(n={self.M.shape[0]}, k={self.k})"

    def validate(self, out_shape: tuple[int, int], Y) -> None:
        """Check that the network output F has shape (k, k) (rows k_d, columns n of X)."""
        if tuple(out_shape) != (self.k, self.k):
            raise ValueError(
                f"loss=MatrixSensing needs a network output of shape ({self.k}, {self.k}): "
                f"k_d = {self.k} and X = None (the identity I_{self.k}); got output shape "
                f"{tuple(out_shape)}"
            )

    def residuals(self, F: np.ndarray) -> np.ndarray:
        """``y_i - Tr(M_i^T F)``: F (k, k) or (S, k, k) -> (n,) or (S, n)."""
        return self.y - F.reshape(*F.shape[:-2], -1) @ self._flat.T

    def __call__(self, F: np.ndarray, Y=None) -> tuple:
        r = self.residuals(F)
        n = self.y.shape[0]
        value = 0.5 * (r * r).sum(axis=-1) / n
        dF = -(r @ self._flat).reshape(F.shape) / n
        return (float(value) if F.ndim == 2 else value), dF


def _checked(fn, F: np.ndarray, value, dF) -> tuple:
    """Check a loss callable's output for F: value shape () or (S,), dL/dF of F's shape."""
    value, dF = np.asarray(value, dtype=np.float64), np.asarray(dF, dtype=np.float64)
    if value.shape != F.shape[:-2] or dF.shape != F.shape:
        raise ValueError(
            f"loss {fn!r} must return (value, dL/dF) with shapes {F.shape[:-2]} and "
            f"{F.shape}, got {value.shape} and {dF.shape}"
        )
    return value, dF


def _labels_pm1(Y: np.ndarray, loss: str) -> None:
    if Y.shape[0] != 1:
        raise ValueError(f"Y must have shape (1, n) for loss={loss!r} (one output, labels +-1), got {Y.shape}")
    if not np.all(np.abs(Y) == 1):
        raise ValueError(f"Y must contain labels +1 or -1 for loss={loss!r}")


def _resolve(loss, Y, out_shape: tuple[int, int]) -> tuple[LossFn, np.ndarray | None]:
    """Validate ``loss`` and ``Y`` for a network with output shape ``(k_d, n)``.

    Returns the loss callable and ``Y`` as a float64 array (passed through unchanged for a
    user callable, which validates its own ``Y``).
    """
    if callable(loss):
        check = getattr(loss, "validate", None)
        if check is not None:
            check(out_shape, Y)
        return loss, Y
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)} or a callable (F, Y) -> (value, dL/dF), got {loss!r}")
    try:
        Y = np.asarray(Y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"Y must be an array of shape {tuple(out_shape)}") from err
    if Y.shape != tuple(out_shape):
        raise ValueError(f"Y must have shape (k_d, n) = {tuple(out_shape)}, got {Y.shape}")
    if not np.isfinite(Y).all():
        raise ValueError("Y must contain only finite entries")
    if loss in ("logistic", "exponential"):
        _labels_pm1(Y, loss)
    elif loss == "cross_entropy":
        if not (np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=0) == 1)):
            raise ValueError("Y must have one-hot columns (entries 0/1, one 1 per column) for loss='cross_entropy'")
    return LOSSES[loss], Y


def _rowdots(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Row-wise dot products of two (S, m) arrays (np.vecdot where numpy has it: twice as fast)."""
    return np.vecdot(A, B) if hasattr(np, "vecdot") else np.einsum("ij,ij->i", A, B)


# -- kernels for the trainer: value(F), then grad(lr) writes lr * dL/dF into their buffer `out` --
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
    """Squared loss with the residual kept in `out` (no allocation per step)."""

    def __init__(self, Y: np.ndarray, shape: tuple[int, ...]) -> None:
        super().__init__(squared, Y, shape)
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
    below 1e-4 of its terms), the value is recomputed from the residual ``P X - Y``.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, shape: tuple[int, ...]) -> None:
        super().__init__(squared, Y, shape)
        self.X, self.C, self.B = X, X @ X.T, Y @ X.T
        self.yy, self.n = float(np.sum(Y * Y)), X.shape[1]
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
            self.views = (P.reshape(self.rows), self._flat(P), self._flat(self.PC), self.B.reshape(-1))
        Prows, Pf, PCf, Bf = self.views
        np.dot(Prows, self.C, out=self.PC.reshape(self.rows))
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
    if (
        fn is squared
        and X is not None
        and X.shape[1] > 2 * X.shape[0]
        and (X.shape[1] - X.shape[0]) * weights > _GRAM_MIN_SAVING
    ):
        return _GramKernel(X, Y, (*out_shape[:-1], X.shape[0])), True
    if fn is squared:
        return _SquaredKernel(Y, out_shape), X is None
    return _Kernel(fn, Y, out_shape), X is None
