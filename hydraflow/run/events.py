"""What a run reports as it goes. The display and the ledger are observers of these."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from hydraflow.plan import Batch

Status = Literal["ok", "failed", "timeout", "interrupted"]


@dataclass(frozen=True, slots=True)
class RunStarted:
    job: str
    total: int
    workers: int
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class BatchStarted:
    batch: Batch
    argv: tuple[str, ...]
    slot: int
    attempt: int
    pid: int
    log_path: Path | None
    time: float


@dataclass(frozen=True, slots=True)
class BatchOutput:
    batch: Batch
    data: bytes  # one line, without its newline, exactly as the program wrote it
    stream: Literal["stdout", "stderr"]


@dataclass(frozen=True, slots=True)
class BatchFinished:
    batch: Batch
    status: Status
    returncode: int | None
    started: float
    ended: float
    attempt: int
    log_path: Path | None
    tail: tuple[str, ...] = ()
    retrying: bool = False

    @property
    def duration(self) -> float:
        return self.ended - self.started


@dataclass
class Summary:
    job: str
    total: int
    ok: int = 0
    skipped: int = 0
    failures: list[BatchFinished] = field(default_factory=list)
    interrupted: bool = False
    started: float = 0.0
    ended: float = 0.0

    @property
    def not_started(self) -> int:
        return self.total - self.ok - self.skipped - len(self.failures)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failures else 0


@dataclass(frozen=True, slots=True)
class RunFinished:
    summary: Summary


Event = RunStarted | BatchStarted | BatchOutput | BatchFinished | RunFinished


class Observer(Protocol):
    def handle(self, event: Event) -> None: ...
