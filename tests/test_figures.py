"""Figures as the site shows them: `deeplinear_book.figure`'s 2x PNG and its phone rendition (`one_column`), and the
Sphinx extension that serves the rendition on a phone (book/_ext/picture_figures.py)."""

from __future__ import annotations

import base64
import hashlib
import struct
import sys
from pathlib import Path

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from deeplinear import plotting
from deeplinear_book import claims

ROOT = Path(__file__).resolve().parents[1]


def _ppi(png: bytes) -> float:
    """The pixels per inch of a PNG's pHYs chunk (read independently of the code under test)."""
    at = 8
    while at + 8 <= len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        if png[at + 4 : at + 8] == b"pHYs":
            x, y, unit = struct.unpack(">IIB", png[at + 8 : at + 17])
            assert unit == 1 and x == y
            return x * 0.0254
        at += 12 + length
    raise AssertionError("no pHYs chunk")


def _grid(rows=2, cols=3, **kwargs):
    fig, axes = plt.subplots(rows, cols, figsize=(7.5, 4.5), **kwargs)
    for i, ax in enumerate(axes.flat):
        ax.plot(np.arange(5) * (i + 1), label=f"line {i}")
        ax.set(title=f"panel {i}", xlabel="step")
    return fig, axes


def _drawn_texts(fig) -> list[str]:
    """Every non-empty string the figure draws (a renderer that records them)."""
    from matplotlib.backends.backend_agg import RendererAgg

    texts: list[str] = []

    class _Texts(RendererAgg):
        def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
            if s.strip():
                texts.append(s)

    width, height = fig.get_size_inches() * fig.dpi
    fig.draw(_Texts(int(width), int(height), fig.dpi))
    return texts


def test_one_column_stacks_a_2x3_grid_in_reading_order_and_draws_all_its_text():
    plotting.set_theme()
    fig, axes = _grid(sharey=True)
    axes[0, 0].set_ylabel("value")
    desktop = sorted(_drawn_texts(fig))
    phone = claims.one_column(fig, width=4.0)
    try:
        assert tuple(phone.get_size_inches())[0] == 4.0
        assert tuple(fig.get_size_inches()) == (7.5, 4.5)  # the original is left alone
        phone.canvas.draw()
        boxes = {ax.get_title(): ax.get_position() for ax in phone.axes}
        assert len(boxes) == 6
        lefts = [boxes[f"panel {i}"].x0 for i in range(6)]
        tops = [boxes[f"panel {i}"].y1 for i in range(6)]
        assert np.ptp(lefts) < 0.02  # one column
        assert all(a > b for a, b in zip(tops, tops[1:]))  # reading order, top to bottom
        drawn = _drawn_texts(phone)
        # every title and axis label the desktop figure draws is still drawn, and the shared y axis's label on every
        # panel now (each panel stands alone); every panel draws its tick labels on both axes
        labels = [t for ax in fig.axes for t in (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) if t]
        for text in set(labels):
            assert drawn.count(text) >= desktop.count(text), text
        assert drawn.count("value") == 6
        for ax in phone.axes:
            for axis in (ax.xaxis, ax.yaxis):
                assert any(t.get_visible() and t.get_text() for t in axis.get_ticklabels()), ax.get_title()
        assert claims.smallest_text_pt(phone) == claims.smallest_text_pt(fig)
    finally:
        plt.close(fig)
        plt.close(phone)


def test_one_column_keeps_twins_colour_bars_and_legends_with_their_panels():
    plotting.set_theme()
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3))
    twin = axes[0].twinx()
    twin.plot([3, 2, 1])
    twin.set_ylabel("loss")
    image = axes[1].imshow(np.eye(3))
    fig.colorbar(image, ax=axes[1], label="entry")
    axes[0].plot([1, 2, 3], label="score")
    axes[0].legend()
    phone = claims.one_column(fig)
    try:
        phone.canvas.draw()
        first, second = phone.axes[:2]
        (twin_copy,) = [ax for ax in phone.axes if ax.get_ylabel() == "loss"]
        (colour_bar,) = [ax for ax in phone.axes if ax.get_ylabel() == "entry"]
        assert twin_copy.get_position().bounds == pytest.approx(first.get_position().bounds)
        assert first.get_position().y0 > second.get_position().y1  # stacked
        assert colour_bar.get_position().y1 <= first.get_position().y0 + 0.02  # beside the image, not the curve
        assert first.get_legend() is not None
    finally:
        plt.close(fig)
        plt.close(phone)


