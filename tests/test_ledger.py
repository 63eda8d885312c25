"""The ledger: resume, crash safety, concurrent runners, status, selection."""

from __future__ import annotations

import json
import shlex
import sqlite3
import sys
import time
from collections import Counter

import pytest
from conftest import Project

PY = shlex.quote(sys.executable)

# Writes "start <i>" and, unless it is told to fail, "end <i>" to the record file.
WORKER = """\
import os, sys, time
args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a and not a.startswith("hydra."))
with open(os.environ["RECORD"], "a") as f:
    f.write(f"start {args['i']}\\n")
time.sleep(float(args.get("sleep", os.environ.get("NAP", "0"))))
if args["i"] in os.environ.get("FAIL", "").split(","):
    sys.exit("failing on purpose")
with open(os.environ["RECORD"], "a") as f:
    f.write(f"end {args['i']}\\n")
"""


def setup(project: Project, sets: str) -> None:
    project.write("worker.py", WORKER)
    project.yaml(f"jobs:\n  j:\n    run: {PY} worker.py\n    sets:\n{sets}")


def events(project: Project) -> list[tuple[str, str]]:
    path = project.root / "record.jsonl"
    if not path.exists():
        return []
    return [tuple(line.split()) for line in path.read_text().splitlines()]  # type: ignore[misc]


def ended(project: Project) -> Counter[str]:
    return Counter(i for kind, i in events(project) if kind == "end")


def started(project: Project) -> Counter[str]:
    return Counter(i for kind, i in events(project) if kind == "start")


def rows(project: Project) -> list[dict[str, object]]:
    db = sqlite3.connect(project.root / ".hydraflow" / "ledger.db")
    db.row_factory = sqlite3.Row
    return [dict(row) for row in db.execute("SELECT * FROM attempts ORDER BY id")]


def test_resume_reruns_exactly_the_failed_batches_in_their_sweep_dirs(project: Project) -> None:
    setup(project, "      - each: i=1:6\n")
    first = project.hydraflow("run", "j", "--keep-going", env={"FAIL": "2,5"})
    assert first.returncode == 1
    assert ended(project) == Counter({"1": 1, "3": 1, "4": 1, "6": 1})
    failed_dirs = {r["label"]: r["sweep_dir"] for r in rows(project) if r["status"] == "failed"}
    assert set(failed_dirs) == {"i=2", "i=5"}

    preview = project.hydraflow("run", "j", "--resume", "--dry-run")
    lines = preview.stdout.splitlines()
    assert [line for line in lines if not line.startswith("#")] == [
        line for line in lines if " i=2 " in line or " i=5 " in line
    ]
    assert sum(line.startswith("# skipped, succeeded before:") for line in lines) == 4

    second = project.hydraflow("run", "j", "--resume")
    assert second.returncode == 0, second.stdout
    assert started(project) == Counter({"1": 1, "2": 2, "3": 1, "4": 1, "5": 2, "6": 1})
    rerun = {r["label"]: r["sweep_dir"] for r in rows(project)[-2:]}
    assert rerun == failed_dirs
    assert project.hydraflow("run", "j", "--resume").stdout.count("hydraflow: start") == 0


def test_resume_goes_by_the_latest_attempt(project: Project) -> None:
    """A batch that succeeded once and failed in a later run (without --resume) is to do."""
    setup(project, "      - each: i=1:3\n")
    assert project.hydraflow("run", "j").returncode == 0
    assert project.hydraflow("run", "j", "--keep-going", env={"FAIL": "2"}).returncode == 1
    preview = project.hydraflow("run", "j", "--resume", "--dry-run").stdout.splitlines()
    commands = [line for line in preview if not line.startswith("#")]
    assert len(commands) == 1 and " i=2 " in commands[0]


@pytest.mark.parametrize("each", ["i=1,2,2", "i=2,1,2 sleep=0.5"])
def test_batches_alike_run_as_written_each_with_its_row(project: Project, each: str) -> None:
    """``each: i=1,2,2`` runs i=2 twice, as the original does (a repeat on purpose), however
    the claims fall; neither attempt stays ``running``. A resume, which knows a batch by its
    content, runs what failed once."""
    setup(project, f"      - each: {each}\n")
    result = project.hydraflow("run", "j", "-j", "2", "-k", env={"FAIL": "2"})
    assert result.returncode == 1 and "1 ok, 2 failed" in result.stdout
    assert started(project) == Counter({"1": 1, "2": 2})
    assert sorted(str(r["status"]) for r in rows(project)) == ["failed", "failed", "ok"]
    preview = project.hydraflow("run", "j", "--resume", "--dry-run").stdout.splitlines()
    commands = [line for line in preview if not line.startswith("#")]
    assert len(commands) == 1 and " i=2 " in commands[0]


