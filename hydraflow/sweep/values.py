"""Value nodes: lazily enumerable sequences of strings that know their length.

A parsed sweep is a tree of these. ``size()`` never enumerates (the parser
works sizes out once, as it builds the tree), so counting a sweep costs as
much as reading its expression; iteration is a generator, so a sweep of
millions of values streams in constant memory. ``width()`` bounds the length
of any one value, which says what holding a node's values would cost.
"""

from __future__ import annotations

import decimal
import functools
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Protocol, TypeVar

from hydraflow.sweep.limits import MAX_SIZE
from hydraflow.sweep.numbers import EXACT, format_decimal, joined_number, with_exponent

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

# An axis with more values than this, or more characters than CACHE_CHARS, is
# iterated afresh instead of held in memory while it is crossed with others;
# smaller ones are cached once as tuples because itertools.product over tuples
# is several times faster than re-iterating.
CACHE_LIMIT = 1 << 16
CACHE_CHARS = 1 << 22

# What a size saturates at: "more than MAX_SIZE", which the parser refuses.
# Saturating keeps the arithmetic on sizes cheap however many groups there are.
TOO_MANY = MAX_SIZE + 1


class Node(Protocol):
    """A re-iterable sequence of values that knows its size without enumerating.

    ``size()`` rather than ``len()``: a sweep may hold more values than
    ``len()`` can report (it is capped at ``sys.maxsize``).
    """

    def size(self) -> int: ...

    def width(self) -> int: ...

    def __iter__(self) -> Iterator[str]: ...


def size_of_product(sizes: Iterable[int]) -> int:
    total = 1
    for size in sizes:
        total *= size
        if total > MAX_SIZE:
            return TOO_MANY
    return total


@dataclass(frozen=True, slots=True)
class Literal:
    text: str

    def size(self) -> int:
        return 1

    def width(self) -> int:
        return len(self.text)

    def __iter__(self) -> Iterator[str]:
        yield self.text


@dataclass(frozen=True, slots=True)
class Literals:
    """Several literal values, held as one tuple."""

    texts: tuple[str, ...]
    widest: int

    @staticmethod
    def of(texts: Sequence[str]) -> Node:
        if len(texts) == 1:
            return Literal(texts[0])
        return Literals(tuple(texts), max(map(len, texts)))

    def size(self) -> int:
        return len(self.texts)

    def width(self) -> int:
        return self.widest

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts)


@dataclass(frozen=True, slots=True)
class IntRange:
    start: int
    step: int
    length: int
    exponent: str = ""

    def size(self) -> int:
        return self.length

    def width(self) -> int:
        last = self.start + self.step * (self.length - 1)
        return max(len(str(self.start)), len(str(last))) + len(self.exponent)

    def __iter__(self) -> Iterator[str]:
        stop = self.start + self.step * self.length
        values = map(str, range(self.start, stop, self.step))
        if not self.exponent:
            return values
        exponent = self.exponent
        return (v + exponent if v != "0" else v for v in values)


# Room in a written number beyond its digits: sign, "0.", the leading zeros of
# positional notation, "e-" and the exponent.
_NOTATION = 32


@dataclass(frozen=True, slots=True)
class DecimalRange:
    """``start + i*step`` for ``i`` below ``length``, computed exactly.

    ``faithful`` says every value is one a float holds exactly (see
    ``float_faithful``): those are written through ``repr(float)``, which
    gives the same text as ``format_decimal`` in a third of the time.
    """

    start: Decimal
    step: Decimal
    length: int
    digits: int
    faithful: bool
    exponent: str = ""

    def size(self) -> int:
        return self.length

    def width(self) -> int:
        return self.digits + _NOTATION + len(self.exponent)

    def __iter__(self) -> Iterator[str]:
        # start + i*step rather than repeated addition: exact, and no drift.
        add, multiply = EXACT.add, EXACT.multiply
        start, step, exponent = self.start, self.step, self.exponent
        if not self.faithful:
            for i in range(self.length):
                yield format_decimal(add(start, multiply(step, i)), exponent)
            return
        for i in range(self.length):
            value = add(start, multiply(step, i))
            text = repr(float(value))
            if not value or "e" in text:
                # Zero (no "-0"), and scientific notation, which an exponent joins.
                yield format_decimal(value, exponent)
            else:
                yield (text[:-2] if text.endswith(".0") else text) + exponent


