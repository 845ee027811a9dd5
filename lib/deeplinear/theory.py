"""Theorem 1 in code: its data condition (``X X^T`` commutes with ``X Y^T Y X^T``) as a number and a verdict,
the orthonormal ``U, V`` that witness it (for regression and for matrix sensing), the aligned starts it
prescribes, and the pieces of its proof (the targets that give eq. (4) a chosen ``D``, one step's rotation).

Aligned networks themselves (Definitions 1 and 2) are in `deeplinear.aligned`; Corollary 1 and Proposition 1
in `deeplinear.dynamics`; Ji & Telgarsky's maximum margin in `deeplinear.separable`.

Shapes follow the package convention: ``W_i`` is ``(k_i, k_{i-1})``, data ``X`` is ``(k_0, n)`` and
``Y`` is ``(k_d, n)`` (samples are columns), the loss is ``L = ||Y - W_d...W_1 X||_F^2 / (2n)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.linalg import null_space

from . import _validate
from ._validate import matrix as _matrix
from ._validate import vector as _vector
from .aligned import aligned_start

__all__ = [
    "relative_commutator",
    "alignment_invariant",
    "alignment_invariant_witness",
    "sensing_witness",
    "least_squares_loss",
    "targets_for_residual",
    "one_step_rotation",
    "aligned_start_on",
    "aligned_start_sensing",
]


def relative_commutator(X: np.ndarray, Y: np.ndarray) -> float:
    """Theorem 1's condition as a number: ``||AC - CA||_F / (||A||_F ||C||_F)`` with ``A = X X^T``,
    ``C = X Y^T Y X^T`` (0 when the condition holds exactly; see `alignment_invariant`).

    Parameters
    ----------
    X : ndarray
        (k_0, n)
    Y : ndarray
        (k_d, n).

    Returns
    -------
    float
        ``||AC - CA||_F / (||A||_F ||C||_F)``, >= 0.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.theory import relative_commutator
    >>> relative_commutator(np.eye(2), np.diag([1.0, 2.0]))  # X X^T = I commutes with everything
    0.0
    """
    return _theorem1_matrices(X, Y)[3]


def _theorem1_matrices(X, Y) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    X = _matrix(X, "X")
    Y = _matrix(Y, "Y")
    if Y.shape[1] != X.shape[1]:
        raise ValueError(f"Y must have n = {X.shape[1]} columns like X, got shape {Y.shape}")
    A, B = X @ X.T, Y @ X.T
    C = B.T @ B
    AC = A @ C
    scale = np.linalg.norm(A) * np.linalg.norm(C)
    rel = np.linalg.norm(AC - AC.T) / scale if scale > 0 else 0.0
    return A, B, C, float(rel)


def alignment_invariant(X: np.ndarray, Y: np.ndarray, tol: float = 1e-10) -> bool:
    """Theorem 1's data condition: orthonormal ``U, V`` exist with ``U^T Y X^T V`` and ``V^T X X^T V`` diagonal.

    Checked as: ``A = X X^T`` commutes with ``C = X Y^T Y X^T``, i.e.
    ``||AC - CA||_F / (||A||_F ||C||_F) <= tol``. For ``k_0 != k_d``, "diagonal" for the
    ``(k_d, k_0)`` matrix ``U^T Y X^T V`` means rectangular diagonal.

    Proof of the equivalence (``B = Y X^T``, so ``C = B^T B``).
    (=>) If ``V^T A V`` is diagonal and ``U^T B V = D`` is rectangular diagonal, then
    ``V^T C V = D^T U^T U D = D^T D`` is diagonal, so ``A`` and ``C`` are both diagonal in the
    basis ``V`` and commute.
    (<=) Commuting symmetric matrices are simultaneously orthogonally diagonalisable (``C`` maps
    each eigenspace of ``A`` into itself; diagonalise it there): take ``V`` with ``V^T A V`` and
    ``V^T C V = diag(c)`` diagonal. The columns ``b_j = B v_j`` are then mutually orthogonal with
    ``||b_j||^2 = c_j``; at most ``rank B <= min(k_0, k_d)`` are nonzero, and reordering the columns
    of ``V`` (which keeps both matrices diagonal) puts them first. Set ``u_j = b_j / ||b_j||`` for
    those and complete to an orthonormal ``U`` of ``R^{k_d}``. Then
    ``(U^T B V)_{lj} = u_l^T b_j = ||b_j|| delta_{lj}``, which is (rectangular) diagonal.

    Parameters
    ----------
    X : ndarray
        (k_0, n)
    Y : ndarray
        (k_d, n)
    tol : float, optional
        >= 0, finite, tolerance on the relative commutator norm.

    Returns
    -------
    bool
        Bool

    Raises
    ------
    ValueError
        When ``tol`` is negative, NaN or infinite (no verdict then), or ``X``, ``Y`` are malformed.

    References
    ----------
    Paper: Theorem 1 (square case; the non-square case is its Appendix D version).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.theory import alignment_invariant
    >>> alignment_invariant(np.eye(3), np.diag([1.0, 2.0, 3.0])), alignment_invariant(np.eye(2), np.ones((2, 2)))
    (True, True)
    """
    tol = _validate.tolerance(tol, "tol")
    return _theorem1_matrices(X, Y)[3] <= tol


def alignment_invariant_witness(X: np.ndarray, Y: np.ndarray, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal ``U (k_d, k_d)``, ``V (k_0, k_0)`` witnessing Theorem 1's condition.

    ``V`` diagonalises ``X X^T`` and, within each cluster of (numerically) equal eigenvalues, also
    ``X Y^T Y X^T``; columns are ordered by decreasing ``||Y X^T v_j||``; ``U`` comes from the
    normalised ``Y X^T v_j`` as in the proof in :func:`alignment_invariant`. The off-diagonal parts
    of ``V^T X X^T V`` and ``U^T Y X^T V`` are then small, about the square root of the relative
    commutator (rounding for exact data), relative to the matrices' norms.

    Parameters
    ----------
    X : ndarray
        (k_0, n)
    Y : ndarray
        (k_d, n)
    tol : float, optional
        >= 0, finite, tolerance on the relative commutator, as in :func:`alignment_invariant`.

    Returns
    -------
    U : ndarray
        (k_d, k_d), orthonormal.
    V : ndarray
        (k_0, k_0), orthonormal.

    Raises
    ------
    ValueError
        When the condition fails (``X X^T`` and ``X Y^T Y X^T`` do not commute to ``tol``), or ``tol`` is
        not a finite number >= 0.

    References
    ----------
    Paper: Theorem 1.
    """
    tol = _validate.tolerance(tol, "tol")
    A, B, C, rel = _theorem1_matrices(X, Y)
    if rel > tol:
        raise ValueError(
            f"X, Y fail Theorem 1's condition: X X^T and X Y^T Y X^T do not commute "
            f"(relative commutator {rel:.2e} > tol = {tol:.1e})"
        )
    lam, Q = np.linalg.eigh(A)
    width = max(np.sqrt(rel), 1e-8) * max(abs(lam).max(), np.finfo(float).tiny)
    V = np.empty_like(Q)
    for idx in np.split(np.arange(len(lam)), np.flatnonzero(np.diff(lam) > width) + 1):
        Qc = Q[:, idx]
        V[:, idx] = Qc @ np.linalg.eigh(Qc.T @ C @ Qc)[1]
    BV = B @ V
    c = np.linalg.norm(BV, axis=0)
    order = np.argsort(-c, kind="stable")
    V, BV, c = V[:, order], BV[:, order], c[order]
    p = int(np.sum(c[: min(B.shape)] > 1e-8 * max(c.max(initial=0.0), np.finfo(float).tiny)))
    if p == 0:
        return np.eye(B.shape[0]), V
    P, _, Rt = np.linalg.svd(BV[:, :p] / c[:p], full_matrices=False)
    Up = P @ Rt  # nearest orthonormal columns to the normalised b_j
    U = np.hstack([Up, null_space(Up.T)])
    # Completion columns meet (numerically) null modes with an arbitrary sign: make the diagonal
    # of U^T Y X^T V non-negative, so that Corollary 1's lambda' >= 0 as the paper assumes.
    r = min(U.shape[1], V.shape[1])
    U[:, :r] *= np.where(np.einsum("ij,ij->j", U[:, :r], (B @ V)[:, :r]) < 0, -1.0, 1.0)
    return U, V


