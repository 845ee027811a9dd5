"""Trivially aligned networks, and the interpolation that rules them out (footnotes 1 and 4).

Layers that all lie in a commutative family of symmetric matrices share a singular basis at every step, so
they are aligned whatever gradient descent does: diagonal layers (footnote 1) and scalar multiples of the
identity (footnote 4). Definition 3 asks for zero training error to rule them out, because such a network
can only fit targets ``Y = M X`` with ``M`` in the family. Both families are closed under products, so the
end-to-end matrix ``W_d...W_1`` lies in the family too, and the least loss over the family,
:func:`subspace_floor`, bounds the network's loss from below at every step.

Paper: Radhakrishnan et al., Definition 3 and footnote 1; Theorem 3 and footnote 4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _validate
from .metrics import alignment_defect
from .stability import gauss_newton_sharpness
from .structures import Sparse, Structure, random_layers
from .training import train

__all__ = ["diagonal", "scalar", "subspace_floor", "TrivialRun", "trivial_run", "scalar_autoencoding_run"]


def diagonal(k: int) -> Structure:
    """The diagonal k x k matrices (footnote 1), as a `Sparse` structure of dimension k.

    Parameters
    ----------
    k : int
        Width (dimension), >= 1.

    Returns
    -------
    Structure
        The diagonal k x k matrices (footnote 1), as a `Sparse` structure of dimension k.

    Raises
    ------
    ValueError
        If ``k`` is not valid (the message names the parameter).

    Examples
    --------
    >>> from deeplinear.trivial import diagonal
    >>> diagonal(3).dim
    3
    """
    k = _validate.integer(k, "k")
    return Sparse(np.eye(k, dtype=bool))


def scalar(k: int) -> Structure:
    """The scalar multiples of the k x k identity (footnote 4), a structure of dimension 1.

    Parameters
    ----------
    k : int
        Width (dimension), >= 1.

    Returns
    -------
    Structure
        The scalar multiples of the k x k identity (footnote 4), a structure of dimension 1.

    Raises
    ------
    ValueError
        If ``k`` is not valid (the message names the parameter).
    """
    k = _validate.integer(k, "k")
    return Structure(np.eye(k)[None])


def _data(structure: Structure, X, Y) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(structure, Structure):
        raise ValueError(f"structure must be a deeplinear.structures.Structure, got {structure!r}")
    m, k = structure.shape
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != k or Y.shape != (m, X.shape[1]) or X.shape[1] < 1:
        raise ValueError(f"X must be ({k}, n) and Y ({m}, n) with n >= 1, got {X.shape} and {Y.shape}")
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        raise ValueError("X and Y must contain only finite entries")
    return X, Y


def subspace_floor(structure: Structure, X: np.ndarray, Y: np.ndarray) -> float:
    """The least squared loss ``min_{M in S} ||Y - M X||_F^2 / (2n)`` over the matrices of a structure.

    For a structure closed under products (`diagonal`, `scalar`), every network whose layers lie in it has
    its end-to-end matrix in it, so this bounds the network's loss (eq. (2), the library's) from below.

    Parameters
    ----------
    structure : Structure
        Structure of (m, k) matrices.
    X : ndarray
        (k, n).
    Y : ndarray
        (m, n).

    Returns
    -------
    float
        >= 0: 0 exactly when some ``M`` in S interpolates (``Y = M X``), up to rounding.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: footnotes 1 and 4.
    """
    X, Y = _data(structure, X, Y)
    design = np.einsum("jmk,kn->mnj", structure.basis, X).reshape(-1, structure.dim)
    c, *_ = np.linalg.lstsq(design, Y.ravel(), rcond=None)
    return float(np.sum((Y.ravel() - design @ c) ** 2) / (2 * X.shape[1]))


@dataclass(frozen=True)
class TrivialRun:
    """A network trained inside a structure: ``floor`` (`subspace_floor`), ``loss`` (T,) recorded at
    every step, and ``defect`` (T,), the largest `deeplinear.metrics.alignment_defect` over the interfaces.

    Attributes
    ----------
    floor : float
        The subspace floor (`subspace_floor`).
    loss : ndarray
        (T,), the loss at every step.
    defect : ndarray
        (T,), the largest alignment defect over the interfaces.
    """

    floor: float
    loss: np.ndarray
    defect: np.ndarray


def trivial_run(
    structure: Structure,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    depth: int,
    lr: float,
    steps: int,
    Ws0: Sequence[np.ndarray] | None = None,
    stop_below: float | None = None,
    rng: int | np.random.Generator | None = None,
) -> TrivialRun:
    """Gradient descent on a network of ``depth`` layers in ``structure``.

    The start is ``Ws0``, or `deeplinear.structures.random_layers` (standard normal coefficients, spectral
    norm 1) when it is None; training is `deeplinear.train` with ``structure=`` (gradient descent on the
    coefficients, Theorem 2) on the library's squared loss.

    Parameters
    ----------
    structure : Structure
        Structure of (k, k) matrices.
    X : ndarray
        Ndarrays (k, n).
    Y : ndarray
        Ndarrays (k, n).
    depth : int
        >= 1.
    lr : float
        > 0.
    steps : int
        >= 0.
    Ws0 : sequence of ndarray or None, optional
        None, or a list of ``depth`` (k, k) matrices in ``structure``.
    stop_below : float or None, optional
        > 0 or None; stop at the first step whose loss is below it (`deeplinear.train`), so
        that ``steps`` is a cap.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`). draws the start when ``Ws0`` is None.

    Returns
    -------
    TrivialRun
        TrivialRun.

    Raises
    ------
    deeplinear.TrainingDiverged
        If the loss diverges.
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: footnotes 1 and 4.
    """
    rng = _validate.rng(rng)
    X, Y = _data(structure, X, Y)
    if structure.shape[0] != structure.shape[1]:
        raise ValueError(f"structure must hold square matrices for a deep network, got {structure.shape}")
    if Ws0 is None:
        Ws0 = random_layers(structure, depth, rng=rng)
    elif len(Ws0) != depth:
        raise ValueError(f"Ws0 must hold depth = {depth} layers, got {len(Ws0)}")
    run = train(
        Ws0,
        X,
        Y,
        lr=lr,
        steps=steps,
        structure=structure,
        metrics={"defect": alignment_defect},
        record=1,
        stop_below=stop_below,
    )
    defect = run.history.metrics["defect"]
    defect = defect.max(axis=-1) if defect.shape[-1] else np.zeros(len(run.history))
    return TrivialRun(subspace_floor(structure, X, Y), run.history.loss, defect)


def scalar_autoencoding_run(X: np.ndarray, *, depth: int, scale: float = 2.0, steps: int = 50_000) -> TrivialRun:
    """A network of ``depth`` scalar layers (`scalar`) started at the identity and trained on autoencoding up
    to a scale, ``Y = scale X``, until its loss is 1e-12 of its start (or ``steps`` steps).

    The learning rate is half the stability edge, ``1 / S`` with ``S`` the larger Gauss-Newton sharpness
    (`deeplinear.stability.gauss_newton_sharpness`) at the start and at the solution ``scale^(1/d) I``: the
    network has a single mode, so a few dozen steps reach the stop whatever the data's scale.

    Parameters
    ----------
    X : ndarray
        (k, n).
    depth : int
        >= 1.
    scale : float, optional
        Not 1 (then the start already fits).
    steps : int, optional
        >= 1, the cap.

    Returns
    -------
    TrivialRun
        TrivialRun.

    Raises
    ------
    ValueError
        If ``X``, ``scale`` or ``depth`` is not valid (the message names the parameter).

    References
    ----------
    Paper: footnote 4 (multiples of the identity fit autoencoding, up to scale).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or 0 in X.shape or not np.isfinite(X).all() or not np.any(X):
        raise ValueError(f"X must be a finite, nonzero (k, n) array, got shape {X.shape}")
    if _validate.number(scale, "scale", "a finite number other than 1") == 1:
        raise ValueError(f"scale must be a finite number other than 1, got {scale!r}")
    depth = _validate.integer(depth, "depth")
    k, n = X.shape
    structure = scalar(k)
    Is, ends = depth * [np.eye(k)], depth * [scale ** (1 / depth) * np.eye(k)]
    sharpness = max(gauss_newton_sharpness(Ws, X, structure=structure) for Ws in (Is, ends))
    stop = 1e-12 * (scale - 1) ** 2 * np.sum(X**2) / (2 * n)  # the start's loss, that of f = X on Y = scale X
    return trivial_run(
        structure, X, scale * X, depth=depth, lr=1 / sharpness, steps=steps, rng=None, Ws0=Is, stop_below=stop
    )
