"""Resume at the level of single runs: a batch whose runs partly succeeded reruns only
the runs that did not, into the same sweep dir under the same numbers."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Project

from hydraflow.attempts import attempt_fields
from hydraflow.config import load
from hydraflow.ledger import STALE_SECONDS, Claimed, Claims, Ledger, Runner, Wanted, claims
from hydraflow.plan import Plan, batches, planned_runs
from hydraflow.plan.runs import rerun_of
from hydraflow.resume import Resume

PY = shlex.quote(sys.executable)

APP = """\
import os
import hydra
from omegaconf import DictConfig

@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig):
    with open(os.environ["RECORD"], "a") as f:
        f.write(f"{cfg.x} {cfg.seed}\\n")
    if os.path.exists("broken-all") or (os.path.exists("broken") and cfg.seed == 2):
        raise RuntimeError("seed 2 broke")
    return {"v": cfg.seed}

if __name__ == "__main__":
    main()
"""


def app(project: Project, each: str = "x=1") -> None:
    project.write("app.py", APP)
    project.write("conf/config.yaml", "x: 0\nseed: 0\n")
    project.yaml(
        f"jobs:\n  j:\n    run: {PY} app.py\n    add: +tag=t\n"
        f"    sets:\n      - each: {each}\n        all: seed=0:3\n"
    )


def calls(project: Project) -> list[str]:
    path = project.root / "record.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def test_only_the_failed_run_runs_again(project: Project) -> None:
    app(project)
    (project.root / "broken").touch()
    assert project.hydraflow("run", "j").returncode == 1
    assert calls(project) == ["1 0", "1 1", "1 2", "1 3"]
    (project.root / "broken").unlink()
    preview = project.hydraflow("run", "j", "--resume", "--dry-run").stdout.splitlines()
    assert len(preview) == 2 and preview[0].startswith("# rerun: x=1 · run 2")
    assert " seed=2 " in preview[1] and preview[1].endswith("hydra.sweep.subdir=2 +tag=t")
    resumed = project.hydraflow("run", "j", "--resume")
    assert resumed.returncode == 0, resumed.stdout
    assert calls(project)[4:] == ["1 2"]  # exactly the one run, once
    sweep = next((project.root / "multirun" / "j").iterdir())
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1", "2", "3"]
    again = project.hydraflow("run", "j", "--resume", "--dry-run").stdout.splitlines()
    assert again == ["# skipped, succeeded before: x=1"]
    done = Ledger(project.root / ".hydraflow" / "ledger.db").attempts("j")[-1]
    assert (done.is_rerun, done.status, done.runs, done.part) == (False, "ok", 4, [2])
    status = project.hydraflow("status").stdout.splitlines()[1].split()
    assert status == ["j", "1", "1", "0", "0", "0"]


def test_a_batch_where_nothing_succeeded_runs_whole(project: Project) -> None:
    app(project)
    (project.root / "broken-all").touch()
    assert project.hydraflow("run", "j").returncode == 1
    (project.root / "broken-all").unlink()
    preview = project.hydraflow("run", "j", "--resume", "--dry-run").stdout.splitlines()
    assert len(preview) == 1 and "seed=0,1,2,3" in preview[0]


def test_planned_runs_follow_hydras_order_and_reruns_keep_their_number(tmp_path: Path) -> None:
    path = tmp_path / "hydraflow.yaml"
    path.write_text(
        "jobs:\n  j:\n    run: app\n    add: e=1\n    sets:\n"
        "      - each: m=a|b=1,2 c=x\n        all: s=0:1 t=p,q\n"
    )
    job = load(path).check().job("j")
    first, second = list(batches(job))
    assert planned_runs(first) == [
        ["c=x", "e=1", "m=a", f"s={s}", f"t={t}"] for s in (0, 1) for t in ("p", "q")
    ]
    runs = planned_runs(second)
    assert runs is not None and len(runs) == 8 and runs[0][:1] == ["c=x"]
    again = rerun_of(second, 5, runs[5])
    assert again.rerun == (5,) and again.key == f"{second.key}:5" and again.base_key == second.key
    assert "hydra.sweep.subdir=5" in again.argv("D") and "b=1,2" not in again.argv("D")
    assert again.label == "b=1,2 c=x · run 5"


def test_the_plan_replaces_a_partly_done_batch_by_its_missing_runs(tmp_path: Path) -> None:
    path = tmp_path / "hydraflow.yaml"
    path.write_text(
        "jobs:\n  j:\n    run: app\n    sets:\n      - each: x=1,2\n        all: s=0:2\n"
    )
    job = load(path).check().job("j")
    one, two = list(batches(job))
    answers = {one.key: (1, 2), two.key: ()}
    plan = Plan(job, reruns=lambda batch: answers.get(batch.key))
    entries = [(b.label, skipped) for b, skipped in plan.entries()]
    assert entries == [("x=1 · run 1", False), ("x=1 · run 2", False), ("x=2", True)]
    assert (plan.count().to_run, plan.count().skipped, plan.count().runs) == (2, 1, 2)


def test_no_run_of_a_batch_is_rerun_while_the_batch_runs(tmp_path: Path) -> None:
    """Its runs without a record may just not have run yet: the claim says elsewhere."""
    path = tmp_path / "hydraflow.yaml"
    path.write_text("jobs:\n  j:\n    run: app\n    sets:\n      - each: x=1\n        all: s=0:1\n")
    job = load(path).check().job("j")
    (batch,) = batches(job)
    folder = tmp_path / "sweep"
    (folder / "0").mkdir(parents=True)
    (folder / "0" / "hydraflow.run.json").write_text(json.dumps({"status": "ok"}))
    ledger = Ledger(tmp_path / "ledger.db")
    fields = {"label": batch.label, "argv": [], "sweep_dir": "sweep", "runs": 2}
    row = ledger.insert("j", batch.key, {**fields, "status": "running"}, Runner.this())
    assert Resume(ledger, job, tmp_path, None).reruns(batch) is None
    ledger.update([(row, {"status": "failed"})])
    elsewhere = Runner("another-machine", 999_999, None)  # a pid that means nothing here
    other = ledger.insert("j", batch.key, {**fields, "status": "running"}, elsewhere)
    assert Resume(ledger, job, tmp_path, None).reruns(batch) is None
    ledger.update([(other, {"status": "failed"})])
    assert Resume(ledger, job, tmp_path, None).reruns(batch) == (1,)


# -- runners on other hosts: a sign of life, or lost --------------------------------------------


def _another_hosts_row(tmp_path: Path, seen: float | None) -> tuple[Ledger, str]:
    ledger = Ledger(tmp_path / "ledger.db")
    elsewhere = Runner("another-machine", 999_999, None)  # a pid that means nothing here
    fields = {"label": "x=1", "argv": [], "sweep_dir": "sweep", "runs": 1, "status": "running"}
    row = ledger.insert("j", "KEY", fields, elsewhere)
    ledger.update([(row, {"seen": seen})])
    return ledger, "KEY"


def _claim(ledger: Ledger) -> object:
    wanted = Wanted("KEY", {"label": "x=1", "argv": [], "sweep_dir": "new", "runs": 1})
    return ledger.claim("j", [wanted], Runner.this(), resume=True, finished=[])[0]


def test_a_runner_on_another_host_that_shows_life_keeps_its_batch(tmp_path: Path) -> None:
    ledger, key = _another_hosts_row(tmp_path, seen=time.time() - STALE_SECONDS / 2)
    assert ledger.latest("j")[key].state == "running"
    assert _claim(ledger) == "elsewhere"


def test_a_runner_on_another_host_silent_too_long_has_lost_its_batch(tmp_path: Path) -> None:
    ledger, key = _another_hosts_row(tmp_path, seen=time.time() - STALE_SECONDS - 5)
    assert ledger.latest("j")[key].state == "lost"
    claimed = _claim(ledger)
    assert isinstance(claimed, Claimed) and claimed.sweep_dir == "new"
    assert [a.status for a in ledger.attempts("j")] == ["lost", "running"]


def test_rows_of_versions_without_signs_of_life_never_fall_silent(tmp_path: Path) -> None:
    ledger, key = _another_hosts_row(tmp_path, seen=None)
    assert ledger.latest("j")[key].state == "running"
    assert _claim(ledger) == "elsewhere"


def test_claims_beat_for_their_running_rows_until_they_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claims, "HEARTBEAT_SECONDS", 0.05)
    path = tmp_path / "hydraflow.yaml"
    path.write_text("jobs:\n  j:\n    run: app\n    sets:\n      - each: x=1,2\n")
    job = load(path).check().job("j")
    ledger = Ledger(tmp_path / "ledger.db")
    # An earlier runner of this host that had the same pid (containers reuse them).
    fields = {"label": "x=1", "argv": [], "sweep_dir": "old", "runs": 1, "status": "running"}
    leftover = ledger.insert("j", "OLD", fields, Runner.this())
    ledger.update([(leftover, {"seen": 1.0})])
    ours = Claims(ledger, "j", resume=False)
    one, two = batches(job)
    wanted = [Wanted(b.key, attempt_fields(b, d, ["app"], ())) for b, d in ((one, "a"), (two, "b"))]
    _, second = ours.claim(wanted)
    assert isinstance(second, Claimed)
    ours.end(second.row, {"status": "ok"}, now=True)
    first = {a.sweep_dir: a.seen for a in ledger.attempts("j")}
    deadline = time.time() + 30
    while ledger.attempts("j")[1].seen == first["a"]:
        assert time.time() < deadline
        time.sleep(0.05)
    seen = {a.sweep_dir: a.seen for a in ledger.attempts("j")}
    assert seen["b"] == first["b"]  # an ended row is left as it was
    assert seen["old"] == 1.0  # and so is a row this recorder never claimed
    ours.close()
    assert ours._heartbeat is not None and not ours._heartbeat.is_alive()


# -- a runner killed outright: decide from the records once its watchdog is done -----------


def _dead_pid() -> int:
    """The pid of a process that has ended and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("trial", range(20))
