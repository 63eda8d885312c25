"""Plain lines: one per start and end, and every output line tagged with its batch."""

from __future__ import annotations

from typing import IO

from hydraflow.events import (
    BatchFinished,
    BatchOutput,
    BatchStarted,
    Event,
    ExecutionFinished,
    ExecutionStarted,
    Notice,
    Preview,
    TrialTold,
)
from hydraflow.reporting import (
    duration,
    failure_block,
    outputs_line,
    plural,
    status_text,
    study_lines,
    summary_line,
)
from hydraflow.statuses import BatchStatus
from hydraflow.tally import Tally


def header(event: ExecutionStarted) -> str:
    """``train: 4 batches, 12 runs, 2 at once (1 skipped, done before)``."""
    at_once = f", {event.workers} at once" if event.workers > 1 else ""
    if event.search:
        done = f" ({event.skipped} done before)" if event.skipped else ""
        return f"{event.job}: {plural(event.batches, 'trial')}{at_once}{done}"
    skipped = f" ({event.skipped} skipped, done before)" if event.skipped else ""
    runs = plural(event.runs, "run")
    return f"{event.job}: {plural(event.batches, 'batch')}, {runs}{at_once}{skipped}"


def finished_line(event: BatchFinished, done: int, total: int) -> str:
    return (
        f"{status_text(event)}  #{event.batch.index + 1} {event.batch.label}"
        f"  {duration(event.duration)}  [{done}/{total}]"
    )


def closing_lines(event: ExecutionFinished, rerun: str | None) -> list[str]:
    """What both views print when an execution ends: the summary, each failure, the
    outputs."""
    summary = event.summary
    lines = [line] if (line := summary_line(summary)) else []
    lines += study_lines(summary)
    if summary.broken:
        lines.append(f"error: {summary.broken}")
    for failure in summary.failures:
        if failure.status not in (BatchStatus.INTERRUPTED, BatchStatus.PRUNED):
            # A failed trial is not run again by --resume (the study goes on): its own command is.
            lines += failure_block(failure, None if summary.search else rerun)
    if where := outputs_line(summary.outputs):
        lines.append(where)
    if summary.interrupted and rerun and not summary.output_closed:
        lines.append(f"to go on: {rerun}")
    return lines


class PlainDisplay:
    def __init__(
        self,
        stream: IO[str],
        *,
        quiet: bool = False,
        rerun: str | None = None,
        aside: IO[str] | None = None,
    ) -> None:
        self.stream = stream
        # Where notices go when the stream carries only commands (a dry run's stdout).
        self.aside = aside
        self.raw: IO[bytes] | None = getattr(stream, "buffer", None)
        self.quiet = quiet
        self.rerun = rerun
        self.tally = Tally()

    def close(self) -> None:
        """Every line is written as it comes: nothing to give back."""

    def handle(self, event: Event) -> None:
        self.tally.handle(event)
        if isinstance(event, BatchOutput):
            if not self.quiet:
                self._write(f"[{event.batch.label}] ".encode() + event.data + b"\n")
        elif isinstance(event, Preview):
            self._write(event.text.encode("utf-8", "surrogateescape") + b"\n")
        elif isinstance(event, BatchStarted):
            retry = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            self._line(f"start  #{event.batch.index + 1} {event.batch.label}{retry}")
        elif isinstance(event, BatchFinished):
            self._line(finished_line(event, self.tally.batches_done, self.tally.batches))
        elif isinstance(event, ExecutionStarted):
            self._line(header(event))
        elif isinstance(event, TrialTold):
            self._line(event.line())
        elif isinstance(event, Notice):
            if self.aside is not None:
                self.aside.write(f"hydraflow: {event.text}\n")
            else:
                self._line(event.text)
        elif isinstance(event, ExecutionFinished):
            for line in closing_lines(event, self.rerun):
                self._write(line.encode("utf-8", "surrogateescape") + b"\n")

    def _line(self, text: str) -> None:
        self._write(f"hydraflow: {text}\n".encode("utf-8", "surrogateescape"))

    def _write(self, data: bytes) -> None:
        if self.raw is not None:
            # Everything goes through the byte buffer, so nothing waits in the text layer.
            self.stream.flush()
            self.raw.write(data)
            self.raw.flush()
        else:
            self.stream.write(data.decode("utf-8", "replace"))
            self.stream.flush()