def sensing_witness(
    M: np.ndarray, y: np.ndarray, tol: float = 1e-10, *, rng: int | np.random.Generator | None = None
) -> tuple[bool, float, np.ndarray, np.ndarray]:
    """Matrix sensing's form of Theorem 1's condition: are all ``M_i`` diagonal in common bases ``U, V``?

    ``U, V`` come from the SVD of a random combination ``G = sum_i c_i M_i`` (``c`` standard normal,
    drawn from ``rng``): if common bases exist, ``G`` is diagonal in them and, its singular values
    being distinct with probability one, its singular vectors are those bases up to order and sign.
    The condition then holds exactly when every ``U^T M_i V`` is diagonal. When it holds, the signs of
    ``U``'s columns make the least-squares solution of the diagonal problem, ``diag(U^T X* V)``,
    non-negative, so that positive singular values can reach it.

    Parameters
    ----------
    M : ndarray
        (n, k, k), the measurement matrices
    y : ndarray
        (n,), the measurements.
    tol : float, optional
        >= 0, finite, tolerance on ``off``.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`). one draw of n numbers.

    Returns
    -------
    holds : bool
        ``off <= tol``.
    off : float
        The largest off-diagonal entry of the ``U^T M_i V`` relative to ``max |M_i|``.
    U, V : ndarray
        (k, k), orthonormal.

    Raises
    ------
    ValueError
        If ``rng``, ``M`` or ``tol`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 4.2, matrix sensing (``M_i = U Lambda_i V^T``).
    """
    rng = _validate.rng(rng)
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 3 or M.shape[1] != M.shape[2] or M.shape[0] < 1 or not np.isfinite(M).all():
        raise ValueError(f"M must be a finite (n, k, k) array with n >= 1, got shape {M.shape}")
    if not np.any(M):
        raise ValueError("M must be nonzero: the off-diagonal part is measured relative to max |M_i|")
    y = _vector(y, "y", M.shape[0])
    tol = _validate.tolerance(tol, "tol")
    U, _, Vt = np.linalg.svd(np.einsum("i,iab->ab", rng.standard_normal(len(M)), M))
    V = Vt.T
    D = U.T @ M @ V
    diagonals = np.diagonal(D, axis1=1, axis2=2)
    off = float(np.abs(D - diagonals[:, :, None] * np.eye(len(U))).max() / np.abs(M).max())
    if off <= tol:
        solution = np.linalg.lstsq(diagonals, y, rcond=None)[0]
        U = U * np.where(solution < 0, -1.0, 1.0)
    return off <= tol, off, U, V


