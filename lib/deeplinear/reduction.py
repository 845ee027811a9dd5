"""Where gradient descent moves: a network trained on data of rank r is a small network in disguise.

Let ``Q`` (k_0, r) be an orthonormal basis of the column space of ``X`` and ``B_0 = Q``. For each
hidden layer ``i`` let ``B_i`` be an orthonormal basis of ``col(W_i^(0) B_{i-1}) + row(W_{i+1}^(0))``,
and ``B_d = I``. Then at every step ``t`` of gradient descent, with any loss of ``F = W_d ... W_1 X``,

    W_1^(t) = W_1^(0) (I - Q Q^T) + B_1 A_1^(t) Q^T,    W_i^(t) = B_i A_i^(t) B_{i-1}^T  (i >= 2),

where ``A^(t)`` are the iterates of gradient descent, with the same loss and learning rate, on the
small network ``A_d ... A_1`` with data ``Q^T X``, started at ``A_i^(0) = B_i^T W_i^(0) B_{i-1}``.
`reduce_network` computes the bases and the small network, `expand` maps small layers back, `scores_to`
computes the full network's alignment and invariance from the small layers with one SVD of a small matrix
per layer, `released_invariance` the released script's single invariance number of the full network, and
`metrics_deviation` checks those scores against `deeplinear.metrics` on the full network. Training the small
network while it records the full one's scores (`deeplinear.figure1.train_reduced`), its check against
plain gradient descent and the verdicts on Figures 1b and 1c are in `deeplinear.figure1`; what it saves in
time, in `deeplinear.timing`.

Paper: beyond the papers (the book's lemma, chapter 08); it makes Radhakrishnan et al.'s Section 6
network (784-1024-64-10 on 256 MNIST digits, Figures 1b and 1c) cheap to train.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import fixed_bases, metrics

__all__ = [
    "Reduction",
    "column_basis",
    "reduce_network",
    "expand",
    "scores_to",
    "released_invariance",
    "metrics_deviation",
]

Scores = tuple[np.ndarray, np.ndarray]


def column_basis(M: np.ndarray, *, scale: float | None = None, tol: float = 1e-10) -> np.ndarray:
    """An orthonormal basis of the column space of ``M``, from its SVD.

    Parameters
    ----------
    M : ndarray
        (k, m).
    scale : float or None, optional
        Singular values above ``tol * scale`` count; None: the largest singular value of ``M``.
    tol : float, optional
        >= 0.

    Returns
    -------
    ndarray
        (k, p) with orthonormal columns, p the numerical rank (0 for a zero ``M``).

    Raises
    ------
    ValueError
        If ``M`` or ``tol`` is not valid (the message names the parameter).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.reduction import column_basis
    >>> column_basis(np.array([[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]])).shape  # rank one
    (3, 1)
    """
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 2 or not np.isfinite(M).all():
        raise ValueError(f"M must be a finite 2-D array, got shape {M.shape}")
    if not tol >= 0 or (scale is not None and not scale >= 0):
        raise ValueError(f"tol and scale must be non-negative numbers, got {tol!r} and {scale!r}")
    U, s, _ = np.linalg.svd(M, full_matrices=False)
    scale = (s[0] if s.size else 0.0) if scale is None else scale
    return U[:, : int(np.sum(s > tol * scale))] if scale > 0 else U[:, :0]


@dataclass(frozen=True, eq=False)
class Reduction:
    """The lemma's small network and the bases that embed it (see the module docstring).

    Attributes
    ----------
    layers : list of ndarray
        d arrays ``A_i^(0) = B_i^T W_i^(0) B_{i-1}``, (m_i, m_{i-1}).
    X : ndarray
        (r, n), the small network's data ``Q^T X``.
    bases : list of ndarray
        d+1 arrays ``[Q, B_1, ..., B_{d-1}, I]``, ``B_i`` (k_i, m_i) with orthonormal columns.
    complement : ndarray
        (k_0, k_0 - r), an orthonormal basis ``Q_perp`` of the orthogonal complement of col(X).
    fixed : ndarray
        (k_1, k_0 - r), ``W_1^(0) Q_perp``, the part of ``W_1`` that never changes (set to exactly
        zero when it is zero up to rounding).
    scale : float
        ``max |W_1^(0)|``, the scale against which "zero up to rounding" is judged.
    start : list of ndarray
        d arrays (k_i, k_{i-1}), the full network ``W^(0)`` that was reduced.
    """

    layers: list[np.ndarray]
    X: np.ndarray
    bases: list[np.ndarray]
    complement: np.ndarray
    fixed: np.ndarray
    scale: float
    start: list[np.ndarray]

    @property
    def widths(self) -> list[int]:
        """The small network's widths ``[r, m_1, ..., m_{d-1}, k_d]``."""
        return [int(B.shape[1]) for B in self.bases]

    @property
    def cost_ratio(self) -> float:
        """Multiply-adds of a gradient step of the full network over those of the small one."""
        full = [int(B.shape[0]) for B in self.bases]
        small = self.widths
        return sum(a * b for a, b in zip(full, full[1:])) / sum(a * b for a, b in zip(small, small[1:]))

    @property
    def fixed_rank(self) -> int:
        """The rank of the fixed part ``W_1^(0) Q_perp``: singular vectors of ``W_1`` that never move."""
        return int(column_basis(self.fixed, scale=self.scale).shape[1])


