"""From planned batches to launches: a sweep dir for each, claimed as workers ask."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from hydraflow.engine.pool import Launch, Pool, PoolSettings
from hydraflow.engine.starters import Starter
from hydraflow.engine.watchdog import Watchdog
from hydraflow.errors import UsageError
from hydraflow.events import Preview, RunStarted
from hydraflow.ids import new_id
from hydraflow.plan import Batch, new_sweep_dir

if TYPE_CHECKING:
    from hydraflow.engine.workflow import Run


def sweep_dir(run: Run, batch: Batch) -> str:
    """A new folder for the batch, or its earlier one on ``--resume``."""
    return run.records.sweep_dir(batch, new_sweep_dir(run.job, new_id()))


def preview_entries(run: Run, line_of: Callable[[Batch, str], str]) -> None:
    for batch, skipped in run.plan.entries():
        if skipped:
            run.emit(Preview(f"# skipped, succeeded before: {batch.label}"))
        else:
            run.emit(Preview(line_of(batch, sweep_dir(run, batch))))


def launches(run: Run) -> Iterator[Launch | None]:
    """Claim each planned batch as a worker asks for it; None for one claimed elsewhere."""
    for batch in run.plan.batches():
        directory = sweep_dir(run, batch)
        argv = batch.argv(directory)
        claimed = run.records.claim(batch, directory, argv)
        if claimed == "done":
            run.summary.skipped += 1
            run.summary.batches -= 1
        elif claimed == "elsewhere":
            run.summary.elsewhere += 1
        else:
            assert not isinstance(claimed, str)
            run.summary.outputs.append(claimed.sweep_dir)
            yield Launch(batch, claimed.sweep_dir, batch.argv(claimed.sweep_dir))
            continue
        yield None


def workers_and_devices(run: Run) -> tuple[int, tuple[str, ...]]:
    """``-j`` (default: the job's ``parallel:``, else 1) and the devices they share.

    More workers than devices would put two workers on one device without
    anyone asking: that is an error; repeating an id shares a device on purpose.
    """
    workers = run.options.jobs or run.job.parallel or 1
    devices = run.options.devices or run.job.devices
    if devices and workers > len(devices):
        raise UsageError(
            f"{workers} workers but {len(devices)} device(s) ({','.join(devices)}): give one id "
            f"per worker, repeating an id to share it (e.g. --devices {','.join(devices * 2)})"
        )
    return workers, tuple(devices[:workers])


def run_pool(run: Run, starter: Starter) -> None:
    workers, devices = workers_and_devices(run)
    workers = max(1, min(workers, run.counts.to_run))
    settings = PoolSettings(
        workers=workers,
        failure_limit=run.options.failure_limit,
        timeout=run.options.timeout,
        retries=run.options.retries,
        devices=devices,
    )
    run.emit(
        RunStarted(run.job.key, run.counts.to_run, run.counts.runs, workers, run.counts.skipped)
    )
    with Watchdog() as watchdog:
        run.records.guard(watchdog.pid)
        pool = Pool(settings, starter, run.request.config.root, run.emit, watchdog)
        pool.run(launches(run), run.summary)
