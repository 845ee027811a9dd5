"""Theorem 1 measured (chapter 03): its runs, started as the theorem prescribes and sized by the draw.

`witness_start` and `sensing_start` build the aligned start the theorem prescribes on data that satisfy its
condition (regression, matrix sensing), with the learning rate the stability rule of `deeplinear.modes`
gives it; `regression_run`, `sensing_run` and `rank_one_run` train the chapter's runs with the step budget
their mode dynamics predict; `ensemble_start` and `ensemble_run` stack many problems of a kind, and
`family_runs` trains other families of aligned starts on random data. `common_bases` decides matrix
sensing's condition robustly, `rank_one_problem` builds the boundary case of the "only if", and
`turn_share`, the share of an update that turns the start's singular bases, is the proof's own measure of
leaving the aligned set (scale-free: the run need not get far).

Paper: Radhakrishnan et al., Theorem 1, Corollary 1 and Section 4.2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _validate, theory
from .losses import MatrixSensing
from .modes import mode_losses, mode_sigmas, orders, stable_lr, train_halving
from .recording import History
from .training import train

__all__ = [
    "AlignedRun",
    "AlignedStart",
    "common_bases",
    "ensemble_run",
    "ensemble_start",
    "family_runs",
    "rank_one_problem",
    "rank_one_run",
    "regression_run",
    "sensing_run",
    "sensing_start",
    "turn_share",
    "witness_start",
]


@dataclass(frozen=True)
class AlignedRun:
    """A run of `regression_run`, `sensing_run` or `rank_one_run`: its ``history``, the learning rate it
    took (``lr``), the stability edge along its path (``edge``; ``lr <= edge / 2``) and ``budget_orders``,
    the orders of magnitude its reduced dynamics bring the loss down within the same steps
    (`deeplinear.modes.orders`)."""

    history: History
    lr: float
    edge: float
    budget_orders: int


def common_bases(
    M: np.ndarray, y: np.ndarray, rng: np.random.Generator, tries: int = 3
) -> tuple[bool, float, np.ndarray, np.ndarray]:
    """`deeplinear.theory.sensing_witness`, with up to ``tries`` random combinations of the ``M_i``: the first
    that finds common bases, else the one whose off-diagonal part is smallest. One combination misses them
    when two of its singular values nearly coincide (at k = 24, about once in 250 draws); three miss them
    together about once in 10^7.

    Returns
    -------
    (holds, off, U, V) as `deeplinear.theory.sensing_witness` returns them.

    Paper: Section 4.2, matrix sensing.
    """
    best = None
    for _ in range(_validate.integer(tries, "tries")):
        found = theory.sensing_witness(M, y, rng)
        if best is None or found[1] < best[1]:
            best = found
        if found[0]:
            break
    return best


@dataclass(frozen=True)
class AlignedStart:
    """Theorem 1's aligned start on data that satisfy its condition (`witness_start`, `sensing_start`):
    the layers ``Ws``, the learning rate its run takes (``lr``, `deeplinear.modes.stable_lr`) and the
    stability ``edge``, and its mode dynamics: ``sigmas0`` (d, r), ``G``, ``targets`` and ``n`` as
    `deeplinear.modes.mode_losses` takes them."""

    Ws: list[np.ndarray]
    lr: float
    edge: float
    sigmas0: np.ndarray
    G: np.ndarray
    targets: np.ndarray
    n: int

    def budget_orders(self, steps: int) -> int:
        """The orders of magnitude the mode dynamics bring the loss down in ``steps`` steps at ``lr``
        (`deeplinear.modes.orders` with a margin of half an order)."""
        return orders(mode_losses(self.sigmas0, self.G, self.targets, lr=self.lr, steps=steps, n=self.n), 0.5)


def witness_start(
    X: np.ndarray, Y: np.ndarray, widths: Sequence[int], rng: np.random.Generator, *, lr: float
) -> AlignedStart:
    """The start Theorem 1 prescribes on regression data that satisfy its condition: outer bases from
    `deeplinear.theory.alignment_invariant_witness` (`deeplinear.theory.aligned_start_on` with
    ``outer="witness"``, the same draws from ``rng``), its learning rate by `deeplinear.modes.stable_lr` (full gradient
    descent: ``transverse=True``, ``lam = diag(V^T X X^T V)``, targets ``lam' / lam``).

    Parameters
    ----------
    X : ndarray (k_0, n), ``X X^T`` invertible;  Y : ndarray (k_d, n);  widths : [k_0, ..., k_d];
    rng : numpy Generator;  lr : float > 0, the largest rate.

    Returns
    -------
    AlignedStart (``G = lam``, a diagonal).

    Raises
    ------
    ValueError when the data fail the condition (no witness).

    Paper: Theorem 1, Corollary 1.
    """
    X, Y = _validate.matrix(X, "X"), _validate.matrix(Y, "Y")
    U, V = theory.alignment_invariant_witness(X, Y)
    Ws = theory.aligned_start(V, U, widths, rng)
    lam = np.einsum("ai,ab,bi->i", V, X @ X.T, V)
    if not (lam > 0).all():
        raise ValueError("X X^T must be invertible (n >= k_0 samples in general position)")
    r = min(len(U), len(V))
    lam_prime = np.zeros_like(lam)
    lam_prime[:r] = np.einsum("ai,ab,bi->i", U[:, :r], Y @ X.T, V[:, :r])
    sigmas0, n = mode_sigmas(Ws, V), X.shape[1]
    lr_run, edge = stable_lr(lr, sigmas0, lam_prime / lam, lam, n)
    return AlignedStart(Ws, lr_run, edge, sigmas0, lam, lam_prime / lam, n)


def sensing_start(
    M: np.ndarray, y: np.ndarray, widths: Sequence[int], rng: np.random.Generator, *, lr: float
) -> AlignedStart:
    """The start Theorem 1 prescribes on matrix sensing with ``M_i = U Lambda_i V^T``: that of
    `deeplinear.theory.aligned_start_sensing` (the same draws from ``rng``), its learning rate by
    `deeplinear.modes.stable_lr` with ``transverse=False`` (the loss sees only the diagonal of ``U^T W V``)
    and the largest eigenvalue of ``G = D^T D``, ``D_ij = (U^T M_i V)_jj``, for every mode; targets the least-squares
    solution of ``D p = y``.

    Parameters
    ----------
    M : ndarray (n, k, k);  y : ndarray (n,);  widths : [k, ..., k];  rng : numpy Generator;
    lr : float > 0, the largest rate.

    Returns
    -------
    AlignedStart (``G = D^T D``).

    Raises
    ------
    ValueError when the measurements share no singular bases.

    Paper: Section 4.2, matrix sensing; Corollary 1.
    """
    holds, off, U, V = common_bases(M, y, rng)
    if not holds:
        raise ValueError(f"the M_i share no singular bases (off-diagonal part {off:.1e}): no aligned start")
    Ws = theory.aligned_start(V, U, widths, rng)
    D = np.einsum("ai,nab,bi->ni", U, np.asarray(M, dtype=np.float64), V)
    G, targets, sigmas0 = D.T @ D, np.linalg.lstsq(D, y, rcond=None)[0], mode_sigmas(Ws, V)
    top = np.full(len(G), np.linalg.eigvalsh(G)[-1])  # bounds the curvature of every mode
    lr_run, edge = stable_lr(lr, sigmas0, targets, top, len(D), transverse=False)
    return AlignedStart(Ws, lr_run, edge, sigmas0, G, targets, len(D))


def _aligned_run(start: AlignedStart, X, Y, steps: int, metrics: Any, loss: Any = "squared") -> AlignedRun:
    result, lr_run = train_halving(start.Ws, X, Y, lr=start.lr, steps=steps, metrics=metrics, loss=loss)
    return AlignedRun(result.history, float(lr_run), start.edge, start.budget_orders(steps))


def regression_run(
    X: np.ndarray,
    Y: np.ndarray,
    widths: Sequence[int],
    rng: np.random.Generator,
    *,
    lr: float,
    steps: int,
    metrics: Any = ("invariance",),
) -> AlignedRun:
    """`witness_start` trained for ``steps`` steps at its learning rate (`deeplinear.modes.train_halving`), with
    ``budget_orders`` from its mode dynamics.

    Parameters
    ----------
    X, Y, widths, rng, lr : as for `witness_start`;  steps : int;  metrics : as for `deeplinear.train`.

    Returns
    -------
    AlignedRun.

    Paper: Theorem 1, Corollary 1, Section 4.2.
    """
    return _aligned_run(witness_start(X, Y, widths, rng, lr=lr), X, Y, steps, metrics)


def sensing_run(
    M: np.ndarray,
    y: np.ndarray,
    widths: Sequence[int],
    rng: np.random.Generator,
    *,
    lr: float,
    steps: int,
    metrics: Any = ("invariance",),
) -> AlignedRun:
    """`sensing_start` trained with `deeplinear.losses.MatrixSensing` for ``steps`` steps at its learning
    rate (`deeplinear.modes.train_halving`), with ``budget_orders`` from its mode dynamics.

    Parameters
    ----------
    M, y, widths, rng, lr : as for `sensing_start`;  steps : int;  metrics : as for `deeplinear.train`.

    Returns
    -------
    AlignedRun.

    Paper: Section 4.2, matrix sensing; Corollary 1.
    """
    return _aligned_run(sensing_start(M, y, widths, rng, lr=lr), None, None, steps, metrics, MatrixSensing(M, y))


def ensemble_start(
    problems: Sequence[Any], widths: Sequence[int], rng: np.random.Generator, *, lr: float
) -> tuple[list[np.ndarray], np.ndarray]:
    """One aligned start per problem, stacked (`deeplinear.network.stack`), with each member's learning rate:
    `witness_start` for regression data ``(X, Y)`` that satisfy Theorem 1's condition, `sensing_start` for a
    `deeplinear.data.SensingProblem`, and otherwise (random data) the released code's start
    (`deeplinear.theory.aligned_start_on` with ``outer="svd"``) at ``lr``.

    Parameters
    ----------
    problems : sequence of S pairs ``(X, Y)`` or of S sensing problems;  widths : [k_0, ..., k_d];
    rng : numpy Generator;  lr : float > 0, the largest rate.

    Returns
    -------
    (Ws, rates) : the stacked network, layers (S, k_i, k_{i-1}), and the rates, ndarray (S,).

    Paper: Theorem 1, Section 4.2; Section 6, Figure 1a.
    """
    from .network import stack

    starts, rates = [], []
    for p in problems:
        if hasattr(p, "M"):
            s = sensing_start(p.M, p.y, widths, rng, lr=lr)
        elif theory.alignment_invariant(*p):
            s = witness_start(*p, widths, rng, lr=lr)
        else:
            starts.append(theory.aligned_start_on(*p, widths, rng, outer="svd"))
            rates.append(float(lr))
            continue
        starts.append(s.Ws)
        rates.append(s.lr)
    return stack(starts), np.array(rates)


def ensemble_run(
    problems: Sequence[Any], widths: Sequence[int], rng: np.random.Generator, *, lr: float, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Many problems of one kind at once: `ensemble_start`, then `deeplinear.modes.train_halving` (each
    member at its own rate; matrix sensing with `deeplinear.losses.MatrixSensing` per member).

    Parameters
    ----------
    problems : sequence of S pairs ``(X, Y)`` of equal shapes, or of S sensing problems;
    widths : [k_0, ..., k_d];  rng : numpy Generator;  lr : float > 0, the largest rate;  steps : int.

    Returns
    -------
    (invariance, ratio) : ndarrays (S,), each member's final invariance of its worst layer and its final
    loss over its initial loss.

    Paper: Theorem 1, Section 4.2; Section 6, Figure 1a.
    """
    Ws, rates = ensemble_start(problems, widths, rng, lr=lr)
    if hasattr(problems[0], "M"):
        args: tuple = (None, None)
        loss: Any = MatrixSensing([p.M for p in problems], [p.y for p in problems])
    else:
        args, loss = tuple(np.stack(a) for a in zip(*problems)), "squared"
    result, _ = train_halving(Ws, *args, lr=rates, steps=steps, loss=loss, metrics=("invariance",))
    history = result.history
    return history.metrics["invariance"][-1].min(axis=1), history.loss[-1] / history.loss[0]


def family_runs(
    X: np.ndarray,
    Y: np.ndarray,
    widths: Sequence[int],
    rng: np.random.Generator,
    *,
    lr: float,
    steps: int,
    members: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Aligned starts of three other families than Figure 1a's on the same data, ``members`` of each, trained
    by `deeplinear.modes.train_halving`: the released code's (outer bases the left singular vectors of ``X`` and ``Y``,
    singular values uniform on [0, 1)), random outer bases (Haar, drawn first; singular values on
    [0.5, 1)), and small singular values (on [0.1, 0.5), the released code's bases).

    Parameters
    ----------
    X : ndarray (k_0, n);  Y : ndarray (k_d, n);  widths : [k_0, ..., k_d];  rng : numpy Generator;
    lr : float > 0, the largest rate;  steps : int;  members : int >= 1.

    Returns
    -------
    (kept, turned) : ndarrays (3,), per family the largest final invariance of a member's worst layer and
    the smallest `turn_share` of a member.

    Paper: Theorem 1 ("only if": from any aligned start); Section 6 and the released code (its start).
    """
    from .network import stack

    V_svd, U_svd = np.linalg.svd(_validate.matrix(X, "X"))[0], np.linalg.svd(_validate.matrix(Y, "Y"))[0]
    V_rand, U_rand = theory.random_orthogonal(len(V_svd), rng), theory.random_orthogonal(len(U_svd), rng)
    kept, turned = [], []
    for V, U, low, high in ((V_svd, U_svd, 0.0, 1.0), (V_rand, U_rand, 0.5, 1.0), (V_svd, U_svd, 0.1, 0.5)):
        starts = [theory.aligned_start(V, U, widths, rng, low=low, high=high) for _ in range(members)]
        result, _ = train_halving(stack(starts), X, Y, lr=lr, steps=steps, metrics=("invariance",))
        kept.append(result.history.metrics["invariance"][-1].min(axis=-1).max())
        turned.append(turn_share(result.initial_weights, result.weights).min())
    return np.array(kept), np.array(turned)


def turn_share(Ws0: Sequence[np.ndarray], Ws: Sequence[np.ndarray]) -> float | np.ndarray:
    """The share of the update ``W(t) - W(0)`` that turns the start's singular bases: with ``U_i, V_i`` the
    (full) singular bases of ``W_i(0)``, ``sqrt(sum_i ||off(U_i^T (W_i(t) - W_i(0)) V_i)||^2) /
    sqrt(sum_i ||W_i(t) - W_i(0)||^2)``, ``off`` the part off the (rectangular) diagonal.

    0 for an aligned start that gradient descent keeps aligned (Theorem 1's "if", up to rounding); for one
    that leaves, a number of order one however short or slow the run (it is scale-free). The bases must be
    unique: distinct singular values at the start.

    Parameters
    ----------
    Ws0 : list of d arrays (k_i, k_{i-1}), or stacked (S, k_i, k_{i-1});  Ws : same shapes.

    Returns
    -------
    float, or ndarray (S,) for stacked networks (nan where nothing moved).

    Paper: Theorem 1 (its key step: the update of an aligned network in its bases, eq. (4)).
    """
    first, S = _validate.network(Ws0, "Ws0")
    now, _ = _validate.network(Ws, "Ws")
    if [W.shape for W in first] != [W.shape for W in now]:
        raise ValueError("Ws must have the same layer shapes as Ws0")
    off, total = 0.0, 0.0
    for W0, W in zip(first, now):
        U, _, Vt = np.linalg.svd(W0)
        C = np.swapaxes(U, -1, -2) @ (W - W0) @ np.swapaxes(Vt, -1, -2)
        eye = np.eye(*C.shape[-2:], dtype=bool)
        off = off + (C**2 * ~eye).sum(axis=(-2, -1))
        total = total + (C**2).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.sqrt(off / total)
    return float(share) if S is None else share


def rank_one_problem(
    k: int, n: int, d: int, rng: np.random.Generator
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
    k : int >= 2;  n : int >= k;  d : int >= 2;  rng : numpy Generator.

    Returns
    -------
    X : ndarray (k, n);  Y : ndarray (k, n);  q : list of d - 1 unit vectors (k,);  Ws : list of d arrays (k, k).

    Paper: Theorem 1 and Definition 3 with zero singular values (the book's boundary case).
    """
    k, n, d = _validate.integer(k, "k", 2), _validate.integer(n, "n", 1), _validate.integer(d, "d", 2)
    if n < k:
        raise ValueError(f"n must be at least k = {k}, got {n}")
    Q, R = theory.random_orthogonal(k, rng), theory.random_orthogonal(n, rng)[:, :k]
    X = (Q * np.sqrt(n * rng.uniform(0.5, 2.0, k))) @ R.T
    a, b = (v / np.linalg.norm(v) for v in rng.standard_normal((2, k)))
    q = [theory.random_orthogonal(k, rng)[:, 0] for _ in range(d - 1)]
    s = rng.uniform(0.5, 1.0, d)
    Ws = [s[0] * np.outer(q[0], b)] + [s[i] * np.outer(q[i], q[i - 1]) for i in range(1, d - 1)]
    return X, np.outer(a, b) @ X, q, Ws + [s[-1] * np.outer(a, q[-1])]


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
    """A rank-one chain (`rank_one_problem`, `deeplinear.theory.rank_one_chain`) trained on ``(X, Y)``, ``Y`` a
    rank-one map of ``X``: at `deeplinear.modes.stable_lr` for the chain's singular values
    (``|c_1|, s_2, .., s_{d-1}, |c_d|``, target ``||Y X^+||``, the largest eigenvalue of ``X X^T`` for every
    direction); ``budget_orders`` are those of the same run of its width-1 reduction
    ``[c_1^T, s_2, .., s_{d-1}, c_d]``, which the chain equals while no layer leaves its rank-one form.

    Parameters
    ----------
    Ws : list of d arrays (k, k), the chain;  q : its d - 1 unit vectors;  X : ndarray (k, n);
    Y : ndarray (k, n);  lr : float > 0;  steps : int;  metrics : as for `train`.

    Returns
    -------
    AlignedRun.

    Paper: Definition 3 with zero singular values (the book's boundary case of Theorem 1).
    """
    layers, _ = _validate.network(Ws)
    if len(q) != len(layers) - 1:
        raise ValueError(f"q must hold d - 1 = {len(layers) - 1} vectors, got {len(q)}")
    small = [(layers[0].T @ q[0])[None, :]]
    small += [np.array([[q[i] @ layers[i] @ q[i - 1]]]) for i in range(1, len(layers) - 1)]
    small += [(layers[-1] @ q[-1])[:, None]]
    sigmas0 = np.array([[np.linalg.norm(W)] for W in small])
    target = np.linalg.norm(Y @ np.linalg.pinv(X), 2)
    lam = float(np.linalg.eigvalsh(X @ X.T)[-1])
    lr_run, edge = stable_lr(lr, sigmas0, np.array([target]), np.array([lam]), X.shape[1], transverse=False)
    reduced = train(small, X, Y, lr=lr_run, steps=steps)
    result, lr_run = train_halving(layers, X, Y, lr=lr_run, steps=steps, metrics=metrics)
    return AlignedRun(result.history, float(lr_run), edge, orders(reduced.history.loss, 0.5))
