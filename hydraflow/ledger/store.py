"""The ledger's file: opening it (and making its table, race-free), and reading and
writing its rows in transactions."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from hydraflow.errors import HydraflowError
from hydraflow.ledger.rows import (
    COLUMNS,
    INDEXES,
    TABLE,
    Attempt,
    Claimed,
    Runner,
    Update,
    Wanted,
    attempt_of,
    sql_value,
)
from hydraflow.statuses import LIVE, BatchStatus, Skip

LEDGER = Path(".hydraflow") / "ledger.db"
# A short wait per try: the recorder tries again, for minutes, when it must.
BUSY_SECONDS = 5.0
# The version of the table's columns; a ledger with another is brought up to date.
SCHEMA = 3


class LedgerError(HydraflowError):
    """The ledger cannot be used; it is never replaced silently.

    ``retryable`` when another process only holds it locked for now. Not a usage
    mistake: the execution it stops ends with status 1, said in one line.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class Ledger:
    """The ledger of one project; safe to share between the threads of one runner."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._create = create
        # Rows of this process copied into a ledger made anew under another id.
        self._moved: dict[int, int] = {}
        self.recreated = 0  # how many rows were copied into a ledger made anew
        self._connect()

    def _connect(self) -> None:
        path, create = self.path, self._create
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            # A short wait per try: the recorder tries again, for minutes, when it must.
            self._db = sqlite3.connect(
                os.fsencode(path),
                timeout=BUSY_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            self._prepare(create)
            self._identity = _identity(path)
        except sqlite3.DatabaseError as error:
            raise _failure(path, error) from None
        except OSError as error:
            raise LedgerError(f"cannot open the ledger {path}: {error.strerror}") from None

    def _follow_the_file(self) -> None:
        """Before a write: the file deleted (or another put in its place) while this runner
        had it open is made anew, with this process's rows copied over from the old one,
        which stays readable while it is open. So nothing this execution finished is
        forgotten, and the rest of it is recorded."""
        if not self._create or _identity(self.path) == self._identity:
            return
        mine = [
            dict(zip(row.keys(), tuple(row), strict=True))
            for row in self._rows("SELECT * FROM attempts WHERE runner_pid = ? AND host = ?",
                                  os.getpid(), socket.gethostname())
        ]  # fmt: skip
        self._db.close()
        self._connect()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for row in mine:
                self._moved[row["id"]] = self._copy(row)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self.recreated += len(mine) or 1

    def _copy(self, row: dict[str, object]) -> int:
        """A row under its own id where that is free, else under a new one."""
        try:
            self._db.execute(_insert_sql(row), tuple(row.values()))
            return int(str(row["id"]))
        except sqlite3.IntegrityError:
            rest = {k: v for k, v in row.items() if k != "id"}
            return int(self._db.execute(_insert_sql(rest), tuple(rest.values())).lastrowid or 0)

    def _rows(self, sql: str, *params: object) -> list[sqlite3.Row]:
        self._db.row_factory = sqlite3.Row
        try:
            return list(self._db.execute(sql, params))
        except sqlite3.DatabaseError:
            return []  # nothing readable is left of it: there is nothing to copy
        finally:
            self._db.row_factory = None

    def _row(self, row: int) -> int:
        return self._moved.get(row, row)

    def _prepare(self, create: bool) -> None:
        """WAL mode and the table, made once by whichever runner comes first.

        A change of journal mode is not covered by SQLite's busy timeout, so a
        locked file is tried again; the table is made inside a write
        transaction, so a second runner waits for it instead of finding it half made.
        """
        deadline = time.monotonic() + 30
        while True:
            try:
                if create:
                    if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute("PRAGMA synchronous=NORMAL")
                    # The schema's version is kept in the file: a ledger made by this
                    # version needs no write to open.
                    if self._db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA:
                        self._make_table()
                self._columns = self._existing_columns()
                if create or self._columns:
                    self._db.execute("SELECT count(*) FROM attempts").fetchone()
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _make_table(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(TABLE)
            have = self._existing_columns()
            for name, kind in COLUMNS.items():
                if name not in have:
                    self._db.execute(f"ALTER TABLE attempts ADD COLUMN {name} {kind}")
            for index in INDEXES:
                self._db.execute(index)
            self._db.execute(f"PRAGMA user_version = {SCHEMA}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _existing_columns(self) -> set[str]:
        return {row[1] for row in self._db.execute("PRAGMA table_info(attempts)")}

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
                self._follow_the_file()
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError as error:
                raise _failure(self.path, error) from None

    def _query(self, sql: str, *params: object) -> list[sqlite3.Row]:
        if not self._columns:
            return []  # a file another runner has only just made: nothing recorded yet
        with self._lock:
            try:
                self._db.row_factory = sqlite3.Row
                return list(self._db.execute(sql, params))
            except sqlite3.DatabaseError as error:
                raise _failure(self.path, error) from None
            finally:
                self._db.row_factory = None

    # -- reading ---------------------------------------------------------------------

    def attempts(self, job: str | None = None) -> list[Attempt]:
        where, params = ("WHERE job = ?", (job,)) if job else ("", ())
        rows = self._query(f"SELECT * FROM attempts {where} ORDER BY id", *params)
        return [attempt_of(row) for row in rows]

    def latest(self, job: str) -> dict[str, Attempt]:
        """The newest attempt of every batch key of ``job``."""
        return {attempt.key: attempt for attempt in self.attempts(job)}

    def succeeded(self, job: str) -> set[str]:
        """The batch keys whose latest attempt succeeded: a later failure (an execution without
        ``--resume``) makes a batch to do again."""
        rows = self._query(_latest_ok(), job)
        return {row["key"] for row in rows}

    # -- writing ---------------------------------------------------------------------

    def claim(
        self,
        job: str,
        wanted: Sequence[Wanted],
        runner: Runner,
        *,
        resume: bool,
        finished: Sequence[Update] = (),
    ) -> list[Claimed | Skip | Attempt]:
        """Record that ``runner`` starts each wanted batch, in one transaction that also
        writes the ends in ``finished``.

        For each batch: its new row, or why it must not run here now: ``done``
        (it succeeded before, with ``resume``), ``elsewhere`` (a live runner has
        it), or the attempt of a dead runner whose watchdog is still stopping it.
        """
        with self._write() as db:
            self._update(db, finished)
            keys = [item.key for item in wanted]
            marks = ",".join("?" * len(keys))
            done = set()
            if resume:
                done = {row[0] for row in db.execute(_latest_ok(len(keys)), (job, *keys))}
            # A running or queued row is always its key's latest: a claim marks older ones lost.
            db.row_factory = sqlite3.Row
            live = {
                row["key"]: attempt_of(row)
                for row in db.execute(
                    f"SELECT * FROM attempts WHERE status IN {_sql(LIVE)} AND key IN ({marks})",
                    keys,
                )
            }
            db.row_factory = None
            return [self._claim(db, job, item, runner, item.key in done, live) for item in wanted]

    def _claim(
        self,
        db: sqlite3.Connection,
        job: str,
        item: Wanted,
        runner: Runner,
        done: bool,
        live: dict[str, Attempt],
    ) -> Claimed | Skip | Attempt:
        if done:
            return Skip.DONE
        previous = live.get(item.key)
        # This runner's own live row of the key is a batch alike earlier in its run
        # (``each: i=1,1`` runs both): not someone else's, and still running.
        if previous is not None and not previous.held_by(runner):
            here = previous.host == runner.host
            if (
                previous.scheduler_id
                or (not here and not previous.silent)
                or (here and previous.runner_alive)
            ):
                # Queued or running on the cluster, on another machine, or by a live runner.
                return Skip.ELSEWHERE
            if here and previous.guard_alive:
                return previous
            db.execute(
                "UPDATE attempts SET status = ? WHERE id = ?", (BatchStatus.LOST, previous.id)
            )
        row_id = self._insert(db, job, item.key, item.fields, runner)
        return Claimed(row_id, str(item.fields["sweep_dir"]))

    def insert(self, job: str, key: str, fields: dict[str, object], runner: Runner) -> int:
        with self._write() as db:
            return self._insert(db, job, key, fields, runner)

    @staticmethod
    def _insert(
        db: sqlite3.Connection, job: str, key: str, fields: dict[str, object], runner: Runner
    ) -> int:
        now = time.time()
        values = {
            "job": job,
            "key": key,
            "status": BatchStatus.RUNNING,
            "host": runner.host,
            "runner_pid": runner.pid,
            "runner_token": "",
            "guard_pid": runner.guard_pid,
            "start": now,
            "seen": now,
            **{k: sql_value(v) for k, v in fields.items()},
        }
        return int(db.execute(_insert_sql(values), tuple(values.values())).lastrowid or 0)

    def update(self, updates: Sequence[Update]) -> None:
        with self._write() as db:
            self._update(db, updates)

    def _update(self, db: sqlite3.Connection, updates: Sequence[Update]) -> None:
        for row, fields in updates:
            assignments = ", ".join(f"{name} = ?" for name in fields)
            db.execute(
                f"UPDATE attempts SET {assignments} WHERE id = ?",
                (*(sql_value(v) for v in fields.values()), self._row(row)),
            )

    def beat(self, rows: Sequence[int]) -> None:
        """A sign of life on the live ``rows`` of a runner, for runners on other hosts."""
        if rows:
            now = time.time()
            with self._write() as db:
                db.executemany(
                    f"UPDATE attempts SET seen = ? WHERE id = ? AND status IN {_sql(LIVE)}",
                    [(now, self._row(row)) for row in rows],
                )

    def release(self, rows: Sequence[int], *, untaken: bool = False) -> None:
        """Forget claims of batches that were never started (the execution stopped first);
        ``untaken``: only those a scheduler never took (still queued, with no job id)."""
        condition = (
            f" AND status = '{BatchStatus.QUEUED}' AND scheduler_id IS NULL" if untaken else ""
        )
        if rows:
            with self._write() as db:
                db.executemany(
                    f"DELETE FROM attempts WHERE id = ?{condition}",
                    [(self._row(row),) for row in rows],
                )

    # The ledger's other tables (``forgotten.py``) are read and written under the same lock.
    transaction = _write
    read = _query


def _latest_ok(keys: int = 0) -> str:
    """The keys of a job (among ``keys`` given ones, if any) whose latest attempt is ok."""
    among = f" AND key IN ({','.join('?' * keys)})" if keys else ""
    return (
        f"SELECT key FROM attempts WHERE status = '{BatchStatus.OK}' AND id IN"
        f" (SELECT MAX(id) FROM attempts WHERE job = ?{among} GROUP BY key)"
    )


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file a path names now (None: none), to see it deleted or replaced."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _insert_sql(row: dict[str, object]) -> str:
    return f"INSERT INTO attempts ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"


def _sql(words: tuple[str, ...]) -> str:
    """``('queued', 'running')`` for an ``IN`` clause of words hydraflow chose."""
    return "(" + ", ".join(f"'{word}'" for word in words) + ")"


def _failure(path: Path, error: sqlite3.DatabaseError) -> LedgerError:
    text = str(error)
    return LedgerError(explain(path, error), retryable="locked" in text or "busy" in text)


def explain(path: Path, error: sqlite3.DatabaseError) -> str:
    """Say what is really wrong: only a damaged file is worth moving aside."""
    text = str(error)
    if "readonly" in text or "read-only" in text:
        return f"cannot write the ledger {path}: the folder or file is read-only ({text})"
    if "disk is full" in text or "disk I/O" in text:
        return f"cannot write the ledger {path}: {text} (free some space and run again)"
    if "locked" in text:
        return f"the ledger {path} stayed locked by another process for too long ({text})"
    if "unable to open" in text:
        return f"cannot open the ledger {path}: {text}"
    return f"{path} is not a usable ledger ({text}); move it aside to start a new one"
