"""The three ways a job runs its batches, behind one small interface.

``run``: a process per batch, through the pool. ``call``: a Python function
per batch. ``submit``: one handler process that receives every batch in a file.
"""

from __future__ import annotations

import difflib
import itertools
import shlex
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from hydraflow.config import Job
from hydraflow.errors import UsageError
from hydraflow.events import Preview
from hydraflow.ids import new_id
from hydraflow.plan import Batch, Extras, new_sweep_dir, override_keys
from hydraflow.selection import Selection

if TYPE_CHECKING:
    from hydraflow.engine.pool import Launch
    from hydraflow.engine.starters import Starter
    from hydraflow.engine.workflow import Request, Run


class Mode(Protocol):
    def check(self, request: Request, extras: Extras) -> None: ...

    def preview(self, run: Run) -> None: ...

    def execute(self, run: Run) -> None: ...


def mode_of(job: Job) -> Mode:
    from hydraflow.engine import call, submit

    modes: dict[str, Mode] = {
        "run": RunMode(),
        "call": call.CallMode(),
        "submit": submit.SubmitMode(),
    }
    return modes[job.mode]


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
    from hydraflow.engine.pool import Launch

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


class RunMode:
    """A process per batch, several at once."""

    def check(self, request: Request, extras: Extras) -> None:
        pass

    def preview(self, run: Run) -> None:
        preview_entries(run, lambda batch, directory: shlex.join(batch.argv(directory)))

    def execute(self, run: Run) -> None:
        from hydraflow.engine.starters import Spawner

        run_pool(run, Spawner())


def run_pool(run: Run, starter: Starter) -> None:
    from hydraflow.engine.pool import Pool, PoolSettings
    from hydraflow.engine.watchdog import Watchdog
    from hydraflow.events import RunStarted

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


def no_match(job: Job, extras: Extras, selection: Selection) -> str:
    """Why ``--only`` chose nothing: a key no batch has, or values none has."""
    keys = override_keys(job, extras)
    for key in selection.keys:
        if key not in keys:
            close = difflib.get_close_matches(key, keys, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(keys)
            return f"--only: no batch of {job.key!r} has the key {key!r}{hint}; keys: {known}"
    from hydraflow.plan import batches

    seen: dict[str, dict[str, None]] = {key: {} for key in selection.keys}
    for batch in itertools.islice(batches(job, extras), 10_000):
        for word in batch.overrides:
            key, _, value = word.partition("=")
            if key in seen and len(seen[key]) < 12:
                seen[key].setdefault(value)
    values = "; ".join(f"{key} is one of {', '.join(v)}" for key, v in seen.items())
    return f"--only matches no batch of {job.key!r}: {values}"
