"""Deep linear networks ``f(x) = W_d ... W_1 x``: forward and backward passes, loss and gradients.

A network is a list ``Ws = [W_1, ..., W_d]`` with ``W_i`` of shape ``(k_i, k_{i-1})``, or a stacked
ensemble with every layer of shape ``(S, k_i, k_{i-1})``. Data ``X`` is ``(k_0, n)`` and ``Y`` is
``(k_d, n)`` (samples are columns), shared by all members of an ensemble, or per member: ``X`` of
shape ``(S, k_0, n)``, ``Y`` of shape ``(S, k_d, n)``. ``X = None`` stands for the identity ``I_{k_0}``
(matrix factorization and sensing), so that ``f(X) = W_d ... W_1``. `stack` makes an ensemble of
networks with the same widths.

Paper: Radhakrishnan et al., eqs. (1)-(2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _validate
from ._engine import _backward, _checked, _forward, _inputs, _setup
from .losses import LossFn

__all__ = ["end_to_end", "forward", "backward", "loss", "gradients", "stack"]


def end_to_end(Ws: Sequence[np.ndarray]) -> np.ndarray:
    """The end-to-end matrix ``W_d … W_1``.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}) or (S, k_i, k_{i-1}).

    Returns
    -------
    ndarray
        (k_d, k_0) or (S, k_d, k_0), a new array.

    Raises
    ------
    ValueError
        If ``Ws`` is not valid (the message names the parameter).

    References
    ----------
    Paper: eq. (1).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.network import end_to_end
    >>> end_to_end([np.eye(2), 2 * np.eye(2), np.diag([1.0, 3.0])])
    array([[2., 0.],
           [0., 6.]])
    """
    layers, _ = _validate.network(Ws)
    P = layers[0].copy()
    for W in layers[1:]:
        P = W @ P
    return P


def forward(Ws: Sequence[np.ndarray], X: np.ndarray | None) -> list[np.ndarray]:
    """Activations ``[A_0, A_1, ..., A_d]`` with ``A_0 = X`` and ``A_i = W_i A_{i-1}``.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}) or (S, k_i, k_{i-1}).
    X : ndarray or None
        (k_0, n), (S, k_0, n) per member of a stacked network, or None for ``I_{k_0}``.

    Returns
    -------
    list of ndarray
        List of d + 1 arrays; ``A_i`` has shape (k_i, n) or (S, k_i, n); ``A_0`` is X (or ``I_{k_0}``).

    Raises
    ------
    ValueError
        If ``Ws`` is not valid (the message names the parameter).

    References
    ----------
    Paper: eq. (1).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.network import forward
    >>> acts = forward([np.ones((3, 2)), np.ones((1, 3))], np.eye(2))
    >>> [A.shape for A in acts]
    [(2, 2), (3, 2), (1, 2)]
    """
    layers, S = _validate.network(Ws)
    return _forward(layers, _inputs(X, layers[0].shape[-1], S))


def backward(Ws: Sequence[np.ndarray], activations: Sequence[np.ndarray], dF: np.ndarray) -> list[np.ndarray]:
    """Back-propagate ``dL/dF``: ``dL/dW_i = D_i A_{i-1}^T`` with ``D_d = dL/dF``, ``D_{i-1} = W_i^T D_i``.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}) or (S, k_i, k_{i-1}).
    activations : sequence of ndarray
        The d + 1 activations returned by `forward`.
    dF : ndarray
        (k_d, n) or (S, k_d, n), the gradient of the loss with respect to ``F = A_d``.

    Returns
    -------
    list of ndarray
        List of d arrays ``dL/dW_i``, with the shapes of ``Ws``.

    Raises
    ------
    ValueError
        If ``Ws``, ``activations`` or ``dF`` is not valid (the message names the parameter).

    References
    ----------
    Paper: eq. (2); Corollary 1, eq. (5) is its aligned special case.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.network import backward, forward, gradients
    >>> Ws, X, Y = [np.eye(2), 2 * np.eye(2)], np.eye(2), np.zeros((2, 2))
    >>> acts = forward(Ws, X)
    >>> G = backward(Ws, acts, (acts[-1] - Y) / 2)  # dL/dF of the squared loss, n = 2
    >>> all(np.allclose(g, h) for g, h in zip(G, gradients(Ws, X, Y)))
    True
    """
    layers, _ = _validate.network(Ws)
    acts = [np.asarray(A, dtype=np.float64) for A in activations]
    if len(acts) != len(layers) + 1:
        raise ValueError(f"activations must hold d + 1 = {len(layers) + 1} arrays, got {len(acts)}")
    if not all(np.isfinite(A).all() for A in acts):
        raise ValueError("activations must contain only finite entries")
    D = np.asarray(dF, dtype=np.float64)
    if D.shape != acts[-1].shape:
        raise ValueError(f"dF must have the shape of the output, {acts[-1].shape}, got {D.shape}")
    if not np.isfinite(D).all():
        raise ValueError("dF must contain only finite entries")
    return _backward(layers, acts, D)


def loss(
    Ws: Sequence[np.ndarray], X: np.ndarray | None, Y: np.ndarray | None, loss: str | LossFn = "squared"
) -> float | np.ndarray:
    """The training loss of the network on ``(X, Y)``.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}) or (S, k_i, k_{i-1}).
    X : ndarray or None
        (k_0, n), (S, k_0, n) per member of a stacked network, or None for the identity
        ``I_{k_0}`` (then n = k_0).
    Y : ndarray or None
        (k_d, n) or (S, k_d, n) per member; ignored by callable losses that say so (e.g. `MatrixSensing`).
    loss : str or callable, optional
        "squared", "logistic", "exponential", "cross_entropy", or a callable
        ``loss_fn(F, Y) -> (value, dL/dF)`` (see `deeplinear.losses`).

    Returns
    -------
    float or ndarray
        Float, or ndarray (S,) for a stacked network.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: eq. (2).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.network import loss
    >>> loss([np.eye(2), np.eye(2)], np.eye(2), np.zeros((2, 2)))  # ||I||_F^2 / (2 n)
    0.5
    """
    layers, _, X, fn, Y = _setup(Ws, X, Y, loss)
    F = _forward(layers, X)[-1]
    value = _checked(fn, F, *fn(F, Y))[0]
    return float(value) if value.ndim == 0 else value


def gradients(
    Ws: Sequence[np.ndarray], X: np.ndarray | None, Y: np.ndarray | None, loss: str | LossFn = "squared"
) -> list[np.ndarray]:
    """The gradients ``dL/dW_i`` of the training loss, one per layer.

    Parameters
    ----------
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).
    X : ndarray or None
        Inputs (k_0, n), samples as columns (None: the identity, where allowed).
    Y : ndarray or None
        Targets (k_d, n), samples as columns.
    loss : str or callable, optional
        Loss: "squared", "logistic", "exponential", "cross_entropy" or a callable (see `deeplinear.losses`).

    Returns
    -------
    list of ndarray
        List of d arrays with the shapes of ``Ws``, (k_i, k_{i-1}) or (S, k_i, k_{i-1}).

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: eq. (2); Corollary 1, eq. (5) is its aligned special case.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.network import gradients
    >>> G = gradients([np.eye(2), np.eye(2)], np.eye(2), np.zeros((2, 2)))
    >>> [g.tolist() for g in G]  # (W_2 W_1 X - Y) X^T / n = I / 2 for both layers
    [[[0.5, 0.0], [0.0, 0.5]], [[0.5, 0.0], [0.0, 0.5]]]
    """
    layers, _, X, fn, Y = _setup(Ws, X, Y, loss)
    acts = _forward(layers, X)
    return _backward(layers, acts, _checked(fn, acts[-1], *fn(acts[-1], Y))[1])


def stack(networks: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """An ensemble of S networks of the same widths as one stacked network, layer by layer.

    Parameters
    ----------
    networks : sequence of sequence of ndarray
        S >= 1 lists of d arrays ``(k_i, k_{i-1})``, all with the same shapes.

    Returns
    -------
    list of ndarray
        List of d arrays ``(S, k_i, k_{i-1})``; member s is ``[W[s] for W in result]``.

    Raises
    ------
    ValueError
        If ``networks`` is not valid (the message names the parameter).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.network import stack
    >>> ens = stack([[np.eye(2), np.ones((1, 2))], [2 * np.eye(2), np.zeros((1, 2))]])
    >>> [W.shape for W in ens]
    [(2, 2, 2), (2, 1, 2)]
    """
    if isinstance(networks, np.ndarray) or not isinstance(networks, Sequence) or not networks:
        raise ValueError("networks must be a non-empty list of networks (lists of layers)")
    members = [_validate.network(Ws, f"networks[{s}]")[0] for s, Ws in enumerate(networks)]
    shapes = [W.shape for W in members[0]]
    if len(shapes[0]) != 2:
        raise ValueError(f"networks must hold unstacked networks (layers (k_i, k_{{i-1}})), got shapes {shapes}")
    for s, layers in enumerate(members):
        if [W.shape for W in layers] != shapes:
            raise ValueError(
                f"networks[{s}] has layer shapes {[W.shape for W in layers]}, but networks[0] has {shapes}"
            )
    return [np.stack(layers) for layers in zip(*members)]
