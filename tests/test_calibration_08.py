"""Calibration of chapter 08's criteria (book/ledger.toml): each statistic simulated where it is hardest inside the
chapter's stated ranges (n in [10, 784], one to four hidden widths in [2, 4096] whose neighbours multiply to at most
65536, lr in [0.001, 0.1], both losses, any seed), as the chapter computes it (`deeplinear.reduction`), at the
shortest run inside the claims' hypotheses: a gradient-flow time lr x steps of 1 (`figure1.FLOW_TIME`).
"""

from __future__ import annotations

import numpy as np
import pytest

from deeplinear import aligned, data, figure1, reduction, separable, theory

DIGITS = data.mnist_first(784, "subset", parameter="mnist_source")
RELEASED = dict(inner="identity", low=0.0, high=1.0)  # the released script's aligned start


def _problem(n: int, hidden: list[int], seed: int, *, one_output: bool = False):
    """The chapter's digits, targets and aligned start (the multi-class recipe, or Appendix F's rank-one start)."""
    images, labels = DIGITS[0][:n], DIGITS[1][:n]
    X = data.mnist_matrix(images)
    rng = np.random.default_rng(seed)
    if one_output:
        y = np.where(labels < 5, 1.0, -1.0)[None, :]
        U, _, Vt = np.linalg.svd(y @ X.T)
        return X, y, aligned.appendix_f_start(Vt.T, U, [784, *hidden, 1], rng=rng)
    Y = data.one_hot(labels)
    U_x = np.linalg.svd(X)[0]
    return X, Y, aligned.aligned_start(U_x, np.linalg.svd(Y)[0], [784, *hidden, 10], **RELEASED, rng=rng)


def _flow_one(red, Y, lr: float, loss: str, steps: int | None = None):
    steps = steps or int(round(figure1.FLOW_TIME / lr))
    run = figure1.train_reduced(
        red,
        Y,
        lr=lr,
        steps=steps,
        loss=loss,
        record=1,
        record_metrics=[0, steps],
        stop_below=1e-4,
        on_divergence="stop",
    )
    return run, figure1.summary(run, 1e-4)


CORNERS = [(11, [2, 2]), (11, [2, 2, 2, 2]), (11, [4096, 16]), (200, [2, 2]), (200, [16, 4096]), (200, [256] * 4)]
RATES = {"11-4096x16": (0.001,)}  # the widest first layer costs seconds per score: its smallest rate only


@pytest.mark.parametrize(("n", "hidden"), CORNERS, ids=[f"n{n}-{'x'.join(map(str, h))}" for n, h in CORNERS])
def test_figure1_scores_leave_one(n, hidden):
    """Both scores leave 1 by more than 1e-4 (the criterion is 1e-6) at a flow time of 1, at both ends of the
    learning-rate range and with both losses, wherever the run descends (n = 10 is outside: the condition holds)."""
    X, Y, start = _problem(n, hidden, seed=n + len(hidden))
    assert not theory.alignment_invariant(X, Y)
    red = reduction.reduce_network(start, X)
    inside = 0
    for lr in RATES.get(f"{n}-{'x'.join(map(str, hidden))}", (0.001, 0.1)):
        for loss in ("mean_squared", "cross_entropy"):
            run, s = _flow_one(red, Y, lr, loss)
            if not (s["descended"] and s["long_enough"]):
                continue
            inside += 1
            assert 1 - s["invariance_final"] > 1e-4, (lr, loss, s)
            assert 1 - reduction.released_invariance(red, run.weights) > 1e-4, (lr, loss)
            assert s["loss_final"] < s["loss_initial"]
    assert inside >= 2  # at the small learning rate every run descends


def test_the_condition_holds_for_one_digit_of_each_class():
    """Why n = 10 is outside Figures 1b and 1c: the shipped subset's first ten digits are one of each class."""
    X, Y, _ = _problem(10, [2, 2], seed=0)
    assert theory.alignment_invariant(X, Y)
    assert not theory.alignment_invariant(*_problem(11, [2, 2], seed=0)[:2])


