"""Regression tests for the hardening pass: no silent success, no traceback, no hang,
no batch twice. Each test names the defect it guards against."""

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
from conftest import Project, assert_linear, capped, command

PY = shlex.quote(sys.executable)


def ledger_rows(project: Project) -> list[dict[str, object]]:
    db = sqlite3.connect(project.root / ".hydraflow" / "ledger.db")
    db.row_factory = sqlite3.Row
    return [dict(row) for row in db.execute("SELECT * FROM attempts ORDER BY id")]


def start(project: Project, *args: str, **env: str) -> subprocess.Popen[str]:
    return project.start(*args, env=env)


# -- 1. a failure inside hydraflow fails the run, in one line, with an accurate record ----------


def test_a_ledger_that_breaks_mid_run_fails_the_run(project: Project) -> None:
    project.write(
        "breaker.py",
        """\
        import sqlite3, sys
        if "i=2" in sys.argv:
            sqlite3.connect(".hydraflow/ledger.db").execute("DROP TABLE attempts")
        """,
    )
    project.yaml(f"jobs:\n  j:\n    run: {PY} breaker.py\n    sets:\n      - each: i=1:4\n")
    result = project.hydraflow("run", "j")
    assert result.returncode in (1, 2), result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "ledger" in result.stdout + result.stderr


def test_a_log_that_cannot_be_written_fails_the_run_and_is_recorded(project: Project) -> None:
    project.yaml(f"jobs:\n  j:\n    run: {PY} -c 'print(1)'\n    sets:\n      - each: i=1:3\n")
    (project.root / "multirun").write_text("a file where the sweep folders should go")
    result = project.hydraflow("run", "j")
    assert result.returncode == 1
    assert "cannot write the log" in result.stdout and "Traceback" not in result.stderr
    assert [row["status"] for row in ledger_rows(project)] == ["failed"]


