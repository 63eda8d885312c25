"""The Rich console hydraflow prints tables with."""

from __future__ import annotations

import errno
from typing import IO

from rich.console import Console


class TableConsole(Console):
    """Text exactly as given (no highlighting, markup or emoji). When the reader of the
    output has gone (``hydraflow status | head -1``), the command ends as every other
    hydraflow command then does, not with Rich's own status 1."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__(file=out, highlight=False, markup=False, emoji=False)

    def on_broken_pipe(self) -> None:
        # Rich's own handler exits with 1; the front ends end a closed output as they do.
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the reader of the output has gone")
