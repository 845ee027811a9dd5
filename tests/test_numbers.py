"""The book's number formatter (deeplinear_book.numbers) against values read back from its text."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deeplinear_book import numbers

_FROM_SUPERSCRIPT = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")


def read_back(text: str) -> float:
    """A reader's number parsed by hand, independently of the formatter: ``2.7×10⁻²⁸``, ``10⁻⁶``, ``0.912``."""
    m = re.fullmatch(r"(-?)(?:(\d+(?:\.\d+)?)×)?10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)", text)
    if m:
        mantissa = float(m[2]) if m[2] else 1.0
        return (-1 if m[1] else 1) * mantissa * 10.0 ** int(m[3].translate(_FROM_SUPERSCRIPT))
    return float(text)


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@given(finite, st.integers(1, numbers.MAX_SIGNIFICANT))
def test_reader_keeps_the_value_to_its_significant_digits(value, sig):
    text = numbers.reader(value, sig=sig)
    assert "e" not in text and " " not in text
    assert math.isclose(read_back(text), value, rel_tol=0.51 * 10.0 ** (1 - sig), abs_tol=1e-300)


@pytest.mark.parametrize(
    ("value", "sig", "expected"),
    [(10.0, 1, "10"), (150.0, 2, "150"), (-20.0, 1, "-20"), (99.96, 3, "100"), (9999.6, 2, "10⁴"), (0.5, 3, "0.5")],
)
def test_reader_writes_a_value_in_range_positionally_at_any_precision(value, sig, expected):
    """Python's %g writes 10 at one significant digit as 1e+01 (hypothesis found it): in [10⁻³, 10⁴) the reader
    writes the rounded value positionally, and a value that rounds up to 10⁴ as a power of ten."""
    assert numbers.reader(value, sig=sig) == expected


@given(finite)
def test_reader_text_of_e_notation_is_the_same_number(value):
    text = f"{value:.1e}"
    assert math.isclose(read_back(numbers.reader_text(text)), float(text), rel_tol=1e-12, abs_tol=1e-300)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.7e-28", "2.7×10⁻²⁸"),
        ("1e+03 times sooner", "10³ times sooner"),
        ("0.0e+00", "0"),
        ("1.0000000000", "1 (to 10⁻¹⁰)"),
        ("1.000000", "1 (to 10⁻⁶)"),
        ("1.00000001", "1 + 10⁻⁸"),
        ("0.9999999998", "1 − 2×10⁻¹⁰"),
        ("0.12345678", "0.123457"),
        ("reaches 0 (below 1e-06)", "reaches 0 (below 10⁻⁶)"),
        ("True", "yes"),
        ("False", "no"),
        ("0.912", "0.912"),
        ("Python 3.11.2 on 2026-12-06, mnist_10k", "Python 3.11.2 on 2026-12-06, mnist_10k"),
    ],
)
def test_reader_text(text, expected):
    assert numbers.reader_text(text) == expected


def test_reader_of_special_values():
    assert [numbers.reader(v) for v in (True, False, 3, np.float64(0.5), 0.0)] == ["yes", "no", "3", "0.5", "0"]
    assert numbers.reader(float("nan")) == "not measured"
    assert numbers.reader(float("inf")) == "∞"


@pytest.mark.parametrize("sig", [0, 7, 2.0, True])
def test_reader_refuses_a_bad_sig(sig):
    with pytest.raises(ValueError, match="sig must be an integer in"):
        numbers.reader(1.0, sig=sig)


def test_significant_digits():
    assert [numbers.significant_digits(t) for t in ("1.000000", "0.0012", "12.5", "0")] == [7, 2, 3, 1]
