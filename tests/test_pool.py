"""The pool with real child processes: overlap, slots, failure policies, timeouts, signals."""

from __future__ import annotations

import itertools
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Project, command

PY = shlex.quote(sys.executable)

# Records its start/end time, slot and devices, then sleeps; exits with code=N if given.
WORKER = """\
import json, os, sys, time
args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a and not a.startswith("hydra."))
start = time.time()
time.sleep(float(args.get("sleep", "0")))
with open(os.environ["RECORD"], "a") as f:
    f.write(json.dumps({"args": args, "start": start, "end": time.time(),
                        "slot": os.environ["HYDRAFLOW_SLOT"],
                        "batch": os.environ["HYDRAFLOW_BATCH"],
                        "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}) + "\\n")
sys.exit(int(args.get("code", "0")))
"""


def setup(project: Project, each: str, extra: str = "") -> None:
    project.write("worker.py", WORKER)
    project.yaml(f"jobs:\n  j:\n    run: {PY} worker.py\n{extra}    sets:\n      - each: {each}\n")


def rows(project: Project) -> list[dict[str, object]]:
    path = project.root / "record.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_batches_really_overlap_with_two_workers(project: Project) -> None:
    setup(project, "i=1:4 sleep=0.5")
    result = project.hydraflow("run", "j", "-j", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    records = sorted(rows(project), key=lambda r: r["start"])  # type: ignore[arg-type,return-value]
    assert len(records) == 4
    overlapping = sum(
        1
        for a, b in itertools.pairwise(records)
        if b["start"] < a["end"]  # type: ignore[operator]
    )
    assert overlapping >= 2
    assert {r["slot"] for r in records} == {"0", "1"}
    assert sorted(r["batch"] for r in records) == ["0", "1", "2", "3"]  # type: ignore[type-var]


def test_device_slots(project: Project) -> None:
    setup(project, "i=1:4 sleep=0.2", extra="    devices: 0,1\n")
    assert project.hydraflow("run", "j", "-j", "2").returncode == 0
    records = rows(project)
    assert {(r["slot"], r["cuda"]) for r in records} == {("0", "0"), ("1", "1")}
    project.root.joinpath("record.jsonl").unlink()
    assert project.hydraflow("run", "j", "--devices", "5,6,7", "-j", "1").returncode == 0
    assert {r["cuda"] for r in rows(project)} == {"5"}


def test_first_failure_stops_new_launches(project: Project) -> None:
    setup(project, "code=0,2,0,0")
    result = project.hydraflow("run", "j")
    assert result.returncode == 1
    assert [r["args"]["code"] for r in rows(project)] == ["0", "2"]  # type: ignore[index]
    assert "1 ok, 1 failed, 2 not started" in result.stdout
    assert "✗ code=2: failed (exit 2)" in result.stdout


def test_keep_going_and_max_failures(project: Project) -> None:
    setup(project, "code=1,1,0,1,0")
    everything = project.hydraflow("run", "j", "--keep-going")
    assert everything.returncode == 1 and len(rows(project)) == 5
    assert "5 batches, 5 runs" in everything.stdout and "2 ok, 3 failed" in everything.stdout
    assert "not started" not in everything.stdout
    project.root.joinpath("record.jsonl").unlink()
    two = project.hydraflow("run", "j", "--max-failures", "2")
    assert two.returncode == 1 and len(rows(project)) == 2


def test_retries_rerun_a_failed_batch(project: Project) -> None:
    setup(project, "code=3")
    result = project.hydraflow("run", "j", "--retries", "2")
    assert result.returncode == 1 and len(rows(project)) == 3
    assert "(attempt 3)" in result.stdout


def test_timeout_kills_the_batch_and_its_grandchild(project: Project) -> None:
    project.write(
        "spawn.py",
        """\
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(os.environ["RECORD"], "w") as f:
            f.write(str(child.pid))
        time.sleep(600)  # past the test's own time limit
        """,
    )
    project.yaml(f"jobs:\n  j:\n    run: {PY} spawn.py\n")
    result = project.hydraflow("run", "j", "--timeout", "1")
    assert result.returncode == 1
    assert "timed out after 1.0s" in result.stdout
    grandchild = int((project.root / "record.jsonl").read_text())
    assert not _alive(grandchild)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_interrupt_stops_every_process_of_every_batch(
    project: Project, sig: signal.Signals
) -> None:
    project.write(
        "spawn.py",
        """\
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        with open(os.environ["RECORD"], "a") as f:
            f.write(f"{os.getpid()} {child.pid}\\n")
        time.sleep(60)
        """,
    )
    project.yaml(f"jobs:\n  j:\n    run: {PY} spawn.py\n    sets:\n      - each: i=1:4\n")
    env = {**os.environ, "NO_COLOR": "1", "RECORD": str(project.root / "record.jsonl")}
    runner = subprocess.Popen(
        [*command("hydraflow"), "run", "j", "-j", "2"],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    record = project.root / "record.jsonl"
    deadline = time.time() + 30
    while time.time() < deadline and (not record.exists() or len(record.read_text().split()) < 4):
        time.sleep(0.1)
    runner.send_signal(sig)
    out, err = runner.communicate(timeout=30)
    pids = [int(p) for p in record.read_text().split()]
    assert len(pids) == 4
    if sig == signal.SIGKILL:
        # Nothing of the runner is left to report, but its watchdog stops the batches.
        assert runner.returncode == -signal.SIGKILL
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.1)
    else:
        assert runner.returncode == 130, out + err
        assert "Traceback" not in err
        assert "2 interrupted, 2 not started" in out and "to go on: hydraflow run j --resume" in out
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids)


