"""The ledger's rows: its columns, an attempt as read back, and what a claim is made of."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hydraflow.process import started_before
from hydraflow.statuses import BatchStatus

COLUMNS = {
    "id": "INTEGER PRIMARY KEY",
    "job": "TEXT NOT NULL",
    "key": "TEXT NOT NULL",
    "label": "TEXT NOT NULL",
    "argv": "TEXT NOT NULL",
    "sweep_dir": "TEXT NOT NULL",
    "status": "TEXT NOT NULL",
    "exit_code": "INTEGER",
    "start": "REAL",
    "end": "REAL",
    "host": "TEXT NOT NULL",
    "runner_pid": "INTEGER NOT NULL",
    "runner_token": "TEXT NOT NULL",
    "pid": "INTEGER",
    "log_path": "TEXT",
    "attempt": "INTEGER NOT NULL DEFAULT 1",
    # Added after the first release; older ledgers gain them when next written.
    "extra": "TEXT NOT NULL DEFAULT '[]'",
    "guard_pid": "INTEGER",
    "runs": "INTEGER",
    "part": "TEXT",
    "scheduler_id": "TEXT",
    "seen": "REAL",  # a running row's latest sign of life from its runner
}
TABLE = "CREATE TABLE IF NOT EXISTS attempts ({})".format(
    ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
)
INDEXES = (
    "CREATE INDEX IF NOT EXISTS attempts_by_key ON attempts (key, id)",
    "CREATE INDEX IF NOT EXISTS attempts_by_job ON attempts (job, id)",
)
# A runner shows it is alive this often; one on another host (whose process cannot be
# asked) silent for STALE_SECONDS is gone, and so are its running rows.
HEARTBEAT_SECONDS = 60.0
STALE_SECONDS = 600.0


@dataclass(frozen=True)
class Attempt:
    id: int
    job: str
    key: str
    label: str
    argv: list[str]
    sweep_dir: str
    status: BatchStatus
    exit_code: int | None
    start: float | None
    end: float | None
    host: str
    runner_pid: int
    runner_token: str
    pid: int | None
    log_path: str | None
    attempt: int
    extra: list[str]
    guard_pid: int | None
    runs: int | None
    part: list[int] | None
    scheduler_id: str | None
    seen: float | None

    @property
    def state(self) -> BatchStatus:
        """The status as it stands now: a ``running`` row whose runner and watchdog are
        both gone, or whose runner on another host has fallen silent, is ``lost``."""
        if not self.status.live or self.scheduler_id:
            return self.status
        if self.host != socket.gethostname():
            return BatchStatus.LOST if self.silent else self.status
        return self.status if self.holder_alive else BatchStatus.LOST

    @property
    def silent(self) -> bool:
        """A live row whose runner has shown no sign of life for ``STALE_SECONDS`` (a row
        on the cluster is followed there instead). Rows of versions that gave none never
        fall silent."""
        return (
            self.status.live
            and not self.scheduler_id
            and self.seen is not None
            and time.time() - self.seen > STALE_SECONDS
        )

    @property
    def settling(self) -> bool:
        """A live row of a runner on this host that is gone, whose watchdog is still
        stopping its batch: how the batch ends (which runs finished) is not known yet."""
        return (
            self.status.live
            and not self.scheduler_id
            and self.host == socket.gethostname()
            and not self.runner_alive
            and self.guard_alive
        )

    @property
    def is_rerun(self) -> bool:
        """A rerun of some runs of a batch (its key is the batch's key and the runs)."""
        return ":" in self.key

    def held_by(self, runner: Runner) -> bool:
        return (self.host, self.runner_pid) == (runner.host, runner.pid)

    @property
    def holder_alive(self) -> bool:
        return self.runner_alive or self.guard_alive

    @property
    def runner_alive(self) -> bool:
        return started_before(self.runner_pid, self.start or 0.0)

    @property
    def guard_alive(self) -> bool:
        return started_before(self.guard_pid, self.start or 0.0)


@dataclass(frozen=True)
class Wanted:
    """A batch a runner wants to start: its key and the row it would write."""

    key: str
    fields: dict[str, object]


Update = tuple[int, dict[str, object]]


@dataclass(frozen=True)
class Claimed:
    row: int
    sweep_dir: str


@dataclass(frozen=True)
class Runner:
    """Who writes rows: this process, on this host, guarded by its watchdog."""

    host: str
    pid: int
    guard_pid: int | None = None

    @classmethod
    def this(cls, guard_pid: int | None = None) -> Runner:
        return cls(socket.gethostname(), os.getpid(), guard_pid)


def completion(batch: Attempt, rerun: Sequence[int], end: float) -> dict[str, object]:
    """The row that says a batch succeeded once the runs it missed (``rerun``) were run
    again and succeeded, in its sweep dir."""
    return {
        "label": batch.label,
        "argv": batch.argv,
        "extra": batch.extra,
        "sweep_dir": batch.sweep_dir,
        "runs": batch.runs,
        "part": sorted(rerun),
        "status": BatchStatus.OK,
        "end": end,
    }


def sql_value(value: object) -> object:
    """Lists go into the ledger as JSON text, statuses as their words; text that is not
    UTF-8 (a path of bytes, as POSIX allows: ``p7_\\xff``) as its bytes."""
    if isinstance(value, list | tuple):
        return json.dumps(value)
    if isinstance(value, BatchStatus):
        return str(value)
    if isinstance(value, str) and not value.isascii() and not _utf8(value):
        return os.fsencode(value)
    return value


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def attempt_of(row: sqlite3.Row) -> Attempt:
    names = row.keys()
    values: dict[str, Any] = {name: row[name] if name in names else None for name in COLUMNS}
    for name, value in values.items():
        if isinstance(value, bytes):  # text kept as the bytes it was
            values[name] = os.fsdecode(value)
    values["status"] = BatchStatus(values["status"])
    values["argv"] = json.loads(values["argv"])
    values["extra"] = json.loads(values["extra"] or "[]")
    values["part"] = json.loads(values["part"]) if values["part"] else None
    values["attempt"] = values["attempt"] or 1
    return Attempt(**values)
