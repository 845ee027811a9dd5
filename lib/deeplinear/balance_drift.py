"""How far gradient descent moves balancedness, measured over runs: from starts of each scale
(`start_scale_runs`), its scaling with the step (`drift_scaling`), the drift accumulated step by step against
the one-step formula (`accumulated_drift_error`), and Du et al.'s balancedness of convolutional filters
(`filter_norm_differences`, `filter_balance_drift`, `first_order_balance`). The imbalance itself and a
step's exact drift are in `deeplinear.balance`.

Shapes follow the package convention: ``W_i`` is ``(k_i, k_{i-1})``.

Paper: Radhakrishnan et al., Section 2 (balancedness: Arora et al. 2018, Du et al. 2018).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _validate
from .balance import drift, drift_norm, nuclear_imbalance, relative_error, relative_imbalance, start_size, step_drift
from .metrics import _as_network, alignment, balancedness, invariance_to
from .minimum_norm import norm_ratio, nuclear_norm
from .network import gradients
from .stability import stable_learning_rate
from .structures import Structure
from .training import train

__all__ = [
    "filter_norm_differences",
    "FilterDrift",
    "filter_balance_drift",
    "first_order_balance",
    "StartScales",
    "start_scale_runs",
    "unit_learning_rate",
    "DriftScaling",
    "drift_scaling",
    "tracked_balancedness",
    "accumulated_drift_error",
]


def filter_norm_differences(coefficients: np.ndarray) -> np.ndarray:
    """Du et al.'s balancedness of structured layers: ``||c_i||^2 - ||c_{i+1}||^2`` for consecutive layers.

    Parameters
    ----------
    coefficients : ndarray
        (..., d, r), the coefficients (filter taps) of d layers of one structure, e.g.
        the output of `deeplinear.theorem2.coefficient_gradient_descent`.

    Returns
    -------
    ndarray
        (..., d-1).

    Raises
    ------
    ValueError
        If ``coefficients`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (Du et al. 2018: conserved under gradient flow for convolutional layers).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.balance_drift import filter_norm_differences
    >>> filter_norm_differences(np.array([[3.0, 4.0], [1.0, 0.0]]))  # 25 - 1
    array([24.])
    """
    c = np.asarray(coefficients, dtype=np.float64)
    if c.ndim < 2 or c.shape[-2] < 2 or not np.isfinite(c).all():
        raise ValueError(f"coefficients must be finite, of shape (..., d, r) with d >= 2 layers, got {c.shape}")
    norms = np.sum(c**2, axis=-1)
    return norms[..., :-1] - norms[..., 1:]


@dataclass(frozen=True)
class FilterDrift:
    """How far Du et al.'s balancedness moved in runs of equal training time ``lr * steps``.

    ``lrs`` (L,), ``steps`` (L,); ``filter`` (L,), the largest change of ``||c_i||^2 - ||c_{i+1}||^2``
    (:func:`filter_norm_differences`), and ``matrix`` (L,), that of ``||W_i||_F^2 - ||W_{i+1}||_F^2``, each
    relative to the largest change of one layer's squared norm (coefficients, resp. matrix) in the same run.

    Attributes
    ----------
    lrs : ndarray
        (L,), the learning rates.
    steps : ndarray
        (L,), the steps run at each rate (equal ``lr * steps``).
    filter : ndarray
        (L,), the largest change of ``||c_i||^2 - ||c_{i+1}||^2``, relative.
    matrix : ndarray
        (L,), the largest change of ``||W_i||_F^2 - ||W_{i+1}||_F^2``, relative.
    """

    lrs: np.ndarray
    steps: np.ndarray
    filter: np.ndarray
    matrix: np.ndarray


def _relative_change(before: np.ndarray, after: np.ndarray) -> float:
    norms0, norms1 = np.sum(before**2, axis=-1), np.sum(after**2, axis=-1)
    moved = np.max(np.abs(norms1 - norms0))
    differences = (norms1[:-1] - norms1[1:]) - (norms0[:-1] - norms0[1:])
    return float(np.max(np.abs(differences)) / moved) if moved > 0 else 0.0


def filter_balance_drift(
    structure: Structure,
    Ws0: Sequence[np.ndarray],
    X: np.ndarray | None,
    Y: np.ndarray,
    *,
    lrs: Sequence[float],
    time: float,
) -> FilterDrift:
    """Gradient descent on the coefficients (`deeplinear.train` with ``structure=``) for a training time
    ``time`` at each learning rate: ``round(time / lr)`` steps from ``Ws0``.

    Under gradient flow ``d||c_i||^2/dt = -2 <W_i, dL/dW_i>``, the same for every layer (the network is
    homogeneous), so ``filter`` tends to 0 like ``lr``; the matrices' squared norms weigh each tap by
    ``||A_j||_F^2`` and keep no such law unless the basis is orthonormal.

    Parameters
    ----------
    structure : Structure
        `deeplinear.structures.Structure` of every layer.
    Ws0 : sequence of ndarray
        List of d >= 2 arrays in ``structure``. Not modified.
    X : ndarray or None
        (n_in, n), or None for the identity.
    Y : ndarray
        (n_out, n).
    lrs : sequence of float
        Positive learning rates.
    time : float
        > 0, with ``time / lr >= 1`` for every rate.

    Returns
    -------
    FilterDrift
        FilterDrift.

    Raises
    ------
    ValueError
        If ``structure``, ``Ws0``, ``lrs`` or ``time`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (Du et al. 2018, balancedness of convolutional layers).
    """
    if not isinstance(structure, Structure):
        raise ValueError(f"structure must be a deeplinear.structures.Structure, got {structure!r}")
    if len(Ws0) < 2:
        raise ValueError(f"Ws0 must hold at least 2 layers, got {len(Ws0)}")
    rates = np.asarray(lrs, dtype=np.float64)
    if rates.ndim != 1 or rates.size < 1 or not np.all(np.isfinite(rates) & (rates > 0)):
        raise ValueError(f"lrs must be a non-empty sequence of positive numbers, got {lrs!r}")
    _validate.number(time, "time", f"a number >= max(lrs) = {rates.max()}", low=rates.max())
    steps = np.rint(time / rates).astype(int)
    c0 = structure.coefficients(np.stack(Ws0))
    W0 = np.stack(Ws0).reshape(len(Ws0), -1)
    filt, mat = [], []
    for lr, t in zip(rates, steps):
        run = train(Ws0, X, Y, lr=float(lr), steps=int(t), structure=structure)
        filt.append(_relative_change(c0, np.stack(run.coefficients)))
        mat.append(_relative_change(W0, np.stack(run.weights).reshape(len(Ws0), -1)))
    return FilterDrift(rates, steps, np.array(filt), np.array(mat))


def first_order_balance(
    structure: Structure, Ws: Sequence[np.ndarray], X: np.ndarray | None, Y: np.ndarray
) -> tuple[float, float]:
    """How fast gradient flow moves Du et al.'s balancedness of structured layers, at ``Ws``, relative.

    With ``c_i`` the coefficients of layer ``i`` and ``g_i = <A_j, dL/dW_i>`` their gradient, gradient flow
    moves ``||c_i||^2`` at rate ``-2 <c_i, g_i> = -2 <W_i, dL/dW_i>``, the same for every layer of a linear
    network, so the filters' differences are conserved; the matrices' squared norms move at rate
    ``-2 sum_j ||A_j||_F^2 c_ij g_ij``, which differs between layers unless every ``||A_j||_F`` is the same.

    Parameters
    ----------
    structure : Structure
        `deeplinear.structures.Structure` of every layer.
    Ws : sequence of ndarray
        List of d >= 2 arrays in ``structure``.
    X : ndarray or None
        (n_in, n), or None for the identity.  Y : ndarray (n_out, n).
    Y : ndarray
        Targets (k_d, n), samples as columns.

    Returns
    -------
    filters : float
        ``max_i |r_i - r_{i+1}| / max_i |r_i|`` with ``r_i = <c_i, g_i>``: rounding.
    matrices : float
        The same with ``r_i = sum_j ||A_j||^2 c_ij g_ij``: 0 only for equal ``||A_j||``.

    Raises
    ------
    ValueError
        If ``structure`` or ``Ws`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (Du et al. 2018, balancedness of convolutional layers).
    """
    if not isinstance(structure, Structure):
        raise ValueError(f"structure must be a deeplinear.structures.Structure, got {structure!r}")
    if len(Ws) < 2:
        raise ValueError(f"Ws must hold at least 2 layers, got {len(Ws)}")
    c = structure.coefficients(np.stack(Ws))
    g = structure.adjoint(np.stack(gradients(list(Ws), X, Y)))
    out = []
    for rates in (np.sum(c * g, axis=-1), np.sum(structure.norms2 * c * g, axis=-1)):
        top = np.max(np.abs(rates))
        out.append(float(np.max(np.abs(np.diff(rates))) / top) if top > 0 else 0.0)
    return out[0], out[1]


@dataclass(frozen=True)
class StartScales:
    """Two-layer networks trained from Gaussian starts of several scales (:func:`start_scale_runs`).

    ``scales`` (S,), relative to the solution's; ``starts`` and ``weights``, the two layers (S, k, k) at the start
    and at the end; ``rates`` (S,), the learning rates; ``steps``, the steps run; per start: ``gaps``, the
    relative excess norm ``norm_ratio - 1`` at the end (:func:`norm_ratio`), ``alignment``, the released score
    at the end (`deeplinear.metrics.alignment`), ``start_size`` (:func:`start_size`), ``imbalance``, the start's
    ``||W_2^T W_2 - W_1 W_1^T||_*`` over ``2 ||P||_*`` (:func:`nuclear_imbalance`), and ``start_balancedness``,
    the same in Frobenius norm (`deeplinear.metrics.balancedness`).

    Attributes
    ----------
    scales : ndarray
        (S,), start scales relative to the solution's.
    starts : list of ndarray
        The two layers (S, k, k) at the start.
    weights : list of ndarray
        The two layers (S, k, k) at the end.
    rates : ndarray
        (S,), the learning rates.
    steps : int
        The steps run.
    gaps : ndarray
        (S,), the relative excess norm ``norm_ratio - 1`` at the end.
    alignment : ndarray
        (S,), the released alignment score at the end.
    start_size : ndarray
        (S,), `start_size` of each start.
    imbalance : ndarray
        (S,), the start's nuclear imbalance (`nuclear_imbalance`).
    start_balancedness : ndarray
        (S,), the start's imbalance in Frobenius norm (`deeplinear.metrics.balancedness`).
    """

    scales: np.ndarray
    starts: list[np.ndarray]
    weights: list[np.ndarray]
    rates: np.ndarray
    steps: int
    gaps: np.ndarray
    alignment: np.ndarray
    start_size: np.ndarray
    imbalance: np.ndarray
    start_balancedness: np.ndarray


def start_scale_runs(
    X: np.ndarray,
    Y: np.ndarray,
    scales: Sequence[float],
    *,
    lr: float,
    steps: int,
    stop_below: float | None = None,
    rng: int | np.random.Generator | None = None,
) -> StartScales:
    """Train a two-layer network ``W_2 W_1`` (k x k layers) from Gaussian starts of relative scales ``scales``.

    With ``P = Y X^+`` (k x k), layer entries have standard deviation ``s sqrt(||P||_* / k) / sqrt(k)``, so that
    a start's squared norm is about ``s^2 ||P||_*``. All starts run in one stacked run (`deeplinear.train`),
    each at ``min(lr, its stable rate)`` (`deeplinear.stability.stable_learning_rate`), for ``steps`` steps or
    until every loss is below ``stop_below``.

    Parameters
    ----------
    X : ndarray
        Ndarrays (k, n).
    Y : ndarray
        Ndarrays (k, n).
    scales : sequence of float
        S positive numbers.
    lr : float
        > 0, the largest learning rate.
    steps : int
        >= 0, the most steps.
    stop_below : float or None, optional
        Float or None.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`). draws the first layers (S, k, k), then the
        second ones.

    Returns
    -------
    StartScales
        StartScales.

    Raises
    ------
    ValueError
        If ``rng``, ``X``, ``scales`` or ``Y`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Proposition 2 and the small-initialisation argument after it (Azizan et al. 2019).
    """
    rng = _validate.rng(rng)
    X, Y = _validate.matrices(X, "X", (2,)), _validate.matrices(Y, "Y", (2,))
    k = X.shape[0]
    if Y.shape != X.shape:
        raise ValueError(f"X and Y must be (k, n) arrays of the same shape, got {X.shape} and {Y.shape}")
    scales = np.asarray(scales, dtype=np.float64)
    if scales.ndim != 1 or scales.size < 1 or not np.all(np.isfinite(scales) & (scales > 0)):
        raise ValueError(f"scales must be a non-empty sequence of positive numbers, got {scales!r}")
    P = Y @ np.linalg.pinv(X)
    if not np.any(P):
        raise ValueError("X, Y: the least-squares solution P = Y X^+ is 0, so the starts have no scale to follow")
    unit = np.sqrt(nuclear_norm(P) / k)
    starts = [rng.standard_normal((len(scales), k, k)) for _ in range(2)]
    starts = [W * (unit * scales)[:, None, None] / np.sqrt(k) for W in starts]
    rates = np.minimum(lr, stable_learning_rate(X, P, starts))
    run = train(starts, X, Y, lr=rates, steps=steps, stop_below=stop_below)
    end = run.weights
    norm = 2 * nuclear_norm(P)
    return StartScales(
        scales=scales,
        starts=starts,
        weights=end,
        rates=rates,
        steps=int(run.history.steps[-1]),
        gaps=norm_ratio(*end) - 1.0,
        alignment=alignment(end)[:, 0],
        start_size=start_size(starts, end),
        imbalance=nuclear_imbalance(starts)[:, 0] / norm,
        start_balancedness=balancedness(starts)[:, 0] / norm,
    )


def unit_learning_rate(Ws: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> float:
    """The learning rate at which one gradient step moves the weights by their own norm: ``||W|| / ||G||``
    (Frobenius norms over all layers together).

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays
    grads : sequence of ndarray
        Their gradients, the same shapes.

    Returns
    -------
    float
        > 0.

    Raises
    ------
    ValueError
        When every gradient is 0 (no step moves the weights) or every layer is 0.

    References
    ----------
    Paper: Section 2 (balancedness); the book's scale for probing the drift of gradient descent.
    """
    layers, G = _as_network(Ws), _as_network(grads, "grads")
    if [W.shape for W in layers] != [g.shape for g in G]:
        raise ValueError(f"grads must have the shapes of Ws, got {[g.shape for g in G]}")
    weights, steps = sum(np.sum(W**2) for W in layers), sum(np.sum(g**2) for g in G)
    if steps == 0 or weights == 0:
        raise ValueError("Ws, grads: every gradient is 0 or every layer is 0: no step moves the weights by their norm")
    return float(np.sqrt(weights / steps))


@dataclass(frozen=True)
class DriftScaling:
    """How the drift of the imbalance scales with the learning rate (:func:`drift_scaling`).

    ``lrs`` (7,), one-step probes; ``per_step`` and ``printed`` (7,), the change of the imbalance after one step
    from the same weights (Arora and Du's form and the paper's printed form, :func:`drift_norm`);
    ``fixed_lrs`` (4,), ``fixed_time`` (4,), its change over a fixed training time; and the slopes of
    least-squares lines through them on log-log axes.

    Attributes
    ----------
    lrs : ndarray
        (7,), the one-step probe rates.
    per_step : ndarray
        (7,), the change of the imbalance after one step (Arora and Du's form).
    printed : ndarray
        (7,), the same in the paper's printed form.
    fixed_lrs : ndarray
        (4,), the rates of the fixed-time runs.
    fixed_time : ndarray
        (4,), the change over a fixed training time.
    per_step_slope : float
        Log-log slope of ``per_step`` against ``lrs``.
    printed_slope : float
        Log-log slope of ``printed`` against ``lrs``.
    fixed_time_slope : float
        Log-log slope of ``fixed_time`` against ``fixed_lrs``.
    """

    lrs: np.ndarray
    per_step: np.ndarray
    printed: np.ndarray
    fixed_lrs: np.ndarray
    fixed_time: np.ndarray
    per_step_slope: float
    printed_slope: float
    fixed_time_slope: float


def drift_scaling(Ws: Sequence[np.ndarray], X: np.ndarray | None, Y: np.ndarray, *, lr: float) -> DriftScaling:
    """One-step probes at rates ``u * 1e-5 … u * 1e-2`` (7, log-spaced; ``u`` = :func:`unit_learning_rate`
    at ``Ws``), and runs over the fixed training time ``100 lr`` at ``lr / 8, lr / 4, lr / 2, lr``.

    The probes' rates are set by the weights' own scale, so that the change of the imbalance is far above
    rounding whatever the data; per step it is ``lr^2 (G_{i+1}^T G_{i+1} - G_i G_i^T)`` (slope 2), the printed
    form's first order (slope 1); over a fixed time the steps' ``lr^2`` terms add up to order ``lr`` (slope 1).

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}) (equal input widths for the printed form). Not modified.
    X : ndarray or None
        (k_0, n) or None
    Y : ndarray
        (k_d, n).
    lr : float
        > 0, the largest rate of the fixed-time runs (below the stability edge).

    Returns
    -------
    DriftScaling
        DriftScaling.

    Raises
    ------
    ValueError
        If ``lr`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (balancedness, Arora et al. 2018, Du et al. 2018).
    """
    layers = _as_network(Ws)
    _validate.positive(lr, "lr")
    lrs = unit_learning_rate(layers, gradients(layers, X, Y)) * np.geomspace(1e-5, 1e-2, 7)
    stacked = [np.broadcast_to(W, (len(lrs), *W.shape)).copy() for W in layers]
    one_step = train(stacked, X, Y, lr=lrs, steps=1, record=[0]).weights
    per_step = drift_norm(stacked, one_step)
    printed = drift_norm(stacked, one_step, printed=True)
    fixed_lrs = lr * 2.0 ** -np.arange(3, -1, -1)
    ends = [train(layers, X, Y, lr=r, steps=round(100 * lr / r), record=[0]) for r in fixed_lrs]
    fixed_time = np.array([drift_norm(layers, end.weights) for end in ends])

    def slope(x, y):
        return float(np.polyfit(np.log(x), np.log(y), 1)[0])

    return DriftScaling(
        lrs,
        per_step,
        printed,
        fixed_lrs,
        fixed_time,
        slope(lrs, per_step),
        slope(lrs, printed),
        slope(fixed_lrs, fixed_time),
    )


def tracked_balancedness(Ws0: Sequence[np.ndarray]) -> dict:
    """Metrics for `deeplinear.train` (``metrics=``) that follow a network's balancedness and alignment:
    ``alignment`` (`deeplinear.metrics.alignment`), ``invariance`` (to ``Ws0``, `deeplinear.metrics.invariance`),
    ``arora`` (:func:`relative_imbalance`) and ``printed`` (the same in the paper's printed form).

    Parameters
    ----------
    Ws0 : sequence of ndarray
        The start, a list of d arrays (k, k).

    Returns
    -------
    dict
        Dict of name -> function of a network.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (balancedness), Definition 3 (invariance), Section 6 (alignment).
    """
    return {
        "alignment": alignment,
        "invariance": invariance_to(Ws0),
        "arora": relative_imbalance,
        "printed": lambda Ws: relative_imbalance(Ws, printed=True),
    }


def accumulated_drift_error(
    Ws0: Sequence[np.ndarray], X: np.ndarray | None, Y: np.ndarray, *, lr: float, steps: int
) -> float:
    """Train ``steps`` steps from ``Ws0`` recording each step's ``lr^2`` term (:func:`step_drift`), and return
    the relative error (:func:`relative_error`) between the change of every imbalance over the run and the sum
    of those terms: rounding, since nothing else moves the imbalance.

    Parameters
    ----------
    Ws0 : sequence of ndarray
        List of d arrays (k_i, k_{i-1}). Not modified.
    X : ndarray or None
        (k_0, n) or None
    Y : ndarray
        (k_d, n).
    lr : float
        > 0
    steps : int
        >= 1.

    Returns
    -------
    float
        >= 0.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (balancedness under gradient descent).
    """
    lr2 = {"lr2": lambda W: np.stack(step_drift(gradients(W, X, Y), lr))}
    run = train(Ws0, X, Y, lr=lr, steps=steps, record=1, metrics=lr2)
    accumulated = run.history.metrics["lr2"][:-1].sum(axis=0)  # steps 0 .. steps - 1
    return relative_error(drift(Ws0, run.weights), accumulated)
