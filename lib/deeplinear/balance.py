"""Balancedness: the imbalance of a network and how a gradient step moves it.

Gradient flow conserves each imbalance ``D_i = W_{i+1}^T W_{i+1} - W_i W_i^T`` (`deeplinear.metrics.imbalance`);
a gradient step of size ``lr`` changes it by exactly ``lr^2 (G_{i+1}^T G_{i+1} - G_i G_i^T)`` (:func:`step_drift`).
A 0-balanced network is aligned: the usSVDs of :func:`chained_usvds` witness Definition 2 (:func:`chain_error`
is their rounding on a 0-balanced network, :func:`balanced_network` draws one). The minimum-norm factorisation
of Proposition 2 is in `deeplinear.minimum_norm`; the drift measured over runs, and Du et al.'s balancedness
of convolutional filters, in `deeplinear.balance_drift`.

Shapes follow the package convention: ``W_i`` is ``(k_i, k_{i-1})``; functions that take a network also take
a stacked one (layers ``(S, k_i, k_{i-1})``) and then return an extra leading ``S`` axis.

Paper: Radhakrishnan et al., Section 2 (balancedness: Arora et al. 2018, Du et al. 2018).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _validate
from .aligned import random_orthogonal
from .metrics import _as_network, imbalance
from .minimum_norm import _fro, _nonzero_product, _scalar

__all__ = [
    "printed_imbalance",
    "relative_imbalance",
    "nuclear_imbalance",
    "start_size",
    "drift",
    "drift_norm",
    "step_drift",
    "gradient_identity_residual",
    "relative_error",
    "balanced_network",
    "chained_usvds",
    "chain_error",
]


def printed_imbalance(Ws: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The imbalance as the paper's related work prints it: ``W_i^T W_i - W_{i+1}^T W_{i+1}``.

    Erratum: this quantity is not conserved by gradient flow, and for ``k_{i-1} != k_{i+1}`` its terms do
    not even have the same shape; the conserved one is `deeplinear.metrics.imbalance`,
    ``W_{i+1}^T W_{i+1} - W_i W_i^T`` (right Gram matrix of ``W_{i+1}``, left Gram matrix of ``W_i``).

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}) with equal input widths ``k_0 = ... = k_{d-1}``, or stacked.

    Returns
    -------
    list of ndarray
        List of d-1 arrays (k_{i-1}, k_{i-1}), or (S, k, k) for a stacked network.

    Raises
    ------
    ValueError
        If ``Ws`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (related work, quoting Arora et al. 2018 and Du et al. 2018).
    """
    layers = _as_network(Ws)
    if any(W.shape[-1] != layers[0].shape[-1] for W in layers):
        raise ValueError(f"Ws: the printed form needs equal input widths, got shapes {[W.shape for W in layers]}")
    grams = [np.swapaxes(W, -1, -2) @ W for W in layers]
    return [A - B for A, B in zip(grams[:-1], grams[1:])]


def relative_imbalance(Ws: Sequence[np.ndarray], *, printed: bool = False) -> np.ndarray:
    """Relative imbalance ``2 ||N - M||_F / (||N||_F + ||M||_F)`` of each interface, in [0, 2].

    With ``M = W_i W_i^T`` and ``N = W_{i+1}^T W_{i+1}`` (Arora and Du's form, the default), or, with
    ``printed=True``, ``M = W_{i+1}^T W_{i+1}`` and ``N = W_i^T W_i`` (the paper's printed form,
    :func:`printed_imbalance`). 0 when balanced; 2 when one of the two (positive semidefinite) Gram
    matrices is 0 and the other is not; 0 for an interface whose two Gram matrices are 0.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1}).
    printed : bool, optional
        Use the paper's printed form (`printed_imbalance`) instead of Arora and Du's.

    Returns
    -------
    ndarray
        (d-1,) or (S, d-1).

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (balancedness).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.balance import relative_imbalance
    >>> relative_imbalance([np.eye(2), np.eye(2)]), relative_imbalance([np.eye(2), np.zeros((2, 2))])
    (array([0.]), array([2.]))
    """
    layers = _as_network(Ws)
    if printed:
        pairs = [(np.swapaxes(B, -1, -2) @ B, np.swapaxes(A, -1, -2) @ A) for A, B in zip(layers[:-1], layers[1:])]
        printed_imbalance(layers)  # validates the shapes
    else:
        pairs = [(A @ np.swapaxes(A, -1, -2), np.swapaxes(B, -1, -2) @ B) for A, B in zip(layers[:-1], layers[1:])]
    out = []
    for M, N in pairs:
        scale = _fro(M) + _fro(N)
        diff = 2 * _fro(N - M)
        out.append(np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0))
    return np.stack(out, axis=-1) if out else np.zeros(layers[0].shape[:-2] + (0,))


