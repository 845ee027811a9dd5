"""A necessary condition for alignment, and why layer structures rarely meet it.

Proposition 3: an aligned network that interpolates shares its outer singular vectors with the
pseudo-inverse solution ``P = Y X^T (X X^T)^{-1}``. Proposition 4 and Theorem 3: for generic data, a
small layer structure S holds no layer sharing ``P``'s right singular vectors (`closest_partner`,
`partner_sweep`). The Example, convolutional autoencoders driven towards scalar identities, is in
`deeplinear.example`; training structured networks as Figure 2 does in `deeplinear.constrained`, and the
phase diagram beyond the paper in `deeplinear.phase_diagram`.

Paper: Radhakrishnan et al., Section 5.2 (Propositions 3 and 4, Theorem 3).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
from scipy.optimize import minimize

from . import _validate, metrics
from .structures import RandomSubspace, Structure

__all__ = [
    "pinv_solution",
    "proposition3_scores",
    "singular_basis_defect",
    "partner_objective",
    "closest_partner",
    "partner_sweep",
    "interpolation_residual",
    "search_generic_data",
    "measured_threshold",
    "threshold_text",
]


# -- Proposition 3 ---------------------------------------------------------------------------------
def pinv_solution(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The least-squares solution ``P = Y X^T (X X^T)^{-1}`` of ``Y = P X``.

    Parameters
    ----------
    X : ndarray
        (k_0, n) of full row rank (n >= k_0).
    Y : ndarray
        (k_d, n).

    Returns
    -------
    ndarray
        (k_d, k_0).

    Raises
    ------
    ValueError
        If ``X`` or ``Y`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 3.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.impossibility import pinv_solution
    >>> np.round(pinv_solution(np.eye(2), np.diag([2.0, 3.0])), 6)
    array([[2., 0.],
           [0., 3.]])
    """
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1] or X.shape[1] < X.shape[0]:
        raise ValueError(f"X must be (k_0, n) with n >= k_0 and Y (k_d, n), got {X.shape} and {Y.shape}")
    X, Y = _validate.matrix(X, "X"), _validate.matrix(Y, "Y")
    _validate.full_row_rank(X, "X")
    return np.linalg.solve(X @ X.T, X @ Y.T).T


def proposition3_scores(Ws: Sequence[np.ndarray], X: np.ndarray) -> np.ndarray:
    """Alignment scores of ``W_d^T`` with ``P`` and of ``P`` with ``W_1^T``, for the data ``Y = f X``.

    ``P`` is `pinv_solution` of ``(X, f X)``, computed from the data alone; ``f = W_d ... W_1``.
    "A aligns with B" means ``V_A = U_B``, scored by :func:`deeplinear.metrics.alignment` on ``[B, A]``.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d >= 1 arrays (k_i, k_{i-1}).
    X : ndarray
        (k_0, n), full row rank.

    Returns
    -------
    ndarray
        (2,), entries in [0, 1]; both 1 for an aligned network with distinct singular values.

    Raises
    ------
    ValueError
        If ``Ws`` or ``X`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 3.
    """
    layers, stacked = _validate.network(Ws)
    if stacked is not None:
        raise ValueError("Ws must be one network of 2-D layers, not a stack")
    _validate.matrix(X, "X", layers[0].shape[1])
    f = np.linalg.multi_dot(layers[::-1]) if len(layers) > 1 else layers[0]
    P = pinv_solution(X, f @ np.asarray(X, dtype=np.float64))
    return np.array([metrics.alignment([P, layers[-1].T])[0], metrics.alignment([layers[0].T, P])[0]])


