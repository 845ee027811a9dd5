"""Diagnostics recorded during training: alignment, invariance, balancedness, rank-one ratio, margin.

A network is ``Ws = [W_1, ..., W_d]`` with ``W_i`` of shape ``(k_i, k_{i-1})``. Every function that takes
a network also accepts a stacked one (layers ``(S, k_i, k_{i-1})``) and then returns an extra leading
``S`` axis. Paper: Radhakrishnan et al., Definition 2 and Section 6; Ji & Telgarsky, Theorem 2.2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def _as_network(Ws: Sequence[np.ndarray], name: str = "Ws") -> list[np.ndarray]:
    """Validate a (possibly stacked) network; return its layers as float64 arrays."""
    try:
        layers = [np.asarray(W, dtype=np.float64) for W in Ws]
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a list of layers of shape (k_i, k_{{i-1}}) or (S, k_i, k_{{i-1}})") from err
    if not layers:
        raise ValueError(f"{name} must contain at least one layer, got an empty list")
    nd = layers[0].ndim
    if nd not in (2, 3) or any(W.ndim != nd for W in layers):
        raise ValueError(
            f"{name} must hold layers that are all 2-D (k_i, k_{{i-1}}) or all 3-D "
            f"(S, k_i, k_{{i-1}}), got shapes {[W.shape for W in layers]}"
        )
    if nd == 3 and any(W.shape[0] != layers[0].shape[0] for W in layers):
        raise ValueError(
            f"{name}: stacked layers must share the leading axis S, got shapes {[W.shape for W in layers]}"
        )
    for i in range(len(layers) - 1):
        if layers[i + 1].shape[-1] != layers[i].shape[-2]:
            raise ValueError(
                f"{name}: layer {i + 2} has shape {layers[i + 1].shape}, which does not "
                f"chain with layer {i + 1} of shape {layers[i].shape}"
            )
    if not all(np.isfinite(W).all() for W in layers):
        raise ValueError(f"{name} must contain only finite entries")
    return layers


def layer_svds(Ws: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The reduced SVD ``(U, s, Vt)`` of every layer, for metrics that share them (``svds=``).

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1})

    Returns
    -------
    list of d tuples ``(U, s, Vt)`` as ``np.linalg.svd(W, full_matrices=False)`` returns them.
    """
    return [np.linalg.svd(W, full_matrices=False) for W in _as_network(Ws)]


