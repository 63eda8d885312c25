"""The two modes that do not go through the pool: ``call`` (in-process) and ``submit``."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from hydraflow.config import Job
from hydraflow.errors import ConfigError
from hydraflow.plan import Batch
from hydraflow.run.events import BatchFinished, BatchStarted, Event, Status, Summary
from hydraflow.run.pool import GRACE_SECONDS
from hydraflow.run.signals import signal_group


def import_callable(job: Job, root: Path) -> Callable[[list[str]], Any]:
    """Import ``pkg.module.func`` once; the module may sit next to hydraflow.yaml."""
    target = job.command[0]
    module_name, _, name = target.rpartition(".")
    if not module_name:
        raise ConfigError(f"job {job.key!r}: call needs module.function, got {target!r}")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"job {job.key!r}: cannot import {module_name!r}: {error}") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise ConfigError(f"job {job.key!r}: {module_name!r} has no function {name!r}")
    return function  # type: ignore[no-any-return]


def call_batches(
    job: Job,
    function: Callable[[list[str]], Any],
    batches: Iterator[Batch],
    extra: Sequence[str],
    root: Path,
    emit: Callable[[Event], None],
    summary: Summary,
    failure_limit: int | None,
    claim: Callable[[Batch], bool] | None = None,
) -> Summary:
    """Call the job's function once per batch, in this process, one after another."""
    words = list(job.command[1:])
    summary.started = time.time()
    with contextlib.chdir(root):
        for batch in batches:
            if claim is not None and not claim(batch):
                summary.skipped += 1
                continue
            args = [*words, *extra, *batch.args]
            started = time.time()
            emit(BatchStarted(batch, (job.command[0], *args), 0, 1, os.getpid(), None, started))
            status, code, tail = _call(function, args)
            finished = BatchFinished(batch, status, code, started, time.time(), 1, None, tail)
            if status == "ok":
                summary.ok += 1
            else:
                summary.failures.append(finished)
            emit(finished)
            if status == "interrupted":
                summary.interrupted = True
                break
            failed = len(summary.failures)
            if failure_limit is not None and failed >= failure_limit:
                break
    summary.ended = time.time()
    return summary


def _call(
    function: Callable[[list[str]], Any], args: list[str]
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
        text = traceback.format_exc()
        sys.stderr.write(text)
        return "failed", 1, tuple(text.rstrip().splitlines()[-3:])
    return "ok", 0, ()


def write_atomically(path: Path, lines: Iterator[str]) -> None:
    """Write through a temporary file and rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=path.name, suffix=".part", delete=False, encoding="utf-8"
    ) as handle:
        for line in lines:
            handle.write(line + "\n")
    os.replace(handle.name, path)


def run_handler(argv: Sequence[str], cwd: Path) -> int:
    """Run the submit handler once, in its own process group; Ctrl-C stops all of it."""
    process = subprocess.Popen(list(argv), cwd=cwd, start_new_session=True)
    try:
        return process.wait()
    except KeyboardInterrupt:
        signal_group(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired, KeyboardInterrupt):
            process.wait(GRACE_SECONDS)
        signal_group(process.pid, signal.SIGKILL)
        process.wait()
        return 130
