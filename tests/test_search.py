"""Search jobs' policy, in-process: the real Optuna and ledger, fake batches on a clock that
jumps to the next thing due. Each fake trial writes its metric where a run would
(``<sweep dir>/0/metrics.json``) and lasts as long as its values say, so when a trial
was asked for, how it was told and when the search stops are exact."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
from fakes import Events, FakeClock, FakeStarter, Script, Started, runtime

from hydraflow.config import Config, load
from hydraflow.engine.execution import Request
from hydraflow.engine.workflow import run_job
from hydraflow.errors import UsageError
from hydraflow.events import BatchFinished, ExecutionFinished, Preview, Summary, TrialTold
from hydraflow.flags import RunOptions
from hydraflow.reporting import summary_line
from hydraflow.search.study import STORAGE, storage_url
from hydraflow.statuses import BatchStatus, ExitStatus

START = 1000.0
QUADRATIC = """\
jobs:
  tune:
    run: app
    record: false
    metric: loss
    goal: minimize
    search:
      trials: {trials}
      seed: 0
      space: +x=interval(-5,5){more}
{sets}"""


def project(root: Path, trials: int = 12, more: str = "", sets: str = "") -> Config:
    path = root / "hydraflow.yaml"
    path.write_text(QUADRATIC.format(trials=trials, more=more, sets=sets))
    return load(path).check()


def words(argv: tuple[str, ...]) -> dict[str, str]:
    return dict(w.split("=", 1) for w in argv if "=" in w)


Behaviour = Callable[[dict[str, str]], Script]


def quadratic(seconds: Callable[[float], float] = lambda x: 1.0) -> Behaviour:
    """A trial that returns ``(x-2)^2`` after ``seconds(x)``."""

    def script(overrides: dict[str, str]) -> Script:
        return Script(ends_at=seconds(float(overrides["+x"])))

    return script


@dataclass
class Outcome:
    code: int
    started: list[Started]
    events: Events

    @property
    def summary(self) -> Summary:
        (finished,) = self.events.of(ExecutionFinished)
        return finished.summary  # type: ignore[no-any-return]

    def told(self) -> list[TrialTold]:
        return self.events.of(TrialTold)


def search(
    root: Path,
    behaviour: Behaviour | None = None,
    config: Config | None = None,
    before: Callable[[tuple[str, ...], dict[str, str]], None] | None = None,
    **flags: object,
) -> Outcome:
    """Run job ``tune`` with fake trials that write their loss as a run would."""
    config = config or project(root)
    behaviour = behaviour or quadratic()
    clock = FakeClock(START)

    def script_for(argv: tuple[str, ...], env: dict[str, str]) -> Script:
        overrides = words(argv)
        run = root / overrides["hydra.sweep.dir"] / "0"
        run.mkdir(parents=True)
        x = float(overrides["+x"])
        (run / "metrics.json").write_text(json.dumps({"loss": (x - 2) ** 2}))
        if before is not None:
            before(argv, env)
        return behaviour(overrides)

    starter = FakeStarter(clock, script_for)
    events = Events()
    options = RunOptions(**flags)  # type: ignore[arg-type]
    request = Request(config, config.job("tune"), options)
    code = run_job(request, [events], runtime(clock, starter))
    return Outcome(code, starter.started, events)


def trials_of(root: Path, name: str = "tune") -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=storage_url(root))
    return study.get_trials(deepcopy=False)


# -- ask and tell through the pool ------------------------------------------------------------


def test_a_slot_that_frees_starts_the_next_trial_at_once(tmp_path: Path) -> None:
    # Trials last 1 to 6 s by their x: a pool that waited for a whole batch (the sweeper)
    # would leave a slot idle whenever two trials of a batch differ.
    outcome = search(tmp_path, quadratic(lambda x: 1 + abs(x)), jobs=2)
    assert outcome.code == ExitStatus.OK
    assert len(outcome.started) == 12
    ends = sorted(s.ended for s in outcome.started if s.ended is not None)
    starts = sorted(s.time for s in outcome.started)
    assert starts[:2] == [START, START]
    # Every start after the first two is the very moment a trial ended; every end but the
    # last two (no trial was left to ask for) starts a trial at that moment.
    assert set(starts[2:]) <= set(ends)
    assert all(end in starts for end in ends[:-2])
    assert len({round(s.time, 9) for s in outcome.started}) > 2  # the durations did differ


def test_each_trial_is_told_before_the_next_is_asked(tmp_path: Path) -> None:
    outcome = search(tmp_path, jobs=1)
    told = outcome.told()
    assert [t.finished for t in told] == list(range(1, 13))
    assert all(t.state == "complete" for t in told)
    # one at a time: trial n started only after trial n-1 was told (its end)
    for before, after in itertools.pairwise(outcome.started):
        assert before.ended is not None and after.time >= before.ended
    trials = trials_of(tmp_path)
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 12
    for trial in trials:
        assert trial.value == pytest.approx((trial.params["+x"] - 2) ** 2)


def test_devices_are_given_per_slot(tmp_path: Path) -> None:
    outcome = search(tmp_path, quadratic(lambda x: 1 + abs(x)), jobs=2, devices=("3", "5"))
    for started in outcome.started:
        slot = int(started.env["HYDRAFLOW_SLOT"])
        assert started.env["CUDA_VISIBLE_DEVICES"] == ("3", "5")[slot]
    assert {s.env["HYDRAFLOW_SLOT"] for s in outcome.started} == {"0", "1"}


# -- failures, timeouts and when a search stops -------------------------------------------------


def test_failed_and_timed_out_trials_are_told_failed_and_the_search_goes_on(
    tmp_path: Path,
) -> None:
    def behaviour(overrides: dict[str, str]) -> Script:
        x = float(overrides["+x"])
        if x < 0:
            return Script(ends_at=1.0, code=1)
        if x > 3:
            return Script(ends_at=None)  # hangs: stopped by --timeout
        return Script(ends_at=1.0)

    outcome = search(tmp_path, behaviour, jobs=2, timeout=5.0, max_failures=100)
    assert outcome.code == ExitStatus.OK  # failures are part of searching
    finished = {f.batch.trial: f.status for f in outcome.events.of(BatchFinished)}
    by_number = {int(trial.rpartition("#")[2]): status for trial, status in finished.items()}
    failing = {n for n, s in by_number.items() if s in (BatchStatus.FAILED, BatchStatus.TIMEOUT)}
    assert {BatchStatus.FAILED, BatchStatus.TIMEOUT} <= set(by_number.values())
    trials = trials_of(tmp_path)
    assert len(trials) == 12
    state = optuna.trial.TrialState
    assert {t.number for t in trials if t.state == state.FAIL} == failing
    assert all(t.state == state.COMPLETE for t in trials if t.number not in failing)
    assert "12 trials" in summary_line(outcome.summary)


def test_max_failures_counts_failures_in_a_row(tmp_path: Path) -> None:
    # Fails on every other trial: never two in a row, so a limit of 2 never stops it.
    count = iter(range(100))

    def every_other(overrides: dict[str, str]) -> Script:
        return Script(ends_at=1.0, code=next(count) % 2)

    outcome = search(tmp_path, every_other, jobs=1, max_failures=2)
    assert outcome.code == ExitStatus.OK
    assert len(outcome.started) == 12


def test_a_search_stopped_by_its_failures_exits_1(tmp_path: Path) -> None:
    outcome = search(tmp_path, lambda overrides: Script(ends_at=1.0, code=3), jobs=1)
    assert outcome.code == ExitStatus.FAILED
    assert len(outcome.started) == 5  # the default: 5 in a row
    assert outcome.summary.not_started == 7
    assert len(trials_of(tmp_path)) == 5


# -- storage and resume -------------------------------------------------------------------------


def test_resume_goes_on_until_trials_finished_and_proposes_no_point_again(
    tmp_path: Path,
) -> None:
    config = project(tmp_path, trials=10)
    first = search(tmp_path, config=config, jobs=1, max_failures=3)
    assert first.code == ExitStatus.OK
    # A study killed mid-way: two more trials left running, as a SIGKILL leaves them.
    study = optuna.load_study(study_name="tune", storage=storage_url(tmp_path))
    study.ask({"+x": optuna.distributions.FloatDistribution(-5, 5)})
    study.ask({"+x": optuna.distributions.FloatDistribution(-5, 5)})
    config = project(tmp_path, trials=14)
    second = search(tmp_path, config=config, jobs=2, resume=True)
    assert second.code == ExitStatus.OK
    assert len(second.started) == 4  # 14 wanted, 10 finished; the two running are lost
    trials = trials_of(tmp_path)
    state = optuna.trial.TrialState
    lost = [t for t in trials if t.user_attrs.get("hydraflow") == "lost"]
    assert [t.state for t in lost] == [state.FAIL, state.FAIL]
    complete = [t for t in trials if t.state == state.COMPLETE]
    assert len(complete) == 14
    points = [t.params["+x"] for t in complete]
    assert len(set(points)) == len(points)


def test_without_resume_a_search_starts_a_new_study(tmp_path: Path) -> None:
    search(tmp_path, config=project(tmp_path, trials=2))
    search(tmp_path, config=project(tmp_path, trials=2))
    names = optuna.study.get_all_study_names(storage_url(tmp_path))
    assert sorted(names) == ["tune", "tune #2"]


def test_each_combination_is_its_own_study(tmp_path: Path) -> None:
    sets = "    sets:\n      - each: opt=sgd,adam\n        add: lr=1\n"
    config = project(tmp_path, trials=3, sets=sets)
    outcome = search(tmp_path, config=config, jobs=2)
    assert outcome.code == ExitStatus.OK
    for name in ("tune[opt=sgd]", "tune[opt=adam]"):
        assert len(trials_of(tmp_path, name)) == 3
    argvs = [words(s.argv) for s in outcome.started]
    assert sorted(a["opt"] for a in argvs) == ["adam"] * 3 + ["sgd"] * 3
    assert all(a["lr"] == "1" for a in argvs)


def test_a_trial_without_its_metric_is_failed_and_said_once(tmp_path: Path) -> None:
    config = project(tmp_path, trials=3)
    text = (tmp_path / "hydraflow.yaml").read_text().replace("metric: loss", "metric: acc")
    (tmp_path / "hydraflow.yaml").write_text(text)
    config = load(tmp_path / "hydraflow.yaml").check()
    outcome = search(tmp_path, config=config, max_failures=10)
    assert [t.state for t in outcome.told()] == ["failed"] * 3
    notices = [e for e in outcome.events.events if "no 'acc'" in str(getattr(e, "text", ""))]
    assert len(notices) == 1


# -- what the user sees ------------------------------------------------------------------------


def test_the_trial_line_says_progress_and_best(tmp_path: Path) -> None:
    outcome = search(tmp_path, config=project(tmp_path, trials=4))
    last = outcome.told()[-1]
    best = min(trials_of(tmp_path), key=lambda t: t.value)
    assert last.line() == f"trial 4/4, best loss {best.value:.4g} (#{best.number})"


def test_dry_run_shows_the_study_and_one_command_and_makes_nothing(tmp_path: Path) -> None:
    config = project(tmp_path, trials=7, more=" model=small,large")
    outcome = search(tmp_path, config=config, dry_run=True)
    lines = [e.text for e in outcome.events.of(Preview)]
    assert lines[0].startswith("# study tune: 7 trials, 0 done, 7 left; sampler tpe (seed 0)")
    assert lines[1] == "# space: +x=interval(-5,5) model=small,large"
    assert lines[-1].startswith("app --multirun +x=-5 model=small ")
    assert not (tmp_path / STORAGE).exists()
    assert outcome.started == []


def test_a_missing_optuna_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(UsageError, match=r"pip install 'hydraflow\[search\]'"):
        search(tmp_path)


# -- pruning ------------------------------------------------------------------------------------


def test_a_trial_the_pruner_stops_is_stopped_and_told_pruned(tmp_path: Path) -> None:
    # Every trial reports its loss at steps 0..4 at once, then runs 10 s: once five have
    # completed (the median pruner's start), a worse one is stopped at its next look.
    def reporting(overrides: dict[str, str]) -> Script:
        return Script(ends_at=10.0)

    config = project(tmp_path, trials=14)

    def script_for_reports(argv: tuple[str, ...], env: dict[str, str]) -> None:
        x = float(words(argv)["+x"])
        path = Path(env["HYDRAFLOW_REPORTS"]) / f"{env['HYDRAFLOW_BATCH']}.jsonl"
        with open(path, "a") as handle:
            for step in range(5):
                handle.write(json.dumps({"step": step, "value": (x - 2) ** 2}) + "\n")

    outcome = search(tmp_path, reporting, config=config, jobs=2, before=script_for_reports)
    assert outcome.code == ExitStatus.OK
    pruned = [f for f in outcome.events.of(BatchFinished) if f.status == BatchStatus.PRUNED]
    assert pruned
    assert all(f.duration < 1.0 for f in pruned)  # stopped at once, not after 10 s
    state = optuna.trial.TrialState
    trials = trials_of(tmp_path)
    assert len(trials) == 14
    numbers = {int(f.batch.trial.rpartition("#")[2]) for f in pruned}
    assert {t.number for t in trials if t.state == state.PRUNED} == numbers
    assert "pruned" in summary_line(outcome.summary)


def test_report_does_nothing_outside_a_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hydraflow

    monkeypatch.delenv("HYDRAFLOW_REPORTS", raising=False)
    hydraflow.report(1, 0.5)  # no error, no file
    monkeypatch.setenv("HYDRAFLOW_REPORTS", str(tmp_path))
    monkeypatch.setenv("HYDRAFLOW_BATCH", "7")
    hydraflow.report(2, 0.25)
    hydraflow.report(3, float("nan"))
    assert (tmp_path / "7.jsonl").read_text() == '{"step": 2, "value": 0.25}\n'
    assert list(tmp_path.iterdir()) == [tmp_path / "7.jsonl"]
