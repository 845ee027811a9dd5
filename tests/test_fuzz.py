"""Property-based fuzz test of the whole public API (issue 23): no quiet wrong answers.

Every public function and class, fed a degenerate argument (zeros, NaN and inf, rank deficiency, wrong
shapes, non-integer widths, bad tolerances, float32 and integer inputs, None, a string), either returns
finite values (recursively through tuples, lists, dicts, dataclasses and arrays; bools, strings, None,
callables and figures count as fine) or raises ValueError or TypeError (`TrainingDiverged`, documented by
the trainers, counts too).

The public API: the names in ``deeplinear.__all__`` and in the ``__all__`` of every public module (a
module named in ``deeplinear.__all__``, or any module under lib/deeplinear whose name has no leading
underscore; a module without ``__all__`` contributes the public names it defines). A new function joins
by being exported. Each callable gets a valid call, the baseline, which must return finite values (so no
function is tested only through its errors): built from `ARGS` (a valid argument for each common
parameter name, in one small world of widths 3, 5 samples, depth 2) unless `BUILDERS` has an entry for it.
A function that `ARGS` cannot build and that has no entry in `BUILDERS` fails with a message saying to add
one, so nothing is skipped silently. Hypothesis then picks one argument of the baseline and one degenerate
variant of it (`variants`) per example: derandomised, no example database, a few examples per function.
Set DEEPLINEAR_FUZZ_EXAMPLES to try more (or "all": every argument with every variant; a few minutes).
Every callable with an ``rng`` is also called with each form of it (`test_rng_values`): an int seed draws as
the Generator ``default_rng`` makes of it, None draws afresh, and anything else is refused naming ``rng``.

No function may return a NaN or an infinity for valid input either: where a number cannot be measured
(a rate from a loss that never falls, a run that diverged), the function raises ValueError saying why, or
`TrainingDiverged`, or gives an explicit finite answer (None, a flag). Two small tables say where the rule is
read otherwise, each entry with its reason: `RECORDS` (dataclasses and exceptions that hold what they are
given: only what they raise is checked) and `ALSO_ALLOWED` (another exception type a function documents, such
as a missing file). An entry for a name that is no longer public fails
`test_every_table_entry_names_a_public_callable`.
"""

from __future__ import annotations

import copy
import dataclasses
import gzip
import importlib
import inspect
import math
import os
import pkgutil
import signal
import struct
import warnings
from collections.abc import Callable
from numbers import Integral, Real
from types import ModuleType
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deeplinear
from deeplinear import (
    TrainingDiverged,
    aligned,
    asymptotics,
    balance_drift,
    boundaries,
    constrained,
    convergence,
    data,
    dynamics,
    figure1,
    network,
    phase_diagram,
    reduction,
    separable,
    structures,
    train,
)
from deeplinear.recording import History
from deeplinear.reduction import Reduction

K, N, D = 3, 5, 2  # every width, the samples, the depth
SECONDS = 20  # a call that runs longer is a hang (a loop that degenerate input never ends)
EXAMPLES = os.environ.get("DEEPLINEAR_FUZZ_EXAMPLES", "8")
ALLOWED = (ValueError, TypeError, TrainingDiverged)


# -- the public API ------------------------------------------------------------------------------------------
def public_modules() -> list[ModuleType]:
    names = {n for n in deeplinear.__all__ if isinstance(getattr(deeplinear, n), ModuleType)}
    names |= {info.name for info in pkgutil.iter_modules(deeplinear.__path__) if not info.name.startswith("_")}
    return [importlib.import_module(f"deeplinear.{name}") for name in sorted(names)]


def exported(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, o in vars(module).items()
            if not n.startswith("_") and getattr(o, "__module__", None) == module.__name__
        ]
    return list(names)


