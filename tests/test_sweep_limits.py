"""Issue "Hardening" §4 items 3 and 4: collected overrides, lazy products, linear parsing."""

from __future__ import annotations

import contextlib
import itertools
import tracemalloc
from collections.abc import Callable, Iterator

import pytest
from conftest import assert_linear, fault
from hypothesis import given
from hypothesis import strategies as st

from hydraflow import SweepError, collect, count, expand
from hydraflow.sweep.limits import MAX_COLLECTED
from hydraflow.sweep.values import CACHE_LIMIT, product

# -- 3. sizes: what one override may collect ----------------------------------------------------


def test_all_refuses_more_than_max_collected_before_building_anything() -> None:
    tracemalloc.start()
    try:
        error = fault("seed=1 x=0:10000000000", collect)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # the values would need tens of gigabytes
    assert f"at most {MAX_COLLECTED:,} values" in str(error)
    assert "10,000,000,001" in str(error)
    assert error.pos == 7
    assert error.caret().splitlines()[1] == "         ^"


def test_the_limit_is_inclusive() -> None:
    assert len(collect(f"x=1:{MAX_COLLECTED}")[0].split(",")) == MAX_COLLECTED
    assert "at most" in str(fault(f"x=0:{MAX_COLLECTED}", collect))


def test_a_pipe_section_has_the_same_limit() -> None:
    error = fault("a=1 x=1|0:10000000000")
    assert f"at most {MAX_COLLECTED:,} values" in str(error) and error.pos == 8
    assert "more than 10^100" in str(fault("x=1|" + "(0:9)" * 101))


def test_all_refuses_an_override_of_too_many_characters() -> None:
    error = fault("x=(0:99)" + "a" * 200_000, collect)
    assert "characters" in str(error) and error.pos == 0


def test_each_stays_lazy_and_unbounded() -> None:
    assert count("x=0:10000000000") == 10**10 + 1
    assert next(expand("x=0:10000000000 y=1:10000000000")) == ["x=0", "y=1"]


def test_sweep_sizes_beyond_a_googol_are_refused_not_computed() -> None:
    assert "more than 10^100" in str(fault("x=" + "(0:9)" * 100_000))
    assert fault(" ".join(["x=0:9"] * 101)).pos == 6 * 100
    assert count(" ".join(["x=0:9"] * 100)) == 10**100
    # Computing 10^100000 digit by digit would grow with the square of the groups.
    assert_linear(lambda size: fault("x=" + "(0:9)" * size), 50_000)


class _Counted:
    """An axis that says how often it is iterated."""

    def __init__(self, size: int, width: int) -> None:
        self._size, self._width, self.passes = size, width, 0

    def size(self) -> int:
        return self._size

    def width(self) -> int:
        return self._width

    def __iter__(self) -> Iterator[str]:
        self.passes += 1
        return iter(["v"] * self._size)


@pytest.mark.parametrize(("size", "width", "held"), [(3, 10, True), (3, 10**7, False)])
def test_product_holds_only_small_axes(size: int, width: int, held: bool) -> None:
    inner = _Counted(size, width)
    combos = list(product([_Counted(4, 1), inner]))
    assert len(combos) == 4 * size
    assert inner.passes == (1 if held else 4)
    assert size < CACHE_LIMIT


class _Axis:
    """Values with a stated width: a large width makes ``product`` iterate the axis lazily."""

    def __init__(self, values: list[str], width: int) -> None:
        self.values, self._width = values, width

    def size(self) -> int:
        return len(self.values)

    def width(self) -> int:
        return self._width

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)


@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=3), st.booleans()), min_size=1, max_size=6
    )
)
def test_product_matches_itertools_whichever_axes_are_lazy(shape: list[tuple[int, bool]]) -> None:
    axes = [
        _Axis([f"{i}.{j}" for j in range(n)], 10**7 if lazy else 1)
        for i, (n, lazy) in enumerate(shape)
    ]
    expected = list(itertools.product(*(axis.values for axis in axes)))
    assert list(product(axes)) == expected
    assert list(product(axes)) == expected


def test_product_with_many_lazy_axes_needs_no_recursion() -> None:
    axes = [_Counted(2, 10**7) for _ in range(2000)]
    assert next(product(axes)) == ("v",) * 2000


# -- 4. long expressions parse in linear time -------------------------------------------------

LONG = 1_000_000  # a quadratic scan takes minutes; a linear one a fraction of a second

LONG_WORDS: dict[str, Callable[[int], str]] = {
    "plain": lambda n: "x=" + "a" * n,
    "quoted": lambda n: "x='" + "a" * n + "'",
    "escapes": lambda n: 'x="' + "a\\\\" * (n // 3) + '"',
    "digits": lambda n: "x=1:" + "1" * n + "x",
    "nested": lambda n: "x=" + "(" * 30 + "a," * (n // 2) + "a" + ")" * 30,
    "groups": lambda n: "x=" + "(a)" * (n // 3),
    "commas": lambda n: "x=" + "a," * (n // 2) + "a",
    "lists": lambda n: "x=" + "[a,(b)]" * (n // 7),
    "zeros": lambda n: "x=" + "0" * n + ":k",
}


@pytest.mark.parametrize("kind", LONG_WORDS)
def test_a_megabyte_word_parses_in_linear_time(kind: str) -> None:
    """The old scans were quadratic: minutes for one such word."""

    def parse(size: int) -> None:
        with contextlib.suppress(SweepError):
            count(LONG_WORDS[kind](size))

    assert_linear(parse, LONG)