def test_a_killed_runner_resumes_exactly_the_unfinished_batches(project: Project) -> None:
    setup(project, "      - each: i=1:6 sleep=0.4\n")
    runner = project.start("run", "j")
    deadline = time.time() + 30
    while time.time() < deadline and sum(started(project).values()) < 3:
        time.sleep(0.02)
    runner.kill()
    runner.wait()
    finished_before = set(ended(project))
    assert 1 <= len(finished_before) < 6

    # The runner's watchdog is stopping its batch; until it has, the batch reads running.
    deadline = time.time() + 10
    while True:
        status = json.loads(project.hydraflow("status", "j", "--json").stdout)["jobs"][0]
        if status["counts"]["lost"] or time.time() > deadline:
            break
        time.sleep(0.1)
    assert status["counts"]["lost"] == 1
    assert status["counts"]["ok"] == len(finished_before)

    resumed = project.hydraflow("run", "j", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    time.sleep(0.5)  # a batch left behind would have written its end by now
    assert ended(project) == Counter({str(i): 1 for i in range(1, 7)})
    assert all(started(project)[i] == 1 for i in finished_before)


def test_a_killed_runner_leaves_no_claim_of_a_batch_it_never_started(project: Project) -> None:
    """Two workers claim two batches, not more: a claim waiting for a slot would read as
    lost once the runner is killed, and hide that its batch had succeeded before."""
    setup(project, "      - each: i=1:4\n")
    assert project.hydraflow("run", "j", "-j", "2").returncode == 0
    runner = project.start("run", "j", "-j", "2", env={"NAP": "60"})
    deadline = time.time() + 30
    while sum(started(project).values()) < 6:
        assert time.time() < deadline and runner.poll() is None
        time.sleep(0.02)
    runner.kill()
    runner.wait()
    while True:  # its watchdog stops the two batches, then ends
        status = json.loads(project.hydraflow("status", "j", "--json").stdout)["jobs"][0]
        if status["counts"]["lost"] == 2:
            break
        assert time.time() < deadline, status
        time.sleep(0.1)
    assert status["counts"]["ok"] == 2
    assert len(rows(project)) == 6
    preview = project.hydraflow("run", "j", "--resume", "--dry-run").stdout
    assert preview.count("worker.py") == 2, preview


def test_editing_the_file_resumes_only_new_batches(project: Project) -> None:
    setup(project, "      - each: i=1:2\n      - each: i=3:4\n")
    assert project.hydraflow("run", "j").returncode == 0
    setup(project, "      - each: i=3:4\n      - each: i=5\n      - each: i=1:2\n")
    assert project.hydraflow("run", "j", "--resume").returncode == 0
    assert started(project) == Counter({"1": 1, "2": 1, "3": 1, "4": 1, "5": 1})


def test_only_selects_batches_with_and_without_resume(project: Project) -> None:
    setup(project, "      - each: i=1:3 tag=a,b\n")
    assert project.hydraflow("run", "j", "--only", "tag=a", "--only", "i=1,3").returncode == 0
    assert started(project) == Counter({"1": 1, "3": 1})
    assert project.hydraflow("run", "j", "--only", "i=[13]", "--resume").returncode == 0
    assert started(project) == Counter({"1": 2, "3": 2})
    bad = project.hydraflow("run", "j", "--only", "nokey")
    assert bad.returncode == 2 and "KEY=PATTERN" in bad.stderr


def test_two_runners_share_the_work(project: Project) -> None:
    setup(project, "      - each: i=1:8 sleep=0.3\n")
    runners = [project.start("run", "j", "--resume") for _ in range(2)]
    outputs = [runner.communicate(timeout=60)[0] for runner in runners]
    assert [runner.returncode for runner in runners] == [0, 0]
    assert started(project) == Counter({str(i): 1 for i in range(1, 9)})
    assert all("skipped" in out for out in outputs)
    assert sorted(r["status"] for r in rows(project)) == ["ok"] * 8


def test_status_table_and_json(project: Project) -> None:
    setup(project, "      - each: i=1:4\n")
    project.hydraflow("run", "j", "--keep-going", "--only", "i=1,2,3", env={"FAIL": "3"})
    table = project.hydraflow("status")
    assert table.returncode == 0
    header, row = table.stdout.splitlines()[:2]
    assert header.split() == ["job", "batches", "ok", "failed", "never", "run", "stale"]
    assert row.split() == ["j", "4", "2", "1", "1", "0"]
    failed = project.hydraflow("status", "j", "--failed", env={"COLUMNS": "300"})
    assert "i=3" in failed.stdout and "hydraflow.log" in failed.stdout
    assert "no batch failed" not in failed.stdout
    report = json.loads(project.hydraflow("status", "--json").stdout)
    assert report["jobs"][0]["counts"]["failed"] == 1
    assert report["jobs"][0]["failed"][0]["exit_code"] == 1
    project.hydraflow("run", "j", "--only", "i=3")
    assert "no batch failed" in project.hydraflow("status", "j", "--failed").stdout


def test_ledger_stays_consistent_with_many_fast_batches(project: Project) -> None:
    project.yaml("jobs:\n  j:\n    run: true\n    sets:\n      - each: i=1:500\n")
    assert project.hydraflow("run", "j", "-j", "2", "--quiet").returncode == 0
    recorded = rows(project)
    assert len(recorded) == 500
    assert {r["status"] for r in recorded} == {"ok"}
    assert len({r["key"] for r in recorded}) == 500
    assert all(r["pid"] and r["end"] >= r["start"] for r in recorded)  # type: ignore[operator]


def test_a_corrupt_ledger_is_reported_and_kept(project: Project) -> None:
    setup(project, "      - each: i=1\n")
    ledger = project.root / ".hydraflow" / "ledger.db"
    ledger.parent.mkdir()
    ledger.write_bytes(b"this is not a database" * 100)
    for args in (("run", "j"), ("status",), ("run", "j", "--resume", "--dry-run")):
        result = project.hydraflow(*args)
        assert result.returncode == 1, args  # hydraflow cannot go on; no usage mistake
        assert "not a usable ledger" in result.stderr and "Traceback" not in result.stderr
    assert ledger.read_bytes() == b"this is not a database" * 100
    assert started(project) == Counter()


def test_no_ledger_runs_without_recording(project: Project) -> None:
    setup(project, "      - each: i=1\n")
    assert project.hydraflow("run", "j", "--no-ledger").returncode == 0
    assert not (project.root / ".hydraflow" / "ledger.db").exists()
    clash = project.hydraflow("run", "j", "--no-ledger", "--resume")
    assert clash.returncode == 2