def test_one_column_refuses_what_is_not_a_figure():
    with pytest.raises(ValueError, match="fig must be a matplotlib Figure"):
        claims.one_column(object())
    fig, _ = _grid()
    with pytest.raises(ValueError, match="width must be positive"):
        claims.one_column(fig, width=0)
    plt.close(fig)


def _glue(fig):
    """What `deeplinear_book.figure` displays, captured in an IPython shell (cleared afterwards, as in a script)."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    had_shell = InteractiveShell.initialized()
    InteractiveShell.instance()
    try:
        with capture_output() as out:
            claims.figure("fig_x", fig)
    finally:
        if not had_shell:
            InteractiveShell.clear_instance()
    (output,) = out.outputs
    return output


def test_figure_glues_a_2x_png_shown_at_half_width_with_a_phone_rendition():
    plotting.set_theme()
    fig, _ = _grid()
    output = _glue(fig)
    assert not plt.fignum_exists(fig.number)  # closed
    png = base64.b64decode(output.data["application/papermill.record/image/png"])
    assert _ppi(png) == pytest.approx(claims.FIGURE_PPI, rel=1e-3) and claims.FIGURE_PPI == 192
    width = struct.unpack(">I", png[16:20])[0]
    assert width <= 2 * 741  # within the column (741 CSS px at 1366 px), shown at 96 CSS px per figure inch
    assert output.metadata["image/png"] == {"width": width // 2}
    assert output.metadata["scrapbook"] == {"name": "fig_x", "mime_prefix": "application/papermill.record/"}
    companion = output.metadata["companion"]
    assert companion["smallest_text_pt"] == 9.0  # the theme's tick labels
    phone = base64.b64decode(companion["phone"]["image/png"])
    assert _ppi(phone) == pytest.approx(192, rel=1e-3)
    phone_width, phone_height = struct.unpack(">II", phone[16:24])
    assert 2 * 358 <= phone_width <= 4 * 192  # 2x the phone column (358 CSS px at 390), 4 in at most
    assert phone_height > 3 * phone_width  # six panels stacked
    assert companion["phone"]["smallest_text_pt"] == 9.0


@pytest.mark.parametrize("draft", [False, True])
def test_the_png_records_the_smallest_text_that_smallest_text_pt_finds(draft):
    """`claims._png` records the text sizes while it draws the PNG (a draw less per figure): the same smallest size
    as `smallest_text_pt`'s own draw, with small legend text, a hidden axis and mathtext in the figure; and the
    drawing functions are the renderer's own again afterwards."""
    from matplotlib.backends.backend_agg import RendererAgg

    plotting.set_theme()
    draw_text = RendererAgg.draw_text
    fig, axes = _grid()
    axes.flat[0].legend(["a"], fontsize=6.5)
    axes.flat[1].set_title(r"$\sigma_1(W_i)$", fontsize=7.5)
    axes.flat[2].set_xlabel("hidden", fontsize=5)
    axes.flat[2].xaxis.label.set_visible(False)
    _, smallest = claims._png(fig, dpi=claims.DRAFT_PPI if draft else claims.FIGURE_PPI)
    assert smallest == claims.smallest_text_pt(fig) == 6.5
    assert RendererAgg.draw_text is draw_text
    empty = plt.figure()
    assert claims._png(empty)[1] is None is claims.smallest_text_pt(empty)
    plt.close("all")


