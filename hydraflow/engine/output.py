"""Reading a batch's process: its output as lines, and its end, whichever comes last.

A batch ends when its process ends, not when its pipes close: a program that
closes its output and keeps running is still timed, and leftovers of a batch
that hold its pipes after it exited are stopped with its group.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from hydraflow.engine.starters import Child
from hydraflow.process import stop_groups, wait_groups_gone

# A longer line is passed on in pieces, so one line cannot take all the memory.
MAX_LINE = 1 << 20
_CHUNK = 1 << 16
_POLL_SECONDS = 0.1
# Hydra's launchers announce each run as "[…][HYDRA] \t#3 : a=1 b=2".
_HYDRA_LAUNCH = re.compile(rb"\[HYDRA\]\s+#(\d+) : ")


def hydra_run_number(line: bytes) -> int | None:
    """The run number Hydra announces in ``line`` (from 0), if it announces one."""
    if b"[HYDRA]" not in line:
        return None
    match = _HYDRA_LAUNCH.search(line)
    return int(match.group(1)) if match else None


class LineSplitter:
    """Bytes in, whole lines out, in linear time; a line over MAX_LINE is cut in pieces."""

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self.buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        scan_from = len(self.buffer)
        self.buffer += chunk
        lines: list[bytes] = []
        start = 0
        while (newline := self.buffer.find(b"\n", scan_from)) >= 0:
            lines.append(bytes(self.buffer[start:newline]))
            start = scan_from = newline + 1
        while len(self.buffer) - start >= self.limit:
            lines.append(bytes(self.buffer[start : start + self.limit]))
            start += self.limit
        del self.buffer[:start]
        return lines

    def end(self) -> list[bytes]:
        rest, self.buffer = bytes(self.buffer), bytearray()
        return [rest] if rest else []


def stop_child(child: Child, grace: float) -> int:
    """Stop the child's whole group (TERM, grace, KILL), reap it and let its pipes go."""

    def gone(timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while child.poll() is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return wait_groups_gone([child.pid], max(0.0, deadline - time.monotonic()))

    stop_groups([child.pid], grace, gone)
    returncode = child.wait()
    with contextlib.suppress(OSError):
        child.close()
    return returncode


@dataclass
class Outcome:
    returncode: int
    timed_out: bool


Stream = Literal["stdout", "stderr"]


def follow(
    child: Child,
    on_line: Callable[[bytes, Stream], None],
    *,
    deadline: float | None,
    grace: float,
) -> Outcome:
    """Pass on every output line of ``child`` until it ended and its pipes closed.

    At ``deadline`` the batch's group is stopped (TERM, grace, KILL). Once the
    process has ended, whatever of its group still holds the pipes is stopped
    too, and after the grace period the pipes are let go even if something
    outside the group (a daemon) keeps them open.
    """
    streams: dict[int, Stream] = {child.stdout: "stdout", child.stderr: "stderr"}
    splitters = {fd: LineSplitter() for fd in streams}
    exit_fd = child.exit_fd()
    returncode: int | None = None
    timed_out = False
    stopper: threading.Thread | None = None
    give_up_at: float | None = None

    def stop_group_in_background() -> threading.Thread:
        # The leader may already be reaped; its group lives on in what it left behind.
        thread = threading.Thread(
            target=stop_groups,
            args=([child.pid], grace, lambda timeout: wait_groups_gone([child.pid], timeout)),
            daemon=True,
        )
        thread.start()
        return thread

    with selectors.DefaultSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        if exit_fd is not None:
            selector.register(exit_fd, selectors.EVENT_READ)
        while returncode is None or any(fd in streams for fd in selector.get_map()):
            now = time.monotonic()
            waits = [_POLL_SECONDS] if exit_fd is None and returncode is None else []
            if deadline is not None and not timed_out:
                waits.append(deadline - now)
            if give_up_at is not None:
                waits.append(give_up_at - now)
            ready = selector.select(max(0.0, min(waits)) if waits else None)
            for key, _ in ready:
                fd = int(key.fd)
                if fd == exit_fd:
                    selector.unregister(fd)
                    continue
                chunk = os.read(fd, _CHUNK)
                lines = splitters[fd].feed(chunk) if chunk else splitters[fd].end()
                if not chunk:
                    selector.unregister(fd)
                for line in lines:
                    on_line(line, streams[fd])
            now = time.monotonic()
            if returncode is None and (exit_fd is None or exit_fd not in selector.get_map()):
                returncode = child.poll()
                if returncode is not None and any(fd in streams for fd in selector.get_map()):
                    give_up_at = now + grace + 1.0
                    if stopper is None:
                        stopper = stop_group_in_background()
            if deadline is not None and not timed_out and now >= deadline:
                timed_out = True
                if stopper is None:
                    stopper = stop_group_in_background()
            if give_up_at is not None and now >= give_up_at:
                break
    with contextlib.suppress(OSError):
        child.close()
    if returncode is None:
        returncode = child.wait()
    return Outcome(returncode, timed_out)
