"""``hydraflow-slurm``: a ready-made ``submit`` handler that runs every batch as one
task of a Slurm job array.

    jobs:
      train-slurm:
        submit: hydraflow-slurm --partition gpu --time 60 --gpus 1 python train.py

hydraflow calls it as ``hydraflow-slurm [options] COMMAND... BATCH_FILE``. It
writes ``multirun/slurm-<name>.sh`` (one array task per line of the batch
file), submits it with ``sbatch``, waits and reports each batch; exit status 0
when every batch succeeded, 1 otherwise, 130 when interrupted (the array is
cancelled). Each batch's output goes to ``<its sweep dir>/hydraflow.log`` and
its exit code to ``<its sweep dir>/hydraflow.exit``, so no Slurm accounting is
needed. With ``--local``, or where there is no ``sbatch``, the array tasks run
here, one by one, as Slurm would run them.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydraflow.plan import CALLBACK_DIR

POLL_SECONDS = 1.0


@dataclass(frozen=True)
class ArrayBatch:
    index: int
    line: str
    sweep_dir: str

    @property
    def label(self) -> str:
        words = shlex.split(self.line)
        overrides = [w for w in words if "=" in w and not w.startswith(("hydra.", "--"))]
        return " ".join(overrides) or f"batch {self.index}"


def read_batches(path: Path) -> list[ArrayBatch]:
    batches: list[ArrayBatch] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        index = len(batches)
        words = shlex.split(line)
        dirs = [w.split("=", 1)[1] for w in words if w.startswith("hydra.sweep.dir=")]
        batches.append(ArrayBatch(index, line, dirs[-1] if dirs else f"multirun/slurm-{index}"))
    return batches


def script(options: argparse.Namespace, command: Sequence[str], batches: list[ArrayBatch]) -> str:
    """The job-array script: task i runs batch i; no eval, the quoting is the batch file's."""
    last = len(batches) - 1
    cap = f"%{options.max_running}" if options.max_running else ""
    directives = [
        f"--job-name={options.job_name}",
        f"--array=0-{last}{cap}",
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
    cases = [
        f"  {b.index}) dir={shlex.quote(b.sweep_dir)}; set -- {head} {b.line} ;;" for b in batches
    ]
    return "\n".join(
        [
            "#!/bin/bash",
            *(f"#SBATCH {directive}" for directive in directives),
            "# Written by hydraflow-slurm: array task i runs batch i.",
            'case "$SLURM_ARRAY_TASK_ID" in',
            *cases,
            '  *) echo "no batch number $SLURM_ARRAY_TASK_ID" >&2; exit 2 ;;',
            "esac",
            "# The runs' record callback (hydraflow_record), wherever the runs' Python is.",
            f"export PYTHONPATH={shlex.quote(str(CALLBACK_DIR))}${{PYTHONPATH:+:$PYTHONPATH}}",
            'mkdir -p "$dir"',
            '"$@" > "$dir/hydraflow.log" 2>&1',
            "code=$?",
            'echo "$code" > "$dir/hydraflow.exit"',
            'exit "$code"',
            "",
        ]
    )


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hydraflow-slurm",
        description="Run hydraflow batches as one Slurm job array (a submit handler).",
    )
    parser.add_argument("--partition", help="Slurm partition")
    parser.add_argument("--time", help="time limit per batch (minutes, or Slurm's forms)")
    parser.add_argument("--gpus", help="GPUs per batch")
    parser.add_argument("--cpus", help="CPUs per batch (--cpus-per-task)")
    parser.add_argument("--mem", help="memory per batch, e.g. 8G")
    parser.add_argument("--max-running", type=int, help="at most N batches at once (%%N)")
    parser.add_argument("--job-name", default="hydraflow", help="Slurm job name")
    parser.add_argument("--output", default="multirun", help="folder for Slurm's own logs")
    parser.add_argument(
        "--sbatch",
        action="append",
        default=[],
        metavar="ARG",
        help="another #SBATCH directive, e.g. --sbatch=--qos=high (repeatable)",
    )
    parser.add_argument("--no-wait", action="store_true", help="print the job id and return")
    parser.add_argument(
        "--local", action="store_true", help="run the array tasks here, one by one, without Slurm"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the script, submit nothing")
    parser.add_argument("words", nargs=argparse.REMAINDER, help="COMMAND... BATCH_FILE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = parser().parse_args(argv)
    words = (
        [w for w in options.words if w != "--"] if options.words[:1] == ["--"] else options.words
    )
    if len(words) < 2:
        sys.stderr.write("error: hydraflow-slurm needs COMMAND... BATCH_FILE\n")
        return 2
    *command, batch_file = words
    try:
        batches = read_batches(Path(batch_file))
    except OSError as error:
        sys.stderr.write(f"error: cannot read {batch_file}: {error.strerror}\n")
        return 2
    if not batches:
        sys.stderr.write(f"hydraflow-slurm: {batch_file} holds no batch\n")
        return 0
    text = script(options, command, batches)
    if options.dry_run:
        sys.stdout.write(text)
        return 0
    path = Path(options.output) / f"slurm-{Path(batch_file).stem}.sh"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    for batch in batches:  # a rerun must not read an old exit code
        Path(batch.sweep_dir, "hydraflow.exit").unlink(missing_ok=True)
    try:
        if options.local or shutil.which("sbatch") is None:
            why = "" if options.local else "no sbatch here; "
            print(f"hydraflow-slurm: {why}running the {len(batches)} array tasks locally")
            _run_locally(path, len(batches))
        else:
            job = _submit(path)
            print(f"hydraflow-slurm: submitted {path} as job {job} ({len(batches)} array tasks)")
            if options.no_wait:
                return 0
            _wait(job)
    except KeyboardInterrupt:
        return 130
    return report(batches)


def _submit(path: Path) -> str:
    result = subprocess.run(
        ["sbatch", "--parsable", str(path)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"error: sbatch failed: {result.stderr.strip()}")
    return result.stdout.strip().split(";")[0]


def _wait(job: str) -> None:
    """Until no task of the array is pending or running; Ctrl-C cancels the array."""
    try:
        while True:
            queued = subprocess.run(
                ["squeue", "-h", "-j", job, "-o", "%i"],
                capture_output=True,
                text=True,
                check=False,
            )
            if queued.returncode == 0 and not queued.stdout.strip():
                return
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        subprocess.run(["scancel", job], check=False)
        raise


def _run_locally(path: Path, tasks: int) -> None:
    for task in range(tasks):
        env = {**os.environ, "SLURM_ARRAY_TASK_ID": str(task)}
        subprocess.run(["bash", str(path)], env=env, check=False)


def report(batches: list[ArrayBatch]) -> int:
    """One line per batch from its exit file; a batch without one did not finish."""
    failed = 0
    for batch in batches:
        exit_file = Path(batch.sweep_dir, "hydraflow.exit")
        code = exit_file.read_text().strip() if exit_file.exists() else ""
        log = Path(batch.sweep_dir, "hydraflow.log")
        if code == "0":
            print(f"ok      #{batch.index} {batch.label}")
            continue
        failed += 1
        state = f"failed (exit {code})" if code else "did not finish"
        print(f"{state}  #{batch.index} {batch.label}  log: {log}")
    print(f"hydraflow-slurm: {len(batches) - failed} ok, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
