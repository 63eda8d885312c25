"""The engine's policy, in-process: ``run_job`` and the pool with fake batches and a
clock that jumps to the next thing due. The real processes are proven end to end
elsewhere (test_pool, test_warm, test_terminal); here every decision is exact."""

from __future__ import annotations

import io
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes import Events, FakeClock, FakeStarter, Script, Started, runtime

from hydraflow.config import Config, load
from hydraflow.display.plain import PlainDisplay
from hydraflow.engine.execution import Request
from hydraflow.engine.starters import Spawner
from hydraflow.engine.workflow import run_job
from hydraflow.errors import UsageError
from hydraflow.events import (
    BatchFinished,
    BatchOutput,
    BatchSkipped,
    ExecutionFinished,
    Preview,
    RunsLaunched,
    Stopped,
    Summary,
)
from hydraflow.flags import RunOptions
from hydraflow.ledger import LEDGER, Ledger, Runner
from hydraflow.reporting import summary_line
from hydraflow.statuses import BatchStatus, ExitStatus, Skip

START = 1000.0


def project(root: Path, sets: str = "      - each: i=1:4\n", job: str = "") -> Config:
    path = root / "hydraflow.yaml"
    path.write_text(f"jobs:\n  j:\n    run: app\n{job}    sets:\n{sets}")
    return load(path).check()


def words(argv: tuple[str, ...]) -> dict[str, str]:
    """The batch's overrides, as ``{key: value}``."""
    return dict(w.split("=", 1) for w in argv if "=" in w)


@dataclass
class Outcome:
    code: int
    started: list[Started]
    events: Events
    clock: FakeClock

    @property
    def summary(self) -> Summary:
        (finished,) = self.events.of(ExecutionFinished)
        return finished.summary  # type: ignore[no-any-return]

    def starts(self) -> list[tuple[str, float]]:
        return [(words(s.argv)["i"], s.time - START) for s in self.started]

    def finished(self) -> list[BatchFinished]:
        return self.events.of(BatchFinished)

    def shown(self) -> str:
        """What the plain view prints of these events, as a user reads it."""
        return plain_view(self.events)


