"""`invoke --list` on a 50-job hydraflow.yaml against a tasks.py with one plain task.

Target ratio ≤ 1.3. A third case, 50 hand-written tasks with the same ten
flags, shows how much of the difference is Invoke's own cost per task and flag.
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
    " retries=None, devices=None, quiet=False, only=None, keep_file=False"
)


def once(cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([*INVOKE, "--list"], cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - start


def make(root: Path) -> dict[str, Path]:
    folders = {name: root / name for name in ("plain", "plain50", "jobs")}
    for folder in folders.values():
        folder.mkdir()
    folders["plain"].joinpath("tasks.py").write_text(
        "from invoke import task\n\n@task\ndef hello(c):\n    'Say hello.'\n"
    )
    folders["plain50"].joinpath("tasks.py").write_text(
        "from invoke import task\n"
        + "".join(f"\n@task\ndef job{i}(c, {FLAGS}):\n    'Job {i}.'\n" for i in range(50))
    )
    folders["jobs"].joinpath("tasks.py").write_text(
        "from hydraflow import collection\nns = collection()\n"
    )
    text = ["jobs:"]
    for i in range(50):
        text += [
            f"  job{i}:",
            f"    help: Job number {i}",
            "    run: python train.py",
            "    sets:",
            "      - each: a=1:1000 b=1:1000 model=(cnn,vit)_(s,m,l)",
            "        all: seed=1:5 lr/m=1,2,5",
        ]
    folders["jobs"].joinpath("hydraflow.yaml").write_text("\n".join(text) + "\n")
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
    base = median["plain"]
    print(f"invoke --list, one plain task (baseline):       {base * 1000:.0f} ms (median)")
    print(
        f"invoke --list, 50 plain tasks with 10 flags:    {median['plain50'] * 1000:.0f} ms"
        f"  ratio {median['plain50'] / base:.2f}"
    )
    print(
        f"invoke --list, 50 jobs (6e6 batches each):      {median['jobs'] * 1000:.0f} ms"
        f"  ratio {median['jobs'] / base:.2f}  (target <= 1.3)"
    )


if __name__ == "__main__":
    main()
