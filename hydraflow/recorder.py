"""The ledger as the engine sees it: claims before batches start, and how they ended.

The front ends build a ``Recorder`` (or nothing, with ``--no-ledger``) and pass
it to the engine, which claims every batch through it and sends it every event.

Writes are few: claims come in small groups in one transaction, and the end of
a short batch is written with the next group of claims (a long batch's end at
once), so the ledger costs a fraction of a batch's start.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from hydraflow.analysis.reading import run_numbers
from hydraflow.cluster import refresh
from hydraflow.config import Job
from hydraflow.events import BatchFinished, BatchStarted, Event, RunFinished
from hydraflow.ledger import (
    BUSY_SECONDS,
    HEARTBEAT_SECONDS,
    LIVE,
    Attempt,
    Claimed,
    Ledger,
    LedgerError,
    Runner,
    Skip,
    Update,
    Wanted,
    completion,
)
from hydraflow.plan import Batch, planned_runs
from hydraflow.words import params_of

T = TypeVar("T")

# How long a record that cannot be written is tried again before the run fails loudly.
WRITE_PATIENCE = 300.0
# A dead runner's watchdog stops its batches within its grace period; wait a little longer.
GUARD_PATIENCE = 60.0
# The end of a batch shorter than this waits for the next claim's transaction.
DEFER_SECONDS = 1.0


class Recorder:
    """Claims batches in the ledger and records every attempt's end."""

    def __init__(
        self,
        ledger: Ledger,
        job: Job,
        extra: Sequence[str],
        *,
        resume: bool,
        root: Path | None = None,
        writes: bool = True,
    ) -> None:
        self.ledger = ledger
        self.job = job
        self.extra = list(extra)
        self.resume = resume
        self.runner = Runner.this()
        self.rows: dict[tuple[int, tuple[int, ...]], int] = {}  # by the batch's place
        self.pids: dict[tuple[int, tuple[int, ...]], int] = {}
        self.pending: list[Update] = []
        self.lock = threading.Lock()
        self.root = root or Path.cwd()
        self.writes = writes
        self.ledger_path: Path | None = ledger.path.resolve()
        if writes and (resume or job.mode == "submit"):  # what the cluster did since
            refresh(ledger, self.root, job.key)
        latest = ledger.latest(job.key) if resume else {}
        self.previous = latest
        self.done = frozenset(ledger.succeeded(job.key)) if resume else frozenset()
        self.parts: dict[str, set[int]] = {}  # runs being rerun, by the key of their batch
        self._reruns: dict[str, tuple[int, ...] | None] = {}
        self.part_failed: set[str] = set()
        self._stopped = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._open: set[int] = set()  # rows claimed and not yet ended: the heartbeat's

    def _keep_alive(self) -> None:
        """From the first claim on, a sign of life on this runner's rows every
        ``HEARTBEAT_SECONDS``: a runner on another host cannot ask whether this one lives."""
        if self._heartbeat is None and self.writes:
            self._heartbeat = threading.Thread(target=self._beat, name="hydraflow-heartbeat")
            self._heartbeat.daemon = True
            self._heartbeat.start()

    def _beat(self) -> None:
        while not self._stopped.wait(HEARTBEAT_SECONDS):
            with self.lock:
                rows = sorted(self._open)
            with contextlib.suppress(LedgerError):  # a beat missed, the next one makes up
                self.ledger.beat(rows)

    def guard(self, pid: int) -> None:
        """Rows claimed from now on name the watchdog that outlives this runner."""
        self.runner = Runner.this(guard_pid=pid)

    def sweep_dir(self, batch: Batch, new: str) -> str:
        """On ``--resume`` a batch writes into the folder of its earlier attempt."""
        earlier = self.previous.get(batch.base_key) if self.resume else None
        return earlier.sweep_dir if earlier else new

    def reruns(self, batch: Batch) -> tuple[int, ...] | None:
        """Which runs of a batch that did not succeed to run again: those without an ``ok``
        record in its sweep dir. None reruns the whole batch (nothing succeeded, it is
        still running somewhere, or hydraflow cannot tell which runs it makes); empty
        means every run succeeded."""
        if batch.key not in self._reruns:
            self._reruns[batch.key] = self._find_reruns(batch)
        return self._reruns[batch.key]

    def _find_reruns(self, batch: Batch) -> tuple[int, ...] | None:
        previous = self.previous.get(batch.key)
        if previous is None or previous.status == "ok":
            return None
        if previous.state in LIVE:  # here, on another host or on the cluster
            return None  # its claim will say it runs elsewhere: never beside it
        planned = planned_runs(batch)
        if not planned:
            return None
        folder = str(self.root / previous.sweep_dir)
        succeeded = run_numbers(folder, [params_of(run) for run in planned])
        missing = tuple(n for n in range(len(planned)) if n not in succeeded)
        if len(missing) == len(planned):
            return None
        if not missing and self.writes:
            self._complete(batch.key, ())
        if missing:
            self.parts[batch.key] = set(missing)
        return missing

    def claim(
        self, wanted: Sequence[tuple[Batch, str, Sequence[str]]], status: str = "running"
    ) -> list[Claimed | Skip]:
        """Claim a group of batches (batch, sweep dir, argv) at once: ``running`` here, or
        ``queued`` when a scheduler is to run them."""
        items = [
            Wanted(batch.key, {**self._fields(batch, directory, argv), "status": status})
            for batch, directory, argv in wanted
        ]
        self._keep_alive()
        results: list[Claimed | Skip | Attempt] = self._claim(items)
        deadline = time.monotonic() + GUARD_PATIENCE
        # A killed runner's batch is still being stopped: never run it twice at once.
        while waiting := [i for i, r in enumerate(results) if isinstance(r, Attempt)]:
            if time.monotonic() > deadline:
                for i in waiting:
                    results[i] = "elsewhere"
                break
            time.sleep(0.1)
            for i, result in zip(waiting, self._claim([items[i] for i in waiting]), strict=True):
                results[i] = result
        claimed: list[Claimed | Skip] = []
        for (batch, _, _), result in zip(wanted, results, strict=True):
            assert not isinstance(result, Attempt)
            if isinstance(result, Claimed):
                self.rows[batch.place] = result.row
                with self.lock:
                    self._open.add(result.row)
            claimed.append(result)
        return claimed

    def _claim(self, items: list[Wanted]) -> list[Claimed | Skip | Attempt]:
        with self.lock:
            finished, self.pending = self.pending, []
        try:
            return self._patiently(
                lambda: self.ledger.claim(
                    self.job.key, items, self.runner, resume=self.resume, finished=finished
                )
            )
        except BaseException:
            with self.lock:
                self.pending[:0] = finished
            raise

    def release(self, claims: Sequence[Claimed]) -> None:
        """Claims of batches that will not start after all (the run stopped first)."""
        with self.lock:
            self._open.difference_update(c.row for c in claims)
        self._patiently(lambda: self.ledger.release([c.row for c in claims]))

    def release_untaken(self, rows: Sequence[int]) -> None:
        """Claims of batches a submit handler never took (it failed before submitting)."""
        self._patiently(lambda: self.ledger.release(rows, untaken=True))

    def _fields(self, batch: Batch, directory: str, argv: Sequence[str]) -> dict[str, object]:
        return {
            "label": batch.label,
            "argv": list(argv),
            "extra": self.extra,
            "sweep_dir": directory,
            "runs": batch.runs,
            "part": list(batch.rerun) or None,
        }

    def handle(self, event: Event) -> None:
        if isinstance(event, BatchStarted):
            if event.attempt > 1 or event.batch.place not in self.rows:
                fields = {**self._fields(event.batch, event.sweep_dir, event.argv)}
                fields["attempt"] = event.attempt
                self.rows[event.batch.place] = self._patiently(
                    lambda: self.ledger.insert(self.job.key, event.batch.key, fields, self.runner)
                )
                with self.lock:
                    self._open.add(self.rows[event.batch.place])
            self.pids[event.batch.place] = event.pid
        elif isinstance(event, BatchFinished):
            if event.batch.base and not event.retrying:
                self._part_finished(event)
            row = self.rows.get(event.batch.place)
            if row is None:
                return
            update: Update = (
                row,
                {
                    "status": event.status,
                    "exit_code": event.returncode,
                    "start": event.started,
                    "end": event.ended,
                    "pid": self.pids.pop(event.batch.place, None),
                    "log_path": str(event.log_path) if event.log_path else None,
                },
            )
            with self.lock:
                self.pending.append(update)
                self._open.discard(row)
            if event.duration >= DEFER_SECONDS:
                self.flush()
        elif isinstance(event, RunFinished):
            self.flush()

    def _part_finished(self, event: BatchFinished) -> None:
        """When every rerun run of a batch has succeeded, the batch has: say so once."""
        base = event.batch.base
        if event.status != "ok":
            self.part_failed.add(base)
            return
        waiting = self.parts.get(base)
        if waiting is None:
            return
        waiting.difference_update(event.batch.rerun)
        if not waiting and base not in self.part_failed and base in self.previous:
            self._complete(base, self._reruns.get(base) or event.batch.rerun)

    def _complete(self, key: str, rerun: Sequence[int]) -> None:
        fields = completion(self.previous[key], rerun, time.time())
        self.flush()
        self._patiently(lambda: self.ledger.insert(self.job.key, key, fields, self.runner))

    def flush(self) -> None:
        with self.lock:
            updates, self.pending = self.pending, []
        if updates:
            self._patiently(lambda: self.ledger.update(updates))

    @staticmethod
    def _patiently(write: Callable[[], T]) -> T:
        """A record that cannot be written now (a lock held elsewhere) is tried again; a
        record that never can be fails the run, never leaves it silently wrong."""
        deadline = time.monotonic() + WRITE_PATIENCE
        while True:
            try:
                return write()
            except LedgerError as error:
                if not error.retryable or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)

    def close(self) -> None:
        try:
            self._stopped.set()
            if self._heartbeat is not None:  # a beat waits at most for the ledger's lock
                self._heartbeat.join(timeout=BUSY_SECONDS + 1.0)
            self.flush()
        finally:
            self.ledger.close()
