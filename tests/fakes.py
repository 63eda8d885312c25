"""Stand-ins for the engine's processes and time, so its policy runs in-process.

``FakeClock`` jumps to the next thing due instead of sleeping. A ``FakeChild`` is a
batch that lives only in the clock's schedule: it writes its lines into real pipes
at the times its ``Script`` says, then ends (or waits to be signalled), so the real
pool reads real descriptors and never knows. ``runtime()`` gives the engine these
in place of ``posix_spawn``, the warm process and the watchdog.
"""

from __future__ import annotations

import heapq
import itertools
import os
import select
import signal
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from hydraflow.engine.check import Checked
from hydraflow.engine.execution import Runtime
from hydraflow.events import Event
from hydraflow.modes import AppSpec

_STATUS = struct.Struct("!i")


class FakeClock:
    """Time that passes only when the pool would wait: straight to the next thing due."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def at(self, moment: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._due, (moment, next(self._order), action))

    def wait(self, poller: select.poll, timeout: float | None) -> list[tuple[int, int]]:
        ready = poller.poll(0)
        if ready:
            return ready
        next_due = self._due[0][0] if self._due else None
        if timeout is None and next_due is None:
            raise AssertionError("the pool waits for something that can never happen")
        target = self.now + timeout if timeout is not None else float("inf")
        if next_due is not None:
            target = min(target, next_due)
        self.now = max(self.now, target)
        while self._due and self._due[0][0] <= self.now:
            heapq.heappop(self._due)[2]()
        return poller.poll(0)


@dataclass(frozen=True)
class Script:
    """What a fake batch does: lines at seconds after its start, then its end."""

    lines: Sequence[tuple[float, str]] = ()
    ends_at: float | None = 0.0  # None: runs until it is signalled
    code: int = 0
    ignores_term: bool = False
    stray: bool = False  # something it started keeps its pipes open after it ends


@dataclass
class Started:
    """A fake batch as its starter saw it start."""

    argv: tuple[str, ...]
    env: dict[str, str]
    time: float
    pid: int
    signals: list[signal.Signals] = field(default_factory=list)
    ended: float | None = None
    returncode: int | None = None


class FakeChild:
    def __init__(self, clock: FakeClock, pid: int, script: Script, record: Started) -> None:
        self.clock = clock
        self.pid = pid
        self.script = script
        self.record = record
        self.stdout, self._out = os.pipe()
        self.stderr, self._err = os.pipe()
        self._status_read, self._status_write = os.pipe()
        self._returncode: int | None = None
        started = clock.now
        for offset, text in script.lines:
            clock.at(started + offset, lambda text=text: self._write(text))
        if script.ends_at is not None:
            clock.at(started + script.ends_at, lambda: self._end(script.code))

    def _write(self, text: str) -> None:
        if self._out >= 0:
            os.write(self._out, text.encode() + b"\n")

    def _end(self, code: int) -> None:
        if self.record.returncode is not None:
            return
        self.record.returncode = code
        self.record.ended = self.clock.now
        status = code << 8 if code >= 0 else -code  # as os.waitpid reports it
        os.write(self._status_write, _STATUS.pack(status))
        os.close(self._status_write)
        if not self.script.stray:
            self._close_writers()

    def _close_writers(self) -> None:
        for fd in (self._out, self._err):
            if fd >= 0:
                os.close(fd)
        self._out = self._err = -1

    def exit_fd(self) -> int | None:
        return self._status_read

    def poll(self) -> int | None:
        if self._returncode is None:
            data = os.read(self._status_read, _STATUS.size)
            self._returncode = os.waitstatus_to_exitcode(_STATUS.unpack(data)[0])
        return self._returncode

    def signal(self, sig: signal.Signals) -> None:
        self.record.signals.append(sig)
        if sig == signal.SIGKILL and self.script.stray:
            self._close_writers()  # the whole group goes, what held the pipes too
        if self.record.returncode is not None:
            return
        if sig == signal.SIGTERM and self.script.ignores_term:
            return
        self.clock.at(self.clock.now, lambda: self._end(-sig))

    def close(self) -> None:
        for fd in (self.stdout, self.stderr, self._status_read):
            if fd >= 0:
                os.close(fd)
        self.stdout = self.stderr = self._status_read = -1
        if self.record.returncode is None:  # the pool let go of it: nothing more comes
            self._close_writers()


class FakeStarter:
    """Starts fake batches: ``script_for(argv, env)`` says what each does."""

    def __init__(
        self, clock: FakeClock, script_for: Callable[[tuple[str, ...], dict[str, str]], Script]
    ):
        self.clock = clock
        self.script_for = script_for
        self.started: list[Started] = []
        self._pids = itertools.count(4_000_000)

    def start(self, argv: Sequence[str], env: Mapping[bytes, bytes]) -> FakeChild:
        words = tuple(argv)
        decoded = {os.fsdecode(k): os.fsdecode(v) for k, v in env.items()}
        if words and words[0] == "missing-program":
            raise FileNotFoundError(2, "No such file or directory")
        record = Started(words, decoded, self.clock.now, next(self._pids))
        self.started.append(record)
        return FakeChild(self.clock, record.pid, self.script_for(words, decoded), record)

    def close(self) -> None:
        pass


class FakeGuard:
    """The watchdog's place: nothing outlives an in-process test."""

    pid = 0
    env: dict[str, str] = {}  # noqa: RUF012

    def __enter__(self) -> FakeGuard:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass


def runtime(clock: FakeClock, starter: FakeStarter) -> Runtime:
    def starter_for(
        app: AppSpec | None,
        env: Mapping[str, str],
        cwd: Path,
        notice: object,
        warm: bool,
        limit: float | None,
    ) -> FakeStarter:
        return starter

    def probe(app: AppSpec, root: Path) -> None:
        pass

    def check(app: AppSpec, batches: object, words: object, root: Path) -> Checked:
        return Checked(hydra=False)

    return Runtime(clock=clock, starter_for=starter_for, guard=FakeGuard, probe=probe, check=check)


class Events:
    """An observer that keeps every event, for a test to read."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [event for event in self.events if isinstance(event, kind)]
