"""deeplinear_book.params: each check accepts its range and names the parameter and the range when it refuses."""

import math

import pytest

from deeplinear_book import params


def test_integer_accepts_its_range_and_refuses_the_rest():
    assert params.integer("k", 2, low=2, high=64) == 2 and params.integer("k", 64, low=2, high=64) == 64
    for bad in (1, 65, 2.0, True, "3", None):
        with pytest.raises(ValueError, match=r"^k must be an integer in \[2, 64\], got "):
            params.integer("k", bad, low=2, high=64)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, inf\], got -1"):
        params.integer("seed", -1, low=0)


def test_real_open_and_closed_ends():
    assert params.real("lr", 0.05, low=0.0, high=0.05, open_low=True) == 0.05
    for bad in (0.0, 0.06, math.nan, math.inf, False, "0.01"):
        with pytest.raises(ValueError, match=r"^lr must be a finite number in \(0, 0.05\], got "):
            params.real("lr", bad, low=0.0, high=0.05, open_low=True)
    assert params.real("scale", 0, low=0) == 0.0


def test_choice_boolean_and_integer_list():
    assert params.choice("loss", "squared", ["squared", "logistic"]) == "squared"
    with pytest.raises(ValueError, match=r"loss must be one of \['squared', 'logistic'\], got 'hinge'"):
        params.choice("loss", "hinge", ["squared", "logistic"])
    with pytest.raises(ValueError, match="flag must be True or False, got 1"):
        params.boolean("flag", 1)
    assert params.integer_list("widths", (3, 4), low=1, max_len=3) == [3, 4]
    for bad in ([], [0], [1, 2, 3, 4], [1.5], "12"):
        with pytest.raises(ValueError, match=r"^widths must be a list of 1 to 3 integers in \[1, inf\], got "):
            params.integer_list("widths", bad, low=1, max_len=3)
