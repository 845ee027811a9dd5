"""Corollary 1 as the book measures it: singular-value dynamics under strong alignment.

A planted problem that satisfies Theorem 1's condition, the diagonals ``Lambda``, ``Lambda'`` of
Corollary 1, equation (5) in the aligned bases, equation (6) as printed and the corrected recursion
(`singular_value_dynamics`); what a step of it saves over full gradient descent is timed in
`deeplinear.timing`. The recursion run until it converges, its rate and the critical learning rate are in
`deeplinear.convergence`; Proposition 1 in `deeplinear.proposition1`; the sequential learning of modes from a
small balanced start (Saxe et al.'s map and closed form) in `deeplinear.sequential`.

Shapes follow the package convention: ``W_i`` is ``(k_i, k_{i-1})``, data ``X`` is ``(k_0, n)`` and
``Y`` is ``(k_d, n)``; ``bases = [Q_0, ..., Q_d]`` are the aligned bases (``Q_0 = V``, ``Q_d = U``), and
singular values in those bases are ``(d, r)`` arrays, layer first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from . import _validate, aligned, network

__all__ = [
    "planted_problem",
    "singular_value_dynamics",
    "lambdas",
    "equation_5",
    "equation_5_error",
    "diagonal_blocks",
    "off_diagonal",
    "basis_metrics",
    "printed_equation_6",
    "corollary1_tolerance",
]


# --- the chapter's problem -------------------------------------------------------------------------------


def planted_problem(
    k: int, n: int, variances: np.ndarray, strengths: np.ndarray, *, rng: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Data that satisfy Theorem 1's condition with chosen spectra.

    Draws Haar ``V``, then ``U`` (both ``(k, k)``), then an ``(n, k)`` matrix ``R`` with orthonormal
    columns (the first ``k`` columns of a Haar ``(n, n)`` matrix), and returns
    ``X = V diag(sqrt(n v_j)) R^T`` and ``Y = U diag(s_j) V^T X``, so that
    ``V^T X X^T V = n diag(v)`` and ``U^T Y X^T V = n diag(v * s)``: mode ``j`` has target
    ``lambda'_j / lambda_j = s_j``.

    Parameters
    ----------
    k : int
        >= 1, input and output width.
    n : int
        >= k, number of samples.
    variances : ndarray
        (k,), the ``v_j`` (non-negative).
    strengths : ndarray
        (k,), the ``s_j``.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    X : ndarray
        (k, n); Y : ndarray (k, n); U : ndarray (k, k); V : ndarray (k, k).

    Raises
    ------
    ValueError
        If ``rng``, ``n``, ``variances``, ``strengths`` or ``k`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1, Corollary 1 (the book's planted problem).
    """
    rng = _validate.rng(rng)
    k, n = _validate.integer(k, "k", 1), _validate.integer(n, "n", 1)
    if n < k:
        raise ValueError(f"n must be at least k = {k} (R needs k orthonormal columns of length n), got {n}")
    variances = _validate.vector(variances, "variances", k)
    strengths = _validate.vector(strengths, "strengths", k)
    if np.any(variances < 0):
        raise ValueError("variances must be non-negative")
    V, U = aligned.random_orthogonal(k, rng=rng), aligned.random_orthogonal(k, rng=rng)
    R = aligned.random_orthogonal(n, rng=rng)[:, :k]
    X = (V * np.sqrt(n * variances)) @ R.T
    return X, (U * strengths) @ V.T @ X, U, V


