"""Where gradient descent on separable data takes a network with one output: the direction of
``W_prod = W_L ... W_1`` (`direction`), its angle (`angle_to`), normalised margin (`margin`, of any linear
predictor) and margin gap (`margin_gap`) to the maximum-margin separator ``u-bar``, how aligned the layers are
(`product_alignment`, `first_layer_alignment`, `layer_margin_gap`) and how close each is to rank one
(`rank_one_ratio`, `rank_one_tail`), the product normalised by the layers' norms (`normalised_product`) and
Lyu and Li's smoothed margin (`smoothed_margin`). `deeplinear.separable` records them along a run.

A network is ``Ws = [W_1, ..., W_L]``, ``W_i`` of shape ``(k_i, k_{i-1})`` with ``k_L = 1``; data ``X`` is
``(k_0, n)``, labels ``Y`` are ``(1, n)`` in {-1, +1}.

Paper: Ji & Telgarsky, Theorem 2.2 and Section 2 (the layers align; ``W_prod / ||W_prod|| -> u-bar``);
Lyu and Li 2020 (the smoothed margin).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _validate, network
from .schedules import LOSS_AT_ZERO

__all__ = [
    "direction",
    "angle_to",
    "margin",
    "margin_gap",
    "product_alignment",
    "normalised_product",
    "first_layer_alignment",
    "layer_margin_gap",
    "rank_one_ratio",
    "rank_one_tail",
    "smoothed_margin",
]


def _one_output(Ws: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """The layers (one network, 2-D, finite) and ``W_prod`` (1, k_0) of a network with one output."""
    layers, stacked = _validate.network(Ws)
    w = network.end_to_end(layers)
    if stacked is not None or w.shape[0] != 1 or w.ndim != 2:
        raise ValueError(f"Ws must have one output (W_L of shape (1, k_{{L-1}})), got W_prod of shape {w.shape}")
    return layers, w


def _nonzero_layers(layers: list[np.ndarray]) -> list[np.ndarray]:
    if any(not np.any(W) for W in layers):
        raise ValueError("Ws must have nonzero layers: the product is normalised by every layer's norm")
    return layers


def direction(Ws: Sequence[np.ndarray]) -> np.ndarray:
    """``W_prod / ||W_prod||``, shape (k_0,), for a network with one output.

    Parameters
    ----------
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).

    Returns
    -------
    ndarray
        (k_0,), ``W_prod / ||W_prod||``.

    Raises
    ------
    ValueError
        If ``Ws`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Theorem 2.2 and Section 2 (``W_prod / ||W_prod|| -> u-bar``).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.directions import direction
    >>> direction([np.array([[3.0, 0.0], [0.0, 1.0]]), np.array([[0.0, 4.0]])])
    array([0., 1.])
    """
    w = _one_output(Ws)[1].ravel()
    if not np.any(w):
        raise ValueError("Ws: W_prod is 0, which has no direction")
    return w / np.linalg.norm(w)


def angle_to(Ws: Sequence[np.ndarray], u: np.ndarray) -> float:
    """The angle in degrees, in [0, 180], between ``W_prod`` and the unit vector ``u`` (k_0,).

    Computed as ``atan2(sqrt(1 - cos^2), cos)`` from ``cos = <W_prod / ||W_prod||, u>``: its relative
    rounding error is about ``1e-16 / angle^2`` (angle in radians), 1e-8 at 0.006 degrees.

    Parameters
    ----------
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).
    u : ndarray
        Unit vector (k_0,), the max-margin direction (Ji & Telgarsky's u-bar).

    Returns
    -------
    float
        The angle in degrees, in [0, 180], between ``W_prod`` and the unit vector ``u`` (k_0,).

    Raises
    ------
    ValueError
        If ``u`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Section 2 (convergence in direction to u-bar).
    """
    d = direction(Ws)
    cos = float(np.clip(d @ _validate.unit_vector(u, "u", len(d)), -1.0, 1.0))
    return float(np.degrees(np.arctan2(np.sqrt(max(1.0 - cos * cos, 0.0)), cos)))


def margin(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Normalised margin ``min_i y_i <w, x_i> / ||w||`` of a linear predictor.

    Parameters
    ----------
    w : ndarray
        (k_0,) or (1, k_0), or a stack (S, 1, k_0) of end-to-end products.
    X : ndarray
        (k_0, n), samples as columns.
    y : ndarray
        (n,) or (1, n), labels in {-1, +1}.

    Returns
    -------
    ndarray
        Float, or ndarray (S,) for stacked ``w``.

    Raises
    ------
    ValueError
        If ``X``, ``y`` or ``w`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Section 2 (maximum margin gamma); see :func:`deeplinear.separable.max_margin`.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or not np.isfinite(X).all():
        raise ValueError(f"X must be a finite array of shape (k_0, n), got shape {X.shape}")
    k0, n = X.shape
    y = np.asarray(y, dtype=np.float64)
    if y.shape not in ((n,), (1, n)) or not np.isin(y, (-1.0, 1.0)).all():
        raise ValueError(f"y must have shape ({n},) or (1, {n}) with entries in {{-1, +1}}, got shape {y.shape}")
    w = np.asarray(w, dtype=np.float64)
    if w.shape == (k0,):
        w = w[None, :]
    if w.ndim not in (2, 3) or w.shape[-2:] != (1, k0) or not np.isfinite(w).all():
        raise ValueError(f"w must have shape ({k0},), (1, {k0}) or (S, 1, {k0}), got shape {w.shape}")
    norm = np.linalg.norm(w, axis=-1)[..., 0]
    if np.any(norm == 0):
        raise ValueError("w must be nonzero: the margin of the zero predictor is undefined")
    result = ((w @ X)[..., 0, :] * y.reshape(n)).min(axis=-1) / norm
    return result if result.ndim else float(result)


def margin_gap(Ws: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray, gamma: float) -> float:
    """``gamma - min_i y_i <W_prod / ||W_prod||, x_i>``: 0 at the maximum-margin direction, > 0 elsewhere.

    Parameters
    ----------
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).
    X : ndarray
        Inputs (k_0, n), samples as columns (None: the identity, where allowed).
    Y : ndarray
        Targets (k_d, n), samples as columns.
    gamma : float
        The maximum margin, > 0.

    Returns
    -------
    float
        ``gamma - min_i y_i <W_prod / ||W_prod||, x_i>``.

    Raises
    ------
    ValueError
        If ``gamma`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Section 2 (gamma); `margin`.
    """
    return _validate.positive(gamma, "gamma") - margin(_one_output(Ws)[1], X, Y)


def product_alignment(Ws: Sequence[np.ndarray]) -> float:
    """``|<W_prod / prod_k ||W_k||_F, v_1>|``, in [0, 1], with ``v_1`` the top right singular vector of ``W_1``.

    1 exactly when every layer is rank one, adjacent layers are aligned and ``W_prod`` points along ``v_1``
    (``|<W_prod, v_1>| <= ||W_prod|| <= prod_k ||W_k||_2 <= prod_k ||W_k||_F``).

    Parameters
    ----------
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Theorem 2.2 (``|<W_prod / prod_k ||W_k||_F, v_1>| -> 1``).
    """
    Ws, w = _one_output(Ws)
    v1 = np.linalg.svd(_nonzero_layers(Ws)[0])[2][0]
    return float(abs(w.ravel() @ v1) / np.prod([np.linalg.norm(W) for W in Ws]))


def normalised_product(Ws: Sequence[np.ndarray]) -> np.ndarray:
    """``W_prod / prod_k ||W_k||_F``, shape (k_0,), for a network with one output.

    Its norm ``||W_prod|| / prod_k ||W_k||_F`` is at most 1 (``||W_prod|| <= prod_k ||W_k||_2``), with equality
    exactly when every layer is rank one and adjacent layers are aligned; Ji and Telgarsky's maximum-margin
    theorems state that it tends to ``u-bar`` itself (its norm to 1, its direction to ``u-bar``).

    Parameters
    ----------
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).

    Returns
    -------
    ndarray
        (k_0,), ``W_prod / prod_k ||W_k||_F``.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Sections 2 and 3, maximum-margin theorems (``W_prod / prod_k ||W_k||_F -> u-bar``).
    """
    Ws, w = _one_output(Ws)
    return w.ravel() / np.prod([np.linalg.norm(W) for W in _nonzero_layers(Ws)])


def first_layer_alignment(Ws: Sequence[np.ndarray], u: np.ndarray) -> float:
    """``|<v_1, u>|``, with ``v_1`` the top right singular vector of ``W_1`` and ``u`` a unit vector (k_0,).

    Parameters
    ----------
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).
    u : ndarray
        Unit vector (k_0,), the max-margin direction (Ji & Telgarsky's u-bar).

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        If ``Ws`` or ``u`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Sections 2 and 3, maximum-margin theorems (``|<v_1, u-bar>| -> 1``).
    """
    layers, _ = _validate.network(Ws)
    W1 = layers[0]
    if W1.ndim != 2:
        raise ValueError("Ws must be one network of 2-D layers, not a stack")
    return float(abs(np.linalg.svd(W1)[2][0] @ _validate.unit_vector(u, "u", W1.shape[1])))


def layer_margin_gap(Ws: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray, gamma: float) -> float:
    """``gamma - min_i y_i (W_L/||W_L||_F … W_1/||W_1||_F) x_i``: the margin corollary's distance to its limit.

    The corollary's limit, ``max_{||A_k||_F = 1} min_i y_i A_L ... A_1 x_i``, is ``gamma``: ``||A_L ... A_1||
    <= prod_k ||A_k||_F = 1``, with equality for rank-one layers along ``u-bar``. Unlike `margin_gap`, the
    product is normalised by the layers' norms, so the gap is also > 0 while the layers are not rank one
    and aligned.

    Parameters
    ----------
    Ws : sequence of ndarray
        The network: d layers (k_i, k_{i-1}), first layer first, or stacked (S, k_i, k_{i-1}).
    X : ndarray
        Inputs (k_0, n), samples as columns (None: the identity, where allowed).
    Y : ndarray
        Targets (k_d, n), samples as columns.
    gamma : float
        The maximum margin, > 0.

    Returns
    -------
    float
        The gap, >= 0.

    Raises
    ------
    ValueError
        If ``X``, ``Y`` or ``gamma`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Sections 2 and 3, the corollaries of the maximum-margin theorems.
    """
    Ws, w = _one_output(Ws)
    w = w / np.prod([np.linalg.norm(W) for W in _nonzero_layers(Ws)])
    X = _validate.matrix(X, "X", w.shape[1])
    y = _validate.signs(Y, X.shape[1])
    return float(_validate.positive(gamma, "gamma") - np.min(y * (w @ X).ravel()))


def rank_one_ratio(W: np.ndarray) -> np.ndarray:
    """``||W||_2 / ||W||_F``: 1 exactly when ``W`` has rank one.

    Parameters
    ----------
    W : ndarray
        (..., m, n), nonzero (each matrix of a stack).

    Returns
    -------
    ndarray
        (...), entries in [1/sqrt(min(m, n)), 1].

    Raises
    ------
    ValueError
        When ``W`` (a matrix of the stack) is 0, where the ratio is undefined, or not finite.

    References
    ----------
    Paper: Ji & Telgarsky, Theorem 2.2 (layers tend to rank one), their Figure 1b.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim < 2 or 0 in W.shape or not np.isfinite(W).all():
        raise ValueError(f"W must be a finite, non-empty array of shape (..., m, n), got shape {W.shape}")
    spectral = np.linalg.svd(W, compute_uv=False)[..., 0]
    frobenius = np.linalg.norm(W, axis=(-2, -1))
    if np.any(frobenius == 0):
        raise ValueError("W must be nonzero: ||W||_2 / ||W||_F is undefined for a zero matrix")
    return spectral / frobenius


def rank_one_tail(W: np.ndarray) -> float:
    """``||W||_F^2 - ||W||_2^2``, the sum of the squared singular values after the first: 0 for rank one.

    Summed from the singular values (no cancellation when the tail is small). Ji and Telgarsky bound it
    by the imbalance that gradient flow conserves, so ``1 - (||W||_2/||W||_F)^2 = tail / ||W||_F^2`` falls
    like ``1 / ||W||_F^2`` while ``||W||_F`` grows.

    Parameters
    ----------
    W : ndarray
        A layer, ndarray (m, n).

    Returns
    -------
    float
        ``||W||_F^2 - ||W||_2^2``, >= 0.

    Raises
    ------
    ValueError
        If ``W`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Theorem 2.2 (and its proof: the layers tend to rank one).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.directions import rank_one_tail
    >>> rank_one_tail(np.diag([3.0, 1.0])), round(rank_one_tail(np.outer([1.0, 2.0], [1.0, 1.0])), 12)
    (1.0, 0.0)
    """
    s = np.linalg.svd(_validate.matrix(W, "W"), compute_uv=False)
    return float(np.sum(s[1:] ** 2))


def smoothed_margin(
    risk: float | np.ndarray, norms: Sequence[float] | np.ndarray, *, n: int, gamma: float, loss: str = "logistic"
) -> float | np.ndarray:
    """Lyu and Li's smoothed normalised margin over ``gamma``: ``l^{-1}(n R) L^{L/2} / (gamma ||theta||^L)``.

    ``||theta||^2 = sum_k ||W_k||_F^2`` over the L layers, and ``l^{-1}`` inverts the loss (logistic:
    ``-log(exp(x) - 1)``; exponential: ``-log x``). Since ``l(min_i y_i W_prod x_i) <= n R`` and
    ``prod_k ||W_k||_F <= (||theta||^2 / L)^{L/2}``, it is at most the margin corollary's ratio
    ``min_i y_i W_prod x_i / (gamma prod_k ||W_k||_F)``; along gradient flow it never decreases once
    ``n R < l(0)`` (Lyu and Li 2020, for networks homogeneous in their weights, as ``W_prod`` is of degree L).

    Parameters
    ----------
    risk : float or ndarray
        Float or ndarray (T,), the risk R (a risk that underflowed to 0 counts as 1e-300).
    norms : sequence of float or ndarray
        Ndarray (L,) or (T, L), ``||W_k||_F`` of each layer.
    n : int
        The number of points
    gamma : float
        > 0, the maximum margin.
    loss : str, optional
        "logistic" or "exponential".

    Returns
    -------
    float or ndarray
        Float or ndarray (T,).

    Raises
    ------
    ValueError
        If ``loss``, ``risk``, ``norms``, ``n`` or ``gamma`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, the margin corollary; Lyu & Li (2020), the smoothed margin (Theorem 4.1).
    """
    if loss not in LOSS_AT_ZERO:
        raise ValueError(f"loss must be one of {sorted(LOSS_AT_ZERO)}, got {loss!r}")
    n, gamma = _validate.integer(n, "n"), _validate.positive(gamma, "gamma")
    risk = np.asarray(risk, dtype=np.float64)
    if risk.ndim > 1 or not np.isfinite(risk).all() or np.any(risk < 0):
        raise ValueError(f"risk must be a finite risk >= 0 or an array (T,) of them, got {risk!r}")
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim not in (1, 2) or norms.shape != (*risk.shape, norms.shape[-1]):
        raise ValueError(f"norms must have shape (L,) or (T, L) to match risk {risk.shape}, got {norms.shape}")
    if not np.isfinite(norms).all() or not np.all(norms > 0):
        raise ValueError("norms must be finite and positive (||W_k||_F of nonzero layers)")
    x = n * np.maximum(risk, 1e-300)
    inverse = -np.log(np.expm1(x)) if loss == "logistic" else -np.log(x)
    L = norms.shape[-1]
    theta = np.sqrt(np.sum(norms**2, axis=-1))
    out = inverse * L ** (L / 2) / (gamma * theta**L)
    return float(out) if out.ndim == 0 else out
