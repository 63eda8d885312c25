"""Issues "Two spec gaps" 1 and "Hardening" §4 items 2, 5: zeros, number limits, exact values."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from decimal import Decimal, localcontext

import pytest
from conftest import fault
from hypothesis import given, settings
from hypothesis import strategies as st

from hydraflow import collect, count, expand
from hydraflow.sweep.limits import MAX_DEPTH
from hydraflow.sweep.numbers import format_decimal


def values(expr: str) -> list[str]:
    return [combo[0].split("=", 1)[1] for combo in expand(expr)]


# -- 1. zero is written 0 wherever an exponent is attached ---------------------------------

# Written independently of the engine: a zero mantissa (any spelling) and an
# exponent; any mantissa and two exponents.
ZERO_WITH_EXPONENT = re.compile(r"[+-]?(0+\.?0*|\.0+)([eE][+-]?[0-9]+)+")
TWO_EXPONENTS = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+){2,}")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("w=(0,1)k", ["0", "1e3"]),
        ("w=(0.0,-0,00,.0,0.,+0)k", ["0"] * 6),
        ("w=(0e5)k", ["0"]),
        ("x=(1,0)(0,1)k", ["10e3", "11e3", "0", "01e3"]),
        ("x=0e(1,2)", ["0", "0"]),
        ("x=2e(-1,-2)", ["2e-1", "2e-2"]),
        ("x=(0,1)e5", ["0", "1e5"]),
        ("x=(0,1)(e5)", ["0", "1e5"]),
        ("x=-0e(5)", ["0"]),
        ("x=a(0,1)k", ["a0e3", "a1e3"]),
        ("x=(0,1)_k", ["0_k", "1_k"]),
        ("lr/m=(0,0.0,1)", ["0", "0", "1e-3"]),
        ("lr/m=(0,1)(0,1)", ["0", "01e-3", "10e-3", "11e-3"]),
        ("lr/k=0.0,-0,00,.0", ["0"] * 4),
        ("x=0.0:k", ["0"]),
        ("x=-0:1:k", ["0", "1e3"]),
        ("x=0.0:1:0.5:k", ["0", "0.5e3", "1e3"]),
        ("x=-1:1:0.5:m", ["-1e-3", "-0.5e-3", "0", "0.5e-3", "1e-3"]),
        ("lr/u=-0.0:1", ["0", "1e-6"]),
        # Exponents attached to a value that has one make one number.
        ("x=(1e20:3e20:1e20)k", ["1e23", "2e23", "3e23"]),
        ("lr/m=(1e20:2e20:1e20)", ["1e17", "2e17"]),
        ("x=(log(1e-10:1e-5:3))k", ["1e-7", "3.162277660168379e-5", "1e-2"]),
        ("lr/m=(1e5,-2E+3)", ["1e2", "-2e0"]),
        ("x=(1,2)e5(e3)", ["1e8", "2e8"]),
        ("x=1e3:k", ["1000e3"]),  # as `1e3:1e3:k` writes it
        ("x=2e(-1)k", ["2e2"]),  # `e-1` is written across two pieces, but whole
        ("x=(2)e(1)e(3)", ["2e4"]),
        # An `e` that meets the digits of a number in the next piece is not an exponent
        # anyone wrote: summing `2e2e-3` would give `2e-1` twice.
        ("x=2e(-1,2e-3)", ["2e-1", "2e2e-3"]),
        ("x=(1,2)e(2e-3)", ["1e2e-3", "2e2e-3"]),
        ("x=0e(2e-3)", ["0"]),  # zero, however it is read
        ("x=(0e1)(2e3)k", ["0"]),
        # Nothing is attached: literals and lone groups stay as written.
        ("x=0e5", ["0e5"]),
        ("x=(0e5)", ["0e5"]),
        ("x=(0,1)(0,1)", ["00", "01", "10", "11"]),
    ],
)
def test_zero_is_written_0_where_an_exponent_is_attached(expr: str, expected: list[str]) -> None:
    assert values(expr) == expected


def test_a_power_too_long_to_add_stays_as_written() -> None:
    assert values("x=(1e5)e" + "9" * 30) == ["1e5e" + "9" * 30]


def test_zero_in_collect() -> None:
    assert collect("w=(0,1)k lr/m=0,1 x=0:2:k") == ["w=0,1e3", "lr=0,1e-3", "x=0,1e3,2e3"]


zero_spellings = st.sampled_from(["0", "00", "0.0", "-0", ".0", "0.", "+0", "-0.00", "000.000"])
mantissas = st.one_of(zero_spellings, st.sampled_from(["1", "-2", "0.5", "10", "01", "7.25"]))
# Inside a group a number may bring its own exponent (a bare literal may not).
grouped = st.one_of(mantissas, st.sampled_from(["1e3", "2E-2", "0e5", "-0.0e1", "5e+20"]))
exponents = st.sampled_from(["k", "m", "M", "u", "G", "e3", "e-2", "E5", "e+4"])
si = st.sampled_from(["k", "m", "M", "u", "G"])


def _group(items: list[str]) -> str:
    return "(" + ",".join(items) + ")"


attached = st.one_of(
    st.builds(lambda ms, p: f"x={_group(ms)}{p}", st.lists(grouped, min_size=1, max_size=3), si),
    st.builds(
        lambda a, b, p: f"x={_group(a)}{_group(b)}{p}",
        st.lists(grouped, min_size=1, max_size=2),
        st.lists(mantissas, min_size=1, max_size=2),
        si,
    ),
    st.builds(
        lambda m, es: f"x={m}e{_group(es)}",
        mantissas,
        st.lists(st.sampled_from(["1", "-2", "+3", "0"]), min_size=1, max_size=3),
    ),
    st.builds(lambda ms, e: f"x={_group(ms)}{e}", st.lists(grouped, min_size=1), exponents),
    st.builds(lambda ms, p: f"lr/{p}={','.join(ms)}", st.lists(mantissas, min_size=1), si),
    st.builds(lambda ms, p: f"lr/{p}={_group(ms)}", st.lists(grouped, min_size=1), si),
    st.builds(lambda p: f"x=(1e20:3e20:1e20,log(1e-9:1e-5:3),0.00001:0.00003:0.00001){p}", si),
    st.builds(lambda m, p: f"x={m}:{p}", mantissas, exponents),
    st.builds(
        lambda a, n, s, p: f"x={a}:{Decimal(a) + Decimal(s) * n}:{s}:{p}",
        st.sampled_from(["0", "-1", "-0.5", "0.0", "-2"]),
        st.integers(min_value=0, max_value=8),
        st.sampled_from(["0.25", "0.5", "1", "0.1"]),
        exponents,
    ),
    st.builds(lambda a, p: f"lr/{p}={a}:{a.lstrip('-+') or '0'}", zero_spellings, si),
    st.builds(lambda p: f"lr/{p}=log(1e-3:1:4)", si),
)


@given(attached)
@settings(max_examples=400, deadline=2000)
def test_attached_exponents_make_one_number(expr: str) -> None:
    got = values(expr) + collect(expr)[0].split("=", 1)[1].split(",")
    assert not [v for v in got if ZERO_WITH_EXPONENT.fullmatch(v)], expr
    assert not [v for v in got if TWO_EXPONENTS.fullmatch(v)], expr


# -- 2. numbers beyond Python's limits -------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "message", "caret_at"),
    [
        ("x=0:1e1000000", "number out of range", 4),
        ("x=1:" + "1" * 4400, "number out of range", 4),
        ("x=" + "1" * 4400 + ":5", "number out of range", 2),
        ("x=1:2:0." + "0" * 4400 + "1", "at most 100 significant digits", 2),
        ("x=1e99999999999999999999:2", "number out of range", 2),
        ("x=log(1:" + "2" * 4400 + ":3)", "number out of range", 8),
        ("x=log(1:10:" + "3" * 4400 + ")", "at most 10^100 values", 11),
        ("x=log(1:10:0)", "positive whole COUNT", 11),
        ("lr/e" + "1" * 4400 + "=1", "exponent beyond", 3),
        ("x=1:3:e" + "1" * 4400, "exponent beyond", 6),
        ("x=1e-999999:1e999999", "at most 100 significant digits", 2),
        ("x=0:1:1e-100", "at most 100 significant digits", 2),
        ("x=" + "(" * 330 + "1" + ")" * 330, f"deeper than {MAX_DEPTH} levels", 2 + MAX_DEPTH),
        ("x=" + "[" * 40 + "]" * 40, f"deeper than {MAX_DEPTH} levels", 2 + MAX_DEPTH),
        ("x=log(1:1:3)", "START and STOP to differ", 6),
        ("x=log(1:10:1" + "0" * 99 + ")", "significant digits", 6),
    ],
)
def test_numbers_beyond_pythons_limits_are_sweep_errors(
    expr: str, message: str, caret_at: int
) -> None:
    for call in (None, collect, count):
        error = fault(expr, call)
        assert message in str(error)
        assert error.pos == caret_at


def test_nesting_up_to_the_limit_works() -> None:
    assert values("x=" + "(" * MAX_DEPTH + "a,b" + ")" * MAX_DEPTH) == ["a", "b"]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("x=log(1e-400:1:3)", ["1e-400", "1e-200", "1"]),
        ("x=log(1e-400:1e400:5)", ["1e-400", "1e-200", "1", "1e+200", "1e+400"]),
        ("x=0:1:1e-99", None),
        ("x=" + "1" * 4400, ["1" * 4400]),
        ("x=log(1:100:" + "0" * 4400 + "3)", ["1", "10", "100"]),
        (
            "x=1:3:e" + "0" * 4400 + "1",
            ["1e" + "0" * 4400 + "1", "2e" + "0" * 4400 + "1", "3e" + "0" * 4400 + "1"],
        ),
    ],
)
def test_numbers_python_floats_cannot_hold_still_work(
    expr: str, expected: list[str] | None
) -> None:
    got = list(itertools.islice(expand(expr), 10))
    assert count(expr) == (len(got) if expected is not None else 10**99 + 1)
    if expected is not None:
        assert [c[0].split("=", 1)[1] for c in got] == expected


# -- 5. computed exactly, written as the float; exact only beyond floats -----------------


def as_python_writes_it(value: Decimal) -> str:
    """SPEC §1, written independently of the engine: repr of the float, no ``.0``."""
    return "0" if not value else repr(float(value)).removesuffix(".0")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # More digits than a float holds: each value is the float nearest to it.
        (
            "x=12345678901234567890.5:12345678901234567892.5",
            ["1.2345678901234567e+19"] * 3,
        ),
        ("x=1:1.000000000000000003:0.000000000000000001", ["1"] * 4),
        ("x=5e3:3e20:1e20", ["5000", "1e+20", "2e+20"]),
        ("x=-3e-5:0.2e20:0.1e20", ["-3e-05", "1e+19", "2e+19"]),
        # `A:P` is one value, written as a range writes it.
        ("x=1.0:k", ["1e3"]),
        ("x=1.50:k", ["1.5e3"]),
        ("x=+1:k", ["1e3"]),
        ("x=2.5e-3:M", ["0.0025e6"]),
        # A whole start stays whole, as a range of integers writes it.
        ("x=12345678901234567891:k", ["12345678901234567891e3"]),
        ("x=-0:k", ["0"]),
        # Up to the ends of the float range, and past them exact.
        ("x=1.79e308:1.8e308:1e306", ["1.79e+308", "1.8e+308"]),
        ("x=2.3e-308:2.4e-308:1e-309", ["2.3e-308", "2.4e-308"]),
    ],
)
def test_values_are_written_as_the_float_nearest_them(expr: str, expected: list[str]) -> None:
    assert values(expr) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("x=0:1e400:1e400", ["0", "1e400"]),
        ("x=-1e400:0:1e400", ["-1e400", "0"]),
        ("x=1e-400:3e-400:1e-400", ["1e-400", "2e-400", "3e-400"]),
    ],
)
def test_values_beyond_floats_keep_their_exact_digits(expr: str, expected: list[str]) -> None:
    got = values(expr)
    assert [Decimal(v) for v in got] == [Decimal(v) for v in expected]
    assert len(set(got)) == len(got)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("x=0:1:0.25", ["0", "0.25", "0.5", "0.75", "1"]),
        ("x=1.2e-3:1.4e-3:0.1e-3", ["0.0012", "0.0013", "0.0014"]),
        ("x=1e3:3e3:1e3", ["1000", "2000", "3000"]),
        ("x=1e16:2e16:1e16", ["1e+16", "2e+16"]),
        ("x=1e-5:3e-5:1e-5", ["1e-05", "2e-05", "3e-05"]),
        ("x=0:0.0001:0.0001", ["0", "0.0001"]),
        ("x=0.1:0.5:0.2", ["0.1", "0.3", "0.5"]),
        ("x=-1.5:-0.5", ["-1.5", "-0.5"]),
        ("x=0:1e400:1e400", ["0", "1e+400"]),
        # An attached exponent joins one already there.
        ("x=1e20:3e20:1e20:k", ["1e23", "2e23", "3e23"]),
        ("x=0.00001:0.00002:0.00001:k", ["1e-2", "2e-2"]),
        ("lr/m=log(1e-10:1e-5:6)", ["1e-13", "1e-12", "1e-11", "1e-10", "1e-9", "1e-8"]),
        ("x=log(1:1000:4)", ["1", "10", "100", "1000"]),
        ("x=log(1:10:3)", ["1", "3.1622776601683795", "10"]),
        ("x=log(1:100:5)", ["1", "3.1622776601683795", "10", "31.622776601683793", "100"]),
    ],
)
def test_formatting_follows_python_repr(expr: str, expected: list[str]) -> None:
    assert values(expr) == expected


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_value_a_float_holds_is_written_as_repr_writes_it(value: float) -> None:
    text = repr(value)
    expected = "0" if value == 0 else text.removesuffix(".0")
    assert format_decimal(Decimal(text)) == expected


@given(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=0, max_value=30),
    st.integers(min_value=0, max_value=5),
)
@settings(max_examples=300)
def test_decimal_ranges_are_exact_then_written_as_floats(
    start: int, step: int, places: int, steps: int
) -> None:
    with localcontext(prec=200):
        scale = Decimal(10) ** -places
        first, by = Decimal(start) * scale, Decimal(step) * scale
        last = first + by * steps
        expected = [first + by * i for i in range(steps + 1)]
    got = values(f"x={first}:{last}:{by}")
    if places:  # whole numbers make an integer range, written as integers
        assert got == [as_python_writes_it(v) for v in expected]
    else:
        assert [int(v) for v in got] == expected
    assert not any(v in ("inf", "-inf", "nan") for v in got)


@given(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.integers(min_value=1, max_value=10**15),
    st.integers(min_value=-300, max_value=300),
    st.sampled_from(["", "k", "m", "e-7", "e20"]),
)
@settings(max_examples=300)
def test_ranges_written_through_floats_match_the_exact_writer(
    start: int, step: int, power: int, suffix: str
) -> None:
    first, by = Decimal(start).scaleb(power), Decimal(step).scaleb(power)
    expr = f"x={first}:{first + by * 3}:{by}" + (f":{suffix}" if suffix else "")
    exponent = {"k": "e3", "m": "e-3"}.get(suffix, suffix)
    with localcontext(prec=200):
        expected = [format_decimal(first + by * i, exponent) for i in range(4)]
    assert values(expr) == expected


@given(
    st.integers(min_value=2, max_value=10**30), st.sampled_from(["1:10", "1:1.000001", "1e-9:1e9"])
)
@settings(max_examples=100)
def test_log_values_never_decrease(length: int, ends: str) -> None:
    # Each is the float nearest an exact value: neighbours closer than a float
    # can tell apart are written alike, but never out of order.
    expr = f"x=log({ends}:{length})"
    got = [Decimal(v) for v in itertools.islice(values_lazily(expr), 50)]
    assert all(a <= b for a, b in itertools.pairwise(got))
    assert count(expr) == length


def values_lazily(expr: str) -> Iterator[str]:
    return (combo[0].split("=", 1)[1] for combo in expand(expr))
