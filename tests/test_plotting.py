"""Tests for deeplinear.plotting on small fake histories (Agg backend)."""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from deeplinear import plotting


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def fake_history(T=20, d=3, S=None, seed=0, with_invariance=True):
    rng = np.random.default_rng(seed)
    steps = np.unique(np.round(np.geomspace(1, 1000, T - 1))).astype(int)
    steps = np.concatenate([[0], steps])
    T = len(steps)
    lead = (T,) if S is None else (T, S)
    metrics = {"alignment": rng.uniform(0.2, 1.0, (*lead, d - 1))}
    if with_invariance:
        metrics["invariance"] = rng.uniform(0.2, 1.0, (*lead, d))
    loss = np.exp(-np.linspace(0, 5, T))
    if S is not None:
        loss = loss[:, None] * rng.uniform(0.5, 2.0, S)
    return SimpleNamespace(steps=steps, loss=loss, metrics=metrics)


def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def loss_axis(ax):
    others = [a for a in ax.figure.axes if a is not ax]
    assert len(others) == 1
    return others[0]


def test_set_theme_is_idempotent_and_sets_look():
    plotting.set_theme()
    first = dict(matplotlib.rcParams)
    plotting.set_theme()
    assert dict(matplotlib.rcParams) == first
    assert matplotlib.rcParams["figure.dpi"] == plotting.FIGURE_DPI
    assert matplotlib.rcParams["figure.constrained_layout.use"] is True

    cycle = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
    assert [matplotlib.colors.to_hex(c) for c in cycle] == [c.lower() for c in plotting._base.PALETTE]


def test_plot_alignment_single_network():
    h = fake_history()
    fig, ax = plt.subplots()
    out = plotting.plot_alignment(h, ax, title="Figure 1a")
    assert out is ax and ax.get_title() == "Figure 1a"
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "step + 1"
    lines = lines_by_label(ax)
    np.testing.assert_array_equal(lines["alignment"].get_xdata(), h.steps + 1)
    np.testing.assert_allclose(lines["alignment"].get_ydata(), h.metrics["alignment"].mean(axis=1))
    np.testing.assert_allclose(lines["invariance"].get_ydata(), h.metrics["invariance"].mean(axis=1))
    twin = loss_axis(ax)
    assert twin.get_yscale() == "log" and twin.get_ylabel() == "loss"
    (loss_line,) = twin.get_lines()
    np.testing.assert_allclose(loss_line.get_ydata(), h.loss)
    np.testing.assert_array_equal(loss_line.get_xdata(), h.steps + 1)
    # min-max band around the alignment mean
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(h.metrics["alignment"].min(axis=1).min())
    assert band[:, 1].max() == pytest.approx(h.metrics["alignment"].max(axis=1).max())
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["alignment", "invariance", "loss"]
    fig.canvas.draw()


def test_plot_alignment_stacked_median():
    h = fake_history(S=5, seed=1)
    ax = plotting.plot_alignment(h)
    lines = lines_by_label(ax)
    per_net = h.metrics["alignment"].mean(axis=2)  # (T, S)
    np.testing.assert_allclose(lines["alignment"].get_ydata(), np.median(per_net, axis=1))
    (loss_line,) = loss_axis(ax).get_lines()
    np.testing.assert_allclose(loss_line.get_ydata(), np.median(h.loss, axis=1))


def test_plot_alignment_per_interface_and_without_invariance():
    h = fake_history(d=4, with_invariance=False)
    ax = plotting.plot_alignment(h, per_interface=True)
    lines = lines_by_label(ax)
    assert sorted(lines) == ["alignment 1", "alignment 2", "alignment 3"]
    for j in range(3):
        np.testing.assert_allclose(lines[f"alignment {j + 1}"].get_ydata(), h.metrics["alignment"][:, j])


def test_plot_alignment_metric_schedule():
    h = fake_history(T=12)
    h.metric_steps = h.steps[::2]
    h.metrics = {k: v[::2] for k, v in h.metrics.items()}
    ax = plotting.plot_alignment(h)
    np.testing.assert_array_equal(lines_by_label(ax)["alignment"].get_xdata(), h.metric_steps + 1)
    h.metric_steps = h.metric_steps[:-1]
    with pytest.raises(ValueError, match="steps for metric 'alignment'"):
        plotting.plot_alignment(h, plt.subplots()[1])


