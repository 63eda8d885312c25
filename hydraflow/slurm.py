"""``hydraflow-slurm``: a ready-made ``submit`` handler that runs the batches as one Slurm
job array.

    jobs:
      train-slurm:
        submit: hydraflow-slurm --partition gpu --time 60 --gpus 1 python train.py

hydraflow calls it as ``hydraflow-slurm [options] COMMAND... BATCH_FILE``. It
writes ``multirun/slurm-<name>.sh`` (array task *i* runs batch *i*, or batches
*iK* … *iK+K-1* with ``--per-task K``), submits it with ``sbatch``, waits and
reports each batch. Each batch writes its output to ``<sweep dir>/hydraflow.log``
and its exit code to ``<sweep dir>/hydraflow.exit``, so no Slurm accounting is
needed. When hydraflow hands over its ledger (a ``BATCH_FILE.rows.json`` beside
the file), every batch is recorded: ``queued`` with its Slurm job and task when
submitted, then ``ok``/``failed`` from its exit file, so ``hydraflow status``
follows the cluster and ``--resume`` resubmits only what did not succeed.
With ``--local``, or where there is no ``sbatch``, the array tasks run here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydraflow.cluster import exit_name, ledger_of, log_name, read_exit, refresh
from hydraflow.engine.signals import install_sigterm_as_interrupt
from hydraflow.ledger import Ledger, LedgerError, Update
from hydraflow.modes.submit import BUILT_IN
from hydraflow.plan import CALLBACK_DIR
from hydraflow.statuses import BatchStatus, ExitStatus
from hydraflow.stdio import open_closed_streams

POLL_SECONDS = 1.0


class HandlerError(Exception):
    """Something the user must fix: said in one line, exit status 2."""


@dataclass(frozen=True)
class ArrayBatch:
    index: int
    line: str
    sweep_dir: str
    part: tuple[int, ...] = ()  # a rerun of one run of a sweep: its number
    row: int | None = None  # the batch's ledger row, when hydraflow handed one over

    @property
    def label(self) -> str:
        words = shlex.split(self.line)
        overrides = [
            w for w in words if "=" in w and not w.startswith(("hydra.", "--", "++hydra."))
        ]
        label = " ".join(overrides) or f"batch {self.index}"
        return f"{label} · run {self.part[0]}" if self.part else label

    @property
    def exit_file(self) -> Path:
        return Path(self.sweep_dir, exit_name(self.part))

    @property
    def log_file(self) -> Path:
        return Path(self.sweep_dir, log_name(self.part))


def read_batches(path: Path) -> tuple[list[ArrayBatch], Ledger | None]:
    """The batches of a batch file, with their ledger rows when hydraflow handed them over."""
    rows: list[int | None] = []
    ledger = None
    sidecar = Path(f"{path}.rows.json")
    if sidecar.exists():
        handed = json.loads(sidecar.read_text())
        rows, ledger = list(handed["rows"]), ledger_of(handed["ledger"])
    batches: list[ArrayBatch] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            words = shlex.split(line)
        except ValueError as error:
            raise HandlerError(f"{path}:{number}: {error}") from None
        values = dict(w.split("=", 1) for w in words if w.startswith("hydra.sweep."))
        index = len(batches)
        sweep = values.get("hydra.sweep.dir", f"multirun/slurm-{index}")
        subdir = values.get("hydra.sweep.subdir", "")
        part = (int(subdir),) if subdir.isdigit() else ()
        row = rows[index] if index < len(rows) else None
        batches.append(ArrayBatch(index, line, sweep, part, row))
    return batches, ledger


def tasks_of(batches: Sequence[ArrayBatch], per_task: int) -> list[list[ArrayBatch]]:
    return [list(batches[i : i + per_task]) for i in range(0, len(batches), per_task)]


def script(options: argparse.Namespace, command: Sequence[str], batches: list[ArrayBatch]) -> str:
    """The job-array script: task i runs its batches one after another. No eval: the
    quoting is the batch file's."""
    tasks = tasks_of(batches, options.per_task)
    cap = f"%{options.max_running}" if options.max_running else ""
    directives = [
        f"--job-name={options.job_name}",
        f"--array=0-{len(tasks) - 1}{cap}",
        f"--output={options.output}/slurm-%A_%a.out",
        f"--chdir={Path.cwd()}",
    ]
    for flag, value in (
        ("--partition", options.partition),
        ("--time", options.time),
        ("--gpus", options.gpus),
        ("--cpus-per-task", options.cpus),
        ("--mem", options.mem),
    ):
        if value:
            directives.append(f"{flag}={value}")
    directives += options.sbatch
    head = shlex.join(command)
    cases = []
    for number, task in enumerate(tasks):
        steps = " ".join(
            f"run {shlex.quote(b.sweep_dir)} {log_name(b.part)} {exit_name(b.part)}"
            f" {head} {b.line};"
            for b in task
        )
        cases.append(f"  {number}) {steps} ;;")
    return "\n".join(
        [
            "#!/bin/bash",
            *(f"#SBATCH {directive}" for directive in directives),
            "# Written by hydraflow-slurm: array task i runs its batches one after another.",
            "# The runs' record callback (hydraflow_record), wherever the runs' Python is.",
            f"export PYTHONPATH={shlex.quote(str(CALLBACK_DIR))}${{PYTHONPATH:+:$PYTHONPATH}}",
            "# Python writes each line when it prints it, so the logs can be followed (tail -f).",
            "export PYTHONUNBUFFERED=${PYTHONUNBUFFERED-1}",
            "status=0",
            'run() { dir=$1 log=$2 end=$3; shift 3; mkdir -p "$dir";',
            '  "$@" > "$dir/$log" 2>&1; code=$?; echo "$code" > "$dir/$end";',
            "  [ $code -eq 0 ] || status=1; }",
            'case "$SLURM_ARRAY_TASK_ID" in',
            *cases,
            '  *) echo "no array task $SLURM_ARRAY_TASK_ID" >&2; exit 2 ;;',
            "esac",
            'exit "$status"',
            "",
        ]
    )


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=BUILT_IN,
        description="Run hydraflow batches as one Slurm job array (a submit handler).",
    )
    parser.add_argument("--partition", help="Slurm partition")
    parser.add_argument("--time", help="time limit per array task (minutes, or Slurm's forms)")
    parser.add_argument("--gpus", help="GPUs per array task")
    parser.add_argument("--cpus", help="CPUs per array task (--cpus-per-task)")
    parser.add_argument("--mem", help="memory per array task, e.g. 8G")
    parser.add_argument("--max-running", type=int, help="at most N tasks at once (%%N)")
    parser.add_argument(
        "--per-task", type=int, default=1, metavar="K",
        help="K batches one after another in each array task (default 1)",
    )  # fmt: skip
    parser.add_argument("--job-name", default="hydraflow", help="Slurm job name")
    parser.add_argument("--output", default="multirun", help="folder for Slurm's own logs")
    parser.add_argument(
        "--sbatch", action="append", default=[], metavar="ARG",
        help="another #SBATCH directive, e.g. --sbatch=--qos=high (repeatable)",
    )  # fmt: skip
    parser.add_argument("--no-wait", action="store_true", help="print the job id and return")
    parser.add_argument(
        "--local", action="store_true", help="run the array tasks here, one by one, without Slurm"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the script, submit nothing")
    parser.add_argument("words", nargs=argparse.REMAINDER, help="COMMAND... BATCH_FILE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # hydraflow stops a handler with SIGTERM: it must cancel the array as Ctrl-C does.
    install_sigterm_as_interrupt()
    open_closed_streams()
    options = parser().parse_args(argv)
    words = options.words[1:] if options.words[:1] == ["--"] else options.words
    try:
        if len(words) < 2:
            raise HandlerError("hydraflow-slurm needs COMMAND... BATCH_FILE")
        if options.per_task < 1:
            raise HandlerError(f"--per-task must be at least 1, got {options.per_task}")
        return handle(options, words[:-1], Path(words[-1]))
    except HandlerError as error:
        sys.stderr.write(f"error: {error}\n")
        return ExitStatus.USAGE
    except LedgerError as error:
        sys.stderr.write(f"error: {error}\n")
        return ExitStatus.FAILED
    except KeyboardInterrupt:
        return 130


def handle(options: argparse.Namespace, command: list[str], batch_file: Path) -> int:
    try:
        batches, ledger = read_batches(batch_file)
    except (OSError, ValueError, KeyError) as error:
        raise HandlerError(f"cannot read {batch_file}: {error}") from None
    if not batches:
        print(f"hydraflow-slurm: {batch_file} holds no batch")
        return 0
    text = script(options, command, batches)
    if options.dry_run:
        sys.stdout.write(text)
        return 0
    path = Path(options.output) / f"slurm-{batch_file.stem}.sh"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    for batch in batches:  # a rerun must not read an old exit code
        batch.exit_file.unlink(missing_ok=True)
    tasks = tasks_of(batches, options.per_task)
    if options.local or shutil.which("sbatch") is None:
        why = "" if options.local else "no sbatch here; "
        print(f"hydraflow-slurm: {why}running the {len(tasks)} array tasks locally")
        for number, task in enumerate(tasks):
            env = {**os.environ, "SLURM_ARRAY_TASK_ID": str(number)}
            subprocess.run(["bash", str(path)], env=env, check=False)
            _record_ends(ledger, task)
        return report(batches)
    # A stop that comes while sbatch runs must wait until its job id is known.
    stops = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        job = _submit(path)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, stops)
        raise
    cancelled = False
    try:  # from the moment the array exists, an interrupt or a failure cancels it
        signal.pthread_sigmask(signal.SIG_SETMASK, stops)  # a stop held back lands here
        _record_queued(ledger, tasks, job)
        print(f"hydraflow-slurm: submitted {path} as job {job} ({len(tasks)} array tasks)")
        if options.no_wait:
            print("hydraflow-slurm: follow it with `hydraflow status --watch`")
            return 0
        _wait(job)
    except BaseException:
        cancelled = True
        subprocess.run(["scancel", job], check=False)
        raise
    finally:
        if ledger is not None and (cancelled or not options.no_wait):
            with contextlib.suppress(LedgerError):  # never hides why the handler stops
                refresh(ledger, Path.cwd())
    return report(batches)


def _record_queued(ledger: Ledger | None, tasks: list[list[ArrayBatch]], job: str) -> None:
    if ledger is not None:
        ledger.update(
            [
                (b.row, {"status": BatchStatus.QUEUED, "scheduler_id": f"{job}_{number}"})
                for number, task in enumerate(tasks)
                for b in task
                if b.row is not None
            ]
        )


def _record_ends(ledger: Ledger | None, batches: Sequence[ArrayBatch]) -> None:
    if ledger is None:
        return
    updates: list[Update] = []
    for batch in batches:
        code = read_exit(batch.exit_file)
        if batch.row is not None:
            status = (
                BatchStatus.LOST
                if code is None
                else BatchStatus.OK
                if code == 0
                else BatchStatus.FAILED
            )
            updates.append((batch.row, {"status": status, "exit_code": code, "end": time.time()}))
    ledger.update(updates)


def _submit(path: Path) -> str:
    result = subprocess.run(
        ["sbatch", "--parsable", str(path)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        reason = result.stderr.strip() or f"exit {result.returncode}"
        hint = "hydraflow-slurm --local runs the array tasks on this machine instead"
        raise HandlerError(f"sbatch failed: {reason}\n  ({hint})")
    return result.stdout.strip().split(";")[0]


def _wait(job: str) -> None:
    """Until no task of the array is pending or running."""
    while True:
        queued = subprocess.run(
            ["squeue", "-h", "-j", job, "-o", "%i"], capture_output=True, text=True, check=False
        )
        if queued.returncode == 0 and not queued.stdout.strip():
            return
        time.sleep(POLL_SECONDS)


def report(batches: list[ArrayBatch]) -> int:
    """One line per batch from its exit file; a batch without one did not finish."""
    failed = 0
    for batch in batches:
        code = read_exit(batch.exit_file)
        if code == 0:
            print(f"ok      #{batch.index} {batch.label}")
            continue
        failed += 1
        state = f"failed (exit {code})" if code is not None else "did not finish"
        print(f"{state}  #{batch.index} {batch.label}  log: {batch.log_file}")
    print(f"hydraflow-slurm: {len(batches) - failed} ok, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
