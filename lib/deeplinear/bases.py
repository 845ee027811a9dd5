"""The released scores over every choice of singular basis.

Where a layer has a repeated singular value (or a cluster of nearly equal ones), its singular vectors are
any orthonormal basis of that singular subspace: an SVD routine returns one of them, and which one depends
on the last bits of the arithmetic (the BLAS kernel, the SIMD level, the thread count). The best-match
scores of :mod:`deeplinear.metrics` then depend on that choice. The functions here draw the choice at
random instead, from a basis that does not depend on the routine, so that what they return is a property
of the network and the seed, not of the machine: the score over many bases, whose range is the honest
answer.

Paper: Definition 1 (a usSVD is any such choice), Section 6 (the released scores).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _validate
from .aligned import random_orthogonal
from .metrics import _as_network, _best_match

__all__ = [
    "singular_subspaces",
    "random_svd",
    "alignment_over_bases",
    "invariance_over_bases",
    "scores_over_bases",
    "paired_rotation",
    "reversed_spectra",
]


def singular_subspaces(s: np.ndarray, rtol: float = 1e-8) -> list[np.ndarray]:
    """Groups of indices of (nearly) equal singular values.

    Parameters
    ----------
    s : ndarray
        (r,), singular values in decreasing order (as ``np.linalg.svd`` returns them).
    rtol : float, optional
        Two neighbours whose gap is at most ``rtol * s[0]`` share a group (chains merge).

    Returns
    -------
    list of ndarray
        List of 1-D integer arrays that partition ``range(r)``, in order.

    Raises
    ------
    ValueError
        If ``s`` or ``rtol`` is not valid (the message names the parameter).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.bases import singular_subspaces
    >>> [g.tolist() for g in singular_subspaces(np.array([3.0, 2.0, 2.0, 1.0]))]
    [[0], [1, 2], [3]]
    """
    s = np.asarray(s, dtype=np.float64)
    if s.ndim != 1 or not np.isfinite(s).all() or np.any(np.diff(s) > 0):
        raise ValueError(f"s must be a finite 1-D array of singular values in decreasing order, got {s!r}")
    if not 0 <= rtol < 1:
        raise ValueError(f"rtol must be in [0, 1), got {rtol!r}")
    if s.size == 0:
        return []
    breaks = np.flatnonzero(-np.diff(s) > rtol * s[0]) + 1
    return np.split(np.arange(s.size), breaks)


def _canonical(U: np.ndarray, V: np.ndarray, groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rotate each group's columns of U and V (jointly) to a basis fixed by the subspace alone.

    The basis is the QR factor of ``P Z`` with ``P`` the projector on the group's left singular subspace
    and ``Z`` a fixed generic matrix: it does not depend on the basis the SVD routine returned."""
    U, V = U.copy(), V.copy()
    for g in groups:
        if g.size < 2:
            continue
        Z = np.random.default_rng(g.size).standard_normal((U.shape[0], g.size))
        A = U[:, g].T @ Z  # P Z = U_g A
        Q, T = np.linalg.qr(U[:, g] @ A)
        Q = Q * np.where(np.diag(T) < 0, -1.0, 1.0)
        R = U[:, g].T @ Q  # orthogonal (g, g): U_g R = Q
        U[:, g], V[:, g] = Q, V[:, g] @ R
    return U, V


def _canonical_svd(W: np.ndarray, rtol: float):
    U, s, Vt = np.linalg.svd(np.asarray(W, dtype=np.float64), full_matrices=False)
    groups = [g for g in singular_subspaces(s, rtol) if g.size > 1]
    U, V = _canonical(U, Vt.T, groups)
    return U, s, V, groups


def _turn(U: np.ndarray, V: np.ndarray, groups: list[np.ndarray], rng: np.random.Generator):
    U, V = U.copy(), V.copy()
    for g in groups:
        H = random_orthogonal(g.size, rng=rng)
        U[:, g], V[:, g] = U[:, g] @ H, V[:, g] @ H
    return U, V


