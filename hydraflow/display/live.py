"""The live view: a bar for runs and batches, one line per running batch, and
everything else (output, finished batches, the report) scrolling above it."""

from __future__ import annotations

import time
from typing import IO, Any

from hydraflow.display.plain import closing_lines, finished_line, header
from hydraflow.events import (
    BatchFinished,
    BatchOutput,
    Event,
    ExecutionFinished,
    ExecutionStarted,
    Notice,
    Preview,
)
from hydraflow.reporting import duration
from hydraflow.statuses import BatchStatus
from hydraflow.tally import Tally

_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan")


def eta(elapsed: float, runs_done: float, runs_total: int) -> float | None:
    """Seconds left, from the time runs have taken so far; None before any run ended."""
    if runs_done <= 0 or runs_total <= 0:
        return None
    return max(0.0, elapsed * (runs_total - runs_done) / runs_done)


def colour(index: int) -> str:
    return _COLOURS[index % len(_COLOURS)]


class LiveDisplay:
    def __init__(self, stream: IO[str], *, quiet: bool = False, rerun: str | None = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.quiet = quiet
        self.rerun = rerun
        self.console = Console(file=stream, highlight=False, markup=False, emoji=False)
        self.tally = Tally()
        self.started = time.time()
        # Refreshed on a timer by Rich, never per event: redraws are the costly part.
        self.live = Live(self, console=self.console, refresh_per_second=6, transient=True)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        t = self.tally
        now = time.time()
        done = t.runs_done
        left = eta(now - self.started, done, t.runs)
        failed, timed_out = t.count(BatchStatus.FAILED), t.count(BatchStatus.TIMEOUT)
        counts = [f"{t.batches_done}/{t.batches} batches", f"{done}/{t.runs} runs"]
        if failed:
            counts.append(f"{failed} failed")
        if timed_out:
            counts.append(f"{timed_out} timed out")
        counts.append(duration(now - self.started))
        if t.stopping:
            counts.append("stopping…")
        else:
            counts.append(f"ETA {duration(left)}" if left is not None else "ETA …")
        text = Text(" · ".join(counts), no_wrap=True, overflow="ellipsis")
        bar = Table.grid(padding=(0, 1))
        width = max(10, min(30, self.console.width - len(text) - 2))
        # Rich's own bar is pink-red while it runs; red here means something failed.
        style = "red" if failed or timed_out else "green"
        progress_bar = ProgressBar(
            total=max(t.runs, 1),
            completed=done,
            width=width,
            complete_style=style,
            finished_style=style,
        )
        bar.add_row(progress_bar, text)
        lines: list[Any] = [bar]
        if t.trial is not None:
            lines.append(Text(f"  {t.trial.line()}", style="bold"))
        for running in list(t.running.values()):  # Rich draws from a thread of its own
            batch = running.batch
            runs = f"  run {running.launched}/{batch.runs}" if batch.runs > 1 else ""
            lines.append(
                Text.assemble(
                    ("  ▸ ", colour(batch.index)),
                    (batch.label, colour(batch.index)),
                    f"{runs}  {duration(now - running.started)}",
                )
            )
        return Group(*lines)

    def close(self) -> None:
        if self.live.is_started:
            self.live.stop()

    def handle(self, event: Event) -> None:
        from rich.text import Text

        self.tally.handle(event)
        if isinstance(event, BatchOutput):
            if not self.quiet:
                output = Text(event.data.decode("utf-8", "replace"))
                # Soft wrap: a long line stays one line, to copy, however the terminal shows it.
                tag = Text(f"[{event.batch.label}] ", style=colour(event.batch.index))
                self.console.print(tag + output, soft_wrap=True)
        elif isinstance(event, BatchFinished):
            ok = event.status == BatchStatus.OK
            text = finished_line(event, self.tally.batches_done, self.tally.batches)
            if not self.quiet or not ok:
                self.console.print(Text(text, style="green" if ok else "red"))
        elif isinstance(event, ExecutionStarted):
            self.started = time.time()
            self.console.print(Text(header(event), style="bold"))
            self.live.start()
        elif isinstance(event, Notice):
            self.console.print(Text(event.text, style="yellow" if event.warning else "dim"))
        elif isinstance(event, Preview):
            self.console.print(Text(event.text), soft_wrap=True)
        elif isinstance(event, ExecutionFinished):
            self.live.stop()
            bad = event.summary.exit_code != 0
            for number, line in enumerate(closing_lines(event, self.rerun)):
                style = ("bold red" if bad else "bold green") if number == 0 else ""
                # Soft wrap: a long path stays one line to copy, however the terminal shows it.
                self.console.print(Text(line, style=style), soft_wrap=True)
