"""Tests for deeplinear.phase_diagram (beyond the paper: alignment of structured two-layer students).

References: orthonormality and membership checked directly, the convolution's orthogonal projection, the
defects of a fully connected and a banded student, and a recorded call order.
"""

import numpy as np
import pytest

from deeplinear import phase_diagram, structures


def test_phase_structure_families():
    rng = np.random.default_rng(16)
    for family, (k, rs, _) in phase_diagram.PHASE_FAMILIES.items():
        for r in rs:
            S = phase_diagram.phase_structure(family, r, rng=rng)
            flat = S.basis.reshape(S.dim, -1)
            assert S.shape == (k, k) and S.dim == r
            np.testing.assert_allclose(flat @ flat.T, np.eye(r), atol=1e-12)
    T = phase_diagram.phase_structure("banded Toeplitz", 3, rng=rng)
    assert T.contains(np.diag(np.ones(3), 1) + 2 * np.eye(4)) and not T.contains(np.diag(np.ones(2), 2))
    C = phase_diagram.phase_structure("convolution", 9, rng=rng)
    np.testing.assert_allclose(C.project(np.eye(9)), structures.Convolution(3, 3).project(np.eye(9), scaled=False))
    with pytest.raises(ValueError, match="family"):
        phase_diagram.phase_structure("dense", 2, rng=rng)
    with pytest.raises(ValueError, match="square"):
        phase_diagram.phase_structure("convolution", 8, rng=rng)


def test_phase_cell_fully_connected_ends_aligned_and_structured_does_not():
    rng = np.random.default_rng(17)
    kw = {"seeds": 3, "steps": 800, "lr": 0.4, "init": 1e-2}
    full, ratio = phase_diagram.phase_cell(structures.RandomSubspace(4, 4, 16, rng=rng), 8, **kw, rng=rng)
    assert full < 0.01 and ratio < 0.01
    banded, _ = phase_diagram.phase_cell(phase_diagram.phase_structure("banded Toeplitz", 3, rng=rng), 8, **kw, rng=rng)
    assert banded > 0.05


def test_phase_diagram_order_and_summary(monkeypatch):
    calls = []

    def fake_cell(S, n, rng, **kw):
        calls.append((S.dim, n))
        return float(S.dim), float(n)

    monkeypatch.setattr(phase_diagram, "phase_cell", fake_cell)
    phase = phase_diagram.phase_diagram(rng=np.random.default_rng(18))
    expected = [(r, n) for _, rs, ns in phase_diagram.PHASE_FAMILIES.values() for r in rs for n in ns]
    assert calls == expected
    for family, (_, rs, ns) in phase_diagram.PHASE_FAMILIES.items():
        np.testing.assert_array_equal(phase[family][:, :, 0], np.repeat(np.array(rs, float)[:, None], len(ns), 1))
    summary = phase_diagram.phase_summary(phase)
    assert summary["fc_max_defect"] == 81.0 and summary["fc_max_loss_ratio"] == 18.0
    structured = [1, 2, 3, 5, 7, 10] * 4 + [3, 5, 7] * 4 + [9, 25] * 4  # r = 1 Toeplitz, convolution left out
    assert summary["structured_median_defect"] == np.median(structured)
    assert summary["structured_min_defect"] == 1.0
