"""The theory in code: usSVD, aligned networks, Theorem 1's data condition, Corollary 1's singular
value dynamics, Proposition 1's learning rate, and Ji & Telgarsky's maximum-margin separator.

Shapes follow the package convention: ``W_i`` is ``(k_i, k_{i-1})``, data ``X`` is ``(k_0, n)`` and
``Y`` is ``(k_d, n)`` (samples are columns), the loss is ``L = ||Y - W_d...W_1 X||_F^2 / (2n)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
from scipy.linalg import null_space
from scipy.optimize import linprog, nnls

from . import _validate
from ._validate import matrix as _matrix
from ._validate import vector as _vector


def usvd(A: np.ndarray, *, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An unsorted, signed SVD ``A = U Sigma V^T`` (Definition 1).

    Without ``rng`` this is the ordinary full SVD. With ``rng``, the singular triplets are put in a
    random order and given random signs (``sigma_j u_j v_j^T = (-sigma_j)(-u_j) v_j^T``), and the
    null-space columns are shuffled too: order and signs in a usSVD are free.

    Parameters
    ----------
    A : ndarray (m, n)
    rng : numpy Generator, optional

    Returns
    -------
    U : ndarray (m, m), orthonormal.
    Sigma : ndarray (m, n), rectangular diagonal, entries of any sign and order.
    V : ndarray (n, n), orthonormal.

    Paper: Definition 1.
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


def random_orthogonal(k: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed orthonormal matrix ``(k, k)`` (QR of a Gaussian, signs fixed by R's diagonal)."""
    return _validate.orthogonal(k, rng)


def aligned_network(bases: Sequence[np.ndarray], sigmas: Sequence[np.ndarray]) -> list[np.ndarray]:
    """An aligned network ``W_i = Q_i Sigma_i Q_{i-1}^T`` (Definition 2).

    Then ``V_1 = Q_0``, ``U_i = V_{i+1} = Q_i`` and ``U_d = Q_d``.

    Parameters
    ----------
    bases : list of d+1 orthonormal arrays ``Q_i`` of shape (k_i, k_i), i = 0..d.
    sigmas : list of d 1-D arrays; ``sigmas[i-1]`` has length ``min(k_i, k_{i-1})`` and fills the
        diagonal of ``Sigma_i`` (signed, any order).

    Returns
    -------
    Ws : list of d arrays (k_i, k_{i-1}).

    Paper: Definition 2, eq. (3).
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
    """The right-hand side of eq. (3), ``U_d (Sigma_d ... Sigma_1) V_1^T = Q_d (prod_i Sigma_i) Q_0^T``,
    for the aligned network ``aligned_network(bases, sigmas)``.

    The product of the rectangular diagonal ``Sigma_i`` keeps the first ``r = min_i k_i`` diagonal
    entries, each the product of the layers' entries; so the result has rank at most ``r``. Equation (3)
    says it equals the end-to-end matrix ``W_d ... W_1`` (`deeplinear.network.end_to_end`).

    Parameters
    ----------
    bases : list of d+1 orthonormal arrays ``Q_i`` (k_i, k_i), i = 0..d, as for `aligned_network`.
    sigmas : list of d 1-D arrays, ``sigmas[i-1]`` of length ``min(k_i, k_{i-1})``.

    Returns
    -------
    ndarray (k_d, k_0).

    Paper: eq. (3).
    """
    aligned_network(bases, sigmas)  # validates bases and sigmas
    Qs = [np.asarray(Q, dtype=np.float64) for Q in bases]
    r = min(len(Q) for Q in Qs)
    diagonal = np.prod([np.asarray(s, dtype=np.float64)[:r] for s in sigmas], axis=0)
    return (Qs[-1][:, :r] * diagonal) @ Qs[0][:, :r].T


def collapse_error(bases: Sequence[np.ndarray], sigmas: Sequence[np.ndarray]) -> float:
    """Equation (3) measured: the largest entry of ``W_d ... W_1 - U_d (prod_i Sigma_i) V_1^T`` for the aligned
    network ``aligned_network(bases, sigmas)``, relative to the largest entry of the right-hand side
    (:func:`collapsed_product`); rounding, since the two are equal.

    Parameters
    ----------
    bases, sigmas : as for `aligned_network`.

    Returns
    -------
    float >= 0.

    Raises
    ------
    ValueError
        When the product of the ``Sigma_i`` is 0: the relative error is then undefined.

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
    rng: np.random.Generator,
    *,
    inner: str = "random",
    low: float = 0.5,
    high: float = 1.0,
) -> list[np.ndarray]:
    """An aligned initialisation with outer bases ``Q_0 = V`` and ``Q_d = U`` (Definition 2).

    The inner bases ``Q_1 .. Q_{d-1}`` are Haar-random (``inner="random"``, drawn first, in order) or
    identities (``inner="identity"``, as in the authors' MNIST script); then each layer's
    ``min(k_i, k_{i-1})`` singular values are drawn uniform on ``[low, high)``, layer by layer.

    Parameters
    ----------
    V : ndarray (k_0, k_0), orthonormal; U : ndarray (k_d, k_d), orthonormal.
    widths : [k_0, ..., k_d], d >= 1.
    rng : numpy Generator.

    Returns
    -------
    Ws : list of d arrays (k_i, k_{i-1}).

    Paper: Definition 2; Theorem 1's aligned start ``V_1 = V``, ``U_d = U``.
    """
    widths = _validate.widths(widths)
    if inner not in ("random", "identity"):
        raise ValueError(f'inner must be "random" or "identity", got {inner!r}')
    if not (
        isinstance(low, Real) and isinstance(high, Real) and not isinstance(low, bool) and not isinstance(high, bool)
        and np.isfinite(low) and np.isfinite(high) and low < high
    ):  # fmt: skip
        raise ValueError(f"low and high must be finite numbers with low < high, got {low!r} and {high!r}")
    if np.shape(V) != (widths[0], widths[0]) or np.shape(U) != (widths[-1], widths[-1]):
        raise ValueError(
            f"V must be ({widths[0]}, {widths[0]}) and U ({widths[-1]}, {widths[-1]}) for widths {widths}, "
            f"got {np.shape(V)} and {np.shape(U)}"
        )
    if inner == "random":
        middle = [random_orthogonal(w, rng) for w in widths[1:-1]]
    else:
        middle = [np.eye(w) for w in widths[1:-1]]
    sigmas = [rng.uniform(low, high, min(a, b)) for a, b in zip(widths[1:], widths[:-1])]
    return aligned_network([V, *middle, U], sigmas)


