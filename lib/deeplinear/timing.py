"""Wall-clock timers: what the chapters' reduced computations save over full gradient descent.

Not a result of the papers: the seconds vary from run to run and from machine to machine, so the tests check
only that the timers run, never a time (benchmarks/speed.py prints the times side by side, as ratios).
`full_vs_recursion` times full gradient descent against Corollary 1's singular-value recursion (chapter 04),
`full_vs_small_network` the full network against the small network of chapter 08's lemma
(`deeplinear.reduction`). Both return seconds per step, the full computation's first.

Paper: Radhakrishnan et al., Corollary 1 (what the recursion saves) and Section 6, Figures 1b and 1c (what the
lemma saves on the MNIST network).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from . import _validate, aligned, theory
from .dynamics import lambdas, planted_problem, singular_value_dynamics
from .figure1 import Loss, Rate, train_reduced
from .reduction import Reduction, _reduction
from .training import TrainingDiverged, train

__all__ = ["full_vs_recursion", "full_vs_small_network"]


def _per_step(fn: Callable[[], int], repeats: int) -> float:
    """The best, over ``repeats`` calls of ``fn`` (which returns the steps it made), of its seconds per step."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        count = fn()
        best = min(best, (time.perf_counter() - start) / count)
    return best


def full_vs_recursion(
    k: int,
    depth: int,
    *,
    full_steps: int,
    reduced_steps: int = 2000,
    repeats: int = 3,
    rng: int | np.random.Generator | None = None,
) -> tuple[float, float]:
    """Seconds per step of full gradient descent and of Corollary 1's recursion (6), best of ``repeats``.

    On a `deeplinear.dynamics.planted_problem` with ``n = k`` (variances and strengths uniform on [0.5, 2]),
    from an aligned start with singular values uniform on [0.3, 0.6] and learning rate 1e-3.

    Parameters
    ----------
    k : int
        >= 1, the width of every layer
    depth : int
        >= 1, the number of layers d.
    full_steps : int
        >= 1, the steps of full gradient descent timed
    reduced_steps : int >= 1, those of the
        recursion (`deeplinear.dynamics.singular_value_dynamics`); repeats : int >= 1.
    repeats : int, optional
        Timings taken, the best kept, >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple
        (full, recursion) seconds per step.

    Raises
    ------
    ValueError
        If ``repeats``, ``rng``, ``depth``, ``full_steps`` or ``reduced_steps`` is not valid (the message names the
        parameter).

    References
    ----------
    Paper: Corollary 1 (what the recursion saves).

    Examples
    --------
    >>> from deeplinear.timing import full_vs_recursion
    >>> full, reduced = full_vs_recursion(3, 2, full_steps=5, reduced_steps=5, repeats=1, rng=0)
    >>> full > 0 and reduced > 0  # seconds per step; their values depend on the machine
    True
    """
    rng, depth = _validate.rng(rng), _validate.integer(depth, "depth", 1)
    full_steps, reduced_steps = (
        _validate.integer(full_steps, "full_steps", 1),
        _validate.integer(reduced_steps, "reduced_steps", 1),
    )
    repeats = _validate.integer(repeats, "repeats", 1)
    variances, strengths = rng.uniform(0.5, 2.0, k), rng.uniform(0.5, 2.0, k)
    X, Y, _, _ = planted_problem(k, k, variances=variances, strengths=strengths, rng=rng)
    U, V = theory.alignment_invariant_witness(X, Y)
    lam, lam_prime = lambdas(X, Y, U, V)
    s0 = rng.uniform(0.3, 0.6, (depth, k))
    inner = [aligned.random_orthogonal(k, rng=rng) for _ in range(depth - 1)]
    Ws = aligned.aligned_network([V, *inner, U], list(s0))

    def full() -> int:
        train(Ws, X, Y, lr=1e-3, steps=full_steps, record=[full_steps], progress=False)
        return full_steps

    def recursion() -> int:
        singular_value_dynamics(s0, lam, lam_prime, lr=1e-3, steps=reduced_steps, n=k)
        return reduced_steps

    return _per_step(full, repeats), _per_step(recursion, repeats)


def full_vs_small_network(
    red: Reduction, X: np.ndarray, Y: np.ndarray, *, lr: Rate, loss: Loss = "squared", steps: tuple[int, int] = (10, 50)
) -> tuple[float, float]:
    """Seconds per gradient step of the full start ``red.start`` (`deeplinear.train`) and of the lemma's small
    network (`deeplinear.figure1.train_reduced`, recording no scores).

    Parameters
    ----------
    red : Reduction
        `deeplinear.reduction.reduce_network` of a start and ``X``
    X : ndarray
        (k_0, n)
    Y : ndarray
        Targets (k_d, n).
    lr : Rate
        As in `deeplinear.train`.
    loss : Loss, optional
        As in `deeplinear.train`.
    steps : tuple, optional
        (full, small), the number of steps to time on each (the full network's are the slow ones). A run
        that diverges is timed over the steps it made.

    Returns
    -------
    tuple
        (full, small) seconds per step.

    Raises
    ------
    ValueError
        If ``steps`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6, Figures 1b and 1c (what the lemma saves).
    """
    red = _reduction(red)
    if not (isinstance(steps, (tuple, list)) and len(steps) == 2):
        raise ValueError(f"steps must be a pair (full, small) of positive integers, got {steps!r}")
    steps = (_validate.integer(steps[0], "steps[0]"), _validate.integer(steps[1], "steps[1]"))
    out = []
    quiet = {"lr": lr, "loss": loss, "progress": False}
    for k, run in (
        (steps[0], lambda: train(red.start, X, Y, steps=steps[0], record=[steps[0]], **quiet)),
        (steps[1], lambda: train_reduced(red, Y, steps=steps[1], record=[steps[1]], record_metrics=[], **quiet)),
    ):
        start = time.perf_counter()
        try:
            run()
        except TrainingDiverged as err:  # a learning rate above the stability edge: time the steps made
            k = max(int(err.step), 1)
        out.append((time.perf_counter() - start) / k)
    return out[0], out[1]
