"""The diagnostics `deeplinear.train` records by name (`REGISTRY`): alignment (Section 6's best-match score
and a basis-free defect), invariance, Ji and Telgarsky's top alignment, and balancedness.

The overlap matrices and Section 6's measure read literally are in `deeplinear.overlaps`; the released
script's single invariance number and the drift of pinned bases in `deeplinear.fixed_bases`; the margin and
rank-one ratio of Ji and Telgarsky in `deeplinear.directions`.

A network is ``Ws = [W_1, ..., W_d]`` with ``W_i`` of shape ``(k_i, k_{i-1})``. Every function that takes
a network also accepts a stacked one (layers ``(S, k_i, k_{i-1})``) and then returns an extra leading
``S`` axis. Paper: Radhakrishnan et al., Definition 2 and Section 6; Ji & Telgarsky, Theorem 2.2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from . import _validate

__all__ = [
    "layer_svds",
    "best_match",
    "alignment",
    "alignment_defect",
    "traceless_alignment_defect",
    "invariance",
    "invariance_to",
    "top_alignment",
    "imbalance",
    "balancedness",
    "REGISTRY",
]


def _as_network(Ws: Sequence[np.ndarray], name: str = "Ws") -> list[np.ndarray]:
    """Validate a (possibly stacked) network, any iterable of layers; return its layers as float64 arrays."""
    return _validate.network(Ws, name, sequence=False)[0]


def layer_svds(Ws: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The reduced SVD ``(U, s, Vt)`` of every layer, for metrics that share them (``svds=``).

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1})

    Returns
    -------
    list of tuple
        List of d tuples ``(U, s, Vt)`` as ``np.linalg.svd(W, full_matrices=False)`` returns them.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.metrics import layer_svds
    >>> [s.tolist() for _, s, _ in layer_svds([np.diag([1.0, 3.0])])]
    [[3.0, 1.0]]
    """
    return [np.linalg.svd(W, full_matrices=False) for W in _as_network(Ws)]


