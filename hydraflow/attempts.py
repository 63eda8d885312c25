"""The ledger's account of an execution, written from its events: each attempt's row
(claimed before the batch started, or its own for a retry) and how it ended."""

from __future__ import annotations

from collections.abc import Sequence

from hydraflow.events import BatchFinished, BatchStarted, Event, ExecutionFinished
from hydraflow.ledger import Claims
from hydraflow.plan import Batch
from hydraflow.resume import Resume
from hydraflow.statuses import BatchStatus

# The end of a batch shorter than this waits for the next claim's transaction.
DEFER_SECONDS = 1.0

Place = tuple[int, tuple[int, ...]]


def attempt_fields(
    batch: Batch,
    sweep_dir: str,
    argv: Sequence[str],
    extra: Sequence[str],
    status: BatchStatus = BatchStatus.RUNNING,
) -> dict[str, object]:
    """The row an attempt of ``batch`` starts with."""
    return {
        "label": batch.label,
        "argv": list(argv),
        "extra": list(extra),
        "sweep_dir": sweep_dir,
        "runs": batch.runs,
        "part": list(batch.rerun) or None,
        "status": status,
    }


class AttemptLog:
    """An observer that writes every attempt of the execution through ``claims``."""

    def __init__(self, claims: Claims, extra: Sequence[str], resume: Resume | None) -> None:
        self.claims = claims
        self.extra = list(extra)
        self.resume = resume
        self.rows: dict[Place, int] = {}  # by the batch's place in the execution
        self.pids: dict[Place, int] = {}

    def claimed(self, batch: Batch, row: int) -> None:
        """The row a claim wrote for ``batch``, which its first attempt ends."""
        self.rows[batch.place] = row

    def handle(self, event: Event) -> None:
        if isinstance(event, BatchStarted):
            if event.attempt > 1 or event.batch.place not in self.rows:
                fields = attempt_fields(event.batch, event.sweep_dir, event.argv, self.extra)
                fields["attempt"] = event.attempt
                self.rows[event.batch.place] = self.claims.insert(event.batch.key, fields)
            self.pids[event.batch.place] = event.pid
        elif isinstance(event, BatchFinished):
            self._ended(event)
            if self.resume is not None:
                self.resume.part_finished(event)
        elif isinstance(event, ExecutionFinished):
            self.claims.flush()

    def _ended(self, event: BatchFinished) -> None:
        row = self.rows.get(event.batch.place)
        if row is None:
            return
        fields: dict[str, object] = {
            "status": event.status,
            "exit_code": event.returncode,
            "start": event.started,
            "end": event.ended,
            "pid": self.pids.pop(event.batch.place, None),
            "log_path": str(event.log_path) if event.log_path else None,
        }
        self.claims.end(row, fields, now=event.duration >= DEFER_SECONDS)