def least_squares_loss(X: np.ndarray, Y: np.ndarray) -> float:
    """The least squared loss ``min_A (1/2n) ||Y - A X||_F^2`` any linear map reaches, at ``A = Y X^+``.

    Parameters
    ----------
    X : ndarray
        (k_0, n)
    Y : ndarray
        (k_d, n).

    Returns
    -------
    float
        0 up to rounding when ``X`` has full column rank (n <= k_0: the regression interpolates).

    Raises
    ------
    ValueError
        If ``Y`` is not valid (the message names the parameter).

    References
    ----------
    Paper: eq. (2) (the floor of the loss on data that no linear map fits).
    """
    X, Y = _matrix(X, "X"), _matrix(Y, "Y")
    if Y.shape[1] != X.shape[1]:
        raise ValueError(f"Y must have n = {X.shape[1]} columns like X, got shape {Y.shape}")
    residual = Y - Y @ np.linalg.pinv(X) @ X
    return 0.5 * float(np.sum(residual**2)) / X.shape[1]


def targets_for_residual(
    Ws: Sequence[np.ndarray], X: np.ndarray, U: np.ndarray, D: np.ndarray, V: np.ndarray
) -> np.ndarray:
    """Targets ``Y`` for which the matrix of equation (4) is ``D``: ``U^T (Y - f(X)) X^T V = D``.

    ``Y = f(X) + U D V^T (X X^T)^{-1} X``, so that ``(Y - f(X)) X^T = U D V^T``.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), the network f.
    X : ndarray
        (k_0, n) of full row rank, so that ``X X^T`` is invertible (n >= k_0).
    U : ndarray
        (k_d, k_d)
    D : ndarray
        (k_d, k_0)
    V : ndarray
        (k_0, k_0).

    Returns
    -------
    Y : ndarray
        (k_d, n).

    Raises
    ------
    ValueError
        When ``X`` has fewer columns than rows (n < k_0) or is rank deficient: then ``X X^T`` is singular
        and no ``Y`` need exist.

    References
    ----------
    Paper: Theorem 1, eq. (4).
    """
    from .network import end_to_end

    P = end_to_end(Ws)
    X = _validate.full_row_rank(_matrix(X, "X", P.shape[1]), "X")
    U, D, V = _matrix(U, "U", P.shape[0]), _matrix(D, "D", P.shape[0]), _matrix(V, "V", P.shape[1])
    if D.shape[1] != P.shape[1] or U.shape[1] != P.shape[0] or V.shape[1] != P.shape[1]:
        raise ValueError(f"U, D, V must be {P.shape[0]}x{P.shape[0]}, {P.shape}, {P.shape[1]}x{P.shape[1]}")
    return P @ X + U @ D @ V.T @ np.linalg.solve(X @ X.T, X)


