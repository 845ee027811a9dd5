"""Balancedness and the minimum-norm factorisation: Proposition 2, and how gradient descent moves the imbalance.

A two-layer factorisation ``W_2 W_1 = P`` has ``||W_1||_F^2 + ||W_2||_F^2 >= 2 ||P||_*``, with equality at the
aligned, 0-balanced factorisation ``W_1 = S^{1/2} V^T``, ``W_2 = U S^{1/2}`` (Proposition 2). Gradient flow
conserves each imbalance ``D_i = W_{i+1}^T W_{i+1} - W_i W_i^T`` (`deeplinear.metrics.imbalance`); a gradient
step of size ``lr`` changes it by exactly ``lr^2 (G_{i+1}^T G_{i+1} - G_i G_i^T)`` (:func:`step_drift`).
A 0-balanced network is aligned: the usSVDs of :func:`chained_usvds` witness Definition 2 (:func:`chain_error`
is their rounding on a 0-balanced network, :func:`balanced_network` draws one).
For structured (convolutional) layers, Du et al.'s balancedness is the difference of the filters' squared
norms (:func:`filter_norm_differences`, :func:`filter_balance_drift`).

Shapes follow the package convention: ``W_i`` is ``(k_i, k_{i-1})``; functions that take a network also take
a stacked one (layers ``(S, k_i, k_{i-1})``) and then return an extra leading ``S`` axis.

Paper: Radhakrishnan et al., Proposition 2 and Section 2 (balancedness: Arora et al. 2018, Du et al. 2018).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize

from . import _validate
from .metrics import _as_network, alignment, balancedness, imbalance, invariance_to
from .network import gradients
from .stability import stable_learning_rate
from .structures import Structure
from .theory import random_orthogonal
from .training import train

__all__ = [
    "nuclear_norm",
    "norm_ratio",
    "minimum_norm_factors",
    "random_factors",
    "minimise_norm",
    "printed_imbalance",
    "relative_imbalance",
    "nuclear_imbalance",
    "start_size",
    "drift",
    "drift_norm",
    "step_drift",
    "gradient_identity_residual",
    "relative_error",
    "filter_norm_differences",
    "FilterDrift",
    "filter_balance_drift",
    "first_order_balance",
    "balanced_network",
    "chained_usvds",
    "chain_error",
    "StartScales",
    "start_scale_runs",
    "unit_learning_rate",
    "DriftScaling",
    "drift_scaling",
    "tracked_balancedness",
    "accumulated_drift_error",
]


def _matrices(A, name: str, ndim: tuple[int, ...] = (2, 3)) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    if A.ndim not in ndim or not np.isfinite(A).all() or 0 in A.shape:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be a finite, non-empty {want} array of matrices, got shape {A.shape}")
    return A


def _nonzero_product(nuclear: np.ndarray, names: str) -> np.ndarray:
    if np.any(nuclear == 0):
        raise ValueError(f"{names}: the product W_2 W_1 is 0, where the ratio to its nuclear norm is undefined")
    return nuclear


def _fro(A: np.ndarray) -> np.ndarray:
    return np.linalg.norm(A, axis=(-2, -1))


def _scalar(x):
    return float(x) if np.ndim(x) == 0 else x


def nuclear_norm(P: np.ndarray) -> float | np.ndarray:
    """The nuclear norm ``||P||_*``, the sum of the singular values.

    Parameters
    ----------
    P : ndarray (m, n), or a stack (S, m, n).

    Returns
    -------
    float, or ndarray (S,).

    Paper: Proposition 2 (the minimum of ``||W_1||_F^2 + ||W_2||_F^2`` over ``W_2 W_1 = P`` is ``2 ||P||_*``).
    """
    P = _matrices(P, "P")
    return _scalar(np.linalg.svd(P, compute_uv=False).sum(axis=-1))


def norm_ratio(W1: np.ndarray, W2: np.ndarray) -> float | np.ndarray:
    """``(||W_1||_F^2 + ||W_2||_F^2) / (2 ||W_2 W_1||_*)``: at least 1, and 1 exactly at a minimum-norm
    factorisation of the product (Proposition 2).

    Parameters
    ----------
    W1 : ndarray (h, n), or a stack (S, h, n).
    W2 : ndarray (m, h), or a stack (S, m, h) like ``W1``.

    Returns
    -------
    float, or ndarray (S,).

    Raises
    ------
    ValueError
        When ``W_2 W_1 = 0`` (for some member of a stack): the ratio is then undefined.

    Paper: Proposition 2.
    """
    W1, W2 = _matrices(W1, "W1"), _matrices(W2, "W2")
    if W1.ndim != W2.ndim or W2.shape[-1] != W1.shape[-2] or W1.shape[:-2] != W2.shape[:-2]:
        raise ValueError(f"W1 (h, n) and W2 (m, h) must chain, with the same stack axis; got {W1.shape} and {W2.shape}")
    total = np.sum(W1**2, axis=(-2, -1)) + np.sum(W2**2, axis=(-2, -1))
    return _scalar(total / (2 * _nonzero_product(np.linalg.svd(W2 @ W1, compute_uv=False).sum(axis=-1), "W1, W2")))


def minimum_norm_factors(P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The aligned, 0-balanced factorisation ``W_1 = S^{1/2} V^T``, ``W_2 = U S^{1/2}`` of ``P = U S V^T``.

    It attains the minimum ``2 ||P||_*`` of ``||W_1||_F^2 + ||W_2||_F^2`` over ``W_2 W_1 = P``, with a
    hidden width ``min(m, n)``. It is aligned (the usSVDs ``W_1 = I S^{1/2} V^T``, ``W_2 = U S^{1/2} I``
    share the middle basis) and 0-balanced (``W_2^T W_2 = S = W_1 W_1^T``).

    Parameters
    ----------
    P : ndarray (m, n).

    Returns
    -------
    W1 : ndarray (min(m, n), n).
    W2 : ndarray (m, min(m, n)).

    Paper: Proposition 2.
    """
    P = _matrices(P, "P", (2,))
    U, s, Vt = np.linalg.svd(P, full_matrices=False)
    return np.sqrt(s)[:, None] * Vt, U * np.sqrt(s)


