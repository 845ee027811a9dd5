"""Figures 1b and 1c as the authors' released MNIST script runs them, in PyTorch: an independent check of
chapter 08's numbers (its loss, the released alignment score and the released invariance score).

The training loop and both scores are written here from the description of the released script in the
papers' README (not copied: the script has no licence): a 784-1024-64-10 linear network without biases,
full-batch gradient descent (SGD on all images at once) with learning rate ``lr``, until the loss is below
1e-4 or ``steps`` steps, with PyTorch's own losses (``nn.MSELoss``, the mean over all entries, for
Figure 1b; ``nn.CrossEntropyLoss`` for Figure 1c) and autograd, in float64. Only the digits and the
aligned start are taken from deeplinear (``data.mnist_first``, ``aligned.aligned_start``, as chapter 08 builds
them), so that the two runs start from the same network; everything after that is PyTorch's.

- alignment: for each interface, each right singular vector of W_{i+1} scores its largest |cosine| with any
  left singular vector of W_i (reduced SVDs); summed over all interfaces' vectors, divided by their count
  (``alignment``); the mean of each interface's own mean is the book's summary (``alignment_interface_mean``);
- invariance: each singular vector *at the start* (left ones of W_1..W_{d-1}, right ones of W_2..W_d)
  scores its largest |cosine| with any current vector of the same kind in the same layer; summed over all
  those vectors, divided by their count.

Usage (PyTorch is optional, and not part of the book's lock)::

    pip install torch
    python scripts/released_scores.py                      # chapter 08's defaults: n = 256, 2000 steps
    python scripts/released_scores.py --source idx --steps 2000 --out released.json

It writes ``book/presets/08-mnist-classification/released-pytorch.json`` by default, which chapter 08 reads
and compares with its own run; the file records the settings, the PyTorch version and the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "book" / "presets" / "08-mnist-classification" / "released-pytorch.json"
THRESHOLD = 1e-4  # the released script trains until the loss is below this


def _torch():
    try:
        import torch
    except ImportError:
        sys.exit("this check needs PyTorch, which the book does not install: pip install torch")
    return torch


def start(n: int, source: str, seed: int, hidden: list[int]):
    """Chapter 08's digits, targets and aligned start (the released script's: identity inner bases, singular
    values uniform on [0, 1))."""
    from deeplinear import aligned, data

    images, labels = data.mnist_first(n, source)
    X, Y = data.mnist_matrix(images), data.one_hot(labels)
    U_x = np.linalg.svd(X)[0]
    rng = np.random.default_rng(seed)
    widths = [784, *hidden, 10]
    Ws = aligned.aligned_start(U_x, np.linalg.svd(Y)[0], widths, inner="identity", low=0.0, high=1.0, rng=rng)
    return X, Y, labels, Ws


def alignment_scores(torch, Ws) -> tuple[float, float]:
    """The released alignment score (pooled over all interfaces' vectors) and the mean of the interfaces'
    own means (the book's summary of `deeplinear.metrics.alignment`)."""
    total, count, means = 0.0, 0, []
    for below, above in zip(Ws, Ws[1:]):
        U = torch.linalg.svd(below, full_matrices=False)[0]
        V = torch.linalg.svd(above, full_matrices=False)[2].T
        best = (V.T @ U).abs().max(dim=1).values
        total, count = total + best.sum().item(), count + V.shape[1]
        means.append(best.mean().item())
    return total / count, sum(means) / len(means)


def invariance_score(torch, Ws0, Ws) -> float:
    total, count, d = 0.0, 0, len(Ws)
    for i, (W0, W) in enumerate(zip(Ws0, Ws)):
        U0, _, Vt0 = torch.linalg.svd(W0, full_matrices=False)
        U, _, Vt = torch.linalg.svd(W, full_matrices=False)
        pairs = ([(U0, U)] if i < d - 1 else []) + ([(Vt0.T, Vt.T)] if i > 0 else [])
        for first, now in pairs:
            total += (first.T @ now).abs().max(dim=1).values.sum().item()
            count += first.shape[1]
    return total / count


def run(torch, X, Y, labels, Ws0, loss: str, lr: float, steps: int) -> dict:
    x, y = torch.from_numpy(X.T.copy()), torch.from_numpy(Y.T.copy())  # rows are images, as in PyTorch
    target = torch.from_numpy(labels.astype(np.int64))
    layers = [torch.nn.Linear(W.shape[1], W.shape[0], bias=False, dtype=torch.float64) for W in Ws0]
    with torch.no_grad():
        for layer, W in zip(layers, Ws0):
            layer.weight.copy_(torch.from_numpy(W))
    net = torch.nn.Sequential(*layers)
    criterion = torch.nn.MSELoss() if loss == "squared" else torch.nn.CrossEntropyLoss()
    optimiser = torch.optim.SGD(net.parameters(), lr=lr)
    first = [layer.weight.detach().clone() for layer in layers]
    step, value = 0, float("nan")
    while True:
        optimiser.zero_grad()
        out = net(x)
        objective = criterion(out, y if loss == "squared" else target)
        value = objective.item()
        if value < THRESHOLD or step == steps:
            break
        objective.backward()
        optimiser.step()
        step += 1
    now = [layer.weight.detach() for layer in layers]
    pooled, per_interface = alignment_scores(torch, now)
    return {
        "steps": step,
        "loss": value,
        "alignment": pooled,
        "alignment_interface_mean": per_interface,
        "released_invariance": invariance_score(torch, first, now),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="digits (chapter 08's n)")
    parser.add_argument("--source", default="subset", choices=("subset", "idx"), help="chapter 08's mnist_source")
    parser.add_argument("--seed", type=int, default=0, help="chapter 08's seed")
    parser.add_argument("--lr", type=float, default=0.01, help="chapter 08's lr")
    parser.add_argument("--steps", type=int, default=2000, help="chapter 08's steps (the cap)")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the scores (JSON)")
    args = parser.parse_args(argv)
    torch = _torch()
    torch.set_num_threads(1)
    X, Y, labels, Ws0 = start(args.n, args.source, args.seed, [1024, 64])
    began = time.perf_counter()
    runs = {
        figure: run(torch, X, Y, labels, Ws0, loss, args.lr, args.steps)
        for figure, loss in (("fig1b", "squared"), ("fig1c", "cross_entropy"))
    }
    result = {
        "settings": {"n": args.n, "mnist_source": args.source, "seed": args.seed, "lr": args.lr, "steps": args.steps},
        "runs": runs,
        "torch": torch.__version__,
        "machine": f"{platform.machine()} {platform.system()}, Python {platform.python_version()}",
        "seconds": round(time.perf_counter() - began, 1),
        "made": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for figure, r in runs.items():
        print(f"{figure}: {r['steps']} steps, loss {r['loss']:.6g}, alignment {r['alignment']:.5f} (per interface "
              f"{r['alignment_interface_mean']:.5f}), released invariance {r['released_invariance']:.5f}")  # fmt: skip
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