def public_callables() -> dict[str, Any]:
    """key ("module.name", the first public module exporting it) -> function or class."""
    found: dict[str, Any] = {}
    seen: set[int] = set()
    sources = [(m.__name__.split(".", 1)[1], m) for m in public_modules()] + [("deeplinear", deeplinear)]
    for short, module in sources:
        for name in exported(module):
            obj = getattr(module, name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            found[f"{short}.{name}"] = obj
    return found


# -- a small world of valid arguments ------------------------------------------------------------------------
class World:
    """Valid pieces of one small problem, drawn from a fixed seed (so every call sees the same ones)."""

    def __init__(self, seed: int = 0) -> None:
        self.g = np.random.default_rng(seed)
        self._cache: dict[str, Any] = {}

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(int(self.g.integers(2**31)))

    def matrix(self, m: int = K, n: int = K) -> np.ndarray:
        return self.g.standard_normal((m, n))

    def orth(self, k: int = K) -> np.ndarray:
        return aligned.random_orthogonal(k, rng=self.g)

    def net(self, widths=(K,) * (D + 1), scale: float = 0.5) -> list[np.ndarray]:
        return [scale * self.g.standard_normal((b, a)) / np.sqrt(a) for a, b in zip(widths, widths[1:])]

    def aligned(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(Ws, bases): an aligned network and its bases."""

        def make():
            bases = [self.orth() for _ in range(D + 1)]
            return aligned.aligned_network(bases, [self.g.uniform(0.5, 1.0, K) for _ in range(D)]), bases

        return self.once("aligned", make)

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.once("data", lambda: (self.matrix(K, N), self.matrix(K, N)))

    def planted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """X, Y, U, V satisfying Theorem 1's condition (whitened: X X^T = n I)."""
        return self.once(
            "planted", lambda: dynamics.planted_problem(K, N, np.ones(K), np.array([1.0, 2.0, 3.0]), rng=self.rng())
        )

    def separable(self) -> tuple[np.ndarray, np.ndarray]:
        def make():
            X, Y = data.separable(N + 3, 2, margin=0.3, rng=self.rng())
            return X / np.linalg.norm(X, axis=0).max(), Y

        return self.once("separable", make)

    def sensing(self) -> data.SensingProblem:
        return self.once("sensing", lambda: data.matrix_sensing(K, N, rng=self.rng()))

    def history(self) -> History:
        """A squared-loss run recording alignment and invariance at every step."""

        def make():
            X, Y = self.data()
            return train(self.net(), X, Y, lr=0.05, steps=12, metrics=("alignment", "invariance"), record=1).history

        return self.once("history", make)

    def separable_history(self) -> History:
        """A logistic run on separable data recording `separable.measurements`."""

        def make():
            X, Y = self.separable()
            Ws = separable.gaussian_start([2, K, 1], X, Y, rng=self.rng())
            tracked = separable.measurements(X, Y)
            return train(Ws, X, Y, lr=0.5, steps=20, loss="logistic", metrics=tracked, record=1).history

        return self.once("separable_history", make)

    def mse_run(self):
        """A `constrained.train_until_mse` run in Toeplitz(3), with the Figure 2 scores."""

        def make():
            X, Y = self.data()
            structure = structures.Toeplitz(K)
            Ws = structures.random_layers(structure, D, rng=self.rng())
            return constrained.train_until_mse(Ws, X, Y, structure, lr=0.05, max_steps=10, checkpoints=[0, 5, 10])

        return self.once("mse_run", make)

    def reduction(self) -> reduction.Reduction:
        return self.once("reduction", lambda: reduction.reduce_network(self.net(), self.data()[0]))

    def traj(self) -> np.ndarray:
        """A singular value trajectory (T, d, r) of Corollary 1's recursion."""
        return self.once(
            "traj",
            lambda: dynamics.singular_value_dynamics(
                self.g.uniform(0.3, 0.6, (D, K)), np.ones(K), np.full(K, 2.0), lr=0.05, steps=30, n=1
            ),
        )

    def losses(self) -> np.ndarray:
        return np.exp(-0.8 * np.arange(40.0))


# A valid argument for each common parameter name (the world's widths, data and depth).
ARGS: dict[str, Callable[[World], Any]] = {
    "Ws": lambda w: w.net(),
    "Ws0": lambda w: w.net(),
    "W": lambda w: w.matrix(),
    "W1": lambda w: w.matrix(),
    "W2": lambda w: w.matrix(),
    "P": lambda w: w.matrix(),
    "X": lambda w: w.data()[0],
    "Y": lambda w: w.data()[1],
    "U": lambda w: w.orth(),
    "V": lambda w: w.orth(),
    "bases": lambda w: w.aligned()[1],
    "rng": lambda w: w.rng(),
    "k": lambda w: K,
    "n": lambda w: N,
    "d": lambda w: D,
    "depth": lambda w: D,
    "m": lambda w: K,
    "steps": lambda w: 5,
    "lr": lambda w: 0.01,
    "tol": lambda w: 1e-8,
    "rtol": lambda w: 1e-8,
    "widths": lambda w: [K] * (D + 1),
    "sigmas0": lambda w: w.g.uniform(0.3, 0.6, (D, K)),
    "sigmas": lambda w: w.g.uniform(0.5, 1.0, (D, K)),
    "lam": lambda w: w.g.uniform(1.0, 2.0, K),
    "lam_prime": lambda w: w.g.uniform(2.0, 3.0, K),
    "targets": lambda w: w.g.uniform(1.0, 2.0, K),
    "structure": lambda w: structures.Toeplitz(K),
    "u0": lambda w: 0.1,
    "strengths": lambda w: np.array([1.0, 2.0, 3.0]),
    "flow_time": lambda w: 2.0,
    "draws": lambda w: 2,
    "restarts": lambda w: 1,
    "members": lambda w: 2,
    "iterations": lambda w: 2,
    "max_steps": lambda w: 40,
    "repeats": lambda w: 1,
    "points": lambda w: 4,
    "count": lambda w: 2,
    "traj": lambda w: w.traj(),
    "losses": lambda w: w.losses(),
    "history": lambda w: w.history(),
    "red": lambda w: w.reduction(),
    "M": lambda w: w.sensing().M,
    "y": lambda w: w.sensing().y,
    "problem": lambda w: w.sensing(),
}


# -- argument builders for the functions that need more than ARGS --------------------------------------------
def _idx_file(w: World) -> str:
    import tempfile

    path = os.path.join(w.once("tmp", tempfile.mkdtemp), "tiny-idx1-ubyte.gz")
    with open(path, "wb") as f:
        f.write(gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 3) + bytes([1, 2, 3])))
    return path


def _structured(w: World, structure=None) -> list[np.ndarray]:
    return structures.random_layers(structure or structures.Toeplitz(K), D, rng=w.rng())


def _separable_net(w: World) -> list[np.ndarray]:
    X, Y = w.separable()
    return separable.gaussian_start([2, K, 1], X, Y, rng=w.rng())


def _gamma(w: World) -> tuple[np.ndarray, float]:
    return separable.max_margin(*w.separable())


def _scan(w: World):
    Ws, bases = w.aligned()
    X, Y, _, _ = w.planted()
    return dict(Ws=Ws, X=X, Y=Y, bases=bases, rates=np.array([0.01, 0.02]), flow_time=0.2)


def _planted(w: World) -> dict[str, np.ndarray]:
    return dict(zip(("X", "Y", "U", "V"), w.planted()))


def _rank_one(w: World):
    return w.once("rank_one", lambda: boundaries.rank_one_problem(K, N, D + 1, rng=w.rng()))


def _late_stats(w: World) -> dict:
    X, Y = w.separable()
    u, gamma = _gamma(w)
    return asymptotics.late_phase(w.separable_history(), u, gamma, n=X.shape[1], lr=0.5, start=2)


def _trainer(Ws, X, Y) -> Callable[[int], Any]:
    return lambda steps: train(Ws, X, Y, lr=0.05, steps=steps)


def _run(w: World, metrics: Any = ("alignment", "invariance")):
    return train(w.net(), *w.data(), lr=0.05, steps=5, record=1, metrics=metrics)


def _summary(w: World) -> dict:
    return figure1.summary(_run(w), 1e-4)


def _phase(w: World) -> dict[str, np.ndarray]:
    return {f: w.g.uniform(0.1, 1.0, (len(rs), len(ns), 2)) for f, (_, rs, ns) in phase_diagram.PHASE_FAMILIES.items()}


def _filter_drift() -> dict[str, np.ndarray]:
    return dict(lrs=np.array([0.01, 0.02]), steps=np.array([20, 10]), filter=np.array([1e-4, 2e-4]),
                matrix=np.array([1e-3, 2e-3]))  # fmt: skip


def _proposition1_table(w: World) -> dict:
    return {key: np.array([1.0, 2.0]) for key in ("depth", "bound", "critical", "edge_transverse", "steps")}


