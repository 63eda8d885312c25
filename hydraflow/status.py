"""``hydraflow status``: what the ledger says about the batches of the current file."""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from hydraflow.config import Config, Job
from hydraflow.ledger import Attempt, Ledger
from hydraflow.plan import batches

STATES = ("ok", "failed", "lost", "running", "never run", "stale")
FAILED = ("failed", "timeout", "interrupted")


@dataclass
class JobStatus:
    job: str
    batches: int
    counts: dict[str, int]
    failed: list[dict[str, Any]] = field(default_factory=list)


def job_status(job: Job, ledger: Ledger | None) -> JobStatus:
    """Every batch of the job as the file stands now, with the state of its latest attempt.

    ``stale`` counts batches the ledger knows that the file no longer makes.
    """
    latest = ledger.latest(job.key) if ledger else {}
    counts: Counter[str] = Counter()
    failed = []
    keys = set()
    for batch in batches(job, keyed=True):
        keys.add(batch.key)
        attempt = latest.get(batch.key)
        state = _state(attempt)
        counts[state] += 1
        if state == "failed" and attempt is not None:
            failed.append(_failure(attempt))
    counts["stale"] = len(set(latest) - keys)
    return JobStatus(job.key, len(keys), {s: counts[s] for s in STATES}, failed)


def _state(attempt: Attempt | None) -> str:
    if attempt is None:
        return "never run"
    state = attempt.state
    return "failed" if state in FAILED else state


def _failure(attempt: Attempt) -> dict[str, Any]:
    return {
        "batch": attempt.label,
        "status": attempt.status,
        "exit_code": attempt.exit_code,
        "log": attempt.log_path,
        "sweep_dir": attempt.sweep_dir,
    }


def show_status(
    config: Config,
    job_name: str | None,
    *,
    failed: bool = False,
    as_json: bool = False,
    out: IO[str] | None = None,
) -> int:
    out = out or sys.stdout
    jobs = [config.job(job_name)] if job_name else list(config.jobs.values())
    ledger = Ledger.existing(config.root)
    try:
        report = [job_status(job, ledger) for job in jobs if job.mode != "submit"]
    finally:
        if ledger is not None:
            ledger.close()
    if as_json:
        json.dump({"jobs": [asdict(r) for r in report]}, out, indent=2)
        out.write("\n")
        return 0
    _print_tables(report, failed, out)
    return 0


def _print_tables(report: list[JobStatus], failed: bool, out: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out, highlight=False)
    table = Table(box=None, pad_edge=False)
    table.add_column("job")
    for column in ("batches", *STATES):
        table.add_column(column, justify="right")
    for row in report:
        table.add_row(Text(row.job), str(row.batches), *(str(row.counts[s]) for s in STATES))
    console.print(table)
    if not failed:
        return
    for row in report:
        if not row.failed:
            continue
        details = Table(title=f"{row.job}: failed batches", title_justify="left")
        for column in ("batch", "status", "exit", "log"):
            details.add_column(column, overflow="fold")
        for failure in row.failed:
            details.add_row(
                Text(failure["batch"]),
                failure["status"],
                "" if failure["exit_code"] is None else str(failure["exit_code"]),
                Text(failure["log"] or ""),
            )
        console.print(details)
