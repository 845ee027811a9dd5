"""The minimum-norm factorisation (Proposition 2): a two-layer factorisation ``W_2 W_1 = P`` has
``||W_1||_F^2 + ||W_2||_F^2 >= 2 ||P||_*``, with equality at the aligned, 0-balanced factorisation
``W_1 = S^{1/2} V^T``, ``W_2 = U S^{1/2}``; the ratio of the two sides, random factorisations of a product,
and the numerical minimisation of the norm over factorisations.

Shapes follow the package convention: ``W_i`` is ``(k_i, k_{i-1})``; functions that take matrices also take
stacks of them (``(S, m, n)``) and then return an extra leading ``S`` axis.

Paper: Radhakrishnan et al., Proposition 2.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from . import _validate

__all__ = ["nuclear_norm", "norm_ratio", "minimum_norm_factors", "random_factors", "minimise_norm"]


def _nonzero_product(nuclear: np.ndarray, names: str) -> np.ndarray:
    if np.any(nuclear == 0):
        raise ValueError(f"{names}: the product W_2 W_1 is 0, where the ratio to its nuclear norm is undefined")
    return nuclear


def _fro(A: np.ndarray) -> np.ndarray:
    return np.linalg.norm(A, axis=(-2, -1))


def _scalar(x):
    return float(x) if np.ndim(x) == 0 else x


def nuclear_norm(P: np.ndarray) -> float | np.ndarray:
    """The nuclear norm ``||P||_*``, the sum of the singular values.

    Parameters
    ----------
    P : ndarray
        (m, n), or a stack (S, m, n).

    Returns
    -------
    float or ndarray
        Float, or ndarray (S,).

    Raises
    ------
    ValueError
        If ``P`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 2 (the minimum of ``||W_1||_F^2 + ||W_2||_F^2`` over ``W_2 W_1 = P`` is ``2 ||P||_*``).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.minimum_norm import nuclear_norm
    >>> round(nuclear_norm(np.diag([3.0, -1.0])), 6)
    4.0
    """
    P = _validate.matrices(P, "P")
    return _scalar(np.linalg.svd(P, compute_uv=False).sum(axis=-1))


def norm_ratio(W1: np.ndarray, W2: np.ndarray) -> float | np.ndarray:
    """``(||W_1||_F^2 + ||W_2||_F^2) / (2 ||W_2 W_1||_*)``: at least 1, and 1 exactly at a minimum-norm
    factorisation of the product (Proposition 2).

    Parameters
    ----------
    W1 : ndarray
        (h, n), or a stack (S, h, n).
    W2 : ndarray
        (m, h), or a stack (S, m, h) like ``W1``.

    Returns
    -------
    float or ndarray
        Float, or ndarray (S,).

    Raises
    ------
    ValueError
        When ``W_2 W_1 = 0`` (for some member of a stack): the ratio is then undefined.

    References
    ----------
    Paper: Proposition 2.
    """
    W1, W2 = _validate.matrices(W1, "W1"), _validate.matrices(W2, "W2")
    if W1.ndim != W2.ndim or W2.shape[-1] != W1.shape[-2] or W1.shape[:-2] != W2.shape[:-2]:
        raise ValueError(f"W1 (h, n) and W2 (m, h) must chain, with the same stack axis; got {W1.shape} and {W2.shape}")
    total = np.sum(W1**2, axis=(-2, -1)) + np.sum(W2**2, axis=(-2, -1))
    return _scalar(total / (2 * _nonzero_product(np.linalg.svd(W2 @ W1, compute_uv=False).sum(axis=-1), "W1, W2")))


def minimum_norm_factors(P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The aligned, 0-balanced factorisation ``W_1 = S^{1/2} V^T``, ``W_2 = U S^{1/2}`` of ``P = U S V^T``.

    It attains the minimum ``2 ||P||_*`` of ``||W_1||_F^2 + ||W_2||_F^2`` over ``W_2 W_1 = P``, with a
    hidden width ``min(m, n)``. It is aligned (the usSVDs ``W_1 = I S^{1/2} V^T``, ``W_2 = U S^{1/2} I``
    share the middle basis) and 0-balanced (``W_2^T W_2 = S = W_1 W_1^T``).

    Parameters
    ----------
    P : ndarray
        (m, n).

    Returns
    -------
    W1 : ndarray
        (min(m, n), n).
    W2 : ndarray
        (m, min(m, n)).

    Raises
    ------
    ValueError
        If ``P`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 2.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.minimum_norm import minimum_norm_factors, norm_ratio
    >>> W1, W2 = minimum_norm_factors(np.diag([4.0, 1.0]))
    >>> bool(np.allclose(W2 @ W1, np.diag([4.0, 1.0]))), round(float(norm_ratio(W1, W2)), 6)
    (True, 1.0)
    """
    P = _validate.matrices(P, "P", (2,))
    U, s, Vt = np.linalg.svd(P, full_matrices=False)
    return np.sqrt(s)[:, None] * Vt, U * np.sqrt(s)


def random_factors(W1: np.ndarray, count: int, *, rng: int | np.random.Generator | None = None) -> np.ndarray:
    """Random invertible first factors ``A`` (then ``W_2 = P A^{-1}``), in two families of ``count`` each.

    The first family is ``Q_1 diag(exp(c z)) Q_2`` with Haar-like ``Q_1, Q_2`` (QR factors of Gaussians),
    standard normal ``z`` and a spread ``c`` uniform on ``[0, 1.5)``: random conditioning. The second turns
    a perturbation of ``W1`` by ``Q_1``: ``Q_1 (I + eps Z / sqrt(k)) W1`` with Gaussian ``Z`` and ``eps``
    log-spaced from 1e-4 to 1, so that it samples tiny to large distances from a minimiser ``W1``. Draws,
    in order: ``Q_1``, ``Q_2`` (each ``count`` QRs), ``c``, ``z``, ``Z``.

    Parameters
    ----------
    W1 : ndarray
        (k, k), the factor to perturb (`minimum_norm_factors` of a square ``P``).
    count : int
        >= 1, the size of each family.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    ndarray
        (2 count, k, k), the first family first.

    Raises
    ------
    ValueError
        If ``rng``, ``W1`` or ``count`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 2 (random factorisations do not beat the aligned one).
    """
    rng = _validate.rng(rng)
    W1 = _validate.matrices(W1, "W1", (2,))
    if W1.shape[0] != W1.shape[1]:
        raise ValueError(f"W1 must be square (k, k), got shape {W1.shape}")
    _validate.integer(count, "count", 1, what="a positive integer")
    k = W1.shape[0]
    Q1 = np.linalg.qr(rng.standard_normal((count, k, k)))[0]
    Q2 = np.linalg.qr(rng.standard_normal((count, k, k)))[0]
    spread = rng.uniform(0.0, 1.5, (count, 1))
    wide = (Q1 * np.exp(spread * rng.standard_normal((count, k)))[:, None, :]) @ Q2
    eps = np.geomspace(1e-4, 1.0, count)[:, None, None]
    near = Q1 @ (np.eye(k) + eps * rng.standard_normal((count, k, k)) / np.sqrt(k)) @ W1
    return np.concatenate([wide, near])


def minimise_norm(P: np.ndarray, A0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimise ``||A||_F^2 + ||P A^{-1}||_F^2`` over invertible ``A`` with L-BFGS-B, from ``A0``.

    The optimiser knows nothing about alignment or balancedness: it is given the objective and its
    gradient ``2 A - 2 B^T B A^{-T}`` (``B = P A^{-1}``) only. It stops near, not at, the minimum
    (relative imbalance and alignment defect of order 1e-8 on a 9 x 9 problem).

    ``P`` must have rank ``k``: for a rank-deficient ``P`` the infimum is approached as ``A`` turns singular
    (the minimal factors vanish on P's null space) and no invertible ``A`` attains it.

    Parameters
    ----------
    P : ndarray
        (m, k), of rank k.
    A0 : ndarray
        (k, k), invertible, the start.

    Returns
    -------
    W1 : ndarray
        (k, k), the ``A`` found.
    W2 : ndarray
        (m, k), ``P W1^{-1}``.

    Raises
    ------
    ValueError
        If ``A0`` or ``P`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 2 (the minimum is at the aligned, 0-balanced factorisation).
    """
    P, A0 = _validate.matrices(P, "P", (2,)), _validate.matrices(A0, "A0", (2,))
    k = P.shape[1]
    if A0.shape != (k, k):
        raise ValueError(f"A0 must have shape ({k}, {k}) for P of shape {P.shape}, got {A0.shape}")
    rank = np.linalg.matrix_rank(P)
    if rank < k:
        raise ValueError(
            f"P must have rank {k} (its column count), got rank {rank}: no invertible A attains the minimum"
        )

    def objective(a):
        A = a.reshape(k, k)
        A_inv = np.linalg.inv(A)
        B = P @ A_inv
        return np.sum(A**2) + np.sum(B**2), (2 * A - 2 * B.T @ B @ A_inv.T).ravel()

    options = {"maxiter": 5000, "gtol": 1e-12, "ftol": 1e-15}
    best = minimize(objective, A0.ravel(), jac=True, method="L-BFGS-B", options=options)
    W1 = best.x.reshape(k, k)
    return W1, P @ np.linalg.inv(W1)