def reduce_network(Ws: Sequence[np.ndarray], X: np.ndarray, *, tol: float = 1e-10) -> Reduction:
    """The lemma's bases and small network for the start ``Ws`` and data ``X``.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d >= 1 arrays (k_i, k_{i-1}), the initial network.
    X : ndarray
        (k_0, n), samples as columns.
    tol : float, optional
        Relative threshold on singular values for the ranks of ``X`` and of the bases.

    Returns
    -------
    Reduction
        Reduction; ``expand(red, red.layers)`` is ``Ws`` up to rounding.

    Raises
    ------
    ValueError
        If ``Ws`` or ``X`` is not valid (the message names the parameter).

    References
    ----------
    Paper: beyond the papers (chapter 08's lemma).
    """
    layers = [np.asarray(W, dtype=np.float64) for W in Ws]
    if not layers or any(W.ndim != 2 or 0 in W.shape or not np.isfinite(W).all() for W in layers):
        raise ValueError("Ws must be a non-empty list of finite 2-D layers (k_i, k_{i-1}) (one network, not a stack)")
    if any(b.shape[1] != a.shape[0] for a, b in zip(layers, layers[1:])):
        raise ValueError(f"Ws: the layer shapes {[W.shape for W in layers]} do not chain (k_i, k_{{i-1}})")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != layers[0].shape[1] or not np.isfinite(X).all():
        raise ValueError(f"X must be a finite array (k_0, n) = ({layers[0].shape[1]}, n), got shape {X.shape}")
    U, s, _ = np.linalg.svd(X)
    r = int(np.sum(s > tol * s[0])) if s.size and s[0] > 0 else 0
    Q, Q_perp = U[:, :r], U[:, r:]
    bases, M = [Q], layers[0] @ Q
    for W_next in layers[1:]:
        bases.append(column_basis(np.hstack([M, W_next.T]), tol=tol))
        M = W_next @ bases[-1]
    bases.append(np.eye(layers[-1].shape[0]))
    A = [B_out.T @ W @ B_in for W, B_in, B_out in zip(layers, bases[:-1], bases[1:])]
    scale = float(np.abs(layers[0]).max())
    fixed = layers[0] @ Q_perp
    if fixed.size and np.abs(fixed).max() <= 1e-12 * scale:  # zero up to rounding (e.g. a start inside col(X))
        fixed = np.zeros_like(fixed)
    return Reduction(
        layers=A, X=Q.T @ X, bases=bases, complement=Q_perp, fixed=fixed, scale=scale, start=[W.copy() for W in layers]
    )


def _reduction(red) -> Reduction:
    if not isinstance(red, Reduction):
        raise ValueError(f"red must be a Reduction (from reduce_network), got {type(red).__name__}")
    return red


def _small_layers(red: Reduction, A: Sequence[np.ndarray]) -> list[np.ndarray]:
    red = _reduction(red)
    try:
        A = [np.asarray(a, dtype=np.float64) for a in A]
    except (TypeError, ValueError) as err:
        raise ValueError("A must be a list of numeric small layers") from err
    shapes = [a.shape for a in red.layers]
    if [a.shape for a in A] != shapes:
        raise ValueError(f"A must have the small network's layer shapes {shapes}, got {[a.shape for a in A]}")
    if not all(np.isfinite(a).all() for a in A):
        raise ValueError("A must contain only finite entries")
    return A