def test_resume_right_after_a_kill_reruns_only_the_runs_without_a_record(
    tmp_path: Path, trial: int
) -> None:
    """A killed runner's rows read ``running`` while its watchdog stops its batch. Had
    the resume decided then, it would take the finished runs for runs to do and run
    them again; it decides once the watchdog is done, from the runs' own records."""
    from fakes import FakeClock, FakeStarter, Script, runtime

    from hydraflow.engine.execution import Request
    from hydraflow.engine.workflow import run_job
    from hydraflow.flags import RunOptions

    path = tmp_path / "hydraflow.yaml"
    path.write_text(
        "jobs:\n  j:\n    run: app\n    sets:\n      - each: b=1:2\n        all: i=1,2\n"
    )
    config = load(path).check()
    job = config.job("j")
    first, second = batches(job)
    ledger = Ledger(tmp_path / ".hydraflow" / "ledger.db")
    # The dead runner's watchdog outlives it a little: it is still stopping the batch.
    guard = subprocess.Popen(
        [sys.executable, "-c", f"import time; time.sleep({0.05 + trial / 200})"]
    )
    dead = Runner(Runner.this().host, _dead_pid(), guard.pid)
    for batch, folder, finished_runs in (
        (first, "multirun/j/A", [0]),
        (second, "multirun/j/B", []),
    ):
        fields = attempt_fields(batch, folder, batch.argv(folder), ())
        ledger.insert("j", batch.key, fields, dead)
        for number in finished_runs:
            run = tmp_path / folder / str(number)
            run.mkdir(parents=True)
            record = {"status": "ok", "overrides": [f"b={1}", f"i={number + 1}"]}
            (run / "hydraflow.run.json").write_text(json.dumps(record))
    ledger.close()
    clock = FakeClock()

    def records_its_runs(argv: tuple[str, ...], env: dict[str, str]) -> Script:
        """As the record callback would: a record of success in the folder of each run."""
        words = dict(w.split("=", 1) for w in argv if "=" in w)
        subdirs = [words["hydra.sweep.subdir"]] if "hydra.sweep.subdir" in words else ["0", "1"]
        for subdir in subdirs:
            run = tmp_path / words["hydra.sweep.dir"] / subdir
            run.mkdir(parents=True, exist_ok=True)
            (run / "hydraflow.run.json").write_text(json.dumps({"status": "ok"}))
        return Script(ends_at=1.0)

    starter = FakeStarter(clock, records_its_runs)
    request = Request(config, job, RunOptions(resume=True, jobs=2))
    try:
        assert run_job(request, [], runtime(clock, starter)) == 0
    finally:
        guard.wait()
    started = [
        [w for w in s.argv if w.startswith(("b=", "i=", "hydra.sweep"))] for s in starter.started
    ]
    assert sorted(started) == sorted(
        [
            # b=1 finished its run i=1: only i=2 runs, alone, under its number, in its folder
            ["b=1", "i=2", "hydra.sweep.dir=multirun/j/A", "hydra.sweep.subdir=1"],
            ["b=2", "i=1,2", "hydra.sweep.dir=multirun/j/B"],  # nothing finished: whole
        ]
    )


