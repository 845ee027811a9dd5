"""Tests for deeplinear.data. Never touches the network: downloads use a fake urlopen."""

import gzip
import hashlib
import io
import json
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from deeplinear import data

SETTINGS = settings(max_examples=10, deadline=None)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tests must not touch the network")

    monkeypatch.setattr(data, "urlopen", refuse)


def rng(seed=0):
    return np.random.default_rng(seed)


# -- synthetic problems ------------------------------------------------------------------------
def test_random_regression_shapes_and_distribution():
    X, Y = data.random_regression(9, 9, rng=rng())
    assert X.shape == Y.shape == (9, 9) and X.dtype == Y.dtype == np.float64
    X, Y = data.random_regression(50, 400, k_out=3, rng=rng(1))
    assert X.shape == (50, 400) and Y.shape == (3, 400)
    assert abs(X.mean()) < 0.02 and abs(X.std() - 1) < 0.02  # 20000 draws
    X2, _ = data.random_regression(50, 400, k_out=3, rng=rng(1))
    np.testing.assert_array_equal(X, X2)


def test_autoencoding_factorization_inversion():
    X, Y = data.autoencoding(5, 7, rng=rng())
    assert X.shape == (5, 7)
    np.testing.assert_array_equal(X, Y)
    assert not np.shares_memory(X, Y)
    X, Y = data.matrix_factorization(4, rng=rng())
    np.testing.assert_array_equal(X, np.eye(4))
    assert Y.shape == (4, 4) and np.linalg.matrix_rank(Y) == 4
    X, Y = data.matrix_inversion(4, rng=rng())
    np.testing.assert_array_equal(Y, np.eye(4))
    assert X.shape == (4, 4) and np.linalg.matrix_rank(X) == 4


@pytest.mark.parametrize("aligned", [True, False])
def test_matrix_sensing_measurements(aligned):
    p = data.matrix_sensing(4, 12, aligned=aligned, rng=rng(2))
    assert p.M.shape == (12, 4, 4) and p.y.shape == (12,) and p.X_star.shape == (4, 4)
    for U in (p.U, p.V):
        np.testing.assert_allclose(U.T @ U, np.eye(4), atol=1e-12)
    for Mi, yi in zip(p.M, p.y):  # plain loop: y_i = Tr(M_i^T X_star)
        assert yi == pytest.approx(np.trace(Mi.T @ p.X_star), abs=1e-12)
    core = p.U.T @ p.X_star @ p.V
    np.testing.assert_allclose(core, np.diag(np.diag(core)), atol=1e-12)
    cores = np.array([p.U.T @ Mi @ p.V for Mi in p.M])
    offdiag = cores * (1 - np.eye(4))
    if aligned:  # Theorem 1's condition: U^T M_i V diagonal for every i
        np.testing.assert_allclose(offdiag, 0, atol=1e-12)
    else:
        assert np.abs(offdiag).max() > 0.1
    with pytest.raises(AttributeError):
        p.y = None  # frozen


def test_matrix_sensing_aligned_gradient_is_diagonal_in_uv():
    """For aligned M_i, the squared-loss gradient at any U diag V^T is again U diag V^T."""
    p = data.matrix_sensing(5, 8, rng=rng(3))
    W = p.U @ np.diag(rng(4).standard_normal(5)) @ p.V.T
    resid = p.y - np.einsum("nab,ab->n", p.M, W)
    grad = -np.einsum("n,nab->ab", resid, p.M) / len(p.y)
    core = p.U.T @ grad @ p.V
    np.testing.assert_allclose(core, np.diag(np.diag(core)), atol=1e-12)


def hard_margin(X, Y):
    """Max margin through the origin via the hard-margin SVM: min |w|^2 s.t. y_i w.x_i >= 1."""
    Z = X * Y  # columns y_i x_i
    res = minimize(
        lambda w: w @ w,
        np.linalg.lstsq(Z.T, np.ones(Z.shape[1]), rcond=None)[0],
        jac=lambda w: 2 * w,
        method="SLSQP",
        constraints=[{"type": "ineq", "fun": lambda w: Z.T @ w - 1, "jac": lambda w: Z.T}],
    )
    assert res.success
    return 1 / np.linalg.norm(res.x)


@SETTINGS
@given(n=st.integers(2, 60), dim=st.integers(1, 4), margin=st.floats(0.01, 1.0), seed=st.integers(0, 2**32 - 1))
def test_separable_has_margin(n, dim, margin, seed):
    X, Y = data.separable(n, dim, margin=margin, rng=rng(seed))
    assert X.shape == (dim, n) and Y.shape == (1, n) and X.dtype == Y.dtype == np.float64
    assert set(np.unique(Y)) == {-1.0, 1.0}
    assert hard_margin(X, Y) >= margin * (1 - 1e-6)