@pytest.mark.parametrize("n", [11, 200])
def test_released_score_reads_higher_with_the_paper_widths(n):
    X, Y, start = _problem(n, [1024, 64], seed=n)
    red = reduction.reduce_network(start, X)
    budgets = ((0.001, None), (0.1, 2000)) if n < 100 else ((0.001, None),)  # flow time 1, the default cap
    for lr, steps in budgets:
        for loss in ("mean_squared", "cross_entropy"):
            run, s = _flow_one(red, Y, lr, loss, steps)
            assert s["long_enough"]
            assert reduction.released_invariance(red, run.weights) > s["invariance_final"], (lr, steps, loss)


@pytest.mark.parametrize(("n", "hidden"), [(10, [2]), (784, [2, 2, 2, 2]), (64, [1024, 64]), (200, [16, 4096, 16])])
def test_appendix_f_start_stays_exactly_aligned(n, hidden):
    X, y, start = _problem(n, hidden, seed=n, one_output=True)
    red = reduction.reduce_network(start, X)
    assert all(width == 1 for width in red.widths[1:-1])
    for lr in (0.001, 0.1):
        for loss in ("mean_squared", "logistic"):
            run = figure1.train_reduced(
                red, y, lr=lr, steps=300, loss=loss, record=1, record_metrics=20, on_divergence="stop"
            )
            scores = np.concatenate(
                [run.history.metrics["invariance"].ravel(), run.history.metrics["alignment"].ravel()]
            )
            assert scores.min() > 1 - 1e-12, (lr, loss)


@pytest.mark.parametrize("n", [10, 14, 27, 28, 56, 98, 112, 196, 336, 392, 784])
def test_reshape_overlap_is_chance(n):
    """The released reshape's start overlaps the data's column space about as much as a random subspace: the excess
    over chance stays within a tenth of the way to 1 (edges, the image side and its multiples, the divisors of 784;
    every n of the range was computed once: -0.069 to 0.060)."""
    X = data.mnist_matrix(DIGITS[0][:n])
    U_x, s, _ = np.linalg.svd(X, full_matrices=False)
    rank = int(np.sum(s > 1e-10 * s[0]))
    U_r = np.linalg.svd(X.T.reshape(784, n), full_matrices=False)[0]
    overlap = np.linalg.norm(U_r[:, :rank].T @ U_x[:, :rank]) ** 2 / rank
    chance = rank / 784
    assert abs(overlap - chance) / (1 - chance) <= 0.08


# -- Section 6's data: separable, and Theorem 1's condition fails ---------------------------------------------------
@pytest.mark.parametrize("source", ["subset", "idx"])
def test_the_first_784_digits_are_separable(source):
    """Separability is inherited by subsets, so the largest n of the range decides every n: the ten one-vs-rest
    margins, checked on the data, are far from 0 (X has rank below 784 there, so rank alone does not decide it)."""
    images, labels = data.mnist_first(784, source, parameter="mnist_source")
    X = data.mnist_matrix(images)
    assert np.linalg.matrix_rank(X) < 784
    assert separable.one_vs_rest_margins(X, labels).min() > 0.6


@pytest.mark.parametrize("source", ["subset", "idx"])
def test_theorem_1_condition_fails_wherever_a_class_repeats(source):
    """The relative commutator that `theory.alignment_invariant` compares with 1e-10, at every n from 11 to 40 and
    every 8th n up to 784: eight orders of magnitude above the tolerance wherever a class repeats."""
    images, labels = data.mnist_first(784, source, parameter="mnist_source")
    X, Y = data.mnist_matrix(images), data.one_hot(labels)
    for n in [*range(11, 41), *range(48, 785, 8), 784]:
        assert len(set(labels[:n].tolist())) < n
        A, C = X[:, :n] @ X[:, :n].T, X[:, :n] @ Y[:, :n].T @ Y[:, :n] @ X[:, :n].T
        commutator = np.linalg.norm(A @ C - C @ A) / (np.linalg.norm(A) * np.linalg.norm(C))
        assert commutator > 0.04, (n, commutator)
        assert not theory.alignment_invariant(X[:, :n], Y[:, :n])
