"""Proposition 1 measured: its learning rate, what the recursion (6) does at it (by depth, over random
instances), and the scan of full gradient descent from a misaligned start for the critical rate.

Paper: Radhakrishnan et al., Proposition 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from . import _validate
from .convergence import edges_of_stability, linear_fit, reduced_critical_lr, reduced_run, steps_to, trial_steps
from .dynamics import _off_diagonal_in, lambdas, planted_problem
from .training import TrainingDiverged, train

__all__ = [
    "prop1_learning_rate",
    "proposition1_summary",
    "proposition1_by_depth",
    "proposition1_over_instances",
    "misaligned",
    "StabilityScan",
    "stability_scan",
]


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

    Returns a dict: ``"bound"`` (`prop1_learning_rate`), ``"steps"`` (steps to reduce the
    loss by 1e10 at the bound), ``"rate"`` (the fitted linear rate at the bound, `linear_fit`),
    ``"critical"`` (`reduced_critical_lr`, bracketed around the edge over the modes, with a flow time of
    5 times what the run at the bound needed to reach 1e-12), ``"edge"`` and ``"edge_transverse"``
    (`edges_of_stability` at the minimum the run at the bound reached).

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
    iterations : int, optional
        Number of bisection steps, >= 1.
    max_steps : int, optional
        Most steps of a run of the recursion.

    Returns
    -------
    dict
        ``"bound"``, ``"steps"``, ``"rate"``, ``"critical"``, ``"edge"`` and ``"edge_transverse"``, as above.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 1.
    """
    bound = prop1_learning_rate(sigmas0, lam, lam_prime, n)
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
    depths : sequence of int
        The depths, each at most ``len(sigmas0)``.
    **kwargs : object
        Passed on to `deeplinear.train`.

    Returns
    -------
    dict
        Arrays (D,): ``"depth"`` and the keys of `proposition1_summary`.

    Raises
    ------
    ValueError
        If ``depths`` is not valid (the message names the parameter).

    References
    ----------
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
    instances: int = 3,
    depth: int = 3,
    rng: int | np.random.Generator | None = None,
    **kwargs: Any,
) -> dict[str, np.ndarray]:
    """`proposition1_summary` on ``instances`` planted problems, each from every range of initial values.

    For each instance, draws variances and strengths uniform on [0.5, 2] (as chapter 04 does), then
    `planted_problem` (whose ``U``, ``V`` give ``lam``, ``lam'``); then, for each ``(low, high)`` in
    ``init_ranges``, initial singular values uniform on it, shape ``(depth, k)``, redrawn (up to 100
    times) while they violate Proposition 1's hypothesis ``prod_i sigma_k < lam'_k / lam_k``.

    Parameters
    ----------
    k : int
        Ints, ``n >= k >= 1``
    n : int
        Ints, ``n >= k >= 1``
    init_ranges : sequence of tuple, optional
        Sequence of ``(low, high)`` with ``0 < low <= high``.
    instances : int, optional
        Number of planted problems, >= 1.
    depth : int, optional
        Depth (number of layers), >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`). instances, depth : ints >= 1.
    **kwargs : object
        Passed to `proposition1_summary`.

    Returns
    -------
    dict
        Dict of arrays (instances, len(init_ranges)): the keys of `proposition1_summary`, ``"factor"``
        (``critical / bound``: how conservative the bound is) and ``"window"``
        (``1 - edge_transverse / edge``: the predicted relative width of the rates at which the recursion
        converges but the aligned set is unstable for full gradient descent; 0 when the stiffest direction
        is a mode).

    Raises
    ------
    ValueError
        If ``rng``, ``init_ranges``, ``instances`` or ``depth`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 1 (the book's measurement of its margin).
    """
    rng = _validate.rng(rng)
    instances, depth = _validate.integer(instances, "instances", 1), _validate.integer(depth, "depth", 1)
    ranges = np.asarray(init_ranges, dtype=np.float64)
    if ranges.ndim != 2 or ranges.shape[1] != 2 or len(ranges) == 0 or np.any(ranges[:, 0] <= 0):
        raise ValueError(f"init_ranges must be pairs (low, high) with 0 < low <= high, got {init_ranges!r}")
    if np.any(ranges[:, 1] < ranges[:, 0]):
        raise ValueError(f"init_ranges must be pairs (low, high) with 0 < low <= high, got {init_ranges!r}")
    rows: list[dict[str, float]] = []
    for _ in range(instances):
        X, Y, U, V = planted_problem(k, n, *rng.uniform(0.5, 2.0, (2, k)), rng=rng)
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
    Ws: Sequence[np.ndarray], bases: Sequence[np.ndarray], size: float, *, rng: int | np.random.Generator | None = None
) -> list[np.ndarray]:
    """A deliberate misalignment: ``W_i + size * Q_i K_i Q_{i-1}^T`` with Gaussian off-diagonal ``K_i``
    scaled to largest entry 1, so that `off_diagonal` grows by ``size`` (``K_i`` drawn layer by layer).

    Parameters
    ----------
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).
    bases : sequence of ndarray
        List of d + 1 orthonormal arrays ``Q_i`` (k_i, k_i), i = 0..d.
    size : float
        Size of the misalignment, >= 0.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    list of ndarray
        The misaligned layers.

    Raises
    ------
    ValueError
        If ``rng``, ``Ws``, ``bases`` or ``size`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Corollary 1 (leaving the aligned set on purpose, to test its stability).
    """
    rng = _validate.rng(rng)
    Ws, bases = _validate.network_and_bases(Ws, bases)
    size = _validate.positive(size, "size")
    out = []
    for i, W in enumerate(Ws):
        K = rng.standard_normal(np.shape(W)) * (1 - np.eye(*np.shape(W)))
        out.append(W + size * bases[i + 1] @ (K / np.abs(K).max()) @ bases[i].T)
    return out


