"""Where the time of a warm batch goes: one run of examples/train.py forked from a
process that loaded it, with each of the warm path's steps added in turn.

Each variant is a fresh process that loads the app as hydraflow's warm process does
(`hydraflow/_warm/hydraflow_warm.py`), with only some steps on, then forks one child
per batch, one at a time, and times each child from fork to exit (median of many).
The steps: config files kept parsed from a composition of the primary config in the
parent (which also does once what Hydra does lazily at its first composition); skip the
basic sweeper's validation composition; skip the composition made only to read
hydra.mode.
The baseline, measured in the same run: a cold batch (`python examples/train.py
--multirun …`, a new interpreter).
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

REPO = Path(__file__).resolve().parent.parent
FORKS = 12
ARGS = ["--multirun", "model=small", "optimizer=sgd", "seed=1", "hydra.job.name=b"]
STEPS = ["loaded", "+files", "+validation", "+mode"]

CHILD = """
import contextlib, os, runpy, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import hydraflow_seams as seams, hydraflow_warm as warm
from hydraflow_app import load
target, step, forks = os.path.abspath("examples/train.py"), int(sys.argv[2]), int(sys.argv[3])
load({"kind": "script", "target": target})
warm._warm_hydra()
if step >= 2:
    seams.trust_the_check()
if step >= 3:
    seams.skip_the_mode_composition()
if step >= 1 and seams.cache_config_files():
    warm._compose_primary({"config_path": "conf", "config_name": "config",
                           "version_base": None, "file": target})
times = []
for number in range(forks):
    began = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        sys.argv = [target, *sys.argv[4:], f"hydra.sweep.dir=multirun/b/{step}-{number}"]
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1), os.dup2(null, 2)
        with contextlib.suppress(SystemExit):
            runpy.run_path(target, run_name="__main__")
        os._exit(0)
    os.waitpid(pid, 0)
    times.append(time.perf_counter() - began)
print(statistics.median(times))
"""


def warm_child(root: Path, step: int) -> float:
    warm = str(REPO / "hydraflow" / "_warm")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, warm, str(step), str(FORKS), *ARGS],
        cwd=root, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def cold_batch(root: Path) -> float:
    times = []
    for number in range(5):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "examples/train.py", *ARGS, f"hydra.sweep.dir=multirun/c/{number}"],
            cwd=root, capture_output=True, check=True,
        )  # fmt: skip
        times.append(time.perf_counter() - began)
    return statistics.median(times)


ROUNDS = 3


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        shutil.copytree(REPO / "examples", root / "examples", ignore=shutil.ignore_patterns("seed"))
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        # Rounds in turn, so that a slow moment of the machine falls on every variant.
        colds: list[float] = []
        warms: list[list[float]] = [[] for _ in STEPS]
        for _ in range(ROUNDS):
            colds.append(cold_batch(root))
            for step, times in enumerate(warms):
                times.append(warm_child(root, step))
        cold = statistics.median(colds)
        print(
            f"one one-run batch of examples/train.py, median of {ROUNDS} rounds;"
            f" cold: {cold * 1000:.0f} ms"
        )
        before = None
        for name, times in zip(STEPS, warms, strict=True):
            took = statistics.median(times)
            saved = "" if before is None else f"  ({(before - took) * 1000:+.0f} ms saved)"
            print(f"  warm, {name:<12} {took * 1000:6.0f} ms  {took / cold:.2f}x cold{saved}")
            before = took


if __name__ == "__main__":
    main()
