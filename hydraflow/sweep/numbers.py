"""Numbers in sweep values: what reads as one, how a computed one is written, exponents.

Every regular expression here matches in linear time: no two quantifiers can
trade the same characters, so a failed match on a long run of digits costs
one pass, not one pass per digit.
"""

from __future__ import annotations

import decimal
import itertools
import math
import re
import sys
from decimal import Context, Decimal

from hydraflow.sweep.limits import MAX_DIGITS, MAX_EXPONENT

NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
INTEGER = re.compile(r"[+-]?\d+")
EXPONENT = re.compile(r"[eE][+-]?\d+")
# A zero mantissa and any exponents after it (`0`, `-0.0`, `.0e3`, `00e5e-3`).
_ZERO = re.compile(r"[+-]?(?:0+(?:\.0*)?|\.0+)(?:[eE][+-]?\d+)*")
# A mantissa and one or more exponents: what attaching exponents makes.
_WITH_EXPONENTS = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))((?:[eE][+-]?\d+)+)")
_POWER = re.compile(r"[eE]([+-]?\d+)")

SI_EXPONENTS = {
    "f": "e-15",
    "p": "e-12",
    "n": "e-9",
    "u": "e-6",
    "m": "e-3",
    "k": "e3",
    "M": "e6",
    "G": "e9",
    "T": "e12",
}

# Exact arithmetic for ranges: operands have at most MAX_DIGITS significant
# digits and exponents within ±MAX_EXPONENT, so sums, products by a count and
# quotients fit this precision with room to spare and never overflow.
EXACT = Context(
    prec=3 * MAX_DIGITS,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


def is_zero(value: str) -> bool:
    """Whether ``value`` is a number whose mantissa is zero, whatever exponents follow."""
    return _ZERO.fullmatch(value) is not None


def one_number(value: str) -> str:
    """A value made by attaching exponents, written as one number.

    A zero mantissa is ``0`` whatever follows (``0e3``, ``-0.0e-3``); several
    exponents become their sum (``1e+20`` with ``e3`` is ``1e23``, not
    ``1e+20e3``, which Hydra would read as a string). Anything else, numbers
    with one exponent included, is left as written.
    """
    match = _WITH_EXPONENTS.fullmatch(value)
    if match is None:
        return value
    mantissa, exponents = match.groups()
    if _ZERO.fullmatch(mantissa):
        return "0"
    powers = _POWER.findall(exponents)
    if len(powers) == 1:
        return value
    total = 0
    for power in powers:
        value_of_power = _power(power)
        # A power too long to convert stays as written; the parser bounds those it attaches.
        if value_of_power is None:
            return value
        total += value_of_power
    return f"{mantissa}e{total}"


def joined_number(pieces: tuple[str, ...]) -> str:
    """Pieces concatenated (a parenthesised product), made one number (``one_number``)
    where every exponent was written as one: within a piece (``(1e3)k`` is ``1e6``) or
    ending with one (``2e(-1)k``: ``e-1``, then ``e3``). In ``2e(2e-3)`` the ``e2`` takes
    the ``e`` of one piece and the first digit of the next, so ``2e2e-3`` stays as
    written: summing would make ``2e-1``, a value no one wrote."""
    value = "".join(pieces)
    match = _WITH_EXPONENTS.fullmatch(value)
    if match is None:
        return value
    powers = list(_POWER.finditer(value, match.start(2)))
    if len(powers) > 1 and not _ZERO.fullmatch(match[1]):  # zero is 0 however read
        ends = set(itertools.accumulate(map(len, pieces)))
        for power in powers:
            across = any(power.start() < end < power.end() for end in ends)
            if across and power.end() not in ends:
                return value
    return one_number(value)


def with_exponent(value: str, exponent: str) -> str:
    """Append an exponent, making one number of the result (see ``one_number``)."""
    if not exponent:
        return value
    return "0" if is_zero(value) else one_number(value + exponent)


def exponent_value(text: str) -> int | None:
    """The power of ten of an exponent such as ``e-3``; None when beyond ±MAX_EXPONENT."""
    return _power(text[1:])


def _power(text: str) -> int | None:
    """A signed power of ten such as ``+20`` or ``-003``; None when beyond ±MAX_EXPONENT."""
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) > len(str(MAX_EXPONENT)) or int(digits) > MAX_EXPONENT:
        return None
    return -int(digits) if text.startswith("-") else int(digits)


