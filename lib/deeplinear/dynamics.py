"""Corollary 1 and Proposition 1 as the book measures them: singular-value dynamics under strong alignment.

A planted problem that satisfies Theorem 1's condition, the diagonals ``Lambda``, ``Lambda'`` of
Corollary 1, equation (5) in the aligned bases, equation (6) as printed (the corrected recursion is
`deeplinear.theory.singular_value_dynamics`), the recursion run until it converges, the edges of
stability at an aligned minimum, the bisection and the scan for the critical learning rate, and the
sequential learning of modes from a small balanced start (Saxe et al.'s map and closed form).

Shapes follow the package convention: ``W_i`` is ``(k_i, k_{i-1})``, data ``X`` is ``(k_0, n)`` and
``Y`` is ``(k_d, n)``; ``bases = [Q_0, ..., Q_d]`` are the aligned bases (``Q_0 = V``, ``Q_d = U``), and
singular values in those bases are ``(d, r)`` arrays, layer first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from numbers import Real
from typing import Any, NamedTuple

import numpy as np

from . import _validate, network, theory
from .training import TrainingDiverged, train

__all__ = [
    "planted_problem",
    "lambdas",
    "equation_5",
    "equation_5_error",
    "diagonal_blocks",
    "off_diagonal",
    "basis_metrics",
    "printed_equation_6",
    "corollary1_tolerance",
    "reduced_loss",
    "reduced_run",
    "steps_to",
    "LinearFit",
    "linear_fit",
    "edges_of_stability",
    "stability_edge_along",
    "asymptotic_rate",
    "decay_rate",
    "critical_lr",
    "trial_steps",
    "reduced_converges",
    "reduced_critical_lr",
    "proposition1_summary",
    "proposition1_by_depth",
    "proposition1_over_instances",
    "misaligned",
    "StabilityScan",
    "stability_scan",
    "sequential_run",
    "saxe_map",
    "saxe_closed_form",
    "learning_times",
    "seconds_per_step",
]


def _count(x, name: str, low: int = 0) -> int:
    x = _validate.count(x, name)
    if x < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {x!r}")
    return x


def _singular_values(sigmas0, lam, lam_prime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(sigmas0, dtype=np.float64)
    if s.ndim != 2 or 0 in s.shape or not np.isfinite(s).all():
        raise ValueError(f"sigmas0 must be a finite array of shape (d, r), got shape {s.shape}")
    return s, _validate.vector(lam, "lam", s.shape[1]), _validate.vector(lam_prime, "lam_prime", s.shape[1])


_positive = _validate.positive
_WIDEN = 60  # critical_lr halves or doubles at most this often (a factor of 1e18) before giving up


def _bases(Ws: Sequence[np.ndarray], bases: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A network (one, 2-D layers) and its d + 1 orthonormal bases, validated: (layers, bases) as float64."""
    layers, stacked = _validate.network(Ws)
    if stacked is not None:
        raise ValueError("Ws must be one network of 2-D layers (k_i, k_{i-1}), not a stack")
    if isinstance(bases, np.ndarray) or not isinstance(bases, Sequence) or len(bases) != len(layers) + 1:
        got = len(bases) if isinstance(bases, Sequence) else type(bases).__name__
        raise ValueError(f"bases must hold d + 1 = {len(layers) + 1} matrices for {len(layers)} layers, got {got}")
    for i, W in enumerate(layers):
        if W.shape != (len(bases[i + 1]), len(bases[i])):
            raise ValueError(
                f"Ws[{i}] must have shape ({len(bases[i + 1])}, {len(bases[i])}) to match bases, got {W.shape}"
            )
    return layers, _validate.bases(bases, [layers[0].shape[1]] + [W.shape[0] for W in layers])


def _positive_vector(a, name: str, length: int) -> np.ndarray:
    a = _validate.vector(a, name, length)
    if np.any(a <= 0):
        raise ValueError(f"{name} must be positive (every entry > 0), got {a!r}")
    return a


def _losses(losses, name: str = "losses") -> np.ndarray:
    """A loss curve: a non-empty 1-D float64 array whose first entry is finite and > 0 (later ones may be inf)."""
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 1 or len(losses) == 0 or not (np.isfinite(losses[0]) and losses[0] > 0):
        raise ValueError(f"{name} must be a non-empty 1-D array whose first loss is finite and > 0, got {losses!r}")
    if np.isnan(losses).any() or np.any(losses < 0):
        raise ValueError(f"{name} must hold losses >= 0 (no NaN)")
    return losses


# --- the chapter's problem -------------------------------------------------------------------------------


