"""Policy, in-process and fast: planning, filters, extras, options, failure limits,
resume decisions and what the views say, from plain data and lists of events."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hydraflow.config import Config, Job, load
from hydraflow.display.plain import closing_lines
from hydraflow.engine.output import LineSplitter, hydra_run_number
from hydraflow.errors import UsageError
from hydraflow.events import BatchFinished, ExecutionFinished, Summary
from hydraflow.flags import RunOptions, parse_duration
from hydraflow.plan import (
    RECORD_OVERRIDE,
    Batch,
    Extras,
    Plan,
    batches,
    merge_add,
    no_match,
    override_key,
)
from hydraflow.reporting import (
    cause_of,
    failure_block,
    outputs_line,
    recorded_text,
    status_text,
    summary_line,
)
from hydraflow.selection import Selection
from hydraflow.statuses import BatchStatus

Lines = tuple[str, ...]


def config_of(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "hydraflow.yaml"
    path.write_text(text)
    return load(path).check()


def one_set(each: str) -> str:
    return f"jobs:\n  t:\n    run: app\n    sets:\n      - each: {each}\n"


def argvs(job: Job, extras: Extras) -> list[list[str]]:
    return [list(b.argv("D")) for b in batches(job, extras)]


# -- add and extras -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job_add", "set_add", "merged"),
    [
        (["a=1", "b=2"], ["b=3", "c=4"], ["a=1", "b=3", "c=4"]),
        (["a=1", "b=2"], None, ["a=1", "b=2"]),
        (["a", "b"], ["c", "d", "a", "b=1"], ["a", "b=1", "c", "d"]),
        (["--flag", "x=1"], ["x=2"], ["--flag", "x=2"]),
        ([], ["x=1", "x=2"], ["x=2"]),
    ],
)
def test_merge_add_keeps_first_place_and_last_value(
    job_add: list[str], set_add: list[str] | None, merged: list[str]
) -> None:
    assert merge_add(job_add, set_add) == merged


@pytest.mark.parametrize(
    ("word", "key"),
    [
        ("epochs=1", "epochs"),
        ("+extra=1", "extra"),
        ("++force=2", "force"),
        ("~drop", "drop"),
        ("~drop=3", "drop"),
        ("db/engine=x", "db/engine"),
        ("--config-name=x", None),
        ("-c", None),
        ("bare", None),
        ("=x", None),
    ],
)
def test_override_keys(word: str, key: str | None) -> None:
    assert override_key(word) == key


def test_extra_overrides_go_last_and_replace_the_jobs_words(tmp_path: Path) -> None:
    config = config_of(
        tmp_path,
        "jobs:\n  t:\n    run: app\n    add: epochs=50 seed=1\n    sets:\n"
        "      - each: model=a,b\n        all: lr=1,2\n",
    )
    extras = Extras.parse(["--config-name=x", "epochs=7", "+tag=smoke", "lr=9"])
    assert argvs(config.job("t"), extras) == [
        ["app", "--config-name=x", "--multirun", f"model={m}", "hydra.job.name=t",
         "hydra.sweep.dir=D", RECORD_OVERRIDE, "seed=1", "epochs=7", "+tag=smoke", "lr=9"]
        for m in ("a", "b")
    ]  # fmt: skip


def test_an_extra_may_not_choose_the_sweep_dir() -> None:
    with pytest.raises(UsageError, match="chosen by hydraflow"):
        Extras.parse(["hydra.sweep.dir=elsewhere"])


def test_extras_change_a_batchs_identity_but_not_its_label(tmp_path: Path) -> None:
    config = config_of(tmp_path, one_set("m=a,b"))
    plain = list(batches(config.job("t")))
    smoke = list(batches(config.job("t"), Extras.parse(["epochs=1"])))
    assert [b.label for b in plain] == [b.label for b in smoke] == ["m=a", "m=b"]
    assert {b.key for b in plain}.isdisjoint(b.key for b in smoke)


def test_an_extra_that_replaces_a_swept_word_runs_each_batch_once(tmp_path: Path) -> None:
    config = config_of(tmp_path, one_set("m=a,b s=1,2"))
    plan = Plan(config.job("t"), Extras.parse(["m=c"]))
    assert [b.label for b in plan.batches()] == ["s=1", "s=2"]
    assert plan.count().to_run == 2
    plain = Plan(config_of(tmp_path, one_set("m=a,a")).job("t"))
    assert plain.count().to_run == len(list(plain.batches())) == 2  # as written, as Hydra does


def test_an_extra_leaves_batches_alike_as_written_as_written(tmp_path: Path) -> None:
    # Two sets and a repeat that are alike as written; `a=2` replaces only the add word.
    text = "jobs:\n  t:\n    run: app\n    add: a=1\n    sets:\n"
    config = config_of(tmp_path, text + "      - each: s=1,1\n      - each: s=1\n")
    written = Plan(config.job("t"))
    smoke = Plan(config.job("t"), Extras.parse(["a=2"]))
    assert len(list(smoke.batches())) == smoke.count().to_run == len(list(written.batches())) == 3
    # s=2 is alike only through the extra: gone; the written repeat of s=1 stays.
    config = config_of(tmp_path, text + "      - each: s=1,2,1\n")
    smoke = Plan(config.job("t"), Extras.parse(["s=9"]))
    assert [b.label for b in smoke.batches()] == ["batch 1", "batch 3"]


def test_the_outputs_line_names_each_folder_once() -> None:
    assert outputs_line(["m/j/A", "m/j/A", "m/j/B"]) == "outputs: m/j/A m/j/B"


def test_the_outputs_line_names_folders_a_user_can_open_from_where_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = [str(tmp_path / "multirun" / "j" / name) for name in "AB"]
    monkeypatch.chdir(tmp_path)
    assert outputs_line(folders) == "outputs: multirun/j/A multirun/j/B"
    (tmp_path / "deep").mkdir()
    monkeypatch.chdir(tmp_path / "deep")  # below the project: the whole path
    assert outputs_line(folders) == f"outputs: {folders[0]} {folders[1]}"
    many = [str(tmp_path / "multirun" / "j" / name) for name in "ABCD"]
    assert outputs_line(many) == f"outputs: {tmp_path}/multirun/j/ (4 sweep folders)"
    monkeypatch.chdir(tmp_path)
    assert outputs_line(many) == "outputs: multirun/j/ (4 sweep folders)"


# -- the plan ---------------------------------------------------------------------------------


def test_keys_depend_on_content_not_place(tmp_path: Path) -> None:
    one = config_of(tmp_path, "jobs:\n  t:\n    run: app\n    sets:\n      - each: i=1:2\n")
    two = config_of(
        tmp_path, "jobs:\n  t:\n    run: app\n    sets:\n      - each: i=3\n      - each: i=2,1\n"
    )
    keys_one = {b.label: b.key for b in batches(one.job("t"))}
    keys_two = {b.label: b.key for b in batches(two.job("t"))}
    assert keys_one["i=1"] == keys_two["i=1"] and keys_one["i=2"] == keys_two["i=2"]


def test_runs_per_batch_count_pipes_and_all(tmp_path: Path) -> None:
    config = config_of(
        tmp_path,
        "jobs:\n  t:\n    run: app\n    sets:\n      - each: a=1,2|b=3 c=x,y\n        all: s=1:3\n",
    )
    job = config.job("t")
    assert [b.runs for b in batches(job)] == [6, 6, 3, 3]
    assert sum(b.runs for b in batches(job)) == job.runs == 18


def test_plan_filters_only_and_done_without_side_lists(tmp_path: Path) -> None:
    config = config_of(
        tmp_path, "jobs:\n  t:\n    run: app\n    sets:\n      - each: i=1:4 k=a,b\n"
    )
    job = config.job("t")
    all_batches = list(batches(job))
    done = frozenset(b.key for b in all_batches if b.label in ("i=1 k=a", "i=2 k=a"))
    plan = Plan(job, only=Selection.parse(["k=a"]), done=done)
    assert [b.label for b in plan.batches()] == ["i=3 k=a", "i=4 k=a"]
    assert [b.label for b, skipped in plan.entries() if skipped] == ["i=1 k=a", "i=2 k=a"]
    assert plan.count() == plan.count()  # counting twice gives the same answer
    counts = plan.count()
    assert (counts.to_run, counts.skipped, counts.runs) == (2, 2, 2)


def test_counting_a_plain_plan_makes_no_batches(tmp_path: Path) -> None:
    config = config_of(
        tmp_path, "jobs:\n  t:\n    run: app\n    sets:\n      - each: a=1:1000000\n"
    )
    counts = Plan(config.job("t")).count()
    assert (counts.to_run, counts.runs) == (1_000_000, 1_000_000)


def test_only_that_matches_nothing_names_what_exists(tmp_path: Path) -> None:
    config = config_of(
        tmp_path, "jobs:\n  t:\n    run: app\n    sets:\n      - each: model=small,large\n"
    )
    job = config.job("t")
    assert "did you mean 'model'" in no_match(job, Extras(), Selection.parse(["modl=x"]))
    message = no_match(job, Extras(), Selection.parse(["model=huge"]))
    assert "model is one of small, large" in message


# -- options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("1.5m", 90)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5", "1x", "m", "1h 30m", "inf", "nan", "30m1h2"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_options_parse_and_reject() -> None:
    options = RunOptions.parse(
        {"jobs": "3", "timeout": "1h30m", "devices": "0,0,1", "only": ["a=1", "b=2"], "quiet": True}
    )
    assert options == RunOptions(
        jobs=3, timeout=5400.0, devices=("0", "0", "1"), only=("a=1", "b=2"), quiet=True
    )
    for raw, message in [
        ({"jobs": "0"}, "--jobs must be at least 1"),
        ({"jobs": "two"}, "--jobs needs a whole number"),
        ({"retries": "-1"}, "--retries must be at least 0"),
        ({"timeout": "soon"}, "--timeout needs a duration"),
        ({"devices": "0,,1"}, "--devices empty device id"),
        ({"dry_run": "yes"}, "--dry-run takes no value"),
    ]:
        with pytest.raises(UsageError, match=message):
            RunOptions.parse(raw)


@pytest.mark.parametrize(
    ("keep_going", "max_failures", "limit"),
    [(False, None, 1), (True, None, None), (False, 3, 3), (True, 2, 2)],
)
def test_failure_limit(keep_going: bool, max_failures: int | None, limit: int | None) -> None:
    assert RunOptions(keep_going=keep_going, max_failures=max_failures).failure_limit == limit


# -- output ---------------------------------------------------------------------------------


def test_line_splitter_is_exact_and_bounded() -> None:
    splitter = LineSplitter(limit=8)
    assert splitter.feed(b"ab\ncd") == [b"ab"]
    assert splitter.feed(b"e\n\nfgh") == [b"cde", b""]
    assert splitter.feed(b"ijklmnopq") == [b"fghijklm"]
    assert splitter.end() == [b"nopq"]
    assert splitter.end() == []


def test_line_splitter_is_linear_in_long_lines() -> None:
    splitter = LineSplitter()
    chunk = b"x" * 65536
    pieces = [line for _ in range(64) for line in splitter.feed(chunk)]
    assert [len(p) for p in pieces] == [1 << 20] * 4


@pytest.mark.parametrize(
    ("line", "number"),
    [
        (b"[2024-05-01 10:00:00,000][HYDRA] \t#3 : model=small seed=1", 3),
        (b"[HYDRA] Launching 4 jobs locally", None),
        (b"#3 : not hydra", None),
    ],
)
def test_hydra_launch_lines(line: bytes, number: int | None) -> None:
    assert hydra_run_number(line) == number


# -- what the views say -------------------------------------------------------------------------


def finished(
    status: str = "failed", code: int | None = 1, tail: tuple[str, ...] = ()
) -> BatchFinished:
    batch = Batch(0, ("model=large",), ("app",), ("model=large",), ())
    return BatchFinished(
        batch, "D", BatchStatus(status), code, 10.0, 12.5, 1, Path("D/hydraflow.log"), tail
    )


HYDRA_CONFIG_ERROR = (
    "In 'config': Could not find 'model/lage'",
    "",
    "Available options in 'model':",
    "\tlarge",
    "\tsmall",
    "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.",
)
HYDRA_TYPE_ERROR = (
    "Error merging override optim.steps=ten",
    "Value 'ten' of type 'str' could not be converted to Integer",
    "    full_key: optim.steps",
    "    reference_type=Optim",
    "",
    "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.",
)
HYDRA_UNKNOWN_KEY = (
    "Could not override 'modl'.",
    "To append to your config use +modl=3",
    "Key 'modl' not in 'Config'",
    "    full_key: modl",
    "    object_type=Config",
    "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.",
)
HYDRA_EXCEPTION = (
    "Error executing job with overrides: ['model=large']",
    "Traceback (most recent call last):",
    '  File "train.py", line 3, in main',
    "    raise ValueError('loss is nan')",
    "ValueError: loss is nan",
    "",
    "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.",
)


@pytest.mark.parametrize(
    ("tail", "cause"),
    [
        (HYDRA_CONFIG_ERROR, "In 'config': Could not find 'model/lage'"),
        (HYDRA_EXCEPTION, "ValueError: loss is nan"),
        (
            HYDRA_TYPE_ERROR,
            "Error merging override optim.steps=ten:"
            " Value 'ten' of type 'str' could not be converted to Integer",
        ),
        (HYDRA_UNKNOWN_KEY, "Could not override 'modl': Key 'modl' not in 'Config'"),
        (("step 1", "step 2", "something odd"), "something odd"),
        ((), ""),
    ],
)
def test_the_cause_is_the_telling_line_not_hydras_boilerplate(
    tail: tuple[str, ...], cause: str
) -> None:
    assert cause_of(tail) == cause


@pytest.mark.parametrize(
    ("status", "code", "text"),
    [
        ("ok", 0, "ok"),
        ("failed", 2, "failed (exit 2)"),
        ("failed", -9, "killed by SIGKILL"),
        ("timeout", -15, "timed out after 2.5s"),
        ("interrupted", -15, "interrupted"),
    ],
)
def test_status_words_never_show_a_raw_signal(status: str, code: int, text: str) -> None:
    assert status_text(finished(status, code)) == text


def test_failure_block_fits_narrow_terminals_and_names_the_cause() -> None:
    block = failure_block(finished(tail=HYDRA_CONFIG_ERROR), "hydraflow run t --resume")
    assert block == [
        "✗ model=large: failed (exit 1) after 2.5s",
        "  cause: In 'config': Could not find 'model/lage'",
        "  log:   D/hydraflow.log",
        "  rerun: hydraflow run t --resume",
    ]
    assert all(len(line) <= 60 for line in block)
    without_ledger = failure_block(finished(), None)
    assert without_ledger[-1] != "" and "rerun" not in " ".join(without_ledger)


@pytest.mark.parametrize(
    ("status", "code", "text"),
    [
        ("failed", 2, "failed (exit 2)"),
        ("failed", -9, "killed by SIGKILL"),
        ("timeout", -15, "timeout"),
        ("lost", None, "lost"),
    ],
)
def test_recorded_ends_never_show_a_raw_signal(status: str, code: int | None, text: str) -> None:
    assert recorded_text(BatchStatus(status), code) == text


def test_a_stopped_batch_says_why_once_and_without_a_cause() -> None:
    timed_out = failure_block(finished("timeout", -15, tail=HYDRA_EXCEPTION), None)
    assert timed_out[0] == "✗ model=large: timed out after 2.5s"
    assert not any(line.startswith("  cause:") for line in timed_out)


def test_a_timeout_names_the_limit_not_the_time_the_batch_took_to_stop() -> None:
    slow_to_stop = dataclasses.replace(finished("timeout", -9), timeout=2.0)
    assert status_text(slow_to_stop) == "timed out after 2.0s"
    assert failure_block(slow_to_stop, None)[0] == "✗ model=large: timed out after 2.0s"


def test_an_interrupted_run_says_so_once_and_how_to_go_on() -> None:
    summary = Summary(
        "train",
        batches=3,
        runs=3,
        ok=1,
        started=0.0,
        ended=1.0,
        failures=(finished("interrupted", -15),),
        runs_done=1,
        interrupted=True,
    )
    lines = closing_lines(ExecutionFinished(summary), "hydraflow run train --resume")
    assert lines[0] == (
        "train: 3 batches, 3 runs in 1.0s: 1 ok, 1 interrupted, 1 not started; 1/3 runs done"
    )
    assert lines[-1] == "to go on: hydraflow run train --resume"
    stopped_between = dataclasses.replace(summary, failures=())
    assert summary_line(stopped_between).endswith(
        "1 ok, 2 not started (interrupted); 1/3 runs done"
    )


def test_summary_counts_each_kind_apart() -> None:
    failures = (finished("failed"), finished("timeout", -15), finished("interrupted"))
    summary = Summary(
        "train", batches=6, runs=18, ok=3, skipped=2, started=0.0, ended=3.2, failures=failures
    )
    assert summary_line(summary) == (
        "train: 6 batches, 18 runs in 3.2s: 3 ok, 1 failed, 1 timed out, 1 interrupted,"
        " 2 skipped (done before)"
    )
    assert summary.exit_code == 1
    assert dataclasses.replace(summary, interrupted=True).exit_code == 130