def expand(red: Reduction, A: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The full network of the small layers ``A`` (the lemma's formula).

    Parameters
    ----------
    red : Reduction
        Reduction from `reduce_network`.
    A : sequence of ndarray
        List of d arrays of the shapes of ``red.layers``.

    Returns
    -------
    list of ndarray
        List of d arrays (k_i, k_{i-1}): ``W_1 = B_1 A_1 Q^T + W_1^(0) Q_perp Q_perp^T``, ``W_i = B_i A_i B_{i-1}^T``.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    A, B = _small_layers(red, A), red.bases
    first = B[1] @ A[0] @ B[0].T + red.fixed @ red.complement.T
    return [first] + [B[i + 1] @ A[i] @ B[i].T for i in range(1, len(A))]


def _nonzero(U: np.ndarray, s: np.ndarray, Vt: np.ndarray, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Singular vectors (U, V) of the singular values above tol times the largest (none for a zero matrix)."""
    keep = s > tol * s[0] if s.size and s[0] > 0 else np.zeros(s.shape, bool)
    return U[:, keep], Vt[keep].T


_Frames = list[tuple[str, np.ndarray]]  # unit vectors as (frame, coordinates (m, p)); frames are orthogonal


def _frame_match(A: _Frames, B: _Frames) -> float:
    """`deeplinear.metrics.best_match` of two sets of unit vectors given in coordinates of mutually orthogonal
    frames: a vector's largest ``|cos|`` is found among the other set's vectors of its own frame (it is 0
    against any other frame's)."""
    p, q = sum(a.shape[1] for _, a in A), sum(b.shape[1] for _, b in B)
    if p == 0 or q == 0:
        return 1.0 if p == 0 else 0.0
    frames = dict(B)
    total = sum(
        float(np.abs(a.T @ frames[f]).max(axis=1).sum())
        for f, a in A
        if a.shape[1] and frames.get(f, a[:, :0]).shape[1]
    )
    return total / p


def scores_to(red: Reduction) -> Callable[[Sequence[np.ndarray]], Scores]:
    """``A -> (alignment, invariance)`` of the full network ``expand(red, A)``, against ``expand(red, red.layers)``.

    The singular vectors of the full layers are computed through the bases, one SVD of a small matrix
    per layer: ``W_i = B_i A_i B_{i-1}^T`` for ``i >= 2``, and ``W_1 = [B_1, Z] K [Q, Q_perp]^T`` with
    ``K = [[A_1, B_1^T F], [0, Z^T F]]``, ``F = W_1^(0) Q_perp`` and ``Z`` a basis of the part of ``F``'s
    columns outside ``span(B_1)`` (when ``B_1^T F = 0``, ``K`` is block diagonal and the fixed block's SVD
    is taken once). Singular vectors of zero singular values (below 1e-10 times the layer's largest)
    are left out, since they are arbitrary.

    The returned function gives, for small layers ``A``:

    * alignment (d-1,): for the interface between ``W_i`` and ``W_{i+1}``, the mean over the right singular
      vectors of ``W_{i+1}`` of the best ``|cos|`` with a left singular vector of ``W_i``, as
      `deeplinear.metrics.alignment` (which keeps the vectors of zero singular values too);
    * invariance (d, 2): for each layer, the scores of ``U_i`` and of ``V_i`` against the start's by the
      same best-match rule (`deeplinear.metrics.invariance` averages the two; Definition 3 keeps
      ``U_1 .. U_{d-1}`` and ``V_2 .. V_d`` fixed).

    Parameters
    ----------
    red : Reduction
        A reduction (`deeplinear.reduction.Reduction`).

    Returns
    -------
    callable
        ``A -> (alignment, invariance)``, arrays (d-1,) and (d, 2).

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6 (the released code's scores), computed through chapter 08's lemma.
    """
    red = _reduction(red)
    B = red.bases
    E = B[1].T @ red.fixed  # the part of the fixed W_1 Q_perp inside span(B_1)
    Z = column_basis(red.fixed - B[1] @ E, scale=red.scale)  # and an orthonormal basis of the rest
    T = Z.T @ red.fixed
    block = not E.size or np.abs(E).max() <= 1e-12 * red.scale
    if block:  # the core is block diagonal: the fixed block's SVD once
        if T.size:
            fixed = _nonzero(*np.linalg.svd(T, full_matrices=False))
        else:
            fixed = (T[:, :0], np.zeros((red.fixed.shape[1], 0)))

    # Singular vectors in coordinates: each basis is a list of (frame, coordinates) with the frames
    # mutually orthogonal (B_i's span, Z's, Q_perp's), so a vector scores 0 against another frame's.
    def vectors(A: list[np.ndarray]) -> list[tuple[_Frames, _Frames]]:
        if block:  # W_1 = B_1 A_1 Q^T + Z T Q_perp^T, two orthogonal blocks
            U_a, V_a = _nonzero(*np.linalg.svd(A[0], full_matrices=False))
            out = [([("1", U_a), ("Z", fixed[0])], [("0", V_a), ("Qp", fixed[1])])]
        else:  # W_1 = [B_1, Z] K [Q, Q_perp]^T
            K = np.block([[A[0], E], [np.zeros((T.shape[0], A[0].shape[1])), T]])
            U_k, V_k = _nonzero(*np.linalg.svd(K, full_matrices=False))
            out = [([("1Z", U_k)], [("0Qp", V_k)])]
        for i in range(1, len(A)):
            U_a, V_a = _nonzero(*np.linalg.svd(A[i], full_matrices=False))
            if i == 1 and not block:  # V_2 in the frame [B_1, Z] of W_1's left vectors
                V_a = [("1Z", np.vstack([V_a, np.zeros((Z.shape[1], V_a.shape[1]))]))]
            else:
                V_a = [(str(i), V_a)]
            out.append(([(str(i + 1), U_a)], V_a))
        return out

    start = vectors(red.layers)

    def scores(A: Sequence[np.ndarray]) -> Scores:
        now = vectors(_small_layers(red, A))
        align = [_frame_match(now[i + 1][1], now[i][0]) for i in range(len(now) - 1)]
        inv = [[_frame_match(U, U0), _frame_match(V, V0)] for (U, V), (U0, V0) in zip(now, start)]
        return np.array(align).reshape(len(now) - 1), np.array(inv)

    return scores


def released_invariance(red: Reduction, A: Sequence[np.ndarray]) -> float:
    """The released MNIST script's invariance of the full network ``expand(red, A)`` against ``red.start``.

    `deeplinear.fixed_bases.released_invariance` on the full layers: each *starting* singular vector of the
    bases Definition 3 keeps fixed (``U_1 .. U_{d-1}``, ``V_2 .. V_d``) scored by its best ``|cos|`` with
    the current ones, averaged over all those vectors (784 + 64 + 64 + 10 for 784-1024-64-10). `scores_to`
    instead scores current against start, per basis, leaving out zero singular values; chapter 08
    averages its bases equally.

    Parameters
    ----------
    red : Reduction
        Reduction
    A : sequence of ndarray
        Small layers of the shapes of ``red.layers``.

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
    Paper: Section 6 (Figures 1b and 1c), as in the released script.
    """
    red = _reduction(red)
    return float(fixed_bases.released_invariance(red.start, expand(red, A)))


def metrics_deviation(red: Reduction, A: Sequence[np.ndarray]) -> float:
    """How far `scores_to` is from the library's metrics of the full network ``expand(red, A)``.

    Compares the alignment with `deeplinear.metrics.alignment` and the mean of the ``U_i`` and ``V_i``
    invariance with `deeplinear.metrics.invariance` against ``red.start`` (full SVDs of the full layers,
    one per layer shared by both). They agree when no layer has a zero singular value (`scores_to` leaves
    those vectors out, the library keeps them).

    Parameters
    ----------
    red : Reduction
        Reduction
    A : sequence of ndarray
        Small layers of the shapes of ``red.layers``.

    Returns
    -------
    float
        The largest absolute difference: rounding error when they agree.

    Raises
    ------
    ValueError
        If an argument is not valid (the message names the parameter).
    """
    red = _reduction(red)
    full = expand(red, A)
    svds = metrics.layer_svds(full)
    align, inv = scores_to(red)(A)
    align_dev = np.abs(metrics.alignment(full, svds=svds) - align).max(initial=0.0)
    inv_dev = np.abs(metrics.invariance_to(red.start)(full, svds=svds) - inv.mean(axis=1)).max()
    return float(max(align_dev, inv_dev))
