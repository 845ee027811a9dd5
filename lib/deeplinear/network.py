"""Deep linear networks ``f(x) = W_d ... W_1 x``: forward and backward passes, loss and gradients.

A network is a list ``Ws = [W_1, ..., W_d]`` with ``W_i`` of shape ``(k_i, k_{i-1})``, or a stacked
ensemble with every layer of shape ``(S, k_i, k_{i-1})``. Data ``X`` is ``(k_0, n)`` and ``Y`` is
``(k_d, n)`` (samples are columns), shared by all members of an ensemble. ``X = None`` stands for
the identity ``I_{k_0}`` (matrix factorization and sensing), so that ``f(X) = W_d ... W_1``.

Paper: Radhakrishnan et al., eqs. (1)-(2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import losses as _losses

__all__ = ["end_to_end", "forward", "backward", "loss", "gradients"]


def _network(Ws: Sequence[np.ndarray], name: str = "Ws", copy: bool = False) -> tuple[list[np.ndarray], int | None]:
    """Validate a (stacked) network; return its layers as float64 arrays and S (None if unstacked)."""
    if isinstance(Ws, np.ndarray) or not isinstance(Ws, Sequence):
        raise ValueError(
            f"{name} must be a list of layers W_i of shape (k_i, k_{{i-1}}) "
            f"or (S, k_i, k_{{i-1}}), got {type(Ws).__name__}"
        )
    try:
        layers = [np.array(W, dtype=np.float64, order="C") if copy else np.asarray(W, dtype=np.float64) for W in Ws]
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a list of numeric arrays") from err
    if not layers:
        raise ValueError(f"{name} must contain at least one layer, got an empty list")
    nd = layers[0].ndim
    shapes = [W.shape for W in layers]
    if nd not in (2, 3) or any(W.ndim != nd for W in layers):
        raise ValueError(
            f"{name} must hold layers that are all 2-D (k_i, k_{{i-1}}) or all 3-D "
            f"(S, k_i, k_{{i-1}}), got shapes {shapes}"
        )
    if nd == 3 and any(s[0] != shapes[0][0] for s in shapes):
        raise ValueError(f"{name}: stacked layers must share the leading axis S, got shapes {shapes}")
    if any(0 in s for s in shapes):
        raise ValueError(f"{name}: layers must have no zero-length axis, got shapes {shapes}")
    for i in range(len(layers) - 1):
        if shapes[i + 1][-1] != shapes[i][-2]:
            raise ValueError(
                f"{name}: W_{i + 2} has shape {shapes[i + 1]}, which does not chain with "
                f"W_{i + 1} of shape {shapes[i]} (need W_{i + 2}.shape[-1] == "
                f"W_{i + 1}.shape[-2])"
            )
    if not all(np.isfinite(W).all() for W in layers):
        raise ValueError(f"{name} must contain only finite entries")
    return layers, (shapes[0][0] if nd == 3 else None)


def _inputs(X, k0: int) -> np.ndarray | None:
    """Validate X of shape (k_0, n); None (the identity) passes through."""
    if X is None:
        return None
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"X must be an array of shape (k_0, n) = ({k0}, n)") from err
    if X.ndim != 2 or X.shape[0] != k0 or X.shape[1] < 1:
        raise ValueError(f"X must have shape (k_0, n) = ({k0}, n) with n >= 1 to match W_1, got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X must contain only finite entries")
    return X


def _setup(Ws, X, Y, loss, copy: bool = False):
    layers, S = _network(Ws, copy=copy)
    X = _inputs(X, layers[0].shape[-1])
    n = layers[0].shape[-1] if X is None else X.shape[1]
    fn, Y = _losses._resolve(loss, Y, (layers[-1].shape[-2], n))
    return layers, S, X, fn, Y


def _forward(layers: list[np.ndarray], X: np.ndarray | None) -> list[np.ndarray]:
    acts = [np.eye(layers[0].shape[-1]) if X is None else X]
    for W in layers:
        acts.append(W @ acts[-1])
    return acts


def _backward(layers: list[np.ndarray], acts: list[np.ndarray], D: np.ndarray) -> list[np.ndarray]:
    grads = [D] * len(layers)
    for i in range(len(layers) - 1, -1, -1):
        grads[i] = D @ np.swapaxes(acts[i], -1, -2)
        if i:
            D = np.swapaxes(layers[i], -1, -2) @ D
    return grads


def end_to_end(Ws: Sequence[np.ndarray]) -> np.ndarray:
    """The end-to-end matrix ``W_d ... W_1``.

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1}) or (S, k_i, k_{i-1}).

    Returns
    -------
    ndarray (k_d, k_0) or (S, k_d, k_0), a new array.

    Paper: eq. (1).
    """
    layers, _ = _network(Ws)
    P = layers[0].copy()
    for W in layers[1:]:
        P = W @ P
    return P


def forward(Ws: Sequence[np.ndarray], X: np.ndarray | None) -> list[np.ndarray]:
    """Activations ``[A_0, A_1, ..., A_d]`` with ``A_0 = X`` and ``A_i = W_i A_{i-1}``.

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1}) or (S, k_i, k_{i-1}).
    X : ndarray (k_0, n), or None for the identity ``I_{k_0}``.

    Returns
    -------
    list of d + 1 arrays; ``A_i`` has shape (k_i, n) or (S, k_i, n); ``A_0`` is X (or ``I_{k_0}``).

    Paper: eq. (1).
    """
    layers, _ = _network(Ws)
    return _forward(layers, _inputs(X, layers[0].shape[-1]))


def backward(Ws: Sequence[np.ndarray], activations: Sequence[np.ndarray], dF: np.ndarray) -> list[np.ndarray]:
    """Back-propagate ``dL/dF``: ``dL/dW_i = D_i A_{i-1}^T`` with ``D_d = dL/dF``, ``D_{i-1} = W_i^T D_i``.

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1}) or (S, k_i, k_{i-1}).
    activations : the d + 1 activations returned by `forward`.
    dF : ndarray (k_d, n) or (S, k_d, n), the gradient of the loss with respect to ``F = A_d``.

    Returns
    -------
    list of d arrays ``dL/dW_i``, with the shapes of ``Ws``.

    Paper: eq. (2); Corollary 1, eq. (5) is its aligned special case.
    """
    layers, _ = _network(Ws)
    acts = [np.asarray(A, dtype=np.float64) for A in activations]
    if len(acts) != len(layers) + 1:
        raise ValueError(f"activations must hold d + 1 = {len(layers) + 1} arrays, got {len(acts)}")
    D = np.asarray(dF, dtype=np.float64)
    if D.shape != acts[-1].shape:
        raise ValueError(f"dF must have the shape of the output, {acts[-1].shape}, got {D.shape}")
    return _backward(layers, acts, D)


def loss(Ws: Sequence[np.ndarray], X: np.ndarray | None, Y, loss="squared") -> float | np.ndarray:
    """The training loss of the network on ``(X, Y)``.

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1}) or (S, k_i, k_{i-1}).
    X : ndarray (k_0, n), or None for the identity ``I_{k_0}`` (then n = k_0).
    Y : ndarray (k_d, n); ignored by callable losses that say so (e.g. `MatrixSensing`).
    loss : "squared", "logistic", "exponential", "cross_entropy", or a callable
        ``loss_fn(F, Y) -> (value, dL/dF)`` (see `deeplinear.losses`).

    Returns
    -------
    float, or ndarray (S,) for a stacked network.

    Paper: eq. (2).
    """
    layers, _, X, fn, Y = _setup(Ws, X, Y, loss)
    F = _forward(layers, X)[-1]
    value = _losses._checked(fn, F, *fn(F, Y))[0]
    return float(value) if value.ndim == 0 else value


def gradients(Ws: Sequence[np.ndarray], X: np.ndarray | None, Y, loss="squared") -> list[np.ndarray]:
    """The gradients ``dL/dW_i`` of the training loss, one per layer.

    Parameters are those of `loss`.

    Returns
    -------
    list of d arrays with the shapes of ``Ws``, (k_i, k_{i-1}) or (S, k_i, k_{i-1}).

    Paper: eq. (2); Corollary 1, eq. (5) is its aligned special case.
    """
    layers, _, X, fn, Y = _setup(Ws, X, Y, loss)
    acts = _forward(layers, X)
    return _backward(layers, acts, _losses._checked(fn, acts[-1], *fn(acts[-1], Y))[1])


def _s_apply(s, c, A, out):
    np.copyto(out, s.apply(c, A))


def _s_apply_transpose(s, c, D, out):
    np.copyto(out, s.apply_transpose(c, D))


def _s_update(s, c, D, A):
    np.subtract(c, s.outer_adjoint(D, A), out=c)


def _product(W: np.ndarray, A: np.ndarray, out: np.ndarray) -> tuple:
    """One op (func, args) writing W @ A into out: np.dot for 2-D, one flat np.dot for a stack
    times a shared matrix, np.matmul for stack times stack."""
    if W.ndim == 2:
        return np.dot, (W, A, out)
    if A.ndim == 2:
        return np.dot, (W.reshape(-1, W.shape[-1]), A, out.reshape(-1, out.shape[-1]))
    return np.matmul, (W, A, out)


class _Stepper:
    """Gradient descent with preallocated buffers: `forward()` returns the loss of the current
    weights and keeps the activations; `step(lr)` back-propagates lr * dL/dF and updates in place.

    `layers` are owned C-contiguous copies; `structures` has one entry per layer (None = dense),
    and a structured layer is stored as its coefficients (Paper: Definition 4, Theorem 2).
    """

    def __init__(self, layers, X, fn, Y, structures) -> None:
        lead = layers[0].shape[:-2]
        n = layers[0].shape[-1] if X is None else X.shape[1]
        self.kernel, identity = _losses._kernel(fn, X, Y, (*lead, layers[-1].shape[-2], n), sum(W.size for W in layers))
        self.structures = structures
        # all-dense networks keep their layers (and gradients) as views of one flat buffer, so
        # that one subtraction updates every layer
        flat = all(s is None for s in structures) and not (identity and len(layers) == 1)
        if flat:
            sizes = np.cumsum([0] + [W.size for W in layers])
            self.flat_W = np.concatenate([W.reshape(-1) for W in layers])
            self.flat_G = np.empty_like(self.flat_W)
            self.params, grads = (
                [buf[a:b].reshape(W.shape) for a, b, W in zip(sizes, sizes[1:], layers)]
                for buf in (self.flat_W, self.flat_G)
            )
        else:
            self.params = [
                W if s is None else np.array(s.coefficients(W), dtype=np.float64) for W, s in zip(layers, structures)
            ]
        A0 = np.ascontiguousarray(X) if not identity else None
        XT = None if A0 is None else np.ascontiguousarray(A0.T)  # dL/dW_1 without a transposed operand
        if identity and structures[0] is not None:
            A0 = np.eye(layers[0].shape[-1])
        acts, self.fwd, self.bwd = [A0], [], []
        for i, (p, s) in enumerate(zip(self.params, structures)):
            if i == 0 and A0 is None:  # dense first layer on the identity: A_1 = W_1
                acts.append(p)
                continue
            A = np.empty((*lead, layers[i].shape[-2], self.kernel.out.shape[-1]))
            self.fwd.append((_s_apply, (s, p, acts[i], A)) if s is not None else _product(p, acts[i], A))
            acts.append(A)
        self.F = acts[-1]
        D = self.kernel.out
        for i in range(len(layers) - 1, -1, -1):
            p, s, A = self.params[i], structures[i], acts[i]
            Dprev = None
            if i:  # on the identity, dL/dW_1 = D_1: back-propagate straight into its gradient
                Dprev = grads[0] if flat and i == 1 and A0 is None else np.empty(acts[i].shape)
            if i and s is not None:
                self.bwd.append((_s_apply_transpose, (s, p, D, Dprev)))
            elif i:
                self.bwd.append(_product(np.swapaxes(p, -1, -2), D, Dprev))
            if s is not None:
                self.bwd.append((_s_update, (s, p, D, A)))
            elif A is None and not flat:
                self.bwd.append((np.subtract, (p, D, p)))
            elif A is not None:
                G = grads[i] if flat else np.empty(p.shape)
                self.bwd.append(_product(D, XT if i == 0 else np.swapaxes(A, -1, -2), G))
                if not flat:
                    self.bwd.append((np.subtract, (p, G, p)))
            D = Dprev
        if flat:
            self.bwd.append((np.subtract, (self.flat_W, self.flat_G, self.flat_W)))

    def forward(self):
        for f, args in self.fwd:
            f(*args)
        return self.kernel.value(self.F)

    def step(self, lr) -> None:
        self.kernel.grad(lr)
        for f, args in self.bwd:
            f(*args)

    def weights(self) -> list[np.ndarray]:
        """The current layers (the live arrays for dense layers)."""
        return [p if s is None else s.matrix(p) for p, s in zip(self.params, self.structures)]
