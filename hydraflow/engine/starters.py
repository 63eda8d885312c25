"""How a batch's process comes to life: the one seam between the pool and a process.

A starter gives the pool a ``Child``: a process-group leader with its stdout and
stderr as pipes and a way to learn that it ended. Timeouts, groups, output and
exit codes stay the pool's, whatever the starter.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol


class Child(Protocol):
    pid: int
    stdout: int
    stderr: int

    def exit_fd(self) -> int | None:
        """A descriptor that becomes readable when the process ends; None to poll."""

    def poll(self) -> int | None: ...

    def wait(self) -> int: ...

    def close(self) -> None:
        """Release the pipes and descriptors (the pool has read what it wanted)."""


class Starter(Protocol):
    def start(self, argv: Sequence[str], cwd: Path, env: Mapping[bytes, bytes]) -> Child: ...

    def close(self) -> None: ...


class SpawnedChild:
    """A fresh process from ``Popen``, leader of its own session and process group."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None and process.stderr is not None
        self.process = process
        self.pid = process.pid
        self.stdout = process.stdout.fileno()
        self.stderr = process.stderr.fileno()
        self._pidfd: int | None = None
        # Linux tells of a process's end through a pidfd; elsewhere the pool polls.
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                self._pidfd = os.pidfd_open(self.pid)

    def exit_fd(self) -> int | None:
        return self._pidfd

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self) -> int:
        return self.process.wait()

    def close(self) -> None:
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


class Spawner:
    """A new process per batch (no ``preexec_fn``: it would force fork over vfork)."""

    def start(self, argv: Sequence[str], cwd: Path, env: Mapping[bytes, bytes]) -> Child:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        return SpawnedChild(process)

    def close(self) -> None:
        pass
