"""``--only KEY=PATTERN[,PATTERN…]`` (and ``results --where``): pick by the values of keys.

A rule holds when its key's value matches one of its glob patterns; every rule
must hold. An empty pattern (``KEY=``, ``KEY=,small``) also picks what lacks the
key: the plain runs beside those made with ``-- epochs=1``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from hydraflow.errors import UsageError
from hydraflow.words import override_key


@dataclass(frozen=True)
class Selection:
    rules: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, expressions: Sequence[str], flag: str = "--only") -> Selection:
        rules = []
        for expression in expressions:
            key, eq, patterns = expression.partition("=")
            if not eq or not key:
                raise UsageError(f"{flag} needs KEY=PATTERN, got {expression!r}")
            rules.append((key, tuple(patterns.split(","))))
        return cls(tuple(rules))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.rules)

    def matches(self, values: Mapping[str, str]) -> bool:
        return all(_holds(values.get(key), patterns) for key, patterns in self.rules)

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


def _holds(value: str | None, patterns: tuple[str, ...]) -> bool:
    if value is None:
        return "" in patterns
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


class ValuesSeen:
    """The values each key of a selection was seen with, for the message that says why it
    chose nothing (``model is one of small, large``); a few per key are enough."""

    SHOWN = 12

    def __init__(self, selection: Selection) -> None:
        self.values: dict[str, dict[str, None]] = {key: {} for key in selection.keys}

    def add(self, key: str, value: str) -> None:
        seen = self.values.get(key)
        if seen is not None and len(seen) <= self.SHOWN:
            seen.setdefault(value)

    def __str__(self) -> str:
        return "; ".join(
            f"{key} is one of {', '.join(list(v)[: self.SHOWN])}"
            + (", …" if len(v) > self.SHOWN else "")
            for key, v in self.values.items()
        )
