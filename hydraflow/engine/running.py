"""A batch while it runs: its process, its log, and what the pool knows of it."""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from hydraflow.engine.output import LineSplitter
from hydraflow.engine.starters import Child
from hydraflow.events import Stream
from hydraflow.plan import Batch

TAIL_LINES = 40


@dataclass(frozen=True)
class Launch:
    """A claimed batch: where it writes, and the exact command that runs it."""

    batch: Batch
    sweep_dir: str
    argv: tuple[str, ...]


@dataclass
class Running:
    """A batch's process while it runs, and what the loop knows of it."""

    launch: Launch
    slot: int
    attempt: int
    child: Child
    log: Log
    started: float
    deadline: float | None
    streams: dict[int, Stream]
    splitters: dict[int, LineSplitter]
    tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=TAIL_LINES)
    )
    returncode: int | None = None
    timed_out: bool = False
    pruned: bool = False
    kill_at: float | None = None
    give_up_at: float | None = None
    launched: int = 0
    problem: Exception | None = None

    @property
    def watchable(self) -> bool:
        """Running, and not being stopped already: a pool's watch may still stop it."""
        return self.returncode is None and not (self.pruned or self.timed_out)

    @property
    def done(self) -> bool:
        return self.returncode is not None and not self.streams


class Log:
    """A batch's log file, made at its first line of output.

    Making a folder and a file costs more than starting a small program on
    some disks, and Hydra makes the sweep folder itself; a batch that prints
    nothing has no log, and every report says so instead of naming a path.
    """

    def __init__(self, path: str) -> None:
        self.path = path  # a Path only when it is written: one per batch costs
        self._file: IO[bytes] | None = None
        self._made = False

    def write(self, data: bytes) -> None:
        if self._file is None:
            try:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                self._file = open(self.path, "ab")  # noqa: SIM115 - closed by close()
                self._made = True
            except OSError as error:
                raise OSError(f"cannot write the log {self.path}: {error.strerror}") from None
        try:
            self._file.write(data)
        except OSError as error:  # a full disk: said in one line, as the README promises
            raise OSError(f"cannot write the log {self.path}: {error.strerror}") from None

    @property
    def written(self) -> Path | None:
        return Path(self.path) if self._made else None

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError as error:  # what was still buffered did not reach the disk
                raise OSError(f"cannot write the log {self.path}: {error.strerror}") from None
