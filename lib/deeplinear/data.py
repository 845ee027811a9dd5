"""The papers' problems: synthetic regression, matrix problems, separable data and MNIST.

Samples are columns: X has shape (k_0, n), Y has shape (k_d, n); everything is float64.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.request import urlopen

import numpy as np

from . import _validate

__all__ = [
    "random_regression",
    "autoencoding",
    "matrix_factorization",
    "matrix_inversion",
    "REGRESSION_KINDS",
    "regression_problem",
    "SensingProblem",
    "matrix_sensing",
    "separable",
    "MNISTUnavailable",
    "read_idx",
    "mnist",
    "mnist_first",
    "mnist_matrix",
    "one_hot",
    "MNIST_MIRRORS",
    "MNIST_MD5",
    "MNIST_MEAN",
    "MNIST_STD",
]

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
SUBSET_SIZE = 2000
OFFICIAL_SHIPPED = 1000  # the official training set's first digits, shipped (deeplinear/_data/README.md)
TRAIN_SIZE = 60000
_TIMEOUT = 30.0


_orthogonal = _validate.orthogonal  # Haar-random, as aligned.random_orthogonal (the same function)


# -- synthetic problems ----------------------------------------------------------------------
def random_regression(
    k: int, n: int, *, k_out: int | None = None, rng: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal X (k, n) and Y (k_out or k, n). Paper: Section 6, Figure 1a (k = n = 9).

    Parameters
    ----------
    k : int
        Width (dimension), >= 1.
    n : int
        Number of samples, >= 1.
    k_out : int or None, optional
        Rows of Y (default k).
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple
        ``(X, Y)``: X (k, n) and Y (k_out, n).

    Raises
    ------
    ValueError
        If ``rng``, ``k``, ``n`` or ``k_out`` is not valid (the message names the parameter).

    Examples
    --------
    >>> from deeplinear.data import random_regression
    >>> X, Y = random_regression(9, 9, rng=0)
    >>> X.shape, Y.shape
    ((9, 9), (9, 9))
    """
    rng = _validate.rng(rng)
    k, n = _validate.integer(k, "k"), _validate.integer(n, "n")
    k_out = k if k_out is None else _validate.integer(k_out, "k_out")
    return rng.standard_normal((k, n)), rng.standard_normal((k_out, n))


