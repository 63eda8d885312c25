"""A runner's hold on the ledger: the batches it claims before they start, the ends it
writes, and a sign of life on its running rows.

Writes are few: claims come in small groups in one transaction, and the end of
a short batch is written with the next group of claims (a long batch's end at
once), so the ledger costs a fraction of a batch's start. A record that cannot
be written now (the file locked by another process) is tried again for minutes;
one that never can be fails the execution loudly, never leaves it silently wrong.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from hydraflow.ledger.rows import HEARTBEAT_SECONDS, Attempt, Claimed, Runner, Update, Wanted
from hydraflow.ledger.store import BUSY_SECONDS, Ledger, LedgerError
from hydraflow.statuses import BatchStatus, Skip

T = TypeVar("T")

# How long a record that cannot be written is tried again before the execution fails.
WRITE_PATIENCE = 300.0
# A dead runner's watchdog stops its batches within its grace period; wait a little longer.
GUARD_PATIENCE = 60.0


class Claims:
    """What one runner claims and writes in the ledger, for one job."""

    def __init__(self, ledger: Ledger, job: str, *, resume: bool) -> None:
        self.ledger = ledger
        self.job = job
        self.resume = resume
        self.runner = Runner.this()
        self.lock = threading.Lock()
        self.pending: list[Update] = []
        self._open: set[int] = set()  # rows claimed and not yet ended: the heartbeat's
        self._stopped = threading.Event()
        self._heartbeat: threading.Thread | None = None
        # Told once when the ledger was deleted under this runner and made anew.
        self.warn: Callable[[str], None] = lambda text: None
        self._warned = False

    @property
    def ledger_path(self) -> Path:
        return self.ledger.path.resolve()

    def guard(self, pid: int) -> None:
        """Rows claimed from now on name the watchdog that outlives this runner."""
        self.runner = Runner.this(guard_pid=pid)

    def claim(self, wanted: Sequence[Wanted]) -> list[Claimed | Skip]:
        """Claim a group of batches at once, in one transaction that also writes the ends
        still waiting. A batch whose dead runner's watchdog is still stopping it is waited
        for: never run twice at once."""
        self._keep_alive()
        results: list[Claimed | Skip | Attempt] = self._claim(list(wanted))
        deadline = time.monotonic() + GUARD_PATIENCE
        while waiting := [i for i, r in enumerate(results) if isinstance(r, Attempt)]:
            if time.monotonic() > deadline:
                for i in waiting:
                    results[i] = Skip.ELSEWHERE
                break
            time.sleep(0.1)
            for i, result in zip(waiting, self._claim([wanted[i] for i in waiting]), strict=True):
                results[i] = result
        claimed: list[Claimed | Skip] = []
        for result in results:
            assert not isinstance(result, Attempt)
            if isinstance(result, Claimed):
                with self.lock:
                    self._open.add(result.row)
            claimed.append(result)
        return claimed

    def _claim(self, items: list[Wanted]) -> list[Claimed | Skip | Attempt]:
        with self.lock:
            finished, self.pending = self.pending, []
        try:
            return self.patiently(
                lambda: self.ledger.claim(
                    self.job, items, self.runner, resume=self.resume, finished=finished
                )
            )
        except BaseException:
            with self.lock:
                self.pending[:0] = finished
            raise

    def insert(self, key: str, fields: dict[str, object]) -> int:
        """A row of its own: a retry's attempt, or a batch completed by reruns of its runs."""
        self.flush()
        row = self.patiently(lambda: self.ledger.insert(self.job, key, fields, self.runner))
        if fields.get("status", BatchStatus.RUNNING) == BatchStatus.RUNNING:
            with self.lock:
                self._open.add(row)
        return row

    def end(self, row: int, fields: dict[str, object], *, now: bool) -> None:
        """How an attempt ended; written with the next claims unless ``now``."""
        with self.lock:
            self.pending.append((row, fields))
            self._open.discard(row)
        if now:
            self.flush()

    def release(self, claims: Sequence[Claimed]) -> None:
        """Claims of batches that will not start after all (the execution stopped first)."""
        with self.lock:
            self._open.difference_update(c.row for c in claims)
        self.patiently(lambda: self.ledger.release([c.row for c in claims]))

    def release_untaken(self, rows: Sequence[int]) -> None:
        """Claims of batches a submit handler never took (it failed before submitting)."""
        self.patiently(lambda: self.ledger.release(rows, untaken=True))

    def flush(self) -> None:
        with self.lock:
            updates, self.pending = self.pending, []
        if updates:
            self.patiently(lambda: self.ledger.update(updates))

    def patiently(self, write: Callable[[], T]) -> T:
        """A record that cannot be written now (a lock held elsewhere) is tried again; a
        record that never can be fails the execution, never leaves it silently wrong."""
        deadline = time.monotonic() + WRITE_PATIENCE
        while True:
            try:
                written = write()
                break
            except LedgerError as error:
                if not error.retryable or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
        if self.ledger.recreated and not self._warned:
            self._warned = True
            self.warn(
                f"warning: the ledger {self.ledger.path} was deleted during the run: made anew,"
                " with this run's attempts so far (those of earlier runs are gone)"
            )
        return written

    # -- the sign of life ----------------------------------------------------------

    def _keep_alive(self) -> None:
        """From the first claim on, a sign of life on this runner's rows every
        ``HEARTBEAT_SECONDS``: a runner on another host cannot ask whether this one lives."""
        if self._heartbeat is None:
            self._heartbeat = threading.Thread(target=self._beat, name="hydraflow-heartbeat")
            self._heartbeat.daemon = True
            self._heartbeat.start()

    def _beat(self) -> None:
        while not self._stopped.wait(HEARTBEAT_SECONDS):
            with self.lock:
                rows = sorted(self._open)
            with contextlib.suppress(LedgerError):  # a beat missed, the next one makes up
                self.ledger.beat(rows)

    def close(self) -> None:
        try:
            self._stopped.set()
            if self._heartbeat is not None:  # a beat waits at most for the ledger's lock
                self._heartbeat.join(timeout=BUSY_SECONDS + 1.0)
            self.flush()
        finally:
            self.ledger.close()