# fmt: off
BUILDERS: dict[str, Callable[[World], dict[str, Any]]] = {
    "balance_drift.DriftScaling": lambda w: dict(lrs=np.geomspace(0.001, 0.1, 3), per_step=np.geomspace(1e-06, 0.01, 3),
                                           printed=np.ones(3), fixed_lrs=np.array([0.001, 0.01]),
                                           fixed_time=np.array([0.0001, 0.001]), per_step_slope=2.0,
                                           printed_slope=1.0, fixed_time_slope=1.0),
    "balance_drift.FilterDrift": lambda w: _filter_drift(),
    "balance_drift.StartScales": lambda w: dict(scales=np.array([0.1, 1.0]), starts=[w.matrix()[None].repeat(2, 0)] * 2,
                                          weights=[w.matrix()[None].repeat(2, 0)] * 2, rates=np.array([0.1, 0.1]),
                                          steps=5, gaps=np.array([0.1, 0.2]), alignment=np.array([0.9, 0.8]),
                                          start_size=np.array([0.1, 1.0]), imbalance=np.array([0.1, 1.0]),
                                          start_balancedness=np.array([0.1, 1.0])),
    "balance_drift.filter_balance_drift": lambda w: dict(structure=structures.Toeplitz(K), Ws0=_structured(w),
                                                   X=w.data()[0], Y=w.data()[1], lrs=[0.01, 0.02], time=0.1),
    "balance_drift.filter_norm_differences": lambda w: dict(coefficients=w.g.standard_normal((D, 5))),
    "balance.gradient_identity_residual": lambda w: dict(Ws=(Ws := w.net()), grads=network.gradients(Ws, *w.data())),
    "balance_drift.unit_learning_rate": lambda w: dict(Ws=(Ws := w.net()), grads=network.gradients(Ws, *w.data())),
    "balance.step_drift": lambda w: dict(grads=network.gradients(w.net(), *w.data()), lr=0.01),
    "minimum_norm.minimise_norm": lambda w: dict(P=w.matrix(), A0=np.eye(K) + 0.1 * w.matrix()),
    "balance.relative_error": lambda w: dict(actual=w.net(), expected=w.net()),
    "balance_drift.start_scale_runs": lambda w: dict(X=w.data()[0], Y=w.data()[1], scales=[0.1, 1.0], lr=0.01, steps=5,
                                               rng=w.rng()),
    "bases.paired_rotation": lambda w: dict(k=4, angle=0.3),
    "bases.singular_subspaces": lambda w: dict(s=np.array([3.0, 2.0, 2.0, 1.0]), rtol=1e-08),
    "boundaries.one_step_turns": lambda w: dict(k=K, n=N, rng=w.rng(), rates=[0.01, 0.02]),
    "boundaries.rank_one_reduction": lambda w: dict(zip(("X", "Y", "q", "Ws"), _rank_one(w))) | dict(lr=0.01),
    "boundaries.rank_one_run": lambda w: dict(zip(("X", "Y", "q", "Ws"), _rank_one(w))) | dict(lr=0.01, steps=5),
    "constrained.descent_verdict": lambda w: dict(run=w.mse_run(), rtol=1e-09),
    "constrained.figure2_hypotheses": lambda w: dict(run=w.mse_run(), lr=0.05, flow=8.0),
    "constrained.outside_figure2": lambda w: dict(run=w.mse_run(), lr=0.05, flow=8.0),
    "constrained.long_enough": lambda w: dict(history=w.mse_run().history, lr=0.05, flow=8.0, target=0.0001),
    "constrained.fit_verdict": lambda w: dict(history=w.mse_run().history, target=0.0001),
    "constrained.released_divergences": lambda w: dict(structure=structures.Convolution(2, 1), X=w.matrix(4, N),
                                                       rng=w.rng(), lr=0.01, draws=2, steps=3, depth=2),
    "constrained.symmetric_start": lambda w: dict(structure=structures.Toeplitz(K), depth=D, rng=w.rng()),
    "constrained.train_until_mse": lambda w: dict(Ws=_structured(w), X=w.data()[0], Y=w.data()[1],
                                                  structure=structures.Toeplitz(K), lr=0.05, max_steps=10,
                                                  checkpoints=[0, 5], target=0.0001),
    "data.SensingProblem": lambda w: dict(M=w.sensing().M, y=w.sensing().y, X_star=w.sensing().X_star,
                                          U=w.sensing().U, V=w.sensing().V),
    "data.MNISTUnavailable": lambda w: {},
    "data.mnist": lambda w: dict(n=3, offset=10, source="subset"),
    "data.mnist_first": lambda w: dict(n=3, source="subset", parameter="mnist_source"),
    "data.mnist_matrix": lambda w: dict(images=w.g.random((2, 28, 28)), normalize=True),
    "data.one_hot": lambda w: dict(labels=np.array([0, 2, 1]), num_classes=3),
    "data.read_idx": lambda w: dict(path=_idx_file(w)),
    "data.regression_problem": lambda w: dict(kind="random", k=K, n=N, rng=w.rng()),
    "data.matrix_inversion": lambda w: dict(k=K, rng=w.rng(), max_condition=100.0, max_draws=50),
    "data.separable": lambda w: dict(n=N, dim=2, rng=w.rng(), margin=0.1),
    "convergence.LinearFit": lambda w: dict(rate=0.5, r2=0.99, intercept=0.1, window=np.arange(3)),
    "proposition1.StabilityScan": lambda w: dict(rates=np.array([0.1, 0.2]), converged=np.array([True, False]),
                                             off=np.array([0.001, 1.0]), kick=0.001),
    "dynamics.corollary1_tolerance": lambda w: dict(traj=w.traj(), off=1e-12),
    "convergence.critical_lr": lambda w: dict(converges=lambda lr: lr < 0.3, low=0.1, high=1.0, iterations=3),
    "sequential.learning_times": lambda w: dict(u=w.traj()[:, 0, :], targets=np.array([0.2, 0.2, 0.2])),
    "proposition1.misaligned": lambda w: dict(Ws=w.aligned()[0], bases=w.aligned()[1], size=0.1, rng=w.rng()),
    "dynamics.planted_problem": lambda w: dict(k=K, n=N, rng=w.rng(), variances=np.array([1.0, 2.0, 3.0]),
                                               strengths=np.array([1.0, 2.0, 0.5])),
    "proposition1.proposition1_summary": lambda w: dict(sigmas0=np.full((D, K), 0.5), lam=np.ones(K),
                                                    lam_prime=np.full(K, 2.0), n=1, iterations=2, max_steps=20000),
    "proposition1.proposition1_by_depth": lambda w: dict(sigmas0=np.full((3, K), 0.5), lam=np.ones(K),
                                                     lam_prime=np.full(K, 2.0), n=1, depths=[2, 3], iterations=2,
                                                     max_steps=20000),
    "proposition1.proposition1_over_instances": lambda w: dict(k=2, n=2, init_ranges=((0.3, 0.6),), rng=w.rng(),
                                                           instances=1, depth=2, iterations=2, max_steps=20000),
    "convergence.reduced_critical_lr": lambda w: dict(sigmas0=np.full((D, K), 0.5), lam=np.ones(K),
                                                   lam_prime=np.full(K, 2.0), n=1, flow_time=2.0, low=0.1, high=1.0,
                                                   iterations=2),
    "convergence.reduced_converges": lambda w: dict(sigmas0=np.full((D, K), 0.5), lam=np.ones(K),
                                                 lam_prime=np.full(K, 2.0), n=1, lr=0.1, flow_time=2.0, tol=1e-08),
    "convergence.reduced_run": lambda w: dict(sigmas0=np.full((D, K), 0.5), lam=np.ones(K), lam_prime=np.full(K, 2.0),
                                           lr=0.1, n=1, max_steps=200, tol=1e-12, chunk=50),
    "sequential.saxe_map": lambda w: dict(u0=np.full(K, 0.1), strengths=np.array([1.0, 2.0, 3.0]), lr=0.01, steps=5),
    "sequential.saxe_closed_form": lambda w: dict(u0=np.full(K, 0.1), strengths=np.array([1.0, 2.0, 3.0]), lr=0.01,
                                                steps=5),
    "timing.full_vs_recursion": lambda w: dict(k=2, depth=2, rng=w.rng(), full_steps=2, reduced_steps=2, repeats=1),
    "proposition1.stability_scan": _scan,
    "convergence.steps_to": lambda w: dict(losses=w.losses(), fraction=0.5),
    "sequential.sequential_run": lambda w: _planted(w) | dict(strengths=np.array([1.0, 2.0, 3.0]), depth=D, u0=0.1,
                                                            lr=0.01, steps=5, rng=w.rng()),
    "dynamics.lambdas": lambda w: _planted(w),
    "ensembles.ensemble_run": lambda w: dict(problems=[w.planted()[:2]] * 2, widths=[K] * (D + 1), rng=w.rng(),
                                             lr=0.01, steps=5),
    "ensembles.ensemble_start": lambda w: dict(problems=[w.planted()[:2]] * 2, widths=[K] * (D + 1), rng=w.rng(),
                                               lr=0.01),
    "ensembles.family_runs": lambda w: dict(X=w.data()[0], Y=w.data()[1], widths=[K] * (D + 1), rng=w.rng(),
                                            lr=0.01, steps=5, members=2),
    "ensembles.sweep": lambda w: dict(k=2, n=3, widths=[2] * (D + 1), rng=w.rng(), members=1, lr=0.01, steps=3),
    "example.convolutional_autoencoder": lambda w: dict(m=2, rng=w.rng(), lr=0.01, steps=3, points=2),
    "impossibility.measured_threshold": lambda w: dict(defects=np.array([0.5, 0.1, 1e-12, 1e-13]), tolerance=1e-08),
    "impossibility.threshold_text": lambda w: dict(measured=3, count=4, all_reach=True),
    "impossibility.search_generic_data": lambda w: dict(k=2, draws=1, restarts=1, rng=w.rng()),
    "impossibility.partner_sweep": lambda w: dict(P=w.matrix(2, 2), rng=w.rng(), restarts=1),
    "invariance.AlignedRun": lambda w: dict(history=w.history(), lr=0.01, edge=0.1, budget_orders=3),
    "invariance.AlignedStart": lambda w: dict(Ws=w.net(), lr=0.01, edge=0.1, sigmas0=np.full((D, K), 0.5),
                                              G=np.ones(K), targets=np.ones(K), n=N),
    "invariance.regression_run": lambda w: dict(X=w.planted()[0], Y=w.planted()[1], widths=[K] * (D + 1),
                                                rng=w.rng(), lr=0.01, steps=5),
    "invariance.witness_start": lambda w: dict(X=w.planted()[0], Y=w.planted()[1], widths=[K] * (D + 1), rng=w.rng(),
                                               lr=0.01),
    "losses.squared": lambda w: dict(F=w.matrix(K, N), Y=w.matrix(K, N)),
    "losses.mean_squared": lambda w: dict(F=w.matrix(K, N), Y=w.matrix(K, N)),
    "losses.logistic": lambda w: dict(F=w.matrix(1, N), Y=w.separable()[1][:, :N]),
    "losses.exponential": lambda w: dict(F=w.matrix(1, N), Y=w.separable()[1][:, :N]),
    "losses.cross_entropy": lambda w: dict(F=w.matrix(K, N), Y=data.one_hot(np.array([0, 1, 2, 0, 1]), K)),
    "metrics.best_match": lambda w: dict(A=w.orth()[:, :2], B=w.orth()),
    "directions.margin": lambda w: dict(w=_gamma(w)[0], X=w.separable()[0], y=w.separable()[1]),
    "fixed_bases.pinned_rotation": lambda w: dict(Ws=w.aligned()[0], bases=w.aligned()[1], inner=[1]),
    "fixed_bases.rank_one_leak": lambda w: dict(Ws=_rank_one(w)[3], q=_rank_one(w)[2]),
    "modes.mode_losses": lambda w: dict(sigmas0=np.full((D, K), 0.5), G=np.ones(K), targets=np.ones(K), lr=0.01,
                                        steps=5, n=N),
    "modes.stable_lr": lambda w: dict(lr=0.1, sigmas0=np.full((D, K), 0.5), targets=np.ones(K), lam=np.ones(K), n=N),
    "network.backward": lambda w: dict(Ws=(Ws := w.net()), activations=network.forward(Ws, w.data()[0]),
                                       dF=w.matrix(K, N)),
    "network.stack": lambda w: dict(networks=[w.net(), w.net()]),
    "phase_diagram.phase_cell": lambda w: dict(structure=structures.orthonormal(structures.Toeplitz(K)), n=2,
                                               rng=w.rng(), seeds=2, steps=5, lr=0.1, init=0.01),
    "phase_diagram.phase_structure": lambda w: dict(family="banded Toeplitz", r=3, rng=w.rng()),
    "phase_diagram.phase_summary": lambda w: dict(phase=_phase(w)),
    "phase_diagram.phase_diagram": lambda w: dict(rng=w.rng(), seeds=1, steps=2, lr=0.1, init=0.01),
    "plotting.plot_alignment_defects": lambda w: dict(runs={"logistic": {"Gaussian": w.separable_history()}},
                                                      floor=1e-08),
    "plotting.plot_alignment_panels": lambda w: dict(histories={"a": w.history(), "b": w.history()}),
    "plotting.plot_balancedness_drift": lambda w: dict(lrs=np.geomspace(0.001, 0.1, 3),
                                                       per_step=np.geomspace(1e-06, 0.01, 3),
                                                       printed_per_step=np.ones(3),
                                                       fixed_time_lrs=np.array([0.001, 0.01]),
                                                       fixed_time=np.array([0.0001, 0.001])),
    "plotting.plot_corollary1": lambda w: dict(full=w.traj(), reduced=w.traj(), printed=w.traj(),
                                               off_diagonal=np.full(len(w.traj()), 1e-14)),
    "plotting.plot_figure2": lambda w: dict(histories=[w.mse_run().history], titles=["Toeplitz"]),
    "plotting.plot_filter_balance": lambda w: dict(drift=balance_drift.FilterDrift(**_filter_drift())),
    "plotting.plot_final_invariance": lambda w: dict(final={"random": np.array([0.9, 0.99])}, floor=1e-17),
    "plotting.plot_invariance_and_loss": lambda w: dict(runs={"random": w.history()}, floor=1e-17),
    "plotting.plot_imbalance": lambda w: dict(history=_run(w, balance_drift.tracked_balancedness(w.net())).history),
    "plotting.plot_layer_structures": lambda w: dict(convolution=structures.Convolution(3, 3), filt=w.matrix(3, 3),
                                                     toeplitz_matrix=structures.Toeplitz(K).matrix(np.arange(5.0)),
                                                     mask=np.eye(K, dtype=bool)),
    "plotting.plot_margin_rates": lambda w: dict(runs={("deep", kind): w.separable_history()
                                                       for kind in ("constant", "inverse_risk")},
                                                 labels={"deep": "3-layer"}),
    "plotting.plot_max_margin": lambda w: dict(X=w.separable()[0], Y=w.separable()[1],
                                               directions={"deep": w.separable_history()}),
    "plotting.plot_minimum_norm_gap": lambda w: dict(scales=np.geomspace(0.01, 1, 3),
                                                     gap=np.array([0.0001, 0.01, 0.1]), start_imbalance=np.ones(3),
                                                     alignment=np.array([1.0, 0.9, 0.8])),
    "plotting.plot_one_step_rotation": lambda w: dict(rates=np.array([0.01, 0.02]),
                                                      rotation={"d = 2": np.array([0.001, 0.002])},
                                                      slopes={"d = 2": 1.0}),
    "plotting.plot_overlap": lambda w: dict(overlap=np.abs(w.orth()), layer=1, title="overlap"),
    "plotting.plot_partner_sweep": lambda w: dict(sweep=np.column_stack([np.geomspace(1, 1e-12, 4), np.ones(4)]),
                                                  toeplitz_defect=0.001, k=2),
    "plotting.plot_phase_diagram": lambda w: dict(phase=_phase(w), families=phase_diagram.PHASE_FAMILIES),
    "plotting.plot_proposition1": lambda w: dict(losses=w.losses(), fit=convergence.linear_fit(w.losses()),
                                                 table=_proposition1_table(w), depth=2),
    "plotting.plot_rank_one": lambda w: dict(history=w.separable_history()),
    "plotting.plot_risk_and_norms": lambda w: dict(runs={"deep": w.separable_history()}),
    "plotting.plot_sequential_learning": lambda w: dict(runs={2: w.traj()[:, 0, :], 3: w.traj()[:, 1, :]},
                                                        u_map=w.traj()[:, 0, :], u_ode=w.traj()[:, 0, :],
                                                        predicted=np.array([3.0, 5.0, 8.0]),
                                                        strengths=np.array([1.0, 2.0, 3.0])),
    "plotting.plot_singular_values": lambda w: dict(traj=w.traj(), steps=np.arange(len(w.traj())), legend=True),
    "plotting.plot_theorem2": lambda w: dict(deviations={"Toeplitz": (np.geomspace(1e-16, 1e-10, 4),
                                                                      np.geomspace(0.001, 0.1, 4))}),
    "recording.History": lambda w: dict(steps=np.arange(3), loss=np.array([1.0, 0.5, 0.25]), lr=np.full(3, 0.1),
                                        metrics={"alignment": np.ones((3, 1))}),
    "recording.TrainResult": lambda w: dict(weights=w.net(), initial_weights=w.net(), history=w.history(),
                                            diverged_at=None),
    "recording.TrainingDiverged": lambda w: dict(message="diverged", step=3, loss=1000000000.0, lr=0.5, member=None,
                                                 history=w.history()),
    "reduction.Reduction": lambda w: {f.name: getattr(w.reduction(), f.name) for f in dataclasses.fields(Reduction)},
    "reduction.expand": lambda w: dict(red=w.reduction(), A=[a + 0.01 for a in w.reduction().layers]),
    "reduction.metrics_deviation": lambda w: dict(red=w.reduction(), A=[a + 0.01 for a in w.reduction().layers]),
    "reduction.released_invariance": lambda w: dict(red=w.reduction(), A=[a + 0.01 for a in w.reduction().layers]),
    "reduction.column_basis": lambda w: dict(M=w.matrix(K, 2), scale=None, tol=1e-10),
    "timing.full_vs_small_network": lambda w: dict(red=w.reduction(), X=w.data()[0], Y=w.data()[1], lr=0.01,
                                                   steps=(2, 2)),
    "figure1.max_deviation": lambda w: dict(red=w.reduction(), X=w.data()[0], Y=w.data()[1], lr=0.01, steps=3),
    "figure1.train_reduced": lambda w: dict(red=w.reduction(), Y=w.data()[1], lr=0.01, steps=5),
    "figure1.summary": lambda w: dict(run=_run(w), threshold=0.0001),
    "figure1.figure1_verdict": lambda w: dict(summary=_summary(w), depth=D, condition_holds=False),
    "figure1.outside_figure1": lambda w: dict(summary=_summary(w), depth=D, condition_holds=False),
    "schedules.named": lambda w: dict(kind="inverse_risk", lr=0.1, loss="logistic", cap=5.0),
    "schedules.assumption_35_descent": lambda w: dict(Ws=_separable_net(w), X=w.separable()[0], Y=w.separable()[1],
                                                      steps=5),
    "schedules.divergence_step": lambda w: dict(Ws=_separable_net(w), X=w.separable()[0], Y=w.separable()[1], lr=0.5,
                                                steps=5),
    "separable.OnData": lambda w: dict(X=w.separable()[0], Y=w.separable()[1], loss="logistic"),
    "separable.below_loss_at_zero": lambda w: dict(Ws=_separable_net(w), X=w.separable()[0], Y=w.separable()[1],
                                                   loss="logistic"),
    "separable.gaussian_start": lambda w: dict(widths=[2, K, 1], X=w.separable()[0], Y=w.separable()[1], rng=w.rng(),
                                               scale=0.2),
    "separable.gaussian_layers": lambda w: dict(widths=[2, K, 1], rng=w.rng(), scale=0.2),
    "separable.rank_one_start": lambda w: dict(widths=[2, K, 1], rng=w.rng()),
    "directions.direction": lambda w: dict(Ws=_separable_net(w)),
    "directions.normalised_product": lambda w: dict(Ws=_separable_net(w)),
    "directions.product_alignment": lambda w: dict(Ws=_separable_net(w)),
    "directions.angle_to": lambda w: dict(Ws=_separable_net(w), u=_gamma(w)[0]),
    "directions.first_layer_alignment": lambda w: dict(Ws=_separable_net(w), u=_gamma(w)[0]),
    "directions.margin_gap": lambda w: dict(Ws=_separable_net(w), X=w.separable()[0], Y=w.separable()[1],
                                           gamma=_gamma(w)[1]),
    "directions.layer_margin_gap": lambda w: dict(Ws=_separable_net(w), X=w.separable()[0], Y=w.separable()[1],
                                                 gamma=_gamma(w)[1]),
    "separable.measurements": lambda w: dict(X=w.separable()[0], Y=w.separable()[1], alignment=True),
    "separable.alignment_measurements": lambda w: dict(Ws0=_separable_net(w)),
    "separable.inner_vectors_moved": lambda w: dict(Ws0=_separable_net(w)),
    "margin_rates.first_step_at_most": lambda w: dict(steps=np.arange(40), values=w.losses(), target=0.001),
    "margin_rates.inverse_log_fit": lambda w: dict(steps=np.arange(1, 41), values=1.0 / np.log(np.arange(2, 42)),
                                                 start=5),
    "margin_rates.loglog_slope": lambda w: dict(steps=np.arange(1, 41), values=1.0 / np.log(np.arange(2, 42)), start=5),
    "asymptotics.late_phase": lambda w: dict(history=w.separable_history(), u_bar=_gamma(w)[0], gamma=_gamma(w)[1],
                                           n=w.separable()[0].shape[1], lr=0.5, start=2),
    "asymptotics.late_phase_text": lambda w: dict(label="the deep network", stats=_late_stats(w), progress=2.0),
    "asymptotics.trend_values": lambda w: dict(stats=_late_stats(w)),
    "margin_rates.rate_summary": lambda w: dict(fixed=w.separable_history(), growing=w.separable_history(),
                                              decades=1.0),
    "directions.smoothed_margin": lambda w: dict(risk=np.array([0.5, 0.1]), norms=np.array([[1.0, 1.0], [2.0, 2.0]]),
                                                n=N, gamma=0.3),
    "asymptotics.spanning_text": lambda w: dict(rank=2, dim=3),
    "separable.support_vectors": lambda w: dict(X=w.separable()[0], Y=w.separable()[1], u_bar=_gamma(w)[0],
                                                gamma=_gamma(w)[1]),
    "directions.rank_one_tail": lambda w: dict(W=w.matrix()),
    "separable.train_until_divergence": lambda w: dict(Ws=_separable_net(w), X=w.separable()[0], Y=w.separable()[1],
                                                       steps=5, record=1, lr=0.5, loss="logistic"),
    "sequential.epsilon_response": lambda w: _planted(w) | dict(eps=np.array([0.0, 0.1]), u0=0.1, lr=0.01, steps=5,
                                                                rng=w.rng()),
    "sequential.loglog_slope": lambda w: dict(x=np.array([1.0, 2.0, 4.0]), y=np.array([1.0, 4.0, 16.0])),
    "sequential.perturbed": lambda w: dict(X=w.data()[0], eps=0.1, direction=w.matrix(K, N)),
    "stability.stable_learning_rate": lambda w: dict(X=w.data()[0], P=w.matrix(), starts=w.net(), fraction=0.5),
    "stability.gauss_newton_sharpness": lambda w: dict(Ws=w.net(), X=w.data()[0]),
    "structures.Convolution": lambda w: dict(p=3, s=3),
    "structures.RandomSubspace": lambda w: dict(m=K, n=K, r=2, rng=w.rng()),
    "structures.Sparse": lambda w: dict(mask=np.eye(K, dtype=bool)),
    "structures.Structure": lambda w: dict(basis=np.eye(4).reshape(4, 2, 2)),
    "structures.banded_toeplitz": lambda w: dict(k=4, b=1),
    "theorem2.coefficient_gradient_descent": lambda w: dict(Ws=_structured(w), X=w.data()[0], Y=w.data()[1],
                                                            structure=structures.Toeplitz(K), lr=0.01, steps=5),
    "theorem2.projected_gradient_descent": lambda w: dict(Ws=_structured(w), X=w.data()[0], Y=w.data()[1],
                                                          structure=structures.Toeplitz(K), lr=0.01, steps=5),
    "theorem2.theorem2_deviations": lambda w: dict(structure=structures.Toeplitz(K), Ws0=_structured(w),
                                                   X=w.data()[0], Y=w.data()[1], lr=0.01, steps=5),
    "theorem2.footnote3": lambda w: dict(structure=structures.Convolution(2, 1),
                                         Ws0=_structured(w, structures.Convolution(2, 1)), X=w.matrix(4, N),
                                         lr=0.01, steps=5, rng=w.rng()),
    "losses.mse_learning_rate": lambda w: dict(lr=0.01, k_out=10),
    "theory.one_step_rotation": lambda w: dict(Ws=w.aligned()[0], X=w.data()[0], Y=w.data()[1], bases=w.aligned()[1],
                                               inner=[1], rates=[0.01, 0.02]),
    "separable.one_vs_rest_margins": lambda w: dict(X=w.matrix(K, N), labels=np.array([0, 1, 2, 0, 1])),
    "theory.targets_for_residual": lambda w: dict(Ws=w.aligned()[0], X=w.data()[0], U=w.aligned()[1][-1],
                                                  D=w.matrix(), V=w.aligned()[1][0]),
    "aligned.usvd": lambda w: dict(A=w.matrix(K, N), rng=w.rng()),
    "separable.max_margin": lambda w: dict(X=w.separable()[0], y=w.separable()[1]),
    "theory.aligned_start_on": lambda w: dict(X=w.planted()[0], Y=w.planted()[1], widths=[K] * (D + 1), rng=w.rng(),
                                              outer="witness"),
    "theory.alignment_invariant_witness": lambda w: dict(X=w.planted()[0], Y=w.planted()[1], tol=1e-08),
    "aligned.aligned_network": lambda w: dict(bases=w.aligned()[1],
                                             sigmas=[w.g.uniform(0.5, 1.0, K) for _ in range(D)]),
    "aligned.collapsed_product": lambda w: dict(bases=w.aligned()[1],
                                               sigmas=[w.g.uniform(0.5, 1.0, K) for _ in range(D)]),
    "aligned.collapse_error": lambda w: dict(bases=w.aligned()[1],
                                            sigmas=[w.g.uniform(0.5, 1.0, K) for _ in range(D)]),
    "aligned.aligned_start": lambda w: dict(V=w.orth(), U=w.orth(), widths=[K] * (D + 1), rng=w.rng()),
    "aligned.appendix_f_start": lambda w: dict(V=w.orth(), U=w.orth(), widths=[K] * (D + 1), rng=w.rng()),
    "training.train": lambda w: dict(Ws=w.net(), X=w.data()[0], Y=w.data()[1], lr=0.01, steps=5,
                                     metrics=("alignment",), record=1, blowup=100000000.0, stop_below=None),
    "training.descended": lambda w: dict(run=train(w.net(), *w.data(), lr=0.05, steps=5, record=1), rtol=1e-09),
    "training.until_divergence": lambda w: dict(run=_trainer(w.net(), *w.data()), steps=5),
    "trivial.TrivialRun": lambda w: dict(floor=0.1, loss=np.array([1.0, 0.5]), defect=np.array([0.0, 0.0])),
    "trivial.trivial_run": lambda w: dict(structure=structures.Toeplitz(K), X=w.data()[0], Y=w.data()[1], depth=D,
                                          lr=0.01, steps=5, rng=w.rng()),
    "trivial.scalar_autoencoding_run": lambda w: dict(X=w.data()[0], depth=D, scale=2.0, steps=5),
    "trivial.subspace_floor": lambda w: dict(structure=structures.Toeplitz(K), X=w.data()[0], Y=w.data()[1]),
    "impossibility.partner_objective": lambda w: dict(structure=structures.Toeplitz(K), V=w.orth()),
    "impossibility.closest_partner": lambda w: dict(structure=structures.Toeplitz(K), P=w.matrix(), rng=w.rng(),
                                                    restarts=1),
}
# fmt: on