def lambdas(X: np.ndarray, Y: np.ndarray, U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Corollary 1's diagonals ``lam = diag(V^T X X^T V)`` and ``lam' = diag(U^T Y X^T V)``, first r entries.

    Parameters
    ----------
    X : ndarray
        (k_0, n)
    Y : ndarray
        (k_d, n).
    U : ndarray
        (k_d, k_d), V : ndarray (k_0, k_0), orthonormal (e.g. from
        `deeplinear.theory.alignment_invariant_witness`).
    V : ndarray
        (k_0, k_0), orthonormal, the input basis.

    Returns
    -------
    lam, lam_prime
        Ndarrays (r,), ``r = min(k_0, k_d)``.

    Raises
    ------
    ValueError
        If ``X``, ``Y``, ``V`` or ``U`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1 (``Lambda``, ``Lambda'``).
    """
    X = _validate.matrix(X, "X")
    Y = _validate.matrix(Y, "Y")
    if Y.shape[1] != X.shape[1]:
        raise ValueError(f"Y must have n = {X.shape[1]} columns like X, got shape {Y.shape}")
    if np.shape(V) != (len(X), len(X)) or np.shape(U) != (len(Y), len(Y)):
        raise ValueError(f"V must be ({len(X)}, {len(X)}) and U ({len(Y)}, {len(Y)}), got {np.shape(V)}, {np.shape(U)}")
    U, V = _validate.orthonormal_matrix(U, "U"), _validate.orthonormal_matrix(V, "V")
    r = min(len(X), len(Y))
    return np.diag(V.T @ X @ X.T @ V)[:r].copy(), np.diag(U.T @ Y @ X.T @ V)[:r].copy()


# --- Corollary 1 -----------------------------------------------------------------------------------------


def equation_5(Ws: Sequence[np.ndarray], bases: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray) -> list[np.ndarray]:
    """The gradients ``dL/dW_i`` of equation (5), written in the bases ``Q_i``.

    With ``S_i = Q_i^T W_i Q_{i-1}``,
    ``dL/dW_i = -(1/n) Q_i S_{i+1}^T..S_d^T (Q_d^T Y X^T Q_0 - S_d..S_1 Q_0^T X X^T Q_0) S_1^T..S_{i-1}^T Q_{i-1}^T``.
    Under strong alignment the ``S_i`` are the diagonal ``Sigma_i``; the formula holds for any layers.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1})
    bases : sequence of ndarray
        List of d + 1 orthonormal (k_i, k_i) arrays.
    X : ndarray
        (k_0, n)
    Y : ndarray
        (k_d, n).

    Returns
    -------
    list of ndarray
        List of d arrays (k_i, k_{i-1}).

    Raises
    ------
    ValueError
        If ``Ws``, ``bases``, ``X`` or ``Y`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1, eq. (5).
    """
    Ws, bases = _validate.network_and_bases(Ws, bases)
    X = _validate.matrix(X, "X", Ws[0].shape[1])
    Y = _validate.matrix(Y, "Y", Ws[-1].shape[0])
    if X.shape[1] != Y.shape[1] or X.shape[1] < 1:
        raise ValueError(f"X and Y must have the same n >= 1 columns, got shapes {X.shape} and {Y.shape}")
    S = [bases[i + 1].T @ W @ bases[i] for i, W in enumerate(Ws)]
    middle = bases[-1].T @ Y @ X.T @ bases[0] - np.linalg.multi_dot(S[::-1] + [bases[0].T @ X @ X.T @ bases[0]])
    grads = []
    for i in range(len(Ws)):
        above = np.linalg.multi_dot(
            [np.eye(len(middle))]
            + [S[j].T for j in range(i + 1, len(Ws))]
            + [middle]
            + [S[j].T for j in range(i)]
            + [np.eye(middle.shape[1])]
        )
        grads.append(-bases[i + 1] @ above @ bases[i].T / X.shape[1])
    return grads


def equation_5_error(Ws: Sequence[np.ndarray], bases: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray) -> float:
    """How far equation (5) is from back-propagation: the largest entry of `equation_5` minus
    `deeplinear.gradients` over all layers, over the largest entry of the latter (rounding when (5) holds).

    Parameters and shapes as in `equation_5`. Paper: Corollary 1, eq. (5).

    Parameters
    ----------
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).
    bases : sequence of ndarray
        List of d + 1 orthonormal arrays ``Q_i`` (k_i, k_i), i = 0..d.
    X : ndarray
        Inputs (k_0, n), samples as columns (None: the identity, where allowed).
    Y : ndarray
        Targets (k_d, n), samples as columns.

    Returns
    -------
    float
        The relative difference (rounding when (5) holds).

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    pairs = list(zip(equation_5(Ws, bases, X, Y), network.gradients(Ws, X, Y)))
    scale = max(float(np.abs(g).max()) for _, g in pairs)
    if scale == 0:
        raise ValueError("the gradient is zero at Ws: equation (5) has nothing to be compared with")
    return max(float(np.abs(e - g).max()) for e, g in pairs) / scale