def _best_match(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Mean over columns a_j of A (..., m, p) of max_l |<a_j, b_l>| over columns of B (..., m, q)."""
    return np.abs(np.swapaxes(A, -1, -2) @ B).max(axis=-1).mean(axis=-1)


def best_match(A: np.ndarray, B: np.ndarray) -> float | np.ndarray:
    """The released code's matching score of two sets of unit vectors: each column of ``A`` scores
    its largest ``|cos|`` with a column of ``B``; the result is the mean of these scores.

    Parameters
    ----------
    A : ndarray (..., m, p), orthonormal columns (singular vectors, say).
    B : ndarray (..., m, q), orthonormal columns.

    Returns
    -------
    float, or ndarray (...) for stacks; in [0, 1]. With ``p = 0`` there is nothing to match and the
    score is 1; with ``q = 0 < p`` no column finds a partner and it is 0.

    Paper: Section 6 (the alignment and invariance scores of Figures 1 and 2), as released.
    """
    A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    if A.ndim < 2 or B.ndim < 2 or A.shape[-2] != B.shape[-2] or A.shape[:-2] != B.shape[:-2]:
        raise ValueError(
            f"A and B must be arrays (..., m, p) and (..., m, q) with the same m and "
            f"leading axes, got shapes {A.shape} and {B.shape}"
        )
    if A.shape[-1] == 0 or B.shape[-1] == 0:
        score = np.full(A.shape[:-2], 1.0 if A.shape[-1] == 0 else 0.0)
    else:
        score = _best_match(A, B)
    return score if score.ndim else float(score)


def alignment(Ws: Sequence[np.ndarray], *, svds: list | None = None) -> np.ndarray:
    """Alignment score of each interface between adjacent layers, as in the authors' released code.

    For the interface between ``W_i`` and ``W_{i+1}`` take reduced SVDs; each of the
    ``min(k_i, k_{i+1})`` right singular vectors ``v_j`` of ``W_{i+1}`` scores
    ``max_l |<v_j, u_l>|`` over the ``min(k_{i-1}, k_i)`` left singular vectors ``u_l`` of ``W_i``;
    the interface's score is the mean of these. It is 1 for an aligned network (Definition 2) whose
    layers have distinct singular values, whatever order and signs its usSVD uses, rectangular
    layers included.

    Section 6 of the paper speaks of the dot product of "corresponding columns" of ``U_i`` and
    ``V_{i+1}``; the released code instead takes the best match over all columns, which is what this
    function does (corresponding columns would depend on the order the SVD routine happens to use).

    The score stops being meaningful in two cases:

    * repeated singular values: the singular vectors of that singular value are any orthonormal basis
      of its singular subspace, so an aligned network can score below 1
      (use :func:`alignment_defect`, which is basis-free);
    * a ``v_j`` in the left null space of a rank-deficient ``W_i`` (e.g. ``k_{i+1} > k_{i-1}``, so
      ``W_{i+1}`` has more right singular vectors than ``W_i`` has left ones): no ``u_l`` matches it,
      and the score falls below 1 although the network may be aligned.

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1})
    svds : optional, `layer_svds` of ``Ws`` (computed here when not given), to share with other metrics.

    Returns
    -------
    ndarray (d-1,) or (S, d-1), entries in [0, 1].

    Paper: Definition 2, Section 6.
    """
    layers = _as_network(Ws)
    lead = layers[0].shape[:-2]
    if len(layers) == 1:
        return np.zeros(lead + (0,))
    svds = layer_svds(layers) if svds is None else svds
    scores = [_best_match(np.swapaxes(svds[i + 1][2], -1, -2), svds[i][0]) for i in range(len(layers) - 1)]
    return np.stack(scores, axis=-1)


def _grams(layers: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """W_i W_i^T for i < d and W_{i+1}^T W_{i+1} for each interface."""
    left = [W @ np.swapaxes(W, -1, -2) for W in layers[:-1]]
    right = [np.swapaxes(W, -1, -2) @ W for W in layers[1:]]
    return left, right


def alignment_defect(Ws: Sequence[np.ndarray]) -> np.ndarray:
    """Basis-free alignment defect of each interface: a relative commutator norm.

    For the interface between ``W_i`` and ``W_{i+1}`` with ``M = W_i W_i^T`` and
    ``N = W_{i+1}^T W_{i+1}`` (both ``(k_i, k_i)``), the defect is
    ``||M N - N M||_F / (||M||_F ||N||_F)`` (0 when ``M`` or ``N`` is 0).

    Why it measures alignment: two symmetric matrices commute iff they are simultaneously
    orthogonally diagonalisable. If ``W_i = U_i S_i V_i^T`` and ``W_{i+1} = U_{i+1} S_{i+1} V_{i+1}^T``
    are usSVDs with ``U_i = V_{i+1} = Q``, then ``M = Q S_i S_i^T Q^T`` and
    ``N = Q S_{i+1}^T S_{i+1} Q^T`` are both diagonal in ``Q``, so they commute. Conversely, if they
    commute, take an orthonormal ``Q`` with ``Q^T M Q`` and ``Q^T N Q`` diagonal. The columns of
    ``W_i^T Q`` are orthogonal with squared norms ``diag(Q^T M Q)``, so normalising the nonzero ones
    (and completing to an orthonormal basis) gives ``W_i = Q S_i V_i^T``; likewise ``W_{i+1} Q``
    gives ``W_{i+1} = U_{i+1} S_{i+1} Q^T``. So the defect is 0 exactly when the interface admits a
    common singular basis (``U_i = V_{i+1}``). The argument never needs distinct singular values,
    so, unlike :func:`alignment`, the defect stays meaningful with repeated singular values.

    Two fine points. With rank-deficient rectangular layers, the rectangular-diagonal shape of
    ``Sigma`` in a usSVD also asks that ``dim(range W_i + range W_{i+1}^T)`` be at most
    ``max(min(k_{i-1}, k_i), min(k_i, k_{i+1}))`` (e.g. ``1 -> 3 -> 1`` with ``W_1 = e_1``,
    ``W_2 = e_2^T`` has defect 0 but no usSVDs with ``U_1 = V_2``). And for the whole network
    (Definition 2) all defects being 0 is necessary but, with repeated singular values, not
    sufficient: each layer's usSVD must serve both of its interfaces at once.

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1})

    Returns
    -------
    ndarray (d-1,) or (S, d-1), entries >= 0 (at most sqrt(2)).

    Paper: Definition 2.
    """
    layers = _as_network(Ws)
    left, right = _grams(layers)
    out = []
    for M, N in zip(left, right):
        MN = M @ N
        comm = np.linalg.norm(MN - np.swapaxes(MN, -1, -2), axis=(-2, -1))
        scale = np.linalg.norm(M, axis=(-2, -1)) * np.linalg.norm(N, axis=(-2, -1))
        out.append(np.divide(comm, scale, out=np.zeros_like(comm), where=scale > 0))
    return np.stack(out, axis=-1) if out else np.zeros(layers[0].shape[:-2] + (0,))


def invariance(Ws0: Sequence[np.ndarray], Ws: Sequence[np.ndarray]) -> np.ndarray:
    """How far each layer's singular vectors moved since initialisation (1 = unchanged).

    For layer ``i``, take reduced SVDs of ``W_i^(0)`` and ``W_i^(t)``; score each column of
    ``U_i^(t)`` by its best ``|cos|`` with the columns of ``U_i^(0)`` and average, do the same for
    ``V_i``, and average the two. This is the paper's Section 6 measure with the released code's
    best-match rule instead of "corresponding columns". Changing only the singular values (or their
    order or signs) leaves it at 1. Not meaningful with repeated (or zero, for rank-deficient layers)
    singular values, whose singular vectors are not unique.

    Parameters
    ----------
    Ws0 : list of d arrays (k_i, k_{i-1}) or (S, k_i, k_{i-1}), the network at initialisation.
    Ws : same shapes as ``Ws0``, the network at time t.

    Returns
    -------
    ndarray (d,) or (S, d), entries in [0, 1].

    Paper: Section 6. To score many networks against the same ``Ws0`` (a training run), use
    `invariance_to`, which computes the SVDs of ``Ws0`` once.
    """
    return invariance_to(Ws0)(Ws)


def invariance_to(Ws0: Sequence[np.ndarray]) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
    """``Ws -> invariance(Ws0, Ws)``, with the SVDs of ``Ws0`` computed once.

    The returned function also takes ``svds=``, the `layer_svds` of ``Ws``, to share them with other metrics.
    """
    first = _as_network(Ws0, "Ws0")
    shapes = [W.shape for W in first]
    bases = []
    for W0 in first:
        U0, _, Vt0 = np.linalg.svd(W0, full_matrices=False)
        bases.append((U0, np.swapaxes(Vt0, -1, -2)))

    def score(Ws: Sequence[np.ndarray], *, svds: list | None = None) -> np.ndarray:
        now = _as_network(Ws, "Ws")
        if [W.shape for W in now] != shapes:
            raise ValueError(f"Ws must have the same layer shapes as Ws0, got {[W.shape for W in now]} and {shapes}")
        out = []
        for (U0, V0), (U, _, Vt) in zip(bases, layer_svds(now) if svds is None else svds):
            out.append(0.5 * (_best_match(U, U0) + _best_match(np.swapaxes(Vt, -1, -2), V0)))
        return np.stack(out, axis=-1)

    return score


def top_alignment(Ws: Sequence[np.ndarray], *, svds: list | None = None) -> np.ndarray:
    """Ji and Telgarsky's alignment ``|v_{i+1}^T u_i|`` of adjacent layers' top singular vectors.

    ``u_i`` is the top left singular vector of ``W_i`` and ``v_{i+1}`` the top right singular vector
    of ``W_{i+1}``; both live in the ``k_i``-dimensional space between the two layers. Gradient
    descent on separable data drives every value to 1 while each layer tends to rank one. The top
    singular vectors are not unique when a layer's two largest singular values tie, and then
    neither is this value.

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1})

    Returns
    -------
    ndarray (d-1,) or (S, d-1), entries in [0, 1].

    Paper: Ji & Telgarsky, Theorem 2.2 (``|v_{j+1}^T u_j| -> 1``), their Figure 1b. ``svds=`` as in
    :func:`alignment`.
    """
    layers = _as_network(Ws)
    svds = layer_svds(layers) if svds is None else svds
    out = [np.abs(np.sum(svds[i][0][..., :, 0] * svds[i + 1][2][..., 0, :], axis=-1)) for i in range(len(layers) - 1)]
    return np.stack(out, axis=-1) if out else np.zeros(layers[0].shape[:-2] + (0,))


def rank_one_ratio(W: np.ndarray) -> np.ndarray:
    """``||W||_2 / ||W||_F``: 1 exactly when ``W`` has rank one (nan for a zero matrix).

    Parameters
    ----------
    W : ndarray (..., m, n)

    Returns
    -------
    ndarray (...), entries in [1/sqrt(min(m, n)), 1].

    Paper: Ji & Telgarsky, Theorem 2.2 (layers tend to rank one), their Figure 1b.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim < 2 or not np.isfinite(W).all():
        raise ValueError(f"W must be a finite array of shape (..., m, n), got shape {W.shape}")
    spectral = np.linalg.svd(W, compute_uv=False)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return spectral / np.linalg.norm(W, axis=(-2, -1))


