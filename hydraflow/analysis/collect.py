"""Finding every run of a job: from the ledger's batches and by scanning the output
folder, so that runs made on Slurm, on another machine or with ``--no-ledger`` count.

A planned run that never started (its batch stopped early) is a ``not run`` row
when the current file still makes its batch. Runs forgotten (``hydraflow forget``,
recorded in the ledger) are left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydraflow.analysis.model import Run, when
from hydraflow.analysis.reading import (
    TooMany,
    numbers,
    read_config,
    read_metrics,
    read_overrides,
    same_values,
)
from hydraflow.analysis.runs import Runs
from hydraflow.config import Config, Job
from hydraflow.ids import time_of
from hydraflow.plan import RECORD_OVERRIDE, SWEEP_ROOT, Batch, Extras, batches, planned_runs
from hydraflow.run_files import Unreadable, load
from hydraflow.run_record import RUN_RECORD, load_record
from hydraflow.statuses import BatchStatus, RunStatus
from hydraflow.typed import from_word
from hydraflow.words import params_of

if TYPE_CHECKING:
    from hydraflow.ledger.forgotten import Forgotten


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


@dataclass(frozen=True)
class Placed:
    """A run with its sweep dir and its place there (both from the project's folder): its
    folder, or for a planned run that never started the one Hydra would have given it."""

    run: Run
    sweep: str
    place: str


@dataclass(frozen=True)
class Found:
    """Every attempt of every run of some jobs, by job, with what could not be read."""

    jobs: list[Job]
    runs: dict[str, list[Placed]]
    problems: list[str]


def collect(config: Config, job_name: str | None = None, *, all_attempts: bool = False) -> Runs:
    """Every run of ``job_name`` (or of every job): the latest attempt of each distinct
    config (the same overrides, however spelt), or every attempt with ``all_attempts``."""
    found = find(config, job_name)
    chosen: list[Run] = []
    for placed in found.runs.values():
        runs = [one.run for one in placed]
        chosen.extend(runs if all_attempts else latest(runs))
    goals = {job.key: (job.metric, job.goal) for job in found.jobs if job.metric and job.goal}
    return Runs(chosen, problems=found.problems, goals=goals)


def find(config: Config, job_name: str | None = None) -> Found:
    """Every attempt of every run of ``job_name`` (or of every job), each with its place
    (what ``hydraflow forget`` records); the runs forgotten are left out."""
    jobs = [config.job(job_name)] if job_name else list(config.jobs.values())
    problems: list[str] = []
    known, forgotten = _ledger_sweeps(config, jobs)
    older = _older_sweeps(config.root, set(config.jobs))
    found: dict[str, list[Placed]] = {}
    for job in jobs:
        sweeps = known.get(job.key, {})
        for path in [*_job_sweeps(config.root, job), *older.get(job.name, [])]:
            sweeps.setdefault(path, _Sweep(path))
        found[job.key] = [
            placed
            for sweep in sweeps.values()
            for placed in _runs_of(config, job, sweep, problems, forgotten)
        ]
    return Found(jobs, found, problems)


def latest(runs: Sequence[Run]) -> list[Run]:
    """The latest attempt of each config, in the order the configs first came. A run that
    never started (its batch stopped first) stands for its config only if no attempt of
    it started: an earlier result is worth more than a later "not run"."""
    chosen: dict[frozenset[tuple[str, str]], Run] = {}
    for run in runs:
        identity = same_values(params_of(run.overrides))
        before = chosen.get(identity)
        if before is None or _later(run, before):
            chosen[identity] = run
    return list(chosen.values())


def _later(run: Run, before: Run) -> bool:
    if run.started is None:
        return before.started is None
    return before.started is None or run.started >= before.started


def _ledger_sweeps(
    config: Config, jobs: Iterable[Job]
) -> tuple[dict[str, dict[str, _Sweep]], Forgotten]:
    """Each job's sweep dirs in the ledger, in the order they were claimed, with the batch
    of the current plan that wrote them (found by content key); and the runs forgotten."""
    from hydraflow.ledger import Ledger
    from hydraflow.ledger.forgotten import Forgotten, forgotten

    ledger = Ledger.existing(config.root)
    if ledger is None:
        return {}, Forgotten()
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
        return found, forgotten(ledger)
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
    config: Config, job: Job, sweep: _Sweep, problems: list[str], forgotten: Forgotten
) -> Iterator[Placed]:
    """The runs in a sweep dir; then, for a batch that did not succeed, the planned runs
    that have no folder (its process stopped before them), as ``not run``. A run forgotten
    still counts as there (its planned run is no ``not run``), but is not given."""
    root = config.root
    found: set[frozenset[tuple[str, str]]] = set()
    numbers: set[int] = set()
    began = time_of(sweep.path.rpartition("/")[2])
    for name in _run_dirs(str(root / sweep.path)):
        run = _run(root, job, sweep, f"{sweep.path}/{name}", began, problems)
        if not run.overrides and name.isdigit() and int(name) < len(sweep.planned):
            # Stopped after Hydra made the folder but before it wrote overrides.yaml:
            # Hydra numbers runs in plan order, so the number says which run it was.
            overrides = tuple(sweep.planned[int(name)])
            run = replace(run, overrides=overrides, params=typed_params(overrides, run.params))
        found.add(same_values(params_of(run.overrides)))
        if name.isdigit():
            numbers.add(int(name))
        place = f"{sweep.path}/{name}"
        if not forgotten.hides(place, run.started.timestamp() if run.started else None):
            yield Placed(run, sweep.path, place)
    if sweep.batch is None or sweep.batch_status in (None, BatchStatus.OK):
        return
    # While the batch runs, its runs to come are queued, not "not run".
    live = sweep.batch_status is not None and sweep.batch_status.live
    for number, planned in enumerate(sweep.planned):
        place = f"{sweep.path}/{number}"
        if number in numbers or same_values(params_of(planned)) in found:
            continue
        if not forgotten.hides_planned(place):
            status = RunStatus.QUEUED if live else RunStatus.NOT_RUN
            words = tuple(planned)
            run = Run(job.key, status, None, typed_params(words), overrides=words, root=root)
            yield Placed(run, sweep.path, place)


def typed_params(
    overrides: Sequence[str], config: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A run's parameters: the keys its overrides set, in their order, then every other key
    of its composed config; each valued as the config has it, or (a config group's
    choice, a run without a saved config) as Hydra reads the override's value."""
    config = config or {}
    params = {
        key: config[key] if key in config else from_word(value)
        for key, value in params_of(overrides).items()
    }
    for key, value in config.items():
        params.setdefault(key, value)
    return params


def _run(
    root: Path, job: Job, sweep: _Sweep, run_dir: str, began: float | None, problems: list[str]
) -> Run:
    folder = str(root / run_dir)
    record, damaged = load_record(folder)
    if damaged:
        problems.append(f"{damaged}; the run shows as unknown")
    metrics: dict[str, float] = {}
    start: float | None = began
    duration, error = None, None
    if record is not None:
        status = RunStatus.OK if record.get("status") == RunStatus.OK else RunStatus.FAILED
        overrides = record.get("overrides") or read_overrides(folder) or []
        try:
            metrics.update(numbers(record.get("value")))
        except TooMany as why:
            problems.append(f"{folder}: the value it returned holds {why}; left out")
        start, end = record.get("start"), record.get("end")
        duration = end - start if isinstance(start, float) and isinstance(end, float) else None
        error = record.get("error")
    elif damaged:
        status, overrides = RunStatus.UNKNOWN, read_overrides(folder) or []
    else:
        # A run without a record (made before runs kept them, or cut short before its
        # end) takes its status from its batch's, where that says more than "unknown".
        # Without records a run that ended before its batch was stopped looks the same
        # as the one that was stopped: only a batch that succeeded vouches for each run.
        batch = sweep.batch_status
        known = batch is not None and (sweep.recorded or batch == BatchStatus.OK)
        status = RunStatus.of_batch(batch) if batch is not None and known else RunStatus.UNKNOWN
        overrides = read_overrides(folder) or []
    metrics.update(read_metrics(folder, job.metrics, problems))
    words = tuple(map(str, overrides))
    params = typed_params(words, read_config(folder, problems))
    moment = when(start if isinstance(start, int | float) else began)
    return Run(
        job.key, status, root / run_dir, params, metrics, duration, moment, error, words, root
    )
