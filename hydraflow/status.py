"""``hydraflow status``: what the ledger says about the batches of the file as it is now.

A query only: it returns data, and the front end renders it.
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hydraflow.config import Config, Job
from hydraflow.plan import Extras, batches
from hydraflow.statuses import BatchStatus

if TYPE_CHECKING:
    from hydraflow.ledger import Attempt, Ledger

# The status report's columns, in order, each with what it means.
STATE_HELP = {
    BatchStatus.OK: "the latest attempt succeeded",
    BatchStatus.FAILED: "the latest attempt failed",
    BatchStatus.TIMEOUT: "the latest attempt ran out of time (--timeout)",
    BatchStatus.INTERRUPTED: "the latest attempt was stopped by Ctrl-C or SIGTERM",
    BatchStatus.INCOMPLETE: "the latest attempt exited 0 but some runs left no record",
    BatchStatus.LOST: "its runner died without recording the end",
    BatchStatus.RUNNING: "a live runner is running it now",
    BatchStatus.QUEUED: "handed to a scheduler (Slurm), not started yet",
    BatchStatus.CANCELLED: "the scheduler cancelled it (scancel, preemption)",
    BatchStatus.PRUNED: "a search's pruner stopped the trial early",
    BatchStatus.NEVER_RUN: "the file makes this batch, the ledger has no attempt",
    BatchStatus.STALE: "the ledger has attempts of a batch the file no longer makes (edited since)",
}
STATES = tuple(STATE_HELP)


@dataclass(frozen=True)
class FailedBatch:
    batch: str
    status: BatchStatus
    exit_code: int | None
    log: str | None
    sweep_dir: str


@dataclass
class JobStatus:
    job: str
    extra: tuple[str, ...]
    batches: int
    counts: dict[BatchStatus, int]
    failed: list[FailedBatch] = field(default_factory=list)
    studies: list[str] = field(default_factory=list)  # a search job's, one line each

    @property
    def name(self) -> str:
        """``train``, or ``train -- epochs=1`` for runs made with extra arguments."""
        return " ".join([self.job, "--", *self.extra]) if self.extra else self.job


def job_status(job: Job, ledger: Ledger | None, root: Path | None = None) -> list[JobStatus]:
    """The job's batches with the state of their latest attempt: one entry for the plan
    as written, and one for each set of extra arguments it was also run with."""
    by_extra: dict[tuple[str, ...], dict[str, Attempt]] = defaultdict(dict)
    for attempt in ledger.attempts(job.key) if ledger else []:
        if not attempt.is_rerun:  # the batch it reruns runs of has its own rows
            by_extra[tuple(attempt.extra)][attempt.key] = attempt
    variants = [(), *sorted(extra for extra in by_extra if extra)]
    if job.search is not None:
        return [
            _search(job, extra, by_extra.get(extra, {}), root or Path.cwd()) for extra in variants
        ]
    return [_variant(job, extra, by_extra.get(extra, {}), root or Path.cwd()) for extra in variants]


def _search(job: Job, extra: tuple[str, ...], latest: dict[str, Attempt], root: Path) -> JobStatus:
    """A search job's batches are its trials, each asked once: every attempt is counted by
    its state (none is stale, none never run), and each study says how far it got."""
    from hydraflow.search.study import progress, study_name

    search = job.search
    assert search is not None
    counts: Counter[BatchStatus] = Counter(attempt.state for attempt in latest.values())
    failed = [
        FailedBatch(a.label, a.state, a.exit_code, a.log_path, a.sweep_dir)
        for a in latest.values()
        if a.state.unsuccessful
    ]
    studies: list[str] = []
    if not extra:
        bases = dict.fromkeys(study_name(job.key, b.each) for b in batches(job, Extras()))
        goal = str(job.goal or "minimize")
        with contextlib.suppress(Exception):  # a status never fails on what Optuna keeps
            studies = [p.line(job.metric or "value") for p in progress(root, search, goal, bases)]
    return JobStatus(job.key, extra, len(latest), {s: counts[s] for s in STATES}, failed, studies)


def _variant(job: Job, extra: tuple[str, ...], latest: dict[str, Attempt], root: Path) -> JobStatus:
    counts: Counter[BatchStatus] = Counter()
    failed = []
    keys = set()
    for batch in batches(job, Extras.parse(extra)):
        if batch.key in keys:  # extras that replace a swept word make batches alike
            continue
        keys.add(batch.key)
        attempt = latest.get(batch.key)
        state = attempt.state if attempt is not None else BatchStatus.NEVER_RUN
        counts[state] += 1
        if state.unsuccessful and attempt is not None:
            log = attempt.log_path or _cluster_log(root, attempt)
            failed.append(
                FailedBatch(attempt.label, state, attempt.exit_code, log, attempt.sweep_dir)
            )
    counts[BatchStatus.STALE] = len(set(latest) - keys)
    return JobStatus(job.key, extra, len(keys), {s: counts[s] for s in STATES}, failed)


def _cluster_log(root: Path, attempt: Attempt) -> str | None:
    """A batch run by the Slurm handler has its log in its sweep dir, if it printed."""
    from hydraflow.cluster import log_name

    path = root / attempt.sweep_dir / log_name(attempt.part)
    return str(path) if attempt.scheduler_id and path.exists() else None


def project_status(config: Config, job_name: str | None = None) -> list[JobStatus]:
    """Every job whose batches hydraflow records (submit jobs of the built-in Slurm handler
    too), after bringing what Slurm ran up to date from the batches' exit files."""
    from hydraflow.cluster import refresh
    from hydraflow.ledger import Ledger, LedgerError

    jobs = [config.job(job_name)] if job_name else list(config.jobs.values())
    jobs = [job for job in jobs if job.mode.in_ledger(job)]
    ledger = Ledger.existing(config.root)
    if ledger is not None:
        with contextlib.suppress(LedgerError):  # a ledger that cannot be written is still read
            refresh(ledger, config.root)
    try:
        return [entry for job in jobs for entry in job_status(job, ledger, config.root)]
    finally:
        if ledger is not None:
            ledger.close()
