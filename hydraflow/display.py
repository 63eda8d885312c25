"""Two views of a run, fed by the same events: plain lines, or a live Rich panel.

Program output is shown as data, never as Rich markup: ``[bold]`` or
``[/tmp/x]`` printed by a program reaches the terminal as written.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any

from hydraflow.run.events import (
    BatchFinished,
    BatchOutput,
    BatchStarted,
    Event,
    Observer,
    RunFinished,
    RunStarted,
    Summary,
)

_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan")


def wants_live(stream: IO[str]) -> bool:
    """A live panel only on a real terminal that accepts colour."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def make_display(quiet: bool = False, stream: IO[str] | None = None) -> Observer:
    stream = stream or sys.stdout
    if wants_live(stream):
        return LiveDisplay(quiet)
    return PlainDisplay(stream, quiet)


def _status_text(finished: BatchFinished) -> str:
    if finished.status == "ok":
        return "ok"
    if finished.status == "failed" and finished.returncode is not None:
        text = f"failed (exit {finished.returncode})"
    else:
        text = finished.status
    return text + (", retrying" if finished.retrying else "")


class PlainDisplay:
    """One line per start and end, and every output line tagged with its batch."""

    def __init__(self, stream: IO[str], quiet: bool = False) -> None:
        self.stream = stream
        self.raw: IO[bytes] | None = getattr(stream, "buffer", None)
        self.quiet = quiet
        self.total = 0
        self.done = 0

    def handle(self, event: Event) -> None:
        if isinstance(event, BatchOutput):
            if not self.quiet:
                self._write(f"[{event.batch.label}] ".encode() + event.data + b"\n")
        elif isinstance(event, BatchStarted):
            retry = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            self._line(f"start  #{event.batch.index + 1} {event.batch.label}{retry}")
        elif isinstance(event, BatchFinished):
            if not event.retrying:
                self.done += 1
            self._line(
                f"{_status_text(event)}  #{event.batch.index + 1} {event.batch.label}"
                f"  {event.duration:.1f}s  [{self.done}/{self.total}]"
            )
        elif isinstance(event, RunStarted):
            self.stream.flush()  # what was written as text so far comes first
            self.total = event.total
            at_once = f", {event.workers} at once" if event.workers > 1 else ""
            skipped = f" ({event.skipped} done before, skipped)" if event.skipped else ""
            self._line(f"{event.job}: {event.total} batches{skipped}{at_once}")
        elif isinstance(event, RunFinished):
            self.stream.flush()
            print_summary(event.summary, self.stream, colour=False)

    def _line(self, text: str) -> None:
        self._write(f"hydraflow: {text}\n".encode())

    def _write(self, data: bytes) -> None:
        if self.raw is not None:
            # Everything here goes through the byte buffer, so nothing waits in the text layer.
            self.raw.write(data)
            self.raw.flush()
        else:
            self.stream.write(data.decode("utf-8", "replace"))
            self.stream.flush()


class LiveDisplay:
    """A Rich panel: overall bar and one line per running batch; output scrolls above."""

    def __init__(self, quiet: bool = False) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.quiet = quiet
        self.console = Console(highlight=False)
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]}", markup=False),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task = self.progress.add_task("", total=None, failed=0)
        self.running: dict[int, tuple[str, float, str]] = {}
        self.failed = 0
        # Refreshed on a timer by Rich, never per event: redraws are the costly part.
        self.live = Live(self, console=self.console, refresh_per_second=6, transient=True)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        now = time.time()
        lines = [
            Text.assemble(("  ▸ ", colour), (label, colour), f"  {now - start:.0f}s")
            for label, start, colour in self.running.values()
        ]
        return Group(self.progress, *lines)

    def handle(self, event: Event) -> None:
        from rich.text import Text

        if isinstance(event, BatchOutput):
            if not self.quiet:
                colour = _COLOURS[event.batch.index % len(_COLOURS)]
                line = Text(event.data.decode("utf-8", "replace"))
                self.console.print(Text(f"[{event.batch.label}] ", style=colour) + line)
        elif isinstance(event, BatchStarted):
            colour = _COLOURS[event.batch.index % len(_COLOURS)]
            self.running[event.batch.index] = (event.batch.label, event.time, colour)
        elif isinstance(event, BatchFinished):
            self.running.pop(event.batch.index, None)
            if not event.retrying:
                self.failed += event.status != "ok"
                self.progress.update(self.task, advance=1, failed=self.failed)
            if event.status != "ok":
                self.console.print(Text(f"{_status_text(event)}: {event.batch.label}", style="red"))
        elif isinstance(event, RunStarted):
            self.progress.update(self.task, total=event.total, description=event.job)
            self.live.start()
        elif isinstance(event, RunFinished):
            self.live.stop()
            self.progress.stop()
            print_summary(event.summary, self.console.file, colour=True)


def print_summary(summary: Summary, stream: IO[str], *, colour: bool) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(
        file=stream, highlight=False, no_color=not colour, force_terminal=colour or None, width=120
    )
    parts = [f"{summary.ok} ok", f"{len(summary.failures)} failed"]
    if summary.skipped:
        parts.append(f"{summary.skipped} skipped (running elsewhere or done)")
    parts.append(f"{summary.not_started} not started")
    elapsed = summary.ended - summary.started
    state = " (interrupted)" if summary.interrupted else ""
    console.print(
        Text(f"{summary.job}: {', '.join(parts)} in {elapsed:.1f}s{state}"),
        style="bold red" if summary.failures or summary.interrupted else "bold green",
    )
    if not summary.failures:
        return
    table = Table(title="failed batches", title_justify="left", show_lines=True)
    for column in ("batch", "status", "log", "last lines of stderr"):
        table.add_column(column, overflow="fold")
    for failure in summary.failures:
        table.add_row(
            Text(failure.batch.label),
            Text(_status_text(failure)),
            Text(str(failure.log_path or "")),
            Text("\n".join(failure.tail)),
        )
    console.print(table)
