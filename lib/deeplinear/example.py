"""The Example of Section 5.2: convolutional linear autoencoders are driven towards scalar identities.

The paper's Example: a generic data set of ``n >= m^2`` images of ``m x m`` pixels cannot be aligned by any
convolutional linear autoencoder with 3 x 3 filters, aside from layers that are scalar multiples of the
identity. `convolutional_autoencoder` trains one and records each layer's `scalar_distance` from the scalar
identities. Propositions 3 and 4, from which the paper derives it, are in `deeplinear.impossibility`.

Paper: Radhakrishnan et al., Section 5.2 (the Example).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from . import _validate, losses
from .recording import History
from .structures import Convolution, Structure
from .training import train

__all__ = ["scalar_distance", "convolutional_autoencoder"]


def scalar_distance(Ws: Sequence[np.ndarray]) -> list[float]:
    """``||W - (tr W / k) I||_F / ||W||_F`` for each square layer: 0 for a scalar multiple of the identity.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k, k).

    Returns
    -------
    list of float
        List of d floats in [0, 1].

    Raises
    ------
    ValueError
        When a layer is not a finite nonzero square matrix (the distance of 0 is 0 / 0).

    References
    ----------
    Paper: the Example of Section 5.2.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.example import scalar_distance
    >>> round(float(np.max(scalar_distance([2 * np.eye(3), np.eye(3)]))), 6)  # multiples of the identity
    0.0
    """
    layers = _validate.network(Ws, sequence=False)[0]
    if any(W.ndim != 2 or W.shape[0] != W.shape[1] or not np.any(W) for W in layers):
        raise ValueError(f"Ws must hold nonzero square layers (k, k), got shapes {[W.shape for W in layers]}")
    return [float(np.linalg.norm(W - np.trace(W) / len(W) * np.eye(len(W))) / np.linalg.norm(W)) for W in Ws]


def convolutional_autoencoder(
    m: int, *, lr: float, steps: int, points: int = 25, rng: int | np.random.Generator | None = None
) -> History:
    """The Example's experiment: a three-layer 3x3 convolutional autoencoder on ``n = m^2`` Gaussian images.

    Draws the images ``X`` (m^2, m^2), then three filters (3, 9) of norm 1/2 added to the centre tap 1;
    each layer is scaled to spectral norm 1. Trains with learning rate ``lr`` for the mean squared error
    (`deeplinear.losses.mse_learning_rate`) on ``Y = X``, with dense arithmetic, recording
    :func:`scalar_distance` on ``points`` log-spaced steps.

    Parameters
    ----------
    m : int
        >= 2, image side.
    lr : float
        > 0, for the mean squared error.
    steps : int
        >= 1.
    points : int, optional
        >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    History
        History whose ``loss`` is the mean squared error and whose ``metrics["distance"]`` is (T, 3).

    Raises
    ------
    ValueError
        If ``rng``, ``m``, ``steps`` or ``points`` is not valid (the message names the parameter).

    References
    ----------
    Paper: the Example of Section 5.2.
    """
    rng = _validate.rng(rng)
    m, steps, points = (
        _validate.integer(m, "m", 2),
        _validate.integer(steps, "steps"),
        _validate.integer(points, "points"),
    )
    dense = Structure(Convolution(m, 3).basis)  # dense arithmetic: faster at this size
    k = dense.shape[0]
    X = rng.standard_normal((k, k))
    noise = rng.standard_normal((3, 9))
    filters = 0.5 * noise / np.linalg.norm(noise, axis=1, keepdims=True) + np.eye(9)[4]
    Ws = [dense.matrix(c) for c in filters]
    Ws = [W / np.linalg.norm(W, 2) for W in Ws]
    schedule = np.unique(np.r_[0, np.rint(np.geomspace(1, steps, points))]).astype(int)
    h = train(
        Ws,
        X,
        X,
        lr=losses.mse_learning_rate(lr, k),
        steps=steps,
        structure=dense,
        metrics={"distance": scalar_distance},
        record=schedule,
    ).history
    return dataclasses.replace(h, loss=h.loss * 2 / k, lr=np.full(len(h.lr), float(lr)))
