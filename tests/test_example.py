"""Tests for deeplinear.example (the Example of Section 5.2).

References: closed forms of the distance from a scalar identity, and the autoencoder's first step recomputed
from the same draws with the library's convolution.
"""

import numpy as np
import pytest

from deeplinear import example, structures


def test_scalar_distance_closed_form():
    assert example.scalar_distance([3 * np.eye(4)]) == [0.0]
    D = np.diag([1.0, 3.0])  # mean 2: ||diag(-1, 1)|| / ||diag(1, 3)||
    assert example.scalar_distance([D])[0] == pytest.approx(np.sqrt(2) / np.sqrt(10), rel=1e-14)


def test_convolutional_autoencoder_records_the_mean_squared_error():
    h = example.convolutional_autoencoder(4, lr=0.05, steps=30, points=5, rng=np.random.default_rng(8))
    rng = np.random.default_rng(8)
    X = rng.standard_normal((16, 16))
    noise = rng.standard_normal((3, 9))
    filters = 0.5 * noise / np.linalg.norm(noise, axis=1, keepdims=True) + np.eye(9)[4]
    S = structures.Convolution(4, 3)
    Ws = [S.matrix(f) / np.linalg.norm(S.matrix(f), 2) for f in filters]
    F = Ws[2] @ Ws[1] @ Ws[0] @ X
    assert h.loss[0] == pytest.approx(np.mean((F - X) ** 2), rel=1e-12)
    np.testing.assert_allclose(h.metrics["distance"][0], example.scalar_distance(Ws), rtol=1e-12)
    assert h.steps[0] == 0 and h.steps[-1] == 30 and h.loss[-1] < h.loss[0]
