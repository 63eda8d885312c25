"""Warm starts: batches forked from a process that imported the job's code once, and
still each a real process (group, output, environment, exit status, ledger row)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import Project, run_demo

from hydraflow.config import Config, load
from hydraflow.engine.starters import Spawner
from hydraflow.engine.warm import ColdCalls, WarmServer, starter_for
from hydraflow.modes import AppSpec

PY = shlex.quote(sys.executable)

# A Hydra app that notes its process, its device (read as the app starts) and a value.
APP = """\
import json, os, sys, time
DEVICE = os.environ.get("CUDA_VISIBLE_DEVICES")
import hydra
from omegaconf import DictConfig

@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig):
    with open(os.environ["RECORD"], "a") as f:
        f.write(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "device": DEVICE,
                            "slot": os.environ["HYDRAFLOW_SLOT"], "x": cfg.x,
                            "start": time.time()}) + "\\n")
    time.sleep(cfg.nap)
    if cfg.x == cfg.fail_at:
        raise SystemExit(f"x={cfg.x} fails")
    time.sleep(0)
    return {"double": cfg.x * 2}

if __name__ == "__main__":
    main()
"""


@pytest.fixture
def app(project: Project) -> Project:
    project.write("app.py", APP)
    project.write("conf/config.yaml", "x: 0\nnap: 0\nfail_at: -1\n")
    return project


def job(project: Project, warm: str = "true", each: str = "x=1:4", add: str = "") -> None:
    project.yaml(
        f"jobs:\n  j:\n    run: {PY} app.py\n    warm: {warm}\n    add: {add}\n"
        f"    sets:\n      - each: {each}\n"
    )


def notes(project: Project) -> list[dict[str, object]]:
    path = project.root / "record.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def hydra_files(root: Path) -> list[tuple[str, ...]]:
    """What Hydra wrote for each run, without what differs between any two runs (times,
    folders, the run's ids)."""
    found = []
    for run in sorted(root.glob("multirun/j/*/0")):
        overrides = yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text())
        config = (run / ".hydra" / "config.yaml").read_text()
        value = json.loads((run / "hydraflow.run.json").read_text())["value"]
        found.append((*overrides, config, json.dumps(value)))
    return sorted(found)


def test_warm_and_cold_runs_write_the_same_runs(app: Project) -> None:
    job(app, warm="false")
    assert app.hydraflow("run", "j", "-j", "2").returncode == 0
    cold = hydra_files(app.root)
    for path in (app.root / "multirun").iterdir():
        subprocess.run(["rm", "-rf", str(path)], check=True)
    job(app, warm="true")
    assert app.hydraflow("run", "j", "-j", "2").returncode == 0
    warm = hydra_files(app.root)
    assert len(warm) == 4 and warm == cold
    pids = {n["ppid"] for n in notes(app)[4:]}
    assert len(pids) == 1  # every warm batch is a child of the one warm process


def test_each_warm_child_gets_its_device_before_the_app_starts(app: Project) -> None:
    job(app, each="x=1:4", add="nap=0.3")
    assert app.hydraflow("run", "j", "-j", "2", "--devices", "5,7").returncode == 0
    assert {(n["slot"], n["device"]) for n in notes(app)} == {("0", "5"), ("1", "7")}


def test_a_failing_warm_batch_fails_the_run_and_is_recorded(app: Project) -> None:
    job(app, add="fail_at=2")
    result = app.hydraflow("run", "j", "--keep-going")
    assert result.returncode == 1
    db = sqlite3.connect(app.root / ".hydraflow" / "ledger.db")
    statuses = dict(db.execute("SELECT label, status FROM attempts"))
    assert statuses == {"x=1": "ok", "x=2": "failed", "x=3": "ok", "x=4": "ok"}
    assert "x=2 fails" in result.stdout