# Records (dataclasses, exceptions) hold what they are given: only the type of what they raise is checked.
RECORDS: set[str] = {
    "balance_drift.DriftScaling", "balance_drift.FilterDrift", "balance_drift.StartScales", "data.MNISTUnavailable",
    "data.SensingProblem", "convergence.LinearFit", "proposition1.StabilityScan", "invariance.AlignedRun",
    "invariance.AlignedStart", "recording.History", "recording.TrainResult", "recording.TrainingDiverged",
    "reduction.Reduction", "trivial.TrivialRun",
}  # fmt: skip
# Exceptions a function may raise besides ALLOWED, with the reason.
ALSO_ALLOWED: dict[str, tuple[type[BaseException], ...]] = {
    "data.read_idx": (FileNotFoundError, IsADirectoryError),  # a path that names no file
}


# -- the check ---------------------------------------------------------------------------------------------------
def nonfinite(value: Any, where: str = "result", depth: int = 0) -> list[str]:
    """Where ``value`` holds a NaN or an infinity: the paths, as ``result['key'][0]`` (none: finite)."""
    if depth > 6 or value is None or isinstance(value, (bool, np.bool_, str, bytes)) or callable(value):
        return []
    if isinstance(value, (Real, np.number)):
        return [] if np.isfinite(value) else [where]
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return [bad for i, item in enumerate(value.flat) for bad in nonfinite(item, f"{where}[{i}]", depth + 1)]
        return [where] if np.issubdtype(value.dtype, np.number) and not np.isfinite(value).all() else []
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    elif dataclasses.is_dataclass(value):
        items = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
    elif type(value).__module__.startswith("deeplinear") and hasattr(value, "__dict__"):
        items = vars(value).items()
    else:
        return []  # figures, axes and other foreign objects
    return [bad for key, item in items for bad in nonfinite(item, f"{where}[{key!r}]", depth + 1)]


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"no answer within {SECONDS} s")