def relative_commutator(X: np.ndarray, Y: np.ndarray) -> float:
    """Theorem 1's condition as a number: ``||AC - CA||_F / (||A||_F ||C||_F)`` with ``A = X X^T``,
    ``C = X Y^T Y X^T`` (0 when the condition holds exactly; see `alignment_invariant`).

    Parameters
    ----------
    X : ndarray (k_0, n);  Y : ndarray (k_d, n).

    Paper: Theorem 1.
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
    X : ndarray (k_0, n)
    Y : ndarray (k_d, n)
    tol : float >= 0, finite, tolerance on the relative commutator norm.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        When ``tol`` is negative, NaN or infinite (no verdict then), or ``X``, ``Y`` are malformed.

    Paper: Theorem 1 (square case; the non-square case is its Appendix D version).
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
    X : ndarray (k_0, n)
    Y : ndarray (k_d, n)
    tol : float >= 0, finite, tolerance on the relative commutator, as in :func:`alignment_invariant`.

    Returns
    -------
    U : ndarray (k_d, k_d), orthonormal.
    V : ndarray (k_0, k_0), orthonormal.

    Raises
    ------
    ValueError
        When the condition fails (``X X^T`` and ``X Y^T Y X^T`` do not commute to ``tol``), or ``tol`` is
        not a finite number >= 0.

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
    M: np.ndarray, y: np.ndarray, rng: np.random.Generator, tol: float = 1e-10
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
    M : ndarray (n, k, k), the measurement matrices;  y : ndarray (n,), the measurements.
    rng : numpy Generator (one draw of n numbers).
    tol : float >= 0, finite, tolerance on ``off``.

    Returns
    -------
    holds : bool, ``off <= tol``.
    off : float, the largest off-diagonal entry of the ``U^T M_i V`` relative to ``max |M_i|``.
    U, V : ndarray (k, k), orthonormal.

    Paper: Section 4.2, matrix sensing (``M_i = U Lambda_i V^T``).
    """
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 3 or M.shape[1] != M.shape[2] or M.shape[0] < 1 or not np.isfinite(M).all():
        raise ValueError(f"M must be a finite (n, k, k) array with n >= 1, got shape {M.shape}")
    if not np.any(M):
        raise ValueError("M must be nonzero: the off-diagonal part is measured relative to max |M_i|")
    y = _vector(y, "y", M.shape[0])
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
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
    X : ndarray (k_0, n);  Y : ndarray (k_d, n).

    Returns
    -------
    float, 0 up to rounding when ``X`` has full column rank (n <= k_0: the regression interpolates).

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
    Ws : list of d arrays (k_i, k_{i-1}), the network f.
    X : ndarray (k_0, n) of full row rank, so that ``X X^T`` is invertible (n >= k_0).
    U : ndarray (k_d, k_d);  D : ndarray (k_d, k_0);  V : ndarray (k_0, k_0).

    Returns
    -------
    Y : ndarray (k_d, n).

    Raises
    ------
    ValueError
        When ``X`` has fewer columns than rows (n < k_0) or is rank deficient: then ``X X^T`` is singular
        and no ``Y`` need exist.

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

    For each ``t``: ``metrics.pinned_rotation`` of ``W_i - t dL/dW_i`` (squared loss on ``(X, Y)``).

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1});  X : ndarray (k_0, n);  Y : ndarray (k_d, n).
    bases, inner : as in `deeplinear.metrics.pinned_rotation`.
    rates : the step sizes.

    Returns
    -------
    ndarray (len(rates),).

    Paper: Theorem 1 (why its "only if" needs d >= 3).
    """
    from .metrics import pinned_rotation
    from .network import gradients

    grads = gradients(Ws, X, Y)
    return np.array([pinned_rotation([W - g * t for W, g in zip(Ws, grads)], bases, inner) for t in rates])


def aligned_start_on(
    X: np.ndarray, Y: np.ndarray, widths: Sequence[int], rng: np.random.Generator, *, outer: str = "witness"
) -> list[np.ndarray]:
    """`aligned_start` with its outer bases taken from the data ``(X, Y)``.

    ``outer="witness"``: ``V_1 = V`` and ``U_d = U`` from `alignment_invariant_witness` (the start
    Theorem 1 prescribes; the data must satisfy its condition). ``outer="svd"``: ``V_1`` the left
    singular vectors of ``X`` and ``U_d`` those of ``Y``, as the authors' released code starts (for
    any data). ``outer="auto"``: "witness" where `alignment_invariant` holds, else "svd". Inner
    bases random, singular values uniform on [0.5, 1), drawn as `aligned_start` draws.

    Parameters
    ----------
    X : ndarray (k_0, n);  Y : ndarray (k_d, n);  widths : [k_0, ..., k_d];  rng : numpy Generator.
    outer : "witness", "svd" or "auto".

    Returns
    -------
    Ws : list of d arrays (k_i, k_{i-1}).

    Paper: Theorem 1 (the aligned start ``V_1 = V``, ``U_d = U``); Section 6, Figure 1a.
    """
    if outer == "auto":
        outer = "witness" if alignment_invariant(X, Y) else "svd"
    if outer == "witness":
        U, V = alignment_invariant_witness(X, Y)
    elif outer == "svd":
        U, V = np.linalg.svd(_matrix(Y, "Y"))[0], np.linalg.svd(_matrix(X, "X"))[0]
    else:
        raise ValueError(f'outer must be "witness", "svd" or "auto", got {outer!r}')
    return aligned_start(V, U, widths, rng)


def aligned_start_sensing(
    M: np.ndarray, y: np.ndarray, widths: Sequence[int], rng: np.random.Generator
) -> list[np.ndarray]:
    """`aligned_start` with the outer bases of `sensing_witness` (``V_1 = V``, ``U_d = U``): the start
    Theorem 1 prescribes for matrix sensing. The witness draws from ``rng`` first, then the start.

    Parameters
    ----------
    M : ndarray (n, k, k);  y : ndarray (n,);  widths : [k, ..., k];  rng : numpy Generator.

    Returns
    -------
    Ws : list of d arrays (k_i, k_{i-1}).

    Raises
    ------
    ValueError when the measurements fail the condition (no common bases).

    Paper: Section 4.2, matrix sensing.
    """
    holds, off, U, V = sensing_witness(M, y, rng)
    if not holds:
        raise ValueError(f"the M_i share no singular bases (off-diagonal part {off:.1e}): no aligned start")
    return aligned_start(V, U, widths, rng)


def two_layer_cases(k: int, n: int, rng: np.random.Generator) -> dict[str, tuple]:
    """Aligned networks and data whose matrix ``D`` of equation (4) has a chosen off-diagonal part: the
    test of why Theorem 1's "only if" needs ``d >= 3``.

    A balanced two-layer network ``W_i = Q_i diag(s) Q_{i-1}^T`` (s sorted uniform on [0.5, 1)) and a
    three-layer one with the same end-to-end matrix and outer bases (singular values ``s^(2/3)``);
    standard normal ``X (k, n)``; ``D`` = a standard normal diagonal plus the off-diagonal part of
    ``G - G^T`` (antisymmetric) or ``G + G^T`` (symmetric), ``G`` standard normal, and targets
    `targets_for_residual` of the two-layer network. Drawn in this order: s, ``Q_0``, ``Q_d``, the
    inner basis of the two-layer network, the two of the three-layer one, X, G, the two diagonals.

    Parameters
    ----------
    k : int >= 2, every width;  n : int >= k, the samples;  rng : numpy Generator.

    Returns
    -------
    dict label -> (Ws, X, Y, bases, inner), the arguments of `one_step_rotation` before ``rates``, for
    "d = 2, antisymmetric D", "d = 2, symmetric D" and "d = 3, antisymmetric D" (the last on the
    antisymmetric targets of the two-layer network).

    Paper: Theorem 1 and its proof, eq. (4).
    """
    k = _validate.integer(k, "k", 2)
    if isinstance(n, bool) or not isinstance(n, Integral) or n < k:
        raise ValueError(f"n must be an integer >= k = {k} (so that X X^T is invertible), got {n!r}")
    rng = _validate.rng(rng)
    s = np.sort(rng.uniform(0.5, 1.0, k))[::-1]
    V0, U0 = random_orthogonal(k, rng), random_orthogonal(k, rng)
    bases2 = [V0, random_orthogonal(k, rng), U0]
    bases3 = [V0, random_orthogonal(k, rng), random_orthogonal(k, rng), U0]
    net2 = aligned_network(bases2, [s, s])
    net3 = aligned_network(bases3, [s ** (2 / 3)] * 3)
    X = rng.standard_normal((k, n))
    G = rng.standard_normal((k, k))
    Y = {}
    for label, off in (("antisymmetric", G - G.T), ("symmetric", G + G.T)):
        D = np.diag(rng.standard_normal(k)) + off - np.diag(np.diag(off))
        Y[label] = targets_for_residual(net2, X, U0, D, V0)
    return {
        "d = 2, antisymmetric D": (net2, X, Y["antisymmetric"], bases2, [1]),
        "d = 2, symmetric D": (net2, X, Y["symmetric"], bases2, [1]),
        "d = 3, antisymmetric D": (net3, X, Y["antisymmetric"], bases3, [1, 2]),
    }


def rank_one_chain(k: int, d: int, rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Rank-one layers that share their singular vectors: ``W_1 = q_1 c_1^T``, ``W_i = s_i q_i q_{i-1}^T``
    (1 < i < d), ``W_d = c_d q_{d-1}^T``.

    Drawn in this order: the unit vectors ``q_1 .. q_{d-1}`` (first columns of Haar-random orthonormal
    matrices), then ``c_1 = s_1 g / sqrt(k)`` (``s_1`` uniform on [0.5, 1), then ``g`` standard normal),
    the ``s_i``, and ``c_d = g / sqrt(k)``.

    Parameters
    ----------
    k : int >= 1, every width;  d : int >= 2, the depth;  rng : numpy Generator.

    Returns
    -------
    q : list of d - 1 unit vectors (k,);  Ws : list of d arrays (k, k), each of rank one.

    Paper: Definition 3 with zero singular values (a boundary case of Theorem 1's "only if").
    """
    if isinstance(d, bool) or not isinstance(d, Integral) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    q = [random_orthogonal(k, rng)[:, 0] for _ in range(d - 1)]
    Ws = [np.outer(q[0], rng.uniform(0.5, 1.0) * rng.standard_normal(k) / np.sqrt(k))]
    Ws += [rng.uniform(0.5, 1.0) * np.outer(q[i], q[i - 1]) for i in range(1, d - 1)]
    Ws += [np.outer(rng.standard_normal(k) / np.sqrt(k), q[-1])]
    return q, Ws


