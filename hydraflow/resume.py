"""What ``--resume`` decides, from the ledger and the runs' own records: which batches
succeeded before, where each batch wrote, and which single runs of a batch that
partly succeeded are run again (each alone, into the same sweep dir, under its own
number), so the folder reads as if the batch had never failed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from hydraflow.analysis.reading import run_numbers
from hydraflow.config import Job
from hydraflow.events import BatchFinished
from hydraflow.ledger import Attempt, Claims, Ledger, completion
from hydraflow.ledger.claims import GUARD_PATIENCE
from hydraflow.plan import Batch, planned_runs
from hydraflow.run_record import RUN_RECORD, read_record
from hydraflow.statuses import BatchStatus, RunStatus
from hydraflow.words import params_of


def unrecorded_runs(folder: Path, batch: Batch, announced: int) -> tuple[int, ...]:
    """The runs of a batch that ended with status 0 that left no record of success in its
    sweep dir; none when hydraflow cannot tell which runs it makes, or when nothing says
    it is a Hydra app that records them (no run announced, no record at all)."""
    if not announced and not _any_record(folder):  # no Hydra app that records its runs
        return ()
    if batch.rerun:
        number = batch.rerun[0]
        record = read_record(str(folder / str(number)))
        if record is not None and record.get("status") == RunStatus.OK:
            return ()
        return (number,)
    planned = planned_runs(batch)
    if not planned:
        return ()
    succeeded = run_numbers(str(folder), [params_of(run) for run in planned])
    return tuple(n for n in range(len(planned)) if n not in succeeded)


def _any_record(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(
                os.path.exists(os.path.join(e.path, RUN_RECORD)) for e in entries if e.is_dir()
            )
    except OSError:
        return False


def settled(ledger: Ledger, job: str, patience: float = GUARD_PATIENCE) -> dict[str, Attempt]:
    """The latest attempt of each batch of ``job``, once no dead runner's watchdog is still
    stopping one of them: a decision made before would take runs that finished for runs
    to do again (the records are written by then, but the row still reads running)."""
    deadline = time.monotonic() + patience
    while True:
        latest = ledger.latest(job)
        if not any(attempt.settling for attempt in latest.values()):
            return latest
        if time.monotonic() > deadline:
            return latest  # the claims then say the batch runs elsewhere: never twice
        time.sleep(0.1)


class Resume:
    """Decisions read from one job's latest attempts; ``claims`` (None for a dry run)
    writes the rows that say a batch succeeded once its missing runs did."""

    def __init__(self, ledger: Ledger, job: Job, root: Path, claims: Claims | None) -> None:
        self.job = job
        self.root = root
        self.claims = claims
        self.previous: dict[str, Attempt] = settled(ledger, job.key)
        self.done = frozenset(
            key for key, attempt in self.previous.items() if attempt.status == BatchStatus.OK
        )
        self.parts: dict[str, set[int]] = {}  # runs being rerun, by the key of their batch
        self._reruns: dict[str, tuple[int, ...] | None] = {}
        self._part_failed: set[str] = set()

    def sweep_dir(self, batch: Batch, new: str) -> str:
        """A batch writes into the folder of its earlier attempt."""
        earlier = self.previous.get(batch.base_key)
        return earlier.sweep_dir if earlier else new

    def reruns(self, batch: Batch) -> tuple[int, ...] | None:
        """Which runs of a batch that did not succeed to run again: those without an ``ok``
        record in its sweep dir. None reruns the whole batch (nothing succeeded, it is
        still running somewhere, or hydraflow cannot tell which runs it makes); empty
        means every run succeeded."""
        if batch.key not in self._reruns:
            self._reruns[batch.key] = self._find_reruns(batch)
        return self._reruns[batch.key]

    def _find_reruns(self, batch: Batch) -> tuple[int, ...] | None:
        previous = self.previous.get(batch.key)
        if previous is None or previous.status == BatchStatus.OK:
            return None
        if previous.state.live:  # here, on another host or on the cluster
            return None  # its claim will say it runs elsewhere: never beside it
        planned = planned_runs(batch)
        if not planned:
            return None
        folder = str(self.root / previous.sweep_dir)
        succeeded = run_numbers(folder, [params_of(run) for run in planned])
        missing = tuple(n for n in range(len(planned)) if n not in succeeded)
        if len(missing) == len(planned):
            return None
        if not missing:
            self._complete(batch.key, ())
        else:
            self.parts[batch.key] = set(missing)
        return missing

    def part_finished(self, event: BatchFinished) -> None:
        """When every rerun run of a batch has succeeded, the batch has: say so once."""
        base = event.batch.base
        if not base or event.retrying:
            return
        if event.status != BatchStatus.OK:
            self._part_failed.add(base)
            return
        waiting = self.parts.get(base)
        if waiting is None:
            return
        waiting.difference_update(event.batch.rerun)
        if not waiting and base not in self._part_failed and base in self.previous:
            self._complete(base, self._reruns.get(base) or event.batch.rerun)

    def _complete(self, key: str, rerun: Sequence[int]) -> None:
        if self.claims is not None:
            self.claims.insert(key, completion(self.previous[key], rerun, time.time()))
