"""Deep linear networks with one-dimensional outputs on linearly separable data.

Ji and Telgarsky train ``W_prod = W_L ... W_1`` (shape (1, k_0)) by gradient descent on the risk
``R(W) = (1/n) sum_i l(y_i W_prod x_i)`` of separable data. This module holds what their theorems
are about: the start of Assumption 1.2 (`gaussian_layers`, `below_loss_at_zero`, both in
`gaussian_start`), the support vectors
of Assumption 2.7, the direction of ``W_prod`` and its angle and margin gap to the maximum-margin
separator ``u-bar`` (`max_margin`, and `one_vs_rest_margins` for several classes), the product normalised by
the layers' norms (`deeplinear.directions`, which holds these quantities), the measurements a run records
(`measurements`), a run stopped the
step before a divergence (`train_until_divergence`), and
Radhakrishnan et al.'s Appendix F start that stays aligned under any loss (`rank_one_start`,
`inner_vectors_moved`, `alignment_measurements`). Step-size schedules are in `deeplinear.schedules`; the
trends and rates over a run's last steps in `deeplinear.asymptotics`.

A network is ``Ws = [W_1, ..., W_L]``, ``W_i`` of shape ``(k_i, k_{i-1})`` with ``k_L = 1``; data ``X`` is
``(k_0, n)``, labels ``Y`` are ``(1, n)`` in {-1, +1}.

Paper: Ji & Telgarsky, Sections 2-3 (Assumptions 1.1, 1.2, 2.7; Theorem 2.2); Radhakrishnan et al.,
Section 4.2 and Appendix F.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.optimize import linprog, nnls

from . import _validate, metrics, network
from ._validate import matrix as _matrix
from .directions import (
    angle_to,
    direction,
    first_layer_alignment,
    layer_margin_gap,
    margin_gap,
    normalised_product,
    product_alignment,
    rank_one_ratio,
    rank_one_tail,
)
from .recording import TrainResult, record_schedule
from .schedules import LOSS_AT_ZERO
from .training import train, until_divergence

__all__ = [
    "OnData",
    "alignment_measurements",
    "below_loss_at_zero",
    "gaussian_layers",
    "gaussian_start",
    "inner_vectors_moved",
    "max_margin",
    "measurements",
    "one_vs_rest_margins",
    "rank_one_start",
    "support_vectors",
    "train_until_divergence",
]


def gaussian_layers(
    widths: Sequence[int], *, scale: float = 0.2, rng: int | np.random.Generator | None = None
) -> list[np.ndarray]:
    """Layers ``W_i`` (widths[i], widths[i-1]) with independent entries ``N(0, scale^2 / widths[i-1])``.

    Drawn layer by layer, first layer first (one ``rng.standard_normal`` call per layer).

    Parameters
    ----------
    widths : sequence of int
        [k_0, ..., k_L], positive integers, L >= 1.
    scale : float, optional
        Positive float, the standard deviation times ``sqrt(fan-in)``.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    list of ndarray
        List of L arrays (k_i, k_{i-1}).

    Raises
    ------
    ValueError
        If ``rng``, ``widths`` or ``scale`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Section 2 (any start with Assumption 1.2; a small Gaussian one here).
    """
    rng = _validate.rng(rng)
    ws = _validate.widths(widths)
    scale = _validate.positive(scale, "scale")
    return [rng.standard_normal((b, a)) * scale / np.sqrt(a) for a, b in zip(ws[:-1], ws[1:])]


def below_loss_at_zero(Ws: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray, loss: str = "logistic") -> list:
    """The network, with its last layer's sign flipped if needed so that ``R(W(0)) < l(0)``.

    For a small start, ``R(+-W_prod) = l(0) +- l'(0) mean_i y_i W_prod x_i + O(||W_prod||^2)``, so one of
    the two signs has ``R < l(0)`` unless the first-order term vanishes. For a large start both signs
    may have ``R >= l(0)`` (convexity only gives ``R(W_prod) + R(-W_prod) >= 2 l(0)``); the flipped
    network is returned then, and the caller should check ``R``.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of L arrays (k_i, k_{i-1}), k_L = 1. Not modified.
    X : ndarray
        (k_0, n)
    Y : ndarray
        (1, n), labels in {-1, +1}.
    loss : str, optional
        "logistic" or "exponential".

    Returns
    -------
    list
        List of L arrays: ``Ws`` itself or ``Ws[:-1] + [-Ws[-1]]``.

    Raises
    ------
    ValueError
        If ``loss`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Assumption 1.2.
    """
    if loss not in LOSS_AT_ZERO:
        raise ValueError(f"loss must be one of {sorted(LOSS_AT_ZERO)}, got {loss!r}")
    Ws = list(Ws)
    if network.loss(Ws, X, Y, loss) >= LOSS_AT_ZERO[loss]:
        Ws = Ws[:-1] + [-Ws[-1]]
    return Ws


def gaussian_start(
    widths: Sequence[int],
    X: np.ndarray,
    Y: np.ndarray,
    *,
    scale: float = 0.2,
    loss: str = "logistic",
    rng: int | np.random.Generator | None = None,
) -> list[np.ndarray]:
    """`gaussian_layers`, then `below_loss_at_zero`: a small Gaussian start with ``R(W(0)) < l(0)``.

    Parameters
    ----------
    widths : sequence of int
        [k_0, ..., k_L].
    X : ndarray
        Inputs (k_0, n), samples as columns (None: the identity, where allowed).
    Y : ndarray
        Targets (k_d, n), samples as columns.
    scale : float, optional
        Standard deviation of the entries, > 0.
    loss : str, optional
        Loss: "squared", "logistic", "exponential", "cross_entropy" or a callable (see `deeplinear.losses`).
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    list of ndarray
        The layers (k_i, k_{i-1}).

    Raises
    ------
    ValueError
        If ``rng`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Assumption 1.2.
    """
    rng = _validate.rng(rng)
    return below_loss_at_zero(gaussian_layers(widths, scale=scale, rng=rng), X, Y, loss)


def support_vectors(X: np.ndarray, Y: np.ndarray, u_bar: np.ndarray, gamma: float, *, rtol: float = 1e-9) -> np.ndarray:
    """Which points are support vectors: ``y_i <u_bar, x_i> = gamma`` up to ``rtol * max(gamma, 1)``.

    Parameters
    ----------
    X : ndarray
        (k_0, n), the points.
    Y : ndarray
        (n,) or (1, n), labels in {-1, +1}.
    u_bar : ndarray
        (k_0,), the maximum-margin direction, as `max_margin` returns it.
    gamma : float
        The maximum margin, > 0, as `max_margin` returns it.
    rtol : float, optional
        Relative tolerance, >= 0.

    Returns
    -------
    ndarray
        (n,) of bools. Assumption 2.7 asks that the support vectors span ``R^{k_0}``.

    Raises
    ------
    ValueError
        If ``X`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Section 2 and Assumption 2.7.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(Y, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or y.shape != (X.shape[1],) or np.shape(u_bar) != (X.shape[0],):
        raise ValueError(
            f"X (k_0, n), Y (n,) or (1, n) and u_bar (k_0,) must agree, got {X.shape}, {np.shape(Y)}, {np.shape(u_bar)}"
        )
    margins = y * (np.asarray(u_bar) @ X)
    return np.abs(margins - gamma) <= rtol * max(gamma, 1.0)


def measurements(X: np.ndarray, Y: np.ndarray, *, alignment: bool = True) -> dict[str, Callable]:
    """What a run on separable data records, as `deeplinear.train`'s ``metrics=`` mapping.

    Parameters
    ----------
    X : ndarray
        Inputs (k_0, n), samples as columns (None: the identity, where allowed).
    Y : ndarray
        Targets (k_d, n), samples as columns.
    alignment : bool, optional
        Also record the layers' alignment.

    Returns
    -------
    dict
        Dict name -> fn(Ws): "angle" (`angle_to` u-bar, degrees), "gap" (`margin_gap`), "direction"
        (`direction`, (k_0,)), "product" (``W_prod``, (k_0,)), "first_layer" (``W_1``, (k_1, k_0)), "norms"
        (``||W_i||_F``, (L,)), "tails" (`rank_one_tail` of each layer, (L,)), "rank_one" (`rank_one_ratio` of
        each layer, (L,)), "product_v1" (`product_alignment`), "v1_ubar" (`first_layer_alignment` with u-bar),
        "layer_gap" (`layer_margin_gap`), "normalised_distance" (``||normalised_product - u_bar||``) and, with
        ``alignment``, "alignment" (`metrics.top_alignment`, (L-1,)). u-bar and gamma come from
        `max_margin` (computed once here).

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Theorem 2.2, their Figure 1.
    """
    u_bar, gamma = max_margin(X, Y)
    tracked = {
        "angle": lambda Ws: angle_to(Ws, u_bar),
        "gap": lambda Ws: margin_gap(Ws, X, Y, gamma),
        "direction": direction,
        "product": lambda Ws: network.end_to_end(Ws).ravel(),
        "first_layer": lambda Ws: np.array(Ws[0], dtype=np.float64),
        "norms": lambda Ws: [np.linalg.norm(W) for W in Ws],
        "tails": lambda Ws: [rank_one_tail(W) for W in Ws],
        "rank_one": lambda Ws: [rank_one_ratio(W) for W in Ws],
        "product_v1": product_alignment,
        "v1_ubar": lambda Ws: first_layer_alignment(Ws, u_bar),
        "layer_gap": lambda Ws: layer_margin_gap(Ws, X, Y, gamma),
        "normalised_distance": lambda Ws: float(np.linalg.norm(normalised_product(Ws) - u_bar)),
    }
    if alignment:
        tracked["alignment"] = metrics.top_alignment
    return tracked


def alignment_measurements(Ws0: Sequence[np.ndarray]) -> dict[str, Callable]:
    """What a run from an aligned start records, as `deeplinear.train`'s ``metrics=`` mapping.

    Parameters
    ----------
    Ws0 : sequence of ndarray
        The starting network, layers (k_i, k_{i-1}) (or stacked (S, k_i, k_{i-1})).

    Returns
    -------
    dict
        Dict name -> fn(Ws): "alignment" (`metrics.top_alignment`, (L-1,)), "rank_one"
        (`rank_one_ratio` of each layer, (L,)) and "moved" (`inner_vectors_moved` since ``Ws0``).

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Radhakrishnan et al., Definition 3 and Appendix F.
    """
    return {
        "alignment": metrics.top_alignment,
        "rank_one": lambda Ws: [rank_one_ratio(W) for W in Ws],
        "moved": inner_vectors_moved(Ws0),
    }


def rank_one_start(widths: Sequence[int], *, rng: int | np.random.Generator | None = None) -> list[np.ndarray]:
    """Appendix F's start: ``W_1 = u_1 w^T`` and ``W_i = s_i u_i u_{i-1}^T`` (2 <= i <= L), ``u_L = 1``.

    Draws, in this order, the inner directions ``u_1 .. u_{L-1}`` (standard normal, normalised),
    ``w ~ N(0, I / k_0)`` and ``s_2 .. s_L`` (uniform on [0.5, 1); one draw of L - 1 values, of which
    the first is unused). Every layer is rank one and adjacent layers are aligned; for a network with
    one output, gradient descent under any loss keeps it so (only ``w`` and the ``s_i`` move).

    Parameters
    ----------
    widths : sequence of int
        [k_0, ..., k_L] with k_L = 1 and L >= 2.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    list of ndarray
        List of L arrays (k_i, k_{i-1}).

    Raises
    ------
    ValueError
        If ``rng`` or ``widths`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Radhakrishnan et al., Section 4.2 and Appendix F (derived here: the appendix is not in our source).
    """
    rng = _validate.rng(rng)
    ws = _validate.widths(widths)
    if len(ws) < 3 or ws[-1] != 1:
        raise ValueError(f"widths must be [k_0, ..., k_L] with L >= 2 and k_L = 1, got {widths!r}")
    us = [rng.standard_normal(k) for k in ws[1:-1]]
    us = [u / np.linalg.norm(u) for u in us] + [np.ones(1)]
    w = rng.standard_normal(ws[0]) / np.sqrt(ws[0])
    s = rng.uniform(0.5, 1.0, len(ws) - 1)
    return [np.outer(us[0], w)] + [s[i] * np.outer(us[i], us[i - 1]) for i in range(1, len(us))]


def inner_vectors_moved(Ws0: Sequence[np.ndarray]) -> Callable[[Sequence[np.ndarray]], float]:
    """``Ws -> max_i (1 - |u_i(Ws)^T u_i(Ws0)|)`` over the inner layers ``W_2 … W_{L-1}``'s top left
    singular vectors (0 for L <= 2): how far the inner singular vectors moved since ``Ws0``.

    Parameters
    ----------
    Ws0 : sequence of ndarray
        The starting network, layers (k_i, k_{i-1}) (or stacked (S, k_i, k_{i-1})).

    Returns
    -------
    callable
        ``Ws -> max_i (1 - |u_i(Ws)^T u_i(Ws0)|)``.

    References
    ----------
    Paper: Radhakrishnan et al., Definition 3 (b) (inner singular vectors fixed), Appendix F.
    """
    U0 = [np.linalg.svd(W)[0][:, 0] for W in list(Ws0)[1:-1]]

    def moved(Ws: Sequence[np.ndarray]) -> float:
        return max([1.0 - abs(float(np.linalg.svd(W)[0][:, 0] @ u)) for W, u in zip(list(Ws)[1:-1], U0)] + [0.0])

    return moved


class OnData:
    """A loss of ``W_prod`` on the data, for `deeplinear.train` run on the identity (``X=None``).

    ``train(Ws, None, None, loss=OnData(X, Y, "logistic"), ...)`` makes the same gradient steps as
    ``train(Ws, X, Y, loss="logistic", ...)``: the network's output on the identity is ``W_prod`` (1, k_0),
    and this callable returns the risk ``L(W_prod X)`` and its gradient ``dL/dF X^T``. A network with one
    output then costs ``sum_i k_i k_{i-1} k_0`` per pass instead of ``sum_i k_i k_{i-1} n``.

    Parameters
    ----------
    X : ndarray
        (k_0, n)
    Y : ndarray
        (1, n), labels in {-1, +1}.
    loss : str, optional
        "logistic" or "exponential".

    References
    ----------
    Paper: Ji & Telgarsky, Section 2 (the risk depends on the network only through ``W_prod``).
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, loss: str = "logistic") -> None:
        from .losses import _RAW

        if loss not in LOSS_AT_ZERO:
            raise ValueError(f"loss must be one of {sorted(LOSS_AT_ZERO)}, got {loss!r}")
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.Y = np.asarray(Y, dtype=np.float64).reshape(1, -1)
        if self.X.ndim != 2 or self.Y.shape[1] != self.X.shape[1] or not np.all(np.abs(self.Y) == 1):
            raise ValueError(f"X (k_0, n) and Y (1, n) with labels +-1 must agree, got {self.X.shape}, {np.shape(Y)}")
        self.loss, self.fn, self.XT = loss, _RAW[loss], np.ascontiguousarray(self.X.T)

    def __repr__(self) -> str:
        return f"OnData(k_0={self.X.shape[0]}, n={self.X.shape[1]}, loss={self.loss!r})"

    def validate(self, out_shape: tuple[int, int], Y: object = None) -> None:
        """Check that the network has one output and runs on the identity (``X=None``).

        Parameters
        ----------
        out_shape : tuple of int
            The shape of the network output, which must be ``(1, k_0)``.
        Y : object, optional
            Ignored (the labels are held here).

        Raises
        ------
        ValueError
            If ``out_shape`` is not ``(1, k_0)``.
        """
        if tuple(out_shape) != (1, self.X.shape[0]):
            raise ValueError(
                f"OnData needs a network with one output run on the identity (X=None): output (1, {self.X.shape[0]}), "
                f"got {tuple(out_shape)}"
            )

    def __call__(self, P: np.ndarray, Y: object = None) -> tuple:
        value, dF = self.fn(P @ self.X, self.Y)
        return value, dF @ self.XT


def train_until_divergence(
    Ws: Sequence[np.ndarray], X: np.ndarray | None, Y: np.ndarray | None, *, steps: int, record: Any, **kw: Any
) -> TrainResult:
    """`deeplinear.train` for ``steps`` steps, or up to the step before gradient descent diverges.

    As `deeplinear.training.until_divergence` with ``train(Ws, X, Y, steps=k, record=..., **kw)``: where the
    loss diverges at step ``s``, the run is repeated for ``s - 1`` steps, recording the steps of ``record`` up to
    ``s - 1`` and ``s - 1`` itself. A fixed step can be above a deep network's stability edge late in training,
    since the curvature of its risk grows with its weights.

    Parameters
    ----------
    Ws : sequence of ndarray
        As for `deeplinear.train` (``lr``, ``loss``, ``metrics``, ...).
    X : ndarray or None
        As for `deeplinear.train` (``lr``, ``loss``, ``metrics``, ...).
    Y : ndarray or None
        As for `deeplinear.train` (``lr``, ``loss``, ``metrics``, ...).
    steps : int
        >= 0
    record : object
        As for `deeplinear.train`.
    **kw : object
        As for `deeplinear.train` (``lr``, ``loss``, ``metrics``, ...).

    Returns
    -------
    TrainResult
        `deeplinear.TrainResult`, with ``diverged_at`` None or the step at which the loss diverged.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: none (the book's handling of a step above the stability edge).
    """
    schedule = record_schedule(steps, record)

    def attempt(k: int) -> TrainResult:
        return train(Ws, X, Y, steps=k, record=np.union1d(schedule[schedule <= k], [k]).astype(int), **kw)

    return until_divergence(attempt, steps)


def max_margin(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Hard-margin separator through the origin: ``u = argmax_{||u||=1} min_i y_i <u, x_i>``.

    Solves ``min ||w||^2 s.t. y_i w^T x_i >= 1`` as a least-distance program via non-negative
    least squares (Lawson & Hanson, ch. 23), then polishes: on the support set ``S`` it takes the
    minimum-norm ``w`` with ``y_i w^T x_i = 1`` (which lies in the span of the ``y_i x_i``), and keeps
    it if it is primal feasible and dual feasible (``w = sum_S alpha_i y_i x_i`` with
    ``alpha >= 0``). Then ``u = w / ||w||`` and ``gamma = 1 / ||w||``.

    Parameters
    ----------
    X : ndarray
        (k_0, n), samples as columns.
    y : ndarray
        (n,) or (1, n), labels in {-1, +1}.

    Returns
    -------
    u : ndarray
        (k_0,), unit vector (Ji & Telgarsky's u-bar).
    gamma : float
        The maximum margin.

    Raises
    ------
    ValueError
        When the data are not linearly separable through the origin.

    References
    ----------
    Paper: Ji & Telgarsky, Section 2 (gamma and u-bar), Theorem 2.2.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.separable import max_margin
    >>> X, y = np.array([[1.0, -1.0], [0.0, 0.0]]), np.array([1.0, -1.0])
    >>> u, gamma = max_margin(X, y)
    >>> np.round(u, 6).tolist(), round(gamma, 6)
    ([1.0, 0.0], 1.0)
    """
    X = _matrix(X, "X")
    k0, n = X.shape
    y = np.asarray(y, dtype=np.float64)
    if n < 1 or y.shape not in ((n,), (1, n)) or not np.isin(y, (-1.0, 1.0)).all():
        raise ValueError(f"y must have shape ({n},) or (1, {n}) with entries in {{-1, +1}}, got shape {y.shape}")
    Z = X * y.reshape(n)  # columns z_i = y_i x_i
    feas = linprog(np.zeros(k0), A_ub=-Z.T, b_ub=-np.ones(n), bounds=(None, None), method="highs")
    if feas.status == 2:
        raise ValueError(
            "X, y: the data are not linearly separable through the origin (no w with y_i <w, x_i> > 0 for all i)"
        )
    E = np.vstack([Z, np.ones((1, n))])
    f = np.zeros(k0 + 1)
    f[-1] = 1.0
    beta, _ = nnls(E, f)
    res = E @ beta - f
    w = -res[:k0] / res[k0]
    support = np.flatnonzero(beta > 0)
    if support.size:
        ZS = Z[:, support]
        wp = np.linalg.lstsq(ZS.T, np.ones(support.size), rcond=None)[0]
        dual_gap = nnls(ZS, wp)[1]
        if np.min(Z.T @ wp) >= 1 - 1e-12 and dual_gap <= 1e-10 * np.linalg.norm(wp):
            w = wp
    norm = np.linalg.norm(w)
    return w / norm, float(1.0 / norm)


def one_vs_rest_margins(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The hard margin through the origin of each class against the rest (0 where not separable).

    For each class ``c`` in ``0 .. labels.max()``, with ``y_j = +1`` for samples of class ``c`` and ``-1``
    otherwise, `max_margin` gives the separator ``u``; its margin is checked on the data:
    ``min(gamma, min_j y_j <u, x_j>)``. A class that `max_margin` finds not separable scores 0.

    Parameters
    ----------
    X : ndarray
        (k_0, n), samples as columns.
    labels : ndarray
        (n,) of integer class labels >= 0.

    Returns
    -------
    ndarray
        (labels.max() + 1,); all positive exactly when every one-vs-rest problem is separable.

    Raises
    ------
    ValueError
        If ``labels`` or ``X`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6 (the MNIST subset is linearly separable); Ji & Telgarsky, Section 2.
    """
    labels = np.asarray(labels)
    X = np.asarray(X, dtype=np.float64)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or labels.size == 0 or labels.min() < 0:
        raise ValueError(f"labels must be a non-empty 1-D array of integers >= 0, got {labels!r}")
    if X.ndim != 2 or X.shape[1] != labels.size:
        raise ValueError(f"X must have shape (k_0, n) with n = {labels.size} columns, got {X.shape}")
    margins = []
    for c in range(int(labels.max()) + 1):
        y = np.where(labels == c, 1.0, -1.0)
        try:
            u, gamma = max_margin(X, y)
        except ValueError:  # raised when the classes are not separable
            margins.append(0.0)
            continue
        margins.append(min(gamma, float(np.min(y * (u @ X)))))
    return np.array(margins)
