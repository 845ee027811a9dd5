"""The package's argument checks, in one place: networks, matrices, vectors, counts, widths, numbers in a range,
positive numbers, tolerances, flags, labels, ranks, step schedules, random generators and Haar-random orthonormal
matrices. One set of accepted number types everywhere: Python or numpy scalars of any width (np.float32 and
np.int64 as 0.5 and 4); bools, NaN and (unless a range says otherwise) infinities refused.
Private: the public functions call these and their messages name the caller's parameter and its valid range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

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
        raw = list(Ws)
        if any(np.iscomplexobj(W) for W in raw):
            raise TypeError("complex layers")
        layers = [np.array(W, dtype=np.float64, order="C") if copy else np.asarray(W, dtype=np.float64) for W in raw]
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


def _real(a, name: str) -> None:
    if np.iscomplexobj(a):  # casting to float64 would drop the imaginary part quietly
        raise ValueError(f"{name} must be real, got a complex array")


def matrix(A, name: str, rows: int | None = None) -> np.ndarray:
    """A finite 2-D float64 array (with ``rows`` rows when given)."""
    _real(A, name)
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or (rows is not None and A.shape[0] != rows) or not np.isfinite(A).all():
        want = f"({rows}, n)" if rows is not None else "2-D"
        raise ValueError(f"{name} must be a finite {want} array, got shape {A.shape}")
    return A


def matrices(A, name: str, ndim: tuple[int, ...] = (2, 3)) -> np.ndarray:
    """A finite, non-empty float64 array of matrices: ``ndim`` 2 for one, 3 for a stack ``(S, m, n)``."""
    _real(A, name)
    A = np.asarray(A, dtype=np.float64)
    if A.ndim not in ndim or not np.isfinite(A).all() or 0 in A.shape:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be a finite, non-empty {want} array of matrices, got shape {A.shape}")
    return A


def vector(a, name: str, length: int) -> np.ndarray:
    """A finite float64 array of shape ``(length,)``."""
    _real(a, name)
    a = np.asarray(a, dtype=np.float64)
    if a.shape != (length,) or not np.isfinite(a).all():
        raise ValueError(f"{name} must be a finite array of shape ({length},), got shape {a.shape}")
    return a


def unit_vector(v, name: str, length: int) -> np.ndarray:
    """A finite float64 array of shape ``(length,)`` and norm 1 (to 1e-8)."""
    v = vector(v, name, length)
    if abs(np.linalg.norm(v) - 1.0) > 1e-8:
        raise ValueError(f"{name} must be a unit vector (norm 1 to 1e-8), got norm {np.linalg.norm(v):.3g}")
    return v


def unit_vectors(vs, name: str, lengths: Sequence[int]) -> list[np.ndarray]:
    """``len(lengths)`` unit vectors (a list, or the rows of a 2-D array), ``vs[i]`` of shape ``(lengths[i],)``."""
    if isinstance(vs, np.ndarray) and vs.ndim == 2:
        vs = list(vs)
    if isinstance(vs, (str, bytes, np.ndarray)) or not isinstance(vs, Sequence) or len(vs) != len(lengths):
        got = len(vs) if isinstance(vs, Sequence) else type(vs).__name__
        raise ValueError(f"{name} must hold {len(lengths)} unit vectors of lengths {list(lengths)}, got {got}")
    return [unit_vector(v, f"{name}[{i}]", k) for i, (v, k) in enumerate(zip(vs, lengths))]


def orthonormal_matrix(Q, name: str, k: int | None = None) -> np.ndarray:
    """A finite, orthonormal float64 ``(k, k)`` array (any square size when ``k`` is None; Q^T Q = I to 1e-8)."""
    try:
        Q = np.asarray(Q, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric square array") from err
    size = Q.shape[0] if (k is None and Q.ndim == 2) else k
    if Q.ndim != 2 or Q.shape != (size, size) or 0 in Q.shape or not np.isfinite(Q).all():
        want = f"({k}, {k})" if k is not None else "non-empty square"
        raise ValueError(f"{name} must be a finite {want} array, got shape {Q.shape}")
    if np.abs(Q.T @ Q - np.eye(size)).max() > 1e-8:
        raise ValueError(f"{name} must be orthonormal (Q^T Q = I to 1e-8)")
    return Q


def bases(Qs, sizes: Sequence[int] | None = None, name: str = "bases") -> list[np.ndarray]:
    """Orthonormal float64 arrays: ``len(sizes)`` of them, ``Qs[i]`` of shape ``(sizes[i], sizes[i])`` (any number
    of square ones when ``sizes`` is None); Q^T Q = I to 1e-8."""
    if isinstance(Qs, np.ndarray) or not isinstance(Qs, Sequence) or (sizes is not None and len(Qs) != len(sizes)):
        got = len(Qs) if isinstance(Qs, Sequence) else type(Qs).__name__
        shapes = ", ".join(f"({k}, {k})" for k in sizes or ())
        want = f"{len(sizes)} orthonormal matrices of shapes {shapes}" if sizes else "orthonormal matrices"
        raise ValueError(f"{name} must hold {want} (a list), got {got}")
    if sizes is None and not Qs:
        raise ValueError(f"{name} must hold at least one orthonormal matrix")
    sizes = [None] * len(Qs) if sizes is None else sizes
    return [orthonormal_matrix(Q, f"{name}[{i}]", k) for i, (Q, k) in enumerate(zip(Qs, sizes))]


def positive_vector(a, name: str, length: int) -> np.ndarray:
    """A finite float64 array of shape ``(length,)`` whose every entry is > 0."""
    a = vector(a, name, length)
    if np.any(a <= 0):
        raise ValueError(f"{name} must be positive (every entry > 0), got {a!r}")
    return a


def loss_curve(losses, name: str = "losses") -> np.ndarray:
    """A loss curve: a non-empty 1-D float64 array whose first entry is finite and > 0 (later ones may be inf)."""
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 1 or len(losses) == 0 or not (np.isfinite(losses[0]) and losses[0] > 0):
        raise ValueError(f"{name} must be a non-empty 1-D array whose first loss is finite and > 0, got {losses!r}")
    if np.isnan(losses).any() or np.any(losses < 0):
        raise ValueError(f"{name} must hold losses >= 0 (no NaN)")
    return losses


def mode_values(sigmas0, lam, lam_prime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corollary 1's inputs: singular values ``sigmas0`` (d, r) in the aligned bases, finite, and the diagonals
    ``lam``, ``lam_prime`` (r,)."""
    s = np.asarray(sigmas0, dtype=np.float64)
    if s.ndim != 2 or 0 in s.shape or not np.isfinite(s).all():
        raise ValueError(f"sigmas0 must be a finite array of shape (d, r), got shape {s.shape}")
    return s, vector(lam, "lam", s.shape[1]), vector(lam_prime, "lam_prime", s.shape[1])


