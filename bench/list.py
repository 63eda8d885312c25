"""`invoke --list` on a 50-job hydraflow.yaml against a tasks.py with one plain task.

Target ratio ≤ 1.3.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The invoke next to this interpreter: a pyenv shim in front of it would add ~90 ms to both.
INVOKE = [str(Path(sys.executable).with_name("invoke"))]


def best(cwd: Path, repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([*INVOKE, "--list"], cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / "plain"
        jobs = Path(folder) / "jobs"
        plain.mkdir()
        jobs.mkdir()
        (plain / "tasks.py").write_text(
            "from invoke import task\n\n@task\ndef hello(c):\n    'Say hello.'\n"
        )
        (jobs / "tasks.py").write_text("from hydraflow import collection\nns = collection()\n")
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
        (jobs / "hydraflow.yaml").write_text("\n".join(text) + "\n")
        base = best(plain)
        ours = best(jobs)
    print(f"invoke --list, one plain task:         {base * 1000:.0f} ms (median)")
    print(f"invoke --list, 50 jobs (6e6 batches each): {ours * 1000:.0f} ms (median)")
    print(f"ratio: {ours / base:.2f}  (target <= 1.3)  [python {sys.version.split()[0]}]")


if __name__ == "__main__":
    main()
