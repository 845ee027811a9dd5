"""Theorem 2 measured: gradient descent on a structured layer's coefficients is projected gradient descent.

`coefficient_gradient_descent` runs the left-hand side, gradient descent on the coefficients ``c_j`` of every
layer ``W = sum_j c_j A_j`` (Definition 4); `projected_gradient_descent` the right-hand side, the matrices updated
with the projected gradient, with footnote 3's scaled projection or the orthogonal one. `theorem2_deviations`
measures how far the two part, and `footnote3` which projection the update is. The layer structures themselves
are in `deeplinear.structures`.

Paper: Radhakrishnan et al., Section 5.1 (Theorem 2, footnote 3).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _validate
from .structures import Structure
from .training import train

__all__ = [
    "coefficient_gradient_descent",
    "projected_gradient_descent",
    "footnote3",
    "theorem2_deviations",
]


class _Orthonormalised(Structure):
    """`deeplinear.structures.orthonormal` (structure) on the fast paths of ``structure``: the basis
    ``A_j / ||A_j||_F``, applied as ``structure`` applies its own with the coefficients rescaled, so that a pattern
    structure (a convolution) never forms its dense basis. Used by `footnote3`; `deeplinear.structures.orthonormal`
    is the dense construction."""

    def __init__(self, structure: Structure) -> None:
        self._base = structure
        self._scale = 1 / np.sqrt(structure.norms2)
        self._norms2 = np.ones(structure.dim)

    @property
    def shape(self) -> tuple[int, int]:
        return self._base.shape

    @property
    def dim(self) -> int:
        return self._base.dim

    @property
    def basis(self) -> np.ndarray:
        return self._base.basis * self._scale[:, None, None]

    def _name(self) -> str:
        return f"orthonormal({self._base._name()})"

    def _matrix(self, c):
        return self._base._matrix(c * self._scale)

    def _adjoint(self, G):
        return self._base._adjoint(G) * self._scale

    def _apply(self, c, A):
        return self._base._apply(c * self._scale, A)

    def _apply_transpose(self, c, D):
        return self._base._apply_transpose(c * self._scale, D)

    def _outer_adjoint(self, D, A):
        return self._base._outer_adjoint(D, A) * self._scale


def coefficient_gradient_descent(
    Ws: Sequence[np.ndarray], X: np.ndarray | None, Y: np.ndarray, structure: Structure, *, lr: float, steps: int
) -> np.ndarray:
    """Gradient descent on the coefficients of every layer, ``c_j <- c_j - lr <A_j, dL/dW>``: the left-hand side
    of Theorem 2, run by `deeplinear.train` with ``structure=`` on the library's squared loss.

    Parameters
    ----------
    Ws : sequence of ndarray
        As in `projected_gradient_descent`.
    X : ndarray or None
        As in `projected_gradient_descent`.
    Y : ndarray
        As in `projected_gradient_descent`.
    structure : Structure
        As in `projected_gradient_descent`.
    lr : float
        As in `projected_gradient_descent`.
    steps : int
        As in `projected_gradient_descent`.

    Returns
    -------
    ndarray
        (steps + 1, d, r): the coefficients ``structure.coefficients(W_i)`` after each step (step 0 first).

    Raises
    ------
    deeplinear.TrainingDiverged
        If the loss diverges.
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 4, Theorem 2.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.structures import Toeplitz
    >>> from deeplinear.theorem2 import coefficient_gradient_descent
    >>> Ws = [0.5 * np.eye(3), 0.5 * np.eye(3)]
    >>> coefficient_gradient_descent(Ws, None, np.eye(3), Toeplitz(3), lr=0.1, steps=4).shape  # (steps + 1, d, r)
    (5, 2, 5)
    """
    structure = _validate.structure(structure)

    def coefficients(layers):
        return structure.coefficients(np.stack(layers))

    run = train(Ws, X, Y, lr=lr, steps=steps, structure=structure, metrics={"c": coefficients}, record=1)
    return run.history.metrics["c"]


def projected_gradient_descent(
    Ws: Sequence[np.ndarray],
    X: np.ndarray | None,
    Y: np.ndarray,
    structure: Structure,
    *,
    lr: float,
    steps: int,
    scaled: bool = True,
) -> np.ndarray:
    """Gradient descent on the matrices with projected gradients, ``W_i <- W_i - lr pi_S(dL/dW_i)``.

    The right-hand side of Theorem 2: dense back-propagation of the squared loss
    ``L = ||Y - W_d...W_1 X||_F^2 / (2n)`` (the library's loss), then the update with Theorem 2's
    scaled projection (``scaled=True``, footnote 3) or the orthogonal projection (``scaled=False``);
    see `deeplinear.structures.Structure.project`. Both keep the layers in S, so the run is given by its
    coefficients. By Theorem 2, ``scaled=True`` is `deeplinear.train` with ``structure=`` (gradient descent on the
    coefficients) computed another way, and ``scaled=False`` is the same on `deeplinear.structures.orthonormal`
    (structure).

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (m, n) = structure.shape, each in S (so m = n when d > 1). Not modified.
    X : ndarray or None
        (n, N), or None for the identity.
    Y : ndarray
        (m, N).
    structure : Structure
        Structure, the structure of every layer.
    lr : float
        > 0.
    steps : int
        >= 0.
    scaled : bool, optional
        Which projection.

    Returns
    -------
    ndarray
        (steps + 1, d, r): the coefficients ``structure.coefficients(W_i)`` after each step (step 0 first).

    Raises
    ------
    ValueError
        If ``structure``, ``Ws``, ``lr``, ``steps`` or ``X`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 2, footnote 3.
    """
    if not isinstance(structure, Structure):
        raise ValueError(f"structure must be a deeplinear.structures.Structure, got {structure!r}")
    layers = [np.array(W, dtype=np.float64) for W in Ws]
    if not layers or any(W.shape != structure.shape or not structure.contains(W) for W in layers):
        raise ValueError(f"Ws must be a non-empty list of {structure.shape} matrices in {structure!r}")
    _validate.positive(lr, "lr")
    _validate.count(steps, "steps")
    X = np.eye(structure.shape[1]) if X is None else np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != structure.shape[1] or Y.shape != (structure.shape[0], X.shape[1]):
        m, n = structure.shape
        raise ValueError(f"X must be ({n}, N) and Y ({m}, N), got {X.shape} and {Y.shape}")
    if not (np.isfinite(X).all() and np.isfinite(Y).all() and all(np.isfinite(W).all() for W in layers)):
        raise ValueError("Ws, X and Y must contain only finite entries")
    n = X.shape[1]
    out = np.empty((steps + 1, len(layers), structure.dim))
    out[0] = structure.coefficients(np.stack(layers))
    for t in range(1, steps + 1):
        acts = [X]
        for W in layers:
            acts.append(W @ acts[-1])
        D = (acts[-1] - Y) / n  # dL/dF
        grads = [np.empty(0)] * len(layers)
        for i in range(len(layers) - 1, -1, -1):
            grads[i] = D @ acts[i].T
            D = layers[i].T @ D
        for W, G in zip(layers, grads):
            W -= lr * structure.project(G, scaled=scaled)
        out[t] = structure.coefficients(np.stack(layers))
        if not np.isfinite(out[t]).all():
            raise ValueError(f"lr = {lr!r}: projected gradient descent diverged at step {t} (use a lower lr)")
    return out


def footnote3(
    structure: Structure,
    Ws0: Sequence[np.ndarray],
    X: np.ndarray | None,
    *,
    lr: float,
    steps: int,
    rng: int | np.random.Generator | None = None,
) -> dict[str, float]:
    """Which projection Theorem 2's update is (footnote 3), measured on one structure.

    Parameters
    ----------
    structure : Structure
        Structure (the chapter uses a convolution, whose basis is orthogonal, not orthonormal).
    Ws0 : sequence of ndarray
        List of layers in ``structure``, trained to autoencode ``X`` (so ``Y = X``). Not modified.
    X : ndarray or None
        (m, N).
    lr : float
        > 0
    steps : int
        >= 0.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`). one random gradient ``G`` (m, n).

    Returns
    -------
    dict
        Dict with ``idempotence_defect``, ``||pi(pi(G)) - pi(G)|| / ||pi(G)||`` for the scaled map (not 0: it is not
        a projection in the strict sense); ``orthogonal_idempotence``, the largest entry of the same difference
        for the orthogonal projection (rounding); and ``orthonormal_deviation``, the largest coefficient difference
        between gradient descent on the coefficients of the orthonormal basis ``A_j / ||A_j||_F`` and projected
        gradient descent with the orthogonal projection, relative to the largest coefficient (rounding: they are
        the same algorithm).

    Raises
    ------
    ValueError
        If ``rng``, ``structure`` or ``Ws0`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 2, footnote 3.
    """
    rng = _validate.rng(rng)
    structure = _validate.structure(structure)
    G = rng.standard_normal(structure.shape)
    once, once_o = structure.project(G, scaled=True), structure.project(G, scaled=False)
    idempotence = np.linalg.norm(structure.project(once) - once) / np.linalg.norm(once)
    orthogonal = np.abs(structure.project(once_o, scaled=False) - once_o).max()
    on = coefficient_gradient_descent(Ws0, X, X, _Orthonormalised(structure), lr=lr, steps=steps)
    projected = projected_gradient_descent(Ws0, X, X, structure, lr=lr, steps=steps, scaled=False)
    on = on / np.sqrt(structure.norms2)  # in the basis A_j, as the projected run
    if not np.any(on):
        raise ValueError("Ws0: every coefficient of the run is 0, so the deviation has no scale")
    deviation = np.abs(projected - on).max() / np.abs(on).max()
    return {
        "idempotence_defect": float(idempotence),
        "orthogonal_idempotence": float(orthogonal),
        "orthonormal_deviation": float(deviation),
    }


def theorem2_deviations(
    structure: Structure,
    Ws0: Sequence[np.ndarray],
    X: np.ndarray | None,
    Y: np.ndarray,
    *,
    lr: float,
    steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Theorem 2 measured: how far projected gradient descent (`projected_gradient_descent`) parts from
    gradient descent on the coefficients (`coefficient_gradient_descent`), with footnote 3's scaled projection
    and with the orthogonal projection.

    Parameters
    ----------
    structure : Structure
        As in `projected_gradient_descent`.
    Ws0 : sequence of ndarray
        As in `projected_gradient_descent`.
    X : ndarray or None
        As in `projected_gradient_descent`.
    Y : ndarray
        As in `projected_gradient_descent`.
    lr : float
        As in `projected_gradient_descent`.
    steps : int
        As in `projected_gradient_descent`.

    Returns
    -------
    scaled, orthogonal
        Ndarrays (steps + 1,), the largest coefficient difference after each step (step 0
        first), relative to the largest coefficient of the run on the coefficients: rounding with the scaled
        projection; with the orthogonal one, rounding only for an orthonormal basis.

    Raises
    ------
    ValueError
        If ``Ws0`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Theorem 2, footnote 3.
    """
    coefficients = coefficient_gradient_descent(Ws0, X, Y, structure, lr=lr, steps=steps)
    scale = np.abs(coefficients).max()
    if scale == 0:
        raise ValueError("Ws0: every coefficient of the run is 0, so the deviations have no scale")
    out = []
    for scaled in (True, False):
        run = projected_gradient_descent(Ws0, X, Y, structure, lr=lr, steps=steps, scaled=scaled)
        out.append(np.abs(run - coefficients).max(axis=(1, 2)) / scale)
    return out[0], out[1]