def _best_match(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Mean over columns a_j of A (..., m, p) of max_l |<a_j, b_l>| over columns of B (..., m, q)."""
    return np.abs(np.swapaxes(A, -1, -2) @ B).max(axis=-1).mean(axis=-1)


def best_match(A: np.ndarray, B: np.ndarray) -> float | np.ndarray:
    """The best-match score of two sets of unit vectors (the rule of the released code's scores): each
    column of ``A`` scores its largest ``|cos|`` with a column of ``B``; the result is the mean of these
    scores. It is not symmetric: which set plays ``A`` matters. The released MNIST script's alignment
    takes ``A = V_{i+1}``, ``B = U_i`` (as `alignment` does); its invariance takes ``A`` = the *starting*
    singular vectors and ``B`` = the current ones (`deeplinear.fixed_bases.released_invariance`), while
    `invariance` takes them the other way round.

    Parameters
    ----------
    A : ndarray
        (..., m, p), orthonormal columns (singular vectors, say).
    B : ndarray
        (..., m, q), orthonormal columns.

    Returns
    -------
    float or ndarray
        Float, or ndarray (...) for stacks; in [0, 1]. With ``p = 0`` there is nothing to match and the
        score is 1; with ``q = 0 < p`` no column finds a partner and it is 0.

    Raises
    ------
    ValueError
        If ``A`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6 (the alignment and invariance scores of Figures 1 and 2), as released.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.metrics import best_match
    >>> best_match(np.eye(2), np.eye(2)[:, ::-1])  # the same vectors in another order
    1.0
    """
    A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    if A.ndim < 2 or B.ndim < 2 or A.shape[-2] != B.shape[-2] or A.shape[:-2] != B.shape[:-2]:
        raise ValueError(
            f"A and B must be arrays (..., m, p) and (..., m, q) with the same m and "
            f"leading axes, got shapes {A.shape} and {B.shape}"
        )
    if not (np.isfinite(A).all() and np.isfinite(B).all()):
        raise ValueError("A and B must be finite")
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
    function does (corresponding columns, `deeplinear.overlaps.corresponding_columns`, would depend on the
    order the SVD routine happens to use).

    The score stops being meaningful in two cases:

    * repeated singular values: the singular vectors of that singular value are any orthonormal basis
      of its singular subspace, so an aligned network can score below 1
      (use :func:`alignment_defect`, which is basis-free);
    * a ``v_j`` in the left null space of a rank-deficient ``W_i`` (e.g. ``k_{i+1} > k_{i-1}``, so
      ``W_{i+1}`` has more right singular vectors than ``W_i`` has left ones): no ``u_l`` matches it,
      and the score falls below 1 although the network may be aligned.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1})
    svds : list or None, optional
        Optional, `layer_svds` of ``Ws`` (computed here when not given), to share with other metrics.

    Returns
    -------
    ndarray
        (d-1,) or (S, d-1), entries in [0, 1].

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 2, Section 6.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.aligned import aligned_network, random_orthogonal
    >>> from deeplinear.metrics import alignment
    >>> bases = [random_orthogonal(3, rng=s) for s in range(4)]
    >>> Ws = aligned_network(bases, [np.array([3.0, 2.0, 1.0])] * 3)
    >>> np.round(alignment(Ws), 6)
    array([1., 1.])
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
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1})

    Returns
    -------
    ndarray
        (d-1,) or (S, d-1), entries >= 0 (at most sqrt(2)).

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 2.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.metrics import alignment_defect
    >>> bool(np.all(alignment_defect([np.eye(3), np.diag([1.0, 2.0, 3.0])]) < 1e-12))  # diagonal layers are aligned
    True
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


def traceless_alignment_defect(Ws: Sequence) -> np.ndarray:
    """Alignment defect of each interface with the identity removed from the normalisation.

    With ``M = W_i W_i^T`` and ``N = W_{i+1}^T W_{i+1}`` (both ``(k_i, k_i)``) and ``tM``, ``tN``
    their traceless parts (``M - tr(M)/k_i I``), the defect is ``||M N - N M||_F / (||tM||_F ||tN||_F)``:
    the commutator of :func:`alignment_defect` (0 exactly when the interface has a common singular
    basis), normalised so that scalar multiples of the identity, which commute with everything and which
    Theorem 3 sets aside, do not make it small. When ``tM`` or ``tN`` vanishes (to ``1e-12`` relative to
    ``||M||_F ||N||_F``), the defect is 0 by convention. Unlike :func:`alignment_defect` it is unbounded.

    Parameters
    ----------
    Ws : sequence
        List of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1}); or a list of d 2-D
        ``scipy.sparse`` matrices (large structured layers: sparse products, same value to rounding).

    Returns
    -------
    ndarray
        (d-1,) or (S, d-1), entries >= 0.

    Raises
    ------
    ValueError
        If ``Ws`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 2; Theorem 3 (scalar multiples of the identity excluded).
    """
    from scipy import sparse
    from scipy.sparse import linalg as sparse_linalg

    if len(Ws) and all(sparse.issparse(W) for W in Ws):
        layers, linalg = [sparse.csr_matrix(W, dtype=np.float64) for W in Ws], sparse_linalg
        if any(B.shape[1] != A.shape[0] for A, B in zip(layers[:-1], layers[1:])):
            raise ValueError(f"Ws: layers must chain, got shapes {[W.shape for W in layers]}")
    else:
        layers, linalg = _as_network(Ws), None
    out = []
    for A, B in zip(layers[:-1], layers[1:]):
        if linalg is not None:
            M, N = (A @ A.T).tocsr(), (B.T @ B).tocsr()
            eye = sparse.identity(M.shape[0], format="csr")
            tM, tN = M - M.diagonal().mean() * eye, N - N.diagonal().mean() * eye
            num = linalg.norm(M @ N - N @ M)
            den = linalg.norm(tM) * linalg.norm(tN)
            scale = linalg.norm(M) * linalg.norm(N)
        else:
            M, N = A @ np.swapaxes(A, -1, -2), np.swapaxes(B, -1, -2) @ B
            eye = np.eye(M.shape[-1])
            tr_M = np.trace(M, axis1=-2, axis2=-1)[..., None, None] / M.shape[-1]
            tr_N = np.trace(N, axis1=-2, axis2=-1)[..., None, None] / N.shape[-1]
            MN = M @ N
            num = np.linalg.norm(MN - np.swapaxes(MN, -1, -2), axis=(-2, -1))
            den = np.linalg.norm(M - tr_M * eye, axis=(-2, -1)) * np.linalg.norm(N - tr_N * eye, axis=(-2, -1))
            scale = np.linalg.norm(M, axis=(-2, -1)) * np.linalg.norm(N, axis=(-2, -1))
        ok = np.asarray(den > 1e-12 * scale)
        out.append(np.where(ok, np.asarray(num) / np.where(ok, den, 1.0), 0.0))
    if not out:
        return np.zeros((0,) if linalg is not None else layers[0].shape[:-2] + (0,))
    return np.stack(out, axis=-1)


def invariance(Ws0: Sequence[np.ndarray], Ws: Sequence[np.ndarray]) -> np.ndarray:
    """How far each layer's singular vectors moved since initialisation (1 = unchanged).

    For layer ``i``, take reduced SVDs of ``W_i^(0)`` and ``W_i^(t)``; score each column of
    ``U_i^(t)`` (the *current* vectors) by its best ``|cos|`` with the columns of ``U_i^(0)`` and
    average, do the same for ``V_i``, and average the two. This is the paper's Section 6 measure with
    the best-match rule instead of "corresponding columns", oriented current -> start. The released
    MNIST script orients it start -> current, each starting vector against the current ones, which is
    the orientation Definition 3 calls for: (b) and (c) ask that the *starting* ``U_i``, ``V_i`` stay
    singular vectors of ``W_i^(t)``. Both orientations are 1 exactly when that holds (reduced SVDs of
    equal shapes have equally many orthonormal columns, so a perfect match is a signed permutation);
    below 1 they differ. `deeplinear.fixed_bases.released_invariance` is the released score (start ->
    current, only the bases Definition 3 keeps fixed, weighted by their number of vectors). Changing only
    the singular values (or their order or signs) leaves it at 1. Not meaningful with repeated (or zero,
    for rank-deficient layers) singular values, whose singular vectors are not unique.

    Parameters
    ----------
    Ws0 : sequence of ndarray
        List of d arrays (k_i, k_{i-1}) or (S, k_i, k_{i-1}), the network at initialisation.
    Ws : sequence of ndarray
        Same shapes as ``Ws0``, the network at time t.

    Returns
    -------
    ndarray
        (d,) or (S, d), entries in [0, 1].

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6. To score many networks against the same ``Ws0`` (a training run), use
    `invariance_to`, which computes the SVDs of ``Ws0`` once.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.metrics import invariance
    >>> Ws0 = [np.diag([3.0, 2.0, 1.0]), np.diag([1.0, 2.0, 3.0])]
    >>> np.round(invariance(Ws0, [2 * W for W in Ws0]), 6)  # rescaling keeps the singular vectors
    array([1., 1.])
    """
    return invariance_to(Ws0)(Ws)


def invariance_to(Ws0: Sequence[np.ndarray]) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
    """``Ws -> invariance(Ws0, Ws)``, with the SVDs of ``Ws0`` computed once.

    The returned function also takes ``svds=``, the `layer_svds` of ``Ws``, to share them with other metrics.

    Parameters
    ----------
    Ws0 : sequence of ndarray
        The starting network, layers (k_i, k_{i-1}) (or stacked (S, k_i, k_{i-1})).

    Returns
    -------
    callable
        ``Ws -> invariance(Ws0, Ws)`` (also taking ``svds=``).

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
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
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1})
    svds : list or None, optional
        `layer_svds` of ``Ws`` (computed here when not given).

    Returns
    -------
    ndarray
        (d-1,) or (S, d-1), entries in [0, 1].

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Ji & Telgarsky, Theorem 2.2 (``|v_{j+1}^T u_j| -> 1``), their Figure 1b. ``svds=`` as in
    :func:`alignment`.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.metrics import top_alignment
    >>> top_alignment([np.diag([2.0, 1.0]), np.diag([3.0, 1.0])])
    array([1.])
    """
    layers = _as_network(Ws)
    svds = layer_svds(layers) if svds is None else svds
    out = [np.abs(np.sum(svds[i][0][..., :, 0] * svds[i + 1][2][..., 0, :], axis=-1)) for i in range(len(layers) - 1)]
    return np.stack(out, axis=-1) if out else np.zeros(layers[0].shape[:-2] + (0,))


def imbalance(Ws: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The imbalance ``D_i = W_{i+1}^T W_{i+1} - W_i W_i^T`` of each interface, as matrices.

    A network is 0-balanced when every ``D_i`` is 0 (Arora et al. 2018); gradient flow conserves every
    ``D_i`` (Du et al. 2018), and one gradient step changes it by ``lr^2 (G_{i+1}^T G_{i+1} - G_i G_i^T)``
    (see `deeplinear.balance.step_drift`). The paper's related-work section prints the indices the other
    way round (`deeplinear.balance.printed_imbalance`), which is not conserved.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1})

    Returns
    -------
    list of ndarray
        List of d-1 arrays (k_i, k_i), or (S, k_i, k_i) for a stacked network.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 2 (balancedness, Arora et al. 2018; Du et al. 2018), Proposition 2.

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.metrics import imbalance
    >>> [D.tolist() for D in imbalance([np.eye(2), np.eye(2)])]  # balanced: W_2^T W_2 = W_1 W_1^T
    [[[0.0, 0.0], [0.0, 0.0]]]
    """
    left, right = _grams(_as_network(Ws))
    return [N - M for M, N in zip(left, right)]