def random_svd(
    W: np.ndarray, rtol: float = 1e-8, *, rng: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A reduced SVD ``W = U diag(s) V^T`` whose bases are random inside each singular subspace.

    Within every group of :func:`singular_subspaces` the columns of ``U`` and ``V`` are turned by the
    same Haar-random rotation, applied to a basis that depends only on the subspace; outside them the
    SVD is the ordinary one (signs included, which the scores ignore).

    Parameters
    ----------
    W : ndarray
        (m, n)
    rtol : float, optional
        See :func:`singular_subspaces`.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    U : ndarray
        (m, r), s : ndarray (r,), V : ndarray (n, r), with r = min(m, n).

    Raises
    ------
    ValueError
        If ``rng`` or ``W`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 1 (usSVD).
    """
    rng = _validate.rng(rng)
    U, s, V, groups = _canonical_svd(_validate.matrix(W, "W"), rtol)
    U, V = _turn(U, V, groups, rng)
    return U, s, V


def _check(draws: int) -> None:
    _validate.integer(draws, "draws", 1, what="a positive integer")


def alignment_over_bases(
    Ws: Sequence[np.ndarray], draws: int = 100, rtol: float = 1e-8, *, rng: int | np.random.Generator | None = None
) -> np.ndarray:
    """The released alignment score (:func:`deeplinear.metrics.alignment`) under random singular bases.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}).
    draws : int, optional
        How many choices of bases.
    rtol : float, optional
        Singular values closer than ``rtol`` times the largest count as equal.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`). draws the bases.

    Returns
    -------
    ndarray
        (draws, d-1): one row of interface scores per choice. With distinct singular values every
        row equals ``metrics.alignment(Ws)``; its range over rows is what an SVD routine could report.

    Raises
    ------
    ValueError
        If ``rng`` or ``Ws`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 2, Section 6.
    """
    rng = _validate.rng(rng)
    layers, _ = _as_network(Ws), _check(draws)
    if any(W.ndim != 2 for W in layers):
        raise ValueError("Ws must be a single network of 2-D layers (k_i, k_{i-1}), not a stack")
    svds = [_canonical_svd(W, rtol) for W in layers]
    out = np.empty((draws, len(layers) - 1))
    for t in range(draws):
        turned = [_turn(U, V, groups, rng) for U, _, V, groups in svds]
        out[t] = [_best_match(turned[i + 1][1], turned[i][0]) for i in range(len(layers) - 1)]
    return out


def invariance_over_bases(
    Ws0: Sequence[np.ndarray],
    Ws: Sequence[np.ndarray],
    draws: int = 100,
    rtol: float = 1e-8,
    *,
    rng: int | np.random.Generator | None = None,
) -> np.ndarray:
    """The released invariance score (:func:`deeplinear.metrics.invariance`) under random singular bases
    of both the initial and the current layers.

    Parameters
    ----------
    Ws0 : sequence of ndarray
        Lists of d arrays (k_i, k_{i-1}), the network at initialisation and at time t.
    Ws : sequence of ndarray
        Lists of d arrays (k_i, k_{i-1}), the network at initialisation and at time t.
    draws : int, optional
        As in :func:`alignment_over_bases`.
    rtol : float, optional
        As in :func:`alignment_over_bases`.
    rng : int, Generator or None, optional
        As in :func:`alignment_over_bases`.

    Returns
    -------
    ndarray
        (draws, d): one row of layer scores per choice of bases.

    Raises
    ------
    ValueError
        If ``rng`` or ``Ws0`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 3, Section 6.
    """
    rng = _validate.rng(rng)
    first, now, _ = _as_network(Ws0, "Ws0"), _as_network(Ws, "Ws"), _check(draws)
    if [W.shape for W in first] != [W.shape for W in now] or any(W.ndim != 2 for W in now):
        raise ValueError(
            f"Ws0 and Ws must be single networks with the same 2-D layer shapes, got "
            f"{[W.shape for W in first]} and {[W.shape for W in now]}"
        )
    pairs = [(_canonical_svd(W0, rtol), _canonical_svd(W, rtol)) for W0, W in zip(first, now)]
    out = np.empty((draws, len(now)))
    for t in range(draws):
        for i, ((U0, _, V0, g0), (U, _, V, g)) in enumerate(pairs):
            U0_t, V0_t = _turn(U0, V0, g0, rng)
            U_t, V_t = _turn(U, V, g, rng)
            out[t, i] = 0.5 * (_best_match(U_t, U0_t) + _best_match(V_t, V0_t))
    return out


def scores_over_bases(
    Ws0: Sequence[np.ndarray],
    Ws: Sequence[np.ndarray],
    draws: int = 100,
    rtol: float = 1e-8,
    *,
    rng: int | np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Alignment at the start and now, and invariance, under random singular bases, from one SVD per layer.

    The same as ``alignment_over_bases(Ws0, ...)``, ``alignment_over_bases(Ws, ...)`` and
    ``invariance_over_bases(Ws0, Ws, ...)`` called in that order with the same ``rng`` (the same draws,
    the same values), but each layer's canonical SVD is computed once instead of twice.

    Parameters
    ----------
    Ws0 : sequence of ndarray
        Lists of d arrays (k_i, k_{i-1}) with the same shapes, the network at the start and now.
    Ws : sequence of ndarray
        Lists of d arrays (k_i, k_{i-1}) with the same shapes, the network at the start and now.
    draws : int, optional
        As in :func:`alignment_over_bases`.
    rtol : float, optional
        As in :func:`alignment_over_bases`.
    rng : int, Generator or None, optional
        As in :func:`alignment_over_bases`.

    Returns
    -------
    dict
        Dict with "alignment_initial" (draws, d-1), "alignment_final" (draws, d-1), "invariance_final" (draws, d).

    Raises
    ------
    ValueError
        If ``rng`` or ``Ws0`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definitions 2 and 3, Section 6.
    """
    rng = _validate.rng(rng)
    first, now, _ = _as_network(Ws0, "Ws0"), _as_network(Ws, "Ws"), _check(draws)
    if [W.shape for W in first] != [W.shape for W in now] or any(W.ndim != 2 for W in now):
        raise ValueError(
            f"Ws0 and Ws must be single networks with the same 2-D layer shapes, got "
            f"{[W.shape for W in first]} and {[W.shape for W in now]}"
        )
    start, end = [_canonical_svd(W, rtol) for W in first], [_canonical_svd(W, rtol) for W in now]
    out = {}
    for name, svds in (("alignment_initial", start), ("alignment_final", end)):
        out[name] = np.empty((draws, len(svds) - 1))
        for t in range(draws):
            turned = [_turn(U, V, groups, rng) for U, _, V, groups in svds]
            out[name][t] = [_best_match(turned[i + 1][1], turned[i][0]) for i in range(len(svds) - 1)]
    out["invariance_final"] = np.empty((draws, len(now)))
    for t in range(draws):
        for i, ((U0, _, V0, g0), (U, _, V, g)) in enumerate(zip(start, end)):
            U0_t, V0_t = _turn(U0, V0, g0, rng)
            U_t, V_t = _turn(U, V, g, rng)
            out["invariance_final"][t, i] = 0.5 * (_best_match(U_t, U0_t) + _best_match(V_t, V0_t))
    return out