def test_separable_is_roughly_balanced_and_not_trivial():
    X, Y = data.separable(2000, 2, margin=0.1, rng=rng(5))
    assert abs(Y.mean()) < 0.1
    assert hard_margin(X[:, :200], Y[:, :200]) < 1.0  # the margin is not inflated far above 0.1


# -- IDX files ---------------------------------------------------------------------------------
def idx_bytes(array, code=0x08):
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[code]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.asarray(array, dtype).tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_images_and_labels(tmp_path, compress):
    images = rng(6).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.array([7, 2, 1, 0, 4], dtype=np.uint8)
    for name, arr in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
        raw = idx_bytes(arr)
        path = tmp_path / (name + (".gz" if compress else ""))
        path.write_bytes(gzip.compress(raw) if compress else raw)
        out = data.read_idx(path)
        assert out.dtype == np.uint8 and out.shape == arr.shape
        np.testing.assert_array_equal(out, arr)


def test_read_idx_big_endian_wider_types(tmp_path):
    arr = np.array([[1, -2, 300], [40000 - 65536, 5, 6]], dtype=np.int16)
    (tmp_path / "a").write_bytes(idx_bytes(arr, 0x0B))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "a"), arr)
    f = np.array([1.5, -2.25], dtype=np.float32)
    (tmp_path / "b").write_bytes(idx_bytes(f, 0x0D))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "b"), f)


def test_read_idx_rejects_bad_files(tmp_path):
    good = idx_bytes(np.zeros((2, 3), np.uint8))
    (tmp_path / "magic").write_bytes(b"\x01" + good[1:])
    (tmp_path / "type").write_bytes(good[:2] + b"\x07" + good[3:])
    (tmp_path / "short").write_bytes(good[:-1])
    for name in ("magic", "type"):
        with pytest.raises(ValueError, match="not an IDX file"):
            data.read_idx(tmp_path / name)
    with pytest.raises(ValueError, match="data bytes"):
        data.read_idx(tmp_path / "short")


# -- download path with a fake urlopen ---------------------------------------------------------
NAME = "train-labels-idx1-ubyte.gz"


class FakeURL:
    """Serves `payload` for every URL and records the URLs requested."""

    def __init__(self, payload=None, error=None):
        self.payload, self.error, self.urls = payload, error, []

    def __call__(self, url, timeout=None):
        self.urls.append(url)
        assert timeout is not None and timeout > 0
        if self.error is not None:
            raise self.error
        return io.BytesIO(self.payload)


def fake_md5(monkeypatch, payload):
    monkeypatch.setitem(data.MNIST_MD5, NAME, hashlib.md5(payload).hexdigest())


def test_offline_gives_clear_error(tmp_path, monkeypatch):
    fake = FakeURL(error=urllib.error.URLError("no route to host"))
    monkeypatch.setattr(data, "urlopen", fake)
    with pytest.raises(data.MNISTUnavailable) as info:
        data._fetch(NAME, tmp_path)
    msg = str(info.value)
    assert NAME in msg and str(tmp_path) in msg and "no route to host" in msg
    assert fake.urls == [m + NAME for m in data.MNIST_MIRRORS]
    assert all(u in msg for u in fake.urls)
    assert list(tmp_path.iterdir()) == []
    assert isinstance(info.value, OSError)


def test_timeout_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "urlopen", FakeURL(error=TimeoutError("timed out")))
    with pytest.raises(data.MNISTUnavailable, match="timed out"):
        data._fetch(NAME, tmp_path)


