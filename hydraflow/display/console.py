"""The Rich console hydraflow prints tables with."""

from __future__ import annotations

import errno
from typing import IO

from rich.console import Console, RenderableType

from hydraflow.display import is_terminal

# A pipe's reader (grep, awk, a file) wants each row whole on one line, however long.
_PIPE_WIDTH = 1_000_000


class TableConsole(Console):
    """Text exactly as given (no highlighting, markup or emoji). When the reader of the
    output has gone (``hydraflow status | head -1``), the command ends as every other
    hydraflow command then does, not with Rich's own status 1."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__(file=out, highlight=False, markup=False, emoji=False)
        self.piped = not is_terminal(out)
        if self.piped:
            self.width = _PIPE_WIDTH

    def show(self, renderable: RenderableType) -> None:
        """On a terminal, fitted to its width; in a pipe, one line per row, unpadded."""
        if not self.piped:
            self.print(renderable)
            return
        with self.capture() as captured:
            self.print(renderable)
        lines = captured.get().split("\n")
        self.file.write("".join(line.rstrip(" ") + "\n" for line in lines[:-1]))
        self.file.flush()

    def on_broken_pipe(self) -> None:
        # Rich's own handler exits with 1; the front ends end a closed output as they do.
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the reader of the output has gone")
