"""Aligned networks: the unsorted, signed SVD (Definition 1), aligned networks built from their bases and
singular values (Definition 2), the collapse of their product (eq. (3)), and the aligned starts of
Theorem 1 and Appendix F.

Shapes follow the package convention: ``W_i`` is ``(k_i, k_{i-1})``; ``bases = [Q_0, ..., Q_d]`` are
orthonormal ``(k_i, k_i)`` arrays.

Paper: Radhakrishnan et al., Definitions 1 and 2, eq. (3), Appendix F.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _validate
from ._validate import matrix as _matrix
from ._validate import vector as _vector

__all__ = [
    "usvd",
    "random_orthogonal",
    "aligned_network",
    "collapsed_product",
    "collapse_error",
    "aligned_start",
    "appendix_f_start",
]


def usvd(A: np.ndarray, *, rng: int | np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An unsorted, signed SVD ``A = U Sigma V^T`` (Definition 1).

    Without ``rng`` this is the ordinary full SVD. With ``rng``, the singular triplets are put in a
    random order and given random signs (``sigma_j u_j v_j^T = (-sigma_j)(-u_j) v_j^T``), and the
    null-space columns are shuffled too: order and signs in a usSVD are free.

    Parameters
    ----------
    A : ndarray
        (m, n)
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`). None (the default) keeps the plain SVD.

    Returns
    -------
    U : ndarray
        (m, m), orthonormal.
    Sigma : ndarray
        (m, n), rectangular diagonal, entries of any sign and order.
    V : ndarray
        (n, n), orthonormal.

    Raises
    ------
    ValueError
        If ``rng`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 1.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.aligned import usvd
    >>> U, Sigma, V = usvd(np.diag([1.0, 3.0]), rng=0)
    >>> bool(np.allclose(U @ Sigma @ V.T, np.diag([1.0, 3.0])))
    True
    """
    A = _matrix(A, "A")
    if rng is not None:
        rng = _validate.rng(rng)
    m, n = A.shape
    U, s, Vt = np.linalg.svd(A)
    V, r = Vt.T, s.size
    if rng is not None:
        perm, sign, flip = rng.permutation(r), rng.choice([-1.0, 1.0], r), rng.choice([-1.0, 1.0], r)
        U[:, :r], V[:, :r], s = U[:, perm] * (sign * flip), V[:, perm] * flip, s[perm] * sign
        U[:, r:] = U[:, r + rng.permutation(m - r)] * rng.choice([-1.0, 1.0], m - r)
        V[:, r:] = V[:, r + rng.permutation(n - r)] * rng.choice([-1.0, 1.0], n - r)
    Sigma = np.zeros((m, n))
    Sigma[np.arange(r), np.arange(r)] = s
    return U, Sigma, V


def random_orthogonal(k: int, *, rng: int | np.random.Generator | None = None) -> np.ndarray:
    """A Haar-distributed orthonormal matrix ``(k, k)`` (QR of a Gaussian, signs fixed by R's diagonal).

    Parameters
    ----------
    k : int
        Width (dimension), >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    ndarray
        A Haar-distributed orthonormal matrix ``(k, k)`` (QR of a Gaussian, signs fixed by R's diagonal).

    Raises
    ------
    ValueError
        If ``k`` is not valid (the message names the parameter).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.aligned import random_orthogonal
    >>> Q = random_orthogonal(3, rng=0)
    >>> bool(np.allclose(Q.T @ Q, np.eye(3)))
    True
    """
    return _validate.orthogonal(k, rng=rng)