def network_and_bases(Ws, bases_) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A network (one, 2-D layers) and its d + 1 orthonormal bases ``[Q_0, ..., Q_d]``, ``W_i`` of shape
    ``(k_i, k_{i-1})`` matching them: (layers, bases) as float64."""
    layers, stacked = network(Ws)
    if stacked is not None:
        raise ValueError("Ws must be one network of 2-D layers (k_i, k_{i-1}), not a stack")
    if isinstance(bases_, np.ndarray) or not isinstance(bases_, Sequence) or len(bases_) != len(layers) + 1:
        got = len(bases_) if isinstance(bases_, Sequence) else type(bases_).__name__
        raise ValueError(f"bases must hold d + 1 = {len(layers) + 1} matrices for {len(layers)} layers, got {got}")
    for i, W in enumerate(layers):
        if W.shape != (len(bases_[i + 1]), len(bases_[i])):
            raise ValueError(
                f"Ws[{i}] must have shape ({len(bases_[i + 1])}, {len(bases_[i])}) to match bases, got {W.shape}"
            )
    return layers, bases(bases_, [layers[0].shape[1]] + [W.shape[0] for W in layers])


def signs(y, n: int, name: str = "Y") -> np.ndarray:
    """Labels +1 or -1 of shape ``(n,)`` or ``(1, n)``, returned as a float64 ``(n,)`` array."""
    y = np.asarray(y, dtype=np.float64)
    if y.shape not in ((n,), (1, n)) or not np.all(np.abs(y) == 1):
        raise ValueError(f"{name} must have shape ({n},) or (1, {n}) with labels +1 or -1, got shape {y.shape}")
    return y.reshape(n)


def array(x, name: str, min_ndim: int) -> np.ndarray:
    """A float64 array with at least ``min_ndim`` dimensions."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {x.shape}")
    return x


def square_network(Ws, name: str = "Ws") -> list[np.ndarray]:
    """A non-empty list of finite square ``(k, k)`` layers, as float64."""
    layers = [matrices(W, f"{name}[{i}]", (2,)) for i, W in enumerate(Ws)]
    k = layers[0].shape[0] if layers else 0
    if not layers or any(W.shape != (k, k) for W in layers):
        raise ValueError(f"{name} must be a non-empty list of square (k, k) layers, got {[W.shape for W in layers]}")
    return layers


def count(x, name: str) -> int:
    """A non-negative integer (bools refused)."""
    if isinstance(x, bool) or not isinstance(x, Integral) or x < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {x!r}")
    return int(x)


