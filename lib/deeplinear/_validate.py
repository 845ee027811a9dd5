"""The package's argument checks, in one place: networks, matrices, vectors, counts, step schedules,
random generators and Haar-random orthonormal matrices. Private: the public functions call these and
their messages name the caller's parameter and its valid range.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np

_DEFAULT_POINTS = 56  # record steps of the default schedule: SVD-based metrics stay a small share


def network(Ws, name: str = "Ws", *, copy: bool = False, sequence: bool = True) -> tuple[list[np.ndarray], int | None]:
    """Validate a (stacked) network; return its layers as float64 arrays and S (None if unstacked).

    ``sequence=True`` asks for a list or tuple of layers (an ndarray is refused); ``sequence=False``
    takes any iterable of layers. ``copy=True`` returns owned C-contiguous copies.
    """
    if sequence and (isinstance(Ws, np.ndarray) or not isinstance(Ws, Sequence)):
        raise ValueError(
            f"{name} must be a list of layers W_i of shape (k_i, k_{{i-1}}) "
            f"or (S, k_i, k_{{i-1}}), got {type(Ws).__name__}"
        )
    try:
        layers = [np.array(W, dtype=np.float64, order="C") if copy else np.asarray(W, dtype=np.float64) for W in Ws]
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name} must be a list of numeric layers of shape (k_i, k_{{i-1}}) or (S, k_i, k_{{i-1}})"
        ) from err
    if not layers:
        raise ValueError(f"{name} must contain at least one layer, got an empty list")
    nd = layers[0].ndim
    shapes = [W.shape for W in layers]
    if nd not in (2, 3) or any(W.ndim != nd for W in layers):
        raise ValueError(
            f"{name} must hold layers that are all 2-D (k_i, k_{{i-1}}) or all 3-D "
            f"(S, k_i, k_{{i-1}}), got shapes {shapes}"
        )
    if nd == 3 and any(s[0] != shapes[0][0] for s in shapes):
        raise ValueError(f"{name}: stacked layers must share the leading axis S, got shapes {shapes}")
    if any(0 in s for s in shapes):
        raise ValueError(f"{name}: layers must have no zero-length axis, got shapes {shapes}")
    for i in range(len(layers) - 1):
        if shapes[i + 1][-1] != shapes[i][-2]:
            raise ValueError(
                f"{name}: W_{i + 2} has shape {shapes[i + 1]}, which does not chain with "
                f"W_{i + 1} of shape {shapes[i]} (need W_{i + 2}.shape[-1] == "
                f"W_{i + 1}.shape[-2])"
            )
    if not all(np.isfinite(W).all() for W in layers):
        raise ValueError(f"{name} must contain only finite entries")
    return layers, (shapes[0][0] if nd == 3 else None)


def matrix(A, name: str, rows: int | None = None) -> np.ndarray:
    """A finite 2-D float64 array (with ``rows`` rows when given)."""
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or (rows is not None and A.shape[0] != rows) or not np.isfinite(A).all():
        want = f"({rows}, n)" if rows is not None else "2-D"
        raise ValueError(f"{name} must be a finite {want} array, got shape {A.shape}")
    return A


def vector(a, name: str, length: int) -> np.ndarray:
    """A finite float64 array of shape ``(length,)``."""
    a = np.asarray(a, dtype=np.float64)
    if a.shape != (length,) or not np.isfinite(a).all():
        raise ValueError(f"{name} must be a finite array of shape ({length},), got shape {a.shape}")
    return a


def count(x, name: str) -> int:
    """A non-negative integer (bools refused)."""
    if isinstance(x, bool) or not isinstance(x, Integral) or x < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {x!r}")
    return int(x)


def integer(value, name: str, low: int = 1) -> int:
    """An integer >= ``low`` (numpy integers too; bools refused)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def rng(rng) -> np.random.Generator:
    """A numpy Generator."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def orthogonal(k: int, rng_: np.random.Generator) -> np.ndarray:
    """A Haar-distributed orthonormal ``(k, k)`` matrix: QR of a Gaussian, column signs fixed so that
    R's diagonal is positive (a zero diagonal entry keeps its column)."""
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    Q, R = np.linalg.qr(rng(rng_).standard_normal((k, k)))
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def schedule(steps: int, record, name: str) -> np.ndarray:
    """The record steps for ``record`` (see `deeplinear.recording.record_schedule`), checked as ``name``."""
    steps = count(steps, "steps")
    if record is None:
        P = _DEFAULT_POINTS
        if steps < P:
            return np.arange(steps + 1)
        m, grid = P, np.array([0])
        while len(grid) < P:  # rounding merges early grid points: add as many as were lost
            grid = np.unique(np.concatenate([[0], np.rint(np.geomspace(1, steps, m)).astype(int)]))
            m += P - len(grid)
        return grid
    if isinstance(record, Integral) and not isinstance(record, bool):
        if record < 1:
            raise ValueError(f"{name} must be a positive integer (record every k steps), got {record}")
        return np.union1d(np.arange(0, steps + 1, int(record)), [steps])
    r = np.asarray(record)
    if (
        r.ndim != 1
        or r.dtype == bool
        or not np.issubdtype(r.dtype, np.number)
        or (r.size and (np.any(r != np.round(r)) or r.min() < 0 or r.max() > steps))
    ):
        raise ValueError(
            f"{name} must be None, a positive int, or a 1-D array of integer steps in "
            f"[0, steps={steps}], got {record!r}"
        )
    return np.unique(r.astype(int))