def paired_rotation(k: int, angle: float) -> np.ndarray:
    """The rotation of ``R^k`` that turns each coordinate pair ``(e_1, e_2), (e_3, e_4), ...`` by ``angle``.

    With ``k`` odd, ``e_k`` stays put. Replacing a basis ``Q`` by ``Q R`` turns every pair of its vectors
    by ``angle``, so that each new vector's best ``|cos|`` with the old ones is ``max(|cos a|, |sin a|)``
    (1 for ``e_k``): a rotation of a layer's singular vectors whose size does not depend on chance.

    Parameters
    ----------
    k : int
        >= 1, the dimension.
    angle : float
        In radians.

    Returns
    -------
    ndarray
        (k, k), orthonormal, block diagonal with 2 x 2 blocks ``[[cos a, -sin a], [sin a, cos a]]``.

    Raises
    ------
    ValueError
        If ``k`` or ``angle`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 3 (invariance: the singular vectors never move).

    Examples
    --------
    >>> R = paired_rotation(3, np.pi / 2)
    >>> np.round(R @ np.array([1.0, 0.0, 1.0]), 12)
    array([0., 1., 1.])
    """
    _validate.integer(k, "k", 1, what="a positive integer")
    _validate.number(angle, "angle")
    c, s = np.cos(angle), np.sin(angle)
    R = np.eye(k)
    for j in range(0, k - 1, 2):
        R[j : j + 2, j : j + 2] = [[c, -s], [s, c]]
    return R


def reversed_spectra(
    k: int, depth: int, *, rng: int | np.random.Generator | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Bases and signed singular values of an aligned network whose adjacent layers sort their shared singular
    vectors in opposite orders (for `deeplinear.aligned.aligned_network`).

    Every layer has the distinct singular values ``linspace(1, 2, k)`` with random signs; the first layer puts
    them on the shared basis vectors in a random order, and each next layer in the reverse of the previous
    one's order. So the sorted SVDs of adjacent layers list their shared singular vectors in reverse orders,
    and "corresponding columns" of sorted SVDs match a vector with its partner only in the middle position.

    Parameters
    ----------
    k : int
        >= 1, the width of every layer.
    depth : int
        >= 1, the number of layers.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`). draws, in order, the ``depth + 1`` bases
        (`deeplinear.aligned.random_orthogonal`), the order (``rng.permutation(k)``) and each layer's signs
        (``rng.choice([-1, 1], k)``).

    Returns
    -------
    bases
        List of depth + 1 orthonormal arrays (k, k).
    sigmas
        List of depth arrays (k,).

    Raises
    ------
    ValueError
        If ``rng`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Definition 2; Section 6 ("corresponding columns").
    """
    rng = _validate.rng(rng)
    for name, value in (("k", k), ("depth", depth)):
        _validate.integer(value, name, 1, what="a positive integer")
    bases = [random_orthogonal(k, rng=rng) for _ in range(depth + 1)]
    distinct, order = np.linspace(1.0, 2.0, k), rng.permutation(k)
    flip = [distinct, distinct[::-1]]
    sigmas = [flip[i % 2][order] * rng.choice([-1, 1], k) for i in range(depth)]
    return bases, sigmas