def plain_view(events: Events) -> str:
    """The events as the plain view prints them (it only reads events: replaying them
    after the run is the same as watching it)."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    display = PlainDisplay(out, rerun="hydraflow run j --resume")
    for event in events.events:
        display.handle(event)
    return out.buffer.getvalue().decode()  # type: ignore[attr-defined,no-any-return]


def execute(
    config: Config,
    script: Script | None = None,
    scripts: dict[str, Script] | None = None,
    extra: tuple[str, ...] = (),
    **flags: object,
) -> Outcome:
    """Run job ``j`` with fake batches: ``scripts`` by the value of ``i``, else ``script``."""
    clock = FakeClock(START)
    default = script or Script(ends_at=1.0)

    def script_for(argv: tuple[str, ...], env: dict[str, str]) -> Script:
        return (scripts or {}).get(words(argv).get("i", ""), default)

    starter = FakeStarter(clock, script_for)
    events = Events()
    options = RunOptions(**{"ledger": False, **flags})  # type: ignore[arg-type]
    request = Request(config, config.job("j"), options, extra)
    code = run_job(request, [events], runtime(clock, starter))
    return Outcome(code, starter.started, events, clock)


# -- the pool: how many at once, in which slot, on which device -------------------------------


def test_j_bounds_how_many_run_at_once_and_slots_are_reused(tmp_path: Path) -> None:
    ran = execute(project(tmp_path, "      - each: i=1:5\n"), jobs=2)
    assert ran.code == ExitStatus.OK
    assert ran.starts() == [("1", 0.0), ("2", 0.0), ("3", 1.0), ("4", 1.0), ("5", 2.0)]
    slots = [s.env["HYDRAFLOW_SLOT"] for s in ran.started]
    assert slots[:2] == ["0", "1"] and set(slots) == {"0", "1"}
    assert [s.env["HYDRAFLOW_BATCH"] for s in ran.started] == ["0", "1", "2", "3", "4"]
    assert ran.clock.now - START == 3.0
    assert summary_line(ran.summary) == "j: 5 batches, 5 runs in 3.0s: 5 ok"


def test_one_worker_runs_batches_one_after_another(tmp_path: Path) -> None:
    ran = execute(project(tmp_path))
    assert ran.starts() == [("1", 0.0), ("2", 1.0), ("3", 2.0), ("4", 3.0)]


def test_each_slot_has_its_device(tmp_path: Path) -> None:
    ran = execute(project(tmp_path), jobs=2, devices=("3", "7"))
    pairs = {(s.env["HYDRAFLOW_SLOT"], s.env["CUDA_VISIBLE_DEVICES"]) for s in ran.started}
    assert pairs == {("0", "3"), ("1", "7")}
    alone = execute(project(tmp_path), devices=("5", "6"))
    assert {s.env["CUDA_VISIBLE_DEVICES"] for s in alone.started} == {"5"}
    # The job's own ``devices:`` when no --devices is given.
    from_file = execute(project(tmp_path, job="    devices: 0,1\n"), jobs=2)
    pairs = {(s.env["HYDRAFLOW_SLOT"], s.env["CUDA_VISIBLE_DEVICES"]) for s in from_file.started}
    assert pairs == {("0", "0"), ("1", "1")}
    with pytest.raises(UsageError, match="3 workers but 2 device"):
        execute(project(tmp_path), jobs=3, devices=("0", "1"))


def test_more_workers_than_batches_start_only_what_is_needed(tmp_path: Path) -> None:
    ran = execute(project(tmp_path, "      - each: i=1,2\n"), jobs=8)
    assert {s.env["HYDRAFLOW_SLOT"] for s in ran.started} == {"0", "1"}


# -- failures: stop, keep going, retry ------------------------------------------------------------


FAILS = {"2": Script(ends_at=1.0, code=3)}


def test_the_first_failure_stops_new_launches(tmp_path: Path) -> None:
    ran = execute(project(tmp_path), scripts=FAILS)
    assert ran.code == ExitStatus.FAILED
    assert [i for i, _ in ran.starts()] == ["1", "2"]
    assert summary_line(ran.summary).endswith("1 ok, 1 failed, 2 not started")
    assert [f.returncode for f in ran.summary.failures] == [3]
    assert "\n✗ i=2: failed (exit 3)" in ran.shown()  # the failure, named in the report


def test_a_running_batch_ends_after_a_failure_elsewhere(tmp_path: Path) -> None:
    slow = {"1": Script(ends_at=5.0), "2": Script(ends_at=1.0, code=3)}
    ran = execute(project(tmp_path), scripts=slow, jobs=2)
    assert [i for i, _ in ran.starts()] == ["1", "2"]
    assert [(f.status, f.ended - START) for f in ran.finished()] == [
        (BatchStatus.FAILED, 1.0),
        (BatchStatus.OK, 5.0),  # running batches finish; nothing new starts
    ]


def test_keep_going_runs_everything_and_max_failures_still_stops(tmp_path: Path) -> None:
    all_fail = Script(ends_at=1.0, code=1)
    kept = execute(project(tmp_path), script=all_fail, keep_going=True)
    assert len(kept.started) == 4 and kept.code == ExitStatus.FAILED
    capped = execute(project(tmp_path), script=all_fail, keep_going=True, max_failures=2)
    assert len(capped.started) == 2
    alone = execute(project(tmp_path), script=all_fail, max_failures=3)
    assert len(alone.started) == 3
    # Keep going to the end: every batch is told of, and none is "not started".
    mixed = {i: Script(ends_at=1.0, code=1) for i in ("1", "2", "4")}
    every = execute(project(tmp_path, "      - each: i=1:5\n"), scripts=mixed, keep_going=True)
    assert every.code == ExitStatus.FAILED and len(every.started) == 5
    line = summary_line(every.summary)
    assert line.startswith("j: 5 batches, 5 runs in ") and line.endswith(": 2 ok, 3 failed")


def test_a_failed_batch_is_tried_again_up_to_retries(tmp_path: Path) -> None:
    tries: dict[str, int] = {}

    def flaky(argv: tuple[str, ...], env: dict[str, str]) -> Script:
        i = words(argv)["i"]
        tries[i] = tries.get(i, 0) + 1
        return Script(ends_at=1.0, code=1 if i == "2" and tries[i] < 3 else 0)

    clock = FakeClock(START)
    starter = FakeStarter(clock, flaky)
    events = Events()
    config = project(tmp_path)
    request = Request(config, config.job("j"), RunOptions(ledger=False, retries=2))
    assert run_job(request, [events], runtime(clock, starter)) == ExitStatus.OK
    assert tries == {"1": 1, "2": 3, "3": 1, "4": 1}
    retried = [f.attempt for f in events.of(BatchFinished) if f.retrying]
    assert retried == [1, 2]
    assert "hydraflow: start  #2 i=2 (attempt 3)\n" in plain_view(events)
    # Not enough tries: the last failure is reported, once.
    tries.clear()
    again = Request(config, config.job("j"), RunOptions(ledger=False, retries=1))
    events, clock = Events(), FakeClock(START)
    assert run_job(again, [events], runtime(clock, FakeStarter(clock, flaky))) == 1
    (summary,) = [e.summary for e in events.of(ExecutionFinished)]
    assert [(f.status, f.attempt) for f in summary.failures] == [(BatchStatus.FAILED, 2)]
    # Every try fails: 1 + retries starts, and the run fails.
    one = project(tmp_path, "      - each: i=1\n")
    hopeless = execute(one, Script(ends_at=1.0, code=3), retries=2)
    assert hopeless.code == ExitStatus.FAILED and len(hopeless.started) == 3
    assert "hydraflow: start  #1 i=1 (attempt 3)\n" in hopeless.shown()


def test_a_program_that_cannot_start_is_a_failed_batch(tmp_path: Path) -> None:
    path = tmp_path / "hydraflow.yaml"
    path.write_text("jobs:\n  j:\n    run: missing-program\n")
    ran = execute(load(path))
    assert ran.code == ExitStatus.FAILED
    (failed,) = ran.summary.failures
    assert failed.returncode is None and "cannot start 'missing-program'" in failed.tail[0]
    assert "cannot start 'missing-program'" in ran.shown()


def test_the_real_starter_refuses_a_missing_program_as_the_fake_does() -> None:
    """The fake's FileNotFoundError for a missing program is what ``posix_spawnp`` says."""
    spawner = Spawner()
    try:
        with pytest.raises(FileNotFoundError):
            spawner.start(["surely-not-a-program-42"], {})
    finally:
        spawner.close()


