"""deeplinear's trainer against its peers, side by side in one run; prints µs per step and ratios.

    python benchmarks/peers.py            # about a minute
    python benchmarks/peers.py --quick    # a smoke run (fewer steps and repeats: noisier)
    python benchmarks/peers.py --widths 9 32 --members 16

The problem (issue 25): full-batch gradient descent on the squared loss, float64, depth d = 4, square layers of
width k, n = k samples, 3,000 steps; single networks at k = 9, 16 and 64 and a 64-member ensemble at k = 9 and 16
(µs per network-step). The peers: a numba hand loop (``njit``, the step written out with ``@``), JAX (``jit``
of the whole loop in ``lax.fori_loop``; ``vmap`` over the members for the ensemble), PyTorch CPU autograd, and
``deeplinear.train`` with the numpy engine and with its default, ``engine="auto"`` (the compiled engine where every
product has at most 64³ multiply-adds, the numpy engine above: its BLAS calls are then the time, and the numpy
engine makes them with the least around them). Each peer is optional: one that is not
installed is skipped with a line saying so (they are extras of this benchmark, not of the book:
``pip install -r benchmarks/peers-requirements.txt``). Compile time is
reported apart: a first call in a fresh process with an empty numba cache, and a first call in a fresh process
with the cache warm. Every timing is the best of repeats, interleaved so that load on the machine hits all alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from deeplinear import train

D, LR = 4, 1e-3
OURS = "deeplinear (auto)"  # train's default engine, against which every ratio is taken


def best_times(fns: dict, repeats: int) -> dict:
    """Best wall time of each zero-argument callable, repeats interleaved."""
    best = {name: np.inf for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def problem(k: int, S: int | None = None, seed: int = 0):
    """Layers near the identity (stacked (S, k, k) for an ensemble), X (k, n = k) and Y = M X."""
    rng = np.random.default_rng(seed)
    lead = () if S is None else (S,)
    Ws = [np.eye(k) + 0.1 * rng.standard_normal((*lead, k, k)) / np.sqrt(k) for _ in range(D)]
    X = rng.standard_normal((k, k))
    Y = (np.eye(k) + 0.3 * rng.standard_normal((k, k)) / np.sqrt(k)) @ X
    return Ws, X, Y


def have(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


# -- the peers: each returns (run() -> None, compile seconds or None) for one problem ----------------------
def deeplinear_peer(engine: str):
    def make(Ws, X, Y, steps):
        def run():
            train(Ws, X, Y, lr=LR, steps=steps, record=steps, progress=False, engine=engine)

        t = time.perf_counter()
        run()  # compiles (or loads) the kernels once
        return run, time.perf_counter() - t

    return make


def numba_peer(Ws, X, Y, steps):
    from numba import njit

    @njit(cache=True)
    def loop(W, X, Y, lr, steps):  # W (d, k, k), updated in place
        d, n = W.shape[0], X.shape[1]
        acts = np.empty((d + 1, W.shape[1], n))
        for _ in range(steps):
            acts[0] = X
            for i in range(d):
                acts[i + 1] = W[i] @ acts[i]
            D = (acts[d] - Y) * (lr / n)
            for i in range(d - 1, -1, -1):
                G = D @ acts[i].T
                if i:
                    D = W[i].T @ D
                W[i] -= G

    W0 = np.stack(Ws)

    def run():
        loop(W0.copy(), X, Y, LR, steps)

    t = time.perf_counter()
    loop(W0.copy(), X, Y, LR, 1)
    return run, time.perf_counter() - t


def jax_peer(Ws, X, Y, steps, S=None):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    n = X.shape[1]

    def loss(W, X, Y):
        F = X
        for i in range(W.shape[0]):
            F = W[i] @ F
        return 0.5 * jnp.sum((F - Y) ** 2) / n

    grad = jax.grad(loss)

    def fit(W, X, Y):
        return jax.lax.fori_loop(0, steps, lambda _, W: W - LR * grad(W, X, Y), W)

    if S is None:
        fn, W0 = jax.jit(fit), jnp.asarray(np.stack(Ws))
    else:
        fn, W0 = jax.jit(jax.vmap(fit, in_axes=(0, None, None))), jnp.asarray(np.stack(Ws, axis=1))
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

    def run():
        fn(W0, Xj, Yj).block_until_ready()

    t = time.perf_counter()
    run()
    first = time.perf_counter() - t
    t = time.perf_counter()
    run()
    return run, max(first - (time.perf_counter() - t), 0.0)


def torch_peer(Ws, X, Y, steps):
    import torch

    n = X.shape[1]
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

    def run():
        W = [torch.tensor(w, requires_grad=True) for w in Ws]
        for _ in range(steps):
            F = Xt
            for w in W:
                F = w @ F
            loss = 0.5 * ((F - Yt) ** 2).sum() / n
            grads = torch.autograd.grad(loss, W)
            with torch.no_grad():
                for w, g in zip(W, grads):
                    w -= LR * g

    return run, None


def peers(S: int | None) -> dict:
    """name -> maker(Ws, X, Y, steps), or a string saying why the peer is skipped."""
    found = {}
    found["numba hand loop"] = numba_peer if have("numba") else "numba is not installed"
    if S is not None:
        found["numba hand loop"] = "single networks only"
    if have("jax"):
        found["JAX vmap" if S else "JAX jit"] = lambda *a: jax_peer(*a, S=S)
    else:
        found["JAX"] = "jax is not installed: pip install -r benchmarks/peers-requirements.txt"
    if S is None:
        found["PyTorch"] = (
            torch_peer if have("torch") else "torch is not installed: pip install -r benchmarks/peers-requirements.txt"
        )
    found["deeplinear numpy"] = deeplinear_peer("numpy")
    found[OURS] = deeplinear_peer("auto") if have("numba") else "numba is not installed"
    return found


def table(title: str, k: int, S: int | None, steps: int, repeats: int, torch_steps: int) -> dict:
    Ws, X, Y = problem(k, S)
    fns, compile_s, skipped, per = {}, {}, [], {}
    for name, maker in peers(S).items():
        if isinstance(maker, str):
            skipped.append(f"{name}: skipped ({maker})")
            continue
        n_steps = torch_steps if name == "PyTorch" else steps
        try:
            fns[name], compile_s[name] = maker(Ws, X, Y, n_steps)
        except Exception as err:  # a peer that fails to run is reported, not fatal
            skipped.append(f"{name}: failed ({type(err).__name__}: {err})")
            continue
        per[name] = n_steps * (S or 1)
    best = best_times(fns, repeats)
    us = {name: best[name] / per[name] * 1e6 for name in fns}
    ours = us.get(OURS)
    print(f"\n{title}")
    unit = "µs per " + ("network-step" if S else "step")
    print(f"  {'':24} {unit:>22}       ours × faster   compile (first call), s")
    for name, value in us.items():
        ratio = "" if ours is None else f"{value / ours:.2f}"
        first = "" if compile_s[name] is None else f"{compile_s[name]:.2f}"
        print(f"  {name:24} {value:22.2f}   {ratio:>17}   {first:>23}")
    for line in skipped:
        print(f"  {line}")
    return us


def target(what: str, us: dict, peer: str, want: float) -> None:
    ours, theirs = us.get(OURS), us.get(peer)
    if ours is None or theirs is None:
        print(f"  {what}: not measured ({peer} or the compiled engine missing)")
        return
    got = theirs / ours
    verdict = "met" if got >= want else f"missed by a factor {want / got:.2f}"
    print(f"  {what}: {got:.2f}× {peer} (target ≥ {want}×): {verdict}")


_COMPILE_SCRIPT = """
import time
t0 = time.perf_counter()
import numpy as np
from deeplinear import train
t1 = time.perf_counter()
rng = np.random.default_rng(0)
Ws = [np.eye(9) + 0.1 * rng.standard_normal((9, 9)) for _ in range(4)]
X = rng.standard_normal((9, 9))
def once(Ws, steps):
    t = time.perf_counter()
    train(Ws, X, X, lr=1e-3, steps=steps, record=steps, progress=False, engine="compiled")
    return time.perf_counter() - t