def test_wrong_bytes_give_md5_error_and_leave_nothing(tmp_path, monkeypatch):
    fake_md5(monkeypatch, b"the right bytes")
    monkeypatch.setattr(data, "urlopen", FakeURL(b"corrupted bytes"))
    with pytest.raises(data.MNISTUnavailable, match="MD5 mismatch"):
        data._fetch(NAME, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_right_bytes_are_cached_and_reused_offline(tmp_path, monkeypatch):
    payload = gzip.compress(idx_bytes(np.arange(10, dtype=np.uint8)))
    fake_md5(monkeypatch, payload)
    fake = FakeURL(payload)
    monkeypatch.setattr(data, "urlopen", fake)
    path = data._fetch(NAME, tmp_path / "cache")
    assert path == tmp_path / "cache" / NAME and path.read_bytes() == payload
    assert sorted(p.name for p in path.parent.iterdir()) == [NAME]  # no temporary left
    assert len(fake.urls) == 1
    monkeypatch.setattr(data, "urlopen", FakeURL(error=AssertionError("network used")))
    assert data._fetch(NAME, tmp_path / "cache") == path
    np.testing.assert_array_equal(data.read_idx(path), np.arange(10))


def test_second_mirror_used_after_first_fails(tmp_path, monkeypatch):
    payload = b"payload"
    fake_md5(monkeypatch, payload)
    calls = []

    def flaky(url, timeout=None):
        calls.append(url)
        if len(calls) == 1:
            raise urllib.error.URLError("down")
        return io.BytesIO(payload)

    monkeypatch.setattr(data, "urlopen", flaky)
    assert data._fetch(NAME, tmp_path).read_bytes() == payload
    assert calls == [m + NAME for m in data.MNIST_MIRRORS]


def test_mnist_idx_source_from_cache(tmp_path, monkeypatch):
    """source='idx' reads the cached IDX files, no network ('auto' stays with the subset: it refuses to go beyond)."""
    n = 2100
    images = rng(7).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng(8).integers(0, 10, size=n).astype(np.uint8)
    for name, arr in (("train-images-idx3-ubyte.gz", images), ("train-labels-idx1-ubyte.gz", labels)):
        payload = gzip.compress(idx_bytes(arr))
        (tmp_path / name).write_bytes(payload)
        monkeypatch.setitem(data.MNIST_MD5, name, hashlib.md5(payload).hexdigest())
    monkeypatch.setenv("DEEPLINEAR_CACHE", str(tmp_path))
    with pytest.raises(ValueError, match="source='idx'"):
        data.mnist(50, offset=2040, source="auto")
    x, y = data.mnist(50, offset=2040, source="idx")
    np.testing.assert_array_equal(x, images[2040:2090] / 255.0)
    np.testing.assert_array_equal(y, labels[2040:2090])
    assert y.dtype == np.int64
    x, _ = data.mnist(3, offset=1500, source="idx", cache_dir=tmp_path)
    np.testing.assert_array_equal(x, images[1500:1503] / 255.0)
    # the official training set's first 1000 are shipped: read from the package, not the cache
    x, y = data.mnist(3, source="idx", cache_dir=tmp_path)
    assert y.tolist() == [5, 0, 4] and not np.array_equal(x, images[:3] / 255.0)


# -- shipped digits -----------------------------------------------------------------------------
# SHA-256 of the raw bytes of the shipped official first 1000 (recorded in deeplinear/_data/README.md)
OFFICIAL_SHA256 = (
    "2304e0137aea1f236247daacc2dcaf275996895e40c4bb0760c448434d361d1a",
    "b03ead2884240483d956c7feac7a9b39d28685062da0a980bb73d2196dc506b8",
)


def test_the_official_first_1000_are_shipped_in_the_official_order_and_need_no_network(monkeypatch):
    monkeypatch.setattr(data, "urlopen", FakeURL(error=AssertionError("network used")))
    x, y = data.mnist(data.OFFICIAL_SHIPPED, source="idx", cache_dir="/nonexistent")
    raw = np.round(x * 255).astype(np.uint8)
    assert (hashlib.sha256(raw.tobytes()).hexdigest(), hashlib.sha256(y.astype(np.uint8).tobytes()).hexdigest()) == (
        OFFICIAL_SHA256
    )
    readme = (ROOT / "lib" / "deeplinear" / "_data" / "README.md").read_text(encoding="utf-8")
    assert all(digest in readme for digest in OFFICIAL_SHA256)
    # MNIST's documented first twenty training labels, and the released scripts' first 256 by class
    assert y[:20].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5, 3, 6, 1, 7, 2, 8, 6, 9]
    assert np.bincount(y[:256]).tolist() == [30, 35, 25, 30, 24, 17, 24, 26, 19, 26]
    first, label = data.mnist(1, offset=999, source="idx")
    np.testing.assert_array_equal(first[0], x[999]) and label[0] == y[999]