def call(fn: Callable, kwargs: dict[str, Any]) -> Any:
    """``fn(**kwargs)``, quietly (numpy's warnings off), within SECONDS, figures closed, and matplotlib's
    rcParams as before (``plotting.set_theme`` is public: left set, it changes how later tests render)."""
    use_alarm = hasattr(signal, "SIGALRM")
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, SECONDS)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"), matplotlib.rc_context():
            warnings.simplefilter("ignore")
            return fn(**kwargs)
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        plt.close("all")


def parameters(fn: Callable) -> list[inspect.Parameter]:
    params = list(inspect.signature(fn).parameters.values())
    return [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def baseline(key: str, fn: Callable) -> dict[str, Any]:
    """The valid keyword arguments of ``fn``: its builder's, else one from ARGS per parameter (a required
    parameter that ARGS cannot give fails the test)."""
    w = World()
    if key in BUILDERS:
        return BUILDERS[key](w)
    kwargs, missing = {}, []
    for p in parameters(fn):
        if p.name in ARGS:
            kwargs[p.name] = ARGS[p.name](w)
        elif p.default is p.empty:
            missing.append(p.name)
    if missing:
        pytest.fail(
            f"{key}: no valid argument for {missing}: add an argument builder for {key!r} to BUILDERS in "
            "tests/test_fuzz.py (every public function must be fuzzed)"
        )
    return kwargs


def _bad_rank(a: np.ndarray) -> np.ndarray:
    if a.ndim < 2 or min(a.shape[-2:]) < 2:
        return np.zeros_like(a)
    out = a.copy()
    out[..., -1, :] = out[..., 0, :]  # two equal rows: rank deficient
    return out


def variants(value: Any) -> list[tuple[str, Callable[[Any], Any]]]:
    """Degenerate versions of a valid argument, by its kind: (label, make)."""
    common = [("None", lambda v: None), ("a string", lambda v: "fuzz")]
    if isinstance(value, (bool, np.bool_)):
        return [("None", lambda v: None), ("an array", lambda v: np.zeros(2))]
    if isinstance(value, Integral):
        return common + [
            ("zero", lambda v: 0),
            ("negative", lambda v: -1),
            ("non-integer", lambda v: v + 0.7),
            ("integral float", lambda v: float(v)),
            ("bool", lambda v: True),
            ("numpy integer", lambda v: np.int64(v)),
            ("nan", lambda v: math.nan),
        ]
    if isinstance(value, Real):
        return common + [
            ("zero", lambda v: 0.0),
            ("negative", lambda v: -abs(v) - 1.0),
            ("nan", lambda v: math.nan),
            ("inf", lambda v: math.inf),
            ("-inf", lambda v: -math.inf),
            ("float32", lambda v: np.float32(v)),
            ("int", lambda v: max(int(round(v)), 1)),
            ("bool", lambda v: True),
            ("array", lambda v: np.array([v, v])),
        ]
    if isinstance(value, str):
        return [("unknown", lambda v: "no such option"), ("None", lambda v: None), ("a number", lambda v: 3)]
    if isinstance(value, np.random.Generator):
        return [
            ("a seed", lambda v: 0),
            ("None", lambda v: None),
            ("a string", lambda v: "fuzz"),
            ("a float", lambda v: 0.5),
            ("a negative seed", lambda v: -1),
            ("bool", lambda v: True),
        ]
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.number):
        out = common + [
            ("zeros", lambda v: np.zeros_like(v)),
            ("nan", lambda v: np.where(np.arange(v.size).reshape(v.shape) == 0, np.nan, v)),
            ("inf", lambda v: np.where(np.arange(v.size).reshape(v.shape) == v.size - 1, np.inf, v)),
            ("float32", lambda v: v.astype(np.float32)),
            ("int", lambda v: np.rint(v).astype(np.int64)),
            ("one more row", lambda v: np.concatenate([v, v[:1]], axis=0) if v.ndim else np.array([v, v])),
            ("flattened", lambda v: v.ravel()),
            ("extra axis", lambda v: v[None]),
            ("empty", lambda v: v[:0]),
            ("scalar", lambda v: 1.0),
        ]
        if value.ndim >= 2:
            out += [("rank deficient", _bad_rank), ("transposed", lambda v: np.swapaxes(v, -1, -2)[..., :-1])]
        return out
    if isinstance(value, (list, tuple)) and value and all(isinstance(x, np.ndarray) for x in value):
        return common + [
            ("empty", lambda v: []),
            ("zeros", lambda v: [np.zeros_like(x) for x in v]),
            ("nan", lambda v: [np.full_like(v[0], np.nan), *v[1:]]),
            ("inf", lambda v: [*v[:-1], np.full_like(v[-1], np.inf)]),
            ("rank deficient", lambda v: [_bad_rank(x) for x in v]),
            ("one element fewer", lambda v: list(v[:-1])),
            ("one element more", lambda v: [*v, v[-1]]),
            ("wrong shape", lambda v: [v[0][..., :-1] if v[0].shape[-1] > 1 else v[0][..., None], *v[1:]]),
            ("float32", lambda v: [x.astype(np.float32) for x in v]),
            ("int", lambda v: [np.rint(x).astype(np.int64) for x in v]),
            ("strings", lambda v: ["fuzz"] * len(v)),
        ]
    if isinstance(value, (list, tuple)) and value and all(isinstance(x, (Real, np.number)) for x in value):
        return common + [
            ("empty", lambda v: []),
            ("non-integer entry", lambda v: [v[0] + 0.7, *v[1:]]),
            ("zero entry", lambda v: [0, *v[1:]]),
            ("negative entry", lambda v: [*v[:-1], -v[-1]]),
            ("nan entry", lambda v: [math.nan, *v[1:]]),
            ("inf entry", lambda v: [*v[:-1], math.inf]),
            ("one entry", lambda v: list(v[:1])),
            ("bool entry", lambda v: [True, *v[1:]]),
            ("string entries", lambda v: ["fuzz"] * len(v)),
        ]
    if isinstance(value, dict):
        return common + [("empty", lambda v: {}), ("one key fewer", lambda v: dict(list(v.items())[1:]))]
    if callable(value) and not isinstance(value, type):
        return common + [("returns nan", lambda v: lambda *a, **k: math.nan)]
    return common + [("a number", lambda v: 3), ("an array", lambda v: np.zeros((K, K)))]


