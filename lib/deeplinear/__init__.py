"""deeplinear: deep linear networks, their alignment, and the theory of two papers.

The public API (see each module for details):

- networks and losses: `end_to_end`, `loss`, `gradients`, `MatrixSensing`;
- training: `train` (full-batch gradient descent; returns a `TrainResult` with a `History`),
  `TrainingDiverged` (module `training`; what a run records and when: module `recording`);
- modules: `metrics` (what `train` records by name: alignment, invariance, balancedness, ...), `overlaps`
  (the singular-vector overlaps; Section 6's measure as printed), `fixed_bases` (whether the bases that
  Definition 3 keeps fixed stayed put), `bases` (the scores over every choice of singular basis, for repeated
  singular values), `aligned` (usSVD and aligned networks, Definitions 1 and 2), `theory` (Theorem 1's
  condition and witnesses), `structures` (layer structures, Definition 4), `data` (the papers' problems and
  MNIST), `plotting` (the book's figures), and the papers' results measured, one module per topic
  (`separable`, `directions`, `invariance`, `ensembles`, `dynamics`, `balance`, `theorem2`, `impossibility`,
  `example`, `constrained`, `phase_diagram`, `reduction`, `figure1`, ...),
  and `timing` (wall-clock timers of the chapters' reduced computations, not a result of the papers).
  Every public module is an attribute after ``import deeplinear``; `plotting` loads on first use.

The book's own machinery (its runner, the checks of a chapter's parameters) is the separate package
`deeplinear_book`, which imports deeplinear; deeplinear knows nothing of the book.

A network is a list ``Ws = [W_1, ..., W_d]``, first layer first, ``W_i`` of shape ``(k_i, k_{i-1})``;
data ``X`` is ``(k_0, n)`` and ``Y`` is ``(k_d, n)``, samples as columns. A function that draws random
numbers takes ``rng`` keyword-only and last: an int seed, a numpy ``Generator`` (used as given, so its stream
goes on) or None (fresh entropy).
"""

from importlib import import_module

from . import (
    aligned,
    asymptotics,
    balance,
    balance_drift,
    bases,
    boundaries,
    constrained,
    convergence,
    data,
    directions,
    dynamics,
    ensembles,
    example,
    figure1,
    fixed_bases,
    impossibility,
    invariance,
    losses,
    margin_rates,
    metrics,
    minimum_norm,
    modes,
    network,
    overlaps,
    phase_diagram,
    proposition1,
    recording,
    reduction,
    schedules,
    separable,
    sequential,
    stability,
    structures,
    theorem2,
    theory,
    timing,
    training,
    trivial,
)
from .losses import MatrixSensing
from .network import end_to_end, gradients, loss
from .training import History, TrainingDiverged, TrainResult, train

__version__ = "0.1.0"  # the one place: pyproject.toml, CITATION.cff and .zenodo.json follow it (tests)

__all__ = [
    "History",
    "MatrixSensing",
    "TrainResult",
    "TrainingDiverged",
    "aligned",
    "asymptotics",
    "balance",
    "balance_drift",
    "bases",
    "boundaries",
    "constrained",
    "convergence",
    "data",
    "directions",
    "dynamics",
    "end_to_end",
    "ensembles",
    "example",
    "figure1",
    "fixed_bases",
    "gradients",
    "impossibility",
    "invariance",
    "loss",
    "losses",
    "margin_rates",
    "metrics",
    "minimum_norm",
    "modes",
    "network",
    "overlaps",
    "phase_diagram",
    "plotting",
    "proposition1",
    "recording",
    "reduction",
    "schedules",
    "separable",
    "sequential",
    "stability",
    "structures",
    "theorem2",
    "theory",
    "timing",
    "train",
    "training",
    "trivial",
]


def __getattr__(name: str):
    # plotting (matplotlib, seaborn) loads on first use: `import deeplinear` stays light.
    if name == "plotting":
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'deeplinear' has no attribute {name!r}")
