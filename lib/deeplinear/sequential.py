"""Sequential learning through Corollary 1, and the data condition under which it holds.

Radhakrishnan et al. (Section 2) write that Gidel, Bach and Lacoste-Julien's (2019) sequential learning of
components "can be derived via our singular value update rule in Corollary 1", and (after Theorem 1) that
Theorem 1's condition "corresponds to the epsilon = 0 data condition with the initialization considered in
Gidel et al.". This module holds what chapter 04 measures of both: the learning time of a mode that the
continuous-time limit of the update predicts (:func:`predicted_learning_times`), and how a violation of the
data condition of size ``eps`` spreads to gradient descent from an aligned, balanced, small start
(:func:`perturbed`, :func:`epsilon_response`), read on log axes (:func:`loglog_slope`); and the runs
themselves (:func:`sequential_run`), the discrete map of a balanced two-layer mode (:func:`saxe_map`), its
closed form (:func:`saxe_closed_form`) and the step at which each mode is learned (:func:`learning_times`).

Theorem 1's condition is measured basis-free by `deeplinear.theory.relative_commutator`: ``X X^T`` and
``X Y^T Y X^T`` commute exactly when orthonormal ``U, V`` make ``U^T Y X^T V`` and ``V^T X X^T V`` diagonal
(`deeplinear.theory.alignment_invariant` proves the equivalence).

Shapes follow the package convention: ``X`` is ``(k, n)`` and ``Y`` is ``(k, n)``, samples as columns.
"""

from __future__ import annotations

import numpy as np

from . import _validate, aligned, dynamics, theory
from .training import train

__all__ = [
    "predicted_learning_times",
    "perturbed",
    "epsilon_response",
    "loglog_slope",
    "sequential_run",
    "saxe_map",
    "saxe_closed_form",
    "learning_times",
]


def predicted_learning_times(strengths: np.ndarray, u0: float, lr: float) -> np.ndarray:
    """The step at which a mode of strength ``s`` reaches ``s - u0`` from ``u0`` in continuous time.

    A balanced two-layer mode on whitened data follows ``tau du/dt = 2u(s - u)`` with ``tau = 1 / lr`` (one
    unit of time per step; the continuous-time limit of Corollary 1's update, `saxe_map`),
    whose solution (`saxe_closed_form`) reaches ``s - u0`` at
    ``t = (tau / s) ln((s - u0) / u0)``: stronger modes are learned first.

    Parameters
    ----------
    strengths : ndarray
        (r,), the targets ``s_j > u0``.
    u0 : float
        > 0, the initial mode product.
    lr : float
        > 0, the learning rate.

    Returns
    -------
    ndarray
        (r,), the predicted steps (real numbers).

    Raises
    ------
    ValueError
        If ``strengths``, ``u0`` or ``lr`` is not valid (the message names the parameter).

    References
    ----------

    Paper 1 (Radhakrishnan et al.), Section 2 and Corollary 1; Saxe et al. (2014).

    Examples
    --------
    >>> float(predicted_learning_times(np.array([2.0]), 1.0, 0.5)[0])
    0.0
    """
    s = np.asarray(strengths, dtype=np.float64)
    u0, lr = _validate.positive(u0, "u0"), _validate.positive(lr, "lr")
    if s.ndim != 1 or not np.all(np.isfinite(s)) or np.any(s <= u0):
        raise ValueError(f"strengths must be a 1-D array of numbers above u0 = {u0}, got {strengths!r}")
    return np.log((s - u0) / u0) / (lr * s)


