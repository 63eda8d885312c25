"""``--only KEY=PATTERN[,PATTERN…]``: pick batches by the values of their overrides."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from hydraflow.errors import UsageError
from hydraflow.plan import Batch


@dataclass(frozen=True)
class Selection:
    """Every rule must hold; a rule holds when its key's value matches one of its patterns."""

    rules: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, expressions: Sequence[str]) -> Selection:
        rules = []
        for expression in expressions:
            key, eq, patterns = expression.partition("=")
            if not eq or not key or not patterns:
                raise UsageError(f"--only needs KEY=PATTERN, got {expression!r}")
            rules.append((key, tuple(patterns.split(","))))
        return cls(tuple(rules))

    def filter(self, batches: Iterable[Batch]) -> Iterator[Batch]:
        return (batch for batch in batches if self.matches(batch)) if self.rules else iter(batches)

    def matches(self, batch: Batch) -> bool:
        if not self.rules:
            return True
        values = dict(override.partition("=")[::2] for override in batch.args if "=" in override)
        return all(
            key in values and any(fnmatch.fnmatchcase(values[key], p) for p in patterns)
            for key, patterns in self.rules
        )
