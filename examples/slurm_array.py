"""A `submit` handler: turn hydraflow's batch file into a Slurm job-array script.

    python examples/slurm_array.py [--run] BATCH_FILE

Writes `multirun/slurm-<name>.sh`, one array task per batch. With `--run`
it submits the script with sbatch, or, where there is no sbatch, runs every
array task here, one after another, as Slurm would.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

TEMPLATE = """#!/bin/bash
#SBATCH --job-name=hydraflow
#SBATCH --array=0-{last}
#SBATCH --output=multirun/slurm-%A_%a.out
set -euo pipefail
BATCHES=(
{batches}
)
eval "exec {command} ${{BATCHES[$SLURM_ARRAY_TASK_ID]}}"
"""


def script(batch_lines: list[str], command: str) -> str:
    batches = "\n".join(f"  {shlex.quote(line)}" for line in batch_lines)
    return TEMPLATE.format(last=len(batch_lines) - 1, batches=batches, command=command)


def main(argv: list[str]) -> int:
    run = "--run" in argv
    batch_file = Path([a for a in argv if a != "--run"][-1])
    lines = [line for line in batch_file.read_text().splitlines() if line.strip()]
    command = shlex.join([sys.executable, "examples/train.py"])
    path = Path("multirun") / f"slurm-{batch_file.stem}.sh"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script(lines, command))
    print(f"wrote {path}: {len(lines)} array tasks")
    if not run:
        return 0
    if shutil.which("sbatch"):
        return subprocess.run(["sbatch", "--wait", str(path)], check=False).returncode
    failed = 0
    for task in range(len(lines)):
        env = {**os.environ, "SLURM_ARRAY_TASK_ID": str(task)}
        failed += subprocess.run(["bash", str(path)], env=env, check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