def check(key: str, fn: Callable, kwargs: dict[str, Any], what: str) -> None:
    allowed = ALLOWED + ALSO_ALLOWED.get(key, ())
    try:
        result = call(fn, kwargs)
    except allowed:
        return
    except Exception as err:
        pytest.fail(f"{key} with {what} raised {type(err).__name__}: {err}"[:2000])
    if key not in RECORDS and (where := nonfinite(result)):
        pytest.fail(f"{key} with {what} returned a non-finite value at {', '.join(where)}")


CALLABLES = public_callables()


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the fuzz test must not download anything")

    monkeypatch.setattr(data, "urlopen", refuse)


@pytest.mark.parametrize("key", sorted(CALLABLES))
def test_fuzz(key):
    fn = CALLABLES[key]
    valid = baseline(key, fn)
    try:
        result = call(fn, dict(valid))
    except Exception as err:
        pytest.fail(f"{key}: the builder's valid call raised {type(err).__name__}: {err}: fix its builder"[:2000])
    if key not in RECORDS:
        assert not nonfinite(result), f"{key}: the valid call returned a non-finite value at {nonfinite(result)}"
    cases = [(name, label, make) for name, value in valid.items() for label, make in variants(value)]
    if not cases or EXAMPLES == "0":
        return

    def one(name: str, label: str, make: Callable) -> None:
        kwargs = copy.deepcopy(valid)
        kwargs[name] = make(kwargs[name])
        check(key, fn, kwargs, f"{name} = {label}")

    if EXAMPLES == "all":
        for case in cases:
            one(*case)
        return

    @settings(
        max_examples=int(EXAMPLES),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(cases))
    def fuzz(case):
        one(*case)

    fuzz()


