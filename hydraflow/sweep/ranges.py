"""Ranges (``A:B:S:P``) and ``log(A:B:N)``: numbers checked and sized when parsed.

Everything that could fail on a number (too many digits, an exponent Python's
decimals cannot hold, a log of zero) is found here, before any value is made,
so ``count`` and ``expand`` agree and iteration never raises.
"""

from __future__ import annotations

import decimal
import re
from decimal import Context, Decimal, InvalidOperation

from hydraflow.sweep.errors import shown
from hydraflow.sweep.limits import MAX_DIGITS, MAX_EXPONENT, MAX_SIZE, MAX_SIZE_TEXT
from hydraflow.sweep.numbers import (
    EXACT,
    EXPONENT,
    FLOAT_DIGITS,
    INTEGER,
    NUMBER,
    SI_EXPONENTS,
    exponent_value,
    fits,
    float_faithful,
    format_decimal,
    significant_digits,
    with_exponent,
)
from hydraflow.sweep.structure import Fault
from hydraflow.sweep.values import DecimalRange, IntRange, Literal, LogRange, Node

Span = tuple[int, int]

# A whole number this short has fewer digits than MAX_DIGITS: no checks needed.
_WHOLE = re.compile(rf"[+-]?\d{{1,{MAX_DIGITS}}}")
# Nor does a number of this many characters without an exponent.
_SHORT = 20
# Enough to know the order of magnitude of a log step (a log is correctly
# rounded at any precision), and twenty times cheaper than EXACT's.
_ESTIMATE = Context(prec=30, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)

# log() writes the values between its ends with this many significant digits
# (as many as a float keeps exactly), more only when the range is so dense
# that neighbours would round alike.
LOG_DIGITS = FLOAT_DIGITS


