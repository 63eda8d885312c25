"""The Rich console hydraflow prints tables with."""

from __future__ import annotations

import errno
from typing import IO, Any

from rich.console import Console

# A pipe's reader (grep, awk, a file) wants each row whole on one line, however long.
_PIPE_WIDTH = 1_000_000


class TableConsole(Console):
    """Text exactly as given (no highlighting, markup or emoji). When the reader of the
    output has gone (``hydraflow status | head -1``), the command ends as every other
    hydraflow command then does, not with Rich's own status 1."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__(file=out, highlight=False, markup=False, emoji=False)
        if not self.is_terminal:
            self.width = _PIPE_WIDTH

    def show(self, renderable: Any) -> None:
        """On a terminal, fitted to its width; in a pipe, one line per row, unpadded."""
        if self.is_terminal:
            self.print(renderable)
            return
        with self.capture() as captured:
            self.print(renderable)
        self.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
        self.file.flush()

    def on_broken_pipe(self) -> None:
        # Rich's own handler exits with 1; the front ends end a closed output as they do.
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the reader of the output has gone")