def perturbed(X: np.ndarray, eps: float, direction: np.ndarray) -> np.ndarray:
    """``X + eps ||X||_F D / ||D||_F``: data moved by a fraction ``eps`` of their norm along ``direction``.

    Parameters
    ----------
    X : ndarray
        (k, n).
    eps : float
        >= 0, the relative size of the perturbation.
    direction : ndarray
        (k, n), not zero (e.g. standard normal).

    Returns
    -------
    ndarray
        (k, n), at Frobenius distance ``eps ||X||_F`` from ``X``.

    Raises
    ------
    ValueError
        If ``X``, ``direction`` or ``eps`` is not valid (the message names the parameter).

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
    _validate.number(eps, "eps", "a non-negative number", low=0)
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
    rng: int | np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Theorem 1's condition and the invariance of alignment, as the inputs are perturbed by ``eps``.

    The start is the two-layer network considered by Gidel et al.: aligned with the data's bases
    (``W_1 = Q diag(a) V^T``, ``W_2 = U diag(a) Q^T``, ``Q`` Haar, drawn from ``rng`` first), balanced and
    small, ``a_j = sqrt(u0) (1 + 1e-3 j)`` as in `sequential_run`. For each ``eps``,
    the inputs become ``perturbed(X, eps, D)`` with one standard normal direction ``D`` (drawn next, the same
    for every ``eps``) and the targets stay ``Y``; the function measures the violation of Theorem 1's
    condition (`deeplinear.theory.relative_commutator`) and runs full gradient descent for ``steps`` steps,
    recording the largest off-diagonal entry in the start's bases (`deeplinear.dynamics.off_diagonal`) over
    the run: rounding when the condition holds, and otherwise how far the network leaves the aligned set.

    Parameters
    ----------
    X : ndarray
        Ndarrays (k, n), data that satisfy Theorem 1's condition with the bases ``U, V``.
    Y : ndarray
        Ndarrays (k, n), data that satisfy Theorem 1's condition with the bases ``U, V``.
    U : ndarray
        Ndarrays (k, k), orthonormal (e.g. `deeplinear.theory.alignment_invariant_witness`).
    V : ndarray
        Ndarrays (k, k), orthonormal (e.g. `deeplinear.theory.alignment_invariant_witness`).
    eps : ndarray
        (m,), relative perturbation sizes, each >= 0.
    u0 : float
        > 0, the initial mode product
    lr : float
        > 0
    steps : int
        >= 0.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    dict
        Dict of ndarrays (m,): ``"eps"``, ``"defect"`` (the relative commutator of the perturbed data) and
        ``"off"`` (the largest off-diagonal entry over the run).

    Raises
    ------
    ValueError
        If ``rng``, ``Y``, ``eps``, ``X``, ``u0``, ``lr`` or ``steps`` is not valid (the message names the parameter).

    References
    ----------

    Paper 1 (Radhakrishnan et al.), Theorem 1 and the remark after it (Gidel et al.'s epsilon = 0).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, Y, U, V = dynamics.planted_problem(2, 3, np.ones(2), np.array([2.0, 1.0]), rng=rng)
    >>> out = epsilon_response(X, Y, U, V, np.array([0.0, 1e-6]), u0=0.01, lr=0.05, steps=50, rng=rng)
    >>> bool(out["off"][0] < 1e-13 < out["off"][1])
    True
    """
    rng = _validate.rng(rng)
    X, Y = _validate.matrix(X, "X"), _validate.matrix(Y, "Y")
    k, n = X.shape
    if Y.shape != (k, n) or np.shape(U) != (k, k) or np.shape(V) != (k, k):
        raise ValueError(f"Y must be (k, n) = {(k, n)} and U, V (k, k), got {Y.shape}, {np.shape(U)}, {np.shape(V)}")
    eps = np.asarray(eps, dtype=np.float64)
    if eps.ndim != 1 or len(eps) == 0 or not np.all(np.isfinite(eps)) or np.any(eps < 0):
        raise ValueError(f"eps must be a non-empty 1-D array of non-negative numbers, got {eps!r}")
    u0, lr, steps = _validate.positive(u0, "u0"), _validate.positive(lr, "lr"), _validate.count(steps, "steps")
    bases = [np.asarray(V, dtype=np.float64), aligned.random_orthogonal(k, rng=rng), np.asarray(U, dtype=np.float64)]
    start = np.full((2, k), np.sqrt(u0)) * (1 + 1e-3 * np.arange(k))
    Ws = aligned.aligned_network(bases, list(start))
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
    x : ndarray
        Ndarrays (m,), m >= 2, positive; ``x`` not all equal.
    y : ndarray
        Ndarrays (m,), m >= 2, positive; ``x`` not all equal.

    Returns
    -------
    float
        Float.

    Raises
    ------
    ValueError
        If ``x`` is not valid (the message names the parameter).

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
    rng: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Full gradient descent from a balanced aligned start, on whitened data; the mode products over time.

    Data: ``X X^T = n I`` and ``Y = U diag(strengths) V^T X`` (`planted_problem` with unit variances,
    whose outputs ``X, Y, U, V`` are the first four arguments), so
    ``lam_j = n`` and ``lam'_j = n s_j``. Start: every singular value ``u0^(1/d) (1 + 1e-3 j)`` (distinct),
    bases ``[V, Q_1, .., Q_{d-1}, U]`` with Haar inner ``Q_i`` drawn from ``rng``. For ``depth = 2`` the run
    has ``steps`` steps; deeper, as many as 1.2 times the steps the recursion (6) needs until every mode
    product reaches ``s_j - u0`` (found within ``40 * steps``; else ``40 * steps``).

    Parameters
    ----------
    X : ndarray
        Inputs (k_0, n), samples as columns (None: the identity, where allowed).
    Y : ndarray
        Targets (k_d, n), samples as columns.
    U : ndarray
        (k, k), orthonormal output basis.
    V : ndarray
        (k, k), orthonormal input basis.
    strengths : ndarray
        (r,), the singular values of the target.
    depth : int
        Depth (number of layers), >= 1.
    u0 : float
        Starting mode product, > 0.
    lr : float
        Learning rate, > 0.
    steps : int
        Number of gradient-descent steps, >= 0.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    ndarray
        (T, r), the mode products ``p_j = prod_i sigma_ij`` at every step, in the bases.

    Raises
    ------
    ValueError
        If ``rng``, ``X``, ``Y``, ``strengths``, ``depth``, ``steps``, ``U``, ``V``, ``u0`` or ``lr`` is not valid (the
        message names the parameter).

    References
    ----------
    Paper: Corollary 1 (sequential learning, after Saxe et al. 2014).
    """
    rng = _validate.rng(rng)
    depth, steps = _validate.integer(depth, "depth", 1), _validate.count(steps, "steps")
    X = _validate.matrix(X, "X")
    k, n = X.shape
    Y = _validate.matrix(Y, "Y", k)
    U, V = _validate.orthonormal_matrix(U, "U", k), _validate.orthonormal_matrix(V, "V", k)
    strengths = _validate.vector(strengths, "strengths", k)
    u0, lr = _validate.positive(u0, "u0"), _validate.positive(lr, "lr")
    start = np.full((depth, k), u0 ** (1 / depth)) * (1 + 1e-3 * np.arange(k))
    run_steps = steps
    if depth > 2:
        learned = _steps_until_learned(start, n, strengths, u0, lr=lr, max_steps=40 * steps)
        run_steps = 40 * steps if learned is None else int(1.2 * learned)
    qs = [V] + [aligned.random_orthogonal(k, rng=rng) for _ in range(depth - 1)] + [U]
    Ws = aligned.aligned_network(qs, list(start))
    res = train(Ws, X, Y, lr=lr, steps=run_steps, record=1, metrics={"sigma": dynamics.basis_metrics(qs)["sigma"]})
    return res.history.metrics["sigma"].prod(axis=1)


def _steps_until_learned(start, n, strengths, u0, *, lr, max_steps, chunk=5000) -> int | None:
    """The first step at which the recursion (6) on whitened data brings every mode product to ``s_j - u0``
    (None if not within ``max_steps``), run in chunks so that memory stays bounded."""
    current, done = start, 0
    while done < max_steps:
        traj = dynamics.singular_value_dynamics(
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
    u0 : ndarray
        (r,), initial mode products
    strengths : ndarray
        (r,)
    lr : float
        > 0
    steps : int
        >= 0.

    Returns
    -------
    ndarray
        (steps + 1, r).

    Raises
    ------
    ValueError
        If ``steps`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1 with d = 2 (Saxe et al. 2014).
    """
    steps = _validate.count(steps, "steps")
    u0, strengths, lr = _saxe_inputs(u0, strengths, lr)
    u = np.empty((steps + 1, *u0.shape))
    u[0] = u0
    for t in range(steps):
        u[t + 1] = u[t] * (1 + lr * (strengths - u[t])) ** 2
    return u


