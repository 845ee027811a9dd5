"""Learning rates that gradient descent on the squared loss can take: the sharpness of the loss, measured.

Gradient descent ``W <- W - lr G`` on a loss whose Hessian has largest eigenvalue ``S`` (its *sharpness*) is
stable near a minimum only for ``lr < 2 / S``. For a linear network on the squared loss
``L = ||Y - W_d ... W_1 X||_F^2 / (2n)`` the Hessian at a point of zero residual is the Gauss-Newton matrix
``J^T J / n``, with ``J`` the Jacobian of the output ``W_d ... W_1 X`` with respect to all the layers; away
from zero residual the Gauss-Newton matrix is still the part that grows with the weights.
:func:`gauss_newton_sharpness` computes its largest eigenvalue by Lanczos iteration, from products with
``J`` and ``J^T`` only (one forward and one backward pass each). :func:`stable_learning_rate` applies the
rule at the start of a run and at the 0-balanced factorisation of the least-squares solution
(:func:`balanced_factors`), where a run from a small start ends.

Paper: none of the papers gives a learning rate for these problems; this is the book's stability rule
(Radhakrishnan et al., Section 6 and Proposition 2 data; chapter 05).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _validate
from .metrics import _as_network
from .structures import Structure

__all__ = ["gauss_newton_sharpness", "balanced_factors", "stable_learning_rate"]


def gauss_newton_sharpness(
    Ws: Sequence[np.ndarray], X: np.ndarray | None, *, structure: Structure | None = None
) -> float:
    """The largest eigenvalue of the Gauss-Newton matrix of the squared loss at ``Ws``.

    For ``L = ||Y - W_d ... W_1 X||_F^2 / (2n)`` it is ``max ||J v||^2 / n`` over unit directions ``v`` of
    all the layers together, with ``J v = sum_i (W_d ... W_{i+1}) V_i (W_{i-1} ... W_1) X``: the Hessian's
    largest eigenvalue at a point of zero residual, and its part that grows with the weights elsewhere.
    With ``structure``, the directions are those of the layers' coefficients (``V_i = sum_j v_ij A_j``:
    gradient descent on the coefficients, Theorem 2). ``J v`` is formed by forward-mode differentiation
    and ``J^T u`` by back-propagation, never the products of layers; Lanczos iteration
    (``scipy.sparse.linalg.eigsh``) to a relative ``1e-10``, from a fixed start.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), one network (each layer in ``structure`` when it is given).
    X : ndarray or None
        (k_0, n), or None for the identity (``n = k_0``).
    structure : Structure or None, optional
        A `deeplinear.structures.Structure` of every layer, or None (fully connected).

    Returns
    -------
    float
        >= 0.

    Raises
    ------
    ValueError
        If ``Ws``, ``structure`` or ``X`` is not valid (the message names the parameter).

    References
    ----------
    Paper: the book's stability rule (no paper gives a learning rate for these problems).

    Examples
    --------
    >>> X = np.diag([3.0, 1.0])  # one layer: the sharpness is the largest eigenvalue of X X^T / n
    >>> round(gauss_newton_sharpness([np.eye(2)], X), 12)
    4.5
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    layers = _as_network(Ws)
    if any(W.ndim != 2 for W in layers):
        raise ValueError("Ws must be one network of 2-D layers (k_i, k_{i-1}), not a stack")
    if structure is not None and not isinstance(structure, Structure):
        raise ValueError(f"structure must be a deeplinear.structures.Structure or None, got {structure!r}")
    X = np.eye(layers[0].shape[1]) if X is None else np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != layers[0].shape[1] or not np.isfinite(X).all():
        raise ValueError(f"X must be a finite array ({layers[0].shape[1]}, n), got shape {X.shape}")
    n = X.shape[1]
    acts = [X]
    for W in layers[:-1]:
        acts.append(W @ acts[-1])
    sizes = [structure.dim if structure is not None else W.size for W in layers]
    cuts = np.cumsum(sizes)[:-1]

    def direction(v: np.ndarray, W: np.ndarray) -> np.ndarray:
        return structure.matrix(v) if structure is not None else v.reshape(W.shape)

    def product(v: np.ndarray) -> np.ndarray:
        V = [direction(part, W) for part, W in zip(np.split(np.ravel(v), cuts), layers)]
        out = None
        for W, dW, a in zip(layers, V, acts):
            out = dW @ a if out is None else W @ out + dW @ a  # forward mode: the change of each activation
        grads = []
        for W, a in zip(layers[::-1], acts[::-1]):
            grads.append(structure.outer_adjoint(out, a) if structure is not None else (out @ a.T).ravel())
            out = W.T @ out
        return np.concatenate(grads[::-1]) / n

    size = int(sum(sizes))
    if size == 1:
        return max(float(product(np.ones(1))[0]), 0.0)
    op = LinearOperator((size, size), matvec=product, dtype=np.float64)
    start = np.full(size, 1 / np.sqrt(size))
    if not np.any(product(start)):  # Lanczos cannot start in the null space: try a generic direction
        start = np.random.default_rng(0).standard_normal(size)
        if not np.any(product(start)):
            return 0.0  # J = 0 (zero layers or zero data): no curvature
    top = eigsh(op, k=1, which="LA", v0=start, tol=1e-10, return_eigenvectors=False)
    return max(float(top[0]), 0.0)