def test_timeout_stops_a_warm_batch_and_its_grandchild(project: Project) -> None:
    project.write(
        "spawner.py",
        "import os, subprocess, sys, time\n"
        "if __name__ == '__main__':\n"
        "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "    open(os.environ['RECORD'], 'w').write(str(child.pid))\n"
        "    time.sleep(600)\n",  # past the test's own time limit
    )
    project.yaml(f"jobs:\n  j:\n    run: {PY} spawner.py\n    warm: true\n")
    result = project.hydraflow("run", "j", "--timeout", "2")
    assert result.returncode == 1 and "timed out" in result.stdout
    grandchild = int((project.root / "record.jsonl").read_text())
    time.sleep(0.3)
    assert (
        not Path(f"/proc/{grandchild}").exists()
        or "State:\tZ" in Path(f"/proc/{grandchild}/status").read_text()
    )


def test_ctrl_c_leaves_no_process(app: Project) -> None:
    job(app, add="nap=60")
    runner = app.start("run", "j", "-j", "2")
    deadline = time.time() + 60
    while time.time() < deadline and len(notes(app)) < 2:
        time.sleep(0.1)
    runner.send_signal(signal.SIGINT)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, out + err
    time.sleep(0.5)
    for note in notes(app):
        for pid in (note["pid"], note["ppid"]):  # the batch, and the warm process
            alive = Path(f"/proc/{pid}").exists()
            assert not alive or "State:\tZ" in Path(f"/proc/{pid}/status").read_text()


def test_a_call_job_runs_two_batches_at_once(project: Project) -> None:
    project.write(
        "calls.py",
        "import json, os, time\n"
        "def work(args):\n"
        "    start = time.time()\n"
        "    time.sleep(0.5)\n"
        "    with open(os.environ['RECORD'], 'a') as f:\n"
        "        f.write(json.dumps([start, time.time(), os.getpid()]) + '\\n')\n",
    )
    project.yaml("jobs:\n  c:\n    call: calls.work\n    sets:\n      - each: i=1:4\n")
    result = project.hydraflow("run", "c", "-j", "2")
    assert result.returncode == 0, result.stdout
    spans = sorted(tuple(n) for n in notes(project))  # type: ignore[misc]
    assert len(spans) == 4 and len({s[2] for s in spans}) == 4  # a process per batch
    assert spans[1][0] < spans[0][1]  # the first two overlap


def test_a_cold_call_job_gives_each_batch_a_fresh_interpreter(project: Project) -> None:
    project.write(
        "calls.py",
        "import json, os, sys\n"
        "def work(args):\n"
        "    cold = '--once' in sys.argv  # a fresh interpreter for this batch alone\n"
        "    open(os.environ['RECORD'], 'a').write(json.dumps([cold, args[1]]) + '\\n')\n",
    )
    project.yaml(
        "jobs:\n  c:\n    call: calls.work\n    warm: false\n    sets:\n      - each: i=1:3\n"
    )
    result = project.hydraflow("run", "c")
    assert result.returncode == 0, result.stdout
    assert sorted(n[1] for n in notes(project)) == ["i=1", "i=2", "i=3"]  # type: ignore[index]
    assert all(n[0] for n in notes(project))  # type: ignore[index]


def test_call_batches_are_isolated_and_quiet(project: Project) -> None:
    project.write(
        "calls.py",
        "import sys\nSTATE = []\n"
        "def work(args):\n"
        "    STATE.append(args)\n"
        "    print('loud', len(STATE))\n"
        "    if 'i=2' in args:\n"
        "        sys.exit(3)\n",
    )
    project.yaml("jobs:\n  c:\n    call: calls.work\n    sets:\n      - each: i=1:3\n")
    result = project.hydraflow("run", "c", "--keep-going", "--quiet")
    assert result.returncode == 1
    assert "] loud" not in result.stdout  # --quiet quiets call jobs too
    logs = sorted(p.read_text() for p in project.root.glob("multirun/c/*/hydraflow.log"))
    assert logs == ["loud 1\n"] * 3  # nothing of one batch reaches the next


def test_warm_needs_a_python_command(project: Project) -> None:
    project.yaml("jobs:\n  j:\n    run: sh -c true\n    warm: true\n")
    result = project.hydraflow("run", "j", "--dry-run")
    assert result.returncode == 2 and "python SCRIPT" in result.stderr
    assert result.stderr.startswith("error: hydraflow.yaml:4: job 'j': warm")  # warm's line
    project.yaml(f"jobs:\n  j:\n    run: {PY} -u app.py\n    warm: true\n")
    assert "interpreter options" in project.hydraflow("run", "j").stderr


