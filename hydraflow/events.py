"""What a run reports as it goes: plain data at the bottom of the house.

The engine emits these and prints nothing; displays, the ledger's recorder
and any other observer (a JSON stream, a test) receive the same events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from hydraflow.plan import Batch

EXIT_INTERRUPTED = 130
EXIT_OUTPUT_CLOSED = 141  # as a shell reports a program ended by SIGPIPE

Status = Literal["ok", "failed", "timeout", "interrupted"]
Stream = Literal["stdout", "stderr"]


@dataclass(frozen=True)
class RunStarted:
    job: str
    batches: int
    runs: int
    workers: int
    skipped: int = 0


@dataclass(frozen=True)
class Notice:
    """A line for the user from the engine itself (a fallback taken, a choice made)."""

    text: str


@dataclass(frozen=True)
class Preview:
    """One line of ``--dry-run``: a command, a call, or a comment such as a skipped batch."""

    text: str


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
    status: Status
    returncode: int | None
    started: float
    ended: float
    attempt: int
    log_path: Path | None  # None: the batch printed nothing, so it has no log
    tail: tuple[str, ...] = ()
    retrying: bool = False
    argv: tuple[str, ...] = ()
    timeout: float | None = None  # the limit it ran past, when it timed out

    @property
    def duration(self) -> float:
        return self.ended - self.started


@dataclass
class Summary:
    job: str
    batches: int
    runs: int = 0
    ok: int = 0
    skipped: int = 0  # done before (--resume)
    elsewhere: int = 0  # another runner has them
    failures: list[BatchFinished] = field(default_factory=list)
    runs_ok: int = 0
    interrupted: bool = False
    output_closed: bool = False
    broken: str = ""  # a failure inside hydraflow itself, in one line
    started: float = 0.0
    ended: float = 0.0
    outputs: list[str] = field(default_factory=list)  # sweep dirs, in the order they started
    handler: tuple[str, int] | None = None  # submit jobs: the handler and its exit status

    def count(self, status: Status) -> int:
        return sum(f.status == status for f in self.failures)

    @property
    def not_started(self) -> int:
        return max(0, self.batches - self.ok - self.elsewhere - len(self.failures))

    @property
    def exit_code(self) -> int:
        if self.output_closed:
            return EXIT_OUTPUT_CLOSED
        if self.interrupted:
            return EXIT_INTERRUPTED
        return 1 if self.failures or self.broken else 0


@dataclass(frozen=True)
class RunFinished:
    summary: Summary


Event = (
    RunStarted
    | Notice
    | Preview
    | BatchStarted
    | BatchOutput
    | RunsLaunched
    | BatchFinished
    | RunFinished
)


class Observer(Protocol):
    def handle(self, event: Event) -> None: ...
