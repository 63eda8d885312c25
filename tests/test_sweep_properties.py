"""Property tests: counts agree with enumeration, ranges are inclusive and monotonic,
products have the right size and order, and no input makes the engine misbehave."""

from __future__ import annotations

import itertools
import shlex
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from hydraflow import SweepError, collect, count, expand
from hydraflow.sweep.shell import split_words

small_int = st.integers(min_value=-50, max_value=50)
positive_step = st.integers(min_value=1, max_value=7)


@given(small_int, st.integers(min_value=0, max_value=60), positive_step)
def test_integer_ranges_are_inclusive_and_monotonic(start: int, span: int, step: int) -> None:
    stop = start + span
    got = [int(v) for v in _values(f"x={start}:{stop}:{step}")]
    assert got == list(range(start, stop + 1, step))
    assert (stop in got) == (span % step == 0)
    assert all(a < b for a, b in itertools.pairwise(got))


@given(small_int, st.integers(min_value=0, max_value=60), positive_step)
def test_negative_steps_run_down(start: int, span: int, step: int) -> None:
    got = [int(v) for v in _values(f"x={start + span}:{start}:-{step}")]
    assert got == list(range(start + span, start - 1, -step))


decimals = st.decimals(min_value=-5, max_value=5, places=2, allow_nan=False, allow_infinity=False)
decimal_steps = st.decimals(min_value=Decimal("0.01"), max_value=2, places=2)


@given(decimals, st.integers(min_value=0, max_value=40), decimal_steps)
def test_decimal_ranges_are_exact_inclusive_and_monotonic(
    start: Decimal, steps: int, step: Decimal
) -> None:
    stop = start + step * steps
    got = [Decimal(v) for v in _values(f"x={start}:{stop}:{step}")]
    assert len(got) == steps + 1
    assert got[0] == start and got[-1] == stop
    assert all(b - a == step for a, b in itertools.pairwise(got))


word = st.text(alphabet="abcxyz019", min_size=1, max_size=4)
token = st.builds(
    lambda key, vals: f"{key}={','.join(vals)}",
    st.sampled_from(["a", "b", "c.d", "+e", "f/g"]),
    st.lists(st.one_of(word, st.just("1:3"), st.just("(p,q)r")), min_size=1, max_size=3),
)


@given(st.lists(token, min_size=0, max_size=4))
@settings(max_examples=200)
def test_count_matches_enumeration(tokens: list[str]) -> None:
    expr = " ".join(tokens)
    assert count(expr) == len(list(expand(expr)))


@given(st.lists(st.lists(word, min_size=1, max_size=4, unique=True), min_size=1, max_size=4))
def test_products_have_the_right_size_and_order(lists: list[list[str]]) -> None:
    expr = " ".join(f"k{i}={','.join(values)}" for i, values in enumerate(lists))
    expected = [[f"k{i}={v}" for i, v in enumerate(combo)] for combo in itertools.product(*lists)]
    assert list(expand(expr)) == expected


@given(st.text(max_size=40))
@settings(max_examples=600, deadline=2000)
def test_any_text_expands_or_raises_sweep_error(text: str) -> None:
    for function in (_take_some, collect, count):
        try:
            function(text)
        except SweepError as error:
            assert 0 <= error.pos <= len(text)
            assert "\n" not in str(error)


@given(st.text(alphabet="a=1:,()[]{}'\"|/\\ km.-e~+", max_size=30))
@settings(max_examples=800, deadline=2000)
def test_syntax_soup_expands_or_raises_sweep_error(text: str) -> None:
    test_any_text_expands_or_raises_sweep_error.hypothesis.inner_test(text)  # type: ignore[attr-defined]


@given(st.text(alphabet="ab '\"\\\t\n=", max_size=25))
@settings(max_examples=500)
def test_words_split_like_shlex(text: str) -> None:
    try:
        expected = shlex.split(text)
    except ValueError:
        expected = None
    try:
        got = [w.text for w in split_words(text)]
    except SweepError:
        got = None
    assert got == expected


def _take_some(expr: str) -> None:
    for _ in itertools.islice(expand(expr), 1000):
        pass


def _values(expr: str) -> list[str]:
    return [combo[0].split("=", 1)[1] for combo in expand(expr)]
