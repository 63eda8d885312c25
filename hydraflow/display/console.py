"""The Rich console hydraflow prints tables with."""

from __future__ import annotations

import contextlib
import errno
import os
from typing import IO

from rich.console import Console


class TableConsole(Console):
    """Text exactly as given (no highlighting, markup or emoji). When the reader of the
    output has gone (``hydraflow status | head -1``), the command ends as every other
    hydraflow command then does, not with Rich's own status 1."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__(file=out, highlight=False, markup=False, emoji=False)

    def on_broken_pipe(self) -> None:
        self.quiet = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        with contextlib.suppress(OSError, ValueError):  # a file without a descriptor
            os.dup2(devnull, self.file.fileno())
        os.close(devnull)
        raise BrokenPipeError(errno.EPIPE, "the reader of the output has gone")
