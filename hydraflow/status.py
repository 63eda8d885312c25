"""``hydraflow status``: what the ledger says about the batches of the file as it is now.

A query only: it returns data, and the front end renders it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hydraflow.config import Config, Job
from hydraflow.plan import Extras, batches

if TYPE_CHECKING:
    from hydraflow.ledger import Attempt, Ledger

STATES = (
    "ok",
    "failed",
    "timeout",
    "interrupted",
    "lost",
    "running",
    "queued",
    "never run",
    "stale",
)
STATE_HELP = {
    "ok": "the latest attempt succeeded",
    "failed": "the latest attempt failed",
    "timeout": "the latest attempt ran out of time (--timeout)",
    "interrupted": "the latest attempt was stopped by Ctrl-C or SIGTERM",
    "lost": "its runner died without recording the end",
    "running": "a live runner is running it now",
    "queued": "handed to a scheduler, not started yet",
    "never run": "the file makes this batch, the ledger has no attempt",
    "stale": "the ledger has attempts of a batch the file no longer makes (edited since)",
}


@dataclass(frozen=True)
class FailedBatch:
    batch: str
    status: str
    exit_code: int | None
    log: str | None
    sweep_dir: str


@dataclass
class JobStatus:
    job: str
    extra: tuple[str, ...]
    batches: int
    counts: dict[str, int]
    failed: list[FailedBatch] = field(default_factory=list)

    @property
    def name(self) -> str:
        """``train``, or ``train -- epochs=1`` for runs made with extra arguments."""
        return " ".join([self.job, "--", *self.extra]) if self.extra else self.job


def job_status(job: Job, ledger: Ledger | None) -> list[JobStatus]:
    """The job's batches with the state of their latest attempt: one entry for the plan
    as written, and one for each set of extra arguments it was also run with."""
    by_extra: dict[tuple[str, ...], dict[str, Attempt]] = defaultdict(dict)
    for attempt in ledger.attempts(job.key) if ledger else []:
        if not attempt.is_rerun:  # the batch it reruns runs of has its own rows
            by_extra[tuple(attempt.extra)][attempt.key] = attempt
    variants = [(), *sorted(extra for extra in by_extra if extra)]
    return [_variant(job, extra, by_extra.get(extra, {})) for extra in variants]


def _variant(job: Job, extra: tuple[str, ...], latest: dict[str, Attempt]) -> JobStatus:
    counts: Counter[str] = Counter()
    failed = []
    keys = set()
    for batch in batches(job, Extras.parse(extra)):
        keys.add(batch.key)
        attempt = latest.get(batch.key)
        state = attempt.state if attempt is not None else "never run"
        counts[state] += 1
        if state in ("failed", "timeout", "interrupted", "lost") and attempt is not None:
            failed.append(
                FailedBatch(
                    attempt.label, state, attempt.exit_code, attempt.log_path, attempt.sweep_dir
                )
            )
    counts["stale"] = len(set(latest) - keys)
    return JobStatus(job.key, extra, len(keys), {s: counts[s] for s in STATES}, failed)


def project_status(config: Config, job_name: str | None = None) -> list[JobStatus]:
    from hydraflow.ledger import Ledger

    jobs = [config.job(job_name)] if job_name else list(config.jobs.values())
    # A submit job hands its batches to another program, which records nothing here.
    jobs = [job for job in jobs if job.mode != "submit"]
    ledger = Ledger.existing(config.root)
    try:
        return [entry for job in jobs for entry in job_status(job, ledger)]
    finally:
        if ledger is not None:
            ledger.close()
