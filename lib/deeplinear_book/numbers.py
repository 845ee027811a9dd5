"""Numbers for people: the one formatter of the chapters' prose, the claims ledger and the PDF.

A chapter glues a value at the digits that travel (`deeplinear_book.claims.claim`) and its prose formats it
with a Python format spec (``{glue:text}`name:.1e```). What a reader sees is `reader_text` of that text,
applied to every page when the book is built (``book/_ext/reader_numbers.py``, for the website and the PDF
alike), and the ledger writes its values with `reader`:

- powers of ten as ``2.7×10⁻²⁸`` (never ``2.7e-28``, which a browser breaks at its hyphen);
- a value exact to rounding as such: ``1.0000000000`` (ten decimals) reads ``1 (to 10⁻¹⁰)``, and
  ``1.00000001`` reads ``1 + 10⁻⁸``: never more than six significant digits;
- a boolean as the word yes or no.
"""

from __future__ import annotations

import math
import re
from numbers import Integral, Real
from typing import Any

__all__ = ["MAX_SIGNIFICANT", "power_of_ten", "reader", "reader_text", "significant_digits"]

# The most significant digits a number in prose or a table may show (the site test holds every page to it).
MAX_SIGNIFICANT = 6

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
# A number in e-notation, as Python writes it: 2.7e-28, 1e+03, 0.0e+00 (not inside a word or a longer number).
_E_NOTATION = re.compile(r"(?<![\w.])(-?)(\d+(?:\.\d+)?)[eE]([+-]?)(\d+)(?![\w.])")
# A decimal number (no exponent), not inside a word, a version number or a date.
_DECIMAL = re.compile(r"(?<![\w.\-])(-?)(\d+)\.(\d+)(?![\w.×]|-\d)")


def power_of_ten(mantissa: str, exponent: int) -> str:
    """``mantissa×10ⁿ`` with a superscript exponent: ``("2.7", -28)`` -> ``"2.7×10⁻²⁸"``.

    A mantissa of one (``"1"``, ``"1.0"``) is left out: ``("1", -12)`` -> ``"10⁻¹²"``; a zero mantissa gives
    ``"0"``; an exponent of zero gives the mantissa alone.

    Parameters
    ----------
    mantissa : str
        The mantissa's text, e.g. "2.7".
    exponent : int
        The power of ten.

    Returns
    -------
    str
        The number as text.
    """
    if float(mantissa) == 0:
        return "0"
    if exponent == 0:
        return mantissa
    ten = "10" + str(exponent).translate(_SUPERSCRIPT)
    if float(mantissa) in (1.0, -1.0):
        return ("-" if mantissa.startswith("-") else "") + ten
    return f"{mantissa}×{ten}"


def reader(value: Any, sig: int = 3) -> str:
    """A value as a reader sees it: ``sig`` significant digits, powers of ten outside [10⁻³, 10⁴).

    Booleans read "yes" or "no", integers as they are, strings unchanged; a non-finite float reads "∞",
    "−∞" or "not measured" (NaN). ``reader(2.7e-28)`` -> ``"2.7×10⁻²⁸"``; ``reader(0.91234)`` -> ``"0.912"``.

    Parameters
    ----------
    value : object
        A number, bool or string.
    sig : int, optional
        Significant digits, >= 1.

    Returns
    -------
    str
        A value as a reader sees it: ``sig`` significant digits, powers of ten outside [10⁻³, 10⁴).

    Raises
    ------
    TypeError
        See the message.
    ValueError
        If ``sig`` or ``value`` is not valid (the message names the parameter).

    Examples
    --------
    >>> from deeplinear_book.numbers import reader
    >>> reader(2.7e-28), reader(0.91234), reader(True)
    ('2.7×10⁻²⁸', '0.912', 'yes')
    """
    if isinstance(sig, bool) or not isinstance(sig, Integral) or not 1 <= sig <= MAX_SIGNIFICANT:
        raise ValueError(f"sig must be an integer in [1, {MAX_SIGNIFICANT}], got {sig!r}")
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()  # numpy scalar or 0-d array
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (Integral, str)):
        return str(value)
    if not isinstance(value, Real):
        raise TypeError(f"value must be a bool, an integer, a string or a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        return "not measured"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    text = f"{value:.{sig}g}"
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        rounded = float(text)
        if "e" not in text or abs(rounded) >= 1e4:  # %g writes 10 at one digit as 1e+01: positional instead
            return text if "e" not in text else reader_text(text)
        text = f"{rounded:.{max(sig - 1 - math.floor(math.log10(abs(rounded))), 0)}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return reader_text(text)


def significant_digits(number: str) -> int:
    """How many significant digits a decimal number's text shows: ``"1.000000"`` -> 7, ``"0.0012"`` -> 2.

    Parameters
    ----------
    number : str
        A decimal number's text.

    Returns
    -------
    int
        How many significant digits a decimal number's text shows: ``"1.000000"`` -> 7, ``"0.0012"`` -> 2.

    Examples
    --------
    >>> from deeplinear_book.numbers import significant_digits
    >>> significant_digits("1.000000"), significant_digits("0.0012")
    (7, 2)
    """
    digits = number.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
    return max(len(digits), 1)


def _power(m: re.Match) -> str:
    sign, mantissa, exp_sign, exponent = m.groups()
    exponent_value = int(exponent) * (-1 if exp_sign == "-" else 1)
    return power_of_ten(sign + mantissa, exponent_value)


def _decimal(m: re.Match) -> str:
    text = m[0]
    if significant_digits(text) <= MAX_SIGNIFICANT:
        return text
    decimals = len(m[3])
    value = float(text)
    nearest = round(value)
    rest = round(value - nearest, decimals)
    if abs(rest) >= 1e-3:  # not a value at an integer: its leading digits
        return f"{value:.{MAX_SIGNIFICANT}g}"
    if rest == 0:
        return f"{nearest} (to {power_of_ten('1', -decimals)})"
    gap = reader(abs(rest), sig=2)
    return f"{nearest} {'+' if rest > 0 else '−'} {gap}"


def reader_text(text: str) -> str:
    """Every number in ``text`` written for a reader: e-notation as powers of ten, a decimal with more than
    six significant digits as the integer it is at and the gap to it (else to six digits), a lone
    ``True``/``False`` as yes/no.

    ``"2.7e-28"`` -> ``"2.7×10⁻²⁸"``; ``"reaches 0 (below 1e-06)"`` -> ``"reaches 0 (below 10⁻⁶)"``;
    ``"1.0000000000"`` -> ``"1 (to 10⁻¹⁰)"``; ``"0.99999"`` and ``"3.11"`` are left as they are.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        The text with its numbers rewritten.

    Examples
    --------
    >>> from deeplinear_book.numbers import reader_text
    >>> reader_text("alignment ends at 1.0000000000, the loss at 2.7e-28")
    'alignment ends at 1 (to 10⁻¹⁰), the loss at 2.7×10⁻²⁸'
    """
    if text in ("True", "False"):
        return "yes" if text == "True" else "no"
    return _DECIMAL.sub(_decimal, _E_NOTATION.sub(_power, text))