def saxe_closed_form(u0: np.ndarray, strengths: np.ndarray, lr: float, steps: int) -> np.ndarray:
    """Saxe et al.'s solution of ``tau du/dt = 2u(s - u)``, ``tau = 1 / lr``, at ``t = 0..steps``:
    ``u(t) = s e^{2st/tau} / (e^{2st/tau} - 1 + s/u_0)``. Returns (steps + 1, r).

    Parameters
    ----------
    u0 : ndarray
        (r,), the starting mode products, > 0.
    strengths : ndarray
        (r,), the singular values of the target.
    lr : float
        Learning rate, > 0.
    steps : int
        Number of gradient-descent steps, >= 0.

    Returns
    -------
    ndarray
        (steps + 1, r).

    Raises
    ------
    ValueError
        If ``u0`` or ``steps`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1 (sequential learning; Saxe et al. 2014, eq. (7)).
    """
    tt = np.arange(_validate.count(steps, "steps") + 1)[:, None]
    u0, strengths, lr = _saxe_inputs(u0, strengths, lr)
    if np.any(u0 <= 0) or np.any(strengths <= 0):
        raise ValueError("u0 and strengths must be positive (the closed form divides by them)")
    e = np.exp(2 * strengths * tt * lr)
    return strengths * e / (e - 1 + strengths / np.asarray(u0, dtype=np.float64))


def _saxe_inputs(u0, strengths, lr) -> tuple[np.ndarray, np.ndarray, float]:
    u0 = np.asarray(u0, dtype=np.float64)
    if u0.ndim != 1 or len(u0) == 0 or not np.isfinite(u0).all():
        raise ValueError(f"u0 must be a finite non-empty array (r,), got {u0!r}")
    return u0, _validate.vector(strengths, "strengths", len(u0)), _validate.positive(lr, "lr")


def learning_times(u: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The first step at which each mode reaches its target: ``min {t : u[t, j] >= targets[j]}``
    (``len(u)`` where it never does). ``u`` is (T, r), ``targets`` (r,); returns an int array (r,).

    Parameters
    ----------
    u : ndarray
        Unit vector (k_0,), the max-margin direction (Ji & Telgarsky's u-bar).
    targets : ndarray
        (r,), the targets.

    Returns
    -------
    ndarray
        (r,) int.

    Raises
    ------
    ValueError
        If ``u`` or ``targets`` is not valid (the message names the parameter).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.sequential import learning_times
    >>> learning_times(np.array([[0.0, 0.0], [0.5, 0.1], [0.9, 0.2]]), np.array([0.5, 1.0]))
    array([1, 3])
    """
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 2 or 0 in u.shape or not np.isfinite(u).all():
        raise ValueError(f"u must be a finite array (T, r), got shape {u.shape}")
    reached = u >= _validate.vector(targets, "targets", u.shape[1])
    return np.where(reached.any(axis=0), np.argmax(reached, axis=0), len(reached))