def test_warm_runs_a_module_and_preloads_more(project: Project) -> None:
    project.write("pkg/__init__.py", "")
    project.write(
        "pkg/main.py",
        "import json, os, sys\n"
        "if __name__ == '__main__':\n"
        "    loaded = 'colorsys' in sys.modules\n"
        "    open(os.environ['RECORD'], 'a').write(json.dumps([sys.argv[1:3], loaded]) + '\\n')\n",
    )
    project.yaml(
        f"jobs:\n  m:\n    run: {PY} -m pkg.main\n    warm: [colorsys]\n"
        "    sets:\n      - each: k=a,b\n"
    )
    result = project.hydraflow("run", "m")
    assert result.returncode == 0, result.stdout
    assert sorted(tuple(n[0]) for n in notes(project)) == [  # type: ignore[arg-type]
        ("--multirun", "k=a"),
        ("--multirun", "k=b"),
    ]
    assert all(n[1] for n in notes(project))  # type: ignore[index]


def test_without_fork_a_process_per_batch_and_one_line(
    app: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    job(app)
    config = load(app.root / "hydraflow.yaml")
    spec = app_of(config, "j")
    said: list[str] = []
    monkeypatch.delattr(os, "fork")
    starter = starter_for(spec, os.environ, app.root, said.append)
    assert type(starter) is Spawner and len(said) == 1 and "fork" in said[0]
    calls = load(_call_yaml(app))
    call = app_of(calls, "c")
    assert isinstance(starter_for(call, os.environ, app.root, said.append), ColdCalls)


def app_of(config: Config, name: str) -> AppSpec | None:
    job = config.job(name)
    return job.mode.app(job, config.root)


def _call_yaml(project: Project) -> Path:
    project.write("calls.py", "def work(args):\n    pass\n")
    return project.write("other.yaml", "jobs:\n  c:\n    call: calls.work\n")


def test_threads_in_preloading_make_fork_unsafe(app: Project) -> None:
    app.write(
        "threads.py",
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n",
    )
    app.yaml(f"jobs:\n  j:\n    run: {PY} app.py\n    warm: [threads]\n")
    result = app.hydraflow("run", "j")
    assert result.returncode == 0, result.stdout
    assert "not safe here (preloading started threads" in result.stdout
    config = load(app.root / "hydraflow.yaml")
    spec = app_of(config, "j")
    assert spec is not None
    with pytest.raises(Exception, match="threads"):
        WarmServer(spec, {**os.environ, "PYTHONPATH": str(app.root)}, app.root)


def test_the_demo_call_job_runs_warm(demo: Path) -> None:
    result = run_demo(demo, "run", "train-call", "-j", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list(demo.glob("multirun/train-call/*/*/hydraflow.run.json"))) == 4


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="lists descriptors from /proc")
def test_a_forked_batch_holds_no_descriptor_of_another(project: Project) -> None:
    """A batch that held another's status pipe would keep it from ever seeing its end,
    should the warm process be killed."""
    project.write(
        "fds.py",
        "import os, sys, time\n"
        "def work(args):\n"
        "    if args == ['hold']:\n"
        "        time.sleep(2)\n"
        "    print(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))\n",
    )
    project.yaml("jobs:\n  c:\n    call: fds.work\n")
    config = load(project.root / "hydraflow.yaml")
    spec = app_of(config, "c")
    assert spec is not None
    server = WarmServer(spec, os.environ, project.root)
    try:
        holding = server.start(["fds.work", "hold"], {})
        listing = server.start(["fds.work", "list"], {})
        out = b""
        while chunk := os.read(listing.stdout, 4096):
            out += chunk
        # 0-2, and the descriptor that listed the folder
        assert len(json.loads(out)) == 4, out
        for child in (holding, listing):
            while child.poll() is None:
                time.sleep(0.05)
            assert child.poll() == 0
            child.close()
    finally:
        server.close()


