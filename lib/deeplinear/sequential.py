"""Sequential learning through Corollary 1, and the data condition under which it holds.

Radhakrishnan et al. (Section 2) write that Gidel, Bach and Lacoste-Julien's (2019) sequential learning of
components "can be derived via our singular value update rule in Corollary 1", and (after Theorem 1) that
Theorem 1's condition "corresponds to the epsilon = 0 data condition with the initialization considered in
Gidel et al.". This module holds what chapter 04 measures of both: the learning time of a mode that the
continuous-time limit of the update predicts (:func:`predicted_learning_times`), and how a violation of the
data condition of size ``eps`` spreads to gradient descent from an aligned, balanced, small start
(:func:`perturbed`, :func:`epsilon_response`), read on log axes (:func:`loglog_slope`). The discrete map,
its closed form and the runs themselves are in `deeplinear.dynamics` (`sequential_run`, `saxe_map`,
`saxe_closed_form`, `learning_times`).

Theorem 1's condition is measured basis-free by `deeplinear.theory.relative_commutator`: ``X X^T`` and
``X Y^T Y X^T`` commute exactly when orthonormal ``U, V`` make ``U^T Y X^T V`` and ``V^T X X^T V`` diagonal
(`deeplinear.theory.alignment_invariant` proves the equivalence).

Shapes follow the package convention: ``X`` is ``(k, n)`` and ``Y`` is ``(k, n)``, samples as columns.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from . import _validate, dynamics, theory
from .training import train

__all__ = ["predicted_learning_times", "perturbed", "epsilon_response", "loglog_slope"]


_positive = _validate.positive


def predicted_learning_times(strengths: np.ndarray, u0: float, lr: float) -> np.ndarray:
    """The step at which a mode of strength ``s`` reaches ``s - u0`` from ``u0`` in continuous time.

    A balanced two-layer mode on whitened data follows ``tau du/dt = 2u(s - u)`` with ``tau = 1 / lr`` (one
    unit of time per step; the continuous-time limit of Corollary 1's update, `deeplinear.dynamics.saxe_map`),
    whose solution (`deeplinear.dynamics.saxe_closed_form`) reaches ``s - u0`` at
    ``t = (tau / s) ln((s - u0) / u0)``: stronger modes are learned first.

    Parameters
    ----------
    strengths : ndarray (r,), the targets ``s_j > u0``.
    u0 : float > 0, the initial mode product.
    lr : float > 0, the learning rate.

    Returns
    -------
    ndarray (r,), the predicted steps (real numbers).

    References
    ----------
    Paper 1 (Radhakrishnan et al.), Section 2 and Corollary 1; Saxe et al. (2014).

    Examples
    --------
    >>> float(predicted_learning_times(np.array([2.0]), 1.0, 0.5)[0])
    0.0
    """
    s = np.asarray(strengths, dtype=np.float64)
    u0, lr = _positive(u0, "u0"), _positive(lr, "lr")
    if s.ndim != 1 or not np.all(np.isfinite(s)) or np.any(s <= u0):
        raise ValueError(f"strengths must be a 1-D array of numbers above u0 = {u0}, got {strengths!r}")
    return np.log((s - u0) / u0) / (lr * s)


def perturbed(X: np.ndarray, eps: float, direction: np.ndarray) -> np.ndarray:
    """``X + eps ||X||_F D / ||D||_F``: data moved by a fraction ``eps`` of their norm along ``direction``.

    Parameters
    ----------
    X : ndarray (k, n).
    eps : float >= 0, the relative size of the perturbation.
    direction : ndarray (k, n), not zero (e.g. standard normal).

    Returns
    -------
    ndarray (k, n), at Frobenius distance ``eps ||X||_F`` from ``X``.

    References
    ----------
    Paper 1 (Radhakrishnan et al.), after Theorem 1 (the book's measure of a violation of size epsilon).

    Examples
    --------
    >>> perturbed(np.eye(2), 0.5, np.array([[0.0, 2.0], [0.0, 0.0]])).round(3).tolist()
    [[1.0, 0.707], [0.0, 1.0]]
    """
    X = _validate.matrix(X, "X")
    D = _validate.matrix(direction, "direction")
    if D.shape != X.shape or not np.any(D):
        raise ValueError(f"direction must be a non-zero array of the shape of X, {X.shape}, got {D.shape}")
    if isinstance(eps, bool) or not isinstance(eps, Real) or not np.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a non-negative number, got {eps!r}")
    return X + float(eps) * np.linalg.norm(X) / np.linalg.norm(D) * D


def epsilon_response(
    X: np.ndarray,
    Y: np.ndarray,
    U: np.ndarray,
    V: np.ndarray,
    eps: np.ndarray,
    *,
    u0: float,
    lr: float,
    steps: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Theorem 1's condition and the invariance of alignment, as the inputs are perturbed by ``eps``.

    The start is the two-layer network considered by Gidel et al.: aligned with the data's bases
    (``W_1 = Q diag(a) V^T``, ``W_2 = U diag(a) Q^T``, ``Q`` Haar, drawn from ``rng`` first), balanced and
    small, ``a_j = sqrt(u0) (1 + 1e-3 j)`` as in `deeplinear.dynamics.sequential_run`. For each ``eps``,
    the inputs become ``perturbed(X, eps, D)`` with one standard normal direction ``D`` (drawn next, the same
    for every ``eps``) and the targets stay ``Y``; the function measures the violation of Theorem 1's
    condition (`deeplinear.theory.relative_commutator`) and runs full gradient descent for ``steps`` steps,
    recording the largest off-diagonal entry in the start's bases (`deeplinear.dynamics.off_diagonal`) over
    the run: rounding when the condition holds, and otherwise how far the network leaves the aligned set.

    Parameters
    ----------
    X, Y : ndarrays (k, n), data that satisfy Theorem 1's condition with the bases ``U, V``.
    U, V : ndarrays (k, k), orthonormal (e.g. `deeplinear.theory.alignment_invariant_witness`).
    eps : ndarray (m,), relative perturbation sizes, each >= 0.
    u0 : float > 0, the initial mode product; lr : float > 0; steps : int >= 0.
    rng : numpy Generator.

    Returns
    -------
    dict of ndarrays (m,): ``"eps"``, ``"defect"`` (the relative commutator of the perturbed data) and
    ``"off"`` (the largest off-diagonal entry over the run).

    References
    ----------
    Paper 1 (Radhakrishnan et al.), Theorem 1 and the remark after it (Gidel et al.'s epsilon = 0).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, Y, U, V = dynamics.planted_problem(2, 3, rng, np.ones(2), np.array([2.0, 1.0]))
    >>> out = epsilon_response(X, Y, U, V, np.array([0.0, 1e-6]), u0=0.01, lr=0.05, steps=50, rng=rng)
    >>> bool(out["off"][0] < 1e-13 < out["off"][1])
    True
    """
    X, Y = _validate.matrix(X, "X"), _validate.matrix(Y, "Y")
    k, n = X.shape
    if Y.shape != (k, n) or np.shape(U) != (k, k) or np.shape(V) != (k, k):
        raise ValueError(f"Y must be (k, n) = {(k, n)} and U, V (k, k), got {Y.shape}, {np.shape(U)}, {np.shape(V)}")
    eps = np.asarray(eps, dtype=np.float64)
    if eps.ndim != 1 or len(eps) == 0 or not np.all(np.isfinite(eps)) or np.any(eps < 0):
        raise ValueError(f"eps must be a non-empty 1-D array of non-negative numbers, got {eps!r}")
    u0, lr, steps = _positive(u0, "u0"), _positive(lr, "lr"), _validate.count(steps, "steps")
    bases = [np.asarray(V, dtype=np.float64), theory.random_orthogonal(k, rng), np.asarray(U, dtype=np.float64)]
    start = np.full((2, k), np.sqrt(u0)) * (1 + 1e-3 * np.arange(k))
    Ws = theory.aligned_network(bases, list(start))
    direction = rng.standard_normal(X.shape)
    metric = {"off": dynamics.basis_metrics(bases)["off"]}
    defect, off = [], []
    for e in eps:
        Xe = perturbed(X, float(e), direction)
        defect.append(theory.relative_commutator(Xe, Y))
        run = train(Ws, Xe, Y, lr=lr, steps=steps, record=1, metrics=metric, progress=False)
        off.append(float(np.max(run.history.metrics["off"])))
    return {"eps": eps, "defect": np.array(defect), "off": np.array(off)}


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    """The least-squares slope of ``ln y`` against ``ln x``: the exponent ``p`` of ``y = c x^p``.

    Parameters
    ----------
    x, y : ndarrays (m,), m >= 2, positive; ``x`` not all equal.

    Returns
    -------
    float.

    References
    ----------
    Paper 1 (Radhakrishnan et al.), after Theorem 1 (a response linear in epsilon has slope 1).

    Examples
    --------
    >>> round(loglog_slope(np.array([1e-6, 1e-4]), np.array([3e-6, 3e-4])), 12)
    1.0
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    finite = np.isfinite(x).all() and np.isfinite(y).all()
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2 or not finite or not np.all(x > 0) or not np.all(y > 0):
        raise ValueError(f"x and y must be finite positive 1-D arrays of one length >= 2, got {x.shape}, {y.shape}")
    lx, ly = np.log(x), np.log(y)
    if np.ptp(lx) == 0:
        raise ValueError("x must not be all equal")
    lx, ly = lx - lx.mean(), ly - ly.mean()
    return float(lx @ ly / (lx @ lx))
