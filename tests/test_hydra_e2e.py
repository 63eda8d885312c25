"""The demo jobs run the real Hydra app; Hydra's own overrides.yaml files say what ran."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import command

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("seed"))
    shutil.copy(REPO / "hydraflow.yaml", tmp_path)
    return tmp_path


def hydraflow(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # `python` in the demo jobs must be this interpreter, as in an activated virtualenv.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "NO_COLOR": "1"}
    return subprocess.run(
        [*command("hydraflow"), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def runs(root: Path) -> list[tuple[str, ...]]:
    """The overrides of every Hydra run under multirun/, as Hydra recorded them."""
    found = []
    for path in root.glob("multirun/*/*/.hydra/overrides.yaml"):
        found.append(tuple(sorted(yaml.safe_load(path.read_text()))))
    return sorted(found)


def expected(*axes: list[str]) -> list[tuple[str, ...]]:
    return sorted(tuple(sorted(combo)) for combo in itertools.product(*axes))


MODELS = ["model=small", "model=large"]
OPTIMIZERS = ["optimizer=sgd", "optimizer=momentum"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_train_demo(demo: Path, workers: str) -> None:
    result = hydraflow(demo, "run", "train", "-j", workers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert runs(demo) == expected(MODELS, OPTIMIZERS, ["seed=0", "seed=1", "seed=2"])
    for metrics in demo.glob("multirun/*/*/metrics.json"):
        assert '"loss"' in metrics.read_text()
    assert len(list(demo.glob("multirun/*/hydraflow.log"))) == 4


def test_grid_demo_uses_every_syntax(demo: Path) -> None:
    result = hydraflow(demo, "run", "grid", "-j", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    first = expected(
        ["optimizer.lr=0.05", "optimizer.lr=0.1"],
        ["+tag=base_v1", "+tag=base_v2", "+tag=wide_v1", "+tag=wide_v2"],
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
    assert runs(demo) == sorted(first + second + third + zipped)


def test_joblib_launcher(demo: Path) -> None:
    result = hydraflow(demo, "run", "train-joblib")
    assert result.returncode == 0, result.stdout + result.stderr
    # Hydra leaves hydra.* overrides out of overrides.yaml; hydra.yaml names the launcher.
    assert runs(demo) == expected(MODELS, [f"seed={s}" for s in range(4)])
    launchers = [p.read_text() for p in demo.glob("multirun/*/*/.hydra/hydra.yaml")]
    assert len(launchers) == 8
    assert all("hydra_joblib_launcher" in text for text in launchers)


def test_submitit_local_launcher(demo: Path) -> None:
    result = hydraflow(demo, "run", "train-submitit", "-j", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert runs(demo) == expected(MODELS, ["seed=0", "seed=1"])
    assert len(list(demo.glob("multirun/*/.submitit"))) == 2


def test_call_mode_runs_the_app_in_process(demo: Path) -> None:
    result = hydraflow(demo, "run", "train-call")
    assert result.returncode == 0, result.stdout + result.stderr
    assert runs(demo) == expected(MODELS, ["seed=0", "seed=1"])


def test_slurm_array_script(demo: Path) -> None:
    if shutil.which("sbatch"):
        pytest.skip("a real sbatch would queue the array on this machine's cluster")
    result = hydraflow(demo, "run", "train-array", "--keep-file")
    assert result.returncode == 0, result.stdout + result.stderr
    assert runs(demo) == expected(MODELS, OPTIMIZERS)
    script = next(demo.glob("multirun/slurm-*.sh"))
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    text = script.read_text()
    assert "#SBATCH --array=0-3" in text
    batch_file = next(demo.glob(".hydraflow/submit/train-array-*.txt"))
    for line in batch_file.read_text().splitlines():
        assert line in text or f"'{line}'" in text
