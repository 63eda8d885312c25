"""Time the check before launch on a job of 1,000 batches over 4 config-group combinations
against one `python examples/train.py --cfg job` (one composition by Hydra itself).

Target: the check takes at most 2x the baseline. Beside it, the whole
`hydraflow run --dry-run` with and without the check.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hydraflow.config import load
from hydraflow.engine.check import probe
from hydraflow.plan import Extras, Plan
from hydraflow.selection import Selection

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
JOB = """\
jobs:
  big:
    run: python examples/train.py
    sets:
      - each: model=small,large optimizer=sgd,momentum optimizer.lr=1:250:m
"""


def median(action: object, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        shutil.copytree(EXAMPLES, root / "examples")
        (root / "hydraflow.yaml").write_text(JOB)
        job = load(root / "hydraflow.yaml").jobs["big"]
        batches = [b.overrides for b in Plan(job, Extras.parse([]), Selection.parse([])).batches()]
        app = job.mode.app(job, root, os.environ)
        assert app is not None and len(batches) == 1000

        def hydra_cfg_job() -> None:
            argv = [sys.executable, "examples/train.py", "--cfg", "job"]
            subprocess.run(argv, cwd=root, check=True, stdout=subprocess.DEVNULL, env=ENV)

        def the_check() -> None:
            checked = probe(app, batches, [], root)
            assert checked.hydra and checked.configs == 4 and not checked.problems, checked

        def dry_run(*flags: str) -> None:
            argv = [sys.executable, "-m", "hydraflow", "run", "big", "--dry-run", *flags]
            subprocess.run(argv, cwd=root, check=True, capture_output=True, env=ENV)

        hydra_cfg_job(), the_check()  # warm the file cache and bytecode first
        base = median(hydra_cfg_job)
        ours = median(the_check)
        cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cores)})  # the probe composes on the cores it may use
        try:
            one_core = median(the_check)
        finally:
            os.sched_setaffinity(0, cores)
        with_check, without = median(dry_run), median(lambda: dry_run("--no-check"))
    print(f"python examples/train.py --cfg job:          {base:.3f} s (median)")
    print(
        f"the check, 1,000 batches over 4 group combos: {ours:.3f} s (median, {len(cores)} cores)"
    )
    print(f"ratio: {ours / base:.2f}  (target <= 2)")
    print(f"(beside it) the check on one core: {one_core:.3f} s, ratio {one_core / base:.2f}")
    print(f"(beside it) hydraflow run big --dry-run: {with_check:.3f} s;", end=" ")
    print(f"--no-check: {without:.3f} s")


if __name__ == "__main__":
    main()