def diagonal_blocks(Ws: Sequence[np.ndarray], bases: Sequence[np.ndarray]) -> np.ndarray:
    """The singular values in given bases: ``diag(Q_i^T W_i Q_{i-1})``, layer by layer, as a (d, r) array.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1})
    bases : sequence of ndarray
        List of d + 1 orthonormal (k_i, k_i) arrays.

    Returns
    -------
    ndarray
        The singular values in given bases: ``diag(Q_i^T W_i Q_{i-1})``, layer by layer, as a (d, r) array.

    Raises
    ------
    ValueError
        If ``Ws`` or ``bases`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1 (the ``Sigma_i`` of a strongly aligned network).
    """
    Ws, bases = _validate.network_and_bases(Ws, bases)
    return np.stack([np.diag(bases[i + 1].T @ W @ bases[i]) for i, W in enumerate(Ws)])


def off_diagonal(Ws: Sequence[np.ndarray], bases: Sequence[np.ndarray]) -> float:
    """The largest off-diagonal entry ``|(Q_i^T W_i Q_{i-1})_{ab}|``, ``a != b``, over all layers.

    Zero exactly when the network is aligned in the bases ``Q_i``.

    Parameters
    ----------
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).
    bases : sequence of ndarray
        List of d + 1 orthonormal arrays ``Q_i`` (k_i, k_i), i = 0..d.

    Returns
    -------
    float
        The largest off-diagonal entry ``|(Q_i^T W_i Q_{i-1})_{ab}|``, ``a != b``, over all layers.

    Raises
    ------
    ValueError
        If ``Ws`` or ``bases`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 2 (aligned network), Corollary 1.
    """
    Ws, bases = _validate.network_and_bases(Ws, bases)
    return max(
        float(np.abs(M - np.diag(np.diag(M))).max()) if M.size else 0.0
        for M in (bases[i + 1].T @ W @ bases[i] for i, W in enumerate(Ws))
    )


def basis_metrics(bases: Sequence[np.ndarray]) -> dict[str, Callable]:
    """Metrics for `deeplinear.train` in fixed bases: ``"sigma"`` (`diagonal_blocks`, (d, r) per record) and
    ``"off"`` (`off_diagonal`, a float per record).

    Parameters
    ----------
    bases : sequence of ndarray
        List of d + 1 orthonormal arrays ``Q_i`` (k_i, k_i), i = 0..d.

    Returns
    -------
    dict
        Name -> metric, for ``metrics=`` of `deeplinear.train`.

    Raises
    ------
    ValueError
        If ``bases`` is not valid (the message names the parameter).
    """
    bases = _validate.bases(bases)
    return {"sigma": partial(_diagonal_blocks_in, bases), "off": partial(_off_diagonal_in, bases)}


def _diagonal_blocks_in(bases, Ws):
    return diagonal_blocks(Ws, bases)


def _off_diagonal_in(bases, Ws):
    return off_diagonal(Ws, bases)


def printed_equation_6(
    sigmas0: np.ndarray, lam: np.ndarray, lam_prime: np.ndarray, *, lr: float, steps: int, n: int
) -> np.ndarray:
    """Equation (6) exactly as printed: ``sigma_i <- sigma_i + (lr/n) prod_j sigma_j (lam' - prod_j sigma_j lam)``.

    The product in front runs over all layers, including ``i`` (an erratum: equation (5) gives the
    product over ``j != i``, which `singular_value_dynamics` implements). Arguments
    and return as in that function: a (steps + 1, d, r) trajectory.

    Parameters
    ----------
    sigmas0 : ndarray
        (d, r), initial singular values in the aligned basis.
    lam : ndarray
        (r,), ``diag(U^T Y X^T V)[:r]``, the targets of Corollary 1.
    lam_prime : ndarray
        (r,), ``diag(V^T X X^T V)[:r]``, positive.
    lr : float
        Learning rate, > 0.
    steps : int
        Number of gradient-descent steps, >= 0.
    n : int
        Number of samples, >= 1.

    Returns
    -------
    ndarray
        (steps + 1, d, r), the trajectory.

    Raises
    ------
    ValueError
        If ``sigmas0``, ``lam``, ``lr``, ``steps`` or ``n`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1, eq. (6) as printed.
    """
    s, lam, lam_prime = _validate.mode_values(sigmas0, lam, lam_prime)
    lr, steps, n = _validate.positive(lr, "lr"), _validate.count(steps, "steps"), _validate.integer(n, "n", 1)
    traj = np.empty((steps + 1, *s.shape))
    traj[0] = s
    for t in range(steps):
        p = traj[t].prod(axis=0)
        traj[t + 1] = traj[t] + (lr / n) * p * (lam_prime - p * lam)
    return traj