# -- Proposition 4 and Theorem 3 -------------------------------------------------------------------
def singular_basis_defect(W: np.ndarray, V: np.ndarray) -> float:
    """How far ``V`` is from being a right singular basis of ``W``: ``delta(W)`` in [0, 1].

    ``delta(W) = ||offdiag(V^T W^T W V)||_F / ||W^T W - tr(W^T W)/k I||_F``: 0 exactly when some usSVD of
    ``W`` has right singular vectors ``V`` (``V^T W^T W V`` diagonal), and unchanged when ``W`` is rescaled.

    Parameters
    ----------
    W : ndarray
        (m, k), not a multiple of an orthogonal matrix (the denominator vanishes there).
    V : ndarray
        (k, k), orthonormal.

    Returns
    -------
    float
        Float.

    Raises
    ------
    ValueError
        If ``W`` or ``V`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 4 (a layer aligning with ``P``), Theorem 3.
    """
    W, V = np.asarray(W, dtype=np.float64), np.asarray(V, dtype=np.float64)
    if W.ndim != 2 or V.shape != (W.shape[1], W.shape[1]):
        raise ValueError(f"W must be (m, k) and V (k, k), got {W.shape} and {V.shape}")
    W, V = _validate.matrix(W, "W"), _validate.orthonormal_matrix(V, "V", W.shape[1])
    M = W.T @ W
    B = V.T @ M @ V
    off = np.linalg.norm(B - np.diag(np.diag(B)))
    den = np.linalg.norm(M - np.trace(M) / len(M) * np.eye(len(M)))
    if den == 0:
        raise ValueError("W must not be a multiple of an orthogonal matrix (W^T W = c I, 0 included): delta is 0 / 0")
    return float(off / den)


