"""One execution of a job (``hydraflow run JOB``, ``invoke JOB``): its state, and what
the engine offers the job's mode while it runs (``modes.Services``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from hydraflow.attempts import AttemptLog
from hydraflow.config import Config, Job
from hydraflow.engine.broadcast import Broadcast
from hydraflow.engine.check import Checked
from hydraflow.engine.check import probe as probe_config
from hydraflow.engine.clock import SYSTEM_CLOCK, Clock
from hydraflow.engine.launches import (
    Claiming,
    Launcher,
    Unclaimed,
    workers_and_devices,
)
from hydraflow.engine.pool import Pool
from hydraflow.engine.running import Launch
from hydraflow.engine.settings import PoolSettings
from hydraflow.engine.starters import Starter
from hydraflow.engine.warm import probe_app, starter_for
from hydraflow.engine.watchdog import Watchdog
from hydraflow.errors import UsageError
from hydraflow.events import ExecutionStarted, HandlerFinished, Notice, Preview, Problem
from hydraflow.flags import RunOptions
from hydraflow.ids import new_id
from hydraflow.ledger import Claimed, Ledger
from hydraflow.modes import AppSpec
from hydraflow.modes.base import LineOf
from hydraflow.plan import Batch, Counts, Extras, Plan, new_sweep_dir, record_env
from hydraflow.resume import Resume, unrecorded_runs
from hydraflow.statuses import BatchStatus
from hydraflow.tally import Tally

if TYPE_CHECKING:
    from hydraflow.search.trials import Trials


@dataclass(frozen=True)
class Request:
    config: Config
    job: Job
    options: RunOptions
    extra: tuple[str, ...] = ()


class Guard(Protocol):
    """What outlives the runner to stop its batches (the watchdog), as the pool needs it."""

    @property
    def pid(self) -> int: ...

    @property
    def env(self) -> dict[str, str]: ...

    def __enter__(self) -> Guard: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


StarterFor = Callable[
    [AppSpec | None, Mapping[str, str], Path, Callable[[str], None], bool, float | None],
    Starter,
]
CheckApp = Callable[[AppSpec, Sequence[Sequence[str]], Sequence[str], Path], Checked]


@dataclass(frozen=True)
class Runtime:
    """How the engine starts processes, guards them and tells the time; a test gives fakes."""

    clock: Clock = SYSTEM_CLOCK
    starter_for: StarterFor = starter_for
    guard: Callable[[], Guard] = Watchdog
    probe: Callable[[AppSpec, Path], None] = probe_app
    check: CheckApp = probe_config


@dataclass
class Execution:
    """The state of one execution, which its steps fill in; what a mode may ask of it."""

    request: Request
    emit: Broadcast
    runtime: Runtime = field(default_factory=Runtime)
    extras: Extras = field(default_factory=Extras)
    ledger: Ledger | None = None
    claims: Claiming = field(default_factory=Unclaimed)
    resume: Resume | None = None
    attempts: AttemptLog | None = None
    # the check before launch composed every batch: a warm child need not compose it twice
    checked: Checked | None = None  # what the check before launch found, when it ran
    # A search job's trials: the batches the pool runs, asked as slots free.
    trials: Trials | None = None
    plan: Plan = field(init=False)
    counts: Counts = field(init=False)
    tally: Tally = field(init=False)

    @property
    def job(self) -> Job:
        return self.request.job

    @property
    def options(self) -> RunOptions:
        return self.request.options

    @property
    def root(self) -> Path:
        return self.request.config.root

    @property
    def ledger_path(self) -> Path | None:
        return self.claims.ledger_path

    def sweep_dir(self, batch: Batch) -> str:
        """A new folder for the batch, or its earlier one on ``--resume``."""
        new = new_sweep_dir(self.job, new_id())
        return self.resume.sweep_dir(batch, new) if self.resume else new

    def notice(self, text: str, warning: bool = True) -> None:
        self.emit(Notice(text, warning))

    def launcher(self) -> Launcher:
        claimed = self.attempts.claimed if self.attempts else (lambda batch, row: None)
        extra = self.job.mode.identity_extras(self.extras)
        return Launcher(self.claims, self.sweep_dir, extra, self.emit, self.runtime.clock, claimed)

    # -- modes.Services ------------------------------------------------------------

    def show(self, text: str) -> None:
        self.emit(Preview(text))

    def preview_batches(self, line_of: LineOf) -> None:
        """A command per batch, a comment per batch skipped, and a comment before each
        run that is run again alone (its batch partly succeeded)."""
        if self.trials is not None or self.job.search is not None:
            from hydraflow.search.preview import preview_search

            preview_search(self, line_of)
            return
        for batch, skipped in self.plan.entries():
            if skipped:
                self.show(f"# skipped, succeeded before: {batch.label}")
                continue
            directory = self.sweep_dir(batch)
            if batch.rerun:
                number = ",".join(map(str, batch.rerun))
                self.show(
                    f"# rerun: {batch.label} (the other runs succeeded) -> {directory}/{number}"
                )
            self.show(line_of(batch, directory))

    def probe(self, app: AppSpec) -> None:
        try:
            self.runtime.probe(app, self.root)
        except UsageError as error:
            raise UsageError(f"job {self.job.key!r}: {error}") from None

    def run_pool(self, app: AppSpec | None) -> None:
        """Every planned batch through the pool, each started as ``app`` says (a fresh
        process, or a fork of the warm process); in the project's folder, guarded by a
        watchdog that outlives this runner."""
        job, options = self.job, self.options
        if app is not None and self.checked is not None:
            checked = self.checked
            app = replace(
                app, checked=True, mode_free=not checked.sets_mode, primary=checked.primary
            )
        workers, devices = workers_and_devices(
            options.jobs, job.parallel, options.devices or job.devices
        )
        workers = max(1, min(workers, self.counts.to_run))
        # Batches start in the project's folder, wherever the user called from.
        with contextlib.chdir(self.root), self.runtime.guard() as guard:
            env = {**guard.env, **record_env(job, os.environ), **_unbuffered(os.environ)}
            if self.trials is not None:  # where a trial's hydraflow.report() writes
                env.update(self.trials.environment())
            start = self.runtime.starter_for(
                app, {**os.environ, **env}, self.root, self.notice, job.warm, options.timeout
            )
            try:
                counts, trials = self.counts, self.trials
                self.emit(
                    ExecutionStarted(
                        job.key, counts.to_run, counts.runs, workers, counts.skipped, bool(trials)
                    )
                )
                self.claims.guard(guard.pid)
                settings = PoolSettings(
                    workers=workers,
                    failure_limit=options.search_failure_limit if trials else options.failure_limit,
                    in_a_row=trials is not None,
                    watch=trials.watch if trials is not None else None,
                    timeout=options.timeout,
                    retries=options.retries,
                    devices=devices,
                    env=env,
                    unrecorded=self._unrecorded if job.mode.records_runs(job) else None,
                )
                pool = Pool(settings, start, self.root, self.emit, self.runtime.clock)
                if trials is None:
                    launches = self.launcher().launches(self.plan.batches(), workers)
                else:  # one trial at a time, asked for when a slot frees
                    self.emit.add(trials)
                    launches = self.launcher().launches(trials.batches(), workers, most=1)
                try:
                    pool.run(launches, self.counts.to_run)
                finally:
                    if trials is not None:
                        trials.close()
                try:  # the ends still waiting to be written, while a failure can still be told
                    self.claims.flush()
                except Exception as error:
                    self.emit(Problem(str(error)))
            finally:
                start.close()

    def _unrecorded(self, launch: Launch, announced: int) -> tuple[int, ...]:
        return unrecorded_runs(self.root / launch.sweep_dir, launch.batch, announced)

    def hand_over(self, line_of: LineOf, *, claim: bool) -> list[tuple[Batch, str, int]]:
        """Every planned batch with its line of the file and its ledger row. Every line is
        made before anything is claimed; claimed batches are ``queued``, so one queued or
        running on the cluster is never handed over again."""
        planned = []
        for batch in self.plan.batches():
            folder = self.sweep_dir(batch)
            planned.append((batch, folder, line_of(batch, folder)))
        if not claim:
            return [(batch, line, 0) for batch, _, line in planned]
        pairs = [(batch, folder) for batch, folder, _ in planned]
        results = self.launcher().claim(pairs, BatchStatus.QUEUED)
        return [
            (batch, line, result.row)
            for (batch, _, line), result in zip(planned, results, strict=True)
            if isinstance(result, Claimed)
        ]

    def release_untaken(self, rows: Sequence[int]) -> None:
        self.claims.release_untaken(rows)

    def handler_ended(self, name: str, code: int) -> None:
        self.emit(HandlerFinished(name, code))


def _unbuffered(environ: Mapping[str, str]) -> dict[str, str]:
    """Python batches write each line when they print it, as they do on a terminal: into
    a pipe they would hold it back until they end, and the view and the log would show
    nothing of a long batch until then. A ``PYTHONUNBUFFERED`` of the user's own is kept."""
    return {} if "PYTHONUNBUFFERED" in environ else {"PYTHONUNBUFFERED": "1"}
