"""`data.mnist_first`: a chapter's MNIST source parameter, with an error that names it when offline."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest

from deeplinear import data


def test_subset_is_the_shipped_digits():
    images, labels = data.mnist_first(12, "subset", parameter="mnist_source")
    ref_images, ref_labels = data.mnist(12, source="subset")
    assert np.array_equal(images, ref_images) and np.array_equal(labels, ref_labels)
    assert images.shape == (12, 28, 28) and labels.tolist() == [i % 10 for i in range(12)]


def test_missing_idx_names_the_parameter_and_the_way_out(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(data, "urlopen", offline)
    with pytest.raises(data.MNISTUnavailable) as info:
        data.mnist_first(data.OFFICIAL_SHIPPED + 1, "idx", parameter="mnist_source", cache_dir=tmp_path)
    msg = str(info.value)
    assert "mnist_source='idx'" in msg and "mnist_source='subset'" in msg
    assert "train-images-idx3-ubyte.gz" in msg and str(tmp_path) in msg and "no route to host" in msg


def test_the_released_scripts_first_256_are_official_and_offline(monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(data, "urlopen", offline)
    images, labels = data.mnist_first(256, "idx", parameter="mnist_source")
    assert images.shape == (256, 28, 28) and labels[:5].tolist() == [5, 0, 4, 1, 9]


def test_rejects_an_unknown_source():
    with pytest.raises(ValueError, match=r"mnist_source must be 'subset' or 'idx', got 'auto'"):
        data.mnist_first(10, "auto", parameter="mnist_source")
