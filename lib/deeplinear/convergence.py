"""Corollary 1's recursion run until it converges, and how fast: the reduced loss and runs, the loss's linear
rate, the edges of stability at an aligned minimum, and the critical learning rate by bisection.

Singular values in the aligned bases are ``(d, r)`` arrays, layer first; ``lam``, ``lam_prime`` are
Corollary 1's diagonals (`deeplinear.dynamics.lambdas`).

Paper: Radhakrishnan et al., Corollary 1 and Proposition 1.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import numpy as np

from . import _validate
from .dynamics import singular_value_dynamics
from .recording import History, TrainingDiverged

__all__ = [
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
]


_WIDEN = 60  # critical_lr halves or doubles at most this often (a factor of 1e18) before giving up


def reduced_loss(traj: np.ndarray, lam: np.ndarray, lam_prime: np.ndarray, n: int) -> np.ndarray:
    """The loss along singular values ``(..., d, r)``: ``sum_j lam_j (p_j - lam'_j / lam_j)^2 / (2n)``,
    ``p_j = prod_i sigma_ij``. This is the squared loss of a strongly aligned network on data whose
    ``Y`` lies in the span of the modes (the planted problem), where the minimum is 0.

    ``traj`` finite, ``lam`` (r,) positive, ``lam_prime`` (r,), ``n >= 1``. Returns an array of shape
    ``traj.shape[:-2]``. Paper: Corollary 1.

    Parameters
    ----------
    traj : ndarray
        (..., d, r), finite singular values (a trajectory, say).
    lam : ndarray
        (r,), ``diag(U^T Y X^T V)[:r]``, the targets of Corollary 1.
    lam_prime : ndarray
        (r,), ``diag(V^T X X^T V)[:r]``, positive.
    n : int
        Number of samples, >= 1.

    Returns
    -------
    ndarray
        Shape ``traj.shape[:-2]``, the loss.

    Raises
    ------
    ValueError
        If ``traj``, ``lam``, ``lam_prime`` or ``n`` is not valid (the message names the parameter).
    """
    traj = np.asarray(traj, dtype=np.float64)
    if traj.ndim < 2 or 0 in traj.shape or not np.isfinite(traj).all():
        raise ValueError(f"traj must be a finite array of shape (..., d, r), got shape {traj.shape}")
    lam = _validate.positive_vector(lam, "lam", traj.shape[-1])
    lam_prime = _validate.vector(lam_prime, "lam_prime", traj.shape[-1])
    return _reduced_loss(traj, lam, lam_prime, _validate.integer(n, "n", 1))


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
    that ends below ``tol`` times the initial loss; a chunk that ends with a loss that is not finite or above
    ``1e8`` times the initial one is a divergence, and raises.

    Parameters
    ----------
    sigmas0 : ndarray
        (d, r); lam, lam_prime : ndarrays (r,), as in `singular_value_dynamics`.
    lam : ndarray
        (r,), ``diag(U^T Y X^T V)[:r]``, the targets of Corollary 1.
    lam_prime : ndarray
        (r,), ``diag(V^T X X^T V)[:r]``, positive.
    lr : float
        > 0
    n : int
        >= 1
    max_steps : int, optional
        >= 0, the most steps to run.
    tol : float, optional
        > 0
    chunk : int, optional
        >= 1, steps per call of the recursion (memory).

    Returns
    -------
    losses : ndarray
        (T,), `reduced_loss` at steps 0..T-1, all finite.
    sigmas : ndarray
        (d, r), the last singular values.

    Raises
    ------
    deeplinear.training.TrainingDiverged
        When the recursion diverges (``lr`` above its stability edge): at the first step of the chunk whose loss
        is not finite or above ``1e8`` times the initial one, with the losses before it as its ``history``.

    References
    ----------
    Paper: Corollary 1, Proposition 1.
    """
    max_steps, chunk = _validate.count(max_steps, "max_steps"), _validate.integer(chunk, "chunk", 1)
    tol = _validate.positive(tol, "tol")
    sigmas0, lam, lam_prime = _validate.mode_values(sigmas0, lam, lam_prime)
    lam, lr, n = (
        _validate.positive_vector(lam, "lam", len(lam)),
        _validate.positive(lr, "lr"),
        _validate.integer(n, "n", 1),
    )
    losses, current, done = [], sigmas0, 0
    with np.errstate(over="ignore", invalid="ignore"):
        L0 = _reduced_loss(sigmas0[None], lam, lam_prime, n)[0]
        if not np.isfinite(L0):
            raise ValueError(f"sigmas0, lam, lam_prime: the initial loss is not finite ({L0!r})")
        L = np.array([L0])
        while done < max_steps:
            traj = singular_value_dynamics(current, lam, lam_prime, lr=lr, steps=min(chunk, max_steps - done), n=n)
            L = _reduced_loss(traj, lam, lam_prime, n)
            new = L if done == 0 else L[1:]  # the losses at steps done (+ 1) .. done + len(traj) - 1
            if not L[-1] <= 1e8 * L0:
                bad = int(np.flatnonzero(~(new <= 1e8 * L0))[0])
                step = done + bad + (0 if done == 0 else 1)
                before = np.concatenate([*losses, new[:bad]])
                raise TrainingDiverged(
                    f"the recursion (6) diverged at step {step}: loss = {new[bad]:.6g} is not finite or above 1e8 "
                    f"times its start, with lr = {lr:.6g}; lower lr (e.g. lr = {lr / 2:.3g})",
                    step=step,
                    loss=float(new[bad]),
                    lr=lr,
                    member=None,
                    history=History(steps=np.arange(len(before)), loss=before, lr=np.full(len(before), lr)),
                )
            losses.append(new)
            current, done = traj[-1], done + len(traj) - 1
            if L[-1] < tol * L0:
                break
    return (np.concatenate(losses) if losses else L), current


def steps_to(losses: np.ndarray, fraction: float) -> int | None:
    """The first step at which ``losses`` is below ``fraction`` times its start (None if never).

    ``losses`` (T,), T >= 1, its first entry finite and > 0; ``fraction`` a finite number >= 0.

    Parameters
    ----------
    losses : ndarray
        (T,), T >= 1, its first entry finite and > 0.
    fraction : float
        Finite, >= 0.

    Returns
    -------
    int or None
        The first step at which ``losses`` is below ``fraction`` times its start (None if never).

    Raises
    ------
    ValueError
        If ``losses`` or ``fraction`` is not valid (the message names the parameter).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.convergence import steps_to
    >>> steps_to(np.array([1.0, 0.5, 0.1, 0.01]), 0.2), steps_to(np.array([1.0, 0.9]), 0.5)
    (2, None)
    """
    losses = _validate.loss_curve(losses)
    fraction = _validate.tolerance(fraction, "fraction")
    hit = np.flatnonzero(losses < fraction * losses[0])
    return int(hit[0]) if len(hit) else None


class LinearFit(NamedTuple):
    """A fit ``ln L = intercept - rate * t`` over the steps ``t`` in ``window`` (r2: its R^2)."""

    #: The fitted rate ``c`` of ``ln L = a - c t``.
    rate: float
    #: The fit's coefficient of determination R^2.
    r2: float
    #: The fitted intercept ``a``.
    intercept: float
    #: The steps ``t`` fitted.
    window: np.ndarray


def linear_fit(losses: np.ndarray, low: float = 1e-12, high: float = 1e-3) -> LinearFit:
    """Linear convergence measured: fit ``ln L = a - c t`` where ``low < L / L_0 < high``.

    Parameters
    ----------
    losses : ndarray
        (T,), the loss at steps 0..T-1.
    low : float, optional
        The window, as fractions of the initial loss.
    high : float, optional
        The window, as fractions of the initial loss.

    Returns
    -------
    LinearFit
        LinearFit (rate c, R^2, intercept a, window steps).

    Raises
    ------
    ValueError
        When fewer than 10 steps lie in the window (a loss that never falls into it, or falls through it
        too fast to fit a line), naming ``losses``.

    References
    ----------
    Paper: Proposition 1 (linear convergence).
    """
    losses = _validate.loss_curve(losses)
    low, high = _validate.tolerance(low, "low"), _validate.tolerance(high, "high")
    if not low < high:
        raise ValueError(f"low and high must satisfy 0 <= low < high, got {low!r} and {high!r}")
    t = np.flatnonzero((losses < high * losses[0]) & (losses > low * losses[0]))
    if len(t) < 10:
        raise ValueError(
            f"losses must lie between low = {low:g} and high = {high:g} times their start at 10 steps or more to "
            f"fit a linear rate; {len(t)} do (the loss ends at {losses[-1] / losses[0]:.3g} of its start)"
        )
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
    sigmas : ndarray
        (d, r), singular values at the minimum
    lam : ndarray
        (r,)
    n : int
        >= 1.

    Returns
    -------
    reduced : float
        The edge over the pairs ``a = b`` (the modes of the recursion (6)).
    full : float
        The edge over all pairs (full gradient descent, which can also leave the aligned set).

    Raises
    ------
    ValueError
        If ``sigmas`` is not valid (the message names the parameter).

    References
    ----------
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
    lam, n = _validate.positive_vector(lam, "lam", sigmas.shape[1]), _validate.integer(n, "n", 1)
    d = len(sigmas)
    g2 = sum(np.outer(np.prod(sigmas[i + 1 :], axis=0), np.prod(sigmas[:i], axis=0)) ** 2 for i in range(d))
    return g2 * lam[None, :] / n


def stability_edge_along(traj: np.ndarray, lam: np.ndarray, n: int, points: int = 64) -> float:
    """The smallest edge over all pairs (`edges_of_stability`, second value) along a trajectory.

    Evaluated at ``points`` log-spaced steps and the last one; 0 where the trajectory is not finite (the
    recursion diverged). A learning rate below it is stable, to first order, at every point the run visits.

    Parameters
    ----------
    traj : ndarray
        (T, d, r), singular values along a run
    lam : ndarray
        (r,)
    n : int
        >= 1.
    points : int, optional
        >= 1.

    Returns
    -------
    float
        The smallest edge over all pairs (`edges_of_stability`, second value) along a trajectory.

    Raises
    ------
    ValueError
        If ``traj`` or ``points`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1 (the book's stability rule for comparing a computer's gradient descent with it).
    """
    traj = np.asarray(traj, dtype=np.float64)
    if traj.ndim != 3 or len(traj) == 0:
        raise ValueError(f"traj must have shape (T, d, r), got {traj.shape}")
    if not np.isfinite(traj).all():
        return 0.0
    at = np.unique(
        np.r_[np.geomspace(1, len(traj), _validate.integer(points, "points", 1)).astype(int) - 1, len(traj) - 1]
    )
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
    sigmas : ndarray
        (d, r), singular values at the minimum
    lam : ndarray
        (r,)
    n : int
        >= 1
    lr : float
        > 0.

    Returns
    -------
    float
        The rate, per step, at which ``ln L`` falls near the aligned minimum ``sigmas`` at learning rate ``lr``.

    Raises
    ------
    ValueError
        If ``lr`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 1 (linear convergence: the rate it ends at).
    """
    c = np.diag(_curvatures(sigmas, lam, n))
    with np.errstate(divide="ignore"):
        rate = float(np.min(-2 * np.log(np.abs(1 - _validate.positive(lr, "lr") * c))))
    if not np.isfinite(rate):
        raise ValueError(f"lr = {lr!r} is 1 / c_j for every mode: the error vanishes in one step, an infinite rate")
    return rate


def decay_rate(losses: np.ndarray, high: float = 1e-6, low: float = 1e-12) -> float:
    """The rate, per step, at which ``ln L`` fell from ``high`` to ``low`` times its start.

    ``(ln L_t1 - ln L_t2) / (t2 - t1)`` with ``t1`` the first step below ``high * L_0`` and ``t2`` the first
    below ``low * L_0`` (the last step if none is). No fit and no window of a minimum length: an average over
    the final stretch of the run.

    Parameters
    ----------
    losses : ndarray
        (T,), the loss at steps 0..T-1; high > low > 0, fractions of the initial loss.
    high : float, optional
        Upper end of the bracket, > low.
    low : float, optional
        Lower end of the bracket, > 0.

    Returns
    -------
    float
        The rate, per step, at which ``ln L`` fell from ``high`` to ``low`` times its start.

    Raises
    ------
    ValueError
        Naming ``losses``, when there is no stretch to average over: the loss never falls below ``high * L_0``,
        or falls below ``low * L_0`` at the same step (or ends there), or is not finite and > 0 at ``t2``.

    References
    ----------
    Paper: Proposition 1 (linear convergence, measured).
    """
    losses = _validate.loss_curve(losses)
    low, high = _validate.tolerance(low, "low"), _validate.tolerance(high, "high")
    if not 0 < low < high:
        raise ValueError(f"high and low must satisfy high > low > 0, got high={high!r}, low={low!r}")
    t1, t2 = steps_to(losses, high), steps_to(losses, low)
    where, t2 = ("end", len(losses) - 1) if t2 is None else ("fall below low", t2)
    if t1 is None:
        raise ValueError(
            f"losses must fall below high = {high:g} times their start to measure a rate; they end at "
            f"{losses[-1] / losses[0]:.3g} of it"
        )
    if t2 <= t1:
        raise ValueError(
            f"losses must take at least one step from high = {high:g} to low = {low:g} times their start (or to "
            f"their end): they fall below high at step {t1} and {where} at step {t2}, no stretch to average over"
        )
    if not (0 < losses[t2] < np.inf):
        raise ValueError(f"losses must stay finite and > 0 up to step {t2}, got {losses[t2]!r}: no finite rate")
    return float(np.log(losses[t1] / losses[t2]) / (t2 - t1))


def critical_lr(converges: Callable[[float], bool], low: float, high: float, iterations: int = 12) -> float:
    """The largest learning rate with ``converges(lr)`` True, by bisection on ``log lr``.

    First widens ``[low, high]`` (halving ``low`` while it fails, doubling ``high`` while it succeeds),
    then bisects ``iterations`` times. Assumes a single threshold (True below, False above).

    Returns the last rate found to converge (the lower end of the final bracket).

    Parameters
    ----------
    converges : callable
        ``converges(lr) -> bool``, True below a single threshold, False above.
    low : float
        Lower end of the bracket, > 0.
    high : float
        Upper end of the bracket, > low.
    iterations : int, optional
        Number of bisection steps, >= 1.

    Returns
    -------
    float
        The largest learning rate with ``converges(lr)`` True, by bisection on ``log lr``.

    Raises
    ------
    ValueError
        If ``iterations``, ``converges``, ``low`` or ``high`` is not valid (the message names the parameter).

    Examples
    --------
    >>> from deeplinear.convergence import critical_lr
    >>> round(float(critical_lr(lambda lr: lr < 0.3, 0.01, 1.0, iterations=20)), 3)
    0.3
    """
    low, high = _validate.positive(low, "low"), _validate.positive(high, "high")
    iterations = _validate.count(iterations, "iterations")
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

    ``lr`` and ``flow_time`` finite and > 0.

    Parameters
    ----------
    lr : float
        Learning rate, > 0.
    flow_time : float
        Gradient-flow time ``lr * steps`` of the trial, > 0.

    Returns
    -------
    int
        The step budget of a trial at ``lr``: ``int(flow_time / lr) + 200`` (a fixed gradient-flow time).

    Raises
    ------
    ValueError
        If ``flow_time`` or ``lr`` is not valid (the message names the parameter).

    Examples
    --------
    >>> from deeplinear.convergence import trial_steps
    >>> trial_steps(0.1, 10.0)  # int(10 / 0.1) + 200
    300
    """
    return int(_validate.positive(flow_time, "flow_time") / _validate.positive(lr, "lr")) + 200


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
    `trial_steps` ``(lr, flow_time)`` steps (False where it diverges). Paper: Proposition 1.

    Parameters
    ----------
    sigmas0 : ndarray
        (d, r), initial singular values in the aligned basis.
    lam : ndarray
        (r,), ``diag(U^T Y X^T V)[:r]``, the targets of Corollary 1.
    lam_prime : ndarray
        (r,), ``diag(V^T X X^T V)[:r]``, positive.
    n : int
        Number of samples, >= 1.
    lr : float
        Learning rate, > 0.
    flow_time : float
        Gradient-flow time ``lr * steps`` of the trial, > 0.
    tol : float, optional
        Tolerance, > 0.

    Returns
    -------
    bool
        Whether the loss fell below ``tol`` times its start (False where it diverged).

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    try:
        L = reduced_run(sigmas0, lam, lam_prime, lr=lr, n=n, max_steps=trial_steps(lr, flow_time), tol=tol)[0]
    except TrainingDiverged:
        return False
    return bool(L[-1] < tol * L[0])


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

    Parameters
    ----------
    sigmas0 : ndarray
        (d, r), initial singular values in the aligned basis.
    lam : ndarray
        (r,), ``diag(U^T Y X^T V)[:r]``, the targets of Corollary 1.
    lam_prime : ndarray
        (r,), ``diag(V^T X X^T V)[:r]``, positive.
    n : int
        Number of samples, >= 1.
    flow_time : float
        Gradient-flow time ``lr * steps`` of the trial, > 0.
    low : float
        Lower end of the bracket, > 0.
    high : float
        Upper end of the bracket, > low.
    iterations : int, optional
        Number of bisection steps, >= 1.

    Returns
    -------
    float
        The empirical critical learning rate of the recursion (6): `critical_lr` of `reduced_converges`.

    Raises
    ------
    ValueError
        If ``sigmas0``, ``lam``, ``flow_time`` or ``lam_prime`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 1 (how conservative its learning rate is).
    """
    sigmas0, lam, lam_prime = _validate.mode_values(sigmas0, lam, lam_prime)
    if np.any(sigmas0 <= 0):
        raise ValueError("sigmas0 must be positive: from a zero singular value the recursion (6) does not move")
    lam, lam_prime = (
        _validate.positive_vector(lam, "lam", len(lam)),
        _validate.positive_vector(lam_prime, "lam_prime", len(lam)),
    )
    _validate.positive(flow_time, "flow_time")
    converges = partial(reduced_converges, sigmas0, lam, lam_prime, n, flow_time=flow_time)
    return critical_lr(converges, low, high, iterations)
