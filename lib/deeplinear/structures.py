"""Layer structures: linear subspaces of matrices with an orthogonal basis.

A layer with structure S is W = sum_j c_j A_j, and gradient descent runs on the
coefficients c (Paper: Definition 4). That this is projected gradient descent on W
(Theorem 2, footnote 3) is measured in `deeplinear.theorem2`.

All methods broadcast over leading axes, so stacked ensembles (S, m, n) and
coefficients (S, r) work unchanged.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import _validate

__all__ = [
    "Structure",
    "Convolution",
    "Toeplitz",
    "Sparse",
    "RandomSubspace",
    "orthonormal",
    "banded_toeplitz",
    "random_layers",
]


class Structure:
    """A layer structure given by an explicit orthogonal basis.

    Parameters
    ----------
    basis : array_like, shape (r, m, n)
        Mutually orthogonal, non-zero matrices A_1..A_r (Frobenius inner product).

    References
    ----------
    Paper: Definition 4; Theorem 2 and footnote 3.
    """

    def __init__(self, basis: ArrayLike) -> None:
        basis = np.array(basis, dtype=np.float64)
        if basis.ndim != 3 or basis.shape[0] < 1:
            raise ValueError(f"basis must have shape (r, m, n) with r >= 1, got {basis.shape}")
        if not np.isfinite(basis).all():
            raise ValueError("basis must contain only finite entries")
        flat = basis.reshape(basis.shape[0], -1)
        gram = flat @ flat.T
        norms2 = np.diag(gram).copy()
        if np.any(norms2 <= 0):
            raise ValueError("basis must consist of non-zero matrices")
        off = gram - np.diag(norms2)
        if np.max(np.abs(off)) > 1e-10 * np.max(norms2):
            raise ValueError("basis must be orthogonal: its Gram matrix has off-diagonal entries")
        self._basis = basis
        self._norms2 = norms2

    # -- description -------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """(m, n): the shape of the matrices in S."""
        return tuple(self._basis.shape[1:])

    @property
    def dim(self) -> int:
        """r: the dimension of S."""
        return int(self._basis.shape[0])

    @property
    def basis(self) -> np.ndarray:
        """The orthogonal basis, shape (r, m, n)."""
        return self._basis

    @property
    def norms2(self) -> np.ndarray:
        """||A_j||_F^2, shape (r,)."""
        return self._norms2

    def _name(self) -> str:
        return f"{type(self).__name__}(basis of shape {self.basis.shape})"

    def __repr__(self) -> str:
        m, n = self.shape
        return f"{self._name()}: {self.dim}-dimensional subspace of {m}x{n} matrices"

    # -- checks ------------------------------------------------------------
    def _coef(self, c) -> np.ndarray:
        c = _validate.array(c, "c", 1)
        if c.shape[-1] != self.dim:
            raise ValueError(f"c must have shape (..., {self.dim}), got {c.shape}")
        return c

    def _mat(self, W, name: str = "W", side: str = "mn") -> np.ndarray:
        W = _validate.array(W, name, 2)
        m, n = self.shape
        want = {"mn": (m, n), "m": m, "n": n}[side]
        got = W.shape[-2:] if side == "mn" else W.shape[-2]
        if got != want:
            expect = f"(..., {m}, {n})" if side == "mn" else f"(..., {want}, N)"
            raise ValueError(f"{name} must have shape {expect}, got {W.shape}")
        return W

    # -- the two primitives (dense here; overridden by pattern structures) --
    def _matrix(self, c: np.ndarray) -> np.ndarray:
        return np.tensordot(c, self._basis, axes=([-1], [0]))

    def _adjoint(self, G: np.ndarray) -> np.ndarray:
        r = self.dim
        flat = G.reshape(*G.shape[:-2], -1)
        return flat @ self._basis.reshape(r, -1).T

    # -- public API --------------------------------------------------------
    def matrix(self, c: ArrayLike) -> np.ndarray:
        """sum_j c_j A_j: coefficients (..., r) -> matrices (..., m, n).

        Parameters
        ----------
        c : ArrayLike
            (..., r), coefficients.

        Returns
        -------
        ndarray
            (..., m, n), ``sum_j c_j A_j``.

        Examples
        --------
        >>> from deeplinear.structures import Toeplitz
        >>> Toeplitz(2).matrix([1.0, 2.0, 3.0])  # offsets -1, 0, +1
        array([[2., 3.],
               [1., 2.]])
        """
        return self._matrix(self._coef(c))

    def adjoint(self, G: ArrayLike) -> np.ndarray:
        """<A_j, G>_F: matrices (..., m, n) -> (..., r).

        The gradient with respect to the coefficients when G = dL/dW (Paper: Theorem 2).

        Parameters
        ----------
        G : ArrayLike
            (..., m, n), matrices.

        Returns
        -------
        ndarray
            (..., r), ``<A_j, G>_F``.
        """
        return self._adjoint(self._mat(G, "G"))

    def coefficients(self, W: ArrayLike) -> np.ndarray:
        """<A_j, W>_F / ||A_j||^2: (..., m, n) -> (..., r); inverts `matrix` on S.

        Parameters
        ----------
        W : ArrayLike
            A layer, ndarray (m, n).

        Returns
        -------
        ndarray
            (..., r).
        """
        return self._adjoint(self._mat(W)) / self.norms2

    def project(self, G: ArrayLike, scaled: bool = True) -> np.ndarray:
        """Projection onto S, (..., m, n) -> (..., m, n).

        scaled=True is Theorem 2's pi_S with footnote 3's scaling, sum_j <A_j, G> A_j (the
        matrix update made by gradient descent on the coefficients); scaled=False is the
        orthogonal projection sum_j <A_j, G> / ||A_j||^2 A_j.

        Parameters
        ----------
        G : ArrayLike
            (..., m, n), matrices.
        scaled : bool, optional
            Theorem 2's scaled projection (True) or the orthogonal one (False).

        Returns
        -------
        ndarray
            (..., m, n).
        """
        a = self._adjoint(self._mat(G, "G"))
        return self._matrix(a if scaled else a / self.norms2)

    def contains(self, W: ArrayLike, tol: float = 1e-10) -> bool:
        """Whether W (every W of a stack (..., m, n)) lies in S, up to tol * ||W||_F.

        Parameters
        ----------
        W : ArrayLike
            A layer, ndarray (m, n).
        tol : float, optional
            Tolerance, > 0.

        Returns
        -------
        bool
            Whether W (every W of a stack (..., m, n)) lies in S, up to tol * ||W||_F.
        """
        W = self._mat(W)
        res = W - self._matrix(self._adjoint(W) / self.norms2)
        return bool(np.all(np.linalg.norm(res, axis=(-2, -1)) <= tol * np.linalg.norm(W, axis=(-2, -1))))

    def apply(self, c: ArrayLike, A: ArrayLike) -> np.ndarray:
        """matrix(c) @ A: (..., r), (..., n, N) -> (..., m, N).

        Parameters
        ----------
        c : ArrayLike
            (..., r), coefficients.
        A : ArrayLike
            (..., n, N).

        Returns
        -------
        ndarray
            (..., m, N).
        """
        return self._apply(self._coef(c), self._mat(A, "A", "n"))

    def apply_transpose(self, c: ArrayLike, D: ArrayLike) -> np.ndarray:
        """matrix(c)^T @ D: (..., r), (..., m, N) -> (..., n, N).

        Parameters
        ----------
        c : ArrayLike
            (..., r), coefficients.
        D : ArrayLike
            (..., m, N).

        Returns
        -------
        ndarray
            (..., n, N).
        """
        return self._apply_transpose(self._coef(c), self._mat(D, "D", "m"))

    def outer_adjoint(self, D: ArrayLike, A: ArrayLike) -> np.ndarray:
        """adjoint(D @ A^T): (..., m, N), (..., n, N) -> (..., r).

        The coefficient gradient of a layer with output gradient D and input A (Paper: Theorem 2).

        Parameters
        ----------
        D : ArrayLike
            (..., m, N), output gradient.
        A : ArrayLike
            (..., n, N), layer input.

        Returns
        -------
        ndarray
            (..., r).

        Raises
        ------
        ValueError
            If ``D`` is not valid (the message names the parameter).
        """
        D, A = self._mat(D, "D", "m"), self._mat(A, "A", "n")
        if D.shape[-1] != A.shape[-1]:
            raise ValueError(f"D and A must have the same number of columns N, got {D.shape} and {A.shape}")
        return self._outer_adjoint(D, A)

    def _apply(self, c, A):
        return self._matrix(c) @ A

    def _apply_transpose(self, c, D):
        return np.swapaxes(self._matrix(c), -1, -2) @ D

    def _outer_adjoint(self, D, A):
        return self._adjoint(D @ np.swapaxes(A, -1, -2))


class _Pattern(Structure):
    """A structure whose basis matrices are 0/1 matrices with disjoint supports.

    Stored as the flat positions of the support and the basis index of each position,
    so that neither `matrix` nor `adjoint` ever forms the (r, m, n) basis.
    """

    def __init__(self, shape: tuple[int, int], labels: np.ndarray) -> None:
        # labels: (m, n) ints, -1 outside the support, j for entries of A_j.
        flat = labels.ravel()
        pos = np.flatnonzero(flat >= 0)
        lab = flat[pos]
        order = np.argsort(lab, kind="stable")
        self._shape = (int(shape[0]), int(shape[1]))
        self._pos, self._lab = pos, lab
        self._pos_sorted = pos[order]
        counts = np.bincount(lab, minlength=int(lab.max()) + 1)
        self._starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self._norms2 = counts.astype(np.float64)

    @property
    def shape(self) -> tuple[int, int]:
        return self._shape

    @property
    def dim(self) -> int:
        return int(self._norms2.shape[0])

    @property
    def basis(self) -> np.ndarray:
        """The basis, shape (r, m, n), built on demand (not used by the fast paths)."""
        return self._matrix(np.eye(self.dim))

    def _matrix(self, c):
        m, n = self._shape
        out = np.zeros((*c.shape[:-1], m * n))
        out[..., self._pos] = c[..., self._lab]
        return out.reshape(*c.shape[:-1], m, n)

    def _adjoint(self, G):
        flat = G.reshape(*G.shape[:-2], -1)[..., self._pos_sorted]
        return np.add.reduceat(flat, self._starts, axis=-1)


class Toeplitz(_Pattern):
    """k x k Toeplitz matrices; coefficient j is the diagonal ``W[i, i+o]``, ``o = j - (k-1)``.

    Offsets run ``-(k-1)..(k-1)`` ascending, so ``r = 2k - 1`` and ``||A_j||^2 = k - abs(o)``.

    Parameters
    ----------
    k : int
        Size of the matrices, >= 1.

    Raises
    ------
    ValueError
        If ``k`` is not a positive integer.

    References
    ----------
    Paper: Section 6, Figure 2a.
    """

    def __init__(self, k: int) -> None:
        self.k = _validate.integer(k, "k")
        i, j = np.indices((self.k, self.k))
        super().__init__((self.k, self.k), j - i + self.k - 1)

    def _name(self) -> str:
        return f"Toeplitz(k={self.k})"


class Sparse(_Pattern):
    """Matrices vanishing outside a boolean mask; one coefficient per True entry (row-major).

    The basis E_{ab} is orthonormal, so both projections coincide.

    Parameters
    ----------
    mask : ArrayLike
        (m, n) bool, at least one True entry.

    Raises
    ------
    ValueError
        If ``mask`` is not such an array.

    References
    ----------
    Paper: Section 5.1.
    """

    def __init__(self, mask: ArrayLike) -> None:
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.ndim != 2 or not mask.any():
            raise ValueError(
                "mask must be a 2-D boolean array with at least one True entry, "
                f"got dtype {mask.dtype} and shape {mask.shape}"
            )
        self.mask = mask.copy()
        labels = np.full(mask.shape, -1, dtype=np.intp)
        labels[mask] = np.arange(int(mask.sum()))
        super().__init__(mask.shape, labels)

    def _name(self) -> str:
        return f"Sparse(mask with {self.dim} of {self.mask.size} entries)"


class Convolution(_Pattern):
    """One s x s filter on p x p images, stride 1, zero padding (s-1)/2.

    Images are flattened row-major to p^2 vectors; the filter acts as PyTorch's Conv2d
    (cross-correlation, no flip): out[i, j] = sum_{a,b} f[a, b] in[i+a-h, j+b-h], h = (s-1)/2.
    Coefficient a*s + b is the tap f[a, b]; its basis matrix is a shift matrix with
    ||A_j||^2 = number of output positions where that tap sees the image.

    Parameters
    ----------
    p : int
        Images are p x p, p >= 1.
    s : int
        Filter size, odd, 1 <= s <= 2p - 1.

    Raises
    ------
    ValueError
        If ``p`` or ``s`` is out of range.

    References
    ----------
    Paper: Section 5.1 and Appendix I.
    """

    def __init__(self, p: int, s: int) -> None:
        p, s = _validate.integer(p, "p"), _validate.integer(s, "s")
        if s % 2 == 0 or s > 2 * p - 1:
            raise ValueError(f"s must be odd with 1 <= s <= 2p-1 = {2 * p - 1}, got {s}")
        self.p, self.s, self.h = p, s, (s - 1) // 2
        oi, oj = np.divmod(np.arange(p * p), p)  # output pixel (row, col)
        da = oi[None, :] - oi[:, None] + self.h  # input row - output row + h
        db = oj[None, :] - oj[:, None] + self.h
        inside = (da >= 0) & (da < s) & (db >= 0) & (db < s)
        super().__init__((p * p, p * p), np.where(inside, da * s + db, -1))

    def _name(self) -> str:
        return f"Convolution(p={self.p}, s={self.s}; {self.p}x{self.p} images, {self.s}x{self.s} filter)"

    def kernel(self, c: ArrayLike) -> np.ndarray:
        """The filter as an image: coefficients (..., s^2) -> (..., s, s).

        Parameters
        ----------
        c : ArrayLike
            (..., s^2), coefficients.

        Returns
        -------
        ndarray
            The filter as an image: coefficients (..., s^2) -> (..., s, s).
        """
        c = self._coef(c)
        return c.reshape(*c.shape[:-1], self.s, self.s)

    # Direct shifted sums on (..., p, p, N) views; never forms the p^2 x p^2 matrix.
    def _taps(self):
        for a in range(self.s):
            for b in range(self.s):
                yield a * self.s + b, a, b

    def _pad(self, X):
        p, h = self.p, self.h
        X = X.reshape(*X.shape[:-2], p, p, X.shape[-1])
        widths = [(0, 0)] * (X.ndim - 3) + [(h, h), (h, h), (0, 0)]
        return np.pad(X, widths)

    def _correlate(self, c, X, flip: bool):
        """sum over taps of c_j times the shifted image; flip=True applies the transpose."""
        p, last, Xp = self.p, self.s - 1, self._pad(X)
        lead = np.broadcast_shapes(c.shape[:-1], X.shape[:-2])
        out = np.zeros((*lead, p, p, X.shape[-1]))
        for j, a, b in self._taps():
            a, b = (last - a, last - b) if flip else (a, b)
            out += c[..., j, None, None, None] * Xp[..., a : a + p, b : b + p, :]
        return out.reshape(*lead, p * p, X.shape[-1])

    def _apply(self, c, A):
        return self._correlate(c, A, flip=False)

    def _apply_transpose(self, c, D):  # the transpose correlates with the flipped filter
        return self._correlate(c, D, flip=True)

    def _outer_adjoint(self, D, A):
        p, Ap = self.p, self._pad(A)
        D = D.reshape(*D.shape[:-2], p, p, D.shape[-1])
        lead = np.broadcast_shapes(D.shape[:-3], A.shape[:-2])
        out = np.empty((*lead, self.dim))
        for j, a, b in self._taps():
            out[..., j] = np.einsum("...ijn,...ijn->...", D, Ap[..., a : a + p, b : b + p, :])
        return out


class RandomSubspace(Structure):
    """A uniformly random r-dimensional subspace of m x n matrices, orthonormal basis.

    Parameters
    ----------
    m : int
        Rows of the matrices, >= 1.
    n : int
        Columns of the matrices, >= 1.
    r : int
        Dimension, 1 <= r <= m*n.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Raises
    ------
    ValueError
        If ``m``, ``n`` or ``r`` is out of range.

    Notes
    -----
    Used for the phase diagram over (n, r).

    References
    ----------
    Paper: Theorem 3 / Proposition 4.
    """

    def __init__(self, m: int, n: int, r: int, *, rng: int | np.random.Generator | None = None) -> None:
        rng = _validate.rng(rng)
        m, n, r = _validate.integer(m, "m"), _validate.integer(n, "n"), _validate.integer(r, "r")
        if r > m * n:
            raise ValueError(f"r must satisfy 1 <= r <= m*n = {m * n}, got {r}")
        q, _ = np.linalg.qr(rng.standard_normal((m * n, r)))
        super().__init__(q.T.reshape(r, m, n))

    def _name(self) -> str:
        m, n = self.shape
        return f"RandomSubspace(m={m}, n={n}, r={self.dim}; orthonormal)"


def orthonormal(structure: Structure) -> Structure:
    """The same subspace with the orthonormal basis ``A_j / ||A_j||_F``.

    Gradient descent on these coefficients is projected gradient descent with the orthogonal
    projection (Paper: Theorem 2 and footnote 3): the trajectory depends on the basis, not only on S.

    Parameters
    ----------
    structure : Structure
        Structure with basis (r, m, n).

    Returns
    -------
    Structure
        Structure, basis (r, m, n), ``norms2`` all 1.

    Raises
    ------
    ValueError
        If ``structure`` is not valid (the message names the parameter).
    """
    if not isinstance(structure, Structure):
        raise ValueError(f"structure must be a deeplinear.structures.Structure, got {structure!r}")
    basis = structure.basis
    return Structure(basis / np.linalg.norm(basis, axis=(1, 2))[:, None, None])


def banded_toeplitz(k: int, b: int) -> Structure:
    """k x k Toeplitz matrices whose diagonals ``o`` satisfy ``|o| <= b``: r = 2b + 1.

    The basis is that of `Toeplitz` restricted to those diagonals (offsets ascending,
    ``||A_o||^2 = k - |o|``); ``b = 0`` is the span of the identity, ``b = k - 1`` all of Toeplitz(k).

    Parameters
    ----------
    k : int
        >= 1, matrix side.
    b : int
        In [0, k-1], half-bandwidth.

    Returns
    -------
    Structure
        Structure, basis (2b + 1, k, k).

    Raises
    ------
    ValueError
        If ``k`` or ``b`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 5.1 (layer structures), Figure 2a's Toeplitz layers.

    Examples
    --------
    >>> from deeplinear.structures import banded_toeplitz
    >>> banded_toeplitz(4, 1).dim  # the main diagonal and one on each side
    3
    """
    k = _validate.integer(k, "k")
    _validate.integer(b, "b", 0, high=k - 1, what=f"an integer in [0, k-1] = [0, {k - 1}]")
    return Structure(Toeplitz(k).basis[k - 1 - b : k + b])


def random_layers(
    structure: Structure, depth: int, *, rng: int | np.random.Generator | None = None
) -> list[np.ndarray]:
    """``depth`` layers ``S.matrix(c)`` with standard normal coefficients c, each scaled to spectral norm 1.

    Draws the coefficients layer by layer, ``rng.standard_normal(r)`` each.

    Parameters
    ----------
    structure : Structure
        Structure of m x n matrices, dimension r.
    depth : int
        >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    list of ndarray
        List of ``depth`` arrays (m, n) in S.

    Raises
    ------
    ValueError
        If ``rng``, ``depth`` or ``structure`` is not valid (the message names the parameter).
    """
    rng = _validate.rng(rng)
    depth = _validate.integer(depth, "depth")
    structure = _validate.structure(structure)
    layers = []
    for _ in range(depth):
        W = structure.matrix(rng.standard_normal(structure.dim))
        layers.append(W / np.linalg.norm(W, 2))
    return layers
