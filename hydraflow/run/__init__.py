"""The one entry point both front ends call: ``run_job(config, job, options, extra)``."""

from __future__ import annotations

import shlex
import sys
import threading
from collections.abc import Callable, Sequence
from typing import IO

from hydraflow.config import Config, Job
from hydraflow.options import RunOptions
from hydraflow.plan import argv, batches, dry_run_lines, submit_file
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
    selection = Selection.parse(options.only)
    if options.dry_run:
        file = submit_file(job) if job.mode == "submit" else ""
        for line in dry_run_lines(job, selection.filter(batches(job)), extra, file):
            out.write(line + "\n")
        out.flush()
        return 0
    with signals_as_interrupts():
        if job.mode == "submit":
            return _submit(config, job, extra, selection, options.keep_file)
        return _run_batches(config, job, options, extra, selection, out)


def _run_batches(
    config: Config,
    job: Job,
    options: RunOptions,
    extra: Sequence[str],
    selection: Selection,
    out: IO[str],
) -> int:
    from hydraflow.display import make_display

    observers: list[Observer] = [make_display(options.quiet, out)]
    emit = _broadcast(observers)
    chosen = selection.filter(batches(job))
    total = job.batches if not selection.rules else sum(1 for _ in selection.filter(batches(job)))
    summary = Summary(job.key, total)
    if job.mode == "call":
        from hydraflow.run.modes import call_batches, import_callable

        function = import_callable(job, config.root)
        if options.jobs and options.jobs > 1:
            out.write("hydraflow: call jobs run one batch at a time in this process; -j ignored\n")
        emit(RunStarted(job.key, total, 1))
        call_batches(
            job, function, chosen, extra, config.root, emit, summary, options.failure_limit
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
        emit(RunStarted(job.key, total, workers))
        Pool(chosen, lambda b: argv(job, b, extra), config.root, settings, emit, summary).run()
    emit(RunFinished(summary))
    return summary.exit_code


def _broadcast(observers: Sequence[Observer]) -> Callable[[Event], None]:
    lock = threading.Lock()

    def emit(event: Event) -> None:
        with lock:
            for observer in observers:
                observer.handle(event)

    return emit


def _submit(
    config: Config, job: Job, extra: Sequence[str], selection: Selection, keep_file: bool
) -> int:
    from hydraflow.run.modes import run_handler, write_atomically

    relative = submit_file(job)
    path = config.root / relative
    write_atomically(path, (shlex.join(b.args) for b in selection.filter(batches(job))))
    try:
        code = run_handler([*job.command, *extra, relative], config.root)
    finally:
        if not keep_file:
            path.unlink(missing_ok=True)
    if code == 130:
        return 130
    return 0 if code == 0 else 1