def corollary1_tolerance(traj: np.ndarray, off: float) -> float:
    """How far full gradient descent may stray from the recursion (6) in floating point, over a run.

    ``eps * steps * max|sigma|`` (one unit in the last place of the largest singular value per step, for the
    rounding of both computations) plus ``d * r * off^2``: a misalignment ``off`` (the largest off-diagonal
    entry the full run reached, in the aligned bases) enters the diagonal's update only at second order (a
    product of two off-diagonal entries), through at most ``r`` partners of a mode in each of ``d`` layers.

    Parameters
    ----------
    traj : ndarray
        (steps + 1, d, r), the singular values along the run (of either computation).
    off : float
        >= 0, the largest off-diagonal entry of the full run.

    Returns
    -------
    float
        The largest deviation that rounding and a misalignment ``off`` explain.

    Raises
    ------
    ValueError
        If ``traj`` or ``off`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1 (what a computer's gradient descent can be expected to match).
    """
    traj = np.asarray(traj, dtype=np.float64)
    if traj.ndim != 3 or len(traj) == 0 or not np.isfinite(traj).all():
        raise ValueError(f"traj must be a finite array of shape (steps + 1, d, r), got {traj.shape}")
    _validate.number(off, "off", "a non-negative number", low=0)
    _, d, r = traj.shape
    return float(np.finfo(np.float64).eps * (len(traj) - 1) * np.abs(traj).max() + d * r * off**2)


def singular_value_dynamics(
    sigmas0: np.ndarray, lam: np.ndarray, lam_prime: np.ndarray, *, lr: float, steps: int, n: int
) -> np.ndarray:
    """Gradient descent on the top-r singular values of a strongly aligned network (Corollary 1).

    Under strong alignment ``W_i = U_i Sigma_i V_i^T`` with fixed bases, eq. (5) gives, mode by mode,
    ``sigma_i <- sigma_i + (lr / n) * prod_{j != i} sigma_j * (lam' - prod_j sigma_j * lam)``.
    Erratum: the paper prints eq. (6) with the product over all ``j`` (an extra factor
    ``sigma_i``); differentiating eq. (5) gives the product over ``j != i``, implemented here
    (computed with prefix and suffix products, so a zero ``sigma`` is handled without division).

    Parameters
    ----------
    sigmas0 : ndarray
        (d, r), ``sigmas0[i-1, k]`` = k-th singular value of ``W_i`` in the aligned basis.
    lam : ndarray
        (r,), ``diag(V^T X X^T V)[:r]``.
    lam_prime : ndarray
        (r,), ``diag(U^T Y X^T V)[:r]``.
    lr : float
        > 0, learning rate gamma.
    steps : int
        >= 0, number of gradient steps.
    n : int
        >= 1, number of samples (the loss is ``||Y - f(X)||_F^2 / (2n)``).

    Returns
    -------
    ndarray
        (steps + 1, d, r), the trajectory, initial values first.

    Raises
    ------
    ValueError
        If ``sigmas0``, ``lam``, ``lr``, ``steps`` or ``n`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1, eqs. (5)-(6).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.dynamics import singular_value_dynamics
    >>> traj = singular_value_dynamics(np.full((2, 1), 0.5), np.array([1.0]), np.array([1.0]), lr=0.5, steps=200, n=1)
    >>> traj.shape, round(float(traj[-1].prod()), 6)  # the mode product reaches lam' / lam = 1
    ((201, 2, 1), 1.0)
    """
    s, lam, lam_prime = _validate.mode_values(sigmas0, lam, lam_prime)
    lr = _validate.positive(lr, "lr")
    steps, n = _validate.count(steps, "steps"), _validate.integer(n, "n", 1)
    d, r = s.shape
    traj = np.empty((steps + 1, d, r))
    traj[0] = s
    prefix, suffix = np.ones((d + 1, r)), np.ones((d + 1, r))
    for t in range(steps):
        s = traj[t]
        np.cumprod(s, axis=0, out=prefix[1:])  # prefix[i] = prod_{j < i}
        suffix[:d] = np.cumprod(s[::-1], axis=0)[::-1]  # suffix[i] = prod_{j >= i}
        traj[t + 1] = s + (lr / n) * prefix[:d] * suffix[1:] * (lam_prime - prefix[d] * lam)
    return traj
