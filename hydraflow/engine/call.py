"""``call`` jobs: a Python function called once per batch, with the batch's arguments."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydraflow.config import Job
from hydraflow.engine.launching import launches, preview_entries
from hydraflow.errors import ConfigError
from hydraflow.events import BatchFinished, BatchOutput, BatchStarted, RunStarted, Status
from hydraflow.plan import CALLBACK_DIR, Batch, Extras, record_words

if TYPE_CHECKING:
    from hydraflow.engine.workflow import Request, Run


def import_callable(job: Job, root: Path) -> Callable[[list[str]], Any]:
    """Import ``pkg.module.func``; the module may sit next to hydraflow.yaml."""
    target = job.command[0]
    module_name, _, name = target.rpartition(".")
    if not module_name:
        raise ConfigError(f"job {job.key!r}: call needs module.function, got {target!r}")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise ConfigError(f"job {job.key!r}: cannot import {module_name!r}: {error}") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise ConfigError(f"job {job.key!r}: {module_name!r} has no function {name!r}")
    return function  # type: ignore[no-any-return]


def call_line(batch: Batch, sweep_dir: str) -> str:
    function, *args = batch.argv(sweep_dir)
    return f"{function}([{', '.join(repr(a) for a in args)}])"


class CallMode:
    def check(self, request: Request, extras: Extras) -> None:
        import_callable(request.job, request.config.root)

    def preview(self, run: Run) -> None:
        preview_entries(run, call_line)

    def execute(self, run: Run) -> None:
        function = import_callable(run.job, run.request.config.root)
        if record_words(run.job):  # the runs' record callback, importable in this process
            sys.path.insert(0, str(CALLBACK_DIR))
        summary = run.summary
        run.emit(RunStarted(run.job.key, run.counts.to_run, run.counts.runs, 1, run.counts.skipped))
        summary.started = time.time()
        limit = run.options.failure_limit
        with contextlib.chdir(run.request.config.root):
            for launch in launches(run):
                if launch is None:
                    continue
                args = list(launch.argv[1:])
                started = time.time()
                batch = launch.batch
                run.emit(
                    BatchStarted(batch, launch.sweep_dir, launch.argv, 0, 1, os.getpid(), started)
                )
                status, code, tail = _call(function, args)
                for line in tail:
                    run.emit(BatchOutput(batch, line.encode(), "stderr"))
                finished = BatchFinished(
                    batch, launch.sweep_dir, status, code, started, time.time(), 1, None, tail
                )
                if status == "ok":
                    summary.ok += 1
                    summary.runs_ok += batch.runs
                else:
                    summary.failures.append(finished)
                run.emit(finished)
                if status == "interrupted":
                    summary.interrupted = True
                    break
                if limit is not None and len(summary.failures) >= limit:
                    break
        summary.ended = time.time()


def _call(
    function: Callable[[list[str]], Any], args: Sequence[str]
) -> tuple[Status, int, tuple[str, ...]]:
    try:
        function(list(args))
    except KeyboardInterrupt:
        return "interrupted", 130, ()
    except SystemExit as exit_:
        # Hydra's main exits with 1 after reporting an error itself.
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        return ("ok" if code == 0 else "failed"), code, ()
    except Exception:
        return "failed", 1, tuple(traceback.format_exc().rstrip().splitlines())
    return "ok", 0, ()
