"""Two views of an execution, fed by the same events: plain lines, or a live Rich panel.

Program output is shown as data, never as Rich markup: ``[bold]`` or
``[/tmp/x]`` printed by a program reaches the terminal as written.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Protocol

from hydraflow.events import Observer


class Display(Observer, Protocol):
    def close(self) -> None:
        """Give the terminal back, also when the execution ended without its last
        event."""


def wants_live(stream: IO[str]) -> bool:
    """A live panel on a real terminal; plain lines for pipes, CI logs (``CI`` set, as
    CI services do, even where they give a terminal) and ``TERM=dumb``.

    ``NO_COLOR`` turns colour off and nothing else (Rich reads it itself).
    """
    ci = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
    if os.environ.get("TERM") == "dumb" or ci:
        return False
    return is_terminal(stream)


def is_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` is a terminal, asked of the stream itself (Rich would take a
    pipe for one under ``FORCE_COLOR``)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed stream
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