def test_the_official_digits_and_the_subset_are_the_same_real_digits():
    """An independent check of both files, which come from different redistributions: the npm package behind the
    subset keeps the official order within each class, and the official first 1000 hold at most 200 of any class,
    so every one of them is in the subset (its first 200 of each class), with the same label."""
    official, official_labels = data.mnist(data.OFFICIAL_SHIPPED, source="idx")
    subset, subset_labels = data.mnist(data.SUBSET_SIZE, source="subset")
    by_bytes = {np.round(im * 255).astype(np.uint8).tobytes(): lab for im, lab in zip(subset, subset_labels)}
    shared = [(by_bytes[key], lab) for im, lab in zip(official, official_labels)
              if (key := np.round(im * 255).astype(np.uint8).tobytes()) in by_bytes]  # fmt: skip
    assert np.bincount(official_labels).max() <= 200
    assert len(shared) == data.OFFICIAL_SHIPPED and all(a == b for a, b in shared)


# -- shipped subset ----------------------------------------------------------------------------
def test_subset_file_is_small_and_documented():
    path = ROOT / "lib" / "deeplinear" / "_data" / "mnist_subset.npz"
    assert path.stat().st_size < 1_000_000
    readme = (path.parent / "README.md").read_text(encoding="utf-8")
    for needle in ("CC BY-SA 3.0", "Juan Cazala", "LeCun", "Cortes", "Burges", "1.1.0", "MIT"):
        assert needle in readme


def test_mnist_subset():
    x, y = data.mnist(256)
    assert x.shape == (256, 28, 28) and x.dtype == np.float64 and y.dtype == np.int64
    assert 0 <= x.min() and x.max() <= 1 and x.max() == 1.0
    assert np.all(np.bincount(y, minlength=10) >= 25)  # class-balanced prefix
    with np.load(ROOT / "lib" / "deeplinear" / "_data" / "mnist_subset.npz") as f:
        raw_images, raw_labels = f["images"], f["labels"]
    np.testing.assert_array_equal(np.round(x * 255).astype(np.uint8), raw_images[:256])
    x2, y2 = data.mnist(10, offset=1990, source="subset")
    np.testing.assert_array_equal(y2, raw_labels[1990:])
    # Each image is a real digit: a mean-image nearest-centroid classifier built on the first
    # 1000 labels beats chance by far on the last 1000.
    X, Y = data.mnist(2000)
    flat = X.reshape(2000, -1)
    centroids = np.array([flat[:1000][Y[:1000] == d].mean(0) for d in range(10)])
    pred = np.argmin(((flat[1000:, None] - centroids) ** 2).sum(-1), axis=1)
    assert np.mean(pred == Y[1000:]) > 0.6


PROVENANCE = ROOT / "tests" / "data" / "mnist_subset_provenance.json"  # scripts/mnist_provenance.py writes it
SOURCE = ROOT.parent / "shared" / "data" / "mnist_10k.npz"  # outside the repository: not on a clone


def test_subset_matches_source_digits():
    """The shipped subset is the first 200 digits of each class of its source, in the source's order, checked on
    any clone against the committed fixture: each source digit's SHA-256 (a 64-bit prefix) and position, and
    the source file's SHA-256, the one the data README states."""
    fixture = json.loads(PROVENANCE.read_text(encoding="utf-8"))
    readme = (ROOT / "lib" / "deeplinear" / "_data" / "README.md").read_text(encoding="utf-8")
    assert fixture["source"] == SOURCE.name and f"SHA-256 `{fixture['source_sha256']}`" in readme
    x, y = data.mnist(2000, source="subset")
    raw = np.round(x * 255).astype(np.uint8)
    width = fixture["sha256_prefix"]
    seen = set()
    for d in range(10):  # the first 200 digits of each class, in the source's order
        expected = fixture["classes"][str(d)]
        assert [hashlib.sha256(im.tobytes()).hexdigest()[:width] for im in raw[y == d]] == expected["sha256"], d
        positions = expected["positions"]
        assert len(positions) == 200 and positions == sorted(positions) and not seen & set(positions)
        seen |= set(positions)


