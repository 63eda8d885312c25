"""``submit`` jobs: every batch in one file, handed to a handler program once."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hydraflow.engine.launching import preview_entries, sweep_dir
from hydraflow.errors import UsageError
from hydraflow.events import EXIT_INTERRUPTED, Preview
from hydraflow.ids import new_id
from hydraflow.ledger import Claimed
from hydraflow.plan import Batch, Extras
from hydraflow.process import GRACE_SECONDS, stop_groups

if TYPE_CHECKING:
    from hydraflow.config import Job
    from hydraflow.engine.workflow import Request, Run

BUILT_IN = "hydraflow-slurm"


def submit_file(job: Job) -> str:
    """Where a submit job's batch file goes, relative to the project folder."""
    return f".hydraflow/submit/{job.key}-{new_id()}.txt"


def handler_argv(job: Job, extras: Extras, file: str) -> list[str]:
    """``<handler command> <extra words> <file>``; for the built-in handler, the extra words
    are its own options and go right after its name, where it reads them."""
    program, *rest = job.command
    if program == BUILT_IN:
        return [*built_in(), *extras.front, *rest, file]
    return [program, *rest, *extras.front, file]


def built_in() -> list[str]:
    """``hydraflow-slurm`` as this interpreter runs it: no PATH (or activated venv) needed."""
    return [sys.executable, "-m", "hydraflow.slurm"]


def batch_line(words: Sequence[str]) -> str:
    """A batch as one line of the file; a value with a line break cannot be carried."""
    if any("\n" in word or "\r" in word for word in words):
        raise UsageError(
            "a submit batch holds a value with a line break, which its batch file cannot carry"
        )
    return shlex.join(words)


class SubmitMode:
    def check(self, request: Request, extras: Extras) -> None:
        program = request.job.command[0]
        if program == BUILT_IN:
            return
        found = shutil.which(program, path=None) if os.sep not in program else None
        if found is None and not (request.config.root / program).is_file():
            raise UsageError(
                f"job {request.job.key!r}: submit handler {program!r} not found "
                "(not a file here, nor a command on PATH)"
            )

    def preview(self, run: Run) -> None:
        file = submit_file(run.job)
        run.emit(Preview(shlex.join(handler_argv(run.job, run.extras, file))))
        preview_entries(run, lambda batch, directory: batch_line(batch.args(directory)))

    def execute(self, run: Run) -> None:
        """Every batch in one file for the handler; the built-in handler also gets the
        ledger's rows of its batches (``BATCH_FILE.rows.json``) and records their fate."""
        relative = submit_file(run.job)
        path = run.request.config.root / relative
        handed = _claimed(run)
        summary = run.summary
        if not handed:  # nothing to hand over: the summary says what was skipped, and why
            summary.batches = 0
            return
        write_atomically(path, (line for _, line, _ in handed))
        rows = Path(f"{path}.rows.json")
        ledger = run.records.ledger_path
        if ledger is not None and _built_in(run.job):
            handover = {"ledger": str(ledger), "rows": [row for _, _, row in handed]}
            write_atomically(rows, [json.dumps(handover)])
        argv = handler_argv(run.job, run.extras, relative)
        try:
            code = run_handler(argv, run.request.config.root)
        finally:
            if _built_in(run.job):  # a handler that failed before submitting took nothing
                run.records.release_untaken([row for _, _, row in handed])
            if not run.options.keep_file:
                path.unlink(missing_ok=True)
                rows.unlink(missing_ok=True)
        summary.handler = (argv[0] if argv[0] != sys.executable else BUILT_IN, code)
        if code == EXIT_INTERRUPTED:
            summary.interrupted = True
        elif code != 0:
            summary.broken = f"the submit handler exited with status {code}"


def _built_in(job: Job) -> bool:
    return job.command[0] == BUILT_IN


def _claimed(run: Run) -> list[tuple[Batch, str, int]]:
    """The batches to hand over, each with its line of the file and its ledger row. Every
    line is checked before anything is claimed. The built-in handler's batches are
    claimed first, as ``queued``: one queued or running on the cluster is never handed
    over again."""
    planned = []
    for batch in run.plan.batches():
        folder = sweep_dir(run, batch)
        planned.append((batch, folder, batch_line(batch.args(folder))))
    if not _built_in(run.job):
        return [(batch, line, 0) for batch, _, line in planned]
    claims = run.records.claim([(b, d, b.argv(d)) for b, d, _ in planned], "queued")
    handed = [
        (batch, line, claim.row)
        for (batch, _, line), claim in zip(planned, claims, strict=True)
        if isinstance(claim, Claimed)
    ]
    run.summary.elsewhere += len(planned) - len(handed)
    return handed


def write_atomically(path: Path, lines: Iterable[str]) -> None:
    """Write through a temporary file and rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=path.name, suffix=".part", delete=False, encoding="utf-8"
    ) as handle:
        try:
            for line in lines:
                handle.write(line + "\n")
        except BaseException:
            os.unlink(handle.name)
            raise
    os.replace(handle.name, path)


def run_handler(argv: Sequence[str], cwd: Path) -> int:
    """Run the submit handler once, in its own process group; Ctrl-C stops all of it."""
    try:
        process = subprocess.Popen(list(argv), cwd=cwd, start_new_session=True)
    except OSError as error:
        raise UsageError(f"cannot start the submit handler {argv[0]!r}: {error.strerror}") from None
    try:
        return process.wait()
    except KeyboardInterrupt:
        stop_groups([process.pid], GRACE_SECONDS, gone=_waiter(process))
        process.wait()
        return EXIT_INTERRUPTED


def _waiter(process: subprocess.Popen[bytes]) -> Callable[[float], bool]:
    def gone(timeout: float) -> bool:
        try:
            process.wait(timeout)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            return False
        return True

    return gone
