"""Search jobs end to end: a real Hydra app (``(x-2)^2``, as a quick training would return
its loss), real processes, the real storage; what the app itself stamps is the proof."""

from __future__ import annotations

import itertools
import json
import signal
import sys
import time
from pathlib import Path

import optuna
import pytest
from conftest import Project

from hydraflow.search.study import storage_url

APP = """\
import json, os, time
import hydra

@hydra.main(version_base=None, config_path=None)
def main(cfg):
    start = time.time()
    x = float(cfg.x)
    time.sleep(float(cfg.get("size", 0)) * float(cfg.get("unit", 0)))
    if cfg.get("fail_below") is not None and x < float(cfg.fail_below):
        raise ValueError("x too low")
    with open(os.environ["STAMPS"], "a") as f:
        f.write(json.dumps({
            "slot": int(os.environ["HYDRAFLOW_SLOT"]),
            "device": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "start": start,
            "end": time.time(),
            "x": x,
        }) + "\\n")
    return {"loss": (x - 2) ** 2}

if __name__ == "__main__":
    main()
"""

JOB = """\
jobs:
  tune:
    run: {python} app.py
    metric: loss
    goal: minimize
    warm: {warm}
    add: {add}
    search:
      trials: {trials}
      seed: 0
      space: +x=interval(-5,5) {space}
"""


def setup(project: Project, trials: int, warm: bool, add: str = "", space: str = "") -> Path:
    project.write("app.py", APP)
    project.yaml(
        JOB.format(
            python=sys.executable,
            warm=str(warm).lower(),
            add=add or "+unit=0",
            trials=trials,
            space=space,
        )
    )
    return project.root / "stamps.jsonl"


def stamps(path: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def study_trials(root: Path) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name="tune", storage=storage_url(root))
    return study.get_trials(deepcopy=False)


def test_thirty_trials_at_j2_find_the_minimum(project: Project) -> None:
    path = setup(project, trials=30, warm=True)
    ran = project.here("run", "tune", "-j", "2", env={"STAMPS": str(project.root / "stamps.jsonl")})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "tune: 30 trials" in ran.stdout
    runs = stamps(path)
    assert len(runs) == 30
    best = min(runs, key=lambda run: (run["x"] - 2) ** 2)
    assert abs(best["x"] - 2) < 0.2
    trials = study_trials(project.root)
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 30
    # results lists every trial with its value, the best first
    listed = json.loads(project.here("results", "tune", "--json").stdout)
    assert len(listed) == 30
    assert listed[0]["metrics"]["loss"] == pytest.approx(min(t.value for t in trials))
    # status: every trial a batch of its own, and the study's progress and best value
    best_trial = min(trials, key=lambda t: t.value)
    status = project.here("status", "tune").stdout
    row = next(line.split() for line in status.splitlines() if line.startswith("tune "))
    assert row[1:] == ["30", "30", "0", "0", "0"]  # batches, ok, failed, never run, stale
    assert (
        f"study tune: 30/30 trials, best loss {best_trial.value:.6g} (#{best_trial.number})"
        in status
    )


def test_both_slots_stay_busy_while_trials_remain_each_on_its_device(project: Project) -> None:
    # Half the trials sleep 3 s (size=1), half do not: a pool that waited for a whole
    # batch (Hydra's Optuna sweeper) would leave a short trial's slot idle meanwhile.
    path = setup(project, trials=10, warm=True, add="+unit=3", space="+size=choice(0,1)")
    ran = project.here("run", "tune", "-j", "2", "--devices", "3,5", env={"STAMPS": str(path)})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    runs = sorted(stamps(path), key=lambda run: run["start"])
    assert len(runs) == 10
    assert all(run["device"] == ("3", "5")[int(run["slot"])] for run in runs)
    assert {run["slot"] for run in runs} == {0, 1}
    waited = checked = 0
    for slot in (0, 1):
        mine = [run for run in runs if run["slot"] == slot]
        others = [run for run in runs if run["slot"] != slot]
        for before, after in itertools.pairwise(mine):
            # The other slot's trial still running well after this slot's ended (longer
            # than a trial takes to start on a loaded machine): the next trial here must
            # have started before it ended, not waited for it.
            long = [o for o in others if o["start"] < before["end"] < o["end"] - 2.0]
            for other in long:
                checked += 1
                waited += after["start"] > other["end"]
    assert checked >= 1  # the durations did overlap as planned
    assert waited == 0


