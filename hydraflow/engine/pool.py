"""Run batches as processes, up to N at once, and report everything as events.

One loop, in one thread, watches every running batch: its two pipes and its
end (a pidfd where the system has one). Nothing waits on a lock or hands an
interpreter lock back and forth, so what a batch costs is its start and its
lines. Every batch leads its own process group: a timeout or an interrupt
stops the batch *and everything it started* (TERM, a grace period, KILL).

Ctrl-C and SIGTERM only set a flag that the loop reads, so a signal can never
cut a batch's bookkeeping in half. A failure of hydraflow itself (a ledger that
cannot be written, a log on a full disk) ends the execution loudly with every
record accurate; it never leaves batches silently unrun. The pool reads the time
and waits only through its clock, so a test can drive it without sleeping.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import signal
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from hydraflow.engine.broadcast import OutputClosed
from hydraflow.engine.clock import SYSTEM_CLOCK, Clock
from hydraflow.engine.output import LineSplitter, hydra_run_number
from hydraflow.engine.running import Launch, Log, Running
from hydraflow.engine.settings import PoolSettings
from hydraflow.engine.signals import signals_counted
from hydraflow.engine.starters import Starter
from hydraflow.events import (
    BatchFinished,
    BatchOutput,
    BatchStarted,
    Event,
    Notice,
    Problem,
    RunsLaunched,
    Stopped,
    StopReason,
)
from hydraflow.plan import Batch
from hydraflow.statuses import BatchStatus

LOG_NAME = "hydraflow.log"
_CHUNK = 1 << 16
_POLL_SECONDS = 0.1  # how often to ask about a batch's end where no pidfd tells
_READABLE = select.POLLIN | select.POLLHUP | select.POLLERR


class Pool:
    """Takes launches from ``take`` (which plans and claims) and runs each in its slot."""

    def __init__(
        self,
        settings: PoolSettings,
        starter: Starter,
        cwd: Path,
        emit: Callable[[Event], None],
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self.starter = starter
        self.cwd = cwd
        self.clock = clock
        self._root = str(cwd)
        self._emit = emit
        self._running: dict[int, Running] = {}  # by pid
        self._fds: dict[int, Running] = {}  # pipe or pidfd -> its batch
        self._poller = select.poll()
        self._retries: collections.deque[tuple[Launch, int]] = collections.deque()
        self._wake: int | None = None
        self._stopping = False
        self._stop_reasons: set[StopReason] = set()
        self._output_closed = False
        self._failures = 0
        self._watch_at = 0.0
        self._interrupts = 0
        self._handled_interrupts = 0
        # Encoded once: the environment would otherwise be encoded again for every batch.
        self._base_env = {
            **os.environb,
            **{os.fsencode(k): os.fsencode(v) for k, v in settings.env.items()},
        }

    # -- the loop --------------------------------------------------------------------

    def run(self, take: Generator[Launch | None, None, None], batches: int) -> None:
        """Run every launch ``take`` yields (None stands for a batch skipped at its claim),
        at most ``batches`` of them at once with the workers there are.

        ``take`` is closed at the end, so that it can let go of what it claimed ahead.
        """
        free = list(reversed(range(max(1, min(self.settings.workers, batches)))))
        with signals_counted(self.count_interrupt, self._poller) as wake:
            self._wake = wake
            try:
                while True:
                    self._handle_interrupts()
                    while free and not self._stopping:
                        launch = self._next(take)
                        if launch is None:
                            break
                        self._start(launch[0], free.pop(), launch[1], free)
                    if not self._running:
                        break
                    self._wait()
                    for running in [r for r in self._running.values() if r.done]:
                        free.append(self._finish(running))
            finally:
                take.close()
                for running in self._running.values():  # only after a failure of the loop itself
                    running.child.signal(signal.SIGKILL)

    def _next(self, take: Iterator[Launch | None]) -> tuple[Launch, int] | None:
        if self._retries:
            return self._retries.popleft()
        try:
            for launch in take:
                if launch is not None:
                    return launch, 1
        except Exception as error:
            self._break(error)
        return None

    def _wait(self) -> None:
        """Wait for output, an end, a timer or a signal; then act on what happened."""
        now = self.clock.monotonic()
        timers = [
            t
            for r in self._running.values()
            for t in (r.deadline if not r.timed_out else None, r.kill_at, r.give_up_at)
            if t is not None
        ]
        if any(r.child.exit_fd() is None and r.returncode is None for r in self._running.values()):
            timers.append(now + _POLL_SECONDS)
        if self.settings.watch is not None and self._running:
            timers.append(max(self._watch_at, now))
        timeout = max(0.0, min(timers) - now) if timers else None
        for fd, _ in self.clock.wait(self._poller, timeout):
            running = self._fds.get(fd)
            if running is not None:
                self._guarded(running, self._readable, fd)
            elif fd == self._wake:
                os.read(fd, 512)  # a signal's wake-up byte: the flag it set is read above
        now = self.clock.monotonic()
        for running in list(self._running.values()):
            self._guarded(running, self._tick, now)
        if self.settings.watch is not None and now >= self._watch_at:
            self._watch_at = now + self.settings.watch_every
            self._look(self.settings.watch)

    def _look(self, watch: Callable[[Sequence[Launch]], Iterable[Launch]]) -> None:
        """Stop the batches ``watch`` picks, as a timeout stops them."""
        watched = [r for r in self._running.values() if r.watchable and not self._stopping]
        try:
            picked = {id(launch) for launch in watch([r.launch for r in watched])}
        except Exception as error:
            return self._break(error)
        for running in (r for r in watched if id(r.launch) in picked):
            running.pruned = True
            self._stop(running)

    def _guarded(self, running: Running, action: Callable[..., None], *args: object) -> None:
        """Any failure while handling one batch stops that batch and fails the execution."""
        try:
            action(running, *args)
        except Exception as error:
            if running.problem is None:
                running.problem = error
                running.tail.append(f"hydraflow: {error}")
            self._break(error)
            self._stop(running)
            self._close_streams(running)

    # -- one batch -------------------------------------------------------------------

    def _start(self, launch: Launch, slot: int, attempt: int, free: list[int]) -> None:
        batch, sweep_dir = launch.batch, launch.sweep_dir
        log = Log(os.path.join(self._root, sweep_dir, LOG_NAME))
        started = self.clock.time()
        try:
            child = self.starter.start(launch.argv, self._environment(batch, slot))
        except (OSError, ValueError) as error:
            reason = (error.strerror if isinstance(error, OSError) else None) or str(error)
            line = f"hydraflow: cannot start {launch.argv[0]!r}: {reason}"
            self._event(BatchStarted(batch, sweep_dir, launch.argv, slot, attempt, 0, started))
            with contextlib.suppress(OSError):
                log.write(line.encode() + b"\n")
            log.close()
            finished = BatchFinished(
                batch, sweep_dir, BatchStatus.FAILED, None, started, self.clock.time(),
                attempt, log.written, (line,), argv=launch.argv,
            )  # fmt: skip
            self._report(finished, launch)
            free.append(slot)
            return
        timeout = self.settings.timeout
        running = Running(
            launch,
            slot,
            attempt,
            child,
            log,
            started,
            self.clock.monotonic() + timeout if timeout else None,
            streams={child.stdout: "stdout", child.stderr: "stderr"},
            splitters={child.stdout: LineSplitter(), child.stderr: LineSplitter()},
        )
        self._running[child.pid] = running
        for fd in (child.stdout, child.stderr, child.exit_fd()):
            if fd is not None:
                self._fds[fd] = running
                self._poller.register(fd, _READABLE)
        if self._interrupts:
            self._stop(running)
        self._event(BatchStarted(batch, sweep_dir, launch.argv, slot, attempt, child.pid, started))

    def _readable(self, running: Running, fd: int) -> None:
        if fd not in running.streams:  # the exit descriptor: the process has ended
            self._forget(fd)
            running.returncode = running.child.poll()
            return
        chunk = os.read(fd, _CHUNK)
        splitter = running.splitters[fd]
        lines = splitter.feed(chunk) if chunk else splitter.end()
        stream = running.streams[fd]
        if not chunk:
            self._forget(fd)
            del running.streams[fd]
        batch = running.launch.batch
        for line in lines:
            running.log.write(line + b"\n")
            running.tail.append(line.decode("utf-8", "replace"))
            self._event(BatchOutput(batch, line, stream))
            number = hydra_run_number(line)
            if number is not None and number >= running.launched:
                running.launched = number + 1
                self._event(RunsLaunched(batch, running.launched))

    def _tick(self, running: Running, now: float) -> None:
        """Timers: the timeout, the KILL after a grace period, leftovers holding the pipes."""
        if running.returncode is None and running.child.exit_fd() is None:
            running.returncode = running.child.poll()
        if running.deadline is not None and not running.timed_out and now >= running.deadline:
            running.timed_out = True
            self._stop(running)
        if running.kill_at is not None and now >= running.kill_at:
            running.child.signal(signal.SIGKILL)
            running.kill_at = None
        if running.returncode is not None and running.streams and running.give_up_at is None:
            # The batch has ended, but something it started still holds its pipes.
            self._stop(running)
            running.give_up_at = now + self.settings.grace + 1.0
        if running.give_up_at is not None and now >= running.give_up_at:
            self._close_streams(running)  # held by something outside the group: let go

    def _stop(self, running: Running) -> None:
        """TERM the batch's group now, KILL it after the grace period."""
        running.child.signal(signal.SIGTERM)
        if running.kill_at is None:
            running.kill_at = self.clock.monotonic() + self.settings.grace

    def _close_streams(self, running: Running) -> None:
        for fd in list(running.streams):
            self._forget(fd)
        running.streams.clear()

    def _forget(self, fd: int) -> None:
        if self._fds.pop(fd, None) is not None:
            self._poller.unregister(fd)

    def _finish(self, running: Running) -> int:
        """Report a batch whose process has ended and whose pipes are closed."""
        del self._running[running.child.pid]
        exit_fd = running.child.exit_fd()
        if exit_fd is not None:
            self._forget(exit_fd)
        try:
            running.log.close()
        except OSError as error:  # the last of the log did not reach the disk
            running.problem = running.problem or error
            self._break(error)
        running.child.close()
        launch = running.launch
        status = self._status(running)
        unrecorded: tuple[int, ...] = ()
        if status == BatchStatus.OK and self.settings.unrecorded is not None:
            unrecorded = self.settings.unrecorded(launch, running.launched)
            status = BatchStatus.INCOMPLETE if unrecorded else status
        finished = BatchFinished(
            launch.batch,
            launch.sweep_dir,
            status,
            running.returncode,
            running.started,
            self.clock.time(),
            running.attempt,
            running.log.written,
            tuple(running.tail),
            argv=launch.argv,
            timeout=self.settings.timeout if running.timed_out else None,
            unrecorded=unrecorded,
        )
        self._report(finished, launch)
        return running.slot

    def _status(self, running: Running) -> BatchStatus:
        if running.pruned:
            return BatchStatus.PRUNED
        if running.timed_out:
            return BatchStatus.TIMEOUT
        code = running.returncode
        if self._interrupts and code != 0:
            return BatchStatus.INTERRUPTED
        if code == 0 and running.problem is None:
            return BatchStatus.OK
        return BatchStatus.FAILED

    def _report(self, finished: BatchFinished, launch: Launch) -> None:
        """Say how an attempt ended, decide on a retry, and stop launches past the limit."""
        ran = finished.status in (BatchStatus.OK, BatchStatus.PRUNED)
        if ran and self.settings.in_a_row:
            self._failures = 0
        if not ran:
            can_retry = (
                finished.status in (BatchStatus.FAILED, BatchStatus.TIMEOUT, BatchStatus.INCOMPLETE)
                and finished.attempt <= self.settings.retries
                and not self._stopping
            )
            if can_retry:
                finished = replace(finished, retrying=True)
                self._retries.append((launch, finished.attempt + 1))
            elif finished.status != BatchStatus.INTERRUPTED:
                self._failures += 1
                limit = self.settings.failure_limit
                if limit is not None and self._failures >= limit:
                    self._stopping = True
        self._event(finished)

    def _environment(self, batch: Batch, slot: int) -> dict[bytes, bytes]:
        env = dict(self._base_env)
        env[b"HYDRAFLOW_SLOT"] = str(slot).encode()
        env[b"HYDRAFLOW_BATCH"] = str(batch.index).encode()
        if self.settings.devices:
            env[b"CUDA_VISIBLE_DEVICES"] = os.fsencode(self.settings.devices[slot])
        return env

    # -- events and failures -----------------------------------------------------------

    def _event(self, event: Event) -> None:
        """Report an event; an observer's failure ends the execution, never the loop."""
        try:
            self._emit(event)
        except OutputClosed:
            # Nobody reads our output any more: stop everything, as `head` users expect.
            if not self._output_closed:
                self._output_closed = True
                self._interrupt(StopReason.OUTPUT_CLOSED)
        except Exception as error:
            self._break(error)

    def _break(self, error: Exception) -> None:
        self._stopping = True
        self._event(Problem(str(error) or type(error).__name__))

    # -- interrupts --------------------------------------------------------------------

    def count_interrupt(self) -> None:
        """Ctrl-C or SIGTERM: acted on by the loop, never in the middle of its bookkeeping."""
        self._interrupts += 1

    def _handle_interrupts(self) -> None:
        if self._interrupts == self._handled_interrupts:
            return
        first = self._handled_interrupts == 0
        self._handled_interrupts = self._interrupts
        if first:
            if self._running and not self._output_closed:
                self._event(Notice("stopping… (Ctrl-C again to kill now)"))
            self._interrupt(StopReason.INTERRUPT)
        else:
            for running in self._running.values():
                running.child.signal(signal.SIGKILL)

    def _interrupt(self, reason: StopReason) -> None:
        """Start nothing more and stop every running batch (TERM, grace, KILL)."""
        self._stopping = True
        self._interrupts = max(self._interrupts, 1)
        self._handled_interrupts = max(self._handled_interrupts, 1)
        if reason not in self._stop_reasons:
            self._stop_reasons.add(reason)
            self._event(Stopped(reason))
        for running in self._running.values():
            self._stop(running)