# -- time: timeouts, and what outlives a batch ----------------------------------------------------


def test_a_timeout_sends_term_then_kill_after_the_grace_period(tmp_path: Path) -> None:
    stubborn = Script(ends_at=None, ignores_term=True)
    ran = execute(project(tmp_path, "      - each: i=1\n"), script=stubborn, timeout=30.0)
    (started,) = ran.started
    assert started.signals == [signal.SIGTERM, signal.SIGKILL]
    assert started.ended is not None and started.ended - START == 35.0  # 30 s, then 5 s grace
    (finished,) = ran.finished()
    assert finished.status == BatchStatus.TIMEOUT and finished.timeout == 30.0
    polite = execute(
        project(tmp_path, "      - each: i=1\n"), script=Script(ends_at=None), timeout=2.0
    )
    assert polite.started[0].signals == [signal.SIGTERM] and polite.clock.now - START == 2.0


def test_a_leftover_holding_the_pipes_does_not_hold_the_run(tmp_path: Path) -> None:
    ran = execute(project(tmp_path, "      - each: i=1\n"), script=Script(ends_at=1.0, stray=True))
    (finished,) = ran.finished()
    assert finished.status == BatchStatus.OK  # the batch itself succeeded
    assert ran.started[0].signals[0] == signal.SIGTERM  # its group is told to go
    assert ran.clock.now - START <= 1.0 + 5.0 + 1.0 + 0.01


# -- interrupts -----------------------------------------------------------------------------


def interrupt_at(clock: FakeClock, *moments: float) -> None:
    for moment in moments:
        clock.at(START + moment, lambda: os.kill(os.getpid(), signal.SIGINT))


def test_ctrl_c_stops_every_running_batch_and_starts_nothing_more(tmp_path: Path) -> None:
    clock = FakeClock(START)
    long = Script(lines=[(0.0, "[HYDRA] \t#0 : i=1"), (1.0, "[HYDRA] \t#1 : i=1")], ends_at=60.0)
    starter = FakeStarter(clock, lambda argv, env: long)
    interrupt_at(clock, 2.0)
    events = Events()
    config = project(tmp_path, "      - each: i=1:4\n        all: s=1,2\n")
    request = Request(config, config.job("j"), RunOptions(ledger=False, jobs=2))
    assert run_job(request, [events], runtime(clock, starter)) == ExitStatus.INTERRUPTED
    assert len(starter.started) == 2
    assert all(s.signals == [signal.SIGTERM] for s in starter.started)
    assert [f.status for f in events.of(BatchFinished)] == [BatchStatus.INTERRUPTED] * 2
    assert len(events.of(Stopped)) == 1
    (summary,) = [e.summary for e in events.of(ExecutionFinished)]
    # Each stopped batch had finished its first run of two: the bar and the summary agree.
    assert summary.runs_done == 2
    assert summary_line(summary).endswith("2 interrupted, 2 not started; 2/8 runs done")