def balancedness(Ws: Sequence[np.ndarray]) -> np.ndarray:
    """Balancedness defect ``||W_{i+1}^T W_{i+1} - W_i W_i^T||_F`` of each interface (0 = balanced):
    the Frobenius norms of :func:`imbalance`.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1})

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
    Paper: Section 2 (balancedness, Arora et al. 2018), Proposition 2 (0-balanced solutions).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.metrics import balancedness
    >>> balancedness([np.eye(2), np.eye(2)]).tolist(), bool(np.all(balancedness([np.eye(2), 2 * np.eye(2)]) > 0))
    ([0.0], True)
    """
    layers = _as_network(Ws)
    out = [np.linalg.norm(D, axis=(-2, -1)) for D in imbalance(layers)]
    return np.stack(out, axis=-1) if out else np.zeros(layers[0].shape[:-2] + (0,))


class _Entry:
    """A named metric: ``factory(initial)`` returns ``fn(Ws)``; with ``shares_svds``, ``fn`` takes ``svds=``
    (the SVDs of the record, one per layer, shared between every such metric)."""

    def __init__(self, factory: Callable[[list[np.ndarray]], Callable], *, shares_svds: bool) -> None:
        self.factory, self.shares_svds = factory, shares_svds

    def __call__(self, initial: list[np.ndarray]) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
        return self.factory(initial)

    def __repr__(self) -> str:
        return f"_Entry({getattr(self.factory, '__name__', self.factory)}, shares_svds={self.shares_svds})"


def _fixed(fn: Callable[[Sequence[np.ndarray]], np.ndarray]):
    return lambda initial: fn


#: The metrics `deeplinear.train` records by name (``metrics=("alignment", "invariance")``): name -> a factory
#: that takes the initial network and returns ``fn(Ws)``. Only these names are accepted; any other function of
#: a network can be passed to `train` as a mapping ``{name: fn}``. An entry whose ``shares_svds`` is true is
#: called as ``fn(Ws, svds=layer_svds(Ws))``, with one SVD per layer per record shared between such metrics.
REGISTRY: dict[str, _Entry] = {
    "alignment": _Entry(_fixed(alignment), shares_svds=True),
    "alignment_defect": _Entry(_fixed(alignment_defect), shares_svds=False),
    "invariance": _Entry(invariance_to, shares_svds=True),  # the SVDs of the initial network are computed once
    "top_alignment": _Entry(_fixed(top_alignment), shares_svds=True),
    "balancedness": _Entry(_fixed(balancedness), shares_svds=False),
}
