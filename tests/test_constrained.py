"""Tests for deeplinear.constrained (Figure 2's training) and the figures of chapters 06 and 07 in
deeplinear.plotting.

References: the mean squared error computed from the final layers, the library's metrics applied one at a
time, the trainer at the converted learning rate, closed forms and a recorded call order.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from deeplinear import constrained, metrics, phase_diagram, plotting, structures, train


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# -- Figure 2 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("S", [structures.Toeplitz(5), structures.Convolution(4, 3)])
def test_symmetric_start_is_aligned(S):
    Ws = constrained.symmetric_start(S, 3, rng=np.random.default_rng(9))
    W = Ws[0]
    assert all(np.array_equal(W, V) for V in Ws) and S.contains(W)
    np.testing.assert_allclose(W, W.T, atol=1e-15)
    assert np.linalg.norm(W, 2) == pytest.approx(1.0, rel=1e-12)
    assert metrics.alignment_defect(Ws).max() < 1e-14


def test_symmetric_start_rejects_structures_without_reversal_symmetry():
    S = structures.RandomSubspace(3, 3, 4, rng=np.random.default_rng(10))
    with pytest.raises(ValueError, match="transpose"):
        constrained.symmetric_start(S, 2, rng=np.random.default_rng(11))


def test_train_until_mse_stops_below_target_and_scores_with_shared_svds():
    rng = np.random.default_rng(12)
    T = structures.Toeplitz(4)
    Ws = constrained.symmetric_start(T, 3, rng=rng)
    Y = rng.standard_normal((4, 4))
    run = constrained.train_until_mse(Ws, None, Y, T, lr=0.05, max_steps=20_000, checkpoints=[10, 100], target=1e-3)
    h = run.history
    F = run.weights[2] @ run.weights[1] @ run.weights[0]
    assert h.loss[-1] == pytest.approx(np.mean((F - Y) ** 2), rel=1e-10)  # the mean over all entries
    assert h.loss[-1] < 1e-3 <= h.loss[-2] and h.steps[-1] < 20_000
    assert list(h.metric_steps) == [0, 10, 100, h.steps[-1]]
    np.testing.assert_allclose(h.metrics["alignment"][-1], metrics.alignment(run.weights), atol=1e-14)
    np.testing.assert_allclose(h.metrics["invariance"][-1], metrics.invariance(Ws, run.weights), atol=1e-14)
    np.testing.assert_allclose(h.metrics["defect"][-1], metrics.traceless_alignment_defect(run.weights), atol=1e-14)
    s = [np.linalg.svd(W, compute_uv=False) for W in run.weights]
    assert h.metrics["sv_gap"][-1] == pytest.approx(min(np.min(-np.diff(v)) / v[0] for v in s), rel=1e-10)
    assert h.metrics["alignment"][0].min() > 1 - 1e-9  # an aligned start
    # lr is the learning rate of the mean squared error: the same run as the library's loss at lr * 2 / k
    plain = train(Ws, None, Y, lr=0.05 * 2 / 4, steps=int(h.steps[-1]), structure=T, progress=False)
    np.testing.assert_allclose(run.weights, plain.weights, rtol=1e-12)


def test_train_until_mse_large_layers_use_sparse_products():
    S = structures.Convolution(11, 3)  # 121 x 121: over 10^4 entries
    rng = np.random.default_rng(13)
    Ws = constrained.symmetric_start(S, 2, rng=rng)
    X = rng.standard_normal((121, 1))
    run = constrained.train_until_mse(Ws, X, X, S, lr=0.01, max_steps=3, checkpoints=[1])
    np.testing.assert_allclose(
        run.history.metrics["defect"][-1], metrics.traceless_alignment_defect(run.weights), rtol=1e-8
    )


def test_released_divergences_counts_diverging_starts():
    S = structures.Convolution(5, 3)
    X = np.random.default_rng(14).standard_normal((25, 1))
    assert constrained.released_divergences(S, X, lr=1e-6, draws=3, steps=5, rng=np.random.default_rng(15)) == 0
    assert constrained.released_divergences(S, X, lr=1e3, draws=3, steps=5, rng=np.random.default_rng(15)) == 3


# -- the figures of chapters 06 and 07 -------------------------------------------------------------
def test_plot_layer_structures_and_theorem2():
    conv, mask = structures.Convolution(3, 3), np.eye(4, dtype=bool)
    fig = plotting.plot_layer_structures(conv, np.ones((3, 3)), structures.Toeplitz(4).matrix(np.arange(7.0)), mask)
    assert len(fig.axes) == 6 and all(len(ax.images) == 1 for ax in fig.axes)
    assert fig.axes[0].images[0].get_array().shape == (9, 9) and "4 of 16" in fig.axes[5].get_title()
    devs = {"toeplitz": (np.zeros(5), np.linspace(0, 1, 5)), "sparse": (np.ones(5) * 1e-16, np.ones(5))}
    fig = plotting.plot_theorem2(devs)
    (ax,) = fig.axes
    labels = [line.get_label() for line in ax.get_lines()]
    assert "Toeplitz: scaled $\\pi_S$ (Theorem 2)" in labels and "Sparse: orthogonal projection" in labels
    assert ax.get_lines()[0].get_ydata().min() == 1e-18  # exact zeros drawn at the floor
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_plot_partner_sweep_figure2_and_phase_diagram():
    sweep = np.c_[np.geomspace(1, 1e-20, 16), np.ones(16)]
    fig = plotting.plot_partner_sweep(sweep, 1e-30, 4)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 4 and ax.get_lines()[1].get_ydata()[0] == 1e-17
    several = np.stack([sweep, np.c_[np.full(16, 0.5), np.ones(16)], sweep[::-1]])  # three data sets
    (ax,) = plotting.plot_partner_sweep(several, 1e-30, 4).axes
    lines = ax.get_lines()  # three sweeps, the Toeplitz marker, two thresholds
    assert len(lines) == 6 and [line.get_ydata()[0] for line in lines[:3]] == [1.0, 0.5, 1e-17]
    assert sum(line.get_label().startswith("random subspace") for line in lines) == 1  # one legend entry
    h = constrained.train_until_mse(
        constrained.symmetric_start(structures.Toeplitz(3), 3, rng=np.random.default_rng(24)),
        None,
        np.eye(3)[::-1],
        structures.Toeplitz(3),
        lr=0.05,
        max_steps=50,
        checkpoints=[5],
    ).history
    fig = plotting.plot_figure2([h, h], ["a", "b"])
    assert len(fig.axes) == 6  # 2 x 2 axes and two loss twins
    assert fig.axes[0].get_title() == "a" and len(fig.axes[2].get_lines()) == 2  # one defect line per interface
    phase = {
        "random subspace": np.zeros((7, 4, 2)),
        "banded Toeplitz": np.full((5, 4, 2), 0.5),
        "convolution": np.ones((4, 4, 2)),
    }
    fig = plotting.plot_phase_diagram(phase, phase_diagram.PHASE_FAMILIES, ["x", "y", "z"], fit=0.01)
    assert len(fig.axes) == 4  # three heatmaps and a colour bar
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert (
        len(texts) == 28
        and texts[0] == "0"
        and all(t == "0.5\n×" for t in (x.get_text() for x in fig.axes[1].texts))  # value, and a cross below it
    )
