"""Value nodes: lazily enumerable sequences of strings that know their length.

A parsed sweep is a tree of these. ``size()`` never enumerates, so counting a
sweep costs as much as reading its expression; iteration is a generator, so a
sweep of millions of values streams in constant memory.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
INTEGER = re.compile(r"[+-]?\d+")
EXPONENT = re.compile(r"[eE][+-]?\d+")

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

# An axis longer than this is iterated afresh instead of held in memory while
# it is crossed with others; shorter ones are cached once as tuples because
# itertools.product over tuples is several times faster than re-iterating.
CACHE_LIMIT = 1 << 16


class Node(Protocol):
    """A re-iterable sequence of values that knows its size without enumerating.

    ``size()`` rather than ``len()``: a sweep may hold more values than
    ``len()`` can report (it is capped at ``sys.maxsize``).
    """

    def size(self) -> int: ...

    def __iter__(self) -> Iterator[str]: ...


def format_decimal(value: Decimal) -> str:
    """Write an exactly computed value the way Python writes the float, minus a trailing .0."""
    if not value:
        return "0"
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def with_exponent(value: str, exponent: str) -> str:
    """Append an exponent, except to zero, which is written ``0``."""
    if not exponent:
        return value
    if is_zero(value):
        return "0"
    return value + exponent


def is_zero(value: str) -> bool:
    return NUMBER.fullmatch(value) is not None and Decimal(value) == 0


@dataclass(frozen=True, slots=True)
class Literal:
    text: str

    def size(self) -> int:
        return 1

    def __iter__(self) -> Iterator[str]:
        yield self.text


@dataclass(frozen=True, slots=True)
class IntRange:
    start: int
    step: int
    length: int
    exponent: str = ""

    def size(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[str]:
        stop = self.start + self.step * self.length
        values = map(str, range(self.start, stop, self.step))
        if not self.exponent:
            return values
        return (with_exponent(v, self.exponent) for v in values)


@dataclass(frozen=True, slots=True)
class DecimalRange:
    start: Decimal
    step: Decimal
    length: int
    exponent: str = ""

    def size(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[str]:
        # start + i*step rather than repeated addition: exact, and no drift.
        for i in range(self.length):
            yield with_exponent(format_decimal(self.start + self.step * i), self.exponent)


@dataclass(frozen=True, slots=True)
class LogRange:
    """``size`` values spaced evenly on a log scale from ``start`` to ``stop``."""

    start: Decimal
    stop: Decimal
    length: int

    def size(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[str]:
        low, high = math.log10(self.start), math.log10(self.stop)
        last = self.length - 1
        for i in range(self.length):
            if i == 0:
                yield format_decimal(self.start)
            elif i == last:
                yield format_decimal(self.stop)
            else:
                value = 10 ** (low + (high - low) * i / last)
                # 15 significant digits drop the noise of the float power.
                yield format_decimal(Decimal(f"{value:.15g}"))


@dataclass(frozen=True, slots=True)
class Union:
    """A comma list: the values of each item, one item after the other."""

    items: tuple[Node, ...]

    def size(self) -> int:
        return sum(item.size() for item in self.items)

    def __iter__(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self.items)


@dataclass(frozen=True, slots=True)
class Concat:
    """Parenthesised parts: every combination of the parts, concatenated."""

    parts: tuple[Node, ...]

    def size(self) -> int:
        return math.prod(part.size() for part in self.parts)

    def __iter__(self) -> Iterator[str]:
        return map("".join, product(self.parts))


@dataclass(frozen=True, slots=True)
class Suffixed:
    """Every value of ``node`` with an exponent appended (prefix notation)."""

    node: Node
    exponent: str

    def size(self) -> int:
        return self.node.size()

    def __iter__(self) -> Iterator[str]:
        return (with_exponent(value, self.exponent) for value in self.node)


class Axis(Protocol[T_co]):
    """Anything with a size that can be iterated again and again."""

    def size(self) -> int: ...

    def __iter__(self) -> Iterator[T_co]: ...


def product(axes: Sequence[Axis[T]]) -> Iterator[tuple[T, ...]]:
    """``itertools.product`` with the leftmost axis slowest, never materialising a long axis."""
    return _product([tuple(axis) if axis.size() <= CACHE_LIMIT else axis for axis in axes])


def _product(axes: Sequence[Axis[T] | tuple[T, ...]]) -> Iterator[tuple[T, ...]]:
    lazy = next((i for i, axis in enumerate(axes) if not isinstance(axis, tuple)), None)
    if lazy is None:
        yield from itertools.product(*axes)
        return
    tail = axes[lazy + 1 :]
    for left in itertools.product(*axes[:lazy]):
        for value in axes[lazy]:
            for right in _product(tail):
                yield (*left, value, *right)