def random_factors(W1: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Random invertible first factors ``A`` (then ``W_2 = P A^{-1}``), in two families of ``count`` each.

    The first family is ``Q_1 diag(exp(c z)) Q_2`` with Haar-like ``Q_1, Q_2`` (QR factors of Gaussians),
    standard normal ``z`` and a spread ``c`` uniform on ``[0, 1.5)``: random conditioning. The second turns
    a perturbation of ``W1`` by ``Q_1``: ``Q_1 (I + eps Z / sqrt(k)) W1`` with Gaussian ``Z`` and ``eps``
    log-spaced from 1e-4 to 1, so that it samples tiny to large distances from a minimiser ``W1``. Draws,
    in order: ``Q_1``, ``Q_2`` (each ``count`` QRs), ``c``, ``z``, ``Z``.

    Parameters
    ----------
    W1 : ndarray (k, k), the factor to perturb (`minimum_norm_factors` of a square ``P``).
    count : int >= 1, the size of each family.
    rng : numpy Generator.

    Returns
    -------
    ndarray (2 count, k, k), the first family first.

    Paper: Proposition 2 (random factorisations do not beat the aligned one).
    """
    W1 = _matrices(W1, "W1", (2,))
    if W1.shape[0] != W1.shape[1]:
        raise ValueError(f"W1 must be square (k, k), got shape {W1.shape}")
    if isinstance(count, bool) or not isinstance(count, Integral) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    k, rng = W1.shape[0], _validate.rng(rng)
    Q1 = np.linalg.qr(rng.standard_normal((count, k, k)))[0]
    Q2 = np.linalg.qr(rng.standard_normal((count, k, k)))[0]
    spread = rng.uniform(0.0, 1.5, (count, 1))
    wide = (Q1 * np.exp(spread * rng.standard_normal((count, k)))[:, None, :]) @ Q2
    eps = np.geomspace(1e-4, 1.0, count)[:, None, None]
    near = Q1 @ (np.eye(k) + eps * rng.standard_normal((count, k, k)) / np.sqrt(k)) @ W1
    return np.concatenate([wide, near])


def minimise_norm(P: np.ndarray, A0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimise ``||A||_F^2 + ||P A^{-1}||_F^2`` over invertible ``A`` with L-BFGS-B, from ``A0``.

    The optimiser knows nothing about alignment or balancedness: it is given the objective and its
    gradient ``2 A - 2 B^T B A^{-T}`` (``B = P A^{-1}``) only. It stops near, not at, the minimum
    (relative imbalance and alignment defect of order 1e-8 on a 9 x 9 problem).

    ``P`` must have rank ``k``: for a rank-deficient ``P`` the infimum is approached as ``A`` turns singular
    (the minimal factors vanish on P's null space) and no invertible ``A`` attains it.

    Parameters
    ----------
    P : ndarray (m, k), of rank k.
    A0 : ndarray (k, k), invertible, the start.

    Returns
    -------
    W1 : ndarray (k, k), the ``A`` found.
    W2 : ndarray (m, k), ``P W1^{-1}``.

    Paper: Proposition 2 (the minimum is at the aligned, 0-balanced factorisation).
    """
    P, A0 = _matrices(P, "P", (2,)), _matrices(A0, "A0", (2,))
    k = P.shape[1]
    if A0.shape != (k, k):
        raise ValueError(f"A0 must have shape ({k}, {k}) for P of shape {P.shape}, got {A0.shape}")
    rank = np.linalg.matrix_rank(P)
    if rank < k:
        raise ValueError(
            f"P must have rank {k} (its column count), got rank {rank}: no invertible A attains the minimum"
        )

    def objective(a):
        A = a.reshape(k, k)
        A_inv = np.linalg.inv(A)
        B = P @ A_inv
        return np.sum(A**2) + np.sum(B**2), (2 * A - 2 * B.T @ B @ A_inv.T).ravel()

    options = {"maxiter": 5000, "gtol": 1e-12, "ftol": 1e-15}
    best = minimize(objective, A0.ravel(), jac=True, method="L-BFGS-B", options=options)
    W1 = best.x.reshape(k, k)
    return W1, P @ np.linalg.inv(W1)


def printed_imbalance(Ws: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The imbalance as the paper's related work prints it: ``W_i^T W_i - W_{i+1}^T W_{i+1}``.

    Erratum: this quantity is not conserved by gradient flow, and for ``k_{i-1} != k_{i+1}`` its terms do
    not even have the same shape; the conserved one is `deeplinear.metrics.imbalance`,
    ``W_{i+1}^T W_{i+1} - W_i W_i^T`` (right Gram matrix of ``W_{i+1}``, left Gram matrix of ``W_i``).

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1}) with equal input widths ``k_0 = ... = k_{d-1}``, or stacked.

    Returns
    -------
    list of d-1 arrays (k_{i-1}, k_{i-1}), or (S, k, k) for a stacked network.

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
    Ws : list of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1}).
    printed : bool.

    Returns
    -------
    ndarray (d-1,) or (S, d-1).

    Paper: Section 2 (balancedness).
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
    Ws : list of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1}).

    Returns
    -------
    ndarray (d-1,) or (S, d-1).

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
    Ws0 : the start, two layers (h, n) and (m, h), or stacked (S, h, n) and (S, m, h).
    Ws : the end, the same shapes.

    Returns
    -------
    float, or ndarray (S,).

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
    Ws0, Ws : networks of the same shapes, lists of d arrays (k_i, k_{i-1}) or stacked (S, k_i, k_{i-1}).
    printed : bool.

    Returns
    -------
    list of d-1 arrays (k_i, k_i) (or (S, k_i, k_i)).

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

    Returns
    -------
    float, or ndarray (S,) for stacked networks.

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
    grads : list of d arrays (k_i, k_{i-1}), or stacked (S, k_i, k_{i-1}): the gradients at the step's start
        (`deeplinear.network.gradients`).
    lr : positive float.

    Returns
    -------
    list of d-1 arrays (k_i, k_i) (or (S, k_i, k_i)).

    Paper: Section 2 (balancedness; Du et al.'s conservation law, discretised).
    """
    if isinstance(lr, bool) or not isinstance(lr, Real) or not 0 < lr < np.inf:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    G = _as_network(grads, "grads")
    return [lr**2 * (np.swapaxes(B, -1, -2) @ B - A @ np.swapaxes(A, -1, -2)) for A, B in zip(G[:-1], G[1:])]


def gradient_identity_residual(Ws: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> np.ndarray:
    """Relative residual ``||W_{i+1}^T G_{i+1} - G_i W_i^T||_F / ||G_i W_i^T||_F`` of each interface.

    For a product network and any loss of the end-to-end output, ``G_i = A_i^T E B_i^T`` with
    ``A_i = W_d ... W_{i+1}`` and ``B_i = W_{i-1} ... W_1 X``, so ``W_{i+1}^T G_{i+1} = G_i W_i^T`` and the
    residual is rounding (0 when ``G_i W_i^T = 0``).

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1}), or stacked.
    grads : gradients of the same shapes (`deeplinear.network.gradients`).

    Returns
    -------
    ndarray (d-1,) or (S, d-1).

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
    actual, expected : sequences of the same length of arrays (..., m, n) of matching shapes; every
        ``e_i`` nonzero.

    Returns
    -------
    float.
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


