"""The run ledger: one SQLite row per batch attempt, at ``.hydraflow/ledger.db``.

Batches are known by their content key (see ``plan.batch_key``), so an edited
hydraflow.yaml still resumes right. Before a batch starts, its runner *claims*
it in a write transaction: a batch that another live runner is running is
skipped, so two runners on one ledger never run it twice at once. A runner
that dies leaves its rows ``running``; they read as ``lost`` once its process
is gone, and a batch it left behind is stopped before the batch is run again.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from hydraflow.errors import UsageError
from hydraflow.plan import Batch
from hydraflow.run.events import BatchFinished, BatchStarted, Event

LEDGER = Path(".hydraflow") / "ledger.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    argv TEXT NOT NULL,
    sweep_dir TEXT NOT NULL,
    status TEXT NOT NULL,
    exit_code INTEGER,
    start REAL,
    end REAL,
    host TEXT NOT NULL,
    runner_pid INTEGER NOT NULL,
    runner_token TEXT NOT NULL,
    pid INTEGER,
    log_path TEXT,
    attempt INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS attempts_by_key ON attempts (key, id);
CREATE INDEX IF NOT EXISTS attempts_by_job ON attempts (job, id);
"""


class LedgerError(UsageError):
    """The ledger file exists but cannot be used; it is never replaced silently."""


def process_token(pid: int) -> str | None:
    """A process's start time (Linux), to tell it from a later process with the same pid.

    None when no such process runs; "" when it runs but the start time is unknown.
    """
    if pid <= 0:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return ""
    fields = stat.rpartition(")")[2].split()
    if fields and fields[0] == "Z":  # a zombie has finished
        return None
    return fields[19] if len(fields) > 19 else ""


def is_alive(pid: int | None, token: str | None) -> bool:
    current = process_token(pid or 0)
    return current is not None and (not token or not current or current == token)


@dataclass(frozen=True)
class Attempt:
    id: int
    job: str
    key: str
    label: str
    argv: list[str]
    sweep_dir: str
    status: str
    exit_code: int | None
    start: float | None
    end: float | None
    host: str
    runner_pid: int
    runner_token: str
    pid: int | None
    log_path: str | None
    attempt: int

    @property
    def state(self) -> str:
        """The status as it stands now: a ``running`` row whose runner is gone is ``lost``."""
        if self.status != "running" or self.host != socket.gethostname():
            return self.status
        return "running" if is_alive(self.runner_pid, self.runner_token) else "lost"


_HOST = socket.gethostname()
_RUNNER = (os.getpid(), process_token(os.getpid()) or "")


