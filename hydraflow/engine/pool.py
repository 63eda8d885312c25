"""Run batches as processes, up to N at once, and report everything as events.

Every batch is a process-group leader, so a timeout or an interrupt stops the
batch *and everything it started*. A failure of hydraflow itself inside a
worker (a ledger that cannot be written, a log on a full disk) fails the run
loudly; it never leaves batches silently unrun.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import signal
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from hydraflow.engine.broadcast import OutputClosed
from hydraflow.engine.output import Stream, follow, hydra_run_number, stop_child
from hydraflow.engine.starters import Child, Starter
from hydraflow.events import (
    BatchFinished,
    BatchOutput,
    BatchStarted,
    Event,
    Notice,
    RunsLaunched,
    Status,
    Summary,
)
from hydraflow.plan import Batch
from hydraflow.process import GRACE_SECONDS, signal_group, stop_groups

TAIL_LINES = 40
LOG_NAME = "hydraflow.log"


@dataclass(frozen=True)
class PoolSettings:
    workers: int = 1
    failure_limit: int | None = 1
    timeout: float | None = None
    retries: int = 0
    devices: tuple[str, ...] = ()
    grace: float = GRACE_SECONDS
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Launch:
    """A claimed batch: where it writes, and the exact command that runs it."""

    batch: Batch
    sweep_dir: str
    argv: tuple[str, ...]


class Pool:
    """Takes launches from ``take`` (which plans and claims) and runs each in ``cwd``."""

    def __init__(
        self,
        settings: PoolSettings,
        starter: Starter,
        cwd: Path,
        emit: Callable[[Event], None],
    ) -> None:
        self.settings = settings
        self.starter = starter
        self.cwd = cwd
        self.emit = emit
        self._lock = threading.Lock()
        self._stopping = False
        self._interrupted = False
        self._running: dict[int, Child] = {}
        self._done = threading.Event()
        self._live = 0
        # Encoded once: Popen would otherwise re-encode the whole environment per batch.
        self._base_env = {
            **os.environb,
            **{os.fsencode(k): os.fsencode(v) for k, v in settings.env.items()},
        }

    def run(self, take: Generator[Launch | None, None, None], summary: Summary) -> Summary:
        """Run every launch ``take`` yields (None stands for a batch skipped at its claim);
        ``take`` is closed at the end, so that it can let go of what it claimed ahead."""
        self._take = take
        self.summary = summary
        summary.started = time.time()
        self._live = max(1, min(self.settings.workers, summary.batches))
        for slot in range(self._live):
            name = f"hydraflow-{slot}"
            threading.Thread(target=self._work, args=(slot,), name=name, daemon=True).start()
        try:
            self._wait()
        except KeyboardInterrupt:
            self.interrupt()
        with self._lock:
            take.close()
        summary.interrupted = summary.interrupted or self._interrupted
        summary.ended = time.time()
        return summary

    def stop(self) -> None:
        """Start no new batch; running ones finish."""
        with self._lock:
            self._stopping = True

    # -- scheduling ----------------------------------------------------------------

    def _next(self) -> Launch | None:
        while True:
            with self._lock:
                if self._stopping:
                    return None
                launch = next(self._take, StopIteration)
            if launch is StopIteration:
                return None
            if launch is not None:
                assert isinstance(launch, Launch)
                return launch

    def _wait(self, until: float | None = None) -> bool:
        """Wait for the workers in short steps, so that signals reach the main thread.

        An Event rather than Thread.join: a join cut short by KeyboardInterrupt
        can leave a finished thread looking alive.
        """
        while not self._done.wait(0.05):
            if until is not None and time.monotonic() >= until:
                return False
        return True

    def _work(self, slot: int) -> None:
        try:
            while (launch := self._next()) is not None:
                for attempt in itertools.count(1):
                    finished = self._attempt(launch, slot, attempt)
                    if not finished.retrying:
                        break
        except OutputClosed:
            self._close_quietly()
        except BaseException as error:
            self._break(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
        finally:
            with self._lock:
                self._live -= 1
                if self._live == 0:
                    self._done.set()

    def _break(self, message: str) -> None:
        with self._lock:
            self._stopping = True
            if not self.summary.broken:
                self.summary.broken = message

    def _close_quietly(self) -> None:
        """Nobody reads our output any more: stop everything, as ``head`` users expect."""
        with self._lock:
            self._stopping = True
            self._interrupted = True
            self.summary.output_closed = True
            pids = list(self._running)
        for pid in pids:
            signal_group(pid, signal.SIGTERM)

    def _record(self, finished: BatchFinished) -> BatchFinished:
        """Count a finished attempt, decide on a retry, and stop launches past the limit."""
        with self._lock:
            if finished.status == "ok":
                self.summary.ok += 1
                self.summary.runs_ok += finished.batch.runs
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

    # -- one attempt -----------------------------------------------------------------

    def _attempt(self, launch: Launch, slot: int, attempt: int) -> BatchFinished:
        """Run one attempt of a batch; whatever happens, its end is reported and recorded.

        A failure of hydraflow itself (the log cannot be written, the output is
        gone) still ends the batch's record, and is raised afterwards to fail the run.
        """
        batch, sweep_dir = launch.batch, launch.sweep_dir
        log_path = self.cwd / sweep_dir / LOG_NAME
        started = time.time()
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        status: Status = "failed"
        returncode: int | None = None
        problem: Exception | None = None

        def report_start(pid: int) -> None:
            self.emit(
                BatchStarted(batch, sweep_dir, launch.argv, slot, attempt, pid, log_path, started)
            )

        try:
            log = _open_log(log_path)
        except OSError as error:
            problem = OSError(f"cannot write the log {log_path}: {error.strerror}")
            tail.append(f"hydraflow: {problem}")
            report_start(0)
        else:
            with log:
                try:
                    child = self.starter.start(launch.argv, self._environment(batch, slot))
                except (OSError, ValueError) as error:
                    reason = error.strerror if isinstance(error, OSError) else str(error)
                    line = f"hydraflow: cannot start {launch.argv[0]!r}: {reason or error}"
                    report_start(0)
                    log.write(line.encode() + b"\n")
                    tail.append(line)
                else:
                    report_start(child.pid)
                    try:
                        status, returncode = self._follow(launch, child, log, tail)
                    except OutputClosed as error:
                        status, problem = "interrupted", error
                    except Exception as error:
                        tail.append(f"hydraflow: {error}")
                        problem = error
        finished = self._record(
            BatchFinished(
                batch,
                sweep_dir,
                status,
                returncode,
                started,
                time.time(),
                attempt,
                log_path,
                tuple(tail),
                argv=launch.argv,
            )
        )
        self.emit(finished)
        if problem is not None:
            raise problem
        return finished

    def _follow(
        self, launch: Launch, child: Child, log: IO[bytes], tail: collections.deque[str]
    ) -> tuple[Status, int]:
        batch = launch.batch
        with self._lock:
            self._running[child.pid] = child
            if self._interrupted:
                signal_group(child.pid, signal.SIGTERM)
        try:
            launched = 0

            def on_line(line: bytes, stream: Stream) -> None:
                nonlocal launched
                log.write(line + b"\n")
                tail.append(line.decode("utf-8", "replace"))
                self.emit(BatchOutput(batch, line, stream))
                number = hydra_run_number(line)
                if number is not None and number + 1 > launched:
                    launched = number + 1
                    self.emit(RunsLaunched(batch, launched))

            deadline = time.monotonic() + self.settings.timeout if self.settings.timeout else None
            outcome = follow(child, on_line, deadline=deadline, grace=self.settings.grace)
        except BaseException:
            # Whatever failed here, the batch's processes must not outlive the run.
            stop_child(child, self.settings.grace)
            raise
        finally:
            with self._lock:
                self._running.pop(child.pid, None)
        status: Status = "ok" if outcome.returncode == 0 else "failed"
        if outcome.timed_out:
            status = "timeout"
        elif self._interrupted and outcome.returncode != 0:
            status = "interrupted"
        return status, outcome.returncode

    def _environment(self, batch: Batch, slot: int) -> dict[bytes, bytes]:
        env = dict(self._base_env)
        env[b"HYDRAFLOW_SLOT"] = str(slot).encode()
        env[b"HYDRAFLOW_BATCH"] = str(batch.index).encode()
        if self.settings.devices:
            env[b"CUDA_VISIBLE_DEVICES"] = os.fsencode(self.settings.devices[slot])
        return env

    # -- interrupts ------------------------------------------------------------------

    def interrupt(self) -> None:
        """Stop every running batch: TERM, grace, KILL; a second Ctrl-C kills at once."""
        with self._lock:
            self._stopping = True
            self._interrupted = True
            pids = list(self._running)
        if pids:
            self.emit(Notice("stopping… (Ctrl-C again to kill now)"))
        try:
            stop_groups(pids, self.settings.grace, gone=self._wait_for_workers)
        except KeyboardInterrupt:
            stop_groups(pids, 0.0, gone=lambda timeout: False)
        with self._lock:
            pids = list(self._running)
        for pid in pids:
            signal_group(pid, signal.SIGKILL)
        with contextlib.suppress(KeyboardInterrupt):
            self._wait()

    def _wait_for_workers(self, timeout: float) -> bool:
        return self._wait(until=time.monotonic() + timeout)


def _open_log(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "ab")
