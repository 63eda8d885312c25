"""The demo jobs run the real Hydra app; Hydra's own overrides.yaml files say what ran."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import expected, hydra_runs, run_demo

MODELS = ["model=small", "model=large"]
OPTIMIZERS = ["optimizer=sgd", "optimizer=momentum"]


def test_train_demo(demo: Path) -> None:
    result = run_demo(demo, "run", "train", "-j", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert hydra_runs(demo) == expected(MODELS, OPTIMIZERS, ["seed=0", "seed=1", "seed=2"])
    records = [json.loads(p.read_text()) for p in demo.glob("multirun/*/*/*/hydraflow.run.json")]
    assert len(records) == 12 and all(r["status"] == "ok" for r in records)
    assert all(set(r["value"]) == {"loss"} for r in records)
    assert len(list(demo.glob("multirun/*/*/hydraflow.log"))) == 4


def test_grid_demo_uses_every_syntax(demo: Path) -> None:
    """Every part of the sweep syntax reaches Hydra, which runs what it was asked. Hydra
    runs one batch of each shape; the products of the first set are the plan's."""
    planned = run_demo(demo, "run", "grid", "--dry-run")
    assert len(planned.stdout.splitlines()) == 12
    tags = {w for line in planned.stdout.splitlines() for w in line.split() if "+tag=" in w}
    assert tags == {"+tag=base_v1", "+tag=base_v2", "+tag=wide_v1", "+tag=wide_v2"}
    # One tag of the first set, both pipe sections, both zipped pairs; --only compares
    # numbers as numbers, so 1e-1 picks the first set's lr=0.1 as well as the pair's.
    only = ["--only", "tag=base_v1,", "--only", "optimizer.lr=0.05,10e-3*,,1e-1,2e-1"]
    result = run_demo(demo, "run", "grid", "-j", "2", *only)
    assert result.returncode == 0, result.stdout + result.stderr
    first = expected(
        ["optimizer.lr=0.05", "optimizer.lr=0.1"],
        ["+tag=base_v1"],
        ["optimizer.momentum=0", "optimizer.momentum=0.5"],
        ["epochs=50"],
    )
    second = expected(
        ["optimizer.lr=0.01", "optimizer.lr=0.02"], ["seed=1", "seed=2", "seed=3"], ["epochs=20"]
    )
    third = expected(["model=large"], ["seed=1", "seed=2", "seed=3"], ["epochs=20"])
    zipped = [
        tuple(sorted(["model=small", "optimizer.lr=0.1", "epochs=30", "seed=7"])),
        tuple(sorted(["model=large", "optimizer.lr=0.2", "epochs=30", "seed=7"])),
    ]
    assert hydra_runs(demo) == sorted(first + second + third + zipped)


def test_joblib_launcher(demo: Path) -> None:
    result = run_demo(demo, "run", "train-joblib")
    assert result.returncode == 0, result.stdout + result.stderr
    # Hydra leaves hydra.* overrides out of overrides.yaml; hydra.yaml names the launcher.
    assert hydra_runs(demo) == expected(MODELS, [f"seed={s}" for s in range(4)])
    launchers = [p.read_text() for p in demo.glob("multirun/*/*/*/.hydra/hydra.yaml")]
    assert len(launchers) == 8
    assert all("hydra_joblib_launcher" in text for text in launchers)


def test_submitit_local_launcher(demo: Path) -> None:
    result = run_demo(demo, "run", "train-submitit-local", "-j", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert hydra_runs(demo) == expected(MODELS, ["seed=0", "seed=1"])
    assert len(list(demo.glob("multirun/*/*/.submitit"))) == 2


def test_call_mode_runs_the_app_in_process(demo: Path) -> None:
    result = run_demo(demo, "run", "train-call")
    assert result.returncode == 0, result.stdout + result.stderr
    assert hydra_runs(demo) == expected(MODELS, ["seed=0", "seed=1"])
