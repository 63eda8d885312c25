"""What an execution reports as it goes: plain data at the bottom of the house.

The engine emits these and prints nothing; displays, the ledger's attempt log,
the tally that becomes the summary, and any other observer (a test) receive the
same events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Literal, Protocol

from hydraflow.plan import Batch
from hydraflow.statuses import BatchStatus, ExitStatus, Skip

Stream = Literal["stdout", "stderr"]


@dataclass(frozen=True)
class ExecutionStarted:
    """The pool is about to start batches (a submit job's handler reports for itself)."""

    job: str
    batches: int
    runs: int
    workers: int
    skipped: int = 0
    # A search: its batches are trials, whose failures are part of searching.
    search: bool = False


@dataclass(frozen=True)
class Notice:
    """A line for the user from the engine itself: a fallback taken (a warning), or what
    was done before the batches (the check's count)."""

    text: str
    warning: bool = True


@dataclass(frozen=True)
class Preview:
    """One line of ``--dry-run``: a command, a call, or a comment such as a skipped batch."""

    text: str


@dataclass(frozen=True)
class BatchSkipped:
    """A planned batch that its claim did not start: done before, or running elsewhere."""

    batch: Batch
    reason: Skip


@dataclass(frozen=True)
class BatchStarted:
    batch: Batch
    sweep_dir: str
    argv: tuple[str, ...]
    slot: int
    attempt: int
    pid: int
    time: float


@dataclass(frozen=True)
class BatchOutput:
    batch: Batch
    data: bytes  # one line, without its newline, exactly as the program wrote it
    stream: Stream


@dataclass(frozen=True)
class RunsLaunched:
    """Hydra announced the start of run number ``started`` (counting from 1) of a batch."""

    batch: Batch
    started: int


@dataclass(frozen=True)
class BatchFinished:
    batch: Batch
    sweep_dir: str
    status: BatchStatus
    returncode: int | None
    started: float
    ended: float
    attempt: int
    log_path: Path | None  # None: the batch printed nothing, so it has no log
    tail: tuple[str, ...] = ()
    retrying: bool = False
    argv: tuple[str, ...] = ()
    timeout: float | None = None  # the limit it ran past, when it timed out
    unrecorded: tuple[int, ...] = ()  # incomplete: its runs that left no record of success

    @property
    def duration(self) -> float:
        return self.ended - self.started


@dataclass(frozen=True)
class TrialTold:
    """A search told Optuna how a trial ended; its study's progress and best so far."""

    study: str
    trial: int  # Optuna's number of the trial in its study
    state: str  # complete, pruned, failed, or lost (stopped with the search: not counted)
    value: float | None
    finished: int  # the study's finished trials, counted towards ``wanted``
    wanted: int
    metric: str
    best: float | None = None
    best_trial: int | None = None

    def line(self) -> str:
        """``trial 17/40, best loss 0.0612 (#12)``."""
        best = (
            ""
            if self.best is None
            else f", best {self.metric} {self.best:.4g} (#{self.best_trial})"
        )
        return f"trial {self.finished}/{self.wanted}{best}"


class StopReason(StrEnum):
    INTERRUPT = "interrupt"  # Ctrl-C or SIGTERM
    OUTPUT_CLOSED = "output closed"  # whoever read the output went away


@dataclass(frozen=True)
class Stopped:
    """The execution stops early: nothing more starts, running batches are stopped."""

    reason: StopReason


@dataclass(frozen=True)
class Problem:
    """A failure of hydraflow itself (a ledger or log it cannot write), in one line."""

    text: str


@dataclass(frozen=True)
class HandlerFinished:
    """A submit job's handler ended; it reports its batches itself."""

    name: str
    code: int


@dataclass(frozen=True)
class Summary:
    """How an execution ended, as the tally of its events makes it."""

    job: str
    batches: int
    runs: int
    ok: int = 0
    skipped: int = 0  # done before (--resume)
    elsewhere: int = 0  # another runner has them
    failures: tuple[BatchFinished, ...] = ()
    runs_done: int = 0
    interrupted: bool = False
    output_closed: bool = False
    broken: str = ""  # a failure inside hydraflow itself, in one line
    started: float = 0.0
    ended: float = 0.0
    outputs: tuple[str, ...] = field(default=())  # sweep dirs, in the order they started
    handler: tuple[str, int] | None = None  # submit jobs: the handler and its exit status
    # A search: failed trials are part of it; only one stopped short (--max-failures) fails.
    search: bool = False
    studies: tuple[TrialTold, ...] = ()  # a search: the last word of each study

    def count(self, status: BatchStatus) -> int:
        return sum(f.status == status for f in self.failures)

    @property
    def not_started(self) -> int:
        return max(0, self.batches - self.ok - self.elsewhere - len(self.failures))

    @property
    def exit_code(self) -> int:
        if self.output_closed:
            return ExitStatus.OUTPUT_CLOSED
        if self.interrupted:
            return ExitStatus.INTERRUPTED
        if self.search and not self.broken:
            return ExitStatus.FAILED if self.not_started else ExitStatus.OK
        return ExitStatus.FAILED if self.failures or self.broken else ExitStatus.OK


@dataclass(frozen=True)
class ExecutionFinished:
    summary: Summary


Event = (
    ExecutionStarted
    | Notice
    | Preview
    | BatchSkipped
    | BatchStarted
    | BatchOutput
    | RunsLaunched
    | BatchFinished
    | TrialTold
    | Stopped
    | Problem
    | HandlerFinished
    | ExecutionFinished
)


class Observer(Protocol):
    def handle(self, event: Event) -> None: ...
