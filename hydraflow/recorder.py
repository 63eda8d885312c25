"""The ledger as the engine sees it: claims before a batch starts, and how it ended.

The front ends build a ``Recorder`` (or nothing, with ``--no-ledger``) and pass
it to the engine, which claims every batch through it and sends it every event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from hydraflow.config import Job
from hydraflow.events import BatchFinished, BatchStarted, Event
from hydraflow.ledger import Attempt, Claimed, Ledger, LedgerError, Runner, Skip
from hydraflow.plan import Batch

T = TypeVar("T")

# How long a record that cannot be written is tried again before the run fails loudly.
WRITE_PATIENCE = 300.0
# A dead runner's watchdog stops its batches within its grace period; wait a little longer.
GUARD_PATIENCE = 60.0


class Recorder:
    """Claims batches in the ledger and records every attempt's end."""

    def __init__(self, ledger: Ledger, job: Job, extra: Sequence[str], *, resume: bool) -> None:
        self.ledger = ledger
        self.job = job
        self.extra = list(extra)
        self.resume = resume
        self.runner = Runner.this()
        self.rows: dict[int, int] = {}
        self.pids: dict[int, int] = {}
        latest = ledger.latest(job.key) if resume else {}
        self.previous_dirs = {key: attempt.sweep_dir for key, attempt in latest.items()}
        self.done = frozenset(ledger.succeeded(job.key)) if resume else frozenset()

    def guard(self, pid: int) -> None:
        """Rows claimed from now on name the watchdog that outlives this runner."""
        self.runner = Runner.this(guard_pid=pid)

    def sweep_dir(self, batch: Batch, new: str) -> str:
        """On ``--resume`` a batch writes into the folder of its earlier attempt."""
        return self.previous_dirs.get(batch.key, new) if self.resume else new

    def claim(self, batch: Batch, sweep_dir: str, argv: Sequence[str]) -> Claimed | Skip:
        fields: dict[str, object] = {
            "label": batch.label,
            "argv": list(argv),
            "extra": self.extra,
            "sweep_dir": sweep_dir,
            "runs": batch.runs,
        }
        deadline = time.monotonic() + GUARD_PATIENCE
        while True:
            result = self.ledger.claim(
                self.job.key, batch.key, fields, self.runner, resume=self.resume
            )
            if not isinstance(result, Attempt):
                break
            # A killed runner's batch is still being stopped: never run it twice at once.
            if time.monotonic() > deadline:
                return "elsewhere"
            time.sleep(0.1)
        if isinstance(result, Claimed):
            self.rows[batch.index] = result.row
        return result

    def handle(self, event: Event) -> None:
        # Two writes per batch, the claim and the end: a batch's process is stopped
        # with its runner by the watchdog, so its pid is history, not a guard.
        if isinstance(event, BatchStarted):
            if event.attempt > 1 or event.batch.index not in self.rows:
                self.rows[event.batch.index] = self._patiently(
                    lambda: self.ledger.insert(
                        self.job.key,
                        event.batch.key,
                        {
                            "label": event.batch.label,
                            "argv": list(event.argv),
                            "extra": self.extra,
                            "sweep_dir": event.sweep_dir,
                            "runs": event.batch.runs,
                            "attempt": event.attempt,
                        },
                        self.runner,
                    )
                )
            self.pids[event.batch.index] = event.pid
        elif isinstance(event, BatchFinished):
            row = self.rows.get(event.batch.index)
            if row is not None:
                self._patiently(lambda: self._finish(row, event))

    def _finish(self, row: int, event: BatchFinished) -> None:
        self.ledger.update(
            row,
            status=event.status,
            exit_code=event.returncode,
            start=event.started,
            end=event.ended,
            pid=self.pids.pop(event.batch.index, None),
            log_path=str(event.log_path) if event.log_path else None,
        )

    @staticmethod
    def _patiently(write: Callable[[], T]) -> T:
        """A record that cannot be written now (a lock held elsewhere) is tried again; a
        record that never can be fails the run, never leaves it silently wrong."""
        deadline = time.monotonic() + WRITE_PATIENCE
        while True:
            try:
                return write()
            except LedgerError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)

    def close(self) -> None:
        self.ledger.close()
