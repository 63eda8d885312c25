"""Finding every run of a job: from the ledger's batches and by scanning the output
folder, so that runs made on Slurm, on another machine or with ``--no-ledger`` count.

A planned run that never started (its batch stopped early) is a ``not run`` row
when the current file still makes its batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from hydraflow.analysis.model import Results, Run
from hydraflow.analysis.reading import (
    TooMany,
    canonical,
    numbers,
    read_metrics,
    read_overrides,
    same_values,
)
from hydraflow.config import Config, Job
from hydraflow.plan import RECORD_OVERRIDE, SWEEP_ROOT, Batch, Extras, batches, planned_runs
from hydraflow.run_files import Unreadable, load
from hydraflow.run_record import RUN_RECORD, load_record
from hydraflow.statuses import BatchStatus, RunStatus
from hydraflow.words import params_of


@dataclass
class _Sweep:
    """A sweep dir of a job, with what the ledger and the plan know of it."""

    path: str
    batch: Batch | None = None
    batch_status: BatchStatus | None = None
    runs: list[str] = field(default_factory=list)
    recorded: bool = False  # its runs were made with the record callback

    @cached_property
    def planned(self) -> list[list[str]]:
        """The task overrides of the batch's runs, by Hydra's number (once ``batch`` is known)."""
        return (planned_runs(self.batch) if self.batch else None) or []


def collect(config: Config, job_name: str | None = None) -> Results:
    """Every run of ``job_name`` (or of every job), as ``Run`` rows."""
    jobs = [config.job(job_name)] if job_name else list(config.jobs.values())
    results = Results()
    known = _ledger_sweeps(config, jobs)
    older = _older_sweeps(config.root, set(config.jobs))
    for job in jobs:
        sweeps = known.get(job.key, {})
        for path in [*_job_sweeps(config.root, job), *older.get(job.name, [])]:
            sweeps.setdefault(path, _Sweep(path))
        runs = [
            pair
            for sweep in sweeps.values()
            for pair in _runs_of(config.root, job, sweep, results.problems)
        ]
        results.extend(_as_recorded(runs))
    return results


def _ledger_sweeps(config: Config, jobs: Iterable[Job]) -> dict[str, dict[str, _Sweep]]:
    """Each job's sweep dirs in the ledger, in the order they were claimed, with the batch
    of the current plan that wrote them (found by content key)."""
    from hydraflow.ledger import Ledger

    ledger = Ledger.existing(config.root)
    if ledger is None:
        return {}
    try:
        found: dict[str, dict[str, _Sweep]] = {}
        for job in jobs:
            attempts = ledger.attempts(job.key)
            plans = {
                tuple(extra): {b.key: b for b in batches(job, Extras.parse(extra))}
                for extra in {tuple(a.extra) for a in attempts}
            }
            sweeps: dict[str, _Sweep] = {}
            for attempt in attempts:
                sweep = sweeps.setdefault(attempt.sweep_dir, _Sweep(attempt.sweep_dir))
                if not attempt.is_rerun:  # reruns of single runs write into their batch's dir
                    sweep.batch = plans[tuple(attempt.extra)].get(attempt.key)
                    sweep.batch_status = attempt.state  # a dead runner's row: lost
                    sweep.recorded = RECORD_OVERRIDE in attempt.argv
            found[job.key] = sweeps
        return found
    finally:
        ledger.close()


def _job_sweeps(root: Path, job: Job) -> list[str]:
    """Sweep dirs on disk under ``multirun/<job>/``, oldest first (ids sort by time)."""
    return [
        f"{SWEEP_ROOT}/{job.key}/{name}" for name in sorted(_subdirs(root / SWEEP_ROOT / job.key))
    ]


def _older_sweeps(root: Path, names: set[str]) -> dict[str, list[str]]:
    """Sweep dirs of the older layout, ``multirun/<id>``, by the job their
    ``multirun.yaml`` names (``hydra.job.name``); folders named after jobs are skipped."""
    found: dict[str, list[str]] = {}
    top = root / SWEEP_ROOT
    for name in sorted(_subdirs(top)):
        if name in names:
            continue
        try:
            job = load(str(top / name / "multirun.yaml"))["hydra"]["job"]["name"]
        except (OSError, Unreadable, KeyError, TypeError):
            continue
        found.setdefault(str(job), []).append(f"{SWEEP_ROOT}/{name}")
    return found


def _subdirs(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
    except OSError:
        return []


def _run_dirs(sweep: str) -> list[str]:
    """The run dirs of a sweep: sub-folders that Hydra or hydraflow wrote into, by number."""
    found = []
    for name in _subdirs(Path(sweep)):
        folder = os.path.join(sweep, name)
        if os.path.exists(os.path.join(folder, RUN_RECORD)) or os.path.isdir(
            os.path.join(folder, ".hydra")
        ):
            found.append(name)
    return sorted(found, key=lambda n: (not n.isdigit(), int(n) if n.isdigit() else 0, n))


def _runs_of(
    root: Path, job: Job, sweep: _Sweep, problems: list[str]
) -> Iterator[tuple[Run, bool]]:
    """The runs in a sweep dir; then, for a batch that did not succeed, the planned runs
    that have no folder (its process stopped before them), as ``not run``. Each with
    whether its parameters come from the plan rather than from what Hydra recorded."""
    found: set[frozenset[tuple[str, str]]] = set()
    numbers: set[int] = set()
    for name in _run_dirs(str(root / sweep.path)):
        run = _run(root, job, sweep, f"{sweep.path}/{name}", problems)
        from_plan = not run.params and name.isdigit() and int(name) < len(sweep.planned)
        if from_plan:
            # Stopped after Hydra made the folder but before it wrote overrides.yaml:
            # Hydra numbers runs in plan order, so the number says which run it was.
            run = replace(run, params=params_of(sweep.planned[int(name)]))
        found.add(same_values(run.params))
        if name.isdigit():
            numbers.add(int(name))
        yield run, from_plan
    if sweep.batch is None or sweep.batch_status in (None, BatchStatus.OK):
        return
    for number, overrides in enumerate(sweep.planned):
        params = params_of(overrides)
        if number not in numbers and same_values(params) not in found:
            # While the batch runs, its runs to come are queued, not "not run".
            live = sweep.batch_status is not None and sweep.batch_status.live
            yield Run(job.key, RunStatus.QUEUED if live else RunStatus.NOT_RUN, None, params), True


def _as_recorded(runs: list[tuple[Run, bool]]) -> list[Run]:
    """Values taken from the plan, written as Hydra recorded them in the job's other runs
    (it keeps ``true`` as ``True``), so that one value never looks like two."""
    if not any(from_plan for _, from_plan in runs):
        return [run for run, _ in runs]
    spellings: dict[tuple[str, str], str] = {}
    for run, from_plan in runs:
        if not from_plan:
            for key, value in run.params.items():
                spellings.setdefault((key, canonical(value)), value)
    return [
        replace(run, params={k: spellings.get((k, canonical(v)), v) for k, v in run.params.items()})
        if from_plan
        else run
        for run, from_plan in runs
    ]


def _run(root: Path, job: Job, sweep: _Sweep, run_dir: str, problems: list[str]) -> Run:
    folder = str(root / run_dir)
    record, damaged = load_record(folder)
    if damaged:
        problems.append(f"{damaged}; the run shows as unknown")
    metrics: dict[str, float] = {}
    if record is not None:
        status = RunStatus.OK if record.get("status") == RunStatus.OK else RunStatus.FAILED
        params = params_of(record.get("overrides") or read_overrides(folder) or [])
        try:
            metrics.update(numbers(record.get("value")))
        except TooMany as why:
            problems.append(f"{folder}: the value it returned holds {why}; left out")
        start, end = record.get("start"), record.get("end")
        duration = end - start if isinstance(start, float) and isinstance(end, float) else None
        error = record.get("error")
    elif damaged:
        status, duration, error = RunStatus.UNKNOWN, None, None
        params = params_of(read_overrides(folder) or [])
    else:
        # A run without a record (made before runs kept them, or cut short before its
        # end) takes its status from its batch's, where that says more than "unknown".
        # Without records a run that ended before its batch was stopped looks the same
        # as the one that was stopped: only a batch that succeeded vouches for each run.
        batch = sweep.batch_status
        known = batch is not None and (sweep.recorded or batch == BatchStatus.OK)
        status = RunStatus.of_batch(batch) if batch is not None and known else RunStatus.UNKNOWN
        params = params_of(read_overrides(folder) or [])
        duration, error = None, None
    metrics.update(read_metrics(folder, job.metrics, problems))
    return Run(job.key, status, run_dir, params, metrics, duration, error)