def nuclear_imbalance(Ws: Sequence[np.ndarray]) -> np.ndarray:
    """The nuclear norm ``||W_{i+1}^T W_{i+1} - W_i W_i^T||_*`` of each interface's imbalance.

    For two layers it bounds the excess norm from both sides (``P = W_2 W_1``, ``D`` the imbalance):
    ``||W_1||_F^2 + ||W_2||_F^2 - 2 ||P||_* <= ||D||_*`` (Proposition 2's bound with the Powers-Stormer
    inequality ``||M^{1/2} - N^{1/2}||_F^2 <= ||M - N||_*``), so a nearly balanced factorisation is nearly of
    minimum norm; and a large imbalance keeps it far from the minimum (``||W_1||_F^2 + ||W_2||_F^2 >= ||D||_*``).

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1}).

    Returns
    -------
    ndarray
        (d-1,) or (S, d-1).

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 2; Section 2 (balancedness).
    """
    out = [np.abs(np.linalg.eigvalsh(D)).sum(axis=-1) for D in imbalance(Ws)]
    return np.stack(out, axis=-1) if out else np.zeros(_as_network(Ws)[0].shape[:-2] + (0,))


def start_size(Ws0: Sequence[np.ndarray], Ws: Sequence[np.ndarray]) -> float | np.ndarray:
    """How small a two-layer start is next to where it ended: ``(||W_1^(0)||^2 + ||W_2^(0)||^2) / (2 ||W_2 W_1||_*)``.

    The start's imbalance is at most its squared norm, gradient flow conserves the imbalance, and the excess
    norm of a factorisation is at most its imbalance (:func:`nuclear_imbalance`), so gradient flow from this
    start ends at most this far (relative) from the minimum norm of the product it reached.

    Parameters
    ----------
    Ws0 : sequence of ndarray
        The start, two layers (h, n) and (m, h), or stacked (S, h, n) and (S, m, h).
    Ws : sequence of ndarray
        The end, the same shapes.

    Returns
    -------
    float or ndarray
        Float, or ndarray (S,).

    Raises
    ------
    ValueError
        If ``Ws0`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 2 (and the paper's small-initialisation argument).
    """
    first, now = _as_network(Ws0, "Ws0"), _as_network(Ws, "Ws")
    if len(first) != 2 or [W.shape for W in first] != [W.shape for W in now]:
        raise ValueError(f"Ws0 and Ws must be two-layer networks of the same shapes, got {[W.shape for W in first]}")
    total = sum(np.sum(W**2, axis=(-2, -1)) for W in first)
    return _scalar(total / (2 * _nonzero_product(np.linalg.svd(now[1] @ now[0], compute_uv=False).sum(axis=-1), "Ws")))


