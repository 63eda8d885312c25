"""Warm starts: 16 runs of examples/train.py, one run per batch, two at a time.

The sweep of the issue: `each: model=small,large optimizer=sgd,momentum seed=0:3`.
Measured in the same run: hydraflow -j 2 with `warm: true`, the same without
warm (a process per batch), the same through a `call:` job (warm by default),
and the same 16 runs as one Hydra command with the joblib launcher (n_jobs=2)
and with the basic launcher (serial). Targets: warm ≤ 0.7× joblib and ≤ 0.5×
cold; call within 10 % of warm. Beside it, labelled: an app that imports a
heavy library (pandas) before it starts, cold against warm; and the issue's
own sketch (one process imports the app once and forks a child per run, two
at a time), once as a plain Hydra run and once with `--multirun`, which every
hydraflow batch uses: the floor that a fork per batch can reach.
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

ROUNDS = 3
REPO = Path(__file__).resolve().parent.parent
EACH = "model=small,large optimizer=sgd,momentum seed=0:3"
SWEEP = ["model=small,large", "optimizer=sgd,momentum", "seed=0,1,2,3"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def project(root: Path) -> None:
    shutil.copytree(REPO / "examples", root / "examples", ignore=shutil.ignore_patterns("seed"))
    heavy = (
        (root / "examples" / "train.py")
        .read_text()
        .replace("import hydra\n", "import hydra\nimport pandas  # noqa: F401 - a heavy import\n")
    )
    (root / "examples" / "heavy.py").write_text(heavy)
    py = sys.executable
    jobs = {
        "cold": f"run: {py} examples/train.py\n    warm: false",
        "warm": f"run: {py} examples/train.py\n    warm: true",
        "call": "call: examples.calls.train",
        "heavy-cold": f"run: {py} examples/heavy.py\n    warm: false",
        "heavy-warm": f"run: {py} examples/heavy.py\n    warm: true",
    }
    text = "jobs:\n" + "".join(
        f"  {name}:\n    {command}\n    sets:\n      - each: {EACH}\n"
        for name, command in jobs.items()
    )
    # The demo's own `train` job (4 batches of 3 runs each), as hydraflow.yaml has it.
    for name, warm in (("demo-cold", "false"), ("demo-warm", "true")):
        text += (
            f"  {name}:\n    run: {py} examples/train.py\n    warm: {warm}\n    sets:\n"
            "      - each: model=small,large optimizer=sgd,momentum\n        all: seed=0:2\n"
        )
    (root / "hydraflow.yaml").write_text(text)
    (root / "sketch.py").write_text(SKETCH)


SKETCH = """
import itertools, os, runpy, sys
script = os.path.abspath("examples/train.py")
runpy.run_path(script, run_name="__sketch__")
combos = list(itertools.product(["small", "large"], ["sgd", "momentum"], range(4)))
running = 0
for n, (model, optimizer, seed) in enumerate(combos):
    if running == 2:
        os.wait()
        running -= 1
    if os.fork() == 0:
        words = [f"model={model}", f"optimizer={optimizer}", f"seed={seed}"]
        if sys.argv[1] == "multirun":
            words = ["--multirun", *words, f"hydra.sweep.dir=multirun/sketch/{n}"]
        else:
            words = [*words, f"hydra.run.dir=multirun/sketch/{n}"]
        sys.argv = [script, *words]
        try:
            runpy.run_path(script, run_name="__main__")
        finally:
            os._exit(0)
    running += 1
while running:
    os.wait()
    running -= 1
"""


def once(argv: list[str], root: Path) -> float:
    shutil.rmtree(root / "multirun", ignore_errors=True)
    start = time.perf_counter()
    subprocess.run(argv, cwd=root, env=ENV, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    hydraflow = [str(Path(sys.executable).with_name("hydraflow")), "run"]
    app = [sys.executable, "examples/train.py", "--multirun", *SWEEP, "hydra.sweep.dir=multirun/x"]
    cases = {
        "hydraflow -j 2, warm: true": [*hydraflow, "warm", "-j", "2"],
        "hydraflow -j 2, a process per batch": [*hydraflow, "cold", "-j", "2"],
        "hydraflow -j 2, call: job (warm)": [*hydraflow, "call", "-j", "2"],
        "Hydra joblib launcher, n_jobs=2": [
            *app,
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
        ],
        "Hydra basic launcher, serial": app,
        "heavy import, a process per batch": [*hydraflow, "heavy-cold", "-j", "2"],
        "heavy import, warm: true": [*hydraflow, "heavy-warm", "-j", "2"],
        "the demo's train job, cold": [*hydraflow, "demo-cold", "-j", "2"],
        "the demo's train job, warm: true": [*hydraflow, "demo-warm", "-j", "2"],
        "sketch: a fork per run, plain run": [sys.executable, "sketch.py", "run"],
        "sketch: a fork per run, --multirun": [sys.executable, "sketch.py", "multirun"],
    }
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        project(root)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(ROUNDS):
            for name, argv in cases.items():
                times[name].append(once(argv, root))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"16 runs of examples/train.py, one per batch, 2 at a time; median of {ROUNDS}:")
    for name, value in median.items():
        print(f"  {name:<38} {value:.2f} s")
    warm = median["hydraflow -j 2, warm: true"]
    joblib = median["Hydra joblib launcher, n_jobs=2"]
    cold = median["hydraflow -j 2, a process per batch"]
    call = median["hydraflow -j 2, call: job (warm)"]
    print(f"warm / joblib: {warm / joblib:.2f}  (target <= 0.7)")
    print(f"warm / cold:   {warm / cold:.2f}  (target <= 0.5)")
    print(f"call / warm:   {call / warm:.2f}  (target within 10 %)")
    heavy = median["heavy import, warm: true"] / median["heavy import, a process per batch"]
    print(f"(favourable) heavy import, warm / cold: {heavy:.2f}")
    demo = median["the demo's train job, warm: true"] / median["the demo's train job, cold"]
    print(f"(the default) the demo's train job, warm / cold: {demo:.2f}")
    for mode in ("plain run", "--multirun"):
        sketch = median[f"sketch: a fork per run, {mode}"]
        ratios = f"{sketch / joblib:.2f}x joblib, {sketch / cold:.2f}x cold"
        print(f"(floor) the sketch, {mode}: {ratios}")


if __name__ == "__main__":
    main()