@dataclass(frozen=True)
class StabilityScan:
    """What `stability_scan` found at each rate: ``rates`` (R,), ``converged`` (R,) bool (loss below tol
    times its start, misalignment below ``kicks_allowed`` times ``allowed_from``, and no divergence), ``off``
    (R,) the final largest off-diagonal entry, ``kick`` the start's, ``reference`` the one a run at a small
    reference rate ended with, ``diverged`` (R,) bool, where training diverged (None: nowhere), and
    ``reference_diverged``, whether the reference run did. A run that diverged has no final entry: ``off`` (or
    ``reference``) then holds its last record before the divergence, the start's ``kick``. ``allowed_from`` is
    the larger of ``kick`` and ``reference``.

    Attributes
    ----------
    rates : ndarray
        (R,), the rates scanned.
    converged : ndarray
        (R,) bool: loss below tol times its start, misalignment within bounds, no divergence.
    off : ndarray
        (R,), the final largest off-diagonal entry.
    kick : float
        The start's largest off-diagonal entry.
    reference : float
        The one a run at a small reference rate ended with.
    diverged : ndarray or None
        (R,) bool, where training diverged (None: nowhere).
    reference_diverged : bool
        Whether the reference run diverged.
    """

    rates: np.ndarray
    converged: np.ndarray
    off: np.ndarray
    kick: float
    reference: float = 0.0
    diverged: np.ndarray | None = None
    reference_diverged: bool = False

    def __post_init__(self) -> None:
        if self.diverged is None:
            object.__setattr__(self, "diverged", np.zeros(np.shape(self.rates), dtype=bool))

    @property
    def allowed_from(self) -> float:
        """What the misalignment is compared with: the start's, or more where a small rate ends with more (the
        start's alone where the reference run diverged)."""
        if self.reference_diverged or not np.isfinite(self.reference):
            return self.kick
        return max(self.kick, self.reference)

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
        ((0, 0) when nothing was `found`).

        Parameters
        ----------
        upper : float
            Upper end (excluded).

        Returns
        -------
        tuple
            ``(failures, rates)``.
        """
        window = (self.rates > self.critical) & (self.rates < upper)
        return int((~self.converged[window]).sum()), int(window.sum())


def _trial(Ws, X, Y, lr: float, flow_time: float, off_fn, tol: float) -> tuple[bool, float, bool]:
    """Full gradient descent at ``lr`` for `trial_steps`: (whether the loss ended below ``tol`` times its start,
    the final largest off-diagonal entry, whether it diverged; a run that diverged keeps the start's entry)."""
    budget = trial_steps(lr, flow_time)
    try:
        res = train(Ws, X, Y, lr=float(lr), steps=budget, record=[0, budget], metrics={"off": off_fn})
    except TrainingDiverged:
        return False, float(off_fn(Ws)), True
    loss = res.history.loss
    return bool(loss[-1] < tol * loss[0]), float(res.history.metrics["off"][-1]), False


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
    Ws : sequence of ndarray
        List of d arrays, the start; X, Y : the data
    X : ndarray
        Inputs (k_0, n), samples as columns (None: the identity, where allowed).
    Y : ndarray
        Targets (k_d, n), samples as columns.
    bases : sequence of ndarray
        The aligned bases (d + 1 orthonormal arrays).
    rates : ndarray
        (R,) of learning rates, increasing
    flow_time : float
        > 0 (`trial_steps`).
    kicks_allowed : float, optional
        > 1
    tol : float, optional
        > 0
    reference_rate : float or None, optional
        > 0 or None.

    Returns
    -------
    StabilityScan
        `StabilityScan`.

    Raises
    ------
    ValueError
        If ``Ws``, ``bases``, ``flow_time``, ``rates`` or ``reference_rate`` is not valid (the message names the
        parameter).

    References
    ----------
    Paper: Corollary 1 and Proposition 1 (the book's critical rate of full gradient descent).
    """
    _, checked = _validate.network_and_bases(Ws, bases)
    _validate.positive(flow_time, "flow_time")
    off_fn = partial(_off_diagonal_in, checked)
    kick = off_fn(Ws)
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 1 or len(rates) == 0 or not np.all((rates > 0) & np.isfinite(rates)):
        raise ValueError(f"rates must be a non-empty 1-d array of positive learning rates, got {rates!r}")
    reference_rate = (
        0.5 * rates.min() if reference_rate is None else _validate.positive(reference_rate, "reference_rate")
    )
    _, reference, reference_diverged = _trial(Ws, X, Y, reference_rate, flow_time, off_fn, tol)
    none = np.zeros(len(rates), dtype=bool)
    scan = StabilityScan(rates, none.copy(), np.full(len(rates), kick), kick, reference, none, reference_diverged)
    for j, lr in enumerate(rates):
        fell, scan.off[j], scan.diverged[j] = _trial(Ws, X, Y, lr, flow_time, off_fn, tol)
        scan.converged[j] = bool(fell and scan.off[j] < kicks_allowed * scan.allowed_from)
    return scan


def prop1_learning_rate(sigmas0: np.ndarray, lam: np.ndarray, lam_prime: np.ndarray, n: int) -> float:
    """Proposition 1's learning rate ``(n ln 2 / d) * min sigma_k(W_i^(0))^2 lam_k / lam'_k^2``.

    The statement leaves the layer index ``i`` free; we take the minimum over layers ``i`` and
    modes ``k`` (the conservative reading).

    Parameters
    ----------
    sigmas0 : ndarray
        (d, r), initial singular values in the aligned basis.
    lam : ndarray
        (r,), ``diag(V^T X X^T V)[:r]``, positive.
    lam_prime : ndarray
        (r,), ``diag(U^T Y X^T V)[:r]``.
    n : int
        >= 1, number of samples.

    Returns
    -------
    float
        The largest learning rate the proposition allows.

    Raises
    ------
    ValueError
        When a hypothesis fails: some ``sigma_k(W_i^(0)) <= 0``, some ``lam_k <= 0``, or
        ``prod_i sigma_k(W_i^(0)) >= lam'_k / lam_k`` for some ``k``.

    References
    ----------
    Paper: Proposition 1.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.proposition1 import prop1_learning_rate
    >>> round(prop1_learning_rate(np.full((2, 1), 0.5), np.array([1.0]), np.array([1.0]), 1), 6)  # ln 2 / 2 * 0.25
    0.086643
    """
    s, lam, lam_prime = _validate.mode_values(sigmas0, lam, lam_prime)
    n = _validate.integer(n, "n", 1)
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