def format_decimal(value: Decimal, exponent: str = "", significant: int | None = None) -> str:
    """Write an exactly computed value, with ``exponent`` (``e3``, ``e-6``) attached.

    Within the range of normal floats the value is written as the spec says,
    the way Python writes that float (``repr(float(value))``) minus a
    trailing ``.0``: ``0.25``, ``0.0012``, ``1000``, ``1e+16``, ``1e-05``,
    and ``5000 + 1e20`` is ``1e+20`` as a float makes it. Beyond that range a
    float would be ``inf`` or lose the value to underflow, so the value keeps
    its exact digits (rounded to ``significant`` digits when given) in
    the same notation: ``1e+400``.

    Zero is ``0`` and takes no exponent. A positional value takes the
    exponent as written (``0.1e-3``); a value in scientific notation gets one
    exponent, the sum (``1e+20`` with ``e3`` is ``1e23``).
    """
    if not value:
        return "0"
    if abs(value.adjusted()) <= _FLOAT_EXPONENT_LIMIT:
        nearest = float(value)
        if math.isfinite(nearest) and abs(nearest) >= sys.float_info.min:
            return with_exponent(repr(nearest).removesuffix(".0"), exponent)
    if significant is not None:
        value = Context(prec=significant, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN).plus(value)
    sign, digit_tuple, exp = value.as_tuple()
    assert isinstance(exp, int)
    coefficient = "".join(map(str, digit_tuple))
    digits = coefficient.rstrip("0")
    exp += len(coefficient) - len(digits)
    adjusted = exp + len(digits) - 1
    minus = "-" if sign else ""
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    if not exponent:
        return f"{minus}{mantissa}e{adjusted:+03d}"
    power = exponent_value(exponent)
    assert power is not None, "exponents are checked when parsed"
    return f"{minus}{mantissa}e{adjusted + power}"


# Beyond this power of ten no decimal is a finite, normal float (they end near 1.8e308
# and 2.2e-308); within it, converting tells.
_FLOAT_EXPONENT_LIMIT = 308
# Significant digits every decimal of which a float holds and gives back (DBL_DIG).
FLOAT_DIGITS = 15
# Within 10**±280, numbers of FLOAT_DIGITS digits and their sums stay normal floats.
_FLOAT_EXPONENT = 280


def float_faithful(digits: int, *numbers: Decimal) -> bool:
    """Whether ``repr(float(v))`` writes every sum of multiples of ``numbers`` exactly.

    True when those values need at most FLOAT_DIGITS significant digits
    (``digits``, from ``significant_digits``) and stay well inside the range of
    normal floats; then ``repr`` gives the same text as ``format_decimal``,
    only faster.
    """
    return digits <= FLOAT_DIGITS and all(
        abs(number.adjusted()) <= _FLOAT_EXPONENT for number in numbers if number
    )


def significant_digits(*numbers: Decimal) -> int:
    """How many significant digits hold every sum of multiples of ``numbers``'s digits.

    That is the span from the highest leading digit to the lowest last digit
    among the non-zero numbers (zero has no digits to keep).
    """
    present = [n for n in numbers if n]
    if not present:
        return 1
    high = max(n.adjusted() for n in present)
    low = min(_last_digit(n) for n in present)
    return high - low + 1


def _last_digit(number: Decimal) -> int:
    """The power of ten of the last non-zero digit of a non-zero ``number``."""
    _, digits, exp = number.as_tuple()
    assert isinstance(exp, int)
    return exp + len(digits) - len(bytes(digits).rstrip(b"\0"))


def fits(number: Decimal) -> bool:
    """Whether a range may compute with ``number``: few enough digits, a modest exponent."""
    if not number:
        return True
    return (
        abs(number.adjusted()) <= MAX_EXPONENT
        and abs(_last_digit(number)) <= MAX_EXPONENT
        and significant_digits(number) <= MAX_DIGITS
    )