def filter_norm_differences(coefficients: np.ndarray) -> np.ndarray:
    """Du et al.'s balancedness of structured layers: ``||c_i||^2 - ||c_{i+1}||^2`` for consecutive layers.

    Parameters
    ----------
    coefficients : ndarray (..., d, r), the coefficients (filter taps) of d layers of one structure, e.g.
        the output of `deeplinear.structures.coefficient_gradient_descent`.

    Returns
    -------
    ndarray (..., d-1).

    Paper: Section 2 (Du et al. 2018: conserved under gradient flow for convolutional layers).
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
    structure : `deeplinear.structures.Structure` of every layer.
    Ws0 : list of d >= 2 arrays in ``structure``. Not modified.
    X : ndarray (n_in, n), or None for the identity.
    Y : ndarray (n_out, n).
    lrs : positive learning rates.
    time : float > 0, with ``time / lr >= 1`` for every rate.

    Returns
    -------
    FilterDrift.

    Paper: Section 2 (Du et al. 2018, balancedness of convolutional layers).
    """
    if not isinstance(structure, Structure):
        raise ValueError(f"structure must be a deeplinear.structures.Structure, got {structure!r}")
    if len(Ws0) < 2:
        raise ValueError(f"Ws0 must hold at least 2 layers, got {len(Ws0)}")
    rates = np.asarray(lrs, dtype=np.float64)
    if rates.ndim != 1 or rates.size < 1 or not np.all(np.isfinite(rates) & (rates > 0)):
        raise ValueError(f"lrs must be a non-empty sequence of positive numbers, got {lrs!r}")
    if isinstance(time, bool) or not isinstance(time, Real) or not np.isfinite(time) or time < rates.max():
        raise ValueError(f"time must be a number >= max(lrs) = {rates.max()}, got {time!r}")
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
    structure : `deeplinear.structures.Structure` of every layer.
    Ws : list of d >= 2 arrays in ``structure``.
    X : ndarray (n_in, n), or None for the identity.  Y : ndarray (n_out, n).

    Returns
    -------
    filters : float, ``max_i |r_i - r_{i+1}| / max_i |r_i|`` with ``r_i = <c_i, g_i>``: rounding.
    matrices : float, the same with ``r_i = sum_j ||A_j||^2 c_ij g_ij``: 0 only for equal ``||A_j||``.

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


