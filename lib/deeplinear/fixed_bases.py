"""Whether the singular bases that Definition 3 keeps fixed stayed put.

Definition 3 calls alignment an invariant of training when the singular bases ``U_1 .. U_{d-1}`` and
``V_2 .. V_d`` of a network's layers do not move. Here: the released MNIST script's single invariance
number (`released_invariance`), how far the interface bases an aligned network was built on have turned
(`pinned_rotation`), and how far a network has left a rank-one chain (`rank_one_leak`). The per-layer
invariance score that `deeplinear.train` records is `deeplinear.metrics.invariance`.

Paper: Radhakrishnan et al., Definition 3 and Section 6 (Figures 1b and 1c).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _validate
from .metrics import _as_network, layer_svds

__all__ = ["released_invariance", "pinned_rotation", "rank_one_leak"]


def released_invariance(Ws0: Sequence[np.ndarray], Ws: Sequence[np.ndarray]) -> float | np.ndarray:
    """Invariance as the released MNIST script computes it: one number for the whole network.

    For each singular vector *at the start* that Definition 3 keeps fixed (the left ones of
    ``W_1 .. W_{d-1}``, the right ones of ``W_2 .. W_d``; reduced SVDs, zero singular values included),
    its largest ``|cos|`` with a *current* singular vector of the same kind in the same layer; the sum
    over all those vectors divided by their number. Wide layers weigh the most: for 784-1024-64-10 the
    mean runs over 784 + 64 + 64 + 10 vectors, W_1's 784 first. `deeplinear.metrics.invariance` instead scores
    current vectors against the start and gives one number per layer (see there for the orientation).

    Parameters
    ----------
    Ws0 : sequence of ndarray
        List of d >= 2 arrays (k_i, k_{i-1}) or (S, k_i, k_{i-1}), the network at initialisation.
    Ws : sequence of ndarray
        Same shapes as ``Ws0``, the network at time t.

    Returns
    -------
    float or ndarray
        Float, or ndarray (S,) for stacks; in [0, 1], and 1 when the fixed bases have not moved.

    Raises
    ------
    ValueError
        If ``Ws`` or ``Ws0`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 3 (b)-(c) and Section 6 (Figures 1b and 1c), as in the released script.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.fixed_bases import released_invariance
    >>> Ws0 = [np.diag([3.0, 2.0, 1.0]), np.diag([1.0, 2.0, 3.0])]
    >>> round(float(released_invariance(Ws0, Ws0)), 6)
    1.0
    """
    first, now = _as_network(Ws0, "Ws0"), _as_network(Ws, "Ws")
    shapes = [W.shape for W in first]
    if [W.shape for W in now] != shapes:
        raise ValueError(f"Ws must have the layer shapes of Ws0, got {[W.shape for W in now]} and {shapes}")
    if len(first) < 2:
        raise ValueError(f"Ws0 must have d >= 2 layers (Definition 3 fixes U_1..U_(d-1), V_2..V_d), got {len(first)}")
    total, count, d = 0.0, 0, len(first)
    for i, ((U0, _, Vt0), (U, _, Vt)) in enumerate(zip(layer_svds(first), layer_svds(now))):
        V0, V = np.swapaxes(Vt0, -1, -2), np.swapaxes(Vt, -1, -2)
        for start, current in ([(U0, U)] if i < d - 1 else []) + ([(V0, V)] if i > 0 else []):
            total = total + np.abs(np.swapaxes(start, -1, -2) @ current).max(axis=-1).sum(axis=-1)
            count += start.shape[-1]
    score = np.asarray(total / count)
    return score if score.ndim else float(score)


def pinned_rotation(Ws: Sequence[np.ndarray], bases: Sequence[np.ndarray], inner: Sequence[int]) -> float:
    """How far the interface bases ``Q_i`` (i in ``inner``) turned: the largest off-diagonal part,
    ``||offdiag(Q_i^T G Q_i)||_F / ||Q_i^T G Q_i||_F``, of the Gram matrices ``G = W_i W_i^T`` and
    ``W_{i+1}^T W_{i+1}`` that share the interface i (0 while ``Q_i`` still diagonalises both).

    A zero Gram matrix (a zero layer) is diagonal in every basis, so it counts 0.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}) (one network, not a stack).
    bases : sequence of ndarray
        List of d + 1 orthonormal arrays ``Q_0 .. Q_d``, ``Q_i`` of shape (k_i, k_i) (those of
        `deeplinear.aligned.aligned_network`).
    inner : sequence of int
        Interface indices i, integers in [1, d - 1].

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        When ``Ws`` is not a network of 2-D layers, ``bases`` are not d + 1 orthonormal matrices of the
        layers' widths, or an index in ``inner`` is out of range.

    References
    ----------
    Paper: Definition 3 (the bases that alignment as an invariant pins).
    """
    layers, stacked = _validate.network(Ws, "Ws", sequence=False)
    if stacked is not None:
        raise ValueError("Ws must be one network of 2-D layers (k_i, k_{i-1}), not a stack")
    Qs = _validate.bases(bases, [layers[0].shape[1]] + [W.shape[0] for W in layers], "bases")
    worst = 0.0
    for i in inner:
        _validate.integer(i, "inner", 1, high=len(layers) - 1, what=f"interface indices in [1, {len(layers) - 1}]")
        for G in (layers[i - 1] @ layers[i - 1].T, layers[i].T @ layers[i]):
            M = Qs[i].T @ G @ Qs[i]
            norm = np.linalg.norm(M)
            if norm > 0:  # a zero Gram matrix is diagonal in any basis: 0
                worst = max(worst, np.linalg.norm(M - np.diag(np.diag(M))) / norm)
    return float(worst)


def rank_one_leak(Ws: Sequence[np.ndarray], q: Sequence[np.ndarray]) -> float:
    """How far a network left a rank-one chain (as `deeplinear.boundaries.rank_one_problem` builds):
    ``max_i ||W_i - P_i W_i P'_{i-1}|| / ||W_i||`` with ``P_i = q_i q_i^T`` (the identity for the
    outer sides ``i = d`` on the left and ``i = 1`` on the right).

    A zero layer is its own projection (the chain with a zero singular value), so it counts 0.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d >= 2 arrays (k_i, k_{i-1}) (one network, not a stack)
    q : list of d - 1 unit
        vectors, ``q_i`` of shape (k_i,).

    Returns
    -------
    float
        >= 0, 0 for the chain itself.

    Raises
    ------
    ValueError
        When ``Ws`` is not a network of d >= 2 layers of 2-D arrays, or ``q`` is not d - 1 unit vectors of
        the interfaces' widths.

    References
    ----------
    Paper: Definition 3 with zero singular values.
    """
    layers, stacked = _validate.network(Ws, "Ws", sequence=False)
    if stacked is not None:
        raise ValueError("Ws must be one network of 2-D layers (k_i, k_{i-1}), not a stack")
    if len(layers) < 2:
        raise ValueError(f"Ws must have d >= 2 layers (a chain has interfaces), got {len(layers)}")
    q = _validate.unit_vectors(q, "q", [W.shape[0] for W in layers[:-1]])
    leak = 0.0
    for i, W in enumerate(layers):
        left = np.outer(q[i], q[i]) if i < len(layers) - 1 else np.eye(W.shape[0])
        right = np.outer(q[i - 1], q[i - 1]) if i > 0 else np.eye(W.shape[1])
        norm = np.linalg.norm(W)
        if norm > 0:  # a zero layer equals its projection: 0
            leak = max(leak, np.linalg.norm(W - left @ W @ right) / norm)
    return float(leak)