def test_what_preloading_printed_is_in_no_batch(project: Project) -> None:
    # Held in the warm process's buffer (PYTHONUNBUFFERED set empty: buffered), it would
    # be written again by every child it forks.
    project.write("app.py", "print('imported')\nif __name__ == '__main__':\n    print('ran')\n")
    project.yaml(f"jobs:\n  j:\n    run: {PY} app.py\n    warm: true\n    record: false\n"
                 "    sets:\n      - each: i=1,2\n")  # fmt: skip
    result = project.hydraflow("run", "j", env={"PYTHONUNBUFFERED": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    logs = [p.read_text() for p in sorted(project.root.glob("multirun/j/*/hydraflow.log"))]
    assert logs == ["imported\nran\n"] * 2


SIGNALS_AT_IMPORT = """\
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, signal.SIGUSR1})
signal.signal(signal.SIGUSR2, signal.SIG_IGN)
os.environ["FROM_IMPORT"] = "set while loading"

def mask(name):
    for line in open("/proc/self/status"):
        if line.startswith(name):
            return int(line.split()[1], 16)

def main():
    with open(os.environ["RECORD"], "a") as f:
        f.write(json_line(blocked=mask("SigBlk"), ignored=mask("SigIgn"),
                          env=os.environ.get("FROM_IMPORT"), slot=os.environ["HYDRAFLOW_SLOT"]))

def json_line(**values):
    import json
    return json.dumps(values) + "\\n"

if __name__ == "__main__":
    main()
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads masks from /proc")
def test_an_app_that_blocks_sigchld_at_import_runs_warm_as_cold(project: Project) -> None:
    """Warm, the batches of such an app were never seen to end: hydraflow hung. Each batch
    now sees the signals (and the environment its imports set) it sees cold."""
    project.write("sig.py", SIGNALS_AT_IMPORT)
    seen = {}
    for warm in ("false", "true"):
        project.yaml(
            f"jobs:\n  j:\n    run: {PY} sig.py\n    warm: {warm}\n    sets:\n      - each: i=1:3\n"
        )
        ran = project.hydraflow("run", "j", "-j", "2")  # bounded: 120 s
        assert ran.returncode == 0, ran.stdout + ran.stderr
        record = project.root / "record.jsonl"
        rows = [json.loads(line) for line in record.read_text().splitlines()]
        record.unlink()
        assert len(rows) == 3
        # The standard signals (glibc's posix_spawn leaves its own 32 and 33 as they were).
        standard = (1 << 31) - 1
        seen[warm] = {(r["blocked"], r["ignored"] & standard, r["env"]) for r in rows}
    assert seen["true"] == seen["false"]
    ((blocked, ignored, env),) = seen["true"]
    assert blocked == (1 << (signal.SIGCHLD - 1)) | (1 << (signal.SIGUSR1 - 1))  # its own
    assert ignored & (1 << (signal.SIGPIPE - 1))  # as Python has it
    assert env == "set while loading"


def test_what_imports_set_in_the_environment_reaches_every_warm_batch(project: Project) -> None:
    """A helper imported once by the warm process sets a variable: its children must keep
    it (they replaced their environment with hydraflow's), as a cold batch has it."""
    project.write("helper.py", 'import os\nos.environ["FROM_HELPER"] = "1"\n')
    project.write(
        "uses.py",
        "import helper, json, os\n"
        "if __name__ == '__main__':\n"
        "    with open(os.environ['RECORD'], 'a') as f:\n"
        "        f.write(json.dumps([os.environ.get('FROM_HELPER'), os.environ['HYDRAFLOW_SLOT'],"
        " os.environ.get('CUDA_VISIBLE_DEVICES')]) + '\\n')\n",
    )
    project.yaml(
        f"jobs:\n  j:\n    run: {PY} uses.py\n    warm: true\n    devices: 4,5\n"
        "    sets:\n      - each: i=1:4\n"
    )
    ran = project.here("run", "j", "-j", "2")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    seen = [json.loads(line) for line in (project.root / "record.jsonl").read_text().splitlines()]
    assert len(seen) == 4 and all(helper == "1" for helper, _, _ in seen)
    assert {(slot, device) for _, slot, device in seen} == {("0", "4"), ("1", "5")}
