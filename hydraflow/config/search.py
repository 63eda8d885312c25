"""A job's ``search:`` block: how many trials, which sampler and pruner, and the space."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from hydraflow.config.source import Place
from hydraflow.errors import ConfigError

if TYPE_CHECKING:
    from hydraflow.sweep.space import Space

SEARCH_KEYS = ("trials", "sampler", "seed", "space", "pruner")


class Sampler(StrEnum):
    TPE = "tpe"
    RANDOM = "random"
    CMAES = "cmaes"
    GRID = "grid"


class Pruner(StrEnum):
    MEDIAN = "median"
    HYPERBAND = "hyperband"
    NONE = "none"


@dataclass(frozen=True)
class Search:
    """``search:`` of a job: ``trials`` finished trials per study, across resumes."""

    trials: int
    space_text: str
    sampler: Sampler = Sampler.TPE
    seed: int | None = None
    pruner: Pruner = Pruner.MEDIAN
    path: Path = Path("hydraflow.yaml")
    line: int = 0
    place: Place | None = field(default=None, compare=False)

    @cached_property
    def space(self) -> Space:
        """The space, parsed when first needed (``Job.check`` parses it before any run)."""
        from hydraflow.sweep import SweepError
        from hydraflow.sweep.space import parse_space

        try:
            space = parse_space(self.space_text)
        except SweepError as error:
            line = self.place.line_of(error.pos) if self.place else self.line
            raise ConfigError(str(error), self.path, line, error.caret()) from None
        if self.sampler == Sampler.GRID and space.discrete() is None:
            raise ConfigError(
                "the grid sampler needs values to walk: an interval(…) has none"
                " (use range(…) or a list)",
                self.path,
                self.place.line if self.place else self.line,
            )
        return space