def aligned_network(bases: Sequence[np.ndarray], sigmas: Sequence[np.ndarray]) -> list[np.ndarray]:
    """An aligned network ``W_i = Q_i Sigma_i Q_{i-1}^T`` (Definition 2).

    Then ``V_1 = Q_0``, ``U_i = V_{i+1} = Q_i`` and ``U_d = Q_d``.

    Parameters
    ----------
    bases : sequence of ndarray
        List of d+1 orthonormal arrays ``Q_i`` of shape (k_i, k_i), i = 0..d.
    sigmas : sequence of ndarray
        List of d 1-D arrays; ``sigmas[i-1]`` has length ``min(k_i, k_{i-1})`` and fills the
        diagonal of ``Sigma_i`` (signed, any order).

    Returns
    -------
    Ws
        List of d arrays (k_i, k_{i-1}).

    Raises
    ------
    ValueError
        If ``bases`` or ``sigmas`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 2, eq. (3).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.aligned import aligned_network
    >>> Ws = aligned_network([np.eye(2)] * 3, [np.array([2.0, 1.0]), np.array([3.0, 1.0])])
    >>> (Ws[1] @ Ws[0]).tolist()
    [[6.0, 0.0], [0.0, 1.0]]
    """
    Qs = [np.asarray(Q, dtype=np.float64) for Q in bases]
    if len(Qs) < 2:
        raise ValueError(f"bases must hold d+1 >= 2 orthonormal matrices, got {len(Qs)}")
    for i, Q in enumerate(Qs):
        if Q.ndim != 2 or Q.shape[0] != Q.shape[1] or not np.isfinite(Q).all():
            raise ValueError(f"bases[{i}] must be a finite square (k_{i}, k_{i}) array, got {Q.shape}")
        if np.abs(Q.T @ Q - np.eye(len(Q))).max() > 1e-8:
            raise ValueError(f"bases[{i}] must be orthonormal (Q^T Q = I to 1e-8)")
    if len(sigmas) != len(Qs) - 1:
        raise ValueError(f"sigmas must hold d = {len(Qs) - 1} arrays, got {len(sigmas)}")
    Ws = []
    for i in range(1, len(Qs)):
        r = min(len(Qs[i]), len(Qs[i - 1]))
        s = _vector(sigmas[i - 1], f"sigmas[{i - 1}]", r)
        Ws.append((Qs[i][:, :r] * s) @ Qs[i - 1][:, :r].T)
    return Ws


def collapsed_product(bases: Sequence[np.ndarray], sigmas: Sequence[np.ndarray]) -> np.ndarray:
    """The right-hand side of eq. (3), ``U_d (Sigma_d … Sigma_1) V_1^T = Q_d (prod_i Sigma_i) Q_0^T``,
    for the aligned network ``aligned_network(bases, sigmas)``.

    The product of the rectangular diagonal ``Sigma_i`` keeps the first ``r = min_i k_i`` diagonal
    entries, each the product of the layers' entries; so the result has rank at most ``r``. Equation (3)
    says it equals the end-to-end matrix ``W_d ... W_1`` (`deeplinear.network.end_to_end`).

    Parameters
    ----------
    bases : sequence of ndarray
        List of d+1 orthonormal arrays ``Q_i`` (k_i, k_i), i = 0..d, as for `aligned_network`.
    sigmas : sequence of ndarray
        List of d 1-D arrays, ``sigmas[i-1]`` of length ``min(k_i, k_{i-1})``.

    Returns
    -------
    ndarray
        (k_d, k_0).

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: eq. (3).
    """
    aligned_network(bases, sigmas)  # validates bases and sigmas
    Qs = [np.asarray(Q, dtype=np.float64) for Q in bases]
    r = min(len(Q) for Q in Qs)
    diagonal = np.prod([np.asarray(s, dtype=np.float64)[:r] for s in sigmas], axis=0)
    return (Qs[-1][:, :r] * diagonal) @ Qs[0][:, :r].T


def collapse_error(bases: Sequence[np.ndarray], sigmas: Sequence[np.ndarray]) -> float:
    """Equation (3) measured: the largest entry of ``W_d … W_1 - U_d (prod_i Sigma_i) V_1^T`` for the aligned
    network ``aligned_network(bases, sigmas)``, relative to the largest entry of the right-hand side
    (:func:`collapsed_product`); rounding, since the two are equal.

    Parameters
    ----------
    bases : sequence of ndarray
        As for `aligned_network`.
    sigmas : sequence of ndarray
        As for `aligned_network`.

    Returns
    -------
    float
        >= 0.

    Raises
    ------
    ValueError
        When the product of the ``Sigma_i`` is 0: the relative error is then undefined.

    References
    ----------
    Paper: eq. (3).
    """
    right = collapsed_product(bases, sigmas)
    if not np.any(right):
        raise ValueError("sigmas: the product of the Sigma_i is 0, so the relative error is undefined")
    product = aligned_network(bases, sigmas)
    left = product[0]
    for W in product[1:]:
        left = W @ left
    with np.errstate(divide="ignore"):
        return float(np.abs(left - right).max() / np.abs(right).max())


