"""``submit:``, the submit mode: every batch in one file, handed to a handler program once.

The handler gets ``<handler command> <extra words> <file>``: the extra words that
are not overrides are its own options. The built-in handler, ``hydraflow-slurm``,
also records its batches in the ledger (queued, then how they ended).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hydraflow.errors import UsageError
from hydraflow.ids import new_id
from hydraflow.modes.app import AppSpec, python_app
from hydraflow.modes.base import Mode, Services
from hydraflow.process import GRACE_SECONDS, stop_groups
from hydraflow.statuses import ExitStatus

if TYPE_CHECKING:
    from hydraflow.config import Job
    from hydraflow.plan import Extras

BUILT_IN = "hydraflow-slurm"
# The built-in handler's options that take a value (``hydraflow-slurm --time 60 python
# train.py``): what follows its options is the command every batch runs.
HANDLER_VALUE_OPTIONS = (
    *("--partition", "--time", "--gpus", "--cpus", "--mem", "--max-running", "--per-task"),
    *("--job-name", "--output", "--sbatch"),
)


def built_in(job: Job) -> bool:
    return job.command[0] == BUILT_IN


def submit_file(job: Job) -> str:
    """Where a submit job's batch file goes, relative to the project folder."""
    return f".hydraflow/submit/{job.key}-{new_id()}.txt"


def handler_argv(job: Job, front: Sequence[str], file: str) -> list[str]:
    """``<handler command> <extra words> <file>``; for the built-in handler, the extra words
    are its own options and go right after its name, where it reads them."""
    program, *rest = job.command
    if program == BUILT_IN:
        return [*built_in_command(), *front, *rest, file]
    return [program, *rest, *front, file]


def built_in_command() -> list[str]:
    """``hydraflow-slurm`` as this interpreter runs it: no PATH (or activated venv) needed."""
    return [sys.executable, "-m", "hydraflow.slurm"]


def batch_line(words: Sequence[str]) -> str:
    """A batch as one line of the file; a value with a line break cannot be carried."""
    if any("\n" in word or "\r" in word for word in words):
        raise UsageError(
            "a submit batch holds a value with a line break, which its batch file cannot carry"
        )
    return shlex.join(words)


def handler_command(words: Sequence[str]) -> list[str]:
    """The command the built-in handler's batches run: its words after its options."""
    rest = list(words)
    while rest and rest[0].startswith("--"):
        option = rest.pop(0)
        if option in HANDLER_VALUE_OPTIONS and rest:
            rest.pop(0)
    return rest


class SubmitMode(Mode):
    key = "submit"
    can_be_warm = False
    uses_pool = False

    def app(self, job: Job, root: Path, environ: Mapping[str, str] = os.environ) -> AppSpec | None:
        """The app behind the built-in handler's batches; another handler's is its own."""
        if not built_in(job):
            return None
        found = python_app(handler_command(job.command[1:]), root, environ)
        return found if isinstance(found, AppSpec) else None

    def app_words(self, job: Job, command: Sequence[str], app: AppSpec) -> tuple[str, ...]:
        return tuple(handler_command(job.command[1:])[app.prefix :])

    def batch_command(self, job: Job, front: Sequence[str]) -> tuple[str, ...]:
        return job.command  # the other extra words are the handler's options

    def records_runs(self, job: Job) -> bool:
        # Only the built-in handler puts the callback where the runs can import it.
        return job.record and built_in(job)

    def in_ledger(self, job: Job) -> bool:
        return built_in(job)

    def identity_extras(self, extras: Extras) -> tuple[str, ...]:
        return extras.overrides

    def check(self, services: Services) -> None:
        program = services.job.command[0]
        if program == BUILT_IN:
            return
        found = shutil.which(program, path=None) if os.sep not in program else None
        if found is None and not (services.root / program).is_file():
            raise UsageError(
                f"job {services.job.key!r}: submit handler {program!r} not found "
                "(not a file here, nor a command on PATH)"
            )

    def preview(self, services: Services) -> None:
        file = submit_file(services.job)
        services.show(shlex.join(handler_argv(services.job, services.extras.front, file)))
        services.preview_batches(lambda batch, folder: batch_line(batch.args(folder)))

    def execute(self, services: Services) -> None:
        """Every batch in one file for the handler; the built-in handler also gets the
        ledger's rows of its batches (``BATCH_FILE.rows.json``) and records their fate."""
        job = services.job
        relative = submit_file(job)
        path = services.root / relative
        handed = services.hand_over(
            lambda batch, folder: batch_line(batch.args(folder)), claim=built_in(job)
        )
        if not handed:  # nothing to hand over: the summary says what was skipped, and why
            return
        write_atomically(path, (line for _, line, _ in handed))
        rows = Path(f"{path}.rows.json")
        if services.ledger_path is not None and built_in(job):
            handover = {"ledger": str(services.ledger_path), "rows": [r for _, _, r in handed]}
            write_atomically(rows, [json.dumps(handover)])
        argv = handler_argv(job, services.extras.front, relative)
        try:
            code = run_handler(argv, services.root)
        finally:
            if built_in(job):  # a handler that failed before submitting took nothing
                services.release_untaken([row for _, _, row in handed])
            if not services.options.keep_file:
                path.unlink(missing_ok=True)
                rows.unlink(missing_ok=True)
        services.handler_ended(BUILT_IN if built_in(job) else argv[0], code)


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
        return ExitStatus.INTERRUPTED


def _waiter(process: subprocess.Popen[bytes]) -> Callable[[float], bool]:
    def gone(timeout: float) -> bool:
        try:
            process.wait(timeout)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            return False
        return True

    return gone
