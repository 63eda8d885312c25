"""What a mode is: the one place that knows how a job's batches are made, started,
previewed and recorded.

A mode is told nothing of the engine's machinery: the engine hands it a
``Services`` object (pool, claims, dry-run lines), so this module sits below
the plan and the config that ask it, and above nothing but the standard library.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from hydraflow.modes.app import AppSpec

if TYPE_CHECKING:
    from hydraflow.config import Job
    from hydraflow.flags import RunOptions
    from hydraflow.plan import Batch, Extras

LineOf = Callable[["Batch", str], str]


class Services(Protocol):
    """What the engine offers a mode while it runs (or previews) a job."""

    @property
    def job(self) -> Job: ...

    @property
    def root(self) -> Path: ...

    @property
    def options(self) -> RunOptions: ...

    @property
    def extras(self) -> Extras: ...

    @property
    def ledger_path(self) -> Path | None: ...

    def show(self, text: str) -> None:
        """One line of a dry run."""

    def preview_batches(self, line_of: LineOf) -> None:
        """A dry-run line per planned batch (and a comment per one skipped)."""

    def run_pool(self, app: AppSpec | None) -> None:
        """Every planned batch through the pool: spawned, or forked from ``app``."""

    def probe(self, app: AppSpec) -> None:
        """Raise a UsageError when ``app`` does not load in its own interpreter."""

    def hand_over(self, line_of: LineOf, *, claim: bool) -> list[tuple[Batch, str, int]]:
        """Every planned batch as (batch, line, ledger row), claimed as queued when
        ``claim``; batches another runner has are left out."""

    def release_untaken(self, rows: Sequence[int]) -> None: ...

    def handler_ended(self, name: str, code: int) -> None: ...


class Mode:
    """One way to run a job's batches; subclasses say what differs."""

    key: ClassVar[str]  # the job's key in hydraflow.yaml: run, call or submit
    warm_by_default: ClassVar[bool] = False
    can_be_warm: ClassVar[bool] = True
    # Whether hydraflow starts the batches itself (so -j, devices and timeouts apply).
    uses_pool: ClassVar[bool] = True

    def __str__(self) -> str:
        return self.key

    def __repr__(self) -> str:
        return f"<mode {self.key}>"

    def command_problem(self, command: Sequence[str]) -> str | None:
        """What is wrong with the job's command, said at its line when the file is read."""
        return None

    def batch_command(self, job: Job, front: Sequence[str]) -> tuple[str, ...]:
        """The words before ``--multirun``: the command, then the extra words that are not
        overrides."""
        return (*job.command, *front)

    def records_runs(self, job: Job) -> bool:
        """Whether hydraflow adds the callback with which every run records itself."""
        return job.record

    def in_ledger(self, job: Job) -> bool:
        """Whether hydraflow records this job's batches (and ``status`` shows them)."""
        return True

    def identity_extras(self, extras: Extras) -> tuple[str, ...]:
        """The extra words that are part of what a batch is."""
        return extras.words

    def app(self, job: Job, root: Path, environ: Mapping[str, str] = os.environ) -> AppSpec | None:
        """The Python app behind the batches, when hydraflow can load it."""
        return None

    def app_words(self, job: Job, command: Sequence[str], app: AppSpec) -> tuple[str, ...]:
        """The words a batch's command gives its app before the overrides
        (``--config-name x``), from the batch's command words."""
        return tuple(command[app.prefix :])

    def pasted_needs_callback(self, job: Job) -> bool:
        """Whether a dry run's commands, pasted into a shell, need the record callback's
        folder on PYTHONPATH."""
        return False

    def check(self, services: Services) -> None:
        """Everything about the job that can be checked before anything starts."""

    def preview(self, services: Services) -> None:
        raise NotImplementedError

    def execute(self, services: Services) -> None:
        raise NotImplementedError