def aligned_start(
    V: np.ndarray,
    U: np.ndarray,
    widths: Sequence[int],
    *,
    inner: str = "random",
    low: float = 0.5,
    high: float = 1.0,
    rng: int | np.random.Generator | None = None,
) -> list[np.ndarray]:
    """An aligned initialisation with outer bases ``Q_0 = V`` and ``Q_d = U`` (Definition 2).

    The inner bases ``Q_1 .. Q_{d-1}`` are Haar-random (``inner="random"``, drawn first, in order) or
    identities (``inner="identity"``, as in the authors' MNIST script); then each layer's
    ``min(k_i, k_{i-1})`` singular values are drawn uniform on ``[low, high)``, layer by layer.

    Parameters
    ----------
    V : ndarray
        (k_0, k_0), orthonormal
    U : ndarray
        (k_d, k_d), orthonormal.
    widths : sequence of int
        [k_0, ..., k_d], d >= 1.
    inner : str, optional
        "random" (Haar-random inner bases) or "identity".
    low : float, optional
        Lower end of the bracket, > 0.
    high : float, optional
        Upper end of the bracket, > low.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    Ws
        List of d arrays (k_i, k_{i-1}).

    Raises
    ------
    ValueError
        If ``rng``, ``widths``, ``inner``, ``low``, ``high`` or ``V`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 2; Theorem 1's aligned start ``V_1 = V``, ``U_d = U``.
    """
    rng = _validate.rng(rng)
    widths = _validate.widths(widths)
    if inner not in ("random", "identity"):
        raise ValueError(f'inner must be "random" or "identity", got {inner!r}')
    _validate.number(low, "low")
    _validate.number(high, "high")
    if not low < high:
        raise ValueError(f"low and high must be finite numbers with low < high, got {low!r} and {high!r}")
    if np.shape(V) != (widths[0], widths[0]) or np.shape(U) != (widths[-1], widths[-1]):
        raise ValueError(
            f"V must be ({widths[0]}, {widths[0]}) and U ({widths[-1]}, {widths[-1]}) for widths {widths}, "
            f"got {np.shape(V)} and {np.shape(U)}"
        )
    if inner == "random":
        middle = [random_orthogonal(w, rng=rng) for w in widths[1:-1]]
    else:
        middle = [np.eye(w) for w in widths[1:-1]]
    sigmas = [rng.uniform(low, high, min(a, b)) for a, b in zip(widths[1:], widths[:-1])]
    return aligned_network([V, *middle, U], sigmas)


def appendix_f_start(
    V: np.ndarray, U: np.ndarray, widths: Sequence[int], *, rng: int | np.random.Generator | None = None
) -> list[np.ndarray]:
    """Appendix F's rank-one aligned start: ``W_1 = s_1 u_1 v^T``, ``W_i = s_i e_1 e_1^T``, ``W_d = s_d u e_1^T``.

    It is `aligned_network` with bases ``(V, I, ..., I, U)`` and one nonzero singular value per layer,
    ``s_i`` uniform on [0, 1) (``rng.random()``, layer by layer): ``v`` is the first column of ``V`` and
    ``u`` that of ``U``. With one output (``k_d = 1``), gradient descent under any loss keeps every
    hidden layer a multiple of ``e_1 e_1^T`` and the network aligned.

    Parameters
    ----------
    V : ndarray
        (k_0, k_0), orthonormal
    U : ndarray
        (k_d, k_d), orthonormal.
    widths : sequence of int
        [k_0, ..., k_d], d >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    Ws
        List of d arrays (k_i, k_{i-1}), each of rank one.

    Raises
    ------
    ValueError
        If ``rng`` or ``widths`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 4 and Appendix F (one-dimensional outputs: an initialisation that stays aligned).
    """
    rng = _validate.rng(rng)
    widths = _validate.widths(widths)
    sigmas = [np.r_[rng.random(), np.zeros(min(a, b) - 1)] for a, b in zip(widths, widths[1:])]
    return aligned_network([V, *[np.eye(k) for k in widths[1:-1]], U], sigmas)
