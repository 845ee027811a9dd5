"""Speed of deeplinear's trainer, measured side by side in one run; prints one table of ratios.

    python benchmarks/speed.py            # about a minute
    python benchmarks/speed.py --quick    # a smoke run with fewer steps (ratios are noisier)

Rows: (1) paper-size networks, `train` against a warmed-up PyTorch CPU autograd loop (float64) and a
plain numpy forward/backward loop; (2) a 64-member ensemble against the PyTorch loop and against 64
sequential `train` runs; (3) k = 512 against the FLOP floor (the FLOPs of one step at the matmul
rate measured in this run); (4) the share of run time spent recording alignment and invariance on
the default schedule; (5) Corollary 1's reduced singular-value dynamics against full gradient
descent at k = 256 (and their agreement); (6) chapter 08's reduction lemma: a step of the small network
against one of the full network (`deeplinear.timing.full_vs_small_network`, as the chapter times it; the
tests check the saving by counting multiply-adds, never by a clock). Every timing is the best of repeats,
interleaved where two computations are compared in one call.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

from deeplinear import aligned, dynamics, reduction, timing, train

LR = 1e-3


def best_times(fns: dict, repeats: int) -> dict:
    """Best wall time of each zero-argument callable, repeats interleaved so load hits all alike."""
    best = {name: np.inf for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def problem(rng, k: int, d: int, n: int, S: int | None = None):
    lead = () if S is None else (S,)
    Ws = [rng.standard_normal(lead + (k, k)) / np.sqrt(k) for _ in range(d)]
    return Ws, rng.standard_normal((k, n)), rng.standard_normal((k, n))


def numpy_loop(Ws, X, Y, steps: int) -> None:
    """The straightforward numpy loop: forward keeping activations, backward, update."""
    Ws, n = [W.copy() for W in Ws], X.shape[1]
    for _ in range(steps):
        acts = [X]
        for W in Ws:
            acts.append(W @ acts[-1])
        R = acts[-1] - Y
        _ = 0.5 * np.sum(R * R) / n
        D, grads = R / n, []
        for i in range(len(Ws) - 1, -1, -1):
            grads.append(D @ acts[i].T)
            D = Ws[i].T @ D
        Ws = [W - LR * G for W, G in zip(Ws, grads[::-1])]


def torch_loop(torch, Ws, X, Y):
    """A warmed-up straightforward PyTorch autograd loop (float64, CPU); returns run(steps)."""
    Wt = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in Ws]
    Xt, Yt, n = torch.tensor(X), torch.tensor(Y), X.shape[1]

    def run(steps: int) -> None:
        for _ in range(steps):
            F = Xt
            for W in Wt:
                F = W @ F
            loss = 0.5 * ((F - Yt) ** 2).sum() / n
            loss.backward()
            with torch.no_grad():
                for W in Wt:
                    W -= LR * W.grad
                    W.grad = None

    run(200)
    return run


def row(name, measured, ratio, target, ok):
    return {
        "row": name,
        "measured": measured,
        "ratio": ratio,
        "target": target,
        "verdict": "n/a" if ok is None else ("PASS" if ok else "FAIL"),
    }


def flop_floor(rng, repeats: int, steps: int) -> dict:
    k, d, n = 512, 4, 512
    Ws, X, Y = problem(rng, k, d, n)
    A, B, C = rng.standard_normal((k, k)), rng.standard_normal((k, k)), np.empty((k, k))
    np.dot(A, B, out=C)
    train(Ws, X, Y, lr=LR, steps=2, progress=False)
    products = (3 * d - 1) * steps  # d forward, d gradient, d - 1 back-propagation products
    # the matmul rate is taken over as many products as the training run makes, interleaved with it,
    # so that both see the same machine load
    t = best_times(
        {
            "mm": lambda: [np.dot(A, B, out=C) for _ in range(products)],
            "train": lambda: train(Ws, X, Y, lr=LR, steps=steps, progress=False),
        },
        repeats,
    )
    rate = 2 * k**3 * products / t["mm"]
    flops = (3 * d - 1) * 2 * k * k * n
    per_step, floor = t["train"] / steps, flops / rate
    return row(
        "3. k=512, d=4, n=512: step time / FLOP floor",
        f"{per_step * 1e3:.1f} ms/step; floor {floor * 1e3:.1f} ms ({flops / 1e9:.2f} GFLOP at "
        f"{rate / 1e9:.1f} GFLOP/s float64 matmul)",
        per_step / floor,
        "<= 1.15x",
        per_step / floor <= 1.15,
    )


def metric_share(rng, repeats: int, steps: int) -> dict:
    Ws, X, Y = problem(rng, 9, 3, 9)
    t = best_times(
        {
            "plain": lambda: train(Ws, X, Y, lr=LR, steps=steps, progress=False),
            "metrics": lambda: train(Ws, X, Y, lr=LR, steps=steps, metrics=("alignment", "invariance"), progress=False),
        },
        repeats,
    )
    share = max(0.0, 1 - t["plain"] / t["metrics"])
    return row(
        f"4. alignment + invariance on the default schedule (k=9, d=3, {steps} steps): share of run time",
        f"{t['metrics'] * 1e3:.0f} ms with, {t['plain'] * 1e3:.0f} ms without",
        share,
        "<= 20%",
        share <= 0.20,
    )


def corollary1(rng, repeats: int, steps: int) -> dict:
    k, d = 256, 3
    Q = [np.linalg.qr(rng.standard_normal((k, k)))[0] for _ in range(d + 1)]
    lam_prime = rng.uniform(1.0, 2.0, k)
    Y = (Q[d] * lam_prime) @ Q[0].T  # matrix factorization: X = I, U = Q_d, V = Q_0
    sig0 = rng.uniform(0.3, 0.6, (d, k))
    Ws = aligned.aligned_network(Q, list(sig0))
    lr = 0.05 * k  # (lr / n) = 0.05 per mode
    out = {}
    t = best_times(
        {
            "full": lambda: out.__setitem__("full", train(Ws, None, Y, lr=lr, steps=steps, progress=False)),
            "reduced": lambda: out.__setitem__(
                "reduced", dynamics.singular_value_dynamics(sig0, np.ones(k), lam_prime, lr=lr, steps=steps, n=k)
            ),
        },
        repeats,
    )
    final = out["full"].weights
    sig_full = np.array([np.diag(Q[i + 1].T @ final[i] @ Q[i]) for i in range(d)])
    gap = float(np.max(np.abs(sig_full - out["reduced"][-1])))
    speedup = t["full"] / t["reduced"]
    return row(
        f"5. Corollary 1 reduced dynamics vs full GD (k=256, d=3, {steps} steps): speed-up",
        f"full {t['full'] / steps * 1e3:.2f} ms/step, reduced {t['reduced'] / steps * 1e6:.1f} us/step;"
        f" max |sigma_full - sigma_reduced| = {gap:.1e}",
        speedup,
        ">= 100x and gap <= 1e-8",
        speedup >= 100 and gap <= 1e-8,
    )


def reduction_lemma(rng, repeats: int, steps: int) -> dict:
    """Rank-4 data in 400 dimensions through a 400-300-2 network: the small network is 4-6-2, 3350 times fewer
    multiply-adds a step (tests/test_reduction.py counts them); what that saves in seconds, as chapter 08 times it."""
    X = rng.standard_normal((400, 4))
    Y = np.eye(2)[:, [0, 1, 0, 1]]
    red = reduction.reduce_network([rng.standard_normal((300, 400)) / 20, rng.standard_normal((2, 300)) / 20], X)
    best = [np.inf, np.inf]
    for _ in range(repeats):
        times = timing.full_vs_small_network(red, X, Y, lr=0.01, steps=(steps, steps))
        best = [min(b, t) for b, t in zip(best, times)]
    speedup = best[0] / best[1]
    return row(
        f"6. reduction lemma (chapter 08), 400-300-2 on rank-4 data ({steps} steps): speed-up of the small network",
        f"full {best[0] * 1e6:.1f} us/step, small {best[1] * 1e6:.1f} us/step; "
        f"{red.cost_ratio:.0f}x fewer multiply-adds",
        speedup,
        "> 1x",
        speedup > 1,
    )


def with_torch(rng, repeats: int, steps: int) -> list:
    try:
        import torch

        torch.set_num_threads(1)  # tiny matrices: threads only add synchronisation
    except ImportError:
        torch = None
    rows, single = [], {}
    for k, d in [(9, 3), (9, 4), (16, 6)]:
        Ws, X, Y = problem(rng, k, d, k)
        counts = {"train": steps, "numpy": steps // 2, "torch": steps // 10}  # ~0.1-0.3 s each
        fns = {
            "train": lambda: train(Ws, X, Y, lr=LR, steps=counts["train"], progress=False),
            "numpy": lambda: numpy_loop(Ws, X, Y, counts["numpy"]),
        }
        if torch is not None:
            run = torch_loop(torch, Ws, X, Y)
            fns["torch"] = lambda: run(counts["torch"])
        rate = {name: counts[name] / t for name, t in best_times(fns, repeats).items()}
        single[(k, d)] = rate
        text = f"train {rate['train']:,.0f}/s, numpy loop {rate['numpy']:,.0f}/s"
        name = f"1. paper size k={k}, d={d}, n={k}: steps/s"
        if torch is None:
            rows.append(row(name + " vs PyTorch", text + "; PyTorch not importable", None, ">= 5x", None))
        else:
            text += f", PyTorch {rate['torch']:,.0f}/s"
            r = rate["train"] / rate["torch"]
            rows.append(row(name + " vs PyTorch", text, r, ">= 5x", r >= 5))
        r = rate["train"] / rate["numpy"]
        rows.append(row(name + " vs numpy loop", text, r, ">= 1x", r >= 1))
    S, k, d = 64, 9, 3
    Ws, X, Y = problem(rng, k, d, k, S)
    members = [[W[s] for W in Ws] for s in range(S)]
    ens_steps = max(steps // 20, 50)
    t = best_times(
        {
            "ensemble": lambda: train(Ws, X, Y, lr=LR, steps=ens_steps, progress=False),
            "sequential": lambda: [train(m, X, Y, lr=LR, steps=ens_steps, progress=False) for m in members],
        },
        max(repeats, 3),
    )
    ens, seq = S * ens_steps / t["ensemble"], S * ens_steps / t["sequential"]
    text = f"ensemble {ens:,.0f} network-steps/s, 64 sequential train runs {seq:,.0f}/s"
    name = "2. 64-member ensemble, k=9, d=3, n=9: network-steps/s"
    if torch is None:
        rows.append(row(name + " vs PyTorch", text + "; PyTorch not importable", None, ">= 20x", None))
    else:
        tr = single[(9, 3)]["torch"]
        rows.append(row(name + " vs PyTorch", text + f", PyTorch loop {tr:,.0f}/s", ens / tr, ">= 20x", ens / tr >= 20))
    rows.append(row(name + " vs sequential train", text, ens / seq, ">= 10x", ens / seq >= 10))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats (smoke run)")
    args = parser.parse_args()
    os.environ.setdefault("DEEPLINEAR_PROGRESS", "0")
    q = 10 if args.quick else 1
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"numpy {np.__version__}, python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load:.2f} at start"
    )
    # numpy-only rows first, so that PyTorch's thread pool is not around for the large products
    rows = [
        flop_floor(rng, 3, max(10 // q, 2)),
        metric_share(rng, 5 if q == 1 else 2, 10_000),
        corollary1(rng, 3 if q == 1 else 1, max(50 // q, 5)),
        reduction_lemma(rng, 5 if q == 1 else 2, max(200 // q, 20)),
    ]
    rows = with_torch(rng, 5 if q == 1 else 2, 20_000 // q) + rows
    width = max(len(r["row"]) for r in rows)
    print(f"\n{'row':<{width}}  {'ratio':>8}  {'target':<24} verdict  measured")
    for r in rows:
        ratio = (
            "-" if r["ratio"] is None else (f"{100 * r['ratio']:.1f}%" if "%" in r["target"] else f"{r['ratio']:.2f}x")
        )
        print(f"{r['row']:<{width}}  {ratio:>8}  {r['target']:<24} {r['verdict']:<7}  {r['measured']}")
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\ntotal {time.perf_counter() - start:.0f} s; load average {load_end:.2f} at end "
        f"(other processes on the machine make every timing noisier)"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
