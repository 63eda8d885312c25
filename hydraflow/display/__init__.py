"""Two views of a run, fed by the same events: plain lines, or a live Rich panel.

Program output is shown as data, never as Rich markup: ``[bold]`` or
``[/tmp/x]`` printed by a program reaches the terminal as written.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import IO, Protocol

from hydraflow.events import Observer


def reader_went_away() -> None:
    """Whoever read the output has gone (``… | head -1``): what is still buffered goes
    nowhere, so that nothing later, the interpreter's last flush included, fails."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a stream without a descriptor
            os.dup2(devnull, stream.fileno())
    os.close(devnull)


class Display(Observer, Protocol):
    def close(self) -> None:
        """Give the terminal back, also when the run ended without its last event."""


def wants_live(stream: IO[str]) -> bool:
    """A live panel on a real terminal; plain lines for pipes, CI logs (``CI`` set, as
    CI services do, even where they give a terminal) and ``TERM=dumb``.

    ``NO_COLOR`` turns colour off and nothing else (Rich reads it itself).
    """
    ci = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
    if os.environ.get("TERM") == "dumb" or ci:
        return False
    try:
        return stream.isatty()
    except ValueError:
        return False


def make_display(
    quiet: bool = False, stream: IO[str] | None = None, rerun: str | None = None
) -> Display:
    """The view for ``stream``; ``rerun`` is how the user reruns what failed (the failure
    report's last line), which only the front end knows."""
    stream = stream or sys.stdout
    if wants_live(stream):
        from hydraflow.display.live import LiveDisplay

        return LiveDisplay(stream, quiet=quiet, rerun=rerun)
    from hydraflow.display.plain import PlainDisplay

    return PlainDisplay(stream, quiet=quiet, rerun=rerun)
