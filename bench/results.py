"""`hydraflow results` on 10,000 runs against a bare Python loop that parses the same files.

The project is what `hydraflow run` leaves: a job of 1,000 batches of 10 runs,
each batch in the ledger, each run dir with Hydra's `.hydra/overrides.yaml` and
`.hydra/config.yaml` (the composed config, 13 keys in 4 levels), hydraflow's
`hydraflow.run.json` and a `metrics.json`. `hydraflow results` reads the record,
the config (with libyaml's CSafeLoader) and the metrics file of each run, keeps the
latest attempt of each config and writes the table (to a pipe); the baseline loop
reads the same three files per run (json.load, yaml.load with CSafeLoader), nothing
else. Beside it, labelled: runs made before records existed (overrides.yaml read too,
in the collector and in its baseline alike). Target: ≤ 3× the baseline.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from hydraflow.analysis import collect
from hydraflow.analysis.query import Query
from hydraflow.app import print_results
from hydraflow.config import load
from hydraflow.ids import new_id
from hydraflow.ledger import LEDGER, Ledger, Runner, Wanted
from hydraflow.plan import Extras, batches, new_sweep_dir

BATCHES, RUNS = 1000, 10
ROUNDS = 5
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CONFIG = {
    "x": 0,
    "seed": 0,
    "model": {"name": "small", "width": 64, "blocks": {"depth": 4, "dropout": 0.1}},
    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    "epochs": 30,
    "data": {"path": "/data/set", "batch_size": 32, "shuffle": True},
}


def make(root: Path, records: bool) -> None:
    (root / "hydraflow.yaml").write_text(
        "jobs:\n  j:\n    run: python app.py\n    sets:\n"
        f"      - each: x=1:{BATCHES}\n        all: seed=0:{RUNS - 1}\n"
    )
    job = load(root / "hydraflow.yaml").check().job("j")
    ledger = Ledger(root / LEDGER)
    runner = Runner.this()
    for batch in batches(job, Extras()):
        sweep = new_sweep_dir(job, new_id())
        fields: dict[str, object] = {"label": batch.label, "argv": [], "sweep_dir": sweep}
        [claimed] = ledger.claim("j", [Wanted(batch.key, fields)], runner, resume=False)
        ledger.update([(claimed.row, {"status": "ok"})])  # type: ignore[union-attr]
        for seed in range(RUNS):
            run = root / sweep / str(seed)
            (run / ".hydra").mkdir(parents=True)
            overrides = [f"x={batch.index + 1}", f"seed={seed}"]
            (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
            config = {**CONFIG, "x": batch.index + 1, "seed": seed}
            (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
            (run / "metrics.json").write_text(json.dumps({"loss": 1.0 / (seed + 1), "acc": 0.5}))
            if records:
                record = {"status": "ok", "start": 1.0, "end": 2.0, "overrides": overrides}
                (run / "hydraflow.run.json").write_text(json.dumps({**record, "value": 0.1}))
    ledger.close()


def bare_loop(root: Path, records: bool) -> int:
    """What a user's script would do: every run dir, its files parsed, nothing more."""
    count = 0
    for sweep in os.scandir(root / "multirun" / "j"):
        for run in os.scandir(sweep.path):
            if records:
                with open(os.path.join(run.path, "hydraflow.run.json"), "rb") as f:
                    json.load(f)
            else:
                with open(os.path.join(run.path, ".hydra", "overrides.yaml"), "rb") as f:
                    yaml.load(f, Loader=LOADER)
            with open(os.path.join(run.path, ".hydra", "config.yaml"), "rb") as f:
                yaml.load(f, Loader=LOADER)
            with open(os.path.join(run.path, "metrics.json"), "rb") as f:
                json.load(f)
            count += 1
    return count


def timed(function: object) -> float:
    best = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        function()  # type: ignore[operator]
        best.append(time.perf_counter() - start)
    return statistics.median(best)


def results(config: object) -> None:
    """`hydraflow results j` into a pipe: the runs found, then the table written."""
    out = io.StringIO()
    print_results(collect(config, "j"), Query(job="j"), out)  # type: ignore[arg-type]
    assert out.getvalue().count("\n") == BATCHES * RUNS + 1


def main() -> None:
    print(f"{BATCHES * RUNS} runs ({BATCHES} batches of {RUNS}), median of {ROUNDS}:")
    for records, label in ((True, "with run records (default)"), (False, "made before records")):
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            make(root, records)
            config = load(root / "hydraflow.yaml").check()
            assert bare_loop(root, records) == BATCHES * RUNS
            assert len(collect(config, "j")) == BATCHES * RUNS
            base = timed(lambda: bare_loop(root, records))  # noqa: B023
            ours = timed(lambda: results(config))  # noqa: B023
        target = "  (target <= 3)" if records else ""
        print(
            f"  {label:<28} bare loop {base:.2f} s, hydraflow results {ours:.2f} s,"
            f" ratio {ours / base:.2f}{target}"
        )


if __name__ == "__main__":
    main()