EXITS_EARLY = """\
import os, sys
import hydra
from omegaconf import DictConfig

@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig):
    with open(os.environ["RECORD"], "a") as f:
        f.write(f"{cfg.x} {cfg.seed}\\n")
    if cfg.seed == 1 and os.path.exists("leave"):
        os._exit(0) if os.path.exists("hard") else sys.exit(0)
    return {"v": cfg.seed}

if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("how", ["sys.exit", "os._exit"])
def test_exit_0_with_runs_unrecorded_is_incomplete_and_resumed(project: Project, how: str) -> None:
    project.write("app.py", EXITS_EARLY)
    project.write("conf/config.yaml", "x: 0\nseed: 0\n")
    project.yaml(
        f"jobs:\n  j:\n    run: {PY} app.py\n    sets:\n      - each: x=1\n        all: seed=0:2\n"
    )
    (project.root / "leave").touch()
    if how == "os._exit":
        (project.root / "hard").touch()
    ran = project.hydraflow("run", "j")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "incomplete (exit 0, 2 of 3 runs unrecorded)" in ran.stdout
    assert "run 1, 2 left no record of success" in ran.stdout
    assert calls(project) == ["1 0", "1 1"]
    status = json.loads(project.here("status", "--json").stdout)["jobs"][0]["counts"]
    assert status["incomplete"] == 1 and status["ok"] == 0
    (project.root / "leave").unlink()
    resumed = project.hydraflow("run", "j", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert calls(project)[2:] == ["1 1", "1 2"]  # the two runs without a record, once each


LOGS_EACH_RUN = """\
import os, time
import hydra
from omegaconf import DictConfig

