"""hydraflow-slurm and Hydra's submitit_slurm launcher against a real one-node Slurm.

The cluster is started for this session when the machine has Slurm and munge
(`apt-get install slurm-wlm munge`, as root); elsewhere these tests skip. With
CI=true, a Slurm that is installed but does not start is a failure.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from check_apps import started_nothing, write_app
from conftest import Project, command, expected, hydra_runs, run_demo
from slurm_cluster import LocalSlurm, SlurmError, missing_binaries
from test_check import JOB, expected_problems, problems_of

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


@pytest.mark.parametrize(("own", "seen"), [(None, "'1'"), ("", "''")])
def test_array_tasks_print_as_they_go_unless_the_user_chose(
    project: Project, own: str | None, seen: str
) -> None:
    # A Slurm log is followed with tail -f: Python must not hold its lines back.
    project.write("app.py", "import os\nprint(repr(os.environ.get('PYTHONUNBUFFERED')))\n")
    project.yaml(f"jobs:\n  j:\n    submit: hydraflow-slurm --local {PY} app.py\n")
    env = _env() if own is None else {**_env(), "PYTHONUNBUFFERED": own}
    assert project.hydraflow("run", "j", env=env).returncode == 0
    logs = [p.read_text() for p in project.root.glob("multirun/*/*/hydraflow.log")]
    assert logs == [seen + "\n"]


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
        assert f" hydraflow.exit python app.py --multirun x={x} 'msg=\"a b\"' " in script


def test_handler_usage_errors() -> None:
    result = subprocess.run(
        [*command("hydraflow-slurm")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "COMMAND... BATCH_FILE" in result.stderr


def _status(project: Project, env: dict[str, str]) -> dict[str, int]:
    report = json.loads(project.hydraflow("status", "j", "--json", env=env).stdout)["jobs"][0]
    return {k: v for k, v in report["counts"].items() if v}


def test_submit_log_out_status_and_resume(project: Project, slurm: LocalSlurm) -> None:
    project.write(
        "app.py",
        """\
        import os, sys
        args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
        with open(os.environ["RECORD"], "a") as f:
            f.write(args["x"] + "\\n")
        sys.exit(3 if args["x"] == "3" and os.path.exists("broken") else 0)
        """,
    )
    project.yaml(
        f"jobs:\n  j:\n    submit: hydraflow-slurm --no-wait {PY} app.py\n    record: false\n"
        "    sets:\n      - each: x=1:6\n"
    )
    (project.root / "broken").touch()
    env = {**_env(), "SLURM_CONF": str(slurm.conf), "RECORD": str(project.root / "calls.txt")}
    submitted = project.hydraflow("run", "j", env=env)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    assert "(6 array tasks)" in submitted.stdout
    first = _status(project, env)
    assert set(first) <= {"queued", "running", "ok", "failed"} and sum(first.values()) == 6
    deadline = time.time() + 120
    while time.time() < deadline and (first := _status(project, env)).keys() & {
        "queued",
        "running",
    }:
        time.sleep(0.5)
    # Every batch has its exit file now: no scheduler is asked (none is on this PATH).
    offline = {**env, "PATH": "/usr/bin:/bin"}
    assert _status(project, offline) == {"ok": 5, "failed": 1}
    (project.root / "broken").unlink()
    resumed = project.hydraflow("run", "j", "--resume", env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "(1 array tasks)" in resumed.stdout
    while time.time() < deadline and _status(project, env).keys() & {"queued", "running"}:
        time.sleep(0.5)
    assert _status(project, env) == {"ok": 6}
    calls = sorted((project.root / "calls.txt").read_text().split())
    assert calls == ["1", "2", "3", "3", "4", "5", "6"]


def test_per_task_batches_and_the_ledger_without_slurm(project: Project) -> None:
    _failing_job(project, "--local --per-task 2")
    result = project.hydraflow("run", "j", env=_env())
    assert result.returncode == 1
    assert "running the 2 array tasks locally" in result.stdout
    assert _status(project, _env()) == {"ok": 2, "failed": 1}
    preview = project.hydraflow("run", "j", "--resume", "--dry-run", env=_env()).stdout
    assert preview.count("# skipped, succeeded before") == 2 and "x=2" in preview.splitlines()[2]


def test_a_refused_submission_says_why_and_leaves_nothing_claimed(project: Project) -> None:
    _failing_job(project, "")
    bin_dir = project.write(
        "bin/sbatch", "#!/bin/sh\necho 'sbatch: error: Invalid partition' >&2\nexit 1\n"
    )
    bin_dir.chmod(0o755)
    env = {"PATH": f"{bin_dir.parent}{os.pathsep}{_env()['PATH']}"}
    result = project.hydraflow("run", "j", env=env)
    assert result.returncode != 0
    assert "Invalid partition" in result.stderr and "--local" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not {"running", "queued"} & set(_status(project, env))
    again = project.hydraflow("run", "j", "--resume", "--dry-run", env=env).stdout
    assert "skipped" not in again  # nothing counts as done or taken


def test_ctrl_c_while_waiting_cancels_the_array(project: Project, slurm: LocalSlurm) -> None:
    project.write("app.py", "import time\ntime.sleep(120)\n")
    project.yaml(
        f"jobs:\n  j:\n    submit: hydraflow-slurm {PY} app.py\n    record: false\n"
        "    sets:\n      - each: x=1:2\n"
    )
    env = {**_env(), "SLURM_CONF": str(slurm.conf)}
    runner = project.start("run", "j", env=env)
    deadline = time.time() + 60
    while time.time() < deadline and not _status(project, env).keys() & {"queued", "running"}:
        time.sleep(0.3)
    job = ""
    while time.time() < deadline and not job:  # submitted, and the handler waits on it
        queue = ["squeue", "-h", "-o", "%A"]
        job = subprocess.run(queue, env=env, capture_output=True, text=True).stdout.strip()
        time.sleep(0.3)
    assert job, "the array never reached the queue"
    runner.send_signal(signal.SIGINT)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, out + err
    assert "Traceback" not in out + err
    while time.time() < deadline:
        queue = subprocess.run(
            ["squeue", "-h"], env=env, capture_output=True, text=True, check=False
        ).stdout
        if not queue.strip():
            break
        time.sleep(0.3)
    assert not queue.strip(), f"still queued after Ctrl-C: {queue}"
    assert not _status(project, env).keys() & {"queued", "running"}


def test_handler_options_after_dashes_are_not_part_of_a_batch(project: Project) -> None:
    """`-- --local` (or `-- --no-wait`) changes how batches are sent, not what they are:
    a resume without it still knows what succeeded."""
    _failing_job(project, "")
    assert project.hydraflow("run", "j", "--", "--local", env=_env()).returncode == 1
    assert _status(project, _env()) == {"ok": 2, "failed": 1}
    preview = project.hydraflow("run", "j", "--resume", "--dry-run", env=_env()).stdout
    assert preview.count("# skipped, succeeded before") == 2


@pytest.mark.parametrize("kind", ["yaml", "dataclass"])
def test_the_check_stops_a_submit_job_before_sbatch(
    project: Project, slurm: LocalSlurm, kind: str
) -> None:
    """Every problem of the array's batches is found before anything is submitted."""
    write_app(project, kind)
    name = f"check-{kind}"
    project.yaml(JOB.replace("run:", f"submit: hydraflow-slurm --job-name {name} --time 5"))
    ran = project.here("run", "fit", env={**_env(), "SLURM_CONF": str(slurm.conf)})
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert problems_of(ran.stderr) == expected_problems(kind)
    assert started_nothing(project) and "submitted" not in ran.stdout
    jobs = subprocess.run(
        ["squeue", "-h", "-t", "all", "-n", name, "-o", "%i"],
        env={**os.environ, "SLURM_CONF": str(slurm.conf)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert jobs.stdout.strip() == ""
