"""Counting an execution from its events: the one counter behind the summary at its end
and the progress both views show while it runs.

The engine keeps a tally of its own and ends with ``tally.summary()``; each view
keeps one too, fed the same events, so the bar, the plain lines and the summary
never count differently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from hydraflow.events import (
    BatchFinished,
    BatchSkipped,
    BatchStarted,
    Event,
    ExecutionStarted,
    HandlerFinished,
    Problem,
    RunsLaunched,
    Stopped,
    StopReason,
    Summary,
    TrialTold,
)
from hydraflow.plan import Batch
from hydraflow.statuses import BatchStatus, ExitStatus, Skip

Place = tuple[int, tuple[int, ...]]


@dataclass
class Running:
    """A batch that has started and not yet ended."""

    batch: Batch
    started: float
    launched: int = 0  # the Hydra runs it has announced so far

    @property
    def runs_done(self) -> int:
        """Its runs that have ended: Hydra announced the one after them."""
        return max(0, self.launched - 1)


class Tally:
    def __init__(
        self,
        job: str = "",
        batches: int = 0,
        runs: int = 0,
        *,
        skipped: int = 0,
        started: float = 0.0,
        root: Path | None = None,
    ) -> None:
        self.job, self.batches, self.runs, self.skipped = job, batches, runs, skipped
        self.started = started
        # Where sweep dirs are, for the summary's outputs (a view needs none).
        self.root = os.path.abspath(root) if root is not None else None
        self.ok = 0
        self.elsewhere = 0
        self.failures: list[BatchFinished] = []
        self.retrying: dict[Place, BatchFinished] = {}
        self.running: dict[Place, Running] = {}
        self.runs_ended = 0  # runs of batches that ended, and of stopped batches before the stop
        self.stopping = False
        self.output_closed = False
        self.broken = ""
        self.outputs: list[str] = []
        self.handler: tuple[str, int] | None = None
        self.search = False
        self.trial: TrialTold | None = None  # the last trial a search told
        self.studies: dict[str, TrialTold] = {}

    def begin(self, batches: int, runs: int, skipped: int, started: float) -> None:
        """What the execution plans, as it starts."""
        self.batches, self.runs, self.skipped, self.started = batches, runs, skipped, started

    # -- what the views read -------------------------------------------------------

    @property
    def batches_done(self) -> int:
        """Batches that ended for good (a stopped batch is not done, a retried one not yet)."""
        return self.ok + sum(f.status != BatchStatus.INTERRUPTED for f in self.failures)

    @property
    def runs_done(self) -> int:
        return self.runs_ended + sum(r.runs_done for r in list(self.running.values()))

    def count(self, status: BatchStatus) -> int:
        return sum(f.status == status for f in self.failures)

    # -- what it is told -----------------------------------------------------------

    def handle(self, event: Event) -> None:
        if isinstance(event, BatchStarted):
            self._started(event)
        elif isinstance(event, RunsLaunched):
            if (running := self.running.get(event.batch.place)) is not None:
                running.launched = event.started
        elif isinstance(event, BatchFinished):
            self._finished(event)
        elif isinstance(event, BatchSkipped):
            if event.reason == Skip.DONE:
                self.skipped += 1
                self.batches -= 1
            else:
                self.elsewhere += 1
        elif isinstance(event, ExecutionStarted):
            self.job, self.batches, self.runs = event.job, event.batches, event.runs
            self.skipped = event.skipped
            self.search = event.search
        elif isinstance(event, TrialTold):
            self.trial = self.studies[event.study] = event
        elif isinstance(event, Stopped):
            self.stopping = True
            self.output_closed = self.output_closed or event.reason == StopReason.OUTPUT_CLOSED
        elif isinstance(event, Problem):
            self.broken = self.broken or event.text
        elif isinstance(event, HandlerFinished):
            self._handler(event)

    def _started(self, event: BatchStarted) -> None:
        place = event.batch.place
        self.retrying.pop(place, None)
        self.running[place] = Running(event.batch, event.time)
        if event.attempt == 1 and self.root is not None:  # what the summary's last line says
            self.outputs.append(os.path.join(self.root, event.sweep_dir))

    def _finished(self, event: BatchFinished) -> None:
        running = self.running.pop(event.batch.place, None)
        if event.retrying:
            self.retrying[event.batch.place] = event
            return
        if event.status == BatchStatus.OK:
            self.ok += 1
        else:
            self.failures.append(event)
        if event.status == BatchStatus.INTERRUPTED:
            self.runs_ended += running.runs_done if running else 0
        else:
            self.runs_ended += event.batch.runs

    def _handler(self, event: HandlerFinished) -> None:
        self.handler = (event.name, event.code)
        if event.code == ExitStatus.INTERRUPTED:
            self.stopping = True
        elif event.code != 0:
            self.broken = self.broken or f"the submit handler exited with status {event.code}"

    # -- the end -------------------------------------------------------------------

    def summary(self, ended: float) -> Summary:
        """The execution as it ended: a retry that never started (the execution stopped
        first) is a failure to report."""
        dropped = [replace(f, retrying=False) for f in self.retrying.values()]
        return Summary(
            job=self.job,
            batches=self.batches,
            runs=self.runs,
            ok=self.ok,
            skipped=self.skipped,
            elsewhere=self.elsewhere,
            failures=(*self.failures, *dropped),
            runs_done=self.runs_done,
            interrupted=self.stopping,
            output_closed=self.output_closed,
            broken=self.broken,
            started=self.started,
            ended=ended,
            outputs=tuple(self.outputs),
            handler=self.handler,
            search=self.search,
            studies=tuple(self.studies.values()),
        )