def planted_problem(
    k: int, n: int, rng: np.random.Generator, variances: np.ndarray, strengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Data that satisfy Theorem 1's condition with chosen spectra.

    Draws Haar ``V``, then ``U`` (both ``(k, k)``), then an ``(n, k)`` matrix ``R`` with orthonormal
    columns (the first ``k`` columns of a Haar ``(n, n)`` matrix), and returns
    ``X = V diag(sqrt(n v_j)) R^T`` and ``Y = U diag(s_j) V^T X``, so that
    ``V^T X X^T V = n diag(v)`` and ``U^T Y X^T V = n diag(v * s)``: mode ``j`` has target
    ``lambda'_j / lambda_j = s_j``.

    Parameters
    ----------
    k : int >= 1, input and output width.
    n : int >= k, number of samples.
    rng : numpy Generator.
    variances : ndarray (k,), the ``v_j`` (non-negative).
    strengths : ndarray (k,), the ``s_j``.

    Returns
    -------
    X : ndarray (k, n); Y : ndarray (k, n); U : ndarray (k, k); V : ndarray (k, k).

    Paper: Theorem 1, Corollary 1 (the book's planted problem).
    """
    k, n = _count(k, "k", 1), _count(n, "n", 1)
    if n < k:
        raise ValueError(f"n must be at least k = {k} (R needs k orthonormal columns of length n), got {n}")
    variances = _validate.vector(variances, "variances", k)
    strengths = _validate.vector(strengths, "strengths", k)
    if np.any(variances < 0):
        raise ValueError("variances must be non-negative")
    V, U = theory.random_orthogonal(k, rng), theory.random_orthogonal(k, rng)
    R = theory.random_orthogonal(n, rng)[:, :k]
    X = (V * np.sqrt(n * variances)) @ R.T
    return X, (U * strengths) @ V.T @ X, U, V


def lambdas(X: np.ndarray, Y: np.ndarray, U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Corollary 1's diagonals ``lam = diag(V^T X X^T V)`` and ``lam' = diag(U^T Y X^T V)``, first r entries.

    Parameters
    ----------
    X : ndarray (k_0, n); Y : ndarray (k_d, n).
    U : ndarray (k_d, k_d), V : ndarray (k_0, k_0), orthonormal (e.g. from
        `deeplinear.theory.alignment_invariant_witness`).

    Returns
    -------
    lam, lam_prime : ndarrays (r,), ``r = min(k_0, k_d)``.

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
    Ws : list of d arrays (k_i, k_{i-1}); bases : list of d + 1 orthonormal (k_i, k_i) arrays.
    X : ndarray (k_0, n); Y : ndarray (k_d, n).

    Returns
    -------
    list of d arrays (k_i, k_{i-1}).

    Paper: Corollary 1, eq. (5).
    """
    Ws, bases = _bases(Ws, bases)
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
    Ws : list of d arrays (k_i, k_{i-1}); bases : list of d + 1 orthonormal (k_i, k_i) arrays.

    Paper: Corollary 1 (the ``Sigma_i`` of a strongly aligned network).
    """
    Ws, bases = _bases(Ws, bases)
    return np.stack([np.diag(bases[i + 1].T @ W @ bases[i]) for i, W in enumerate(Ws)])


def off_diagonal(Ws: Sequence[np.ndarray], bases: Sequence[np.ndarray]) -> float:
    """The largest off-diagonal entry ``|(Q_i^T W_i Q_{i-1})_{ab}|``, ``a != b``, over all layers.

    Zero exactly when the network is aligned in the bases ``Q_i``.

    Paper: Definition 2 (aligned network), Corollary 1.
    """
    Ws, bases = _bases(Ws, bases)
    return max(
        float(np.abs(M - np.diag(np.diag(M))).max()) if M.size else 0.0
        for M in (bases[i + 1].T @ W @ bases[i] for i, W in enumerate(Ws))
    )


def basis_metrics(bases: Sequence[np.ndarray]) -> dict[str, Callable]:
    """Metrics for `deeplinear.train` in fixed bases: ``"sigma"`` (`diagonal_blocks`, (d, r) per record) and
    ``"off"`` (`off_diagonal`, a float per record)."""
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
    product over ``j != i``, which `deeplinear.theory.singular_value_dynamics` implements). Arguments
    and return as in that function: a (steps + 1, d, r) trajectory.

    Paper: Corollary 1, eq. (6) as printed.
    """
    s, lam, lam_prime = _singular_values(sigmas0, lam, lam_prime)
    lr, steps, n = _positive(lr, "lr"), _count(steps, "steps"), _count(n, "n", 1)
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
    traj : ndarray (steps + 1, d, r), the singular values along the run (of either computation).
    off : float >= 0, the largest off-diagonal entry of the full run.

    Returns
    -------
    float, the largest deviation that rounding and a misalignment ``off`` explain.

    Paper: Corollary 1 (what a computer's gradient descent can be expected to match).
    """
    traj = np.asarray(traj, dtype=np.float64)
    if traj.ndim != 3 or len(traj) == 0 or not np.isfinite(traj).all():
        raise ValueError(f"traj must be a finite array of shape (steps + 1, d, r), got {traj.shape}")
    if isinstance(off, bool) or not isinstance(off, Real) or not np.isfinite(off) or off < 0:
        raise ValueError(f"off must be a non-negative number, got {off!r}")
    _, d, r = traj.shape
    return float(np.finfo(np.float64).eps * (len(traj) - 1) * np.abs(traj).max() + d * r * off**2)


# --- Proposition 1 ---------------------------------------------------------------------------------------


def reduced_loss(traj: np.ndarray, lam: np.ndarray, lam_prime: np.ndarray, n: int) -> np.ndarray:
    """The loss along singular values ``(..., d, r)``: ``sum_j lam_j (p_j - lam'_j / lam_j)^2 / (2n)``,
    ``p_j = prod_i sigma_ij``. This is the squared loss of a strongly aligned network on data whose
    ``Y`` lies in the span of the modes (the planted problem), where the minimum is 0.

    ``traj`` finite, ``lam`` (r,) positive, ``lam_prime`` (r,), ``n >= 1``. Returns an array of shape
    ``traj.shape[:-2]``. Paper: Corollary 1.
    """
    traj = np.asarray(traj, dtype=np.float64)
    if traj.ndim < 2 or 0 in traj.shape or not np.isfinite(traj).all():
        raise ValueError(f"traj must be a finite array of shape (..., d, r), got shape {traj.shape}")
    lam = _positive_vector(lam, "lam", traj.shape[-1])
    lam_prime = _validate.vector(lam_prime, "lam_prime", traj.shape[-1])
    return _reduced_loss(traj, lam, lam_prime, _count(n, "n", 1))


def _reduced_loss(traj: np.ndarray, lam: np.ndarray, lam_prime: np.ndarray, n: int) -> np.ndarray:
    p = np.asarray(traj, dtype=np.float64).prod(axis=-2)
    return 0.5 * (lam * (p - lam_prime / lam) ** 2).sum(axis=-1) / n


def reduced_run(
    sigmas0: np.ndarray,
    lam: np.ndarray,
    lam_prime: np.ndarray,
    *,
    lr: float,
    n: int,
    max_steps: int = 5_000_000,
    tol: float = 1e-12,
    chunk: int = 20000,
) -> tuple[np.ndarray, np.ndarray]:
    """The corrected recursion (6) in chunks until the loss is below ``tol`` times its start.

    The loss is checked at the end of each chunk of ``chunk`` steps: the run stops after the first chunk
    that ends below ``tol`` times the initial loss, or not finite or above ``1e8`` times it (divergence).

    Parameters
    ----------
    sigmas0 : ndarray (d, r); lam, lam_prime : ndarrays (r,), as in `deeplinear.theory.singular_value_dynamics`.
    lr : float > 0; n : int >= 1; max_steps : int >= 0, the most steps to run.
    tol : float > 0; chunk : int >= 1, steps per call of the recursion (memory).

    Returns
    -------
    losses : ndarray (T,), `reduced_loss` at steps 0..T-1.
    sigmas : ndarray (d, r), the last singular values.

    Paper: Corollary 1, Proposition 1.
    """
    max_steps, chunk = _count(max_steps, "max_steps"), _count(chunk, "chunk", 1)
    tol = _positive(tol, "tol")
    sigmas0, lam, lam_prime = _singular_values(sigmas0, lam, lam_prime)
    lam, lr, n = _positive_vector(lam, "lam", len(lam)), _positive(lr, "lr"), _count(n, "n", 1)
    losses, current, done = [], sigmas0, 0
    L0 = reduced_loss(sigmas0[None], lam, lam_prime, n)[0]
    L = np.array([L0])
    with np.errstate(over="ignore", invalid="ignore"):
        while done < max_steps:
            traj = theory.singular_value_dynamics(
                current, lam, lam_prime, lr=lr, steps=min(chunk, max_steps - done), n=n
            )
            L = _reduced_loss(traj, lam, lam_prime, n)
            losses.append(L if done == 0 else L[1:])
            current, done = traj[-1], done + len(traj) - 1
            if not np.isfinite(L[-1]) or L[-1] > 1e8 * L0 or L[-1] < tol * L0:
                break
    return (np.concatenate(losses) if losses else L), current


def steps_to(losses: np.ndarray, fraction: float) -> int | None:
    """The first step at which ``losses`` is below ``fraction`` times its start (None if never).

    ``losses`` (T,), T >= 1, its first entry finite and > 0; ``fraction`` a finite number >= 0."""
    losses = _losses(losses)
    fraction = _validate.tolerance(fraction, "fraction")
    hit = np.flatnonzero(losses < fraction * losses[0])
    return int(hit[0]) if len(hit) else None


class LinearFit(NamedTuple):
    """A fit ``ln L = intercept - rate * t`` over the steps ``t`` in ``window`` (r2: its R^2)."""

    rate: float
    r2: float
    intercept: float
    window: np.ndarray


def linear_fit(losses: np.ndarray, low: float = 1e-12, high: float = 1e-3) -> LinearFit:
    """Linear convergence measured: fit ``ln L = a - c t`` where ``low < L / L_0 < high``.

    Parameters
    ----------
    losses : ndarray (T,), the loss at steps 0..T-1.
    low, high : the window, as fractions of the initial loss.

    Returns
    -------
    LinearFit (rate c, R^2, intercept a, window steps); rate and R^2 are nan with fewer than 10 steps
    in the window.

    Paper: Proposition 1 (linear convergence).
    """
    losses = _losses(losses)
    low, high = _validate.tolerance(low, "low"), _validate.tolerance(high, "high")
    if not low < high:
        raise ValueError(f"low and high must satisfy 0 <= low < high, got {low!r} and {high!r}")
    t = np.flatnonzero((losses < high * losses[0]) & (losses > low * losses[0]))
    if len(t) < 10:
        return LinearFit(float("nan"), float("nan"), float("nan"), t)
    coef = np.polyfit(t, np.log(losses[t]), 1)
    resid = np.log(losses[t]) - np.polyval(coef, t)
    return LinearFit(float(-coef[0]), float(1 - resid.var() / np.log(losses[t]).var()), float(coef[1]), t)


def edges_of_stability(sigmas: np.ndarray, lam: np.ndarray, n: int) -> tuple[float, float]:
    """The largest stable learning rates at an aligned interpolating minimum with singular values ``sigmas``.

    Perturbing entry ``(a, b)`` of every layer (in the aligned bases) by ``delta_i`` moves the output
    entry ``(a, b)`` by ``sum_i g_ab,i delta_i`` with ``g_ab,i = prod_{j>i} sigma_ja prod_{j<i} sigma_jb``;
    at a minimum of zero loss the Hessian is Gauss-Newton, with curvature ``lam_b |g_ab|^2 / n`` along it,
    and gradient descent is stable for ``lr < 2n / (lam_b |g_ab|^2)``.

    Parameters
    ----------
    sigmas : ndarray (d, r), singular values at the minimum; lam : ndarray (r,); n : int >= 1.

    Returns
    -------
    reduced : float, the edge over the pairs ``a = b`` (the modes of the recursion (6)).
    full : float, the edge over all pairs (full gradient descent, which can also leave the aligned set).

    Paper: Proposition 1 (the book's stability analysis of its learning rate).
    """
    curvature = _curvatures(sigmas, lam, n)
    if not np.diag(curvature).max() > 0:
        raise ValueError("sigmas: every mode's curvature is 0 (a zero mode product), so no rate is unstable")
    return float(2 / np.diag(curvature).max()), float(2 / curvature.max())


def _curvatures(sigmas, lam, n) -> np.ndarray:
    """The Gauss-Newton curvatures ``lam_b |g_ab|^2 / n`` of `edges_of_stability`, an (r, r) array."""
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if sigmas.ndim != 2 or 0 in sigmas.shape or not np.isfinite(sigmas).all():
        raise ValueError(f"sigmas must be a finite array of shape (d, r), got {sigmas.shape}")
    lam, n = _positive_vector(lam, "lam", sigmas.shape[1]), _count(n, "n", 1)
    d = len(sigmas)
    g2 = sum(np.outer(np.prod(sigmas[i + 1 :], axis=0), np.prod(sigmas[:i], axis=0)) ** 2 for i in range(d))
    return g2 * lam[None, :] / n


def stability_edge_along(traj: np.ndarray, lam: np.ndarray, n: int, points: int = 64) -> float:
    """The smallest edge over all pairs (`edges_of_stability`, second value) along a trajectory.

    Evaluated at ``points`` log-spaced steps and the last one; 0 where the trajectory is not finite (the
    recursion diverged). A learning rate below it is stable, to first order, at every point the run visits.

    Parameters
    ----------
    traj : ndarray (T, d, r), singular values along a run; lam : ndarray (r,); n : int >= 1;
    points : int >= 1.

    Paper: Corollary 1 (the book's stability rule for comparing a computer's gradient descent with it).
    """
    traj = np.asarray(traj, dtype=np.float64)
    if traj.ndim != 3 or len(traj) == 0:
        raise ValueError(f"traj must have shape (T, d, r), got {traj.shape}")
    if not np.isfinite(traj).all():
        return 0.0
    at = np.unique(np.r_[np.geomspace(1, len(traj), _count(points, "points", 1)).astype(int) - 1, len(traj) - 1])
    curvature = max(float(_curvatures(traj[t], lam, n).max()) for t in at)
    if not curvature > 0:
        raise ValueError("traj: every curvature along it is 0 (zero singular values), so no rate is unstable")
    return min(2 / float(_curvatures(traj[t], lam, n).max()) for t in at)


def asymptotic_rate(sigmas: np.ndarray, lam: np.ndarray, n: int, lr: float) -> float:
    """The rate, per step, at which ``ln L`` falls near the aligned minimum ``sigmas`` at learning rate ``lr``.

    Near a minimum the error of mode ``j`` shrinks by ``|1 - lr c_j|`` a step, ``c_j = lam_j |g_jj|^2 / n``
    (`edges_of_stability`), so the loss, a sum of squared errors, ends at ``min_j -2 ln|1 - lr c_j|``.

    Parameters
    ----------
    sigmas : ndarray (d, r), singular values at the minimum; lam : ndarray (r,); n : int >= 1; lr : float > 0.

    Paper: Proposition 1 (linear convergence: the rate it ends at).
    """
    c = np.diag(_curvatures(sigmas, lam, n))
    with np.errstate(divide="ignore"):
        rate = float(np.min(-2 * np.log(np.abs(1 - _positive(lr, "lr") * c))))
    if not np.isfinite(rate):
        raise ValueError(f"lr = {lr!r} is 1 / c_j for every mode: the error vanishes in one step, an infinite rate")
    return rate


def decay_rate(losses: np.ndarray, high: float = 1e-6, low: float = 1e-12) -> float:
    """The rate, per step, at which ``ln L`` fell from ``high`` to ``low`` times its start.

    ``(ln L_t1 - ln L_t2) / (t2 - t1)`` with ``t1`` the first step below ``high * L_0`` and ``t2`` the first
    below ``low * L_0`` (the last step if none is); nan when the loss never falls below ``high * L_0`` or
    ``t2 <= t1``. No fit and no window of a minimum length: an average over the final stretch of the run.

    Parameters
    ----------
    losses : ndarray (T,), the loss at steps 0..T-1; high > low > 0, fractions of the initial loss.

    Paper: Proposition 1 (linear convergence, measured).
    """
    losses = _losses(losses)
    low, high = _validate.tolerance(low, "low"), _validate.tolerance(high, "high")
    if not 0 < low < high:
        raise ValueError(f"high and low must satisfy high > low > 0, got high={high!r}, low={low!r}")
    t1, t2 = steps_to(losses, high), steps_to(losses, low)
    t2 = len(losses) - 1 if t2 is None else t2
    if t1 is None or t2 <= t1:
        return float("nan")
    if not (0 < losses[t2] < np.inf):
        raise ValueError(f"losses must stay finite and > 0 up to step {t2}, got {losses[t2]!r}: no finite rate")
    return float(np.log(losses[t1] / losses[t2]) / (t2 - t1))


def critical_lr(converges: Callable[[float], bool], low: float, high: float, iterations: int = 12) -> float:
    """The largest learning rate with ``converges(lr)`` True, by bisection on ``log lr``.

    First widens ``[low, high]`` (halving ``low`` while it fails, doubling ``high`` while it succeeds),
    then bisects ``iterations`` times. Assumes a single threshold (True below, False above).

    Returns the last rate found to converge (the lower end of the final bracket).
    """
    low, high = _positive(low, "low"), _positive(high, "high")
    iterations = _count(iterations, "iterations")
    if not callable(converges):
        raise ValueError(f"converges must be a callable lr -> bool, got {type(converges).__name__}")

    def test(lr: float) -> bool:
        verdict = converges(lr)
        if not isinstance(verdict, (bool, np.bool_)):
            raise ValueError(f"converges must return a bool, got {verdict!r} at lr = {lr!r}")
        return bool(verdict)

    for _ in range(_WIDEN):
        if test(low):
            break
        low, high = low / 2, low
    else:
        raise ValueError(f"converges(lr) is False down to lr = {low!r}: no rate converges")
    for _ in range(_WIDEN):
        if not test(high):
            break
        low, high = high, 2 * high
    else:
        raise ValueError(f"converges(lr) is True up to lr = {high!r}: no critical rate")
    for _ in range(iterations):
        mid = np.sqrt(low * high)
        low, high = (mid, high) if test(mid) else (low, mid)
    return low


def trial_steps(lr: float, flow_time: float) -> int:
    """The step budget of a trial at ``lr``: ``int(flow_time / lr) + 200`` (a fixed gradient-flow time).

    ``lr`` and ``flow_time`` finite and > 0."""
    return int(_positive(flow_time, "flow_time") / _positive(lr, "lr")) + 200


def reduced_converges(
    sigmas0: np.ndarray,
    lam: np.ndarray,
    lam_prime: np.ndarray,
    n: int,
    lr: float,
    *,
    flow_time: float,
    tol: float = 1e-8,
) -> bool:
    """Whether the recursion (6) at ``lr`` brings the loss below ``tol`` times its start within
    `trial_steps` ``(lr, flow_time)`` steps. Paper: Proposition 1."""
    L = reduced_run(sigmas0, lam, lam_prime, lr=lr, n=n, max_steps=trial_steps(lr, flow_time), tol=tol)[0]
    return bool(np.isfinite(L[-1]) and L[-1] < tol * L[0])


def reduced_critical_lr(
    sigmas0: np.ndarray,
    lam: np.ndarray,
    lam_prime: np.ndarray,
    n: int,
    *,
    flow_time: float,
    low: float,
    high: float,
    iterations: int = 12,
) -> float:
    """The empirical critical learning rate of the recursion (6): `critical_lr` of `reduced_converges`.

    ``sigmas0``, ``lam`` and ``lam_prime`` positive (from a zero singular value or towards a zero target the
    recursion never converges linearly, and no bracket would be found).

    Paper: Proposition 1 (how conservative its learning rate is).
    """
    sigmas0, lam, lam_prime = _singular_values(sigmas0, lam, lam_prime)
    if np.any(sigmas0 <= 0):
        raise ValueError("sigmas0 must be positive: from a zero singular value the recursion (6) does not move")
    lam, lam_prime = _positive_vector(lam, "lam", len(lam)), _positive_vector(lam_prime, "lam_prime", len(lam))
    _positive(flow_time, "flow_time")
    converges = partial(reduced_converges, sigmas0, lam, lam_prime, n, flow_time=flow_time)
    return critical_lr(converges, low, high, iterations)


def proposition1_summary(
    sigmas0: np.ndarray,
    lam: np.ndarray,
    lam_prime: np.ndarray,
    n: int,
    *,
    iterations: int = 7,
    max_steps: int = 5_000_000,
) -> dict[str, float]:
    """Proposition 1 measured with the recursion (6) from ``sigmas0``.

    Returns a dict: ``"bound"`` (`deeplinear.theory.prop1_learning_rate`), ``"steps"`` (steps to reduce the
    loss by 1e10 at the bound), ``"rate"`` (the fitted linear rate at the bound, `linear_fit`),
    ``"critical"`` (`reduced_critical_lr`, bracketed around the edge over the modes, with a flow time of
    5 times what the run at the bound needed to reach 1e-12), ``"edge"`` and ``"edge_transverse"``
    (`edges_of_stability` at the minimum the run at the bound reached).

    Paper: Proposition 1.
    """
    bound = theory.prop1_learning_rate(sigmas0, lam, lam_prime, n)
    losses, end = reduced_run(sigmas0, lam, lam_prime, lr=bound, n=n, max_steps=max_steps)
    converged = steps_to(losses, 1e-12)
    if converged is None:
        raise ValueError(f"the recursion did not converge at the bound within max_steps = {max_steps}")
    edge, edge_transverse = edges_of_stability(end, lam, n)
    critical = reduced_critical_lr(
        sigmas0,
        lam,
        lam_prime,
        n,
        flow_time=5 * converged * bound,
        low=0.5 * edge,
        high=1.5 * edge,
        iterations=iterations,
    )
    return {
        "bound": bound,
        "critical": critical,
        "steps": steps_to(losses, 1e-10),
        "rate": linear_fit(losses).rate,
        "edge": edge,
        "edge_transverse": edge_transverse,
    }


def proposition1_by_depth(
    sigmas0: np.ndarray, lam: np.ndarray, lam_prime: np.ndarray, n: int, depths: Sequence[int], **kwargs: Any
) -> dict[str, np.ndarray]:
    """`proposition1_summary` at each depth ``d`` in ``depths``, from the first ``d`` rows of ``sigmas0``
    (so layer ``i`` starts from the same singular values at every depth).

    Returns a dict of arrays (D,): ``"depth"`` and the keys of `proposition1_summary`. ``kwargs`` go to it.

    Paper: Proposition 1 and its remark on depth.
    """
    sigmas0 = np.asarray(sigmas0, dtype=np.float64)
    depths = np.asarray(depths)
    if (
        depths.ndim != 1
        or len(depths) == 0
        or not np.issubdtype(depths.dtype, np.integer)
        or depths.min() < 1
        or depths.max() > len(sigmas0)
    ):
        raise ValueError(f"depths must be integers in [1, {len(sigmas0)}] (the rows of sigmas0), got {depths}")
    rows = [proposition1_summary(sigmas0[:d], lam, lam_prime, n, **kwargs) for d in depths]
    return {"depth": depths, **{key: np.array([row[key] for row in rows]) for key in rows[0]}}


def proposition1_over_instances(
    k: int,
    n: int,
    init_ranges: Sequence[tuple[float, float]] = ((0.1, 0.3), (0.3, 0.6), (0.5, 0.8)),
    *,
    rng: Any,
    instances: int = 3,
    depth: int = 3,
    **kwargs: Any,
) -> dict[str, np.ndarray]:
    """`proposition1_summary` on ``instances`` planted problems, each from every range of initial values.

    For each instance, draws variances and strengths uniform on [0.5, 2] (as chapter 04 does), then
    `planted_problem` (whose ``U``, ``V`` give ``lam``, ``lam'``); then, for each ``(low, high)`` in
    ``init_ranges``, initial singular values uniform on it, shape ``(depth, k)``, redrawn (up to 100
    times) while they violate Proposition 1's hypothesis ``prod_i sigma_k < lam'_k / lam_k``.

    Parameters
    ----------
    k, n : ints, ``n >= k >= 1``; init_ranges : sequence of ``(low, high)`` with ``0 < low <= high``;
    rng : numpy Generator or a seed for `numpy.random.default_rng`; instances, depth : ints >= 1;
    kwargs : passed to `proposition1_summary`.

    Returns
    -------
    dict of arrays (instances, len(init_ranges)): the keys of `proposition1_summary`, ``"factor"``
    (``critical / bound``: how conservative the bound is) and ``"window"``
    (``1 - edge_transverse / edge``: the predicted relative width of the rates at which the recursion
    converges but the aligned set is unstable for full gradient descent; 0 when the stiffest direction
    is a mode).

    Paper: Proposition 1 (the book's measurement of its margin).
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    instances, depth = _count(instances, "instances", 1), _count(depth, "depth", 1)
    ranges = np.asarray(init_ranges, dtype=np.float64)
    if ranges.ndim != 2 or ranges.shape[1] != 2 or len(ranges) == 0 or np.any(ranges[:, 0] <= 0):
        raise ValueError(f"init_ranges must be pairs (low, high) with 0 < low <= high, got {init_ranges!r}")
    if np.any(ranges[:, 1] < ranges[:, 0]):
        raise ValueError(f"init_ranges must be pairs (low, high) with 0 < low <= high, got {init_ranges!r}")
    rows: list[dict[str, float]] = []
    for _ in range(instances):
        X, Y, U, V = planted_problem(k, n, rng, *rng.uniform(0.5, 2.0, (2, k)))
        lam, lam_prime = lambdas(X, Y, U, V)
        for low, high in ranges:
            for _attempt in range(100):
                sigmas0 = rng.uniform(low, high, (depth, len(lam)))
                if np.all(sigmas0.prod(axis=0) < lam_prime / lam):
                    break
            else:
                raise ValueError(f"init range ({low}, {high}) violates Proposition 1's hypothesis at depth {depth}")
            row = proposition1_summary(sigmas0, lam, lam_prime, n, **kwargs)
            row["factor"] = row["critical"] / row["bound"]
            row["window"] = 1 - row["edge_transverse"] / row["edge"]
            rows.append(row)
    shape = (instances, len(ranges))
    return {key: np.array([row[key] for row in rows], dtype=np.float64).reshape(shape) for key in rows[0]}


def misaligned(
    Ws: Sequence[np.ndarray], bases: Sequence[np.ndarray], size: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """A deliberate misalignment: ``W_i + size * Q_i K_i Q_{i-1}^T`` with Gaussian off-diagonal ``K_i``
    scaled to largest entry 1, so that `off_diagonal` grows by ``size`` (``K_i`` drawn layer by layer).

    Paper: Corollary 1 (leaving the aligned set on purpose, to test its stability).
    """
    Ws, bases = _bases(Ws, bases)
    size, rng = _positive(size, "size"), _validate.rng(rng)
    out = []
    for i, W in enumerate(Ws):
        K = rng.standard_normal(np.shape(W)) * (1 - np.eye(*np.shape(W)))
        out.append(W + size * bases[i + 1] @ (K / np.abs(K).max()) @ bases[i].T)
    return out


@dataclass(frozen=True)
class StabilityScan:
    """What `stability_scan` found at each rate: ``rates`` (R,), ``converged`` (R,) bool (loss below tol
    times its start and misalignment below ``kicks_allowed`` times ``allowed_from``), ``off`` (R,) the final
    largest off-diagonal entry (inf where training diverged), ``kick`` the start's, ``reference`` the one a run
    at a small reference rate ended with, and ``allowed_from`` the larger of ``kick`` and ``reference``."""

    rates: np.ndarray
    converged: np.ndarray
    off: np.ndarray
    kick: float
    reference: float = 0.0

    @property
    def allowed_from(self) -> float:
        """What the misalignment is compared with: the start's, or more where a small rate ends with more (the
        start's alone where the reference run diverged)."""
        return max(self.kick, self.reference) if np.isfinite(self.reference) else self.kick

    @property
    def first_failure(self) -> int:
        """Index of the first rate that fails (``len(rates)`` if none does)."""
        return int(np.argmin(self.converged)) if not self.converged.all() else len(self.rates)

    @property
    def found(self) -> bool:
        """Whether the scan brackets a critical rate from below: its first rate converged and stayed aligned."""
        return self.first_failure > 0

    @property
    def critical(self) -> float:
        """The largest rate below which every rate of the scan converged and stayed aligned; nan when even the
        first rate failed (`found` is False: the critical rate lies below the grid, if anywhere)."""
        return float(self.rates[self.first_failure - 1]) if self.found else float("nan")

    @property
    def first_failing(self) -> float:
        """The first rate that failed (inf when none did): with `critical`, the bracket of the critical rate."""
        return float(self.rates[self.first_failure]) if self.first_failure < len(self.rates) else float("inf")

    @property
    def growth(self) -> float:
        """How far the misalignment ended, at most, over the rates below the first failure, in units of
        `allowed_from` (nan when nothing was `found`)."""
        return float((self.off[: self.first_failure] / self.allowed_from).max()) if self.found else float("nan")

    def failures_between(self, upper: float) -> tuple[int, int]:
        """(failures, rates) among the scanned rates strictly between `critical` and ``upper``
        ((0, 0) when nothing was `found`)."""
        window = (self.rates > self.critical) & (self.rates < upper)
        return int((~self.converged[window]).sum()), int(window.sum())


def _final_loss_and_off(Ws, X, Y, lr: float, flow_time: float, off_fn) -> tuple[float, float, float]:
    budget = trial_steps(lr, flow_time)
    try:
        res = train(Ws, X, Y, lr=float(lr), steps=budget, record=[0, budget], metrics={"off": off_fn})
    except TrainingDiverged:
        return 1.0, 0.0, float("inf")
    return float(res.history.loss[0]), float(res.history.loss[-1]), float(res.history.metrics["off"][-1])


def stability_scan(
    Ws: Sequence[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    bases: Sequence[np.ndarray],
    rates: np.ndarray,
    *,
    flow_time: float,
    kicks_allowed: float = 10,
    tol: float = 1e-8,
    reference_rate: float | None = None,
) -> StabilityScan:
    """Full gradient descent from ``Ws`` (usually `misaligned`) at each rate, for `trial_steps` steps.

    A rate passes when the loss ends below ``tol`` times its start and the largest off-diagonal entry in
    ``bases`` ends below ``kicks_allowed`` times the larger of its value at the start and the value a run at
    ``reference_rate`` (default: half the smallest rate) ends with. Even at a small rate the misalignment can
    grow for a while, as strong modes are learned before weak ones (a transient instability of the aligned set);
    what the scan detects is growth *beyond* that: the geometric growth at a rate where the aligned minimum is
    unstable, or a run that ends elsewhere.

    Parameters
    ----------
    Ws : list of d arrays, the start; X, Y : the data; bases : the aligned bases (d + 1 orthonormal arrays).
    rates : ndarray (R,) of learning rates, increasing; flow_time : float > 0 (`trial_steps`).
    kicks_allowed : float > 1; tol : float > 0; reference_rate : float > 0 or None.

    Returns
    -------
    `StabilityScan`.

    Paper: Corollary 1 and Proposition 1 (the book's critical rate of full gradient descent).
    """
    _, checked = _bases(Ws, bases)
    _positive(flow_time, "flow_time")
    off_fn = partial(_off_diagonal_in, checked)
    kick = off_fn(Ws)
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 1 or len(rates) == 0 or not np.all((rates > 0) & np.isfinite(rates)):
        raise ValueError(f"rates must be a non-empty 1-d array of positive learning rates, got {rates!r}")
    reference_rate = 0.5 * rates.min() if reference_rate is None else _positive(reference_rate, "reference_rate")
    reference = _final_loss_and_off(Ws, X, Y, reference_rate, flow_time, off_fn)[2]
    scan = StabilityScan(rates, np.zeros(len(rates), dtype=bool), np.full(len(rates), np.inf), kick, reference)
    for j, lr in enumerate(rates):
        first, last, scan.off[j] = _final_loss_and_off(Ws, X, Y, lr, flow_time, off_fn)
        scan.converged[j] = bool(last < tol * first and scan.off[j] < kicks_allowed * scan.allowed_from)
    return scan


# --- sequential learning ---------------------------------------------------------------------------------


def sequential_run(
    X: np.ndarray,
    Y: np.ndarray,
    U: np.ndarray,
    V: np.ndarray,
    *,
    strengths: np.ndarray,
    depth: int,
    u0: float,
    lr: float,
    steps: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Full gradient descent from a balanced aligned start, on whitened data; the mode products over time.

    Data: ``X X^T = n I`` and ``Y = U diag(strengths) V^T X`` (`planted_problem` with unit variances,
    whose outputs ``X, Y, U, V`` are the first four arguments), so
    ``lam_j = n`` and ``lam'_j = n s_j``. Start: every singular value ``u0^(1/d) (1 + 1e-3 j)`` (distinct),
    bases ``[V, Q_1, .., Q_{d-1}, U]`` with Haar inner ``Q_i`` drawn from ``rng``. For ``depth = 2`` the run
    has ``steps`` steps; deeper, as many as 1.2 times the steps the recursion (6) needs until every mode
    product reaches ``s_j - u0`` (found within ``40 * steps``; else ``40 * steps``).

    Returns
    -------
    ndarray (T, r), the mode products ``p_j = prod_i sigma_ij`` at every step, in the bases.

    Paper: Corollary 1 (sequential learning, after Saxe et al. 2014).
    """
    depth, steps = _count(depth, "depth", 1), _count(steps, "steps")
    X = _validate.matrix(X, "X")
    k, n = X.shape
    Y = _validate.matrix(Y, "Y", k)
    U, V = _validate.orthonormal_matrix(U, "U", k), _validate.orthonormal_matrix(V, "V", k)
    strengths = _validate.vector(strengths, "strengths", k)
    u0, lr, rng = _positive(u0, "u0"), _positive(lr, "lr"), _validate.rng(rng)
    start = np.full((depth, k), u0 ** (1 / depth)) * (1 + 1e-3 * np.arange(k))
    run_steps = steps
    if depth > 2:
        learned = _steps_until_learned(start, n, strengths, u0, lr=lr, max_steps=40 * steps)
        run_steps = 40 * steps if learned is None else int(1.2 * learned)
    qs = [V] + [theory.random_orthogonal(k, rng) for _ in range(depth - 1)] + [U]
    Ws = theory.aligned_network(qs, list(start))
    res = train(Ws, X, Y, lr=lr, steps=run_steps, record=1, metrics={"sigma": basis_metrics(qs)["sigma"]})
    return res.history.metrics["sigma"].prod(axis=1)


def _steps_until_learned(start, n, strengths, u0, *, lr, max_steps, chunk=5000) -> int | None:
    """The first step at which the recursion (6) on whitened data brings every mode product to ``s_j - u0``
    (None if not within ``max_steps``), run in chunks so that memory stays bounded."""
    current, done = start, 0
    while done < max_steps:
        traj = theory.singular_value_dynamics(
            current, np.full(len(strengths), float(n)), n * strengths, lr=lr, steps=min(chunk, max_steps - done), n=n
        )
        hit = np.flatnonzero((traj.prod(axis=1) >= strengths - u0).all(axis=1))
        if len(hit):
            return done + int(hit[0])
        current, done = traj[-1], done + len(traj) - 1
    return None


def saxe_map(u0: np.ndarray, strengths: np.ndarray, lr: float, steps: int) -> np.ndarray:
    """The discrete map ``u_{t+1} = u_t (1 + lr (s - u_t))^2`` of a balanced two-layer mode on whitened data.

    Parameters
    ----------
    u0 : ndarray (r,), initial mode products; strengths : ndarray (r,); lr : float > 0; steps : int >= 0.

    Returns
    -------
    ndarray (steps + 1, r). Paper: Corollary 1 with d = 2 (Saxe et al. 2014).
    """
    steps = _count(steps, "steps")
    u0, strengths, lr = _saxe_inputs(u0, strengths, lr)
    u = np.empty((steps + 1, *u0.shape))
    u[0] = u0
    for t in range(steps):
        u[t + 1] = u[t] * (1 + lr * (strengths - u[t])) ** 2
    return u


def saxe_closed_form(u0: np.ndarray, strengths: np.ndarray, lr: float, steps: int) -> np.ndarray:
    """Saxe et al.'s solution of ``tau du/dt = 2u(s - u)``, ``tau = 1 / lr``, at ``t = 0..steps``:
    ``u(t) = s e^{2st/tau} / (e^{2st/tau} - 1 + s/u_0)``. Returns (steps + 1, r).

    Paper: Corollary 1 (sequential learning; Saxe et al. 2014, eq. (7)).
    """
    tt = np.arange(_count(steps, "steps") + 1)[:, None]
    u0, strengths, lr = _saxe_inputs(u0, strengths, lr)
    if np.any(u0 <= 0) or np.any(strengths <= 0):
        raise ValueError("u0 and strengths must be positive (the closed form divides by them)")
    e = np.exp(2 * strengths * tt * lr)
    return strengths * e / (e - 1 + strengths / np.asarray(u0, dtype=np.float64))


def _saxe_inputs(u0, strengths, lr) -> tuple[np.ndarray, np.ndarray, float]:
    u0 = np.asarray(u0, dtype=np.float64)
    if u0.ndim != 1 or len(u0) == 0 or not np.isfinite(u0).all():
        raise ValueError(f"u0 must be a finite non-empty array (r,), got {u0!r}")
    return u0, _validate.vector(strengths, "strengths", len(u0)), _positive(lr, "lr")


def learning_times(u: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The first step at which each mode reaches its target: ``min {t : u[t, j] >= targets[j]}``
    (``len(u)`` where it never does). ``u`` is (T, r), ``targets`` (r,); returns an int array (r,)."""
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 2 or 0 in u.shape or not np.isfinite(u).all():
        raise ValueError(f"u must be a finite array (T, r), got shape {u.shape}")
    reached = u >= _validate.vector(targets, "targets", u.shape[1])
    return np.where(reached.any(axis=0), np.argmax(reached, axis=0), len(reached))


# --- speed -----------------------------------------------------------------------------------------------


def _per_step(fn: Callable[[], int], repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        count = fn()
        best = min(best, (time.perf_counter() - start) / count)
    return best


def seconds_per_step(
    k: int, depth: int, rng: np.random.Generator, *, full_steps: int, reduced_steps: int = 2000, repeats: int = 3
) -> tuple[float, float]:
    """Seconds per step of full gradient descent and of the recursion (6), best of ``repeats``.

    On a `planted_problem` with ``n = k`` (variances and strengths uniform on [0.5, 2]), from an aligned
    start with singular values uniform on [0.3, 0.6] and learning rate 1e-3.

    Returns (full, reduced). Paper: Corollary 1 (what the reduced recursion saves).
    """
    rng, depth = _validate.rng(rng), _count(depth, "depth", 1)
    full_steps, reduced_steps = _count(full_steps, "full_steps", 1), _count(reduced_steps, "reduced_steps", 1)
    repeats = _count(repeats, "repeats", 1)
    X, Y, _, _ = planted_problem(k, k, rng, rng.uniform(0.5, 2.0, k), rng.uniform(0.5, 2.0, k))
    U, V = theory.alignment_invariant_witness(X, Y)
    lam, lam_prime = lambdas(X, Y, U, V)
    s0 = rng.uniform(0.3, 0.6, (depth, k))
    Ws = theory.aligned_network([V] + [theory.random_orthogonal(k, rng) for _ in range(depth - 1)] + [U], list(s0))

    def full() -> int:
        train(Ws, X, Y, lr=1e-3, steps=full_steps, record=[full_steps], progress=False)
        return full_steps

    def reduced() -> int:
        theory.singular_value_dynamics(s0, lam, lam_prime, lr=1e-3, steps=reduced_steps, n=k)
        return reduced_steps

    return _per_step(full, repeats), _per_step(reduced, repeats)