def integer(value, name: str, low: int = 1, *, high: int | None = None, what: str | None = None) -> int:
    """An integer in ``[low, high]`` (numpy integers too; bools and floats refused, so that 2.7 is not read as 2);
    refused as "{name} must be {what}", ``what`` saying the range ("an integer >= low" unless given)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low or (high is not None and value > high):
        what = what or (f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]")
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def number(
    x,
    name: str,
    what: str = "a finite number",
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    finite: bool = True,
) -> float:
    """A real number, Python or numpy of any width (np.float32 and np.int64 too; bools, NaN and, with
    ``finite``, infinities refused) in ``[low, high]`` (``(low, high]`` with ``low_open``); refused as
    "{name} must be {what}", ``what`` saying the valid range. Returned as a float."""
    if (
        isinstance(x, bool)
        or not isinstance(x, Real)
        or math.isnan(x)
        or (finite and not math.isfinite(x))
        or (x <= low if low_open else x < low)
        or x > high
    ):
        raise ValueError(f"{name} must be {what}, got {x!r}")
    return float(x)


def flag(x, name: str, *, optional: bool = False) -> bool | None:
    """True or False (None too when ``optional``); numpy bools accepted."""
    if (optional and x is None) or isinstance(x, (bool, np.bool_)):
        return x
    raise ValueError(f"{name} must be {'None, ' if optional else ''}True or False, got {x!r}")


def positive(x, name: str, what: str = "a positive number") -> float:
    """A finite real number > 0 (numpy scalars too; bools refused), as a float."""
    return number(x, name, what, low=0, low_open=True)


def tolerance(x, name: str) -> float:
    """A tolerance: a finite real number >= 0 (0 asks for exactness; numpy scalars too; bools, NaN and
    infinities refused), as a float."""
    return number(x, name, "a finite number >= 0", low=0)


def widths(ws, name: str = "widths", low: int = 1) -> list[int]:
    """Layer widths ``[k_0, ..., k_d]``: d >= 1, each an integer >= ``low`` (numpy integers too; bools and
    floats refused, so that a width of 2.7 is not quietly read as 2)."""
    try:
        values = list(ws)
    except TypeError:
        values = None
    if (
        values is None
        or isinstance(ws, (str, bytes))
        or len(values) < 2
        or any(isinstance(w, bool) or not isinstance(w, Integral) or w < low for w in values)
    ):
        raise ValueError(f"{name} must be a sequence [k_0, ..., k_d] of d + 1 >= 2 integers >= {low}, got {ws!r}")
    return [int(w) for w in values]


def full_row_rank(A: np.ndarray, name: str) -> np.ndarray:
    """``A`` (m, n), a finite 2-D array, with rank m (so n >= m): ``A A^T`` is invertible."""
    m, n = A.shape
    if n < m:
        raise ValueError(
            f"{name} must have full row rank, so at least as many columns as rows (n >= {m}), got shape {A.shape}"
        )
    rank = np.linalg.matrix_rank(A)
    if rank < m:
        raise ValueError(f"{name} must have full row rank {m} ({name} {name}^T invertible), got rank {rank}")
    return A


#: What a layer structure offers (`deeplinear.structures.Structure` and its subclasses): checked by name, so
#: that this module, which every other one imports, imports none of them.
STRUCTURE_METHODS = ("shape", "apply", "apply_transpose", "outer_adjoint", "coefficients", "matrix", "contains")


def structure(s, name: str = "structure", *, optional: bool = False):
    """A `deeplinear.structures.Structure` (any object with its `STRUCTURE_METHODS`); None too when ``optional``."""
    if optional and s is None:
        return s
    if not all(hasattr(s, a) for a in STRUCTURE_METHODS):
        got = repr(s) if optional else type(s).__name__
        raise ValueError(f"{name} must be a deeplinear.structures.Structure{' or None' if optional else ''}, got {got}")
    return s


def history(h, name: str = "history", needs: Sequence[str] = ("steps", "loss")):
    """A training history: a `deeplinear.History`, or any object with its attributes ``needs``."""
    missing = [a for a in needs if not hasattr(h, a)]
    if missing:
        raise ValueError(
            f"{name} must be a deeplinear.History (with {', '.join(needs)}), got {type(h).__name__} without {missing}"
        )
    return h


def train_result(r, name: str = "run"):
    """A `deeplinear.TrainResult` (any object with a ``history`` that has ``steps`` and ``loss``)."""
    if not hasattr(r, "history"):
        raise ValueError(f"{name} must be a deeplinear.TrainResult, got {type(r).__name__}")
    history(r.history, f"{name}.history")
    return r


def mapping(m, name: str, keys: Sequence[str] = ()) -> dict:
    """A mapping (a dict, say) holding at least ``keys``."""
    from collections.abc import Mapping

    if not isinstance(m, Mapping):
        raise ValueError(f"{name} must be a mapping (a dict), got {type(m).__name__}")
    missing = [k for k in keys if k not in m]
    if missing:
        raise ValueError(f"{name} must hold the keys {list(keys)}; missing {missing}")
    return m


def rng(rng) -> np.random.Generator:
    """The package's one randomness convention: None (fresh OS entropy), an int seed >= 0 or a SeedSequence
    (as `numpy.random.default_rng`), or a Generator, returned itself so that its stream goes on."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, Integral) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"rng must be a non-negative integer seed, a Generator or None, got {rng!r}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be None, an int seed >= 0, a numpy.random.SeedSequence or a numpy.random.Generator, "
        f"got {type(rng).__name__}"
    )


_generator = rng  # for the functions below, whose parameter ``rng`` hides this function


def orthogonal(k: int, *, rng=None) -> np.ndarray:
    """A Haar-distributed orthonormal ``(k, k)`` matrix: QR of a Gaussian, column signs fixed so that
    R's diagonal is positive (a zero diagonal entry keeps its column); ``rng`` as in `rng`."""
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    Q, R = np.linalg.qr(_generator(rng).standard_normal((k, k)))
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