def test_a_search_killed_then_resumed_finishes_its_trials_once(project: Project) -> None:
    path = setup(project, trials=8, warm=False, add="+unit=0.4 +size=1")
    env = {"STAMPS": str(path)}
    runner = project.start("run", "tune", "-j", "2", env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    runner.send_signal(signal.SIGKILL)
    runner.communicate(timeout=30)
    assert len(path.read_text().splitlines()) < 8
    time.sleep(1.0)  # the watchdog stops what the runner left running
    ran = project.here("run", "tune", "-j", "2", "--resume", env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    trials = study_trials(project.root)
    state = optuna.trial.TrialState
    lost = [t for t in trials if t.user_attrs.get("hydraflow") == "lost"]
    counted = [t for t in trials if t not in lost and t.state != state.RUNNING]
    assert len(counted) == 8
    assert lost and all(t.state == state.FAIL for t in lost)
    points = [t.params["+x"] for t in trials if t.state == state.COMPLETE]
    assert len(points) == len(set(points)) == 8


def test_failed_trials_are_told_failed_and_the_search_finishes(project: Project) -> None:
    path = setup(project, trials=6, warm=True, add="+unit=0 +fail_below=0")
    ran = project.here("run", "tune", "-j", "2", "--max-failures", "6", env={"STAMPS": str(path)})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    trials = study_trials(project.root)
    failed = {t.number for t in trials if t.state == optuna.trial.TrialState.FAIL}
    assert failed == {t.number for t in trials if t.params["+x"] < 0}
    assert failed  # the seed gives some x below 0
    assert len(trials) == 6


def test_a_search_whose_trials_all_fail_stops_and_says_so(project: Project) -> None:
    path = setup(project, trials=10, warm=True, add="+unit=0 +fail_below=10")
    ran = project.here("run", "tune", "-j", "2", "--max-failures", "3", env={"STAMPS": str(path)})
    assert ran.returncode == 1, ran.stdout + ran.stderr
    said = ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr and "no trial succeeded" in said  # the app's own on stdout
    assert "too many trials failed in a row" in said


PRUNED_APP = """\
import time
import hydra
import hydraflow

@hydra.main(version_base=None, config_path=None)
def main(cfg):
    x = float(cfg.x)
    for step in range(8):
        hydraflow.report(step, (x - 2) ** 2 + 1 / (step + 1))
        time.sleep(0.15)
    return {"loss": (x - 2) ** 2}

if __name__ == "__main__":
    main()
"""


def test_a_pruned_trial_is_stopped_and_recorded_as_pruned(project: Project) -> None:
    setup(project, trials=12, warm=True)
    project.write("app.py", PRUNED_APP)
    ran = project.here("run", "tune", "-j", "2")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    trials = study_trials(project.root)
    state = optuna.trial.TrialState
    pruned = [t for t in trials if t.state == state.PRUNED]
    assert pruned, [t.state for t in trials]
    assert all(t.intermediate_values for t in pruned)
    assert len([t for t in trials if t.state in (state.COMPLETE, state.PRUNED)]) == 12
    assert f"{len(pruned)} pruned" in ran.stdout
    # stopped before its 8 steps (1.2 s): the pruned run never returned its loss
    listed = json.loads(project.here("results", "tune", "--json").stdout)
    assert sum(row["status"] == "pruned" for row in listed) == len(pruned)
    counts = json.loads(project.here("status", "tune", "--json").stdout)["jobs"][0]["counts"]
    assert counts["pruned"] == len(pruned) and counts["stale"] == 0
