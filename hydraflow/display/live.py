"""The live view: a bar for runs and batches, one line per running batch, and
everything else (output, finished batches, the report) scrolling above it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import IO, Any

from hydraflow.display.plain import closing_lines, finished_line, header
from hydraflow.events import (
    BatchFinished,
    BatchOutput,
    BatchStarted,
    Event,
    Notice,
    Preview,
    RunFinished,
    RunsLaunched,
    RunStarted,
)
from hydraflow.report import duration

_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan")


def eta(elapsed: float, runs_done: float, runs_total: int) -> float | None:
    """Seconds left, from the time runs have taken so far; None before any run ended."""
    if runs_done <= 0 or runs_total <= 0:
        return None
    return max(0.0, elapsed * (runs_total - runs_done) / runs_done)


@dataclass
class _Running:
    label: str
    started: float
    colour: str
    runs: int
    launched: int = 0


class Progress:
    """The counts the panel shows; the view reads them on every refresh."""

    def __init__(self) -> None:
        self.batches = 0
        self.runs = 0
        self.batches_done = 0
        self.runs_done = 0
        self.failed = 0
        self.timed_out = 0
        self.stopping = False  # Ctrl-C: what is left will not run, so no ETA
        self.started = time.time()
        self.running: dict[tuple[int, tuple[int, ...]], _Running] = {}

    def runs_under_way(self) -> float:
        """Runs finished inside running batches: Hydra announced the next one."""
        return sum(max(0, r.launched - 1) for r in self.running.values())


class LiveDisplay:
    def __init__(self, stream: IO[str], *, quiet: bool = False, rerun: str | None = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.quiet = quiet
        self.rerun = rerun
        self.console = Console(file=stream, highlight=False, markup=False, emoji=False)
        self.progress = Progress()
        # Refreshed on a timer by Rich, never per event: redraws are the costly part.
        self.live = Live(self, console=self.console, refresh_per_second=6, transient=True)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        p = self.progress
        now = time.time()
        done = p.runs_done + p.runs_under_way()
        left = eta(now - p.started, done, p.runs)
        counts = [f"{p.batches_done}/{p.batches} batches", f"{int(done)}/{p.runs} runs"]
        if p.failed:
            counts.append(f"{p.failed} failed")
        if p.timed_out:
            counts.append(f"{p.timed_out} timed out")
        counts.append(duration(now - p.started))
        if p.stopping:
            counts.append("stopping…")
        else:
            counts.append(f"ETA {duration(left)}" if left is not None else "ETA …")
        text = Text(" · ".join(counts), no_wrap=True, overflow="ellipsis")
        bar = Table.grid(padding=(0, 1))
        width = max(10, min(30, self.console.width - len(text) - 2))
        # Rich's own bar is pink-red while it runs; red here means something failed.
        style = "red" if p.failed or p.timed_out else "green"
        progress_bar = ProgressBar(
            total=max(p.runs, 1),
            completed=done,
            width=width,
            complete_style=style,
            finished_style=style,
        )
        bar.add_row(progress_bar, text)
        lines: list[Any] = [bar]
        for running in p.running.values():
            run = f"  run {running.launched}/{running.runs}" if running.runs > 1 else ""
            lines.append(
                Text.assemble(
                    ("  ▸ ", running.colour),
                    (running.label, running.colour),
                    f"{run}  {duration(now - running.started)}",
                )
            )
        return Group(*lines)

    def close(self) -> None:
        if self.live.is_started:
            self.live.stop()

    def handle(self, event: Event) -> None:
        from rich.text import Text

        p = self.progress
        if isinstance(event, BatchOutput):
            if not self.quiet:
                colour = _COLOURS[event.batch.index % len(_COLOURS)]
                output = Text(event.data.decode("utf-8", "replace"))
                # Soft wrap: a long line stays one line, to copy, however the terminal shows it.
                tag = Text(f"[{event.batch.label}] ", style=colour)
                self.console.print(tag + output, soft_wrap=True)
        elif isinstance(event, BatchStarted):
            colour = _COLOURS[event.batch.index % len(_COLOURS)]
            p.running[event.batch.place] = _Running(
                event.batch.label, event.time, colour, event.batch.runs
            )
        elif isinstance(event, RunsLaunched):
            if (running := p.running.get(event.batch.place)) is not None:
                running.launched = event.started
        elif isinstance(event, BatchFinished):
            p.running.pop(event.batch.place, None)
            p.stopping = p.stopping or event.status == "interrupted"
            if not event.retrying and event.status != "interrupted":  # stopped is not done
                p.batches_done += 1
                p.runs_done += event.batch.runs
                p.failed += event.status == "failed"
                p.timed_out += event.status == "timeout"
            style = "green" if event.status == "ok" else "red"
            text = finished_line(event, p.batches_done, p.batches)
            if not self.quiet or event.status != "ok":
                self.console.print(Text(text, style=style))
        elif isinstance(event, RunStarted):
            p.batches, p.runs, p.started = event.batches, event.runs, time.time()
            self.console.print(Text(header(event), style="bold"))
            self.live.start()
        elif isinstance(event, Notice):
            self.console.print(Text(event.text, style="yellow"))
        elif isinstance(event, Preview):
            self.console.print(Text(event.text), soft_wrap=True)
        elif isinstance(event, RunFinished):
            self.live.stop()
            bad = event.summary.exit_code != 0
            for number, line in enumerate(closing_lines(event, self.rerun)):
                style = ("bold red" if bad else "bold green") if number == 0 else ""
                # Soft wrap: a long path stays one line to copy, however the terminal shows it.
                self.console.print(Text(line, style=style), soft_wrap=True)
