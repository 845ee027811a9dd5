"""Theorem 1 at its boundaries (chapter 03): two layers, and layers with zero singular values.

`one_step_turns` measures why the theorem's "only if" assumes ``d >= 3``: one gradient step from an
aligned network turns the bases Definition 3 pins at first order in the learning rate for three layers,
but, for two, only where ``D`` of equation (4) has a symmetric off-diagonal part. `rank_one_problem` builds
rank-one aligned layers that gradient descent keeps rank-one on data that fail the condition (the boundary
case of the "only if"), `rank_one_run` trains them at the rate of their width-one reduction
(`rank_one_reduction`), and `outer_turns` measures how far ``V_1`` and ``U_d`` turn, which alignment
allows and strong alignment does not.

Paper: Radhakrishnan et al., Definition 3 and Theorem 1 (its statement and its proof sketch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _validate, aligned, theory
from .invariance import AlignedRun
from .modes import orders, stable_lr, train_halving
from .training import train

__all__ = ["one_step_turns", "outer_turns", "rank_one_problem", "rank_one_reduction", "rank_one_run"]

#: The cases of `one_step_turns`, in the order it returns them.
CASES = ("d = 2, antisymmetric D", "d = 2, symmetric D", "d = 3, antisymmetric D")


def one_step_turns(
    k: int, n: int, rates: Sequence[float], *, rng: int | np.random.Generator | None = None
) -> tuple[dict[str, np.ndarray], dict[str, float], bool]:
    """How far one gradient step of each size in ``rates`` turns the bases that Definition 3 pins
    (`deeplinear.theory.one_step_rotation`), for aligned networks on data whose matrix ``D`` of equation (4)
    has a chosen off-diagonal part, and the log-log slope of each (1: first order in the rate; 2: second).

    A balanced two-layer network ``W_i = Q_i diag(s) Q_{i-1}^T`` with ``s`` spread evenly over [1, 0.5]
    (the pinned Gram matrices' off-diagonal part, which is measured, is a turn times a gap between
    singular values, so nearly equal ones would hide a turn), and a three-layer one with the same
    end-to-end matrix and outer bases (singular values ``s^(2/3)``); standard normal ``X (k, n)``; ``D`` a
    standard normal diagonal plus the off-diagonal part of ``G - G^T`` (antisymmetric) or ``G + G^T``
    (symmetric), ``G`` standard normal, scaled to entries of root mean square 1; targets
    `deeplinear.theory.targets_for_residual` of the two-layer network with ``n D``, so that the gradient
    ``(1/n) (Y - f(X)) X^T`` has the same size at every ``n``. The three-layer network sees the
    antisymmetric targets. Drawn in this order: ``Q_0``, ``Q_d``, the inner basis of the two-layer
    network, the two of the three-layer one, X, G, the two diagonals.

    Parameters
    ----------
    k : int
        >= 2, every width
    n : int
        >= k, the samples.
    rates : sequence of float
        Sequence of at least 2 positive step sizes.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple
        (rotation, slopes, holds) : dict case -> ndarray (len(rates),) (cases `CASES`), dict case -> the slope of
        a least-squares line through (log rate, log rotation), and whether the antisymmetric data satisfy
        Theorem 1's condition (`deeplinear.theory.alignment_invariant`).

    Raises
    ------
    ValueError
        If ``rng``, ``n``, ``rates`` or ``k`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1 and its proof, eq. (4) (why its "only if" assumes d >= 3).
    """
    rng = _validate.rng(rng)
    k, n = _validate.integer(k, "k", 2), _validate.integer(n, "n", 1)
    if n < k:
        raise ValueError(f"n must be at least k = {k}, got {n}")
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 1 or len(rates) < 2 or not (rates > 0).all():
        raise ValueError(f"rates must be at least 2 positive step sizes, got {rates!r}")
    s = np.linspace(1.0, 0.5, k)
    V0, U0 = aligned.random_orthogonal(k, rng=rng), aligned.random_orthogonal(k, rng=rng)
    bases2 = [V0, aligned.random_orthogonal(k, rng=rng), U0]
    bases3 = [V0, aligned.random_orthogonal(k, rng=rng), aligned.random_orthogonal(k, rng=rng), U0]
    net2, net3 = aligned.aligned_network(bases2, [s, s]), aligned.aligned_network(bases3, [s ** (2 / 3)] * 3)
    X, G = rng.standard_normal((k, n)), rng.standard_normal((k, k))
    Y = {}
    for label, off in (("antisymmetric", G - G.T), ("symmetric", G + G.T)):
        off = off - np.diag(np.diag(off))
        D = np.diag(rng.standard_normal(k)) + off * np.sqrt(k * (k - 1)) / np.linalg.norm(off)
        Y[label] = theory.targets_for_residual(net2, X, U0, n * D, V0)
    cases = zip(
        CASES, ((net2, Y["antisymmetric"], bases2), (net2, Y["symmetric"], bases2), (net3, Y["antisymmetric"], bases3))
    )
    rotation = {c: theory.one_step_rotation(W, X, T, b, range(1, len(W)), rates) for c, (W, T, b) in cases}
    slopes = {c: float(np.polyfit(np.log(rates), np.log(r), 1)[0]) for c, r in rotation.items()}
    return rotation, slopes, theory.alignment_invariant(X, Y["antisymmetric"])


def rank_one_problem(
    k: int, n: int, d: int, *, rng: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Data that fail Theorem 1's condition and a rank-one aligned start that gradient descent keeps
    rank-one: the boundary case of its "only if".

    ``X = Q diag(sqrt(n v)) R^T`` (``Q`` Haar, ``R`` the first k columns of a Haar (n, n) matrix, ``v``
    uniform on [0.5, 2], so ``X X^T = Q diag(n v) Q^T`` is well conditioned), ``Y = a b^T X`` with unit
    ``a, b`` (standard normal, normalised): ``X X^T`` and ``X Y^T Y X^T`` commute only if ``b`` is an
    eigenvector of ``X X^T``. The chain ``W_1 = s_1 q_1 b^T``, ``W_i = s_i q_i q_{i-1}^T`` (1 < i < d),
    ``W_d = s_d a q_{d-1}^T``, ``s_i`` uniform on [0.5, 1) and ``q_i`` unit (first columns of Haar matrices),
    starts along the target's vectors (from random outer vectors, the large early residual can amplify
    rounding errors out of the rank-one form). Drawn in this order: Q, R, v, a, b, the q_i, the s_i.

    Parameters
    ----------
    k : int
        >= 2
    n : int
        >= k
    d : int
        >= 2
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    X : ndarray
        (k, n);  Y : ndarray (k, n);  q : list of d - 1 unit vectors (k,);  Ws : list of d arrays (k, k).

    Raises
    ------
    ValueError
        If ``rng``, ``n``, ``k`` or ``d`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 1 and Definition 3 with zero singular values (the book's boundary case).
    """
    rng = _validate.rng(rng)
    k, n, d = _validate.integer(k, "k", 2), _validate.integer(n, "n", 1), _validate.integer(d, "d", 2)
    if n < k:
        raise ValueError(f"n must be at least k = {k}, got {n}")
    Q, R = aligned.random_orthogonal(k, rng=rng), aligned.random_orthogonal(n, rng=rng)[:, :k]
    X = (Q * np.sqrt(n * rng.uniform(0.5, 2.0, k))) @ R.T
    a, b = (v / np.linalg.norm(v) for v in rng.standard_normal((2, k)))
    q = [aligned.random_orthogonal(k, rng=rng)[:, 0] for _ in range(d - 1)]
    s = rng.uniform(0.5, 1.0, d)
    Ws = [s[0] * np.outer(q[0], b)] + [s[i] * np.outer(q[i], q[i - 1]) for i in range(1, d - 1)]
    return X, np.outer(a, b) @ X, q, Ws + [s[-1] * np.outer(a, q[-1])]


def rank_one_reduction(
    Ws: Sequence[np.ndarray], q: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray, *, lr: float
) -> tuple[list[np.ndarray], float, float]:
    """The width-one reduction of a rank-one chain (`rank_one_problem`),
    ``[c_1^T, s_2, .., s_{d-1}, c_d]``, which the chain equals while no layer leaves its rank-one form, and
    the rate a run of it takes: `deeplinear.modes.stable_lr` for the chain's singular values
    (``|c_1|, s_2, .., s_{d-1}, |c_d|``, target ``||Y X^+||``, the largest eigenvalue of ``X X^T`` for every
    direction).

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k, k), the chain
    q : sequence of ndarray
        Its d - 1 unit vectors
    X : ndarray
        (k, n).
    Y : ndarray
        (k, n)
    lr : float
        > 0, the largest rate.

    Returns
    -------
    tuple
        (small, lr_run, edge) : the reduction, layers (1, k), (1, 1) .. (1, 1), (k, 1); the rate; the edge.

    Raises
    ------
    ValueError
        If ``Ws``, ``q``, ``X`` or ``Y`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 3 with zero singular values (the book's boundary case of Theorem 1).
    """
    layers, stacked = _validate.network(Ws)
    if stacked is not None or len(layers) < 2:
        raise ValueError("Ws must be one network (not a stack) of d >= 2 layers, a rank-one chain")
    q = _validate.unit_vectors(q, "q", [W.shape[0] for W in layers[:-1]])
    X = _validate.matrix(X, "X", layers[0].shape[1])
    Y = _validate.matrix(Y, "Y", layers[-1].shape[0])
    if X.shape[1] != Y.shape[1] or X.shape[1] < 1:
        raise ValueError(f"X and Y must have the same n >= 1 columns, got shapes {X.shape} and {Y.shape}")
    if not np.any(X):
        raise ValueError("X must be nonzero: the rate follows the largest eigenvalue of X X^T")
    small = [(layers[0].T @ q[0])[None, :]]
    small += [np.array([[q[i] @ layers[i] @ q[i - 1]]]) for i in range(1, len(layers) - 1)]
    small += [(layers[-1] @ q[-1])[:, None]]
    sigmas0 = np.array([[np.linalg.norm(W)] for W in small])
    target = np.linalg.norm(Y @ np.linalg.pinv(X), 2)
    lam = float(np.linalg.eigvalsh(X @ X.T)[-1])
    lr_run, edge = stable_lr(lr, sigmas0, np.array([target]), np.array([lam]), X.shape[1], transverse=False)
    return small, lr_run, edge


def rank_one_run(
    Ws: Sequence[np.ndarray],
    q: Sequence[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    *,
    lr: float,
    steps: int,
    metrics: Any = (),
) -> AlignedRun:
    """A rank-one chain (`rank_one_problem`) trained on ``(X, Y)``, ``Y`` a
    rank-one map of ``X``, at the rate of `rank_one_reduction`; ``budget_orders`` are those of the same run of
    its width-one reduction, which the chain equals while no layer leaves its rank-one form.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k, k), the chain
    q : sequence of ndarray
        Its d - 1 unit vectors
    X : ndarray
        (k, n).
    Y : ndarray
        (k, n)
    lr : float
        > 0
    steps : int
        Number of gradient-descent steps, >= 0.
    metrics : object, optional
        As for `train`.

    Returns
    -------
    AlignedRun
        AlignedRun.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 3 with zero singular values (the book's boundary case of Theorem 1).
    """
    small, lr_run, edge = rank_one_reduction(Ws, q, X, Y, lr=lr)
    reduced = train(small, X, Y, lr=lr_run, steps=steps)
    result, lr_run = train_halving(Ws, X, Y, lr=lr_run, steps=steps, metrics=metrics)
    return AlignedRun(result.history, float(lr_run), edge, orders(reduced.history.loss, 0.5))


def outer_turns(Ws0: Sequence[np.ndarray], Ws: Sequence[np.ndarray]) -> np.ndarray:
    """How far the outer singular vectors of a network turned from its start: the sine of the angle between
    the leading right singular vector of ``W_1`` and that of ``W_1`` at the start (``V_1``'s first column),
    and likewise for the leading left singular vector of ``W_d`` (``U_d``'s). Definition 3 lets both move;
    strong alignment pins them. Each must be unique: a gap after the largest singular value.

    Parameters
    ----------
    Ws0 : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or stacked (S, k_i, k_{i-1})
    Ws : sequence of ndarray
        Same shapes.

    Returns
    -------
    ndarray
        (2,), or (S, 2) for stacked networks: the turns of ``V_1`` and of ``U_d``, in [0, 1].

    Raises
    ------
    ValueError
        If ``Ws0`` or ``Ws`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 3 (strong alignment); Theorem 1's proof sketch ("alignment implies strong alignment").

    Examples
    --------
    >>> import numpy as np
    >>> b, a = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    >>> turned = np.array([0.6, 0.8])
    >>> outer_turns([np.outer(a, b), np.outer(b, a)], [np.outer(a, turned), np.outer(b, a)]).round(12)
    array([0.8, 0. ])
    """
    first, _ = _validate.network(Ws0, "Ws0")
    now, _ = _validate.network(Ws, "Ws")
    if [W.shape for W in first] != [W.shape for W in now]:
        raise ValueError("Ws must have the same layer shapes as Ws0")
    turns = []
    for side, pick in ((0, lambda W: np.linalg.svd(W)[2][..., 0, :]), (-1, lambda W: np.linalg.svd(W)[0][..., :, 0])):
        start, current = pick(first[side]), pick(now[side])
        cosine = np.sum(start * current, axis=-1, keepdims=True)
        turns.append(np.linalg.norm(current - cosine * start, axis=-1))  # sine, accurate near 0
    return np.stack(turns, axis=-1)
