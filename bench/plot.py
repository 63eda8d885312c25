"""`hydraflow plot` of 10,000 runs to a PNG against `hydraflow results --json` of the same runs.

The project is what `hydraflow run` leaves (as in bench/results.py): a job of 1,000
batches of 10 runs, each batch in the ledger, each run dir with Hydra's
`.hydra/overrides.yaml` and `.hydra/config.yaml`, hydraflow's `hydraflow.run.json`
and a `metrics.json`. Both commands run as a user runs them, each a fresh process
(interpreter, imports, reading every run): `hydraflow results j --json` into a pipe
is the baseline, measured in the same run; `hydraflow plot j --x x --y loss -o
plot.png` reads the same runs, aggregates the 10 seeds of each of the 1,000 x values
and draws the line with its band. Beside it, labelled: a scatter of every run.
Target: the line ≤ 3× the baseline.

    python bench/plot.py                 # 1,000 batches of 10 runs
    python bench/plot.py --batches 20    # a quick check that it works
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from hydraflow.config import load
from hydraflow.ids import new_id
from hydraflow.ledger import LEDGER, Ledger, Runner, Wanted
from hydraflow.plan import Extras, batches, new_sweep_dir

RUNS = 10
ROUNDS = 3
BIN = Path(sys.executable).parent
CONFIG = {
    "x": 0,
    "seed": 0,
    "model": {"name": "small", "width": 64, "blocks": {"depth": 4, "dropout": 0.1}},
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    "epochs": 30,
    "data": {"path": "/data/set", "batch_size": 32, "shuffle": True},
}


def make(root: Path, count: int) -> None:
    """``count`` batches of RUNS runs, each recorded as hydraflow's callback records it."""
    (root / "hydraflow.yaml").write_text(
        "jobs:\n  j:\n    run: python app.py\n    metric: loss\n    goal: minimize\n"
        f"    sets:\n      - each: x=1:{count}\n        all: seed=0:{RUNS - 1}\n"
    )
    job = load(root / "hydraflow.yaml").check().job("j")
    ledger = Ledger(root / LEDGER)
    runner = Runner.this()
    for batch in batches(job, Extras()):
        sweep = new_sweep_dir(job, new_id())
        fields: dict[str, object] = {"label": batch.label, "argv": [], "sweep_dir": sweep}
        [claimed] = ledger.claim("j", [Wanted(batch.key, fields)], runner, resume=False)
        ledger.update([(claimed.row, {"status": "ok"})])  # type: ignore[union-attr]
        x = batch.index + 1
        for seed in range(RUNS):
            run = root / sweep / str(seed)
            (run / ".hydra").mkdir(parents=True)
            overrides = [f"x={x}", f"seed={seed}"]
            (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
            config = {**CONFIG, "x": x, "seed": seed}
            (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
            loss = 1.0 / x + 0.01 * seed  # falls with x, spread over the seeds
            (run / "metrics.json").write_text(json.dumps({"loss": loss, "acc": 0.5}))
            record = {"status": "ok", "start": 1.0, "end": 2.0, "overrides": overrides}
            (run / "hydraflow.run.json").write_text(json.dumps({**record, "value": 0.1}))
    ledger.close()


def hydraflow(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    script = BIN / "hydraflow"
    program = [str(script)] if script.exists() else [sys.executable, "-m", "hydraflow"]
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run([*program, *args], cwd=root, env=env, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"hydraflow {' '.join(args)} failed: {done.stderr.decode()}")
    return done


def timed(root: Path, *args: str) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        hydraflow(root, *args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=1000, help="batches of 10 runs")
    count = parser.parse_args().batches
    print(f"{count * RUNS} runs ({count} batches of {RUNS}), median of {ROUNDS}, each a process:")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        make(root, count)
        listed = json.loads(hydraflow(root, "results", "j", "--json").stdout)
        assert len(listed) == count * RUNS
        line = ["plot", "j", "--x", "x", "--y", "loss", "-o", "line.png"]
        scatter = ["plot", "j", "--x", "x", "--y", "loss", "--kind", "scatter", "-o", "dots.png"]
        hydraflow(
            root, *line
        )  # once before timing: the first import of matplotlib builds its caches
        assert (root / "line.png").read_bytes()[:4] == b"\x89PNG"
        base = timed(root, "results", "j", "--json")
        ours = timed(root, *line)
        dots = timed(root, *scatter)
    print(f"  results --json          {base:.2f} s")
    print(f"  plot -o line.png        {ours:.2f} s, ratio {ours / base:.2f}  (target <= 3)")
    print(f"  plot --kind scatter     {dots:.2f} s, ratio {dots / base:.2f}")


if __name__ == "__main__":
    main()