def test_output_is_printed_verbatim_and_logged(project: Project) -> None:
    project.write(
        "noisy.py",
        """\
        import sys
        sys.stdout.buffer.write(b"[/tmp/x] and [bold]not bold[/bold]\\n")
        sys.stdout.buffer.write(b"bad utf8 \\xff\\xfe here\\n")
        sys.stderr.write("to stderr\\n")
        """,
    )
    project.yaml(f"jobs:\n  j:\n    run: {PY} noisy.py\n    sets:\n      - each: k=a,b\n")
    result = subprocess.run(
        [*command("hydraflow"), "run", "j"],
        cwd=project.root,
        capture_output=True,
        env={**os.environ, "TERM": "dumb"},
        timeout=60,
    )
    assert result.returncode == 0
    assert b"[k=a] [/tmp/x] and [bold]not bold[/bold]\n" in result.stdout
    assert b"[k=b] bad utf8 \xff\xfe here\n" in result.stdout
    assert b"\x1b" not in result.stdout + result.stderr
    logs = sorted((project.root / "multirun").glob("*/*/hydraflow.log"))
    assert len(logs) == 2
    for log in logs:
        assert log.read_bytes().splitlines() == [
            b"[/tmp/x] and [bold]not bold[/bold]",
            b"bad utf8 \xff\xfe here",
            b"to stderr",
        ] or sorted(log.read_bytes().splitlines()) == sorted(
            [b"[/tmp/x] and [bold]not bold[/bold]", b"bad utf8 \xff\xfe here", b"to stderr"]
        )


def test_quiet_keeps_output_in_the_logs_only(project: Project) -> None:
    project.yaml(f"jobs:\n  j:\n    run: {PY} -c 'print(\"secret line\")'\n")
    result = project.hydraflow("run", "j", "--quiet")
    assert result.returncode == 0 and "secret line" not in result.stdout
    log = next((project.root / "multirun").glob("*/*/hydraflow.log"))
    assert log.read_text() == "secret line\n"


def test_a_missing_program_is_a_failed_batch(project: Project) -> None:
    project.yaml("jobs:\n  j:\n    run: surely-not-a-program-42\n")
    result = project.hydraflow("run", "j")
    assert result.returncode == 1 and "cannot start" in result.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_interrupting_a_submit_stops_the_handler(project: Project) -> None:
    project.write(
        "handler.py",
        """\
        import os, time
        with open(os.environ["RECORD"], "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)
        """,
    )
    project.yaml(f"jobs:\n  s:\n    submit: {PY} handler.py\n")
    env = {**os.environ, "RECORD": str(project.root / "record.jsonl")}
    runner = subprocess.Popen([*command("hydraflow"), "run", "s"], cwd=project.root, env=env)
    record = project.root / "record.jsonl"
    deadline = time.time() + 30
    while time.time() < deadline and not (record.exists() and record.read_text()):
        time.sleep(0.1)
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=30) == 130
    assert not _alive(int(record.read_text()))
    assert not list((project.root / ".hydraflow" / "submit").glob("*.txt"))


# Prints a line, then waits (at most 30 s) for the test to say it has seen it.
LIVE_APP = """\
import os, time

def main():
    print("first line")
    for _ in range(300):
        if os.path.exists("seen"):
            break
        time.sleep(0.1)
    print("the test saw it" if os.path.exists("seen") else "nobody saw it")

if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("warm", ["false", "true"])
def test_a_python_batch_shows_each_line_when_it_prints_it(project: Project, warm: str) -> None:
    # Into a pipe, Python holds its output back until it ends: a long batch would show
    # nothing, in the view or the log, until then.
    project.write("app.py", LIVE_APP)
    project.yaml(f"jobs:\n  j:\n    run: {PY} app.py\n    warm: {warm}\n    record: false\n")
    assert "PYTHONUNBUFFERED" not in os.environ  # as on a user's machine
    runner = subprocess.Popen(
        [*command("hydraflow"), "run", "j"], cwd=project.root, stdout=subprocess.PIPE, text=True
    )
    assert runner.stdout is not None
    lines = []
    try:
        for line in runner.stdout:
            lines.append(line)
            if "first line" in line:
                (project.root / "seen").touch()
        assert runner.wait(timeout=60) == 0
    finally:
        runner.kill()
    assert any(line.endswith("] the test saw it\n") for line in lines), lines