def note(word, cfg):
    with open(os.environ["RECORD"], "a") as f:
        f.write(f"{word} {cfg.b} {cfg.i}\\n")

@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig):
    note("start", cfg)
    time.sleep(0.3)
    note("done", cfg)
    return {"b": cfg.b, "i": cfg.i}

if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("warm", ["false", "true"])
def test_sigkill_then_resume_runs_every_run_exactly_once(project: Project, warm: str) -> None:
    """The repro of the report, cold and warm, against a real Hydra app: SIGKILL as soon
    as ``b=1 i=2`` starts, resume at once; the app's own log counts each run's ends."""
    project.write("app.py", LOGS_EACH_RUN)
    project.write("conf/config.yaml", "b: 0\ni: 0\n")
    project.yaml(
        f"jobs:\n  j:\n    run: {PY} app.py\n    warm: {warm}\n"
        "    sets:\n      - each: b=1:6\n        all: i=1,2\n"
    )
    runner = project.start("run", "j", "-j", "2")
    deadline = time.monotonic() + 60
    while "start 1 2" not in (calls_text := "\n".join(calls(project))):
        assert time.monotonic() < deadline and runner.poll() is None, calls_text
        time.sleep(0.01)
    runner.kill()
    runner.wait()
    resumed = project.hydraflow("run", "j", "-j", "2", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    done = [line for line in calls(project) if line.startswith("done ")]
    counts = {f"b={b} i={i}": done.count(f"done {b} {i}") for b in range(1, 7) for i in (1, 2)}
    assert set(counts.values()) == {1}, counts