single = once(Ws, 3000) - once(Ws, 3000)
stack = [np.stack([W] * 64) for W in Ws]
ensemble = once(stack, 3000) - once(stack, 3000)
print(f"{t1 - t0:.3f} {single:.3f} {ensemble:.3f}")
"""


def compile_times() -> None:
    """First calls of the compiled engine in fresh processes: an empty numba cache, then the warm cache."""
    print("\nCompile time of the compiled engine (fresh processes; first call minus a second call)")
    if not have("numba"):
        print("  skipped: numba is not installed")
        return
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("empty cache (compiles)", "warm cache (loads)"):
            out = subprocess.run([sys.executable, "-c", _COMPILE_SCRIPT], env=env, capture_output=True, text=True)
            if out.returncode:
                print(f"  {label}: failed\n{out.stderr[-2000:]}")
                return
            imp, single, ens = map(float, out.stdout.split())
            print(f"  {label:24} import deeplinear {imp:6.2f} s, one network {single:6.2f} s, ensemble {ens:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    parser.add_argument("--widths", type=int, nargs="+", default=[9, 16, 64])
    parser.add_argument("--ensemble-widths", type=int, nargs="+", default=[9, 16])
    parser.add_argument("--members", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    steps = 300 if args.quick else args.steps
    repeats = 2 if args.quick else 3
    print(
        f"deeplinear peers benchmark: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"squared loss, float64, full-batch gradient descent, d = {D}, n = k, {steps} steps (PyTorch: fewer)")
    versions = []
    for mod in ("numpy", "numba", "jax", "torch"):
        if have(mod):
            versions.append(f"{mod} {__import__(mod).__version__}")
    print("  " + ", ".join(versions))
    results = {}
    for k in args.widths:
        results[k] = table(f"One network, k = {k}", k, None, steps, repeats, max(steps // 10, 30))
    ens = {}
    for k in args.ensemble_widths:
        ens[k] = table(f"{args.members}-member ensemble, k = {k}", k, args.members, steps, repeats, 0)
    print("\nTargets (issue 25)")
    if 9 in results:
        target("one network, k = 9", results[9], "numba hand loop", 1.0)
        target("one network, k = 9", results[9], "JAX jit", 2.0)
    for k, us in ens.items():
        target(f"{args.members}-ensemble, k = {k}", us, "JAX vmap", 1.5)
    compile_times()


if __name__ == "__main__":
    main()
