"""The ledger: resume, crash safety, concurrent runners, status, selection.

What the ledger decides (resume, --only, batches alike, status) runs in this process
(``project.hydraflow`` only where a runner must be a process of its own: one killed
outright, two sharing a project, a corrupt ledger's message); the batches are real,
a shell script each, so that they cost next to nothing. Hundreds of quick batches are
test_engine's fakes on a clock that jumps, with the real ledger.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import Project
from fakes import FakeClock, FakeStarter, Script, runtime

from hydraflow.config import load
from hydraflow.engine.execution import Request
from hydraflow.engine.workflow import run_job
from hydraflow.flags import RunOptions

# Writes "start <i> <pid>" and, after its nap, unless it is told to fail, "end <i>" to the
# record file. ``sleep=`` (a word of its own) or NAP set the nap; SLOW names batches that
# nap for a minute instead.
WORKER = """\
for word in "$@"; do
  case $word in
    i=*) i=${word#i=} ;;
    sleep=*) nap=${word#sleep=} ;;
  esac
done
nap=${nap:-${NAP:-0}}
case ",$SLOW," in *",$i,"*) nap=60 ;; esac
echo "start $i $$" >> "$RECORD"
[ "$nap" = 0 ] || sleep "$nap"
case ",$FAIL," in *",$i,"*) echo "failing on purpose" >&2; exit 1 ;; esac
echo "end $i" >> "$RECORD"
"""


def setup(project: Project, sets: str) -> None:
    project.write("worker.sh", WORKER)
    project.yaml(f"jobs:\n  j:\n    run: sh worker.sh\n    sets:\n{sets}")


def events(project: Project) -> list[list[str]]:
    path = project.root / "record.jsonl"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def ended(project: Project) -> Counter[str]:
    return Counter(fields[1] for fields in events(project) if fields[0] == "end")


def started(project: Project) -> Counter[str]:
    return Counter(fields[1] for fields in events(project) if fields[0] == "start")


def rows(project: Project) -> list[dict[str, object]]:
    db = sqlite3.connect(project.root / ".hydraflow" / "ledger.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in db.execute("SELECT * FROM attempts ORDER BY id")]
    finally:
        db.close()


def commands(preview: str) -> list[str]:
    """The commands of a dry run, without its comments."""
    return [line for line in preview.splitlines() if not line.startswith("#")]


def counts(project: Project) -> dict[str, int]:
    shown = project.here("status", "j", "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)["jobs"][0]["counts"]  # type: ignore[no-any-return]


def settled(project: Project, within: float = 30.0) -> dict[str, int]:
    """The counts once no batch reads running: a killed runner's watchdog has stopped them."""
    deadline = time.monotonic() + within
    while (now := counts(project))["running"]:
        assert time.monotonic() < deadline, now
        time.sleep(0.05)
    return now


def test_resume_reruns_exactly_the_failed_batches_in_their_sweep_dirs(project: Project) -> None:
    setup(project, "      - each: i=1:6\n")
    first = project.here("run", "j", "--keep-going", env={"FAIL": "2,5"})
    assert first.returncode == 1
    assert ended(project) == Counter({"1": 1, "3": 1, "4": 1, "6": 1})
    failed_dirs = {r["label"]: r["sweep_dir"] for r in rows(project) if r["status"] == "failed"}
    assert set(failed_dirs) == {"i=2", "i=5"}

    preview = project.here("run", "j", "--resume", "--dry-run")
    lines = preview.stdout.splitlines()
    assert commands(preview.stdout) == [
        line for line in lines if " i=2 " in line or " i=5 " in line
    ]
    assert sum(line.startswith("# skipped, succeeded before:") for line in lines) == 4

    second = project.here("run", "j", "--resume")
    assert second.returncode == 0, second.stdout
    assert started(project) == Counter({"1": 1, "2": 2, "3": 1, "4": 1, "5": 2, "6": 1})
    rerun = {r["label"]: r["sweep_dir"] for r in rows(project)[-2:]}
    assert rerun == failed_dirs
    assert project.here("run", "j", "--resume").stdout.count("hydraflow: start") == 0


