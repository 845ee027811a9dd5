"""Test fixtures for Theorem 1's boundary cases (not part of the library): aligned two- and three-layer
networks whose matrix D of eq. (4) has a chosen off-diagonal part, and rank-one chains."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from deeplinear import _validate
from deeplinear.aligned import aligned_network, random_orthogonal
from deeplinear.theory import targets_for_residual


def two_layer_cases(k: int, n: int, rng: np.random.Generator) -> dict[str, tuple]:
    """Aligned networks and data whose matrix ``D`` of equation (4) has a chosen off-diagonal part: the
    test of why Theorem 1's "only if" needs ``d >= 3``.

    A balanced two-layer network ``W_i = Q_i diag(s) Q_{i-1}^T`` (s sorted uniform on [0.5, 1)) and a
    three-layer one with the same end-to-end matrix and outer bases (singular values ``s^(2/3)``);
    standard normal ``X (k, n)``; ``D`` = a standard normal diagonal plus the off-diagonal part of
    ``G - G^T`` (antisymmetric) or ``G + G^T`` (symmetric), ``G`` standard normal, and targets
    `targets_for_residual` of the two-layer network. Drawn in this order: s, ``Q_0``, ``Q_d``, the
    inner basis of the two-layer network, the two of the three-layer one, X, G, the two diagonals.

    Parameters
    ----------
    k : int >= 2, every width;  n : int >= k, the samples;  rng : numpy Generator.

    Returns
    -------
    dict label -> (Ws, X, Y, bases, inner), the arguments of `one_step_rotation` before ``rates``, for
    "d = 2, antisymmetric D", "d = 2, symmetric D" and "d = 3, antisymmetric D" (the last on the
    antisymmetric targets of the two-layer network).

    Paper: Theorem 1 and its proof, eq. (4).
    """
    k = _validate.integer(k, "k", 2)
    if isinstance(n, bool) or not isinstance(n, Integral) or n < k:
        raise ValueError(f"n must be an integer >= k = {k} (so that X X^T is invertible), got {n!r}")
    rng = _validate.rng(rng)
    s = np.sort(rng.uniform(0.5, 1.0, k))[::-1]
    V0, U0 = random_orthogonal(k, rng=rng), random_orthogonal(k, rng=rng)
    bases2 = [V0, random_orthogonal(k, rng=rng), U0]
    bases3 = [V0, random_orthogonal(k, rng=rng), random_orthogonal(k, rng=rng), U0]
    net2 = aligned_network(bases2, [s, s])
    net3 = aligned_network(bases3, [s ** (2 / 3)] * 3)
    X = rng.standard_normal((k, n))
    G = rng.standard_normal((k, k))
    Y = {}
    for label, off in (("antisymmetric", G - G.T), ("symmetric", G + G.T)):
        D = np.diag(rng.standard_normal(k)) + off - np.diag(np.diag(off))
        Y[label] = targets_for_residual(net2, X, U0, D, V0)
    return {
        "d = 2, antisymmetric D": (net2, X, Y["antisymmetric"], bases2, [1]),
        "d = 2, symmetric D": (net2, X, Y["symmetric"], bases2, [1]),
        "d = 3, antisymmetric D": (net3, X, Y["antisymmetric"], bases3, [1, 2]),
    }


def rank_one_chain(k: int, d: int, rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Rank-one layers that share their singular vectors: ``W_1 = q_1 c_1^T``, ``W_i = s_i q_i q_{i-1}^T``
    (1 < i < d), ``W_d = c_d q_{d-1}^T``.

    Drawn in this order: the unit vectors ``q_1 .. q_{d-1}`` (first columns of Haar-random orthonormal
    matrices), then ``c_1 = s_1 g / sqrt(k)`` (``s_1`` uniform on [0.5, 1), then ``g`` standard normal),
    the ``s_i``, and ``c_d = g / sqrt(k)``.

    Parameters
    ----------
    k : int >= 1, every width;  d : int >= 2, the depth;  rng : numpy Generator.

    Returns
    -------
    q : list of d - 1 unit vectors (k,);  Ws : list of d arrays (k, k), each of rank one.

    Paper: Definition 3 with zero singular values (a boundary case of Theorem 1's "only if").
    """
    if isinstance(d, bool) or not isinstance(d, Integral) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    q = [random_orthogonal(k, rng=rng)[:, 0] for _ in range(d - 1)]
    Ws = [np.outer(q[0], rng.uniform(0.5, 1.0) * rng.standard_normal(k) / np.sqrt(k))]
    Ws += [rng.uniform(0.5, 1.0) * np.outer(q[i], q[i - 1]) for i in range(1, d - 1)]
    Ws += [np.outer(rng.standard_normal(k) / np.sqrt(k), q[-1])]
    return q, Ws
