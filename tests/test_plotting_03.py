"""The figures of chapter 03 (Theorem 1): each returns a Figure with the expected axes and lines."""

import matplotlib
import matplotlib.figure

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from deeplinear import plotting, train


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def runs():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    Ws = [rng.standard_normal((3, 3)) / 2 for _ in range(2)]
    out = {}
    for name in ("autoencoding", "random (Figure 1a)"):
        out[name] = train(Ws, X, X if name == "autoencoding" else Y, lr=0.05, steps=30, metrics=("invariance",))
    return out


def test_invariance_and_loss_draws_one_line_per_run_in_each_panel():
    results = runs()
    fig = plotting.plot_invariance_and_loss(results, dashed=("random",))
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 2
    left, right = fig.axes
    drawn = [line for line in left.get_lines() if line.get_label() in results]
    assert [line.get_label() for line in drawn] == list(results)
    assert [line.get_linestyle() for line in drawn] == ["-", "--"]
    h = results["autoencoding"].history
    np.testing.assert_allclose(drawn[0].get_xdata(), h.metric_steps + 1)
    expected = np.maximum(1 - h.metrics["invariance"].min(axis=1), 1e-17)
    np.testing.assert_allclose(drawn[0].get_ydata(), expected)
    np.testing.assert_allclose(right.get_lines()[1].get_ydata(), results["random (Figure 1a)"].history.loss)
    assert left.get_yscale() == "log" and len(fig.legends) == 1  # one legend, under both panels
    with pytest.raises(ValueError, match="runs"):
        plotting.plot_invariance_and_loss({})


def test_final_invariance_puts_one_column_of_points_per_kind():
    final = {"random": np.array([0.6, 0.7, 0.5]), "autoencoding": np.array([1.0, 1 - 1e-15, 1.0])}
    fig = plotting.plot_final_invariance(final, title="t")
    (ax,) = fig.axes
    assert len(ax.collections) == 2 and [t.get_text() for t in ax.get_xticklabels()] == list(final)
    for i, (points, values) in enumerate(zip(ax.collections, final.values())):
        xy = points.get_offsets()
        np.testing.assert_allclose(xy[:, 1], np.maximum(1 - values, 1e-17))
        assert np.all(np.abs(xy[:, 0] - i) <= 0.15)
    assert ax.get_title() == "t"


def test_one_step_rotation_labels_each_line_with_its_slope():
    rates = np.geomspace(1e-4, 1e-2, 3)
    rotation = {"a": rates**2, "b": rates}
    fig = plotting.plot_one_step_rotation(rates, rotation, {"a": 2.0, "b": 1.0})
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == ["a (slope 2.00)", "b (slope 1.00)"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), rates**2)
    with pytest.raises(ValueError, match="rotation"):
        plotting.plot_one_step_rotation(rates, {"a": rates[:2]}, {"a": 1.0})


def test_figure1a_is_plot_alignment_per_interface_on_its_own_figure():
    h = train([np.eye(3)] * 3, np.eye(3), 2 * np.eye(3), lr=0.05, steps=10, metrics=("alignment", "invariance")).history
    fig = plotting.plot_figure1a(h, title="t")
    assert isinstance(fig, matplotlib.figure.Figure)
    plt.close(fig)
    ax, twin = fig.axes
    assert ax.get_title() == "t"
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["alignment 1", "alignment 2", "invariance 1", "invariance 2", "invariance 3"]
    np.testing.assert_allclose(twin.get_lines()[0].get_ydata(), h.loss)