def test_a_second_ctrl_c_kills_at_once(tmp_path: Path) -> None:
    clock = FakeClock(START)
    starter = FakeStarter(clock, lambda argv, env: Script(ends_at=None, ignores_term=True))
    interrupt_at(clock, 1.0, 1.5)
    config = project(tmp_path, "      - each: i=1\n")
    request = Request(config, config.job("j"), RunOptions(ledger=False))
    assert run_job(request, [Events()], runtime(clock, starter)) == ExitStatus.INTERRUPTED
    (started,) = starter.started
    assert started.signals == [signal.SIGTERM, signal.SIGKILL]
    assert started.ended is not None and started.ended - START == 1.5


# -- what the views are told ----------------------------------------------------------------


def test_output_reaches_the_views_as_lines_and_the_log(tmp_path: Path) -> None:
    talk = Script(
        lines=[(0.1, "[HYDRA] \t#0 : i=1 s=1"), (0.2, "loss 0.5"), (0.3, "[x] [/y]")], ends_at=1.0
    )
    ran = execute(project(tmp_path, "      - each: i=1\n        all: s=1,2\n"), script=talk)
    assert [e.data for e in ran.events.of(BatchOutput)] == [
        b"[HYDRA] \t#0 : i=1 s=1",
        b"loss 0.5",
        b"[x] [/y]",
    ]
    assert [e.started for e in ran.events.of(RunsLaunched)] == [1]
    (finished,) = ran.finished()
    assert finished.log_path is not None
    assert (tmp_path / finished.log_path).read_bytes().splitlines()[1] == b"loss 0.5"
    silent = execute(project(tmp_path, "      - each: i=1\n"))
    assert silent.finished()[0].log_path is None


def test_a_dry_run_previews_the_exact_commands_and_starts_nothing(tmp_path: Path) -> None:
    ran = execute(project(tmp_path, "      - each: i=1,2\n"), dry_run=True, extra=("e=1",))
    assert ran.code == 0 and ran.started == []
    lines = [p.text for p in ran.events.of(Preview)]
    assert len(lines) == 2 and lines[0].startswith("app --multirun i=1 hydra.job.name=j")
    assert all(line.endswith(" e=1") for line in lines)


# -- claims and resume ----------------------------------------------------------------------


def sweep_of(started: Started) -> str:
    return words(started.argv)["hydra.sweep.dir"]


def test_resume_runs_exactly_what_did_not_succeed_in_its_folder(tmp_path: Path) -> None:
    config = project(tmp_path)
    first = execute(config, scripts=FAILS, keep_going=True, ledger=True)
    assert first.code == ExitStatus.FAILED
    failed_folder = sweep_of(first.started[1])
    again = execute(config, ledger=True, resume=True)
    assert [i for i, _ in again.starts()] == ["2"]
    assert sweep_of(again.started[0]) == failed_folder
    assert again.summary.skipped == 3
    assert summary_line(again.summary).endswith("1 ok, 3 skipped (done before)")
    done = execute(config, ledger=True, resume=True)
    assert done.started == [] and done.summary.skipped == 4


def test_a_batch_a_live_runner_has_is_left_to_it(tmp_path: Path) -> None:
    config = project(tmp_path, "      - each: i=1,2\n")
    (batch, _) = list(__import__("hydraflow.plan", fromlist=["batches"]).batches(config.job("j")))
    ledger = Ledger(tmp_path / LEDGER)
    other = Runner(Runner.this().host, os.getppid())  # alive, and not this runner
    fields = {"label": batch.label, "argv": [], "sweep_dir": "x", "runs": 1}
    ledger.insert("j", batch.key, {**fields, "status": BatchStatus.RUNNING}, other)
    ledger.close()
    ran = execute(config, ledger=True)
    assert [i for i, _ in ran.starts()] == ["2"]
    (skipped,) = ran.events.of(BatchSkipped)
    assert skipped.reason == Skip.ELSEWHERE and skipped.batch.key == batch.key
    assert summary_line(ran.summary).endswith("1 ok, 1 skipped (running elsewhere)")


