"""The book's look and its recurring figures (matplotlib + seaborn).

Steps are plotted as step + 1 on a logarithmic axis, so the initial state (step 0) appears
at x = 1 instead of being dropped.

The figures live in modules by topic (``_base``: the theme and the figures several chapters share;
``separable``, ``invariance``, ``dynamics``, ``balance``, ``structures``); all are imported here, so
``plotting.plot_x`` is the one way to call them. Each draws a new pyplot figure and returns it (or its
axes, when given one): close it when done (a chapter hands it to ``deeplinear_book.figure``, which glues and
closes it).
"""

from __future__ import annotations

from ._base import FIGURE_DPI, plot_alignment, plot_alignment_panels, plot_overlap, plot_singular_values, set_theme
from .balance import plot_balancedness_drift, plot_imbalance, plot_minimum_norm_gap
from .dynamics import plot_corollary1, plot_proposition1, plot_sequential_learning
from .invariance import plot_figure1a, plot_final_invariance, plot_invariance_and_loss, plot_one_step_rotation
from .separable import plot_alignment_defects, plot_margin_rates, plot_max_margin, plot_rank_one, plot_risk_and_norms
from .structures import (
    plot_figure2,
    plot_filter_balance,
    plot_layer_structures,
    plot_partner_sweep,
    plot_phase_diagram,
    plot_theorem2,
)

__all__ = [
    "set_theme",
    "plot_alignment",
    "plot_figure1a",
    "plot_invariance_and_loss",
    "plot_final_invariance",
    "plot_one_step_rotation",
    "plot_singular_values",
    "plot_corollary1",
    "plot_proposition1",
    "plot_sequential_learning",
    "plot_risk_and_norms",
    "plot_rank_one",
    "plot_max_margin",
    "plot_margin_rates",
    "plot_alignment_defects",
    "plot_overlap",
    "plot_minimum_norm_gap",
    "plot_balancedness_drift",
    "plot_filter_balance",
    "plot_imbalance",
    "plot_layer_structures",
    "plot_theorem2",
    "plot_partner_sweep",
    "plot_figure2",
    "plot_phase_diagram",
    "FIGURE_DPI",
    "plot_alignment_panels",
]