def balanced_factors(P: np.ndarray, depth: int) -> list[np.ndarray]:
    """The 0-balanced factorisation of ``P = U S V^T`` into ``depth`` square layers:
    ``W_1 = S^{1/d} V^T``, ``W_i = S^{1/d}`` inside, ``W_d = U S^{1/d}``.

    Every layer has the singular values ``s^{1/d}``, every interface has ``W_{i+1}^T W_{i+1} = W_i W_i^T``,
    and the product is ``P``: where gradient flow from a small start ends (for ``d = 2`` it is
    `deeplinear.minimum_norm.minimum_norm_factors`).

    Parameters
    ----------
    P : ndarray
        (k, k), square.
    depth : int
        >= 1.

    Returns
    -------
    list of ndarray
        List of depth arrays (k, k).

    Raises
    ------
    ValueError
        If ``P`` or ``depth`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 2 (the aligned, 0-balanced factorisation).
    """
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != P.shape[1] or not np.isfinite(P).all():
        raise ValueError(f"P must be a finite square (k, k) array, got shape {P.shape}")
    _validate.integer(depth, "depth", 1, what="a positive integer")
    U, s, Vt = np.linalg.svd(P)
    root = s ** (1.0 / depth)
    if depth == 1:
        return [P.copy()]
    return [root[:, None] * Vt] + [np.diag(root) for _ in range(depth - 2)] + [U * root]


def stable_learning_rate(
    X: np.ndarray | None, P: np.ndarray, starts: Sequence[np.ndarray], *, fraction: float = 0.5
) -> float | np.ndarray:
    """``fraction * 2 / S``, with ``S`` the larger Gauss-Newton sharpness of a start and of the 0-balanced
    factorisation of ``P`` (:func:`gauss_newton_sharpness`, :func:`balanced_factors`); one rate per member
    of a stacked network.

    Gradient descent is unstable near a point whose sharpness exceeds ``2 / lr``; a run from a start to the
    neighbourhood of ``P``'s balanced factorisation meets both. ``fraction`` < 1 leaves room for the
    sharpness along the way and for the residual's part of the Hessian.

    Parameters
    ----------
    X : ndarray or None
        (k, n), or None for the identity.
    P : ndarray
        (k, k), the least-squares solution (``Y X^+``).
    starts : sequence of ndarray
        A network (list of d arrays (k, k)), or a stacked one (d arrays (S, k, k)).
    fraction : float, optional
        In (0, 1].

    Returns
    -------
    float or ndarray
        > 0, or ndarray (S,) for a stacked network.

    Raises
    ------
    ValueError
        If ``fraction`` is not valid (the message names the parameter).

    References
    ----------
    Paper: the book's stability rule (chapter 05; no paper gives a learning rate for these problems).
    """
    _validate.number(fraction, "fraction", "a number in (0, 1]", low=0, low_open=True, high=1)
    layers = _as_network(starts, "starts")
    members = [layers] if layers[0].ndim == 2 else [[W[s] for W in layers] for s in range(len(layers[0]))]
    at_minimum = gauss_newton_sharpness(balanced_factors(P, len(layers)), X)
    top = np.array([max(gauss_newton_sharpness(m, X), at_minimum) for m in members])
    if not np.all(top > 0):
        raise ValueError("the loss has no curvature at a start and at P's factorisation (X or P is 0)")
    rates = fraction * 2 / top
    return float(rates[0]) if layers[0].ndim == 2 else rates
