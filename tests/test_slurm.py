"""hydraflow-slurm and Hydra's submitit_slurm launcher against a real one-node Slurm.

The cluster is started for this session when the machine has Slurm and munge
(`apt-get install slurm-wlm munge`, as root); elsewhere these tests skip. With
CI=true, a Slurm that is installed but does not start is a failure.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Project, command, expected, hydra_runs, run_demo
from slurm_cluster import LocalSlurm, SlurmError, missing_binaries

PY = shlex.quote(sys.executable)


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurm]:
    missing = missing_binaries()
    if missing:
        pytest.skip(
            f"no Slurm here (missing {', '.join(missing)}): apt-get install slurm-wlm munge"
        )
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except SlurmError as error:
        cluster.stop()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Slurm is installed but did not start: {error}")
        pytest.skip(f"Slurm did not start: {error}")
    yield cluster
    cluster.stop()


def test_train_slurm_runs_every_batch_as_an_array_task(demo: Path, slurm: LocalSlurm) -> None:
    result = run_demo(demo, "run", "train-slurm", env={"SLURM_CONF": str(slurm.conf)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "submitted" in result.stdout and "4 ok, 0 failed" in result.stdout
    assert hydra_runs(demo) == expected(
        ["model=small", "model=large"],
        ["optimizer=sgd", "optimizer=momentum"],
        ["seed=0", "seed=1", "seed=2"],
    )
    assert len(list(demo.glob("multirun/slurm-*_*.out"))) == 4


def test_train_submitit_sends_every_run_to_slurm(demo: Path, slurm: LocalSlurm) -> None:
    result = run_demo(demo, "run", "train-submitit", "-j", "2", env={"SLURM_CONF": str(slurm.conf)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert hydra_runs(demo) == expected(["model=small", "model=large"], ["seed=0", "seed=1"])
    assert len(list(demo.glob("multirun/*/*/.submitit/*"))) >= 4


def _failing_job(project: Project, flags: str) -> None:
    project.write(
        "app.py",
        """\
        import sys
        args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
        print("running", args.get("x"))
        sys.exit(3 if args.get("x") == "2" else 0)
        """,
    )
    project.yaml(
        f"jobs:\n  j:\n    submit: hydraflow-slurm {flags} {PY} app.py\n"
        "    sets:\n      - each: x=1:3\n"
    )


def _env() -> dict[str, str]:
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def test_a_failing_batch_in_the_array_fails_the_run(project: Project, slurm: LocalSlurm) -> None:
    _failing_job(project, "--max-running 2")
    result = project.hydraflow("run", "j", env={**_env(), "SLURM_CONF": str(slurm.conf)})
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and "exit 3" in failed[0] and "x=2" in failed[0]
    assert "2 ok, 1 failed" in result.stdout


def test_local_mode_runs_the_array_here(project: Project) -> None:
    _failing_job(project, "--local")
    result = project.hydraflow("run", "j", env=_env())
    assert result.returncode == 1, result.stdout + result.stderr
    assert "running the 3 array tasks locally" in result.stdout
    logs = sorted(p.read_text() for p in project.root.glob("multirun/*/*/hydraflow.log"))
    assert logs == ["running 1\n", "running 2\n", "running 3\n"]


def test_dry_run_prints_a_valid_array_script(project: Project, tmp_path: Path) -> None:
    project.yaml(
        "jobs:\n  j:\n    submit: hydraflow-slurm --dry-run --partition gpu --max-running 2"
        " --gpus 1 python app.py\n    sets:\n      - each: x=1:5 msg='\"a b\"'\n"
    )
    result = project.hydraflow("run", "j", env=_env())
    assert result.returncode == 0, result.stderr
    script = result.stdout
    path = tmp_path / "array.sh"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0
    assert "#SBATCH --array=0-4%2" in script and "#SBATCH --partition=gpu" in script
    assert "#SBATCH --gpus=1" in script
    for x in range(1, 6):
        assert f"set -- python app.py --multirun x={x} 'msg=\"a b\"' " in script


def test_handler_usage_errors() -> None:
    result = subprocess.run(
        [*command("hydraflow-slurm")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "COMMAND... BATCH_FILE" in result.stderr
