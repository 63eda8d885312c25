"""What a ``hydraflow.yaml`` says, as frozen dataclasses: the config, its jobs, their sets."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from hydraflow.config.search import Search
from hydraflow.config.source import Place, plain
from hydraflow.errors import ConfigError, UsageError, did_you_mean
from hydraflow.modes import Mode

if TYPE_CHECKING:
    from hydraflow.sweep import Sweep, Token

DEFAULT_METRICS = ("metrics.json",)
T = TypeVar("T")


@dataclass(frozen=True)
class JobSet:
    """One entry of a job's ``sets``. Its expressions are parsed when first needed.

    Parsing on demand keeps ``invoke --list`` cheap; ``check()`` (called by
    every run and by the ``hydraflow`` command) parses all of them first, so a
    bad expression still stops everything before anything runs.
    """

    each: str
    all: str
    zip: str
    add: tuple[str, ...] | None
    path: Path
    line: int
    places: Mapping[str, Place] = field(default_factory=dict, compare=False)

    @cached_property
    def sweep(self) -> Sweep:
        from hydraflow.sweep import Sweep, parse_tokens, parse_zip

        return Sweep(tuple(self._parsed("each", parse_tokens)), self._parsed("zip", parse_zip))

    @cached_property
    def all_tokens(self) -> tuple[Token, ...]:
        from hydraflow.sweep import parse_tokens

        return tuple(self._parsed("all", lambda expr: parse_tokens(expr, allow_pipe=False)))

    @cached_property
    def collected(self) -> tuple[str, ...]:
        from hydraflow.sweep import collected

        return tuple(collected(token) for token in self.all_tokens)

    def check(self) -> None:
        """Parse every expression now; raises ConfigError at the first bad one."""
        _ = self.sweep, self.all_tokens

    def _parsed(self, key: str, parse: Callable[[str], T]) -> T:
        from hydraflow.sweep import SweepError

        try:
            return parse(getattr(self, key))
        except SweepError as error:
            where = self.places.get(key)
            line = where.line_of(error.pos) if where else self.line
            raise ConfigError(str(error), self.path, line, error.caret()) from None

    @property
    def batches(self) -> int:
        return self.sweep.size()

    @property
    def runs(self) -> int:
        """Hydra runs of this set: each value of ``each`` times every value of ``all``."""
        each_runs = math.prod(_runs(token) for token in self.sweep.tokens)
        if self.sweep.zipped is not None:
            each_runs *= _zipped_runs(self.sweep.zipped.tokens)
        return each_runs * math.prod(token.size() for token in self.all_tokens)


# Counts are arithmetic on sizes: `each: x=0:10000000000` has ten billion values,
# which no list may hold.


def _runs(token: Token) -> int:
    """Runs of a token: one per value, except that a pipe section sweeps all of its own."""
    from hydraflow.sweep import Pipe

    if isinstance(token, Pipe):
        return sum(section.values.size() for section in token.sections)
    return token.size()


def _zipped_runs(tokens: tuple[Token, ...]) -> int:
    """Runs of zipped tokens: the i-th values go together, so row i runs their product.

    Only pipe sections stand for more than one run, and a pipe's values are its
    sections, written out in the file: only when there is a pipe are rows walked.
    """
    from hydraflow.sweep import Pipe

    pipes = [token.sections for token in tokens if isinstance(token, Pipe)]
    if not pipes:
        return tokens[0].size()
    rows = zip(*pipes, strict=True)
    return sum(math.prod(section.values.size() for section in row) for row in rows)


class Goal(StrEnum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


@dataclass(frozen=True)
class Job:
    key: str
    name: str
    mode: Mode
    command: tuple[str, ...]
    command_text: str
    add: tuple[str, ...]
    sets: tuple[JobSet, ...]
    help: str
    parallel: int | None
    devices: tuple[str, ...]
    line: int
    node: yaml.Node = field(repr=False, compare=False)
    path: Path = Path("hydraflow.yaml")  # the file it was read from, for messages
    # Every run writes hydraflow.run.json (through a Hydra callback); false turns it off.
    record: bool = True
    # Where a run's numbers are, as globs relative to its run dir (JSON or YAML).
    metrics: tuple[str, ...] = ("metrics.json",)
    # Batches start as forks of one process that imported what they need (call jobs: yes).
    warm: bool = False
    preload: tuple[str, ...] = ()
    # Every batch's config composed against the app's before anything starts.
    check_config: bool = True
    # The metric that says which run is best, and which way (None: no run is best).
    metric: str | None = None
    goal: Goal | None = None
    # A search job: its batches are Optuna's trials, one Hydra run each (None: a grid).
    search: Search | None = None

    @cached_property
    def raw(self) -> Any:
        """The job as plain data, as written (for ``hydraflow show``)."""
        return plain(self.node)

    def check(self) -> None:
        for job_set in self.sets:
            job_set.check()
        if self.search is not None:
            _ = self.search.space

    def line_of(self, key: str) -> int:
        """The line of one of the job's keys; the job's own line when it has none."""
        if isinstance(self.node, yaml.MappingNode):
            for key_node, _ in self.node.value:
                if key_node.value == key:
                    return int(key_node.start_mark.line) + 1
        return self.line

    @property
    def batches(self) -> int:
        return sum(s.batches for s in self.sets) if self.sets else 1

    @property
    def runs(self) -> int:
        return sum(s.runs for s in self.sets) if self.sets else 1

    @property
    def counted(self) -> tuple[int, int]:
        """Batches and Hydra runs as a listing counts them: a search's are its trials (one
        run each), ``trials`` for each study its sets make."""
        if self.search is not None:
            trials = self.batches * self.search.trials
            return trials, trials
        return self.batches, self.runs

    def summary(self) -> str:
        """The one line shown when a job has no ``help``."""
        sets = len(self.sets)
        head = f"{self.mode}: {self.command_text} · {sets} set{'s' * (sets != 1)}"
        if self.search is not None:
            studies = f"{self.batches} stud{'ies' if self.batches != 1 else 'y'}"
            return f"{head} · search: {studies} of {self.search.trials} trials"
        return f"{head} · {self.batches} batch{'es' * (self.batches != 1)}"


@dataclass(frozen=True)
class Config:
    path: Path
    jobs: dict[str, Job]

    def check(self) -> Config:
        """Parse every sweep expression of every job; raises ConfigError at the first fault."""
        for job in self.jobs.values():
            job.check()
        return self

    @property
    def root(self) -> Path:
        """The folder of hydraflow.yaml: jobs run here, whatever the caller's folder."""
        return self.path.parent

    def job(self, name: str) -> Job:
        for candidate in (name, name.replace("-", "_"), name.replace("_", "-")):
            if candidate in self.jobs:
                return self.jobs[candidate]
        known = ", ".join(self.jobs) or "(none)"
        hint = did_you_mean(name, list(self.jobs))
        raise UsageError(f"no job named {name!r}{hint}; jobs in {self.path.name}: {known}")