def autoencoding(k: int, n: int, *, rng: int | np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal X (k, n) and Y = X. Paper: Section 4.2, Autoencoding.

    Parameters
    ----------
    k : int
        Width (dimension), >= 1.
    n : int
        Number of samples, >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple
        ``(X, Y)``, both (k, n), Y = X.

    Raises
    ------
    ValueError
        If ``rng`` is not valid (the message names the parameter).
    """
    rng = _validate.rng(rng)
    X, _ = random_regression(k, n, k_out=1, rng=rng)
    return X, X.copy()


def matrix_factorization(k: int, *, rng: int | np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """X = I_k and standard normal Y (k, k). Paper: Section 4.2, Matrix Factorization.

    Parameters
    ----------
    k : int
        Width (dimension), >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple
        ``(X, Y)``: the identity (k, k) and Y (k, k).

    Raises
    ------
    ValueError
        If ``rng`` or ``k`` is not valid (the message names the parameter).
    """
    rng = _validate.rng(rng)
    k = _validate.integer(k, "k")
    return np.eye(k), rng.standard_normal((k, k))


def matrix_inversion(
    k: int, *, max_condition: float | None = None, max_draws: int = 10_000, rng: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal X (k, k) and Y = I_k. Paper: Section 4.2, Matrix Inversion.

    With ``max_condition``, X is redrawn (a fresh k x k draw each time, from the same ``rng``) until
    its 2-norm condition number is at most ``max_condition``: gradient descent on a badly conditioned
    inversion needs a tiny learning rate, since its weakest mode must grow to ``1 / sigma_min(X)``.
    ``ValueError`` after ``max_draws`` draws without one.

    Parameters
    ----------
    k : int
        Width (dimension), >= 1.
    max_condition : float or None, optional
        None, or the largest 2-norm condition number of X accepted.
    max_draws : int, optional
        Draws before ValueError, >= 1.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple
        ``(X, Y)``: X (k, k) and the identity (k, k).

    Raises
    ------
    ValueError
        If ``rng``, ``k``, ``max_condition`` or ``max_draws`` is not valid (the message names the parameter).
    """
    rng = _validate.rng(rng)
    k = _validate.integer(k, "k")
    if max_condition is None:
        return rng.standard_normal((k, k)), np.eye(k)
    _validate.number(max_condition, "max_condition", "None or a number >= 1", low=1, finite=False)
    for _ in range(_validate.integer(max_draws, "max_draws")):
        X = rng.standard_normal((k, k))
        if np.linalg.cond(X) <= max_condition:
            return X, np.eye(k)
    raise ValueError(f"no X with condition number <= max_condition = {max_condition} in {max_draws} draws")


REGRESSION_KINDS = ("random", "autoencoding", "factorization", "inversion")


def regression_problem(
    kind: str, k: int, n: int, *, max_condition: float | None = None, rng: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One regression problem of Section 4.2 (or Figure 1a's random data) by name.

    Parameters
    ----------
    kind : str
        One of `REGRESSION_KINDS`: "random" (`random_regression`), "autoencoding", "factorization"
        (X = I, so n is k) or "inversion" (Y = I, n is k).
    k : int
        Ints >= 1, the width and the number of samples.
    n : int
        Ints >= 1, the width and the number of samples.
    max_condition : float or None, optional
        Passed to `matrix_inversion` (the other kinds ignore it).
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    X : ndarray
        (k, n);  Y : ndarray (k, n).

    Raises
    ------
    ValueError
        If ``kind`` or ``rng`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 4.2; Section 6, Figure 1a.
    """
    rng = _validate.rng(rng)
    if kind == "random":
        return random_regression(k, n, rng=rng)
    if kind == "autoencoding":
        return autoencoding(k, n, rng=rng)
    if kind == "factorization":
        return matrix_factorization(k, rng=rng)
    if kind == "inversion":
        return matrix_inversion(k, max_condition=max_condition, rng=rng)
    raise ValueError(f"kind must be one of {REGRESSION_KINDS}, got {kind!r}")


@dataclass(frozen=True, eq=False)
class SensingProblem:
    """Matrix sensing data, y_i = Tr(M_i^T X_star). Paper: Section 4.2, Matrix Sensing.

    Attributes
    ----------
    M : ndarray (n, k, k)
        Measurement matrices.
    y : ndarray (n,)
        Measurements.
    X_star : ndarray (k, k)
        The unobserved matrix, U diag(sigma) V^T.
    U, V : ndarray (k, k)
        Orthogonal matrices; for aligned problems M_i = U Lambda_i V^T.
    """

    M: np.ndarray
    y: np.ndarray
    X_star: np.ndarray
    U: np.ndarray
    V: np.ndarray


def matrix_sensing(
    k: int, n: int, *, aligned: bool = True, rng: int | np.random.Generator | None = None
) -> SensingProblem:
    """Draw a matrix sensing problem with n measurements of a k x k matrix.

    X_star = U diag(sigma) V^T with Haar-random orthogonal U, V and sigma uniform on [0.5, 1.5].
    aligned=True: M_i = U Lambda_i V^T with standard normal diagonal Lambda_i, the case in which
    alignment is an invariant of training (Paper: Theorem 1, Section 4.2); such measurements
    see only the diagonal of U^T X_star V, so n >= k determines X_star.
    aligned=False: generic M_i with standard normal entries (the contrast).

    Parameters
    ----------
    k : int
        Width (dimension), >= 1.
    n : int
        Number of samples, >= 1.
    aligned : bool, optional
        Measurements ``M_i = U Lambda_i V^T`` aligned with ``X_star`` (True) or generic (False).
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    SensingProblem
        The measurements, the observations and the planted ``X_star``.

    Raises
    ------
    ValueError
        If ``rng``, ``k`` or ``n`` is not valid (the message names the parameter).
    """
    rng = _validate.rng(rng)
    k, n = _validate.integer(k, "k"), _validate.integer(n, "n")
    U, V = _orthogonal(k, rng=rng), _orthogonal(k, rng=rng)
    sigma = rng.uniform(0.5, 1.5, size=k)
    X_star = (U * sigma) @ V.T
    if aligned:
        lam = rng.standard_normal((n, k))
        M = np.einsum("ab,nb,cb->nac", U, lam, V)
    else:
        M = rng.standard_normal((n, k, k))
    y = np.einsum("nab,ab->n", M, X_star)
    return SensingProblem(M=M, y=y, X_star=X_star, U=U, V=V)


def separable(
    n: int, dim: int, *, margin: float = 0.1, rng: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Linearly separable data through the origin: X (dim, n), labels Y (1, n) in {-1, +1}.

    Points are standard normal; with a random unit direction u, labels are sign(u.x) and
    points closer than `margin` to the hyperplane u.x = 0 are pushed out to distance `margin`,
    so the max-margin separator through the origin has margin >= `margin`. If n >= 2 both
    classes occur. Ji & Telgarsky (2019), Figure 1 uses dim = 2.

    Parameters
    ----------
    n : int
        Number of samples, >= 1.
    dim : int
        Input dimension, >= 1.
    margin : float, optional
        Least distance of a point to the separating hyperplane, > 0.
    rng : int, Generator or None, optional
        Seed or generator of the random draws (`deeplinear._validate.rng`).

    Returns
    -------
    tuple
        ``(X, Y)``: X (dim, n), Y (1, n) in {-1, +1}.

    Raises
    ------
    ValueError
        If ``rng``, ``margin``, ``n`` or ``dim`` is not valid (the message names the parameter).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.data import separable
    >>> X, Y = separable(20, 2, margin=0.1, rng=0)
    >>> X.shape, Y.shape, sorted(set(Y.ravel().tolist()))
    ((2, 20), (1, 20), [-1.0, 1.0])
    """
    rng = _validate.rng(rng)
    n, dim = _validate.integer(n, "n"), _validate.integer(dim, "dim")
    if not np.isfinite(margin) or margin <= 0:
        raise ValueError(f"margin must be a positive number, got {margin!r}")
    u = rng.standard_normal(dim)
    u /= np.linalg.norm(u)
    X = rng.standard_normal((dim, n))
    t = u @ X
    sign = np.where(t > 0, 1.0, np.where(t < 0, -1.0, rng.choice([-1.0, 1.0], size=n)))
    if n >= 2 and abs(sign.sum()) == n:  # one class only: reflect the last point
        X[:, -1] *= -1
        t[-1] *= -1
        sign[-1] *= -1
    inside = np.abs(t) < margin
    X[:, inside] += np.outer(u, sign[inside] * margin - t[inside])
    return X, sign[None, :]


# -- MNIST --------------------------------------------------------------------------------------
class MNISTUnavailable(OSError):
    """The MNIST IDX files could neither be found in the cache nor downloaded and verified."""


_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw), e.g. MNIST's idx3 images or idx1 labels.

    The header is two zero bytes, a type code, the number of dimensions, and one big-endian
    uint32 per dimension; the data follow in big-endian order. Returns an array in native
    byte order (uint8 for MNIST).

    Parameters
    ----------
    path : str or PathLike
        Path of the file.

    Returns
    -------
    ndarray
        The data, of the shape the header gives, in native byte order.

    Raises
    ------
    TypeError
        See the message.
    ValueError
        If ``path`` is not valid (the message names the parameter).
    """
    if not isinstance(path, (str, os.PathLike)):  # an int would open a file descriptor
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    start = 4 + 4 * ndim
    if len(raw) - start != dtype.itemsize * int(np.prod(dims, dtype=np.int64)):
        raise ValueError(f"{path}: IDX header says shape {dims} but the file has {len(raw) - start} data bytes")
    return np.frombuffer(raw, dtype, offset=start).reshape(dims).astype(dtype.newbyteorder("="))


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cache_dir(cache_dir) -> Path:
    if cache_dir is None:
        cache_dir = os.environ.get("DEEPLINEAR_CACHE") or Path.home() / ".cache" / "deeplinear"
    return Path(cache_dir)


def _fetch(name: str, cache: Path) -> Path:
    """Return the cached, MD5-verified file `name`, downloading it from MNIST_MIRRORS if needed."""
    target, md5 = cache / name, MNIST_MD5[name]
    if target.is_file() and _md5(target) == md5:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in MNIST_MIRRORS:
        url = mirror + name
        fd, tmp = tempfile.mkstemp(prefix=name + ".", suffix=".part", dir=cache)
        try:
            with os.fdopen(fd, "wb") as out, urlopen(url, timeout=_TIMEOUT) as response:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
            got = _md5(Path(tmp))
            if got != md5:
                errors.append(f"{url}: MD5 mismatch (got {got}, expected {md5})")
                continue
            os.replace(tmp, target)
            return target
        except (OSError, http.client.HTTPException) as err:  # URLError, timeouts, disk errors
            errors.append(f"{url}: {err}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    stale = f"\n(the cached {target} has the wrong MD5 and was left as is)" if target.exists() else ""
    raise MNISTUnavailable(
        f"could not obtain MNIST file {name!r}; tried:\n  "
        + "\n  ".join(errors)
        + stale
        + f"\nTo install it by hand, download {name} (MD5 {md5}) and place it in {cache} "
        "(set cache_dir= or $DEEPLINEAR_CACHE to use another directory)."
    )


def mnist(
    n: int, *, offset: int = 0, source: str = "auto", cache_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits offset..offset+n-1: images (n, 28, 28) float64 in [0, 1], labels (n,) int64.

    source="subset": the shipped 2000 digits (deeplinear/_data/README.md; class-interleaved,
    not the official order). source="idx": the official training set (60000 digits, official
    order): its first 1000 are shipped (`OFFICIAL_SHIPPED`; offline, so the released scripts'
    settings need no download), the rest downloaded once into cache_dir (default
    $DEEPLINEAR_CACHE or ~/.cache/deeplinear) and verified by MD5. source="auto" (the default): the
    subset, so offset + n <= 2000; beyond it ``ValueError`` asks for source="idx" explicitly, since the
    official digits are others, in another order (an automatic switch would make ``mnist(2001)[:2000]``
    differ from ``mnist(2000)``). Every source is prefix-consistent: ``mnist(n + m, offset=o)[:n]`` equals
    ``mnist(n, offset=o)``.

    Parameters
    ----------
    n : int
        Number of samples, >= 1.
    offset : int, optional
        Index of the first digit, >= 0.
    source : str, optional
        "auto", "subset" or "idx".
    cache_dir : str, PathLike or None, optional
        Where downloaded files are kept (default: $DEEPLINEAR_CACHE or ~/.cache/deeplinear).

    Returns
    -------
    tuple
        ``(images, labels)``: images (n, 28, 28) float64 in [0, 1], labels (n,) int64.

    Raises
    ------
    ValueError
        If ``source``, ``offset`` or ``n`` is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6, Figure 1b-c and Figure 2b.

    Examples
    --------
    >>> from deeplinear.data import mnist
    >>> images, labels = mnist(5)
    >>> images.shape, labels.shape, str(labels.dtype)
    ((5, 28, 28), (5,), 'int64')
    """
    n, offset = _validate.integer(n, "n"), _validate.integer(offset, "offset", 0)
    if source not in ("auto", "subset", "idx"):
        raise ValueError(f"source must be 'auto', 'subset' or 'idx', got {source!r}")
    if source == "auto":
        if offset + n > SUBSET_SIZE:
            raise ValueError(
                f"offset + n must be <= {SUBSET_SIZE} for source='auto' (the shipped subset), got offset={offset}, "
                f"n={n}; pass source='idx' for the official training set (other digits, in the official order)"
            )
        source = "subset"
    limit = SUBSET_SIZE if source == "subset" else TRAIN_SIZE
    if offset + n > limit:
        raise ValueError(f"offset + n must be <= {limit} for source={source!r}, got offset={offset}, n={n}")
    if source == "subset" or offset + n <= OFFICIAL_SHIPPED:
        name = "mnist_subset.npz" if source == "subset" else "mnist_train_first.npz"
        with resources.files("deeplinear").joinpath("_data").joinpath(name).open("rb") as f:
            with np.load(f) as data:
                images, labels = data["images"], data["labels"]
    else:
        cache = _cache_dir(cache_dir)
        images = read_idx(_fetch("train-images-idx3-ubyte.gz", cache))
        labels = read_idx(_fetch("train-labels-idx1-ubyte.gz", cache))
    sl = slice(offset, offset + n)
    return images[sl].astype(np.float64) / 255.0, labels[sl].astype(np.int64)


def mnist_first(
    n: int, source: str, *, parameter: str = "source", cache_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The first n digits of a chapter's MNIST ``source`` parameter, as `mnist` returns them.

    source="subset": the shipped digits (offline; class-interleaved, not the official order).
    source="idx": the official training set's first n, as in the released scripts (shipped for
    n <= 1000, so offline); for more, when its files are neither cached nor downloadable,
    `MNISTUnavailable` names the chapter parameter (``parameter``), how to obtain the files, and the
    offline alternative.

    Parameters
    ----------
    n : int
        Number of samples, >= 1.
    source : str
        "subset" or "idx".
    parameter : str, optional
        The chapter parameter to name in `MNISTUnavailable`.
    cache_dir : str, PathLike or None, optional
        Where downloaded files are kept (default: $DEEPLINEAR_CACHE or ~/.cache/deeplinear).

    Returns
    -------
    tuple
        The first n digits of a chapter's MNIST ``source`` parameter, as `mnist` returns them.

    Raises
    ------
    MNISTUnavailable
        See the message.
    ValueError
        If an argument is not valid (the message names the parameter).

    References
    ----------
    Paper: Section 6 (the first 256 training images of Figures 1b and 1c).
    """
    if source not in ("subset", "idx"):
        raise ValueError(f"{parameter} must be 'subset' or 'idx', got {source!r}")
    try:
        return mnist(n, source=source, cache_dir=cache_dir)
    except MNISTUnavailable as err:
        raise MNISTUnavailable(
            f"{parameter}='idx' needs the official MNIST training files (train-images-idx3-ubyte.gz and "
            f"train-labels-idx1-ubyte.gz), which are not cached and could not be downloaded. {err}\n"
            f"Or run with {parameter}='subset', the shipped digits (not the official order)."
        ) from err


def mnist_matrix(images: np.ndarray, *, normalize: bool = True) -> np.ndarray:
    """Images (n, 28, 28) in [0, 1] -> X (784, n), one flattened image per column.

    X = images.reshape(n, 784).T (the released scripts wrote data.reshape(784, n), which
    scrambles pixels across images); normalised as (x - 0.1307) / 0.3081 when normalize.

    Parameters
    ----------
    images : ndarray
        (n, 28, 28), in [0, 1].
    normalize : bool, optional
        Normalise as ``(x - 0.1307) / 0.3081``.

    Returns
    -------
    ndarray
        (784, n), one flattened image per column.

    Raises
    ------
    ValueError
        If ``images`` is not valid (the message names the parameter).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.data import mnist_matrix
    >>> mnist_matrix(np.zeros((3, 28, 28)), normalize=False).shape
    (784, 3)
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.shape[0] < 1:
        raise ValueError(f"images must have shape (n, 28, 28) with n >= 1, got {images.shape}")
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be floating point in [0, 1] (divide uint8 by 255), got dtype {images.dtype}")
    if not (np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1):
        raise ValueError("images must be finite, with values in [0, 1] (divide uint8 by 255)")
    X = np.ascontiguousarray(images.reshape(images.shape[0], 784).T, dtype=np.float64)
    return (X - MNIST_MEAN) / MNIST_STD if normalize else X


def one_hot(labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Integer labels (n,) in [0, num_classes) -> one-hot targets Y (num_classes, n), float64.

    Parameters
    ----------
    labels : ndarray
        (n,), integers in [0, num_classes).
    num_classes : int, optional
        Number of classes, >= 1.

    Returns
    -------
    ndarray
        (num_classes, n), float64.

    Raises
    ------
    ValueError
        If ``num_classes`` or ``labels`` is not valid (the message names the parameter).

    Examples
    --------
    >>> import numpy as np
    >>> from deeplinear.data import one_hot
    >>> one_hot(np.array([0, 2]), 3)
    array([[1., 0.],
           [0., 0.],
           [0., 1.]])
    """
    num_classes = _validate.integer(num_classes, "num_classes")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got dtype {labels.dtype} and shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes - 1}], got range [{labels.min()}, {labels.max()}]")
    Y = np.zeros((num_classes, labels.size))
    Y[labels, np.arange(labels.size)] = 1.0
    return Y
