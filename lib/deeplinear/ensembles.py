"""Theorem 1 over many problems at once: ensembles of its runs, and other families of aligned starts.

`ensemble_start` and `ensemble_run` stack many problems of one kind, each started as `deeplinear.invariance`
starts a single run (`deeplinear.invariance.witness_start`, `deeplinear.invariance.sensing_start`) or, on random
data, as the released code does; `sweep` runs every kind of problem, each as one ensemble. `family_runs` trains
other families of aligned starts on the same data, measured by `deeplinear.invariance.turn_share`.

Paper: Radhakrishnan et al., Theorem 1, Section 4.2 (the classes of problems) and Section 6 (Figure 1a).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _validate, aligned, theory
from .invariance import sensing_start, turn_share, witness_start
from .losses import MatrixSensing
from .modes import train_halving

__all__ = ["ensemble_start", "ensemble_run", "sweep", "family_runs"]


def ensemble_start(
    problems: Sequence[Any], widths: Sequence[int], *, lr: float, rng: int | np.random.Generator | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """One aligned start per problem, stacked (`deeplinear.network.stack`), with each member's learning rate:
    `deeplinear.invariance.witness_start` for regression data ``(X, Y)`` that satisfy Theorem 1's condition,
    `deeplinear.invariance.sensing_start` for a `deeplinear.data.SensingProblem`, and otherwise (random data) the
    released code's start (`deeplinear.theory.aligned_start_on` with ``outer="svd"``) at ``lr``.

    Parameters
    ----------
    problems : sequence of object
        Sequence of S pairs ``(X, Y)`` or of S sensing problems
    widths : sequence of int
        [k_0, ..., k_d].
    lr : float
        > 0, the largest rate.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple
        (Ws, rates) : the stacked network, layers (S, k_i, k_{i-1}), and the rates, ndarray (S,).

    Raises
    ------
    ValueError
        If ``rng`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1, Section 4.2; Section 6, Figure 1a.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.data import random_regression
    >>> from deeplinear.ensembles import ensemble_start
    >>> problems = [random_regression(3, 5, rng=s) for s in range(2)]
    >>> Ws, lrs = ensemble_start(problems, [3, 3, 3], lr=0.01, rng=0)
    >>> [W.shape for W in Ws], lrs.shape
    ([(2, 3, 3), (2, 3, 3)], (2,))
    """
    rng = _validate.rng(rng)
    from .network import stack

    starts, rates = [], []
    for p in problems:
        if hasattr(p, "M"):
            s = sensing_start(p.M, p.y, widths, lr=lr, rng=rng)
        elif theory.alignment_invariant(*p):
            s = witness_start(*p, widths, lr=lr, rng=rng)
        else:
            starts.append(theory.aligned_start_on(*p, widths, outer="svd", rng=rng))
            rates.append(float(lr))
            continue
        starts.append(s.Ws)
        rates.append(s.lr)
    return stack(starts), np.array(rates)


def ensemble_run(
    problems: Sequence[Any],
    widths: Sequence[int],
    *,
    lr: float,
    steps: int,
    rng: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Many problems of one kind at once: `ensemble_start`, then `deeplinear.modes.train_halving` (each
    member at its own rate; matrix sensing with `deeplinear.losses.MatrixSensing` per member).

    Parameters
    ----------
    problems : sequence of object
        Sequence of S pairs ``(X, Y)`` of equal shapes, or of S sensing problems.
    widths : sequence of int
        [k_0, ..., k_d]
    lr : float
        > 0, the largest rate
    steps : int
        Number of gradient-descent steps, >= 0.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple
        (invariance, ratio) : ndarrays (S,), each member's final invariance of its worst layer and its final
        loss over its initial loss.

    Raises
    ------
    ValueError
        If ``rng`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1, Section 4.2; Section 6, Figure 1a.
    """
    rng = _validate.rng(rng)
    Ws, rates = ensemble_start(problems, widths, lr=lr, rng=rng)
    if hasattr(problems[0], "M"):
        args: tuple = (None, None)
        loss: Any = MatrixSensing([p.M for p in problems], [p.y for p in problems])
    else:
        args, loss = tuple(np.stack(a) for a in zip(*problems)), "squared"
    result, _ = train_halving(Ws, *args, lr=rates, steps=steps, loss=loss, metrics=("invariance",))
    history = result.history
    return history.metrics["invariance"][-1].min(axis=1), history.loss[-1] / history.loss[0]


def sweep(
    k: int,
    n: int,
    widths: Sequence[int],
    *,
    members: int,
    lr: float,
    steps: int,
    max_condition: float | None = None,
    rng: int | np.random.Generator | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Many problems of every kind, each kind as one ensemble (`ensemble_run`): for each kind of
    `deeplinear.data.REGRESSION_KINDS` in turn, ``members`` problems (`deeplinear.data.regression_problem`,
    with ``max_condition``) and their run; then ``members`` matrix sensing problems with ``M_i = U Lambda_i
    V^T`` (`deeplinear.data.matrix_sensing`) and theirs.

    Parameters
    ----------
    k : int
        The width of the data
    n : int
        >= k, the samples
    widths : sequence of int
        [k, ..., k].
    members : int
        >= 1
    lr : float
        > 0, the largest rate
    steps : int
        Number of gradient-descent steps, >= 0.
    max_condition : float or None, optional
        Float or None.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple
        (invariance, ratio) : dicts kind -> ndarray (members,) (the kinds, then "sensing"), as `ensemble_run`
        returns them.

    Raises
    ------
    ValueError
        If ``rng`` or ``members`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1, Section 4.2; Section 6, Figure 1a.
    """
    rng = _validate.rng(rng)
    from .data import REGRESSION_KINDS, matrix_sensing, regression_problem

    members = _validate.integer(members, "members", 1)
    invariance, ratio = {}, {}
    for kind in (*REGRESSION_KINDS, "sensing"):
        if kind == "sensing":
            problems: list[Any] = [matrix_sensing(k, n, rng=rng) for _ in range(members)]
        else:
            problems = [regression_problem(kind, k, n, max_condition=max_condition, rng=rng) for _ in range(members)]
        invariance[kind], ratio[kind] = ensemble_run(problems, widths, lr=lr, steps=steps, rng=rng)
    return invariance, ratio