def drift(Ws0: Sequence[np.ndarray], Ws: Sequence[np.ndarray], *, printed: bool = False) -> list[np.ndarray]:
    """How much each imbalance moved from ``Ws0`` to ``Ws``: ``D_i(Ws) - D_i(Ws0)``.

    ``D_i`` is `deeplinear.metrics.imbalance`, or :func:`printed_imbalance` with ``printed=True``.

    Parameters
    ----------
    Ws0 : sequence of ndarray
        Networks of the same shapes, lists of d arrays (k_i, k_{i-1}) or stacked (S, k_i, k_{i-1}).
    Ws : sequence of ndarray
        Networks of the same shapes, lists of d arrays (k_i, k_{i-1}) or stacked (S, k_i, k_{i-1}).
    printed : bool, optional
        Use the paper's printed form (`printed_imbalance`) instead of Arora and Du's.

    Returns
    -------
    list of ndarray
        List of d-1 arrays (k_i, k_i) (or (S, k_i, k_i)).

    Raises
    ------
    ValueError
        If ``Ws0`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (Du et al.: ``D_i`` is conserved by gradient flow).
    """
    first, now = _as_network(Ws0, "Ws0"), _as_network(Ws, "Ws")
    if [W.shape for W in first] != [W.shape for W in now]:
        raise ValueError(
            f"Ws0 and Ws must have the same layer shapes, got {[W.shape for W in first]} and {[W.shape for W in now]}"
        )
    form = printed_imbalance if printed else imbalance
    return [b - a for a, b in zip(form(first), form(now))]


def drift_norm(Ws0: Sequence[np.ndarray], Ws: Sequence[np.ndarray], *, printed: bool = False) -> float | np.ndarray:
    """The largest ``||D_i(Ws) - D_i(Ws0)||_F`` over interfaces (:func:`drift`).

    Parameters
    ----------
    Ws0 : sequence of ndarray
        The starting network, layers (k_i, k_{i-1}) (or stacked (S, k_i, k_{i-1})).
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).
    printed : bool, optional
        Use the paper's printed form (`printed_imbalance`) instead of Arora and Du's.

    Returns
    -------
    float or ndarray
        Float, or ndarray (S,) for stacked networks.

    Raises
    ------
    ValueError
        If ``Ws0`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (balancedness).
    """
    moved = drift(Ws0, Ws, printed=printed)
    if not moved:
        raise ValueError("Ws0, Ws: a network with one layer has no interface")
    return _scalar(np.max([_fro(D) for D in moved], axis=0))


def step_drift(grads: Sequence[np.ndarray], lr: float) -> list[np.ndarray]:
    """The exact change of every imbalance ``D_i`` made by one gradient step ``W_i <- W_i - lr G_i``:
    ``lr^2 (G_{i+1}^T G_{i+1} - G_i G_i^T)``.

    Derivation: the first-order terms cancel because ``W_{i+1}^T G_{i+1} = G_i W_i^T``
    (:func:`gradient_identity_residual`), and what is left is second order in ``lr``.

    Parameters
    ----------
    grads : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or stacked (S, k_i, k_{i-1}): the gradients at the step's start
        (`deeplinear.network.gradients`).
    lr : float
        Positive float.

    Returns
    -------
    list of ndarray
        List of d-1 arrays (k_i, k_i) (or (S, k_i, k_i)).

    Raises
    ------
    ValueError
        If ``lr`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (balancedness; Du et al.'s conservation law, discretised).
    """
    _validate.positive(lr, "lr")
    G = _as_network(grads, "grads")
    return [lr**2 * (np.swapaxes(B, -1, -2) @ B - A @ np.swapaxes(A, -1, -2)) for A, B in zip(G[:-1], G[1:])]