def test_an_argument_that_is_not_utf8_reaches_the_program(project: Project) -> None:
    project.write(
        "raw.py",
        "import os, sys\nopen(os.environ['RECORD'], 'wb').write(os.fsencode(sys.argv[1]))\n",
    )
    project.yaml(f"jobs:\n  j:\n    run: {PY} raw.py\n")
    result = subprocess.run(
        [*command("hydraflow"), "run", "j", "--", os.fsdecode(b"\xff")],
        cwd=project.root,
        env={**os.environ, "RECORD": str(project.root / "record.jsonl")},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (project.root / "record.jsonl").read_bytes() == b"\xff"


def test_a_nul_in_the_command_is_a_usage_error(project: Project) -> None:
    project.yaml('jobs:\n  j:\n    run: "echo a\\0b"\n')
    result = project.hydraflow("run", "j")
    assert result.returncode == 2 and "NUL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("program", ["hydraflow run", "invoke"])
def test_a_closed_pipe_downstream_ends_the_run_quietly(project: Project, program: str) -> None:
    project.write("tasks.py", "import hydraflow\nns = hydraflow.collection()\n")
    project.write("chatty.py", "for i in range(10**6):\n    print(i)\n")
    project.yaml(f"jobs:\n  chatty:\n    run: {PY} chatty.py\n    sets:\n      - each: i=1:3\n")
    head = shlex.join([*command(program.split()[0]), *program.split()[1:]])
    pipeline = subprocess.run(
        ["bash", "-c", f"{head} chatty | head -2; exit ${{PIPESTATUS[0]}}"],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert len(pipeline.stdout.splitlines()) == 2
    assert "Traceback" not in pipeline.stderr and "Error" not in pipeline.stderr
    assert pipeline.returncode == 141  # stopped, as the README says: never a success
    statuses = {row["status"] for row in ledger_rows(project)}
    assert "running" not in statuses and statuses <= {"interrupted", "ok"}


@pytest.mark.parametrize("closed", [">&-", "2>&-", "<&-", "<&- >&- 2>&-"])
@pytest.mark.parametrize("program", ["hydraflow run", "invoke"])
def test_streams_closed_before_the_start_are_nobody_watching(
    project: Project, program: str, closed: str
) -> None:
    # As from a daemon or `cron` without descriptors: no traceback, the work done, and the
    # ledger (which would otherwise be opened as descriptor 1 or 2) left whole.
    project.write("tasks.py", "import hydraflow\nns = hydraflow.collection()\n")
    project.write("say.py", "print('x' * 100)\n")
    project.yaml(
        f"jobs:\n  j:\n    run: {PY} say.py\n    sets:\n      - each: i=1:3\n"
        f"  bad:\n    run: {PY} -c 'import sys; sys.exit(3)'\n"
    )
    head = shlex.join([*command(program.split()[0]), *program.split()[1:]])
    for job, code in (("j", 0), ("bad", 1)):
        argv = ["sh", "-c", f"exec {head} {job} {closed}"]
        ended = subprocess.run(argv, cwd=project.root, timeout=60)
        assert ended.returncode == code
    rows = ledger_rows(project)
    assert [row["status"] for row in rows] == ["ok", "ok", "ok", "failed"]
    assert [p.read_text() for p in project.root.glob("multirun/j/*/hydraflow.log")] == [
        "x" * 100 + "\n"
    ] * 3


def test_a_file_that_tasks_py_opened_on_a_closed_stdout_gets_nothing(project: Project) -> None:
    # Opened before hydraflow could take descriptor 1, the log is not the listing's place.
    project.write(
        "tasks.py", "import hydraflow\nlog = open('tasks.log', 'w')\nns = hydraflow.collection()\n"
    )
    project.yaml(f"jobs:\n  j:\n    run: {PY} -c pass\n")
    invoke = shlex.join(command("invoke"))
    ended = subprocess.run(["sh", "-c", f"exec {invoke} --list >&-"], cwd=project.root, timeout=60)
    assert ended.returncode == 0
    assert (project.root / "tasks.log").read_text() == ""


# -- 2. a batch ends when its process ends -------------------------------------------------------


def test_a_batch_that_closes_its_output_is_still_timed(project: Project) -> None:
    # It sleeps past the test's own time limit: a run that waited for it fails the test.
    project.write("mute.py", "import os, time\nos.close(1)\nos.close(2)\ntime.sleep(600)\n")
    project.yaml(f"jobs:\n  j:\n    run: {PY} mute.py\n")
    result = project.hydraflow("run", "j", "--timeout", "2")
    assert result.returncode == 1 and "timed out" in result.stdout


def test_a_leftover_child_holding_the_pipe_does_not_hold_the_run(project: Project) -> None:
    # The leftover outlives the test's own time limit: a run that waited for it fails.
    project.yaml("jobs:\n  j:\n    run: sh -c 'sleep 600 & echo started'\n")
    result = project.hydraflow("run", "j")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "started" in result.stdout


def test_more_workers_than_batches_start_only_what_is_needed(project: Project) -> None:
    project.yaml("jobs:\n  j:\n    run: 'true'\n    sets:\n      - each: i=1:3\n")
    # Anything made per worker, 10^8 times, would not fit in the cap.
    result = capped(project, "run", "j", "-j", "100000000")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("start ") == 3


def test_a_huge_line_is_read_in_linear_time(project: Project) -> None:
    def read_a_line(size: int) -> None:
        project.write("long.py", f"import sys\nsys.stdout.write('x' * {size})\n")
        project.yaml(f"jobs:\n  j:\n    run: {PY} long.py\n")
        result = subprocess.run(
            [*command("hydraflow"), "run", "j", "--quiet", "--no-ledger"],
            cwd=project.root,
            capture_output=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout.decode()
        logs = (project.root / "multirun").glob("*/*/hydraflow.log")
        assert max(log.stat().st_size for log in logs) >= size

    assert_linear(read_a_line, 64 << 20)


# -- 3. never the same batch twice at once ------------------------------------------------------

SLOW = """\
import json, os, signal, sys, time
def note(kind):
    with open(os.environ["RECORD"], "a") as f:
        f.write(json.dumps([kind, sys.argv[-1], os.getpid(), time.time()]) + "\\n")
def slow_goodbye(*_):
    time.sleep(1.0)   # a batch that takes its time to stop
    note("stopped")
    sys.exit(1)
signal.signal(signal.SIGTERM, slow_goodbye)
note("start")
time.sleep(float(os.environ.get("NAP", "30")))
note("end")
"""


def test_resume_right_after_a_kill_waits_for_the_old_batches(project: Project) -> None:
    project.write("slow.py", SLOW)
    project.yaml(f"jobs:\n  j:\n    run: {PY} slow.py\n    sets:\n      - each: i=1:2\n")
    runner = start(project, "run", "j", "-j", "2")
    record = project.root / "record.jsonl"
    deadline = time.time() + 30
    while time.time() < deadline and (
        not record.exists() or len(record.read_text().split("\n")) < 3
    ):
        time.sleep(0.05)
    runner.kill()
    runner.wait()
    resumed = start(project, "run", "j", "--resume", "-j", "2", NAP="0")
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, out + err
    notes = [json.loads(line) for line in record.read_text().splitlines()]
    first_pids = {n[2] for n in notes[:2]}
    old_ends = [n[3] for n in notes if n[2] in first_pids and n[0] == "stopped"]
    new_starts = [n[3] for n in notes if n[2] not in first_pids and n[0] == "start"]
    assert len(old_ends) == 2 and len(new_starts) == 2
    assert min(new_starts) >= max(old_ends)


def test_two_runners_on_a_new_project_both_work(project: Project) -> None:
    project.yaml("jobs:\n  j:\n    run: 'true'\n    sets:\n      - each: i=1:4\n")
    for _ in range(8):
        ledger = project.root / ".hydraflow"
        if ledger.exists():
            for path in ledger.iterdir():
                path.unlink()
        runners = [start(project, "run", "j", "--resume") for _ in range(2)]
        for runner in runners:
            _, err = runner.communicate(timeout=60)
            assert runner.returncode == 0, err
        assert sorted(row["status"] for row in ledger_rows(project)) == ["ok"] * 4


def test_a_ledger_locked_for_a_while_is_waited_for(project: Project) -> None:
    project.yaml(f"jobs:\n  j:\n    run: {PY} -c 'import time; time.sleep(2)'\n")
    assert project.hydraflow("run", "j", "--dry-run").returncode == 0
    project.hydraflow("status")  # nothing recorded yet
    locker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "time.sleep(1)\n"
            "db.execute('BEGIN EXCLUSIVE')\n"
            "time.sleep(9)\n"
            "db.execute('COMMIT')\n",
            str(project.root / ".hydraflow" / "ledger.db"),
        ]
    )
    (project.root / ".hydraflow").mkdir(exist_ok=True)
    result = project.hydraflow("run", "j")
    locker.wait(timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [row["status"] for row in ledger_rows(project)] == ["ok"]


# -- 5. also ---------------------------------------------------------------------------------


def test_a_submit_value_with_a_line_break_is_refused_up_front(project: Project) -> None:
    project.write("handler.py", "import sys\nprint(open(sys.argv[-1]).read())\n")
    project.yaml(
        f"jobs:\n  s:\n    submit: {PY} handler.py\n    sets:\n      - each: \"msg='a\\nb',c\"\n"
    )
    for args in (("run", "s"), ("run", "s", "--dry-run")):
        result = project.hydraflow(*args)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "line break" in result.stderr and "Traceback" not in result.stderr


def test_sigterm_while_loading_is_an_interrupt(project: Project) -> None:
    jobs = "".join(
        f"  j{i}:\n    run: 'true'\n    sets:\n      - each: a=1:9 b=(x,y)_(1,2)\n"
        for i in range(20000)
    )
    project.yaml("jobs:\n" + jobs)
    runner = start(project, "list")
    time.sleep(0.4)
    runner.send_signal(signal.SIGTERM)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode in (0, 130), err
    assert "Traceback" not in err


def test_status_escapes_control_characters_of_labels(project: Project) -> None:
    project.yaml(
        f'jobs:\n  j:\n    run: {PY} -c "raise SystemExit(1)"\n'
        '    sets:\n      - each: "x=\\e\\a"\n'
    )
    project.hydraflow("run", "j")
    shown = project.hydraflow("status", "--failed")
    assert shown.returncode == 0
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "x=\\x1b\\x07" in shown.stdout


def test_a_silent_batch_has_no_log_and_every_report_says_so(project: Project) -> None:
    project.write("quiet.py", "import sys\nsys.exit(3 if 'code=3' in sys.argv else 0)\n")
    project.yaml(f"jobs:\n  j:\n    run: {PY} quiet.py\n    sets:\n      - each: code=0,3\n")
    result = project.hydraflow("run", "j", "--keep-going")
    assert result.returncode == 1
    assert not list(project.root.glob("multirun/*/*/hydraflow.log"))
    assert "log:   none (the batch printed nothing)" in result.stdout
    failed = project.hydraflow("status", "--failed")
    assert "log: none (the batch printed nothing)" in failed.stdout
    assert [row["log_path"] for row in ledger_rows(project)] == [None, None]


def test_a_batch_that_prints_has_its_log_named_everywhere(project: Project) -> None:
    project.yaml(f"jobs:\n  j:\n    run: {PY} -c 'print(\"hello\"); raise SystemExit(2)'\n")
    result = project.hydraflow("run", "j")
    log = next(project.root.glob("multirun/*/*/hydraflow.log"))
    assert log.read_text() == "hello\n"
    relative = str(log.relative_to(project.root))
    assert f"log:   {relative}" in result.stdout
    assert f"log: {relative}" in project.hydraflow("status", "--failed").stdout


@pytest.mark.parametrize(
    "text", ["attempt to write a readonly database", "database or disk is full"]
)
def test_a_ledger_that_cannot_be_written_says_why(text: str) -> None:
    from hydraflow.ledger import explain

    message = explain(Path("x.db"), sqlite3.OperationalError(text))
    assert "move it aside" not in message