def _square_network(Ws, name: str = "Ws") -> list[np.ndarray]:
    layers = [_matrices(W, f"{name}[{i}]", (2,)) for i, W in enumerate(Ws)]
    k = layers[0].shape[0] if layers else 0
    if not layers or any(W.shape != (k, k) for W in layers):
        raise ValueError(f"{name} must be a non-empty list of square (k, k) layers, got {[W.shape for W in layers]}")
    return layers


def balanced_network(W1: np.ndarray, depth: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A random 0-balanced network of square layers with first layer ``W1``: ``W_{i+1} = Q_{i+1} (W_i W_i^T)^{1/2}``.

    A square ``W_{i+1}`` satisfies ``W_{i+1}^T W_{i+1} = W_i W_i^T`` exactly when it is ``Q (W_i W_i^T)^{1/2}``
    for an orthonormal ``Q`` (its polar decomposition), so drawing each ``Q_{i+1}`` from the Haar measure draws
    from all 0-balanced networks with this first layer. The construction asks for balancedness only; whether
    the result is aligned is for :func:`chain_error` to say.

    Parameters
    ----------
    W1 : ndarray (k, k), the first layer.
    depth : int >= 1, the number of layers.
    rng : numpy Generator; ``Q_2, ..., Q_d`` are drawn in order (`deeplinear.theory.random_orthogonal`).

    Returns
    -------
    list of ``depth`` arrays (k, k), ``W1`` (a copy) first.

    Paper: Section 2 ("balancedness indeed implies alignment of singular vector spaces between consecutive
    layers").
    """
    layers = _square_network([W1], "W1")
    if isinstance(depth, bool) or not isinstance(depth, Integral) or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    k = layers[0].shape[0]
    for _ in range(depth - 1):
        e, V = np.linalg.eigh(layers[-1] @ layers[-1].T)
        root = (V * np.sqrt(np.clip(e, 0.0, None))) @ V.T  # the positive semidefinite square root
        layers.append(random_orthogonal(k, rng) @ root)
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
    Ws : list of d arrays (k, k).

    Returns
    -------
    list of d triples ``(U_i (k, k), s_i (k,), V_i (k, k))``, ``U_i`` and ``V_i`` orthonormal, ``V_{i+1} = U_i``
    (the same array).

    Paper: Definition 2; Section 2 (balancedness implies alignment).
    """
    layers = _square_network(Ws)
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
    Ws : list of d arrays (k, k).

    Returns
    -------
    float >= 0.

    Paper: Definition 2; Section 2 (balancedness implies alignment).
    """
    layers = _square_network(Ws)
    worst = 0.0
    for W, (U, s, V) in zip(layers, chained_usvds(layers)):
        scale = np.linalg.norm(W)
        if scale > 0:
            worst = max(worst, float(np.linalg.norm(W - (U * s) @ V.T) / scale))
    return worst


@dataclass(frozen=True)
class StartScales:
    """Two-layer networks trained from Gaussian starts of several scales (:func:`start_scale_runs`).

    ``scales`` (S,), relative to the solution's; ``starts`` and ``weights``, the two layers (S, k, k) at the start
    and at the end; ``rates`` (S,), the learning rates; ``steps``, the steps run; per start: ``gaps``, the
    relative excess norm ``norm_ratio - 1`` at the end (:func:`norm_ratio`), ``alignment``, the released score
    at the end (`deeplinear.metrics.alignment`), ``start_size`` (:func:`start_size`), ``imbalance``, the start's
    ``||W_2^T W_2 - W_1 W_1^T||_*`` over ``2 ||P||_*`` (:func:`nuclear_imbalance`), and ``start_balancedness``,
    the same in Frobenius norm (`deeplinear.metrics.balancedness`).
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
    rng: np.random.Generator,
) -> StartScales:
    """Train a two-layer network ``W_2 W_1`` (k x k layers) from Gaussian starts of relative scales ``scales``.

    With ``P = Y X^+`` (k x k), layer entries have standard deviation ``s sqrt(||P||_* / k) / sqrt(k)``, so that
    a start's squared norm is about ``s^2 ||P||_*``. All starts run in one stacked run (`deeplinear.train`),
    each at ``min(lr, its stable rate)`` (`deeplinear.stability.stable_learning_rate`), for ``steps`` steps or
    until every loss is below ``stop_below``.

    Parameters
    ----------
    X, Y : ndarrays (k, n).
    scales : S positive numbers.
    lr : float > 0, the largest learning rate.
    steps : int >= 0, the most steps.
    stop_below : float or None.
    rng : numpy Generator; draws the first layers (S, k, k), then the second ones.

    Returns
    -------
    StartScales.

    Paper: Proposition 2 and the small-initialisation argument after it (Azizan et al. 2019).
    """
    X, Y = _matrices(X, "X", (2,)), _matrices(Y, "Y", (2,))
    k = X.shape[0]
    if Y.shape != X.shape:
        raise ValueError(f"X and Y must be (k, n) arrays of the same shape, got {X.shape} and {Y.shape}")
    scales = np.asarray(scales, dtype=np.float64)
    if scales.ndim != 1 or scales.size < 1 or not np.all(np.isfinite(scales) & (scales > 0)):
        raise ValueError(f"scales must be a non-empty sequence of positive numbers, got {scales!r}")
    rng = _validate.rng(rng)
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
    Ws : list of d arrays; grads : their gradients, the same shapes.

    Returns
    -------
    float > 0.

    Raises
    ------
    ValueError
        When every gradient is 0 (no step moves the weights) or every layer is 0.

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
    """One-step probes at rates ``u * 1e-5 ... u * 1e-2`` (7, log-spaced; ``u`` = :func:`unit_learning_rate`
    at ``Ws``), and runs over the fixed training time ``100 lr`` at ``lr / 8, lr / 4, lr / 2, lr``.

    The probes' rates are set by the weights' own scale, so that the change of the imbalance is far above
    rounding whatever the data; per step it is ``lr^2 (G_{i+1}^T G_{i+1} - G_i G_i^T)`` (slope 2), the printed
    form's first order (slope 1); over a fixed time the steps' ``lr^2`` terms add up to order ``lr`` (slope 1).

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1}) (equal input widths for the printed form). Not modified.
    X : ndarray (k_0, n) or None; Y : ndarray (k_d, n).
    lr : float > 0, the largest rate of the fixed-time runs (below the stability edge).

    Returns
    -------
    DriftScaling.

    Paper: Section 2 (balancedness, Arora et al. 2018, Du et al. 2018).
    """
    layers = _as_network(Ws)
    if isinstance(lr, bool) or not isinstance(lr, Real) or not 0 < lr < np.inf:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
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
    Ws0 : the start, a list of d arrays (k, k).

    Returns
    -------
    dict of name -> function of a network.

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
    Ws0 : list of d arrays (k_i, k_{i-1}). Not modified.
    X : ndarray (k_0, n) or None; Y : ndarray (k_d, n).
    lr : float > 0; steps : int >= 1.

    Returns
    -------
    float >= 0.

    Paper: Section 2 (balancedness under gradient descent).
    """
    lr2 = {"lr2": lambda W: np.stack(step_drift(gradients(W, X, Y), lr))}
    run = train(Ws0, X, Y, lr=lr, steps=steps, record=1, metrics=lr2)
    accumulated = run.history.metrics["lr2"][:-1].sum(axis=0)  # steps 0 .. steps - 1
    return relative_error(drift(Ws0, run.weights), accumulated)