@pytest.mark.skipif(not SOURCE.exists(), reason="the source data are outside the repository")
def test_the_provenance_fixture_is_the_sources():
    """Where the source is at hand: the committed fixture is what scripts/mnist_provenance.py makes of it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mnist_provenance", ROOT / "scripts" / "mnist_provenance.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.text(script.fixture(SOURCE)) == PROVENANCE.read_text(encoding="utf-8")


def test_mnist_matrix_and_one_hot():
    images = rng(9).random((3, 28, 28))
    X = data.mnist_matrix(images, normalize=False)
    assert X.shape == (784, 3)
    for i in range(3):  # column i is image i, row-major
        np.testing.assert_array_equal(X[:, i], images[i].ravel())
    assert X[28, 1] == images[1, 1, 0]
    Xn = data.mnist_matrix(images)
    np.testing.assert_allclose(Xn, (X - 0.1307) / 0.3081)
    Y = data.one_hot(np.array([3, 0, 9]))
    assert Y.shape == (10, 3)
    np.testing.assert_array_equal(Y[:, 0], np.eye(10)[3])
    np.testing.assert_array_equal(Y.sum(0), 1)
    assert data.one_hot(np.array([1, 0]), num_classes=2).tolist() == [[0, 1], [1, 0]]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: data.mnist(0), "n must be"),
        (lambda: data.mnist(2001, source="subset"), "offset \\+ n must be <= 2000"),
        (lambda: data.mnist(10, offset=1995, source="subset"), "offset \\+ n"),
        (lambda: data.mnist(10, offset=-1), "offset must be"),
        (lambda: data.mnist(60001, source="idx"), "<= 60000"),
        (lambda: data.mnist(5, source="web"), "source must be"),
        (lambda: data.mnist(2.5), "n must be"),
        (lambda: data.mnist_matrix(np.zeros((2, 28, 27))), "images must have shape"),
        (lambda: data.mnist_matrix(np.zeros((2, 28, 28), np.uint8)), "floating point"),
        (lambda: data.one_hot(np.array([0, 10])), "labels must lie in \\[0, 9\\]"),
        (lambda: data.one_hot(np.array([0.0, 1.0])), "integer"),
        (lambda: data.one_hot(np.array([0]), num_classes=0), "num_classes"),
        (lambda: data.random_regression(0, 3, rng=rng()), "k must be"),
        (lambda: data.random_regression(3, 3, rng=-1), "rng must be"),
        (lambda: data.random_regression(3, 3, k_out=0, rng=rng()), "k_out must be"),
        (lambda: data.matrix_sensing(3, 0, rng=rng()), "n must be"),
        (lambda: data.separable(5, 2, margin=0.0, rng=rng()), "margin must be"),
        (lambda: data.separable(5, 0, rng=rng()), "dim must be"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_matrix_inversion_redraws_until_well_conditioned():
    # the reference: draw standard normal k x k matrices from the same stream until cond(X) <= 20
    ref = np.random.default_rng(5)
    X_ref = ref.standard_normal((6, 6))
    draws = 1
    while np.linalg.cond(X_ref) > 20.0:
        X_ref, draws = ref.standard_normal((6, 6)), draws + 1
    rng = np.random.default_rng(5)
    X, Y = data.matrix_inversion(6, max_condition=20.0, rng=rng)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(Y, np.eye(6))
    assert draws > 1  # this seed does redraw, so the loop is exercised
    assert rng.standard_normal() == ref.standard_normal()  # the stream is left where the loop left it
    with pytest.raises(ValueError, match="max_condition"):
        data.matrix_inversion(6, max_condition=0.5, rng=rng)
    with pytest.raises(ValueError, match="in 3 draws"):
        data.matrix_inversion(6, max_condition=1.0, max_draws=3, rng=rng)


@pytest.mark.parametrize("kind", data.REGRESSION_KINDS)
def test_regression_problem_draws_what_the_named_generator_draws(kind):
    makers = {
        "random": lambda r: data.random_regression(4, 6, rng=r),
        "autoencoding": lambda r: data.autoencoding(4, 6, rng=r),
        "factorization": lambda r: data.matrix_factorization(4, rng=r),
        "inversion": lambda r: data.matrix_inversion(4, max_condition=5.0, rng=r),
    }
    X, Y = data.regression_problem(kind, 4, 6, max_condition=5.0, rng=np.random.default_rng(9))
    X_ref, Y_ref = makers[kind](np.random.default_rng(9))
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(Y, Y_ref)
    if kind == "inversion":
        assert np.linalg.cond(X) <= 5.0


def test_regression_problem_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="kind must be one of"):
        data.regression_problem("sensing", 3, 3, rng=np.random.default_rng(0))


def test_one_orthogonal_helper_for_data_and_theory():
    from deeplinear import aligned

    # the reference: QR of a standard normal matrix, columns signed so that R's diagonal is positive
    G = np.random.default_rng(3).standard_normal((5, 5))
    Q, R = np.linalg.qr(G)
    expected = Q * np.sign(np.diag(R))
    np.testing.assert_allclose(aligned.random_orthogonal(5, rng=np.random.default_rng(3)), expected, rtol=0, atol=0)
    p = data.matrix_sensing(5, 2, rng=np.random.default_rng(3))  # U is its first draw
    np.testing.assert_array_equal(p.U, expected)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        aligned.random_orthogonal(0, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be None, an int seed"):
        aligned.random_orthogonal(3, rng="0")