def gradient_identity_residual(Ws: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> np.ndarray:
    """Relative residual ``||W_{i+1}^T G_{i+1} - G_i W_i^T||_F / ||G_i W_i^T||_F`` of each interface.

    For a product network and any loss of the end-to-end output, ``G_i = A_i^T E B_i^T`` with
    ``A_i = W_d ... W_{i+1}`` and ``B_i = W_{i-1} ... W_1 X``, so ``W_{i+1}^T G_{i+1} = G_i W_i^T`` and the
    residual is rounding (0 when ``G_i W_i^T = 0``).

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or stacked.
    grads : sequence of ndarray
        Gradients of the same shapes (`deeplinear.network.gradients`).

    Returns
    -------
    ndarray
        (d-1,) or (S, d-1).

    Raises
    ------
    ValueError
        If ``grads`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (why gradient flow conserves balancedness).
    """
    layers, G = _as_network(Ws), _as_network(grads, "grads")
    if [W.shape for W in layers] != [g.shape for g in G]:
        raise ValueError(
            f"grads must have the shapes of Ws, got {[g.shape for g in G]} and {[W.shape for W in layers]}"
        )
    out = []
    for i in range(len(layers) - 1):
        right = G[i] @ np.swapaxes(layers[i], -1, -2)
        diff, scale = _fro(np.swapaxes(layers[i + 1], -1, -2) @ G[i + 1] - right), _fro(right)
        out.append(np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0))
    return np.stack(out, axis=-1) if out else np.zeros(layers[0].shape[:-2] + (0,))


