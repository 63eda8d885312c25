"""What a job's sweep says of a key that the runs alone cannot: the order its values were
swept in (a plot places text values in that order, not alphabetically), and whether they
came from ``log(…)`` (a plot then puts them on a log axis, however few decades they span).

Read from the parsed ``each``/``zip``/``all`` tokens of the job's sets, never by
expanding the sweep: a key's values are walked up to ``MAX_VALUES``, whatever the
size of the product.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hydraflow.config import Job, JobSet
from hydraflow.errors import ConfigError
from hydraflow.sweep import Assignment, Pipe, Token
from hydraflow.sweep.values import Literal, Literals, LogRange, Node, Suffixed, Union
from hydraflow.typed import from_word, same_key
from hydraflow.words import override_key

# More values than a plot can tell apart; beyond them, the runs' own order.
MAX_VALUES = 10_000
# Hydra's own wording for a log-scaled search space: tag(log, interval(1e-4, 1e-1)).
_HYDRA_LOG = re.compile(r"tag\(\s*log\s*,")
PARAMS = "params."


@dataclass(frozen=True)
class Hints:
    """Each key's values in the order the sweep gives them (typed as Hydra reads the
    words, compared with ``same_key``), and the keys swept with ``log(…)``."""

    order: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    log: frozenset[str] = frozenset()

    def rank(self, key: str) -> dict[Any, int]:
        """The place of each value of ``key`` in the sweep, by its ``same_key``."""
        values = self.order.get(key.removeprefix(PARAMS), ())
        ranks: dict[Any, int] = {}
        for value in values:
            ranks.setdefault(same_key(value), len(ranks))
        return ranks

    def is_log(self, key: str) -> bool:
        return key.removeprefix(PARAMS) in self.log


def hints_of(job: Job) -> Hints:
    """The hints of every key the job's sets sweep, set after set, each in reading order."""
    order: dict[str, list[Any]] = {}
    log: set[str] = set()
    for assignment in _assignments(job):
        key = override_key(f"{assignment.key}=")
        if key is None:
            continue
        if _from_log(assignment.values):
            log.add(key)
        values = order.setdefault(key, [])
        room = MAX_VALUES - len(values)
        values.extend(from_word(word) for word in itertools.islice(assignment.values, room))
    log |= _searched_on_a_log_scale(job)
    return Hints({key: tuple(values) for key, values in order.items()}, frozenset(log))


def _searched_on_a_log_scale(job: Job) -> set[str]:
    """A search job's keys whose space says ``tag(log, …)``: its trials' values came from
    a log scale however few decades they span."""
    if job.search is None:
        return set()
    try:
        dimensions = job.search.space.dimensions
    except ConfigError:  # a space that does not parse says so when the job runs
        return set()
    found = set()
    for key, dimension in dimensions:
        name = override_key(f"{key}=")
        if name is not None and getattr(dimension, "log", False):
            found.add(name)
    return found


def _assignments(job: Job) -> Iterator[Assignment]:
    for one in job.sets:
        yield from _flat(_tokens(one))


def _tokens(one: JobSet) -> Iterable[Token]:
    try:
        zipped = one.sweep.zipped.tokens if one.sweep.zipped else ()
        return (*one.sweep.tokens, *zipped, *one.all_tokens)
    except ConfigError:  # a set that does not parse says so when it runs; no hint from it
        return ()


def _flat(tokens: Iterable[Token]) -> Iterator[Assignment]:
    for token in tokens:
        if isinstance(token, Pipe):
            yield from token.sections
        elif isinstance(token, Assignment):
            yield token


def _from_log(node: Node) -> bool:
    """Whether some values come from ``log(A:B:N)`` (or Hydra's ``tag(log, …)``)."""
    if isinstance(node, LogRange):
        return True
    if isinstance(node, Suffixed):
        return _from_log(node.node)
    if isinstance(node, Union):
        return any(_from_log(item) for item in node.items)
    if isinstance(node, Literal):
        return bool(_HYDRA_LOG.match(node.text))
    if isinstance(node, Literals):
        return any(_HYDRA_LOG.match(text) for text in node.texts)
    return False
