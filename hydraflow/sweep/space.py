"""A search job's ``space:``: Hydra's Optuna sweeper's grammar, read into plain dimensions.

    optimizer.lr=tag(log,interval(1e-4,1e-1))   a float between, on a log scale
    dropout=interval(0,0.5)                      a float between (int(interval(…)): a whole number)
    epochs=range(10,60,10)                       Hydra's range: 10,20,30,40,50 (stop excluded)
    model=choice(small,large)  model=small,large one of the values
    width=64:256:64  lr=log(1e-4:1e-1:4)         hydraflow's own ranges: one of their values
    seed=0                                       a single value: fixed for every trial

Pure: no Optuna here (``study`` turns dimensions into its distributions), so the
file is checked as it is read, at its line, with a caret under the fault.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from hydraflow.sweep.errors import SweepError
from hydraflow.sweep.parser import Assignment, Verbatim, parse_token
from hydraflow.sweep.shell import Word, split_words

# Hydra's sweep functions that make no distribution: said, never passed on as a value.
_NOT_SEARCHED = ("glob", "sort", "shuffle")
_FUNCTIONS = ("interval", "tag", "range", "choice", "int", "float")
_CALL = re.compile(r"([A-Za-z_]\w*)\(")


@dataclass(frozen=True)
class Interval:
    """``interval(low, high)``: any value between; ``tag(log, …)`` on a log scale,
    ``int(…)`` only whole numbers."""

    low: float
    high: float
    log: bool = False
    integer: bool = False


@dataclass(frozen=True)
class Steps:
    """``range(start, stop, step)`` as Hydra means it: start, start+step, … before stop."""

    low: Decimal
    high: Decimal  # the last value (Optuna's high is inclusive)
    step: Decimal
    integer: bool

    def values(self) -> list[str]:
        count = int((self.high - self.low) / self.step) + 1
        return [number_text(self.low + i * self.step) for i in range(count)]


@dataclass(frozen=True)
class Choice:
    """One of the values, each as written (Hydra parses it, as on a command line)."""

    values: tuple[str, ...]


Dimension = Interval | Steps | Choice


@dataclass(frozen=True)
class Space:
    """The searched keys with their dimensions, and the words every trial gets as they are."""

    dimensions: tuple[tuple[str, Dimension], ...]
    fixed: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.dimensions)

    def discrete(self) -> dict[str, list[str]] | None:
        """Every value of every dimension (the grid sampler's points); None when some
        dimension is an interval, which has no grid."""
        grid: dict[str, list[str]] = {}
        for key, dimension in self.dimensions:
            if isinstance(dimension, Interval):
                return None
            grid[key] = (
                list(dimension.values) if isinstance(dimension, Choice) else dimension.values()
            )
        return grid

    def size(self) -> int | None:
        """How many points the space has; None when it has an interval."""
        grid = self.discrete()
        return None if grid is None else math.prod(len(values) for values in grid.values())


def number_text(number: Decimal | float) -> str:
    """A number as hydraflow writes one (``0.25``, ``10``, ``0.0001``): Python's repr of the
    float, without a trailing ``.0``."""
    if isinstance(number, Decimal) and number == number.to_integral_value():
        return str(int(number))
    text = repr(float(number))
    return text[:-2] if text.endswith(".0") else text


def parse_space(expr: str) -> Space:
    """Every word of ``expr`` as a dimension (or a fixed word); raises SweepError at the
    first fault, with its position in ``expr``."""
    dimensions: dict[str, Dimension] = {}
    fixed: list[str] = []
    for word in _joined(split_words(expr)):
        key, dimension = _Word(word, expr).parse()
        if key in dimensions or any(f.partition("=")[0] == key for f in fixed):
            raise SweepError(f"{key!r} is in the space twice", expr, word.pos(0))
        if isinstance(dimension, str):
            fixed.append(dimension)
        else:
            dimensions[key] = dimension
    if not dimensions:
        raise SweepError(
            "a space needs a key to search (interval, range, choice or a list)", expr, 0
        )
    return Space(tuple(dimensions.items()), tuple(fixed))


def _joined(words: list[Word]) -> list[Word]:
    """Words inside one call's parentheses put back together: ``tag(log, interval(1,2))``
    reads as one word, as it would inside quotes."""
    joined: list[Word] = []
    for word in words:
        if joined and _depth(joined[-1].text) > 0:
            last = joined.pop()
            offset = len(last.text) + 1
            word = Word(
                f"{last.text} {word.text}",
                (*last.starts, *(offset + start for start in word.starts)),
                (*last.sources, *word.sources),
                word.end,
            )
        joined.append(word)
    return joined


def _depth(text: str) -> int:
    return text.count("(") - text.count(")")


class _Word:
    """One ``KEY=VALUE`` word of the space, read by hand for the function forms."""

    def __init__(self, word: Word, expr: str) -> None:
        self.word, self.expr, self.text = word, expr, word.text

    def error(self, message: str, index: int) -> SweepError:
        return SweepError(message, self.expr, self.word.pos(index))

    def parse(self) -> tuple[str, Dimension | str]:
        key, eq, value = self.text.partition("=")
        if not eq or not key:
            raise self.error(f"expected KEY=VALUE, got {self.text!r}", 0)
        start = len(key) + 1
        call = _CALL.match(value)
        if call and call.group(1) in _NOT_SEARCHED:
            raise self.error(f"{call.group(1)}() makes no distribution to search", start)
        if call and call.group(1) in _FUNCTIONS:
            dimension, end = self.call(start)
            if end != len(self.text):
                raise self.error("unexpected text after the closing parenthesis", end)
            return key, dimension
        return key, self.values(key)

    def values(self, key: str) -> Dimension | str:
        """hydraflow's own values (a list, ranges, ``log(…)``): one of them; a single value
        is fixed."""
        token = parse_token(self.word, self.expr, allow_pipe=False)
        if isinstance(token, Verbatim) or not isinstance(token, Assignment):
            raise self.error(f"expected KEY=VALUE, got {self.text!r}", 0)
        values = tuple(token.values)
        if len(values) == 1:
            return f"{token.key}={values[0]}"
        if len(set(values)) != len(values):
            raise self.error("a value is listed twice", len(key) + 1)
        return Choice(values)

    # -- function forms ----------------------------------------------------------------

    def call(self, at: int) -> tuple[Dimension, int]:
        """The call at ``at``: its dimension and the index just past its ``)``."""
        match = _CALL.match(self.text, at)
        if match is None:
            raise self.error("expected interval(…), range(…) or choice(…)", at)
        name = match.group(1)
        args, end = self.arguments(match.end())
        if name == "choice":
            return self.choice(args, at), end
        if name == "range":
            return self.range(args, at), end
        if name == "interval":
            return self.interval(args, at), end
        if name == "tag":
            return self.tag(args, at), end
        if name == "int":
            inner = self.inner(args, at, name)
            return Interval(inner.low, inner.high, inner.log, integer=True), end
        if name == "float":
            return self.inner(args, at, name), end
        raise self.error(f"{name}() is not part of a search space", at)

    def arguments(self, at: int) -> tuple[list[tuple[str, int]], int]:
        """The arguments from ``at`` to the matching ``)``, each with its index; nested
        calls stay whole."""
        args: list[tuple[str, int]] = []
        depth, start, i = 0, at, at
        while i < len(self.text):
            char = self.text[i]
            if char == "(":
                depth += 1
            elif char == ")" and depth:
                depth -= 1
            elif char in ",)" and not depth:
                raw = self.text[start:i]
                stripped = raw.strip()
                args.append((stripped, start + len(raw) - len(raw.lstrip())))
                start = i + 1
                if char == ")":
                    if args == [("", at)]:
                        args = []
                    return args, i + 1
            i += 1
        raise self.error("missing ')'", len(self.text))

    def number(self, arg: tuple[str, int]) -> Decimal:
        text, index = arg
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise self.error(f"expected a number, got {text!r}", index) from None
        if not number.is_finite():
            raise self.error(f"expected a finite number, got {text!r}", index)
        return number

    def choice(self, args: list[tuple[str, int]], at: int) -> Choice:
        if not args:
            raise self.error("choice() needs at least one value", at)
        for text, index in args:
            if not text:
                raise self.error("an empty value", index)
        values = tuple(text for text, _ in args)
        if len(set(values)) != len(values):
            raise self.error("a value is listed twice", at)
        return Choice(values)

    def range(self, args: list[tuple[str, int]], at: int) -> Steps:
        if len(args) not in (2, 3):
            raise self.error("range takes (start, stop) or (start, stop, step)", at)
        start, stop = self.number(args[0]), self.number(args[1])
        step = self.number(args[2]) if len(args) == 3 else Decimal(1)
        if step == 0:
            raise self.error("step cannot be zero", args[2][1])
        count = math.ceil((stop - start) / step)
        if count < 1:
            raise self.error(f"range({args[0][0]}, {args[1][0]}) holds no value", at)
        last = start + (count - 1) * step
        integer = all(n == n.to_integral_value() and "." not in t for n, (t, _) in (
            (start, args[0]), (stop, args[1]), (step, args[2] if len(args) == 3 else ("1", 0)),
        ))  # fmt: skip
        low, high = min(start, last), max(start, last)
        return Steps(low, high, abs(step), integer)

    def interval(self, args: list[tuple[str, int]], at: int) -> Interval:
        if len(args) != 2:
            raise self.error("interval takes (low, high)", at)
        low, high = self.number(args[0]), self.number(args[1])
        if not low < high:
            raise self.error(f"interval needs low < high, got {args[0][0]}, {args[1][0]}", at)
        return Interval(float(low), float(high))

    def tag(self, args: list[tuple[str, int]], at: int) -> Interval:
        if len(args) < 2:
            raise self.error("tag takes (TAG, …, interval(…))", at)
        tags = {text for text, _ in args[:-1]}
        if unknown := sorted(tags - {"log"}):
            raise self.error(f"unknown tag {unknown[0]!r}: only log changes a search", at)
        inner = self.inner(args[-1:], at, "tag")
        if "log" in tags:
            if inner.low <= 0:
                raise self.error("a log scale needs low > 0", args[-1][1])
            return Interval(inner.low, inner.high, True, inner.integer)
        return inner

    def inner(self, args: list[tuple[str, int]], at: int, name: str) -> Interval:
        """The interval inside ``tag(…)``, ``int(…)`` or ``float(…)``."""
        if len(args) != 1 or not args[0][0].startswith(("interval(", "int(", "float(", "tag(")):
            raise self.error(f"{name}(…) takes an interval(…)", at)
        dimension, end = self.call(args[0][1])
        if not isinstance(dimension, Interval) or end != args[0][1] + len(args[0][0]):
            raise self.error(f"{name}(…) takes an interval(…)", args[0][1])
        return dimension