# Callables whose result is not a function of their arguments (timings): their seeds are not compared.
NOT_REPEATABLE: set[str] = {"timing.full_vs_recursion"}
RANDOM = sorted(
    key for key, fn in CALLABLES.items() if key not in RECORDS and "rng" in {p.name for p in parameters(fn)}
)


def outcome(fn: Callable, kwargs: dict[str, Any]) -> tuple[str, Any]:
    """("returned", result) or ("raised", the exception) of ``fn(**kwargs)`` on a copy of ``kwargs``."""
    try:
        return "returned", call(fn, copy.deepcopy(kwargs))
    except Exception as err:
        return "raised", err


def same(a: Any, b: Any, depth: int = 0) -> bool:
    """Equal results, recursively as `nonfinite` reads them (NaN equals NaN; foreign objects are not compared)."""
    if depth > 6 or a is None or callable(a) or isinstance(a, (bool, np.bool_, str, bytes)):
        return a == b if isinstance(a, (bool, np.bool_, str, bytes)) or a is None else True
    if isinstance(a, (Real, np.number, np.ndarray)):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=np.asarray(a).dtype.kind in "fc")
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], depth + 1) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y, depth + 1) for x, y in zip(a, b))
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name), depth + 1) for f in dataclasses.fields(a))
    if type(a).__module__.startswith("deeplinear") and hasattr(a, "__dict__"):
        return same(vars(a), vars(b), depth + 1)
    return True