@dataclass(frozen=True, slots=True)
class LogRange:
    """``length`` values spaced evenly on a log scale from ``start`` to ``stop``.

    Every value is written as ``format_decimal`` writes it: as the float
    nearest to it, like the ends. Beyond the range of floats the values
    between keep ``digits`` significant digits, which the parser makes large
    enough (15, or more for a very dense range) that no two round alike.
    """

    start: Decimal
    stop: Decimal
    length: int
    digits: int
    exponent: str = ""

    def size(self) -> int:
        return self.length

    def width(self) -> int:
        return max(
            self.digits, len(self.start.as_tuple().digits), len(self.stop.as_tuple().digits)
        ) + (_NOTATION + len(self.exponent))

    def __iter__(self) -> Iterator[str]:
        yield format_decimal(self.start, self.exponent)
        last = self.length - 1
        if last == 0:
            return
        # Each value is the one before times a constant ratio, carried at twice
        # the digits written so that the error of many steps stays invisible.
        wide = Context(prec=2 * self.digits + 20, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
        ratio = wide.power(wide.divide(self.stop, self.start), wide.divide(1, last))
        value = self.start
        for _ in range(last - 1):
            value = wide.multiply(value, ratio)
            yield format_decimal(value, self.exponent, self.digits)
        yield format_decimal(self.stop, self.exponent)


@dataclass(frozen=True, slots=True)
class Union:
    """A comma list: the values of each item, one item after the other."""

    items: tuple[Node, ...]
    length: int
    widest: int

    @classmethod
    def of(cls, items: Sequence[Node]) -> Union:
        return cls(
            tuple(items),
            min(sum(item.size() for item in items), TOO_MANY),
            max(item.width() for item in items),
        )

    def size(self) -> int:
        return self.length

    def width(self) -> int:
        return self.widest

    def __iter__(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self.items)


@dataclass(frozen=True, slots=True)
class Concat:
    """Parenthesised parts: every combination of the parts, concatenated.

    A value that reads as a number with exponents attached is made one number
    (``joined_number``), as everywhere an exponent is attached: ``(0,1)k`` gives
    ``0`` and ``1e3``; ``0e(1,2)`` gives ``0``; ``(1e20:2e20:1e20)k`` gives
    ``1e23``. The check is on the whole value, so ``(1,0)(0,1)k`` keeps
    ``10e3`` and ``01e3`` but writes ``00e3`` as ``0``; text that is not a
    number (``a0e3``) stays as it is, and so does one whose exponents no one wrote
    as exponents (``2e(2e-3)`` is ``2e2e-3``, not ``2e-1``).
    """

    parts: tuple[Node, ...]
    length: int
    widest: int

    @classmethod
    def of(cls, parts: Sequence[Node]) -> Concat:
        return cls(
            tuple(parts),
            size_of_product(part.size() for part in parts),
            sum(part.width() for part in parts),
        )

    def size(self) -> int:
        return self.length

    def width(self) -> int:
        return self.widest

    def __iter__(self) -> Iterator[str]:
        return map(joined_number, product(self.parts))


@dataclass(frozen=True, slots=True)
class Suffixed:
    """Every value of ``node`` with an exponent appended (prefix notation)."""

    node: Node
    exponent: str

    def size(self) -> int:
        return self.node.size()

    def width(self) -> int:
        return self.node.width() + len(self.exponent)

    def __iter__(self) -> Iterator[str]:
        return (with_exponent(value, self.exponent) for value in self.node)


class Axis(Protocol[T_co]):
    """Anything with a size and a width that can be iterated again and again."""

    def size(self) -> int: ...

    def width(self) -> int: ...

    def __iter__(self) -> Iterator[T_co]: ...


def product(axes: Sequence[Axis[T]]) -> Iterator[tuple[T, ...]]:
    """``itertools.product`` with the leftmost axis slowest, never materialising a large axis."""
    held = [tuple(axis) if _small(axis) else axis for axis in axes]
    if all(isinstance(axis, tuple) for axis in held):
        return itertools.product(*held)
    return _product(held)


def _small(axis: Axis[T]) -> bool:
    size = axis.size()
    return size <= 1 or (size <= CACHE_LIMIT and size * axis.width() <= CACHE_CHARS)


def _product(axes: Sequence[Axis[T] | tuple[T, ...]]) -> Iterator[tuple[T, ...]]:
    """An odometer over blocks: each lazy axis, and each run of held axes between them.

    Iterative rather than one nested generator per lazy axis, so that many
    lazy axes cost neither recursion depth nor a resume per level per value.
    """
    blocks: list[Callable[[], Iterator[tuple[T, ...]]]] = []
    for is_held, run in itertools.groupby(axes, key=lambda axis: isinstance(axis, tuple)):
        if is_held:
            blocks.append(functools.partial(itertools.product, *run))
        else:
            blocks.extend(functools.partial(zip, axis) for axis in run)
    *outer, inner = blocks
    for prefix in _odometer(outer):
        for rest in inner():
            yield prefix + rest


def _odometer(blocks: Sequence[Callable[[], Iterator[tuple[T, ...]]]]) -> Iterator[tuple[T, ...]]:
    """Every combination of the blocks' tuples, concatenated, the last block fastest."""
    iterators = [block() for block in blocks]
    current: list[tuple[T, ...]] = []
    for iterator in iterators:
        first = next(iterator, None)
        if first is None:
            return
        current.append(first)
    while True:
        yield tuple(itertools.chain.from_iterable(current))
        i = len(blocks) - 1
        while True:
            if i < 0:
                return
            following = next(iterators[i], None)
            if following is not None:
                current[i] = following
                break
            iterators[i] = blocks[i]()
            current[i] = next(iterators[i])
            i -= 1
