"""Seeded fuzzing of the sweep engine: random expressions from the grammar's alphabet.

Any exception but SweepError from ``expand`` (and reading a few of its
combinations), ``collect`` or ``count`` fails, and so does a call taking more
than two seconds. The examples are derandomised (a fixed seed, no example
database), so every run checks the same expressions and a failure reproduces.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hydraflow import SweepError, collect, count, expand

# CPU seconds, which other work on the machine does not stretch: an input that takes
# this long is one a user would see hang (exponential cases take hours).
CPU_SECONDS_PER_CALL = 2.0
ALPHABET = "0123456789:,()[]{}|=/'\"~+-.eEkmMuGT \t\nabx_"
# The alphabet less what only ever makes errors inside one value (quotes, blanks, brackets).
WORDY = "0123456789:,|=/~+-.eEkmMuGTabx_"

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=500,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Numbers past what Python's floats, decimals and int/str conversions take,
# written as (text, repeat, text) so that no huge string sits in a strategy's repr.
huge = st.sampled_from(
    [
        ("1e1000000", 1, ""),
        ("1e999999", 1, ""),
        ("-1e-999999", 1, ""),
        ("1e-400", 1, ""),
        ("1e400", 1, ""),
        ("1e99999999999999999999", 1, ""),
        ("12345678901234567890.5", 1, ""),
        ("1.000000000000000003", 1, ""),
        ("9", 120, ""),
        ("1", 4400, ""),
        ("0.", 1, "0" * 400 + "1"),
        ("0", 5000, ""),
        ("1e", 1, "1" * 30),
    ]
).map(lambda spec: spec[0] * spec[1] + spec[2])
small = st.one_of(
    st.integers(min_value=-30, max_value=30).map(str),
    st.decimals(min_value=-20, max_value=20, places=3, allow_nan=False).map(str),
    st.sampled_from(["0", "00", "0.0", "-0", ".0", "0.", "+0", "1e3", "2e-3", "5E2"]),
)
number = st.one_of(small, small, small, huge)
suffix = st.sampled_from(["", "", "k", "m", "M", "u", "G", "T", "e-3", "e5", "K", "e"])


def _range(parts: list[str], end: str) -> str:
    return ":".join(parts) + (":" + end if end else "")


leaf = st.one_of(
    number,
    st.builds(_range, st.lists(number, min_size=1, max_size=4), suffix),
    st.builds(lambda a: ":" + a, number),
    st.builds(lambda a, b, n: f"log({a}:{b}:{n})", number, number, number),
    st.sampled_from(["a", "b_1", "[1,2]", "{a:1}", "range(1,4)", "'\"q,r\"'", "a:b", "~", "x=y"]),
    st.text(alphabet=WORDY, min_size=1, max_size=8),
    st.text(alphabet=ALPHABET, min_size=1, max_size=8),
)


def _group(inner: list[str], before: str, after: str) -> str:
    return before + "(" + ",".join(inner) + ")" + after


around = st.sampled_from(["", "", "k", "m", "e", "e5", "e-", "_", "0", "a", "-", "log", "range"])
values = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(",".join),
        st.builds(_group, st.lists(inner, min_size=1, max_size=3), around, around),
        st.builds(lambda a, b: a + b, inner, inner),
    ),
    max_leaves=12,
)
key = st.sampled_from(["x", "lr/m", "a/k", "b/e-2", "c/u", "db/engine", "+y", "~z", "m.d", "w/e9"])


def _token(k: str, v: str, more: list[str]) -> str:
    return f"{k}={v}" + "".join("|" + section for section in more)


token = st.builds(_token, key, values, st.lists(values, max_size=2))


def _nested(depth: int, inner: str, bracket: str) -> str:
    opener, closer = bracket
    return "x=" + opener * depth + inner + closer * depth


expressions = st.one_of(
    st.lists(token, min_size=1, max_size=3).map(" ".join),
    st.lists(token, min_size=1, max_size=3).map("\n  ".join),
    st.text(alphabet=ALPHABET, max_size=60),
    st.builds(lambda t: "x=" + t, st.text(alphabet=ALPHABET, max_size=60)),
    st.builds(
        _nested,
        st.one_of(st.integers(0, 6), st.integers(0, 32), st.integers(33, 400)),
        values,
        st.sampled_from(["()", "()", "[]", "{}"]),
    ),
)


def _expand_some(expr: str) -> object:
    return list(itertools.islice(expand(expr), 20))


def _timed(call: Callable[[str], object], expr: str) -> object:
    """``call(expr)``; None for a SweepError. Anything else raised fails the test."""
    started = time.process_time()
    try:
        result = call(expr)
    except SweepError as error:
        assert 0 <= error.pos <= len(expr)
        assert "\n" not in str(error)
        error.caret()
        result = None
    elapsed = time.process_time() - started
    assert elapsed < CPU_SECONDS_PER_CALL, f"{call.__name__} took {elapsed:.1f} s on {expr!r}"
    return result


@given(expressions)
@FUZZ
def test_fuzzed_expressions_expand_or_raise_sweep_error(expr: str) -> None:
    combinations = _timed(_expand_some, expr)
    total = _timed(count, expr)
    _timed(collect, expr)
    if isinstance(combinations, list) and isinstance(total, int):
        assert total >= len(combinations)
        if total <= 20:
            assert total == len(combinations)


edge = st.text(alphabet=ALPHABET, max_size=4)
# Long runs that once hit a limit or a quadratic path: digits past the int/str
# conversion limit, a failing number match, nested groups, a long log() count.
hard = st.sampled_from(
    [
        ("1:", "1", ""),
        ("1:", "1", "x"),
        ("", "9", ":1"),
        ("1:2:0.", "0", "1"),
        ("log(1:", "2", ":3)"),
        ("log(1:2:", "7", ")"),
        ("(", "(a,", ""),
        ("", "(0:9)", ""),
        ("", "(a,b)", "k"),
        ("lr/m=", "0", ""),
    ]
)
shape = st.one_of(
    st.tuples(edge, st.text(alphabet=ALPHABET, min_size=1, max_size=3), edge),
    hard,
)


@given(shape, st.one_of(st.integers(1, 100), st.integers(5_000, 20_000)))
@settings(FUZZ, max_examples=100)
def test_fuzzed_long_words_stay_fast(shape: tuple[str, str, str], repeat: int) -> None:
    head, unit, tail = shape
    expr = "x=" + head + unit * repeat + tail
    for call in (_expand_some, count, collect):
        _timed(call, expr)
