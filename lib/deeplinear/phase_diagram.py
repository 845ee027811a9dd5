"""Beyond the paper: the phase diagram of alignment in structured two-layer students.

Theorem 3 says when alignment is impossible, not what training finds. `phase_diagram` trains two-layer students
in the structures of `PHASE_FAMILIES` (`phase_structure`) on data that a teacher in the same structure
interpolates, and records each cell's median final alignment defect and loss ratio (`phase_cell`) over the
structure's dimension r and the number of samples n; `phase_summary` says what it shows. Figure 2's trainings
are in `deeplinear.constrained`, why alignment is impossible in `deeplinear.impossibility`.

Paper: Radhakrishnan et al., Section 5 (layer structures) and Theorem 3; the phase diagram goes beyond them.
"""

from __future__ import annotations

import math

import numpy as np

from . import _validate, metrics
from .recording import TrainingDiverged
from .structures import Convolution, RandomSubspace, Structure, banded_toeplitz, orthonormal
from .training import train

__all__ = ["PHASE_FAMILIES", "phase_structure", "phase_cell", "phase_diagram", "phase_summary"]

#: The structures of the phase diagram: name -> (k, dimensions r, numbers of samples n). The last r is
#: the fully connected layer (r = k^2).
PHASE_FAMILIES: dict[str, tuple[int, list[int], list[int]]] = {
    "random subspace": (4, [1, 2, 3, 5, 7, 10, 16], [1, 2, 4, 8]),
    "banded Toeplitz": (4, [1, 3, 5, 7, 16], [1, 2, 4, 8]),
    "convolution": (9, [1, 9, 25, 81], [2, 4, 9, 18]),
}


