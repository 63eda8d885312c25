"""A run as a short list of steps, each a plain function of the run's state.

    check → plan → preview (``--dry-run`` ends here) → execute → summarise

Any step may end the run by returning an exit status. The front ends build
the observers (a display, the ledger's recorder) and pass them in; the engine
prints nothing itself: everything reaches the user as events.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from hydraflow.config import Config, Job
from hydraflow.engine import modes
from hydraflow.engine.broadcast import Broadcast, OutputClosed
from hydraflow.engine.launching import workers_and_devices
from hydraflow.engine.signals import signals_as_interrupts
from hydraflow.errors import UsageError
from hydraflow.events import EXIT_OUTPUT_CLOSED, Event, Observer, RunFinished, Summary
from hydraflow.ledger import Claimed, Skip
from hydraflow.options import RunOptions
from hydraflow.plan import Batch, Counts, Extras, Plan, no_match, unknown_key
from hydraflow.selection import Selection


@dataclass(frozen=True)
class Request:
    config: Config
    job: Job
    options: RunOptions
    extra: tuple[str, ...] = ()


class Records(Protocol):
    """Where the engine claims batches and sends events: the ledger, or nothing."""

    done: frozenset[str]
    ledger_path: Path | None  # for a submit handler that records its batches itself

    def guard(self, pid: int) -> None: ...

    def sweep_dir(self, batch: Batch, new: str) -> str: ...

    def reruns(self, batch: Batch) -> tuple[int, ...] | None: ...

    def claim(
        self, wanted: Sequence[tuple[Batch, str, Sequence[str]]], status: str = "running"
    ) -> list[Claimed | Skip]: ...

    def release(self, claims: Sequence[Claimed]) -> None: ...

    def release_untaken(self, rows: Sequence[int]) -> None: ...

    def flush(self) -> None: ...

    def handle(self, event: Event) -> None: ...


class Unrecorded:
    """``--no-ledger``: every batch is claimed, nothing is remembered."""

    done: frozenset[str] = frozenset()
    ledger_path: Path | None = None

    def guard(self, pid: int) -> None:
        pass

    def sweep_dir(self, batch: Batch, new: str) -> str:
        return new

    def reruns(self, batch: Batch) -> tuple[int, ...] | None:
        return None

    def claim(
        self, wanted: Sequence[tuple[Batch, str, Sequence[str]]], status: str = "running"
    ) -> list[Claimed | Skip]:
        return [Claimed(0, directory) for _, directory, _ in wanted]

    def release(self, claims: Sequence[Claimed]) -> None:
        pass

    def release_untaken(self, rows: Sequence[int]) -> None:
        pass

    def flush(self) -> None:
        pass

    def handle(self, event: Event) -> None:
        pass


@dataclass
class Run:
    request: Request
    emit: Broadcast
    records: Records
    extras: Extras = field(default_factory=Extras)
    plan: Plan = field(init=False)
    counts: Counts = field(init=False)
    summary: Summary = field(init=False)

    @property
    def job(self) -> Job:
        return self.request.job

    @property
    def options(self) -> RunOptions:
        return self.request.options


Step = Callable[[Run], int | None]


def check(run: Run) -> int | None:
    """Everything the user could have got wrong, before anything starts."""
    job, options = run.job, run.options
    job.check()
    if options.resume and not options.ledger:
        raise UsageError("--resume reads the ledger; it cannot go with --no-ledger")
    run.extras = Extras.parse(run.request.extra)
    words = (*job.command, *job.add, *run.extras.words)
    if any("\0" in word for word in words):
        raise UsageError(
            f"job {job.key!r}: a word of its command holds a NUL character, "
            "which no program can receive"
        )
    modes.mode_of(job).check(run.request, run.extras)
    if job.mode != "submit":
        workers_and_devices(run)
    return None


def make_plan(run: Run) -> int | None:
    """The batches to run: ``--only`` chooses, ``--resume`` skips what succeeded before."""
    selection = Selection.parse(run.options.only)
    if selection.rules and (unknown := unknown_key(run.job, run.extras, selection)):
        raise UsageError(unknown)
    reruns = run.records.reruns if run.options.resume else None
    run.plan = Plan(run.job, run.extras, selection, run.records.done, reruns)
    run.counts = run.plan.count()
    if selection.rules and run.counts.to_run + run.counts.skipped == 0:
        raise UsageError(no_match(run.job, run.extras, selection))
    return None


def preview(run: Run) -> int | None:
    """``--dry-run``: the exact commands, one line each, and nothing started."""
    if not run.options.dry_run:
        return None
    # A preview only shows: its reader going away (`-n | head`) stops no run, so it
    # ends with 0, as `hydraflow list | head` does, not with a stopped run's 141.
    with contextlib.suppress(OutputClosed):
        modes.mode_of(run.job).preview(run)
    return 0


def execute(run: Run) -> int | None:
    run.summary = Summary(run.job.key, run.counts.to_run, run.counts.runs)
    run.summary.skipped = run.counts.skipped
    with signals_as_interrupts():
        modes.mode_of(run.job).execute(run)
    return None


def summarise(run: Run) -> int:
    run.emit(RunFinished(run.summary))
    return run.summary.exit_code


STEPS: tuple[Step, ...] = (check, make_plan, preview, execute, summarise)


def run_job(
    request: Request,
    observers: Sequence[Observer],
    records: Records | None = None,
    steps: Sequence[Step] = STEPS,
) -> int:
    """Run (or preview) every batch of ``request.job``; returns the exit status."""
    emit = Broadcast([*([records] if records else []), *observers])
    run = Run(request, emit, records or Unrecorded())
    try:
        for step in steps:
            code = step(run)
            if code is not None:
                return code
    except OutputClosed:
        return EXIT_OUTPUT_CLOSED
    return 0