def balancedness(Ws: Sequence[np.ndarray]) -> np.ndarray:
    """Balancedness defect ``||W_{i+1}^T W_{i+1} - W_i W_i^T||_F`` of each interface (0 = balanced).

    Parameters
    ----------
    Ws : list of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1})

    Returns
    -------
    ndarray (d-1,) or (S, d-1).

    Paper: Section 2 (balancedness, Arora et al. 2018), Proposition 2 (0-balanced solutions).
    """
    layers = _as_network(Ws)
    left, right = _grams(layers)
    out = [np.linalg.norm(N - M, axis=(-2, -1)) for M, N in zip(left, right)]
    return np.stack(out, axis=-1) if out else np.zeros(layers[0].shape[:-2] + (0,))


def margin(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Normalised margin ``min_i y_i <w, x_i> / ||w||`` of a linear predictor.

    Parameters
    ----------
    w : ndarray (k_0,) or (1, k_0), or a stack (S, 1, k_0) of end-to-end products.
    X : ndarray (k_0, n), samples as columns.
    y : ndarray (n,) or (1, n), labels in {-1, +1}.

    Returns
    -------
    float, or ndarray (S,) for stacked ``w``.

    Paper: Ji & Telgarsky, Section 2 (maximum margin gamma); see :func:`deeplinear.theory.max_margin`.
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


def _fixed(fn: Callable[[Sequence[np.ndarray]], np.ndarray]):
    return lambda initial: fn


#: The metrics `deeplinear.train` records by name (``metrics=("alignment", "invariance")``): name -> a factory
#: that takes the initial network and returns ``fn(Ws)``. Only these names are accepted; any other function of
#: a network can be passed to `train` as a mapping ``{name: fn}``. The metrics of `SHARE_SVDS` are called as
#: ``fn(Ws, svds=layer_svds(Ws))``, with one SVD per layer per record shared between them.
REGISTRY: dict[str, Callable[[list[np.ndarray]], Callable[[Sequence[np.ndarray]], np.ndarray]]] = {
    "alignment": _fixed(alignment),
    "alignment_defect": _fixed(alignment_defect),
    "invariance": invariance_to,  # the SVDs of the initial network are computed once
    "top_alignment": _fixed(top_alignment),
    "balancedness": _fixed(balancedness),
}

#: The named metrics that take ``svds=`` (see `REGISTRY`).
SHARE_SVDS = frozenset({"alignment", "invariance", "top_alignment"})
