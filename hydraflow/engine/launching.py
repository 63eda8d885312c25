"""From planned batches to launches: a sweep dir for each, claimed as workers ask."""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING

from hydraflow.engine.pool import Pool, PoolSettings
from hydraflow.engine.running import Launch
from hydraflow.engine.starters import Spawner, Starter
from hydraflow.engine.watchdog import Watchdog
from hydraflow.errors import UsageError
from hydraflow.events import Notice, Preview, RunStarted
from hydraflow.ids import new_id
from hydraflow.ledger import Claimed
from hydraflow.plan import Batch, new_sweep_dir, record_env

# Claims are grouped only while batches take less than this each.
QUICK_SECONDS = 0.2
MAX_GROUP = 16

if TYPE_CHECKING:
    from hydraflow.engine.workflow import Run


def sweep_dir(run: Run, batch: Batch) -> str:
    """A new folder for the batch, or its earlier one on ``--resume``."""
    return run.records.sweep_dir(batch, new_sweep_dir(run.job, new_id()))


def preview_entries(run: Run, line_of: Callable[[Batch, str], str]) -> None:
    """The dry run's lines: a command per batch, a comment per batch skipped, and a
    comment before each run that is run again alone (its batch partly succeeded)."""
    for batch, skipped in run.plan.entries():
        if skipped:
            run.emit(Preview(f"# skipped, succeeded before: {batch.label}"))
            continue
        directory = sweep_dir(run, batch)
        if batch.rerun:
            number = ",".join(map(str, batch.rerun))
            run.emit(
                Preview(
                    f"# rerun: {batch.label} (the other runs succeeded) -> {directory}/{number}"
                )
            )
        run.emit(Preview(line_of(batch, directory)))


def launches(run: Run, workers: int = 1) -> Generator[Launch | None, None, None]:
    """Claim the planned batches as workers ask for them; None for one skipped at its claim.

    The first claim is one batch per worker, as all of them start at once. Then
    batches shorter than ``QUICK_SECONDS`` are claimed a few at a time (one
    transaction for several, each claim waiting a moment for its slot); once
    batches take longer, each is claimed alone when its slot frees. So another
    runner on the same project can still take the batches this one has not
    started, and a runner killed outright leaves claims of batches it never
    started (``lost``, hiding how they ended before) only among quick batches.
    """
    batches = run.plan.batches()
    group = workers
    while chunk := list(itertools.islice(batches, group)):
        started = time.monotonic()
        directories = [sweep_dir(run, batch) for batch in chunk]
        wanted = [(b, d, b.argv(d)) for b, d in zip(chunk, directories, strict=True)]
        results = run.records.claim(wanted)
        unstarted = [r for r in results if isinstance(r, Claimed)]
        try:
            for (batch, _, _), result in zip(wanted, results, strict=True):
                if isinstance(result, Claimed):
                    unstarted.remove(result)
                    # Whole: the summary is read from wherever the user is, not from here.
                    run.summary.outputs.append(os.path.abspath(result.sweep_dir))
                    yield Launch(batch, result.sweep_dir, batch.argv(result.sweep_dir))
                    continue
                if result == "done":
                    run.summary.skipped += 1
                    run.summary.batches -= 1
                else:
                    run.summary.elsewhere += 1
                yield None
        finally:
            run.records.release(unstarted)
        # The pool asks again when a slot frees, so this is how long batches take; a
        # batch skipped at its claim left its slot free, which says nothing of that.
        skipped = any(not isinstance(result, Claimed) for result in results)
        quick = not skipped and time.monotonic() - started < QUICK_SECONDS * len(chunk)
        group = min(group * 2, MAX_GROUP) if quick else 1


def workers_and_devices(run: Run) -> tuple[int, tuple[str, ...]]:
    """``-j`` (default: the job's ``parallel:``, else 1) and the devices they share.

    More workers than devices would put two workers on one device without
    anyone asking: that is an error; repeating an id shares a device on purpose.
    """
    workers = run.options.jobs or run.job.parallel or 1
    devices = run.options.devices or run.job.devices
    if devices and workers > len(devices):
        shared = ",".join(devices[i % len(devices)] for i in range(workers))
        raise UsageError(
            f"{workers} workers but {len(devices)} device(s) ({','.join(devices)}): give one id "
            f"per worker, repeating an id to share it (e.g. --devices {shared})"
        )
    return workers, tuple(devices[:workers])


def run_pool(run: Run, starter: Callable[[Mapping[str, str]], Starter]) -> None:
    """Run the planned batches in the pool, each started by what ``starter`` makes (given
    the environment the batches need); in the project's folder, watched by a watchdog."""
    workers, devices = workers_and_devices(run)
    workers = max(1, min(workers, run.counts.to_run))
    # Batches start in the project's folder, wherever the user called from.
    with contextlib.chdir(run.request.config.root), Watchdog() as watchdog:
        env = {**watchdog.env, **record_env(run.job, os.environ), **_unbuffered(os.environ)}
        start = starter({**os.environ, **env})
        try:
            run.emit(
                RunStarted(
                    run.job.key, run.counts.to_run, run.counts.runs, workers, run.counts.skipped
                )
            )
            run.records.guard(watchdog.pid)
            settings = PoolSettings(
                workers=workers,
                failure_limit=run.options.failure_limit,
                timeout=run.options.timeout,
                retries=run.options.retries,
                devices=devices,
                env=env,
            )
            pool = Pool(settings, start, run.request.config.root, run.emit)
            pool.run(launches(run, workers), run.summary)
            try:  # the ends still waiting to be written, while a failure can still be told
                run.records.flush()
            except Exception as error:
                run.summary.broken = run.summary.broken or str(error)
        finally:
            start.close()


def _unbuffered(environ: Mapping[str, str]) -> dict[str, str]:
    """Python batches write each line when they print it, as they do on a terminal: into
    a pipe they would hold it back until they end, and the view and the log would show
    nothing of a long batch until then. A ``PYTHONUNBUFFERED`` of the user's own is kept."""
    return {} if "PYTHONUNBUFFERED" in environ else {"PYTHONUNBUFFERED": "1"}


def execute_in_pool(run: Run) -> None:
    """Run and call jobs alike: the pool, with the job's warm process when it has one."""
    if run.job.mode == "run" and not run.job.warm:  # the common case: nothing to import
        run_pool(run, lambda env: Spawner())
        return
    from hydraflow.engine.warm import spec_of, starter_for

    root = run.request.config.root
    spec = spec_of(run.job, run.request.config, os.environ)
    warm = run.job.warm

    def starter(env: Mapping[str, str]) -> Starter:
        return starter_for(spec, env, root, lambda text: run.emit(Notice(text)), warm)

    run_pool(run, starter)
