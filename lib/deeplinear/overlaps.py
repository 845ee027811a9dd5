"""The overlaps of adjacent layers' singular vectors, and Section 6's alignment measure as its text reads.

`overlap` gives, for each interface between ``W_i`` and ``W_{i+1}``, every ``|<v_j(W_{i+1}), u_l(W_i)>|`` of
sorted SVDs. The released code's score, `deeplinear.metrics.alignment` (the one `deeplinear.train` records),
is the mean over rows of each row's largest entry; the text's "average dot product between corresponding
columns of ``U_i`` and ``V_{i+1}``", `corresponding_columns`, is the mean of its diagonal.

Paper: Radhakrishnan et al., Definition 2 and Section 6.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .metrics import _as_network, layer_svds

__all__ = ["overlap", "corresponding_columns"]


def overlap(Ws: Sequence[np.ndarray], *, svds: list | None = None) -> list[np.ndarray]:
    """The overlaps ``|<v_j(W_{i+1}), u_l(W_i)>|`` of every interface's singular vectors, sorted SVDs.

    Row ``j`` is the ``j``-th right singular vector of ``W_{i+1}``, column ``l`` the ``l``-th left
    singular vector of ``W_i`` (both in the SVD routine's order, singular values decreasing). For an
    aligned network with distinct singular values each row holds a single 1: a permutation matrix,
    which is the identity only when adjacent layers sort their singular values alike.
    :func:`deeplinear.metrics.alignment` is the mean over rows of each row's largest entry.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1})
    svds : list or None, optional
        Optional, `deeplinear.metrics.layer_svds` of ``Ws``.

    Returns
    -------
    list of ndarray
        List of d-1 arrays (min(k_i, k_{i+1}), min(k_{i-1}, k_i)), or with a leading S axis; entries in [0, 1].

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
    >>> from deeplinear.overlaps import overlap
    >>> [np.round(O, 6).tolist() for O in overlap([np.diag([2.0, 1.0]), np.diag([3.0, 1.0])])]
    [[[1.0, 0.0], [0.0, 1.0]]]
    """
    layers = _as_network(Ws)
    svds = layer_svds(layers) if svds is None else svds
    return [np.abs(svds[i + 1][2] @ svds[i][0]) for i in range(len(layers) - 1)]


def corresponding_columns(Ws: Sequence[np.ndarray], *, svds: list | None = None) -> np.ndarray:
    """Section 6's alignment measure read literally: the mean ``|<u_j(W_i), v_j(W_{i+1})>|`` over
    corresponding columns ``j`` of sorted SVDs (the diagonal of :func:`overlap`).

    The paper describes its measure as "the average dot product between corresponding columns of
    ``U_i`` and ``V_{i+1}``". With sorted SVDs this falls below 1 on aligned networks whose adjacent
    layers order their singular values differently, which a usSVD allows (Definition 1); the authors'
    released code takes the best match instead (:func:`deeplinear.metrics.alignment`). For rectangular layers the
    columns ``j < min(k_{i-1}, k_i, k_{i+1})`` are paired.

    Parameters
    ----------
    Ws : sequence of ndarray
        List of d arrays (k_i, k_{i-1}), or of d arrays (S, k_i, k_{i-1})
    svds : list or None, optional
        Optional, `deeplinear.metrics.layer_svds` of ``Ws``.

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
    Paper: Section 6 (the text's description of the alignment measure).
    """
    layers = _as_network(Ws)
    lead = layers[0].shape[:-2]
    if len(layers) == 1:
        return np.zeros(lead + (0,))
    scores = [np.diagonal(M, axis1=-2, axis2=-1).mean(axis=-1) for M in overlap(layers, svds=svds)]
    return np.stack(scores, axis=-1)
