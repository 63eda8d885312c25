"""Run batches as child processes, up to N at once.

Every batch is a process-group leader (its own session), so a timeout or an
interrupt can stop the batch *and everything it started*. Output is read line
by line from both pipes, appended to the batch's log file and reported as
events; nothing here prints.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Literal

from hydraflow.plan import Batch
from hydraflow.run.events import (
    BatchFinished,
    BatchOutput,
    BatchStarted,
    Event,
    Status,
    Summary,
)
from hydraflow.run.signals import signal_group
from hydraflow.run.watchdog import Watchdog

GRACE_SECONDS = 5.0
TAIL_LINES = 5


@dataclass
class PoolSettings:
    workers: int = 1
    failure_limit: int | None = 1
    timeout: float | None = None
    retries: int = 0
    devices: Sequence[str] = ()
    grace: float = GRACE_SECONDS
    logs: bool = True


class _Log:
    """A batch's log file, made at its first line: a silent batch costs no file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self.path is None:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")  # noqa: SIM115 - closed by close()
        self._file.write(data)

    @property
    def written(self) -> Path | None:
        return self.path if self._file is not None else None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


@dataclass
class _Running:
    process: subprocess.Popen[bytes]
    deadline: float | None
    timed_out: bool = False


@dataclass
class Pool:
    """Runs ``batches`` with ``argv_of(batch)`` in ``cwd``; reports through ``emit``."""

    batches: Iterator[Batch]
    argv_of: Callable[[Batch], Sequence[str]]
    cwd: Path
    settings: PoolSettings
    emit: Callable[[Event], None]
    summary: Summary
    claim: Callable[[Batch], bool] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: bool = False
    _interrupted: bool = False
    _running: dict[int, _Running] = field(default_factory=dict)
    _watchdog: Watchdog = field(init=False)
    _live: int = 0
    _base_env: dict[bytes, bytes] = field(default_factory=dict)
    _done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> Summary:
        self.summary.started = time.time()
        self._watchdog = Watchdog(self.settings.grace)
        # Encoded once: Popen would otherwise re-encode the whole environment per batch.
        self._base_env = dict(os.environb)
        self._live = self.settings.workers
        for slot in range(self.settings.workers):
            name = f"hydraflow-{slot}"
            threading.Thread(target=self._work, args=(slot,), name=name, daemon=True).start()
        try:
            self._wait()
        except KeyboardInterrupt:
            self._interrupt()
        self._watchdog.close()
        self.summary.interrupted = self._interrupted
        self.summary.ended = time.time()
        return self.summary

    # -- scheduling ----------------------------------------------------------------

    def _next(self) -> Batch | None:
        with self._lock:
            if self._stopping:
                return None
            return next(self.batches, None)

    def _wait(self, until: float | None = None) -> None:
        """Wait for the workers in short steps, so that signals reach the main thread.

        An Event rather than Thread.join: a join cut short by KeyboardInterrupt
        can leave a finished thread looking alive.
        """
        while not self._done.wait(0.05):
            if until is not None and time.time() >= until:
                return

    def _work(self, slot: int) -> None:
        try:
            self._work_through(slot)
        finally:
            with self._lock:
                self._live -= 1
                if self._live == 0:
                    self._done.set()

    def _work_through(self, slot: int) -> None:
        while (batch := self._next()) is not None:
            if self.claim is not None and not self.claim(batch):
                with self._lock:
                    self.summary.skipped += 1
                continue
            for attempt in itertools.count(1):
                finished = self._execute(batch, slot, attempt)
                if finished.status == "ok" or finished.retrying is False:
                    break

    def _record(self, finished: BatchFinished) -> BatchFinished:
        """Count a finished attempt, decide on a retry, and stop launches past the limit."""
        with self._lock:
            if finished.status == "ok":
                self.summary.ok += 1
                return finished
            can_retry = (
                finished.status in ("failed", "timeout")
                and finished.attempt <= self.settings.retries
                and not self._stopping
            )
            if can_retry:
                return replace(finished, retrying=True)
            self.summary.failures.append(finished)
            limit = self.settings.failure_limit
            failed = sum(f.status != "interrupted" for f in self.summary.failures)
            if limit is not None and failed >= limit:
                self._stopping = True
            return finished

    # -- one process -----------------------------------------------------------------

    def _execute(self, batch: Batch, slot: int, attempt: int) -> BatchFinished:
        argv = list(self.argv_of(batch))
        log_path = self.cwd / batch.sweep_dir / "hydraflow.log" if self.settings.logs else None
        env = self._environment(batch, slot)
        started = time.time()
        try:
            process = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as error:
            self.emit(BatchStarted(batch, tuple(argv), slot, attempt, 0, log_path, started))
            line = f"hydraflow: cannot start {argv[0]!r}: {error.strerror or error}"
            self.emit(BatchOutput(batch, line.encode(), "stderr"))
            failed = BatchFinished(
                batch, "failed", None, started, time.time(), attempt, log_path, (line,)
            )
            finished = self._record(failed)
            self.emit(finished)
            return finished
        self._watchdog.watch(process.pid)
        deadline = started + self.settings.timeout if self.settings.timeout else None
        running = _Running(process, deadline)
        with self._lock:
            self._running[process.pid] = running
            if self._interrupted:
                signal_group(process.pid, signal.SIGTERM)
        self.emit(BatchStarted(batch, tuple(argv), slot, attempt, process.pid, log_path, started))
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        log = _Log(log_path)
        try:
            self._pump(batch, running, log, tail)
        finally:
            log.close()
        returncode = process.wait()
        # Whatever the batch left behind in its group goes with it.
        signal_group(process.pid, signal.SIGKILL)
        self._watchdog.release(process.pid)
        with self._lock:
            del self._running[process.pid]
        status: Status = "ok" if returncode == 0 else "failed"
        if running.timed_out:
            status = "timeout"
        elif self._interrupted and returncode != 0:
            status = "interrupted"
        finished = self._record(
            BatchFinished(
                batch, status, returncode, started, time.time(), attempt, log.written, tuple(tail)
            )
        )
        self.emit(finished)
        return finished

    def _environment(self, batch: Batch, slot: int) -> dict[bytes, bytes]:
        env = dict(self._base_env)
        env[b"HYDRAFLOW_SLOT"] = str(slot).encode()
        env[b"HYDRAFLOW_BATCH"] = str(batch.index).encode()
        if self.settings.devices:
            device = self.settings.devices[slot % len(self.settings.devices)]
            env[b"CUDA_VISIBLE_DEVICES"] = os.fsencode(device)
        return env

    def _pump(
        self, batch: Batch, running: _Running, log: _Log, tail: collections.deque[str]
    ) -> None:
        """Read both pipes line by line until they close, enforcing the deadline."""
        process = running.process
        assert process.stdout is not None and process.stderr is not None
        streams: dict[int, Literal["stdout", "stderr"]] = {
            process.stdout.fileno(): "stdout",
            process.stderr.fileno(): "stderr",
        }
        pending = {fd: b"" for fd in streams}
        with selectors.DefaultSelector() as selector:
            for fd in streams:
                selector.register(fd, selectors.EVENT_READ)
            while selector.get_map():
                wait = None
                if running.deadline is not None and not running.timed_out:
                    wait = max(0.0, running.deadline - time.time())
                ready = selector.select(wait)
                if not ready:
                    running.timed_out = True
                    self._stop_group(process)
                    continue
                for key, _ in ready:
                    fd = int(key.fd)
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        selector.unregister(fd)
                        lines = [pending.pop(fd)] if pending[fd] else []
                    else:
                        *lines, pending[fd] = (pending[fd] + chunk).split(b"\n")
                    for line in lines:
                        log.write(line + b"\n")
                        if streams[fd] == "stderr":
                            tail.append(line.decode("utf-8", "replace"))
                        self.emit(BatchOutput(batch, line, streams[fd]))
        process.stdout.close()
        process.stderr.close()

    def _stop_group(self, process: subprocess.Popen[bytes]) -> None:
        """TERM the batch's group; KILL it if the batch outlives the grace period."""
        signal_group(process.pid, signal.SIGTERM)
        timer = threading.Timer(self.settings.grace, signal_group, (process.pid, signal.SIGKILL))
        timer.daemon = True
        timer.start()

    # -- interrupts ------------------------------------------------------------------

    def _interrupt(self) -> None:
        with self._lock:
            self._stopping = True
            self._interrupted = True
            pids = list(self._running)
        for pid in pids:
            signal_group(pid, signal.SIGTERM)
        deadline = time.time() + self.settings.grace
        # A second Ctrl-C ends the grace period at once.
        with contextlib.suppress(KeyboardInterrupt):
            self._wait(until=deadline)
        with self._lock:
            pids = list(self._running)
        for pid in pids:
            signal_group(pid, signal.SIGKILL)
        with contextlib.suppress(KeyboardInterrupt):
            self._wait()