def test_resume_reruns_the_single_runs_that_failed_alone_under_their_numbers(
    tmp_path: Path,
) -> None:
    config = project(tmp_path, "      - each: i=1\n        all: s=0:3\n")

    def writes_records(failing: set[int]) -> Script:
        """A batch that leaves a run record per run, as the record callback does."""
        return Script(ends_at=1.0, code=1 if failing else 0)

    clock = FakeClock(START)

    def script_for(argv: tuple[str, ...], env: dict[str, str]) -> Script:
        folder = tmp_path / words(argv)["hydra.sweep.dir"]
        subdir = words(argv).get("hydra.sweep.subdir")
        numbers = [int(subdir)] if subdir else range(4)
        for number in numbers:
            run = folder / str(number)
            run.mkdir(parents=True, exist_ok=True)
            status = "failed" if number == 2 and not subdir else "ok"
            record = {"status": status, "overrides": ["i=1", f"s={number}"]}
            (run / "hydraflow.run.json").write_text(json.dumps(record))
        return writes_records({2} if not subdir else set())

    starter = FakeStarter(clock, script_for)
    job = config.job("j")
    assert run_job(Request(config, job, RunOptions()), [], runtime(clock, starter)) == 1
    events = Events()
    resumed = Request(config, job, RunOptions(resume=True))
    assert run_job(resumed, [events], runtime(clock, starter)) == 0
    rerun = starter.started[-1]
    assert words(rerun.argv)["s"] == "2" and words(rerun.argv)["hydra.sweep.subdir"] == "2"
    assert sweep_of(rerun) == sweep_of(starter.started[0])
    # The batch as a whole now reads as succeeded: nothing is left to resume.
    ledger = Ledger(tmp_path / LEDGER)
    (batch_row,) = [a for a in ledger.latest("j").values() if not a.is_rerun]
    assert batch_row.status == BatchStatus.OK
    assert execute(config, ledger=True, resume=True).started == []


# -- exit 0 is not proof ------------------------------------------------------------------


def test_a_batch_that_exits_0_before_its_runs_are_recorded_is_incomplete(tmp_path: Path) -> None:
    """Hydra announced two runs; neither left a record: the task left the process early."""
    config = project(tmp_path, "      - each: i=1\n        all: s=1,2\n", job="    record: true\n")
    hydra = Script(lines=[(0.1, "[HYDRA] \t#0 : i=1 s=1")], ends_at=1.0)
    ran = execute(config, script=hydra)
    (finished,) = ran.finished()
    assert finished.status == BatchStatus.INCOMPLETE and finished.unrecorded == (0, 1)
    assert ran.code == ExitStatus.FAILED
    assert summary_line(ran.summary).endswith("0 ok, 1 incomplete")
    # A program that is no Hydra app (no run announced, no record at all) is taken at its word.
    plain = execute(config, script=Script(ends_at=1.0))
    assert plain.finished()[0].status == BatchStatus.OK


def test_a_ledger_deleted_during_a_run_is_made_anew_and_forgets_nothing(tmp_path: Path) -> None:
    import shutil

    from hydraflow.events import Notice

    config = project(tmp_path)
    clock = FakeClock(START)
    starter = FakeStarter(clock, lambda argv, env: Script(ends_at=1.0))
    clock.at(START + 1.5, lambda: shutil.rmtree(tmp_path / ".hydraflow"))  # during batch 2
    events = Events()
    request = Request(config, config.job("j"), RunOptions())
    assert run_job(request, [events], runtime(clock, starter)) == ExitStatus.OK
    said = [n.text for n in events.of(Notice) if "deleted during the run" in n.text]
    assert len(said) == 1
    ledger = Ledger(tmp_path / LEDGER, create=False)
    assert [a.status for a in ledger.attempts("j")] == [BatchStatus.OK] * 4
    # Every batch is known to have succeeded: a resume has nothing left to do.
    assert execute(config, ledger=True, resume=True).started == []


def test_slow_batches_that_end_together_claim_no_batch_ahead(tmp_path: Path) -> None:
    """A claim of a batch that has not started reads ``running`` until the runner writes
    its end; killed outright in between, the runner leaves it ``lost``, hiding how it
    ended before. Two 30 s batches that end at once must not look quick."""
    config = project(tmp_path, "      - each: i=1:6\n")
    clock = FakeClock(START)
    starter = FakeStarter(clock, lambda argv, env: Script(ends_at=30.0))
    seen: list[tuple[int, int]] = []

    def look() -> None:
        ledger = Ledger(tmp_path / LEDGER, create=False)
        claimed = sum(a.status == BatchStatus.RUNNING for a in ledger.attempts("j"))
        ledger.close()
        running = sum(s.returncode is None for s in starter.started)
        seen.append((claimed, running))

    for moment in (0.5, 30.5, 60.5):
        clock.at(START + moment, look)
    request = Request(config, config.job("j"), RunOptions(jobs=2))
    assert run_job(request, [], runtime(clock, starter)) == ExitStatus.OK
    assert seen == [(2, 2), (2, 2), (2, 2)]