@pytest.mark.parametrize("key", RANDOM)
def test_rng_values(key):
    """``rng`` as an int seed, None, a Generator, and the refused float, negative seed, string and bool."""
    fn = CALLABLES[key]
    valid = baseline(key, fn)
    by_seed, by_generator = outcome(fn, valid | {"rng": 3}), outcome(fn, valid | {"rng": np.random.default_rng(3)})
    for kind, value in (by_seed, by_generator):
        if kind == "raised":
            pytest.fail(f"{key} with a valid rng raised {type(value).__name__}: {value}"[:2000])
    if key not in NOT_REPEATABLE:
        assert same(by_seed[1], by_generator[1]), f"{key}: rng=3 and rng=default_rng(3) gave different results"
    kind, value = outcome(fn, valid | {"rng": None})
    if kind == "raised":
        assert isinstance(value, ALLOWED) and "rng" not in str(value), f"{key} refused rng=None: {value!r}"
    for bad, error in ((0.5, TypeError), ("fuzz", TypeError), (True, TypeError), (-1, ValueError)):
        kind, value = outcome(fn, valid | {"rng": bad})
        assert kind == "raised" and isinstance(value, error) and "rng" in str(value), (
            f"{key} with rng={bad!r} gave {value!r}, not a {error.__name__} naming rng"
        )


def test_every_table_entry_names_a_public_callable():
    """A builder left behind by a renamed function would hide that the new name is built from ARGS alone."""
    stale = (set(BUILDERS) | RECORDS | set(ALSO_ALLOWED)) - set(CALLABLES)
    assert not stale, f"entries for names that are not public callables: {sorted(stale)}"