def one_step_rotation(
    Ws: Sequence[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    bases: Sequence[np.ndarray],
    inner: Sequence[int],
    rates: Sequence[float],
) -> np.ndarray:
    """How far one gradient step of each size in ``rates`` turns the bases pinned at the interfaces ``inner``.

    For each ``t``: ``fixed_bases.pinned_rotation`` of ``W_i - t dL/dW_i`` (squared loss on ``(X, Y)``).

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1})
    X : ndarray
        (k_0, n)
    Y : ndarray
        (k_d, n).
    bases : sequence of ndarray
        As in `deeplinear.fixed_bases.pinned_rotation`.
    inner : sequence of int
        As in `deeplinear.fixed_bases.pinned_rotation`.
    rates : sequence of float
        The step sizes.

    Returns
    -------
    ndarray
        (len(rates),).

    References
    ----------
    Paper: Theorem 1 (why its "only if" needs d >= 3).
    """
    from .fixed_bases import pinned_rotation
    from .network import gradients

    grads = gradients(Ws, X, Y)
    return np.array([pinned_rotation([W - g * t for W, g in zip(Ws, grads)], bases, inner) for t in rates])


def aligned_start_on(
    X: np.ndarray,
    Y: np.ndarray,
    widths: Sequence[int],
    *,
    outer: str = "witness",
    rng: int | np.random.Generator | None = None,
) -> list[np.ndarray]:
    """`aligned_start` with its outer bases taken from the data ``(X, Y)``.

    ``outer="witness"``: ``V_1 = V`` and ``U_d = U`` from `alignment_invariant_witness` (the start
    Theorem 1 prescribes; the data must satisfy its condition). ``outer="svd"``: ``V_1`` the left
    singular vectors of ``X`` and ``U_d`` those of ``Y``, as the authors' released code starts (for
    any data). ``outer="auto"``: "witness" where `alignment_invariant` holds, else "svd". Inner
    bases random, singular values uniform on [0.5, 1), drawn as `aligned_start` draws.

    Parameters
    ----------
    X : ndarray
        (k_0, n)
    Y : ndarray
        (k_d, n)
    widths : sequence of int
        [k_0, ..., k_d].
    outer : str, optional
        "witness", "svd" or "auto".
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    Ws
        List of d arrays (k_i, k_{i-1}).

    Raises
    ------
    ValueError
        If ``rng`` or ``outer`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1 (the aligned start ``V_1 = V``, ``U_d = U``); Section 6, Figure 1a.
    """
    rng = _validate.rng(rng)
    if outer == "auto":
        outer = "witness" if alignment_invariant(X, Y) else "svd"
    if outer == "witness":
        U, V = alignment_invariant_witness(X, Y)
    elif outer == "svd":
        U, V = np.linalg.svd(_matrix(Y, "Y"))[0], np.linalg.svd(_matrix(X, "X"))[0]
    else:
        raise ValueError(f'outer must be "witness", "svd" or "auto", got {outer!r}')
    return aligned_start(V, U, widths, rng=rng)


def aligned_start_sensing(
    M: np.ndarray, y: np.ndarray, widths: Sequence[int], *, rng: int | np.random.Generator | None = None
) -> list[np.ndarray]:
    """`aligned_start` with the outer bases of `sensing_witness` (``V_1 = V``, ``U_d = U``): the start
    Theorem 1 prescribes for matrix sensing. The witness draws from ``rng`` first, then the start.

    Parameters
    ----------
    M : ndarray
        (n, k, k)
    y : ndarray
        (n,)
    widths : sequence of int
        [k, ..., k].
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    Ws
        List of d arrays (k_i, k_{i-1}).

    Raises
    ------
    ValueError
        When the measurements fail the condition (no common bases).

    References
    ----------
    Paper: Section 4.2, matrix sensing.
    """
    rng = _validate.rng(rng)
    holds, off, U, V = sensing_witness(M, y, rng=rng)
    if not holds:
        raise ValueError(f"the M_i share no singular bases (off-diagonal part {off:.1e}): no aligned start")
    return aligned_start(V, U, widths, rng=rng)