def partner_objective(structure: Structure, V: np.ndarray) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``c -> (delta(W)^2, its gradient in c)`` for ``W = structure.matrix(c)``, for ``scipy.optimize``.

    ``delta`` is :func:`singular_basis_defect` against ``V``, written as ``num / den`` with
    ``num = ||M||_F^2 - ||diag(V^T M V)||^2`` and ``den = ||M||_F^2 - tr(M)^2/k`` (``M = W^T W``). Where
    ``W^T W`` is a multiple of the identity (``den`` at rounding level) the value is 1 and the gradient 0:
    those layers are excluded, as Theorem 3 excludes scalar multiples of the identity.

    Parameters
    ----------
    structure : Structure
        Structure of m x k matrices, dimension r.
    V : ndarray
        (k, k), orthonormal.

    Returns
    -------
    callable
        Callable ``fun(c)`` with ``c`` (r,), returning ``(float, ndarray (r,))``.

    Raises
    ------
    ValueError
        If ``V`` or ``structure`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 4.
    """
    k = _validate.structure(structure).shape[1]
    V = np.asarray(V, dtype=np.float64)
    if V.shape != (k, k):
        raise ValueError(f"V must be ({k}, {k}) for {structure!r}, got {V.shape}")
    V = _validate.orthonormal_matrix(V, "V", k)
    eye = np.eye(k)

    def fun(c):
        W = structure.matrix(c)
        M = W.T @ W
        diag = np.einsum("ai,ab,bi->i", V, M, V)  # diagonal of V^T M V
        norm2, trace = float(np.sum(M * M)), float(np.trace(M))
        num, den = norm2 - float(diag @ diag), norm2 - trace**2 / k
        if den <= 1e-14 * max(norm2, 1e-300):  # W^T W is a multiple of I: excluded
            return 1.0, np.zeros_like(c)
        value = num / den
        grad_M = (2 * (M - (V * diag) @ V.T) - value * 2 * (M - trace / k * eye)) / den
        return value, structure.adjoint(2 * W @ grad_M)

    return fun


def closest_partner(
    structure: Structure, P: np.ndarray, restarts: int, *, rng: int | np.random.Generator | None = None
) -> tuple[float, float]:
    """The layer of S closest to sharing ``P``'s right singular vectors, by BFGS from random starts.

    Minimises :func:`partner_objective` from ``restarts`` standard normal coefficient vectors (drawn in
    turn, each before its run). Among the results, the smallest defect wins; defects below ``1e-10``
    count as equal (rounding decides there) and the best alignment score among them wins, since a layer
    with repeated singular values can have defect 0 and still a low score (its SVD basis is arbitrary).

    Parameters
    ----------
    structure : Structure
        Structure of k x k matrices.
    P : ndarray
        (k, k), e.g. `pinv_solution` of generic data.
    restarts : int
        >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple
        (defect, score): :func:`singular_basis_defect` of the layer found and the alignment score of ``P``
        with its transpose (``metrics.alignment([W^T, P])``).

    Raises
    ------
    ValueError
        If ``rng``, ``restarts``, ``structure`` or ``P`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 4, Theorem 3.
    """
    rng = _validate.rng(rng)
    restarts = _validate.integer(restarts, "restarts")
    structure = _validate.structure(structure)
    P = np.asarray(P, dtype=np.float64)
    if P.shape != (structure.shape[1], structure.shape[1]):
        raise ValueError(f"P must be {structure.shape[1]} x {structure.shape[1]}, got {P.shape}")
    P = _validate.matrix(P, "P")
    V = np.linalg.svd(P)[2].T
    fun = partner_objective(structure, V)
    found = []
    for _ in range(restarts):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = minimize(
                fun,
                rng.standard_normal(structure.dim),
                jac=True,
                method="BFGS",
                options={"gtol": 1e-12, "maxiter": 1000},
            )
        W = structure.matrix(res.x)
        found.append((singular_basis_defect(W, V), float(metrics.alignment([W.T, P])[0])))
    return min(found, key=lambda f: (max(f[0], 1e-10), -f[1]))


def partner_sweep(P: np.ndarray, restarts: int, *, rng: int | np.random.Generator | None = None) -> np.ndarray:
    """:func:`closest_partner` in a random subspace of every dimension ``r = 1, …, k^2``.

    For each ``r`` in turn, draws ``RandomSubspace(k, k, r, rng)`` and then runs the search. The
    dimension count says the defect is positive for ``r < k(k-1)/2 + 1`` and reaches 0 from there on.

    Parameters
    ----------
    P : ndarray
        (k, k).
    restarts : int
        >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    ndarray
        (k^2, 2): row ``r - 1`` holds (defect, score) for dimension ``r``.

    Raises
    ------
    ValueError
        If ``rng`` or ``P`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 4, Theorem 3.
    """
    rng = _validate.rng(rng)
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise ValueError(f"P must be a square matrix, got shape {P.shape}")
    k = P.shape[0]
    return np.array(
        [closest_partner(RandomSubspace(k, k, r, rng=rng), P, restarts, rng=rng) for r in range(1, k * k + 1)]
    )


def interpolation_residual(X: np.ndarray, Y: np.ndarray) -> float:
    """How far any linear map is from interpolating: ``min_F ||Y - F X||_F / ||Y||_F``.

    The rows of ``F X`` span at most the row space of ``X``, so the residual is the part of ``Y``'s rows
    outside it: 0 (rounding) when ``X`` has full column rank (``n <= k_0``), and positive for generic data
    with ``n > k_0``, where Theorem 3's hypothesis ``Y = f(X)`` cannot hold for any network.

    Parameters
    ----------
    X : ndarray
        (k_0, n).
    Y : ndarray
        (k_d, n), not zero.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        If ``X`` or ``Y`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 3 (its hypothesis ``Y = f(X)``).

    Examples
    --------
    >>> X = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> interpolation_residual(X, np.array([[3.0, 0.0, 4.0]]))
    0.8
    """
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1] or not np.any(Y):
        raise ValueError(f"X must be (k_0, n) and Y a non-zero (k_d, n), got {X.shape} and {Y.shape}")
    X, Y = _validate.matrix(X, "X"), _validate.matrix(Y, "Y")
    if 0 in X.shape or not np.any(X):
        raise ValueError(f"X must be a non-empty, nonzero (k_0, n) array, got shape {X.shape}")
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    Q = Vt[s > s[0] * max(X.shape) * np.finfo(float).eps].T  # (n, rank X): the row space of X
    return float(np.linalg.norm(Y - (Y @ Q) @ Q.T) / np.linalg.norm(Y))


def search_generic_data(
    k: int,
    draws: int,
    restarts: int,
    structure: Structure | None = None,
    *,
    rng: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Proposition 4's search on several generic data sets, and how far each is from being interpolated.

    For each of ``draws`` data sets in turn: draws ``X`` and then ``Y``, Gaussian ``k x 2k``, and searches
    for a layer sharing the right singular vectors of their `pinv_solution` ``P``: in ``structure`` with
    :func:`closest_partner`, or, with no structure, in a random subspace of every dimension with
    :func:`partner_sweep`.

    Parameters
    ----------
    k : int
        >= 2, the side of the layers.
    draws : int
        >= 1, the number of data sets.
    restarts : int
        >= 1, BFGS starts per search.
    structure : Structure or None, optional
        Structure of k x k matrices, or None for random subspaces of every dimension.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple
        (found, residuals): ``found`` is (draws, 2) of (defect, score), or (draws, k^2, 2) without a structure;
        ``residuals`` (draws,) is :func:`interpolation_residual` of each data set.

    Raises
    ------
    ValueError
        If ``rng``, ``k``, ``structure``, ``draws`` or ``restarts`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 4, Theorem 3.
    """
    rng = _validate.rng(rng)
    k = _validate.integer(k, "k", 2)
    draws, restarts = _validate.integer(draws, "draws"), _validate.integer(restarts, "restarts")
    if structure is not None and _validate.structure(structure).shape != (k, k):
        raise ValueError(f"structure must hold {k} x {k} matrices, got {structure.shape}")
    found, residuals = [], []
    for _ in range(draws):
        X = rng.standard_normal((k, 2 * k))
        Y = rng.standard_normal((k, 2 * k))
        P = pinv_solution(X, Y)
        search = (
            partner_sweep(P, restarts, rng=rng)
            if structure is None
            else closest_partner(structure, P, restarts, rng=rng)
        )
        found.append(search)
        residuals.append(interpolation_residual(X, Y))
    return np.array(found), np.array(residuals)


