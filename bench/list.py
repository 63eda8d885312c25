"""`invoke --list` on a 50-job hydraflow.yaml against a tasks.py with one plain task.

The main case is the one users have by default: jobs without `help:`, whose
listing line counts their batches, each job with its own sweep. Beside it,
labelled: the same jobs with `help:` (nothing to count), and 50 hand-written
tasks with the same flags (Invoke's own cost per task and flag).
Target: the default case ≤ 1.3× the one-task baseline.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The invoke next to this interpreter: a pyenv shim in front of it would add ~90 ms to all.
INVOKE = [str(Path(sys.executable).with_name("invoke"))]
# Time Python as users run it: with bytecode caching on. (Some shells here set
# PYTHONDONTWRITEBYTECODE, which makes every run recompile hydraflow's modules.)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ROUNDS = 25
FLAGS = (
    "dry_run=False, jobs=None, keep_going=False, max_failures=None, timeout=None,"
    " retries=None, devices=None, quiet=False, resume=False, ledger=True, only=None,"
    " keep_file=False"
)


def once(cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([*INVOKE, "--list"], cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - start


def jobs_yaml(with_help: bool) -> str:
    text = ["jobs:"]
    for i in range(50):
        text += [f"  job{i}:"]
        if with_help:
            text += [f"    help: Job number {i}"]
        text += [
            "    run: python train.py",
            "    sets:",
            f"      - each: a=1:{1000 + i} b=1:1000 model=(cnn,vit)_(s,m,l) lr/m={i},{i + 1}",
            f"        all: seed=1:{5 + i} wd/u=1,2,5",
        ]
    return "\n".join(text) + "\n"


def make(root: Path) -> dict[str, Path]:
    names = ("baseline: one plain task", "50 jobs without help (default)", "50 jobs with help")
    folders = {name: root / str(number) for number, name in enumerate([*names, "hand"])}
    for folder in folders.values():
        folder.mkdir()
    folders["baseline: one plain task"].joinpath("tasks.py").write_text(
        "from invoke import task\n\n@task\ndef hello(c):\n    'Say hello.'\n"
    )
    folders["hand"].joinpath("tasks.py").write_text(
        "from invoke import task\n"
        + "".join(f"\n@task\ndef job{i}(c, {FLAGS}):\n    'Job {i}.'\n" for i in range(50))
    )
    for name, with_help in (("50 jobs without help (default)", False), ("50 jobs with help", True)):
        folders[name].joinpath("tasks.py").write_text(
            "from hydraflow import collection\nns = collection()\n"
        )
        folders[name].joinpath("hydraflow.yaml").write_text(jobs_yaml(with_help))
    return folders


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        folders = make(Path(folder))
        times: dict[str, list[float]] = {name: [] for name in folders}
        for path in folders.values():  # warm the bytecode caches
            once(path)
        for _ in range(ROUNDS):  # interleaved, so drift hits every case alike
            for name, path in folders.items():
                times[name].append(once(path))
    median = {name: statistics.median(values) for name, values in times.items()}
    base = median["baseline: one plain task"]
    labels = {
        "baseline: one plain task": "baseline: one plain task",
        "50 jobs without help (default)": "50 jobs without help (default)  [target <= 1.3]",
        "50 jobs with help": "50 jobs with help (favourable: nothing to count)",
        "hand": "50 hand-written tasks, same flags (Invoke's own cost)",
    }
    print(f"invoke --list, median of {ROUNDS}:")
    for name, value in median.items():
        print(f"  {labels[name]:<56} {value * 1000:4.0f} ms  ratio {value / base:.2f}")


if __name__ == "__main__":
    main()