class Ledger:
    """The ledger of one project; safe to share between the threads of one runner."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self._lock = threading.Lock()
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._prepare(create)
        except sqlite3.Error as error:
            raise LedgerError(
                f"{path} is not a usable ledger ({error}); move it aside to start a new one"
            ) from None

    def _prepare(self, create: bool) -> None:
        """Switch to WAL and make the table. Runners starting together may briefly
        find the file locked while one of them does this (SQLite's busy timeout does
        not cover a change of journal mode), so a locked file is tried again."""
        deadline = time.time() + 30
        while True:
            try:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                if create:
                    self._db.executescript(_SCHEMA)
                self._db.execute("SELECT count(*) FROM attempts").fetchone()
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.time() > deadline:
                    raise
                time.sleep(0.05)

    @classmethod
    def existing(cls, root: Path) -> Ledger | None:
        """The project's ledger if it has one (reading never creates it)."""
        path = root / LEDGER
        return cls(path, create=False) if path.exists() else None

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                raise LedgerError(f"{self.path}: {error}") from None

    def _query(self, sql: str, *params: object) -> list[sqlite3.Row]:
        with self._lock:
            try:
                self._db.row_factory = sqlite3.Row
                return list(self._db.execute(sql, params))
            except sqlite3.Error as error:
                raise LedgerError(f"{self.path}: {error}") from None
            finally:
                self._db.row_factory = None

    # -- reading ---------------------------------------------------------------------

    def attempts(self, job: str | None = None) -> list[Attempt]:
        where, params = ("WHERE job = ?", (job,)) if job else ("", ())
        rows = self._query(f"SELECT * FROM attempts {where} ORDER BY id", *params)
        return [_attempt(row) for row in rows]

    def latest(self, job: str) -> dict[str, Attempt]:
        """The newest attempt of every batch key of ``job``."""
        return {attempt.key: attempt for attempt in self.attempts(job)}

    def succeeded(self, job: str) -> set[str]:
        rows = self._query("SELECT DISTINCT key FROM attempts WHERE job = ? AND status = 'ok'", job)
        return {row["key"] for row in rows}

    # -- writing ---------------------------------------------------------------------

    def claim(self, job: str, batch: Batch, argv: list[str], *, resume: bool) -> int | None:
        """Record that this runner starts ``batch``; None when it must not run here."""
        with self._write() as db:
            if (
                resume
                and db.execute(
                    "SELECT 1 FROM attempts WHERE key = ? AND status = 'ok' LIMIT 1", (batch.key,)
                ).fetchone()
            ):
                return None
            db.row_factory = sqlite3.Row
            row = db.execute(
                "SELECT * FROM attempts WHERE key = ? ORDER BY id DESC LIMIT 1", (batch.key,)
            ).fetchone()
            db.row_factory = None
            if row is not None and row["status"] == "running":
                previous = _attempt(row)
                if previous.state == "running":
                    return None  # another live runner has it
                db.execute("UPDATE attempts SET status = 'lost' WHERE id = ?", (previous.id,))
            return self._insert(db, job, batch, argv, attempt=1)

    def _insert(
        self, db: sqlite3.Connection, job: str, batch: Batch, argv: list[str], attempt: int
    ) -> int:
        cursor = db.execute(
            "INSERT INTO attempts (job, key, label, argv, sweep_dir, status, host, runner_pid,"
            " runner_token, attempt, start) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
            (
                job,
                batch.key,
                batch.label,
                json.dumps(argv),
                batch.sweep_dir,
                _HOST,
                *_RUNNER,
                attempt,
                time.time(),
            ),
        )
        return int(cursor.lastrowid or 0)

    def retry(self, job: str, batch: Batch, argv: list[str], attempt: int) -> int:
        with self._write() as db:
            return self._insert(db, job, batch, argv, attempt)

    def finished(self, row: int, event: BatchFinished, pid: int | None) -> None:
        log = str(event.log_path) if event.log_path else None
        with self._write() as db:
            db.execute(
                "UPDATE attempts SET status = ?, exit_code = ?, start = ?, end = ?, pid = ?,"
                " log_path = ? WHERE id = ?",
                (event.status, event.returncode, event.started, event.ended, pid, log, row),
            )


def _attempt(row: sqlite3.Row) -> Attempt:
    values = dict(row)
    values["argv"] = json.loads(values["argv"])
    return Attempt(**values)


class Recorder:
    """Connects a run to the ledger: claims batches and records every attempt's fate."""

    def __init__(
        self, ledger: Ledger, job: str, argv_of: Callable[[Batch], Sequence[str]], *, resume: bool
    ) -> None:
        self.ledger = ledger
        self.job = job
        self.argv_of = argv_of
        self.resume = resume
        self.rows: dict[int, int] = {}
        self.pids: dict[int, int] = {}

    def claim(self, batch: Batch) -> bool:
        row = self.ledger.claim(self.job, batch, list(self.argv_of(batch)), resume=self.resume)
        if row is None:
            return False
        self.rows[batch.index] = row
        return True

    def handle(self, event: Event) -> None:
        # Two writes per batch, the claim and the end: the batch's process is
        # stopped with its runner by the watchdog, so its pid is history, not a guard.
        if isinstance(event, BatchStarted):
            if event.batch.index not in self.rows or event.attempt > 1:
                self.rows[event.batch.index] = self.ledger.retry(
                    self.job, event.batch, list(event.argv), event.attempt
                )
            self.pids[event.batch.index] = event.pid
        elif isinstance(event, BatchFinished):
            row = self.rows.get(event.batch.index)
            if row is not None:
                self.ledger.finished(row, event, self.pids.pop(event.batch.index, None))