def test_plot_singular_values_two_dimensional():
    traj = np.abs(np.random.default_rng(2).standard_normal((15, 4)))
    steps = np.arange(15) * 10
    fig, ax = plt.subplots()
    out = plotting.plot_singular_values(traj, ax, steps=steps, labels=list("abcd"))
    assert out is ax and ax.get_xscale() == "log" and ax.get_ylabel() == "singular value"
    lines = lines_by_label(ax)
    assert sorted(lines) == list("abcd")
    for k, name in enumerate("abcd"):
        np.testing.assert_array_equal(lines[name].get_ydata(), traj[:, k])
        np.testing.assert_array_equal(lines[name].get_xdata(), steps + 1)


def test_plot_singular_values_per_layer():
    traj = np.random.default_rng(3).random((8, 3, 5))
    ax = plotting.plot_singular_values(traj)
    lines = ax.get_lines()
    assert len(lines) == 15
    for idx, line in enumerate(lines):
        i, k = divmod(idx, 5)
        np.testing.assert_array_equal(line.get_ydata(), traj[:, i, k])
        np.testing.assert_array_equal(line.get_xdata(), np.arange(8) + 1)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["layer 1", "layer 2", "layer 3"]
    assert lines[0].get_color() == lines[4].get_color() != lines[5].get_color()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: plotting.plot_singular_values(np.zeros(5)), "traj must have shape"),
        (lambda: plotting.plot_singular_values(np.zeros((5, 2)), steps=np.arange(4)), "steps"),
        (lambda: plotting.plot_singular_values(np.zeros((5, 2)), labels=["a"]), "labels must have 2"),
        (lambda: plotting.plot_singular_values(np.zeros((5, 2)), steps=-np.arange(5)), "non-negative"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_plot_overlap_draws_the_matrix_with_labels():
    M = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    fig, ax = plt.subplots()
    assert plotting.plot_overlap(M, ax=ax, layer=2, title="aligned") is ax
    mesh = ax.collections[0]
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(3, 3), M)
    assert mesh.get_clim() == (0, 1)
    assert ax.get_title() == "aligned"
    assert "W_{2}" in ax.get_xlabel() and "W_{3}" in ax.get_ylabel()
    assert len(fig.axes) == 2  # the heatmap and its colour bar
    assert "v_j(W_{3})" in fig.axes[1].get_ylabel()
    with pytest.raises(ValueError, match="overlap must"):
        plotting.plot_overlap(np.zeros(3))
    with pytest.raises(ValueError, match="layer must"):
        plotting.plot_overlap(M, layer=0)


def test_plot_minimum_norm_gap_draws_both_panels():
    scales = np.geomspace(1e-3, 2.0, 5)
    gap, start, align = scales**2, scales, np.linspace(1.0, 0.7, 5)
    fig = plotting.plot_minimum_norm_gap(scales, gap, start, align)
    left, right = fig.axes
    assert left.get_xscale() == left.get_yscale() == "log" and right.get_yscale() == "linear"
    np.testing.assert_allclose(left.get_lines()[0].get_ydata(), gap)
    np.testing.assert_allclose(left.get_lines()[1].get_ydata(), start)
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), align)
    assert right.get_ylim() == pytest.approx((0.5, 1.02))
    with pytest.raises(ValueError, match="alignment must have shape"):
        plotting.plot_minimum_norm_gap(scales, gap, start, align[:3])


def test_plot_balancedness_drift_labels_the_fitted_slopes():
    lrs = np.geomspace(1e-4, 1e-2, 5)
    fig = plotting.plot_balancedness_drift(lrs, 3 * lrs**2, lrs, lrs[-3:], 0.5 * lrs[-3:])
    (ax,) = fig.axes
    labels = [line.get_label() for line in ax.get_lines()]
    assert len(labels) == 3
    assert labels[0].endswith("(slope 2.00)") and labels[1].endswith("(slope 1.00)") and "fixed time" in labels[2]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="fixed_time must have shape"):
        plotting.plot_balancedness_drift(lrs, lrs, lrs, lrs[-3:], lrs)


def test_plot_imbalance_one_line_per_interface_and_form():
    history = fake_history(T=12, d=3)
    T = len(history.steps)
    history.metrics["printed"] = np.full((T, 2), 0.5)
    history.metrics["arora"] = np.zeros((T, 2))
    history.metric_steps = history.steps
    fig = plotting.plot_imbalance(history)
    left = fig.axes[0]
    lines = left.get_lines()
    assert len(lines) == 4 and left.get_yscale() == "log"
    assert {line.get_linestyle() for line in lines} == {"-", "--"}
    assert np.all(lines[1].get_ydata() == 1e-17)  # an exact 0 is drawn at the floor
    assert len(fig.axes) == 3  # imbalance, alignment and invariance, the loss's twin
    del history.metrics["arora"]
    with pytest.raises(ValueError, match="'arora'"):
        plotting.plot_imbalance(history)
