"""The one entry point both front ends call: ``run_job(config, job, options, extra)``."""

from __future__ import annotations

import shlex
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from hydraflow.config import Config, Job
from hydraflow.errors import UsageError
from hydraflow.options import RunOptions
from hydraflow.plan import Batch, argv, batches, dry_run_lines, submit_file
from hydraflow.run.events import Event, Observer, RunFinished, RunStarted, Summary
from hydraflow.run.signals import signals_as_interrupts
from hydraflow.selection import Selection


def run_job(
    config: Config,
    job: Job,
    options: RunOptions,
    extra: Sequence[str] = (),
    out: IO[str] | None = None,
) -> int:
    """Run (or preview) every batch of ``job``; returns the exit status."""
    job.check()
    out = out or sys.stdout
    if job.mode == "submit" and options.resume:
        raise UsageError("a submit job's batches are not recorded in the ledger: no --resume")
    if options.resume and not options.ledger:
        raise UsageError("--resume reads the ledger; it cannot go with --no-ledger")
    if options.dry_run:
        return _dry_run(config, job, options, extra, out)
    with signals_as_interrupts():
        if job.mode == "submit":
            return _submit(config, job, options, extra)
        return _run_batches(config, job, options, extra, out)


@dataclass
class _Plan:
    """The batches a run will start: selected by --only, less those done before (--resume)."""

    job: Job
    extra: Sequence[str]
    selection: Selection
    keyed: bool = False
    done: set[str] = field(default_factory=set)
    sweep_dirs: dict[str, str] = field(default_factory=dict)
    skipped: list[Batch] = field(default_factory=list)

    def batches(self) -> Iterator[Batch]:
        made = batches(self.job, self.extra, keyed=self.keyed, sweep_dirs=self.sweep_dirs)
        for batch in self.selection.filter(made):
            if batch.key and batch.key in self.done:
                self.skipped.append(batch)
            else:
                yield batch

    def count(self) -> tuple[int, int]:
        """(batches to run, batches skipped as done), counting without running anything."""
        if not self.selection.rules and not self.done:
            return self.job.batches, 0
        to_run = sum(1 for _ in self.batches())
        skipped = len(self.skipped)
        self.skipped.clear()
        return to_run, skipped


def _plan(config: Config, job: Job, options: RunOptions, extra: Sequence[str]) -> _Plan:
    from hydraflow.ledger import Ledger

    plan = _Plan(job, extra, Selection.parse(options.only), keyed=options.ledger)
    if options.resume:
        ledger = Ledger.existing(config.root)
        if ledger is not None:
            plan.done = ledger.succeeded(job.key)
            plan.sweep_dirs = {k: a.sweep_dir for k, a in ledger.latest(job.key).items()}
            ledger.close()
    return plan


def _dry_run(
    config: Config, job: Job, options: RunOptions, extra: Sequence[str], out: IO[str]
) -> int:
    plan = _plan(config, job, options, extra)
    file = submit_file(job) if job.mode == "submit" else ""
    for line in dry_run_lines(job, plan.batches(), extra, file):
        out.write(line + "\n")
    for batch in plan.skipped:
        out.write(f"# skipped, succeeded before: {batch.label}\n")
    out.flush()
    return 0


def _run_batches(
    config: Config, job: Job, options: RunOptions, extra: Sequence[str], out: IO[str]
) -> int:
    from hydraflow.display import make_display

    plan = _plan(config, job, options, extra)
    total, done = plan.count()
    observers: list[Observer] = [make_display(options.quiet, out)]
    claim: Callable[[Batch], bool] | None = None
    ledger = None
    if options.ledger:
        from hydraflow.ledger import LEDGER, Ledger, Recorder

        ledger = Ledger(config.root / LEDGER)
        recorder = Recorder(ledger, job.key, lambda b: argv(job, b, extra), resume=options.resume)
        observers.append(recorder)
        claim = recorder.claim
    emit = _broadcast(observers)
    summary = Summary(job.key, total)
    try:
        if job.mode == "call":
            from hydraflow.run.modes import call_batches, import_callable

            function = import_callable(job, config.root)
            if options.jobs and options.jobs > 1:
                out.write("hydraflow: call jobs run one batch at a time in this process\n")
            emit(RunStarted(job.key, total, 1, done))
            call_batches(
                job,
                function,
                plan.batches(),
                extra,
                config.root,
                emit,
                summary,
                options.failure_limit,
                claim,
            )
        else:
            from hydraflow.run.pool import Pool, PoolSettings

            workers = options.jobs or (len(options.devices or job.devices) or job.parallel or 1)
            settings = PoolSettings(
                workers=workers,
                failure_limit=options.failure_limit,
                timeout=options.timeout,
                retries=options.retries,
                devices=options.devices or job.devices,
            )
            emit(RunStarted(job.key, total, workers, done))
            Pool(
                plan.batches(),
                lambda b: argv(job, b, extra),
                config.root,
                settings,
                emit,
                summary,
                claim,
            ).run()
        emit(RunFinished(summary))
    finally:
        if ledger is not None:
            ledger.close()
    return summary.exit_code


def _broadcast(observers: Sequence[Observer]) -> Callable[[Event], None]:
    lock = threading.Lock()

    def emit(event: Event) -> None:
        with lock:
            for observer in observers:
                observer.handle(event)

    return emit


def _submit(config: Config, job: Job, options: RunOptions, extra: Sequence[str]) -> int:
    from hydraflow.run.modes import run_handler, write_atomically

    selection = Selection.parse(options.only)
    relative = submit_file(job)
    path = config.root / relative
    write_atomically(path, (shlex.join(b.args) for b in selection.filter(batches(job))))
    try:
        code = run_handler([*job.command, *extra, relative], config.root)
    finally:
        if not options.keep_file:
            path.unlink(missing_ok=True)
    if code == 130:
        return 130
    return 0 if code == 0 else 1