def phase_structure(family: str, r: int, *, rng: int | np.random.Generator | None = None) -> Structure:
    """The structure of dimension ``r`` of a `PHASE_FAMILIES` family, with an orthonormal basis.

    "random subspace": ``RandomSubspace(4, 4, r)``; "banded Toeplitz": `banded_toeplitz` ``(4, (r-1)/2)``;
    "convolution": ``Convolution(3, sqrt(r))`` on 3 x 3 images; ``r = k^2`` is a random orthonormal basis of all
    k x k matrices (fully connected) in every family. Only random subspaces draw from ``rng``.

    Parameters
    ----------
    family : str
        One of `PHASE_FAMILIES`.
    r : int
        Dimension of the structure, >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    Structure
        The structure of dimension ``r`` of a `PHASE_FAMILIES` family, with an orthonormal basis.

    Raises
    ------
    ValueError
        If ``rng``, ``family`` or ``r`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 5 (layer structures); beyond the paper.

    Examples
    --------
    >>> from deeplinear.phase_diagram import phase_structure
    >>> phase_structure("convolution", 9).dim
    9
    """
    rng = _validate.rng(rng)
    if family not in PHASE_FAMILIES:
        raise ValueError(f"family must be one of {list(PHASE_FAMILIES)}, got {family!r}")
    k = PHASE_FAMILIES[family][0]
    r = _validate.integer(r, "r")
    if family == "random subspace" or r == k * k:
        return RandomSubspace(k, k, r, rng=rng)
    if family == "banded Toeplitz":
        return orthonormal(banded_toeplitz(k, (r - 1) // 2))
    side = math.isqrt(r)
    if side * side != r:
        raise ValueError(f"r must be the square of an odd filter side for the convolution family, got {r}")
    return orthonormal(Convolution(3, side))


def phase_cell(
    structure: Structure,
    n: int,
    *,
    seeds: int,
    steps: int,
    lr: float,
    init: float,
    rng: int | np.random.Generator | None = None,
) -> tuple[float, float]:
    """Median final alignment defect and median final/initial loss of two-layer students in S.

    Draws inputs ``X`` (k, n) / sqrt(k), a two-layer teacher in S (spectral norms 1) whose outputs,
    rescaled to unit root mean square, are the targets ``Y``, and ``seeds`` students with coefficients of
    size ``init``; trains them as one stacked ensemble for ``steps`` steps at learning rate ``lr``, halved
    (up to three times) when a member diverges.

    Parameters
    ----------
    structure : Structure
        Layer structure (`deeplinear.structures.Structure`).
    n : int
        Number of samples, >= 1.
    seeds : int
        Number of seeds (independent draws), >= 1.
    steps : int
        Number of gradient-descent steps, >= 0.
    lr : float
        Learning rate, > 0.
    init : float
        Scale of the random start, > 0.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple of (float, float)
        (median :func:`deeplinear.metrics.traceless_alignment_defect`, median loss ratio).

    Raises
    ------
    ValueError
        If ``rng``, ``structure``, ``seeds``, ``steps`` or ``n`` is not valid (the message names the parameter).

    References
    ----------
    Paper: beyond the paper (Theorem 3 says when alignment is impossible, not what training finds).
    """
    rng = _validate.rng(rng)
    seeds, steps = _validate.integer(seeds, "seeds"), _validate.integer(steps, "steps")
    structure = _validate.structure(structure)
    k, r = structure.shape[0], structure.dim
    X = rng.standard_normal((k, _validate.integer(n, "n"))) / np.sqrt(k)
    teacher = [structure.matrix(c) for c in rng.standard_normal((2, r))]
    teacher = [W / np.linalg.norm(W, 2) for W in teacher]
    Y = teacher[1] @ teacher[0] @ X
    Y /= np.sqrt((Y**2).sum() / n)
    start = [structure.matrix(c) for c in init * rng.standard_normal((2, seeds, r))]
    for attempt in range(4):  # halve the step if a member diverges
        try:
            result = train(start, X, Y, lr=lr / 2**attempt, steps=steps, structure=structure, record=[0, steps])
            break
        except TrainingDiverged:
            if attempt == 3:
                raise
    ratio = result.history.loss[-1] / result.history.loss[0]  # (seeds,)
    return float(np.median(metrics.traceless_alignment_defect(result.weights)[:, 0])), float(np.median(ratio))


def phase_diagram(
    *,
    seeds: int = 4,
    steps: int = 800,
    lr: float = 0.4,
    init: float = 1e-2,
    rng: int | np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """:func:`phase_cell` over every (r, n) of every `PHASE_FAMILIES` family, in order (r outer, n inner).

    Parameters
    ----------
    seeds : int, optional
        Number of seeds (independent draws), >= 1.
    steps : int, optional
        Number of gradient-descent steps, >= 0.
    lr : float, optional
        Learning rate, > 0.
    init : float, optional
        Scale of the random start, > 0.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    dict
        Family -> ndarray (R, N, 2) of (median defect, median loss ratio); rows follow the family's
        dimensions, columns its numbers of samples.

    Raises
    ------
    ValueError
        If ``rng`` is not valid (the message names the parameter).

    References
    ----------
    Paper: beyond the paper.
    """
    rng = _validate.rng(rng)
    return {
        family: np.array(
            [
                [
                    phase_cell(
                        phase_structure(family, r, rng=rng), n, seeds=seeds, steps=steps, lr=lr, init=init, rng=rng
                    )
                    for n in ns
                ]
                for r in rs
            ]
        )
        for family, (_, rs, ns) in PHASE_FAMILIES.items()
    }


def phase_summary(phase: dict[str, np.ndarray]) -> dict[str, float]:
    """What the phase diagram says: fully connected rows against the non-trivial structured ones.

    Parameters
    ----------
    phase : dict
        What `phase_diagram` returned.

    Returns
    -------
    dict
        Dict with "fc_max_defect" and "fc_max_loss_ratio" (the last row of every family) and
        "structured_median_defect" and "structured_min_defect" (all other rows, without the one-dimensional
        Toeplitz and convolution structures, which are the span of the identity).

    Raises
    ------
    ValueError
        If ``phase`` is not valid (the message names the parameter).
    """
    phase = _validate.mapping(phase, "phase")
    for family, grid in phase.items():
        grid = np.asarray(grid)
        if grid.ndim != 3 or grid.shape[-1] != 2 or grid.shape[0] < 2 or not np.isfinite(grid).all():
            raise ValueError(f"phase[{family!r}] must be a finite array (R, N, 2) with R >= 2, got shape {grid.shape}")
    fc = np.concatenate([grid[-1] for grid in phase.values()])
    structured = np.concatenate(
        [grid[(0 if family == "random subspace" else 1) : -1, :, 0].ravel() for family, grid in phase.items()]
    )
    return {
        "fc_max_defect": float(fc[:, 0].max()),
        "fc_max_loss_ratio": float(fc[:, 1].max()),
        "structured_median_defect": float(np.median(structured)),
        "structured_min_defect": float(structured.min()),
    }