def measured_threshold(defects: np.ndarray, tolerance: float) -> int:
    """The smallest dimension ``r`` whose defect (row ``r - 1`` of `partner_sweep`) is below ``tolerance``.

    Parameters
    ----------
    defects : ndarray
        (R,), the defect found for ``r = 1 .. R`` (``partner_sweep(...)[:, 0]``).
    tolerance : float
        > 0, below which a search counts as reaching 0.

    Returns
    -------
    int
        In [1, R], or -1 when no dimension reaches it.

    Raises
    ------
    ValueError
        If ``defects`` or ``tolerance`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 4 (the measured threshold).

    Examples
    --------
    >>> measured_threshold(np.array([0.3, 0.02, 1e-9, 0.4, 1e-12]), 1e-6)
    3
    """
    defects = np.asarray(defects, dtype=np.float64)
    if defects.ndim != 1 or not (np.isfinite(defects).all() and np.all(defects >= 0)):
        raise ValueError(f"defects must be a 1-D array of finite defects >= 0, got {defects!r}")
    tolerance = _validate.positive(tolerance, "tolerance")
    below = np.flatnonzero(defects < tolerance)
    return int(below[0]) + 1 if below.size else -1


def threshold_text(measured: int, count: int, all_reach: bool) -> str:
    """The measured threshold of a `partner_sweep` against the dimension count's, as a phrase for the prose.

    Parameters
    ----------
    measured : int
        `measured_threshold` (-1: none reached 0)
    count : int
        ``k(k-1)/2 + 1``.
    all_reach : bool
        Whether every dimension from ``count`` on reached 0.

    Returns
    -------
    str
        Str.

    References
    ----------
    Paper: Proposition 4 (the book's dimension count).
    """
    if measured == count and all_reach:
        return "reaches 0 for every r from there on: the measured threshold is the count's"
    if measured > 0:  # a search that stopped short of a partner the count allows, or found one below it
        return f"first reaches 0 at r = {measured}, where the count allows it from r = {count}"
    return "never reaches 0, not even for all k x k matrices: the search failed"