def test_resume_goes_by_the_latest_attempt(project: Project) -> None:
    """A batch that succeeded once and failed in a later run (without --resume) is to do."""
    setup(project, "      - each: i=1:3\n")
    assert project.here("run", "j").returncode == 0
    assert project.here("run", "j", "--keep-going", env={"FAIL": "2"}).returncode == 1
    to_do = commands(project.here("run", "j", "--resume", "--dry-run").stdout)
    assert len(to_do) == 1 and " i=2 " in to_do[0]


@pytest.mark.parametrize("each", ["i=1,2,2", "i=2,1,2 sleep=0.3"])
def test_batches_alike_run_as_written_each_with_its_row(project: Project, each: str) -> None:
    """``each: i=1,2,2`` runs i=2 twice, as the original does (a repeat on purpose), however
    the claims fall; neither attempt stays ``running``. A resume, which knows a batch by its
    content, runs what failed once."""
    setup(project, f"      - each: {each}\n")
    result = project.here("run", "j", "-j", "2", "-k", env={"FAIL": "2"})
    assert result.returncode == 1 and "1 ok, 2 failed" in result.stdout
    assert started(project) == Counter({"1": 1, "2": 2})
    assert sorted(str(r["status"]) for r in rows(project)) == ["failed", "failed", "ok"]
    to_do = commands(project.here("run", "j", "--resume", "--dry-run").stdout)
    assert len(to_do) == 1 and " i=2 " in to_do[0]