class RangeParser:
    """Builds range and log nodes from spans of ``text``; errors through ``fault``."""

    def __init__(self, text: str, fault: Fault) -> None:
        self.text = text
        self.fault = fault

    def suffix(self, lo: int, hi: int) -> str:
        """The exponent an SI letter or ``eN`` stands for; "" if the text is neither."""
        text = self.text[lo:hi]
        exponent = SI_EXPONENTS.get(text) or (text if EXPONENT.fullmatch(text) else "")
        if exponent and exponent_value(exponent) is None:
            raise self.fault(f"exponent beyond ±{MAX_EXPONENT}", lo)
        return exponent

    def range(self, lo: int, fields: list[Span], exponent: str) -> Node:
        text = self.text
        last_lo, last_hi = fields[-1]
        own = self.suffix(last_lo, last_hi)
        if own:
            if exponent:
                raise self.fault("exponent given twice", last_lo)
            exponent = own
            fields = fields[:-1]
        elif text[last_lo:last_hi].isalpha():
            raise self.fault(f"unknown suffix {shown(text[last_lo:last_hi])}", last_lo)
        if len(fields) > 3:
            raise self.fault("a range takes at most three numbers: START:STOP:STEP", fields[3][0])
        if len(fields) > 1 and all(
            _WHOLE.fullmatch(text[a:b]) or (i == 0 and a == b) for i, (a, b) in enumerate(fields)
        ):
            return self.int_range(lo, fields, exponent)
        # An empty start means 0 (":5"); any other empty field is an error.
        numbers = [
            Decimal(0) if i == 0 and a == b else self.number(a, b)
            for i, (a, b) in enumerate(fields)
        ]
        if len(fields) == 1:  # `A:P`: one value, written as a range writes it
            a, b = fields[0]
            if INTEGER.fullmatch(text[a:b] or "0"):  # as the integers of an integer range
                return Literal(with_exponent(str(int(numbers[0])), exponent))
            return Literal(format_decimal(numbers[0], exponent))
        start, stop, step = (*numbers, Decimal(1)) if len(numbers) == 2 else numbers
        digits = significant_digits(start, stop, step)
        if digits > MAX_DIGITS:
            raise self.fault(
                f"a range works with at most {MAX_DIGITS} significant digits,"
                f" this one needs {digits}",
                lo,
            )
        self.check_direction(start, stop, step, fields, lo)
        # Within MAX_DIGITS digits the quotient is exact, at most 10**MAX_DIGITS.
        size = int(EXACT.divide_int(EXACT.subtract(stop, start), step)) + 1
        self.check_size(size, lo)
        if all(INTEGER.fullmatch(text[a:b] or "0") for a, b in fields):
            return IntRange(int(start), int(step), size, exponent)
        faithful = float_faithful(digits, start, stop, step)
        return DecimalRange(start, step, size, digits, faithful, exponent)

    def int_range(self, lo: int, fields: list[Span], exponent: str) -> Node:
        """A range of whole numbers short enough to need no check of their digits."""
        numbers = [int(self.text[a:b] or "0") for a, b in fields]
        start, stop, step = (*numbers, 1) if len(numbers) == 2 else numbers
        self.check_direction(start, stop, step, fields, lo)
        size = (stop - start) // step + 1
        self.check_size(size, lo)
        return IntRange(start, step, size, exponent)

    def check_direction(
        self,
        start: Decimal | int,
        stop: Decimal | int,
        step: Decimal | int,
        fields: list[Span],
        lo: int,
    ) -> None:
        if step == 0:
            raise self.fault("step cannot be zero", fields[2][0])
        if stop != start and (stop > start) != (step > 0):
            raise self.fault(f"range runs the wrong way: {start} to {stop} by {step}", lo)

    def check_size(self, size: int, lo: int) -> None:
        if size > MAX_SIZE:
            raise self.fault(f"a range has at most {MAX_SIZE_TEXT} values", lo)

    def log(self, lo: int, hi: int, fields: list[Span], exponent: str) -> Node:
        if len(fields) != 3:
            raise self.fault("log() takes START:STOP:COUNT", lo)
        (a, b), (c, d), (e, f) = fields
        start, stop = self.number(a, b), self.number(c, d)
        count = self.text[e:f]
        whole = count.lstrip("+-").lstrip("0")
        if not INTEGER.fullmatch(count) or count.startswith("-") or not whole:
            raise self.fault(f"log() needs a positive whole COUNT, got {shown(count)}", e)
        if len(whole) > len(str(MAX_SIZE)) or int(whole) > MAX_SIZE:
            raise self.fault(f"log() makes at most {MAX_SIZE_TEXT} values", e)
        if start <= 0 or stop <= 0:
            raise self.fault("log() needs START and STOP above zero", lo)
        length = int(whole)
        if length == 1:
            return LogRange(start, stop, 1, LOG_DIGITS, exponent)
        if start == stop:
            raise self.fault("log() of more than one value needs START and STOP to differ", lo)
        # Neighbours differ by a factor 10**step; with 2 - log10(step) digits
        # their rounding errors are a tenth of that gap, so no two round alike.
        step = abs(_ESTIMATE.divide(_ESTIMATE.log10(EXACT.divide(stop, start)), length - 1))
        digits = max(LOG_DIGITS, 2 - step.adjusted())
        if digits > MAX_DIGITS:
            raise self.fault(
                f"log() values this close need {digits} significant digits, more than {MAX_DIGITS}",
                lo,
            )
        return LogRange(start, stop, length, digits, exponent)

    def number(self, lo: int, hi: int) -> Decimal:
        if lo == hi:
            raise self.fault("missing number", lo)
        value = self.text[lo:hi]
        if not NUMBER.fullmatch(value):
            raise self.fault(f"invalid number {shown(value)}", lo)
        if len(value) <= _SHORT and "e" not in value and "E" not in value:
            return Decimal(value)
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is None or not fits(number):
            raise self.fault(
                f"number out of range: at most {MAX_DIGITS} significant digits,"
                f" exponents within ±{MAX_EXPONENT}",
                lo,
            )
        # Zero keeps no exponent: `0e999999999` computes like `0`.
        return number if number else Decimal(0)
