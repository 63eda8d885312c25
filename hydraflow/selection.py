"""``--only KEY=PATTERN[,PATTERN…]`` (and ``results --where``): pick by the values of keys.

A rule holds when its key's value matches one of its patterns; every rule must
hold. A pattern that is a number matches the same number however it is written
(``1e-3`` matches ``0.001``); any other pattern is a glob on the value's text. An
empty pattern (``KEY=``, ``KEY=,small``) also picks what lacks the key: the plain
runs beside those made with ``-- epochs=1``. ``KEY!=PATTERN`` picks what does not
match; ``KEY<N``, ``<=``, ``>``, ``>=`` compare numbers (a value that is no number
never holds).
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hydraflow.errors import UsageError
from hydraflow.typed import number_of, text_of
from hydraflow.words import override_key

# The first of these in an expression ends its key (keys hold none of their characters).
_OPERATOR = re.compile(r"<=|>=|!=|<|>|=")
_ORDER: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class Rule:
    key: str
    op: str  # =, !=, <, <=, >, >=
    patterns: tuple[str, ...]

    def holds(self, value: Any, present: bool) -> bool:
        if self.op in _ORDER:
            number = number_of(value) if present else None
            return number is not None and _ORDER[self.op](number, float(self.patterns[0]))
        matched = _matches(value, present, self.patterns)
        return matched if self.op == "=" else not matched


@dataclass(frozen=True)
class Selection:
    rules: tuple[Rule, ...] = ()

    @classmethod
    def parse(cls, expressions: Sequence[str], flag: str = "--only") -> Selection:
        return cls(tuple(_rule(expression, flag) for expression in expressions))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(rule.key for rule in self.rules)

    def matches(self, values: Mapping[str, Any]) -> bool:
        return all(rule.holds(values.get(rule.key), rule.key in values) for rule in self.rules)

    def matches_words(self, words: Iterable[str]) -> bool:
        """Whether Hydra override words (``key=value``) satisfy every rule."""
        if not self.rules:
            return True
        values = {}
        for word in words:
            key = override_key(word)
            if key is not None and "=" in word:
                values[key] = word.partition("=")[2]
        return self.matches(values)


def _rule(expression: str, flag: str) -> Rule:
    found = _OPERATOR.search(expression)
    key = expression[: found.start()] if found else ""
    if found is None or not key:
        raise UsageError(
            f"{flag} needs KEY=PATTERN (or KEY!=, KEY<, KEY<=, KEY>, KEY>= a number),"
            f" got {expression!r}"
        )
    op, rest = found.group(), expression[found.end() :]
    if op in _ORDER and number_of(rest) is None:
        raise UsageError(f"{flag} {expression!r}: {op} compares numbers, and {rest!r} is none")
    return Rule(key, op, (rest,) if op in _ORDER else tuple(rest.split(",")))


def _matches(value: Any, present: bool, patterns: tuple[str, ...]) -> bool:
    if not present:
        return "" in patterns
    if value is None:  # a null in the config: as if it had none
        return "" in patterns or "null" in patterns
    number, text = number_of(value), text_of(value)
    for pattern in patterns:
        wanted = number_of(pattern) if number is not None else None
        if wanted is not None:
            if wanted == number:
                return True
        elif fnmatch.fnmatchcase(text, pattern):
            return True
    return False


def _shown(value: Any) -> str:
    """A value as the message lists it: a float to six significant digits (a metric's
    0.30000000000000004 reads as 0.3), anything else as it was written."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value if isinstance(value, str) else text_of(value)


class ValuesSeen:
    """The values each key of a selection was seen with, for the message that says why it
    chose nothing (``model is one of small, large``); a few per key are enough."""

    SHOWN = 12

    def __init__(self, selection: Selection) -> None:
        self.values: dict[str, dict[str, None]] = {key: {} for key in selection.keys}

    def add(self, key: str, value: Any) -> None:
        seen = self.values.get(key)
        if seen is not None and len(seen) <= self.SHOWN:
            seen.setdefault(_shown(value))

    def __str__(self) -> str:
        return "; ".join(
            f"{key} is one of {', '.join(list(v)[: self.SHOWN])}"
            + (", …" if len(v) > self.SHOWN else "")
            for key, v in self.values.items()
        )