def test_a_killed_runner_is_resumed_exactly_and_claimed_only_what_it_started(
    project: Project,
) -> None:
    """A runner killed outright: what it finished reads ok (its end was written, not kept
    for later), what it was running reads ``lost`` once its watchdog has stopped it, and a
    resume runs exactly the rest, each batch once. Two workers claim two batches, then one
    per freed slot while batches are slow, not more: a claim waiting for a slot would read
    as lost, and hide that its batch had succeeded before."""
    setup(project, "      - each: i=1:5\n")
    assert project.here("run", "j", "--only", "i=4,5").returncode == 0  # they succeed first
    # 1 naps long enough that the next claim is one batch alone; 2 and 3 run until killed.
    runner = project.start("run", "j", "-j", "2", env={"NAP": "0.6", "SLOW": "2,3"})
    deadline = time.monotonic() + 30
    while "3" not in started(project):
        assert time.monotonic() < deadline and runner.poll() is None
        time.sleep(0.02)
    runner.kill()
    runner.wait()
    finished_before = set(ended(project))
    assert finished_before == {"1", "4", "5"}

    # The runner's watchdog is stopping its batches; until it has, they read running.
    now = settled(project)
    assert now["lost"] == 2 and now["ok"] == len(finished_before), now
    assert len(rows(project)) == 5  # 4 and 5 were never claimed by the killed runner
    killed = [int(f[2]) for f in events(project) if f[0] == "start" and f[1] in ("2", "3")]
    assert len(killed) == 2 and not any(_alive(pid) for pid in killed)
    to_do = commands(project.here("run", "j", "--resume", "--dry-run").stdout)
    assert len(to_do) == 2 and " i=2 " in to_do[0] and " i=3 " in to_do[1], to_do

    resumed = project.here("run", "j", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert ended(project) == Counter({str(i): 1 for i in range(1, 6)})
    assert all(started(project)[i] == 1 for i in finished_before)


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


def test_editing_the_file_resumes_only_new_batches(project: Project) -> None:
    setup(project, "      - each: i=1:2\n      - each: i=3:4\n")
    assert project.here("run", "j").returncode == 0
    setup(project, "      - each: i=3:4\n      - each: i=5\n      - each: i=1:2\n")
    assert project.here("run", "j", "--resume").returncode == 0
    assert started(project) == Counter({"1": 1, "2": 1, "3": 1, "4": 1, "5": 1})


def test_only_selects_batches_with_and_without_resume(project: Project) -> None:
    setup(project, "      - each: i=1:3 tag=a,b\n")
    assert project.here("run", "j", "--only", "tag=a", "--only", "i=1,3").returncode == 0
    assert started(project) == Counter({"1": 1, "3": 1})
    assert project.here("run", "j", "--only", "i=[13]", "--resume").returncode == 0
    assert started(project) == Counter({"1": 2, "3": 2})
    bad = project.here("run", "j", "--only", "nokey")
    assert bad.returncode == 2 and "KEY=PATTERN" in bad.stderr


def test_two_runners_share_the_work(project: Project) -> None:
    """Two real runners, started together on a new project: each batch runs once."""
    setup(project, "      - each: i=1:8 sleep=0.3\n")
    runners = [project.start("run", "j", "--resume") for _ in range(2)]
    outputs = [runner.communicate(timeout=60)[0] for runner in runners]
    assert [runner.returncode for runner in runners] == [0, 0]
    assert started(project) == Counter({str(i): 1 for i in range(1, 9)})
    assert all("skipped" in out for out in outputs)
    assert sorted(r["status"] for r in rows(project)) == ["ok"] * 8


def test_status_table_and_json(project: Project) -> None:
    setup(project, "      - each: i=1:4\n")
    project.here("run", "j", "--keep-going", "--only", "i=1,2,3", env={"FAIL": "3"})
    table = project.here("status")
    assert table.returncode == 0
    header, row = table.stdout.splitlines()[:2]
    assert header.split() == ["job", "batches", "ok", "failed", "never", "run", "stale"]
    assert row.split() == ["j", "4", "2", "1", "1", "0"]
    failed = project.here("status", "j", "--failed", env={"COLUMNS": "300"})
    assert "i=3" in failed.stdout and "hydraflow.log" in failed.stdout
    assert "no batch failed" not in failed.stdout
    report = json.loads(project.here("status", "--json").stdout)
    assert report["jobs"][0]["counts"]["failed"] == 1
    assert report["jobs"][0]["failed"][0]["exit_code"] == 1
    project.here("run", "j", "--only", "i=3")
    assert "no batch failed" in project.here("status", "j", "--failed").stdout


def test_ledger_stays_consistent_with_many_fast_batches(project: Project) -> None:
    """Quick batches are claimed in groups and their ends written with the next group:
    still one row per batch, each ended ok with its process and times. The batches are
    fakes of a few milliseconds each, ending out of order, on test_engine's clock that
    jumps; the ledger is real."""
    config = load(project.yaml("jobs:\n  j:\n    run: app\n    sets:\n      - each: i=1:500\n"))

    def script_for(argv: tuple[str, ...], env: dict[str, str]) -> Script:
        (i,) = (int(word[2:]) for word in argv if word.startswith("i="))
        return Script(ends_at=0.001 * (i % 7))

    clock = FakeClock()
    starter = FakeStarter(clock, script_for)
    request = Request(config, config.job("j"), RunOptions(jobs=2))
    assert run_job(request, [], runtime(clock, starter)) == 0
    recorded = rows(project)
    assert len(recorded) == 500
    assert {r["status"] for r in recorded} == {"ok"}
    assert len({r["key"] for r in recorded}) == 500
    assert all(r["pid"] and r["end"] >= r["start"] for r in recorded)  # type: ignore[operator]


CORRUPT = b"this is not a database" * 100


def test_a_corrupt_ledger_is_reported_and_kept(project: Project) -> None:
    """Said in one line by the real program; every command that reads it says so too."""
    setup(project, "      - each: i=1\n")
    ledger = project.root / ".hydraflow" / "ledger.db"
    ledger.parent.mkdir()
    ledger.write_bytes(CORRUPT)
    real = project.hydraflow("run", "j")
    for args, result in (
        (("run", "j"), real),
        (("status",), project.here("status")),
        (("run", "j", "--resume", "--dry-run"), project.here("run", "j", "--resume", "--dry-run")),
    ):
        assert result.returncode == 1, args  # hydraflow cannot go on; no usage mistake
        assert "not a usable ledger" in result.stderr and "Traceback" not in result.stderr
    assert ledger.read_bytes() == CORRUPT
    assert started(project) == Counter()


def test_no_ledger_runs_without_recording(project: Project) -> None:
    setup(project, "      - each: i=1\n")
    assert project.here("run", "j", "--no-ledger").returncode == 0
    assert not (project.root / ".hydraflow" / "ledger.db").exists()
    clash = project.here("run", "j", "--no-ledger", "--resume")
    assert clash.returncode == 2