def relative_error(actual: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> float:
    """The largest ``||a_i - e_i||_F / ||e_i||_F`` over pairs of matrices (interfaces, say).

    Parameters
    ----------
    actual : sequence of ndarray
        Sequences of the same length of arrays (..., m, n) of matching shapes; every
        ``e_i`` nonzero.
    expected : sequence of ndarray
        Sequences of the same length of arrays (..., m, n) of matching shapes; every
        ``e_i`` nonzero.

    Returns
    -------
    float
        Float.

    Raises
    ------
    ValueError
        If ``actual`` or ``expected`` is not valid (the message names the parameter).
    """
    if len(actual) != len(expected) or not len(actual):
        raise ValueError(
            f"actual and expected must be non-empty and of the same length, got {len(actual)} and {len(expected)}"
        )
    worst = 0.0
    for i, (a, e) in enumerate(zip(actual, expected)):
        a, e = np.asarray(a, dtype=np.float64), np.asarray(e, dtype=np.float64)
        if a.shape != e.shape or a.ndim < 2 or not (np.isfinite(a).all() and np.isfinite(e).all()):
            raise ValueError(
                f"actual[{i}] and expected[{i}] must be finite matrices of the same shape, got {a.shape} and {e.shape}"
            )
        scale = _fro(e)
        if np.any(scale == 0):
            raise ValueError(f"expected[{i}] must be nonzero")
        worst = max(worst, float(np.max(_fro(a - e) / scale)))
    return worst


def balanced_network(W1: np.ndarray, depth: int, *, rng: int | np.random.Generator | None = None) -> list[np.ndarray]:
    """A random 0-balanced network of square layers with first layer ``W1``: ``W_{i+1} = Q_{i+1} (W_i W_i^T)^{1/2}``.

    A square ``W_{i+1}`` satisfies ``W_{i+1}^T W_{i+1} = W_i W_i^T`` exactly when it is ``Q (W_i W_i^T)^{1/2}``
    for an orthonormal ``Q`` (its polar decomposition), so drawing each ``Q_{i+1}`` from the Haar measure draws
    from all 0-balanced networks with this first layer. The construction asks for balancedness only; whether
    the result is aligned is for :func:`chain_error` to say.

    Parameters
    ----------
    W1 : ndarray
        (k, k), the first layer.
    depth : int
        >= 1, the number of layers.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`). ``Q_2, ..., Q_d`` are drawn in order
        (`deeplinear.aligned.random_orthogonal`).

    Returns
    -------
    list of ndarray
        List of ``depth`` arrays (k, k), ``W1`` (a copy) first.

    Raises
    ------
    ValueError
        If ``rng``, ``W1`` or ``depth`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 ("balancedness indeed implies alignment of singular vector spaces between consecutive
    layers").

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.balance import balanced_network
    >>> from deeplinear.network import end_to_end
    >>> W1 = np.diag([4.0, 1.0])
    >>> Ws = balanced_network(W1, 2, rng=0)
    >>> len(Ws), bool(np.allclose(Ws[1].T @ Ws[1], Ws[0] @ Ws[0].T))
    (2, True)
    """
    rng = _validate.rng(rng)
    layers = _validate.square_network([W1], "W1")
    _validate.integer(depth, "depth", 1, what="a positive integer")
    k = layers[0].shape[0]
    for _ in range(depth - 1):
        e, V = np.linalg.eigh(layers[-1] @ layers[-1].T)
        root = (V * np.sqrt(np.clip(e, 0.0, None))) @ V.T  # the positive semidefinite square root
        layers.append(random_orthogonal(k, rng=rng) @ root)
    return [W.copy() for W in layers]


def chained_usvds(Ws: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """usSVDs ``W_i ~ U_i diag(s_i) V_i^T`` chained through a network, ``V_{i+1} = U_i``: Definition 2's witness.

    ``U_1, s_1, V_1`` are the SVD of ``W_1``. Then, with ``V_{i+1} = U_i``, ``U_{i+1}`` is the orthonormal polar
    factor of ``C = W_{i+1} V_{i+1}`` and ``s_{i+1}`` the diagonal of ``H = U_{i+1}^T C`` (symmetric, ``C =
    U_{i+1} H``). The triple reproduces ``W_{i+1}`` exactly when ``H`` is diagonal, that is when
    ``V_{i+1}^T (W_{i+1}^T W_{i+1}) V_{i+1}`` is: when the right Gram matrix of ``W_{i+1}`` is diagonal in the left
    singular basis of ``W_i``. In a 0-balanced network it is ``W_i W_i^T``, diagonal in that basis, so every
    triple reproduces its layer and the triples are usSVDs with ``U_i = V_{i+1}``: the network is aligned,
    with repeated singular values too. An aligned network whose first layer has distinct singular values is
    reproduced as well; a generic one is not (:func:`chain_error`).

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k, k).

    Returns
    -------
    list of tuple
        List of d triples ``(U_i (k, k), s_i (k,), V_i (k, k))``, ``U_i`` and ``V_i`` orthonormal, ``V_{i+1} = U_i``
        (the same array).

    Raises
    ------
    ValueError
        If ``Ws`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 2; Section 2 (balancedness implies alignment).
    """
    layers = _validate.square_network(Ws)
    U, s, Vt = np.linalg.svd(layers[0])
    out = [(U, s, Vt.T)]
    for W in layers[1:]:
        V = out[-1][0]
        A, _, Bt = np.linalg.svd(W @ V)
        U = A @ Bt  # the orthonormal polar factor of W V
        out.append((U, np.diag(U.T @ W @ V).copy(), V))
    return out


def chain_error(Ws: Sequence[np.ndarray]) -> float:
    """How far the chained usSVDs (:func:`chained_usvds`) are from reproducing the network:
    ``max_i ||W_i - U_i diag(s_i) V_i^T||_F / ||W_i||_F`` (a zero layer counts 0).

    Rounding for a 0-balanced network (it is aligned, Definition 2), and for an aligned one whose first layer
    has distinct singular values; of order one for Gaussian layers.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k, k).

    Returns
    -------
    float
        >= 0.

    Raises
    ------
    ValueError
        If ``Ws`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 2; Section 2 (balancedness implies alignment).
    """
    layers = _validate.square_network(Ws)
    worst = 0.0
    for W, (U, s, V) in zip(layers, chained_usvds(layers)):
        scale = np.linalg.norm(W)
        if scale > 0:
            worst = max(worst, float(np.linalg.norm(W - (U * s) @ V.T) / scale))
    return worst