def test_figure_in_draft_glues_a_coarse_png_without_a_phone_rendition(monkeypatch):
    """The chapter tests' reruns (DEEPLINEAR_DRAFT_FIGURES=1): the figure is built and glued, its pixels coarse."""
    monkeypatch.setenv(claims.DRAFT_FIGURES, "1")
    fig, _ = _grid()
    output = _glue(fig)
    png = base64.b64decode(output.data["application/papermill.record/image/png"])
    assert _ppi(png) == pytest.approx(claims.DRAFT_PPI, rel=1e-2)
    assert "phone" not in output.metadata["companion"] and output.metadata["companion"]["smallest_text_pt"] > 0


def test_figure_narrows_a_figure_wider_than_the_column():
    fig, ax = plt.subplots(figsize=(11, 3))
    ax.plot([1, 2])
    png = base64.b64decode(_glue(fig).data["application/papermill.record/image/png"])
    assert struct.unpack(">I", png[16:20])[0] <= 2 * 741


def test_every_library_figure_fits_the_column():
    """The plotting functions' own sizes, read from their source: none wider than the column (7.5 in)."""
    import ast

    for path in (ROOT / "lib" / "deeplinear" / "plotting").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "figsize" and isinstance(node.value, ast.Tuple):
                width = node.value.elts[0]
                if isinstance(width, ast.Constant):
                    assert width.value <= plotting._base.COLUMN_WIDTH, f"{path.name}: figsize {ast.unparse(node.value)}"


def _lab(rgb):
    """CIE L*a*b* (D65) of an sRGB colour in [0, 1], the textbook formulas."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    m = [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    xyz = [sum(a * b for a, b in zip(row, linear)) / w for row, w in zip(m, (0.95047, 1.0, 1.08883))]
    f = [t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116 for t in xyz]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def _closest_pair(colours) -> float:
    labs = [_lab(c) for c in colours]
    return min(float(np.linalg.norm(np.subtract(a, b))) for i, a in enumerate(labs) for b in labs[i + 1 :])


def test_the_palette_colours_are_far_apart():
    """No two of the book's colours closer than 25 in CIE L*a*b* (seaborn's "colorblind", which the book used,
    has an orange, a vermillion and a brown closer than that: Fig. 3.2's three oranges)."""
    import seaborn as sns

    assert _closest_pair(plotting._base.palette()) > 25
    assert _closest_pair(sns.color_palette("colorblind")[:7]) < 25


def test_the_site_extension_writes_a_picture_with_the_phone_rendition(tmp_path):
    """book/_ext/picture_figures.py finds a glued figure's rendition by the sha256 of its PNG."""
    import nbformat

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import picture_figures
    finally:
        sys.path.pop(0)
    plotting.set_theme()
    fig, _ = _grid()
    output = _glue(fig)
    cell_output = nbformat.v4.new_output("display_data", data=output.data, metadata=output.metadata)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[cell_output])])
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    png = base64.b64decode(output.data["application/papermill.record/image/png"])
    phone = base64.b64decode(output.metadata["companion"]["phone"]["image/png"])
    assert picture_figures.renditions([path]) == {hashlib.sha256(png).hexdigest(): phone}
    html = picture_figures.picture("a.png", (1400, 800), "b.png", (760, 2000), {"alt": 'x "y"'})
    assert html == (
        '<picture class="companion-figure"><source media="(max-width: 640px)" srcset="b.png" width="380" '
        'height="1000"><img src="a.png" alt="x &quot;y&quot;" width="700" height="400"></picture>'
    )


def test_every_glued_figure_is_placed_in_its_chapter():
    """A chapter that glues a figure shows it: some ``{glue:figure}`` (or ``{glue}``) of its Markdown names it.
    (Chapter 05's Figure 5.3 was glued but, after a rewrite of its section, no longer placed.)"""
    import json
    import re

    unplaced = []
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        markdown = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        placed = set(re.findall(r"```\{glue(?::figure)?\}\s+(\w+)", markdown))
        for cell in cells:
            for out in cell.get("outputs", []):
                name = out.get("metadata", {}).get("scrapbook", {}).get("name")
                if name and any(k.endswith("image/png") for k in out.get("data", {})) and name not in placed:
                    unplaced.append(f"{path.stem}: {name}")
    assert not unplaced, unplaced