def family_runs(
    X: np.ndarray,
    Y: np.ndarray,
    widths: Sequence[int],
    *,
    lr: float,
    steps: int,
    members: int = 4,
    rng: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Aligned starts of three other families than Figure 1a's on the same data, ``members`` of each, trained
    by `deeplinear.modes.train_halving`: the released code's (outer bases the left singular vectors of ``X`` and ``Y``,
    singular values uniform on [0, 1)), random outer bases (Haar, drawn first; singular values on
    [0.5, 1)), and small singular values (on [0.1, 0.5), the released code's bases).

    Parameters
    ----------
    X : ndarray
        (k_0, n)
    Y : ndarray
        (k_d, n)
    widths : sequence of int
        [k_0, ..., k_d].
    lr : float
        > 0, the largest rate
    steps : int
        Number of gradient-descent steps, >= 0.
    members : int, optional
        >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple
        (kept, turned) : ndarrays (3,), per family the largest final invariance of a member's worst layer and
        the smallest `deeplinear.invariance.turn_share` of a member.

    Raises
    ------
    ValueError
        If ``rng``, ``X`` or ``Y`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1 ("only if": from any aligned start); Section 6 and the released code (its start).
    """
    rng = _validate.rng(rng)
    from .network import stack

    V_svd, U_svd = np.linalg.svd(_validate.matrix(X, "X"))[0], np.linalg.svd(_validate.matrix(Y, "Y"))[0]
    V_rand, U_rand = aligned.random_orthogonal(len(V_svd), rng=rng), aligned.random_orthogonal(len(U_svd), rng=rng)
    kept, turned = [], []
    for V, U, low, high in ((V_svd, U_svd, 0.0, 1.0), (V_rand, U_rand, 0.5, 1.0), (V_svd, U_svd, 0.1, 0.5)):
        starts = [aligned.aligned_start(V, U, widths, low=low, high=high, rng=rng) for _ in range(members)]
        result, _ = train_halving(stack(starts), X, Y, lr=lr, steps=steps, metrics=("invariance",))
        kept.append(result.history.metrics["invariance"][-1].min(axis=-1).max())
        turned.append(turn_share(result.initial_weights, result.weights).min())
    return np.array(kept), np.array(turned)