def _dynamics_inputs(sigmas0, lam, lam_prime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(sigmas0, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] < 1 or s.shape[1] < 1 or not np.isfinite(s).all():
        raise ValueError(f"sigmas0 must be a finite array of shape (d, r), got shape {s.shape}")
    r = s.shape[1]
    return s, _vector(lam, "lam", r), _vector(lam_prime, "lam_prime", r)


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
    sigmas0 : ndarray (d, r), ``sigmas0[i-1, k]`` = k-th singular value of ``W_i`` in the aligned basis.
    lam : ndarray (r,), ``diag(V^T X X^T V)[:r]``.
    lam_prime : ndarray (r,), ``diag(U^T Y X^T V)[:r]``.
    lr : float > 0, learning rate gamma.
    steps : int >= 0, number of gradient steps.
    n : int >= 1, number of samples (the loss is ``||Y - f(X)||_F^2 / (2n)``).

    Returns
    -------
    ndarray (steps + 1, d, r), the trajectory, initial values first.

    Paper: Corollary 1, eqs. (5)-(6).
    """
    s, lam, lam_prime = _dynamics_inputs(sigmas0, lam, lam_prime)
    lr = _validate.positive(lr, "lr")
    if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
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


def prop1_learning_rate(sigmas0: np.ndarray, lam: np.ndarray, lam_prime: np.ndarray, n: int) -> float:
    """Proposition 1's learning rate ``(n ln 2 / d) * min sigma_k(W_i^(0))^2 lam_k / lam'_k^2``.

    The statement leaves the layer index ``i`` free; we take the minimum over layers ``i`` and
    modes ``k`` (the conservative reading).

    Parameters
    ----------
    sigmas0 : ndarray (d, r), initial singular values in the aligned basis.
    lam : ndarray (r,), ``diag(V^T X X^T V)[:r]``, positive.
    lam_prime : ndarray (r,), ``diag(U^T Y X^T V)[:r]``.
    n : int >= 1, number of samples.

    Returns
    -------
    float, the largest learning rate the proposition allows.

    Raises
    ------
    ValueError
        When a hypothesis fails: some ``sigma_k(W_i^(0)) <= 0``, some ``lam_k <= 0``, or
        ``prod_i sigma_k(W_i^(0)) >= lam'_k / lam_k`` for some ``k``.

    Paper: Proposition 1.
    """
    s, lam, lam_prime = _dynamics_inputs(sigmas0, lam, lam_prime)
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if np.any(s <= 0):
        raise ValueError("sigmas0: Proposition 1 needs sigma_k(W_i^(0)) > 0 for all i, k")
    if np.any(lam <= 0):
        raise ValueError("lam: Proposition 1 needs lam_k > 0 for all k")
    bad = np.flatnonzero(s.prod(axis=0) >= lam_prime / lam)
    if bad.size:
        raise ValueError(
            f"sigmas0, lam, lam_prime: Proposition 1 needs prod_i sigma_k(W_i^(0)) < "
            f"lam'_k / lam_k for all k; fails for k = {bad.tolist()}"
        )
    d = s.shape[0]
    return float(n * np.log(2) / d * np.min(s**2 * lam / lam_prime**2))


def max_margin(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Hard-margin separator through the origin: ``u = argmax_{||u||=1} min_i y_i <u, x_i>``.

    Solves ``min ||w||^2 s.t. y_i w^T x_i >= 1`` as a least-distance program via non-negative
    least squares (Lawson & Hanson, ch. 23), then polishes: on the support set ``S`` it takes the
    minimum-norm ``w`` with ``y_i w^T x_i = 1`` (which lies in the span of the ``y_i x_i``), and keeps
    it if it is primal feasible and dual feasible (``w = sum_S alpha_i y_i x_i`` with
    ``alpha >= 0``). Then ``u = w / ||w||`` and ``gamma = 1 / ||w||``.

    Parameters
    ----------
    X : ndarray (k_0, n), samples as columns.
    y : ndarray (n,) or (1, n), labels in {-1, +1}.

    Returns
    -------
    u : ndarray (k_0,), unit vector (Ji & Telgarsky's u-bar).
    gamma : float, the maximum margin.

    Raises
    ------
    ValueError
        When the data are not linearly separable through the origin.

    Paper: Ji & Telgarsky, Section 2 (gamma and u-bar), Theorem 2.2.
    """
    X = _matrix(X, "X")
    k0, n = X.shape
    y = np.asarray(y, dtype=np.float64)
    if n < 1 or y.shape not in ((n,), (1, n)) or not np.isin(y, (-1.0, 1.0)).all():
        raise ValueError(f"y must have shape ({n},) or (1, {n}) with entries in {{-1, +1}}, got shape {y.shape}")
    Z = X * y.reshape(n)  # columns z_i = y_i x_i
    feas = linprog(np.zeros(k0), A_ub=-Z.T, b_ub=-np.ones(n), bounds=(None, None), method="highs")
    if feas.status == 2:
        raise ValueError(
            "X, y: the data are not linearly separable through the origin (no w with y_i <w, x_i> > 0 for all i)"
        )
    E = np.vstack([Z, np.ones((1, n))])
    f = np.zeros(k0 + 1)
    f[-1] = 1.0
    beta, _ = nnls(E, f)
    res = E @ beta - f
    w = -res[:k0] / res[k0]
    support = np.flatnonzero(beta > 0)
    if support.size:
        ZS = Z[:, support]
        wp = np.linalg.lstsq(ZS.T, np.ones(support.size), rcond=None)[0]
        dual_gap = nnls(ZS, wp)[1]
        if np.min(Z.T @ wp) >= 1 - 1e-12 and dual_gap <= 1e-10 * np.linalg.norm(wp):
            w = wp
    norm = np.linalg.norm(w)
    return w / norm, float(1.0 / norm)


def one_vs_rest_margins(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The hard margin through the origin of each class against the rest (0 where not separable).

    For each class ``c`` in ``0 .. labels.max()``, with ``y_j = +1`` for samples of class ``c`` and ``-1``
    otherwise, `max_margin` gives the separator ``u``; its margin is checked on the data:
    ``min(gamma, min_j y_j <u, x_j>)``. A class that `max_margin` finds not separable scores 0.

    Parameters
    ----------
    X : ndarray (k_0, n), samples as columns.
    labels : ndarray (n,) of integer class labels >= 0.

    Returns
    -------
    ndarray (labels.max() + 1,); all positive exactly when every one-vs-rest problem is separable.

    Paper: Section 6 (the MNIST subset is linearly separable); Ji & Telgarsky, Section 2.
    """
    labels = np.asarray(labels)
    X = np.asarray(X, dtype=np.float64)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or labels.size == 0 or labels.min() < 0:
        raise ValueError(f"labels must be a non-empty 1-D array of integers >= 0, got {labels!r}")
    if X.ndim != 2 or X.shape[1] != labels.size:
        raise ValueError(f"X must have shape (k_0, n) with n = {labels.size} columns, got {X.shape}")
    margins = []
    for c in range(int(labels.max()) + 1):
        y = np.where(labels == c, 1.0, -1.0)
        try:
            u, gamma = max_margin(X, y)
        except ValueError:  # raised when the classes are not separable
            margins.append(0.0)
            continue
        margins.append(min(gamma, float(np.min(y * (u @ X)))))
    return np.array(margins)


def appendix_f_start(V: np.ndarray, U: np.ndarray, widths: Sequence[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Appendix F's rank-one aligned start: ``W_1 = s_1 u_1 v^T``, ``W_i = s_i e_1 e_1^T``, ``W_d = s_d u e_1^T``.

    It is `aligned_network` with bases ``(V, I, ..., I, U)`` and one nonzero singular value per layer,
    ``s_i`` uniform on [0, 1) (``rng.random()``, layer by layer): ``v`` is the first column of ``V`` and
    ``u`` that of ``U``. With one output (``k_d = 1``), gradient descent under any loss keeps every
    hidden layer a multiple of ``e_1 e_1^T`` and the network aligned.

    Parameters
    ----------
    V : ndarray (k_0, k_0), orthonormal; U : ndarray (k_d, k_d), orthonormal.
    widths : [k_0, ..., k_d], d >= 1.
    rng : numpy Generator.

    Returns
    -------
    Ws : list of d arrays (k_i, k_{i-1}), each of rank one.

    Paper: Section 4 and Appendix F (one-dimensional outputs: an initialisation that stays aligned).
    """
    widths = _validate.widths(widths)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    sigmas = [np.r_[rng.random(), np.zeros(min(a, b) - 1)] for a, b in zip(widths, widths[1:])]
    return aligned_network([V, *[np.eye(k) for k in widths[1:-1]], U], sigmas)


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
    lr : float > 0, the learning rate for the mean squared error (the paper's ``1e-2``, say).
    k_out : int >= 1, the number of outputs ``k_d``.

    Returns
    -------
    float, ``lr * 2 / k_out``.

    Paper: Section 6 (learning rate 1e-2 for the mean squared error, Figures 1 and 2).
    """
    if isinstance(lr, bool) or not isinstance(lr, Real) or not 0 < lr < np.inf:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if isinstance(k_out, bool) or not isinstance(k_out, Integral) or k_out < 1:
        raise ValueError(f"k_out must be an integer >= 1, got {k_out!r}")
    return lr * 2 / int(k_out)
