"""Loss functions of the network output ``F = f(X)``: each returns its value and ``dL/dF``.

A loss is a callable ``loss_fn(F, Y) -> (value, dL/dF)`` with ``F`` of shape ``(k_d, n)`` (value a
float) or stacked ``(S, k_d, n)`` (value of shape ``(S,)``, one per network); ``dL/dF`` has ``F``'s
shape. The four named losses below and `MatrixSensing` follow this protocol, and so may a user's own;
a callable may also define ``validate(out_shape, Y)``, called once with the network's output shape
``(k_d, n)``, to raise ``ValueError`` for data it cannot take (a user callable gets ``Y`` unchecked),
and ``members``: the number S of stacked members whose own data it holds (None: shared).
``Y`` may be ``(S, k_d, n)``, one target per member of a stacked network.

A loss knows nothing of learning rates: the trainer's engine (private) scales the gradient.

Paper: Radhakrishnan et al., eq. (2) and Section 4.2; Ji & Telgarsky, Section 2 (the risk).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit

from . import _validate

__all__ = [
    "LOSSES",
    "squared",
    "mean_squared",
    "logistic",
    "exponential",
    "cross_entropy",
    "MatrixSensing",
    "mse_learning_rate",
]

LossFn = Callable[[np.ndarray, np.ndarray], tuple]


def _operands(F, Y, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """``F`` (k_d, n) or (S, k_d, n) and ``Y`` of its shape or (k_d, n), finite float64, with the labels ``loss``
    takes (+-1 for "logistic" and "exponential", one-hot columns for "cross_entropy")."""
    try:
        F, Y = np.asarray(F, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError("F and Y must be numeric arrays") from err
    if F.ndim not in (2, 3) or 0 in F.shape or not np.isfinite(F).all():
        raise ValueError(f"F must be a finite, non-empty array (k_d, n) or (S, k_d, n), got shape {F.shape}")
    if Y.shape not in (F.shape, F.shape[-2:]) or not np.isfinite(Y).all():
        raise ValueError(f"Y must be a finite array of shape {F.shape[-2:]} or {F.shape}, got shape {Y.shape}")
    if loss in ("logistic", "exponential") and (F.shape[-2] != 1 or not np.all(np.abs(Y) == 1)):
        raise ValueError(f"F must have one output (1, n) and Y labels +1 or -1 for the {loss} loss, got {F.shape}")
    if loss == "cross_entropy" and not (np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=-2) == 1)):
        raise ValueError("Y must have one-hot columns (entries 0/1, one 1 per column) for the cross-entropy")
    return F, Y


def _mean_cols(v: np.ndarray) -> np.ndarray | float:
    """Sum over the last two axes divided by the number of columns n; a float for 2-D input."""
    out = v.sum(axis=(-2, -1)) / v.shape[-1]
    return float(out) if v.ndim == 2 else out


def squared(F: np.ndarray, Y: np.ndarray) -> tuple:
    """Squared loss ``(1/2n) sum_j ||y_j - f(x_j)||^2`` and its gradient ``(F - Y) / n``.

    Parameters
    ----------
    F : ndarray
        (k_d, n) or (S, k_d, n), the network outputs.
    Y : ndarray
        (k_d, n), the targets (or (S, k_d, n), one per member).

    Returns
    -------
    value : float or ndarray
        The loss; (S,) for a stacked network.
    dF : ndarray
        ``dL/dF``, of F's shape.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: eq. (2) with the squared loss.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.losses import squared
    >>> value, dF = squared(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]]))
    >>> value, dF.tolist()  # (1 + 4) / (2 * 2); dF = (F - Y) / n
    (1.25, [[0.5, 1.0]])
    """
    return _squared(*_operands(F, Y, "squared"))


def _squared(F: np.ndarray, Y: np.ndarray) -> tuple:
    R = F - Y
    return 0.5 * _mean_cols(R * R), R / F.shape[-1]


def logistic(F: np.ndarray, Y: np.ndarray) -> tuple:
    """Logistic loss ``(1/n) sum_j log(1 + exp(-y_j f(x_j)))``, stable for any margin.

    Parameters
    ----------
    F : ndarray
        (1, n) or (S, 1, n), the network outputs.
    Y : ndarray
        (1, n) (or (S, 1, n)), labels +-1.

    Returns
    -------
    value : float or ndarray
        The loss; (S,) for a stacked network.
    dF : ndarray
        ``dL/dF``, of F's shape, ``-y sigmoid(-y f) / n``.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, the risk with ``l(z) = log(1 + exp(-z))`` (Assumption 1.1).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.losses import logistic
    >>> value, dF = logistic(np.zeros((1, 3)), np.array([[1.0, -1.0, 1.0]]))
    >>> round(float(value), 4)  # log 2 at F = 0
    0.6931
    """
    return _logistic(*_operands(F, Y, "logistic"))


def _logistic(F: np.ndarray, Y: np.ndarray) -> tuple:
    Z = Y * F
    return _mean_cols(np.logaddexp(0.0, -Z)), -Y * expit(-Z) / F.shape[-1]


def exponential(F: np.ndarray, Y: np.ndarray) -> tuple:
    """Exponential loss ``(1/n) sum_j exp(-y_j f(x_j))``.

    Parameters
    ----------
    F : ndarray
        (1, n) or (S, 1, n), the network outputs.
    Y : ndarray
        (1, n) (or (S, 1, n)), labels +-1.

    Returns
    -------
    value : float or ndarray
        The loss; (S,) for a stacked network.
    dF : ndarray
        ``dL/dF``, of F's shape, ``-y exp(-y f) / n``.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, the risk with ``l(z) = exp(-z)`` (Assumption 1.1).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.losses import exponential
    >>> value, dF = exponential(np.zeros((1, 2)), np.array([[1.0, -1.0]]))
    >>> float(value), dF.tolist()  # exp(0) = 1; dF = -y exp(-y f) / n
    (1.0, [[-0.5, 0.5]])
    """
    return _exponential(*_operands(F, Y, "exponential"))


def _exponential(F: np.ndarray, Y: np.ndarray) -> tuple:
    E = np.exp(-(Y * F))
    return _mean_cols(E), -Y * E / F.shape[-1]


def cross_entropy(F: np.ndarray, Y: np.ndarray) -> tuple:
    """Mean softmax cross-entropy ``(1/n) sum_j [logsumexp(f(x_j)) - <y_j, f(x_j)>]``, stable.

    Parameters
    ----------
    F : ndarray
        (k_d, n) or (S, k_d, n), the logits, one column per sample.
    Y : ndarray
        (k_d, n) (or (S, k_d, n)), one-hot columns.

    Returns
    -------
    value : float or ndarray
        The loss; (S,) for a stacked network.
    dF : ndarray
        ``dL/dF``, of F's shape, ``(softmax(F) - Y) / n``.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: eq. (2) with ``l`` the cross-entropy (used for the MNIST classifier).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.losses import cross_entropy
    >>> value, dF = cross_entropy(np.zeros((10, 4)), np.eye(10)[:, :4])
    >>> round(float(value), 4)  # log 10 for uniform logits
    2.3026
    """
    return _cross_entropy(*_operands(F, Y, "cross_entropy"))


def _cross_entropy(F: np.ndarray, Y: np.ndarray) -> tuple:
    m = F.max(axis=-2, keepdims=True)
    E = np.exp(F - m)
    s = E.sum(axis=-2, keepdims=True)
    value = _mean_cols(m + np.log(s)) - _mean_cols(F * Y)
    return value, (E / s - Y) / F.shape[-1]


def mean_squared(F: np.ndarray, Y: np.ndarray) -> tuple:
    """Mean squared error over all entries, ``||Y - F||_F^2 / (k_d n)`` (PyTorch's ``nn.MSELoss``).

    It is the squared loss times ``2 / k_d``, and computed so; gradient descent with step ``lr`` on it is
    gradient descent with step `deeplinear.losses.mse_learning_rate` ``(lr, k_d)`` on `squared`.

    Parameters
    ----------
    F : ndarray
        (k_d, n) or (S, k_d, n), the network outputs.
    Y : ndarray
        (k_d, n), the targets.

    Returns
    -------
    value : float or ndarray
        The loss; (S,) for a stacked network.
    dF : ndarray
        ``dL/dF``, of F's shape, ``2 (F - Y) / (k_d n)``.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6 (the authors' scripts train with the mean squared error, Figures 1b and 2).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.losses import mean_squared
    >>> value, dF = mean_squared(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]]))
    >>> float(value)  # the mean over all entries, (1 + 4) / 2
    2.5
    """
    return _mean_squared(*_operands(F, Y, "mean_squared"))


def _mean_squared(F: np.ndarray, Y: np.ndarray) -> tuple:
    value, dF = _squared(F, Y)
    k_out = F.shape[-2]
    return 2 * value / k_out, 2 * dF / k_out


LOSSES: dict[str, LossFn] = {
    "squared": squared,
    "mean_squared": mean_squared,
    "logistic": logistic,
    "exponential": exponential,
    "cross_entropy": cross_entropy,
}
# What the trainer's engine calls at every step: the same functions without the argument checks (a diverging
# run's output is not finite, and the engine, which checks its data once, must see the non-finite loss).
_RAW: dict[str, LossFn] = {
    "squared": _squared,
    "mean_squared": _mean_squared,
    "logistic": _logistic,
    "exponential": _exponential,
    "cross_entropy": _cross_entropy,
}


def _raw(fn):
    """The unchecked form of a named loss function (any other callable as it is)."""
    for name, public in LOSSES.items():
        if fn is public:
            return _RAW[name]
    return fn


class MatrixSensing:
    """Matrix sensing loss ``(1/2n) sum_i (y_i - Tr(M_i^T F))^2`` of the end-to-end matrix ``F``.

    Train or evaluate it with ``X = None`` (the identity ``I_k``), so that ``F = W_d ... W_1``;
    the ``Y`` argument of the protocol is ignored. With a leading member axis, ``M (S, n, k, k)`` and
    ``y (S, n)``, member s of a stacked network is scored on its own measurements (``members = S``).

    Parameters
    ----------
    M : ndarray
        (n, k, k), the measurement matrices M_i; or (S, n, k, k), one set per member.
    y : ndarray
        (n,), the observations y_i = Tr(M_i^T X*); or (S, n).

    References
    ----------
    Paper: Section 4.2, matrix sensing.
    """

    def __init__(self, M: np.ndarray, y: np.ndarray) -> None:
        M = np.array(M, dtype=np.float64)
        if M.ndim not in (3, 4) or M.shape[-1] != M.shape[-2] or M.shape[-3] < 1 or M.shape[0] < 1:
            raise ValueError(f"M must have shape (n, k, k) with n >= 1, or (S, n, k, k) per member, got {M.shape}")
        y = np.array(y, dtype=np.float64)
        if y.shape != M.shape[:-2]:
            raise ValueError(f"y must have shape {M.shape[:-2]} to match M, got {y.shape}")
        if not (np.isfinite(M).all() and np.isfinite(y).all()):
            raise ValueError("M and y must contain only finite entries")
        self.M, self.y = M, y
        self.members = int(M.shape[0]) if M.ndim == 4 else None
        self._flat = M.reshape(*M.shape[:-2], -1)

    @property
    def k(self) -> int:
        """The side k of the sensed k x k matrix."""
        return int(self.M.shape[-1])

    def __repr__(self) -> str:
        per = "" if self.members is None else f"S={self.members}, "
        return f"MatrixSensing({per}n={self.M.shape[-3]}, k={self.k})"

    def validate(self, out_shape: tuple[int, int], Y: object = None) -> None:
        """Check that the network output F has shape (k, k) (rows k_d, columns n of X).

        Parameters
        ----------
        out_shape : tuple
            The shape ``(k_d, n)`` of the network output F.
        Y : object, optional
            Targets (k_d, n), samples as columns.

        Raises
        ------
        ValueError
            If an argument is not valid (the message names the parameter).
        """
        if tuple(out_shape) != (self.k, self.k):
            raise ValueError(
                f"loss=MatrixSensing needs a network output of shape ({self.k}, {self.k}): "
                f"k_d = {self.k} and X = None (the identity I_{self.k}); got output shape "
                f"{tuple(out_shape)}"
            )

    def residuals(self, F: np.ndarray) -> np.ndarray:
        """``y_i - Tr(M_i^T F)``: F (k, k) or (S, k, k) -> (n,) or (S, n).

        Parameters
        ----------
        F : ndarray
            (k, k) or (S, k, k), the network output.

        Returns
        -------
        ndarray
            (n,) or (S, n), ``y_i - Tr(M_i^T F)``.
        """
        f = F.reshape(*F.shape[:-2], -1)
        if self.members is None:
            return self.y - f @ self._flat.T
        return self.y - (self._flat @ f[..., None])[..., 0]

    def __call__(self, F: np.ndarray, Y: object = None) -> tuple:
        r = self.residuals(F)
        n = self.y.shape[-1]
        value = 0.5 * (r * r).sum(axis=-1) / n
        g = r @ self._flat if self.members is None else (r[:, None, :] @ self._flat)[:, 0]
        dF = -g.reshape(F.shape) / n
        return (float(value) if F.ndim == 2 else value), dF


def mse_learning_rate(lr: float, k_out: int) -> float:
    """The library's learning rate that equals a step ``lr`` on the mean squared error over all entries.

    The paper's experiments (the authors' PyTorch scripts, ``nn.MSELoss`` with SGD) minimise
    ``||Y - f(X)||_F^2 / (k_d n)``, the mean over all ``k_d n`` entries; the library's loss is
    ``||Y - f(X)||_F^2 / (2n)``, which is ``k_d / 2`` times larger. Gradient descent with step ``lr``
    on the former is gradient descent with step ``lr * 2 / k_d`` on the latter, on the matrices and on a
    structure's coefficients alike. (The loss converts the other way: mean squared error =
    library loss ``* 2 / k_d``.)

    Parameters
    ----------
    lr : float
        > 0, the learning rate for the mean squared error (the paper's ``1e-2``, say).
    k_out : int
        >= 1, the number of outputs ``k_d``.

    Returns
    -------
    float
        ``lr * 2 / k_out``.

    Raises
    ------
    ValueError
        If ``lr`` or ``k_out`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6 (learning rate 1e-2 for the mean squared error, Figures 1 and 2).

    Examples
    --------
    >>> from deeplinear.losses import mse_learning_rate
    >>> round(mse_learning_rate(0.1, 10), 12)  # 0.1 * 2 / 10
    0.02
    """
    _validate.positive(lr, "lr")
    _validate.integer(k_out, "k_out", 1)
    return lr * 2 / int(k_out)
