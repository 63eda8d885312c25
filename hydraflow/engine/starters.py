"""How a batch's process comes to life: the one seam between the pool and a process.

A starter gives the pool a ``Child``: a process-group leader with its stdout and
stderr as pipes and a way to learn that it ended. Timeouts, groups, output and
exit codes stay the pool's, whatever the starter.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from typing import Protocol

from hydraflow.process import signal_group


class Child(Protocol):
    pid: int
    stdout: int
    stderr: int

    def exit_fd(self) -> int | None:
        """A descriptor that becomes readable when the process ends; None to poll."""

    def poll(self) -> int | None: ...

    def signal(self, sig: signal.Signals) -> None:
        """Signal the batch's whole process group (it leads one)."""

    def close(self) -> None:
        """Release the pipes and descriptors (the pool has read what it wanted)."""


class Starter(Protocol):
    """Starts a batch's process in the current folder (the pool runs in the project's)."""

    def start(self, argv: Sequence[str], env: Mapping[bytes, bytes]) -> Child: ...

    def close(self) -> None: ...


class SpawnedChild:
    """A fresh process, leader of its own session and process group."""

    def __init__(self, pid: int, stdout: int, stderr: int) -> None:
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self._returncode: int | None = None
        self._pidfd: int | None = None
        # Linux tells of a process's end through a pidfd; elsewhere the pool polls.
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                self._pidfd = os.pidfd_open(pid)

    def exit_fd(self) -> int | None:
        return self._pidfd

    def poll(self) -> int | None:
        if self._returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self._returncode = os.waitstatus_to_exitcode(status)
        return self._returncode

    def signal(self, sig: signal.Signals) -> None:
        signal_group(self.pid, sig)

    def close(self) -> None:
        for fd in (self.stdout, self.stderr, self._pidfd):
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.stdout = self.stderr = -1
        self._pidfd = None


# A new program starts with every signal as its default, whatever this Python ignores
# (SIGPIPE, SIGXFSZ) or was given ignored.
_RESTORED = tuple(s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP))


class Spawner:
    """A new process per batch, made with ``posix_spawn``: the cheapest way to start a
    program from Python (no ``preexec_fn``, which would force fork over vfork, and none of
    ``Popen``'s bookkeeping).
    """

    def __init__(self) -> None:
        self._devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)

    def start(self, argv: Sequence[str], env: Mapping[bytes, bytes]) -> Child:
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            pid = os.posix_spawnp(
                argv[0],
                list(argv),
                env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, self._devnull, 0),
                    (os.POSIX_SPAWN_DUP2, out_write, 1),
                    (os.POSIX_SPAWN_DUP2, err_write, 2),
                ],
                setsid=True,
                # As a new program has them, not as this one does: SIGPIPE ignored here
                # would be ignored by the batch, and by whatever it starts.
                setsigmask=(),
                setsigdef=_RESTORED,
            )
        except BaseException:
            os.close(out_read)
            os.close(err_read)
            raise
        finally:
            os.close(out_write)
            os.close(err_write)
        return SpawnedChild(pid, out_read, err_read)

    def close(self) -> None:
        os.close(self._devnull)
