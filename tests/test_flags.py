"""One table of flags, two front ends: every flag of every shared command exists in both,
with the same short flag, placeholder and meaning; Invoke's own program reaches the
batch with the words after ``--``."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from conftest import RECORDER
from invoke.program import Program

from hydraflow import cli
from hydraflow.errors import UsageError
from hydraflow.flags import COMMANDS, RESULTS, RUN, Command, RunOptions
from hydraflow.invoking.command_line import rewrite
from hydraflow.tasks import ForgetTask, JobTask, PlotTask, ResultsTask, collection

Task = JobTask | ResultsTask | ForgetTask | PlotTask


def cli_flags(command: Command) -> dict[str, tuple[str, ...]]:
    """Each flag of the ``hydraflow`` command's parser: its option strings."""
    (commands,) = [a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction)]
    parser = commands.choices[command.name]
    found = {}
    for action in parser._actions:
        strings = tuple(
            s for s in action.option_strings if s not in ("-h", "--help", "-f", "--file")
        )
        if strings:
            found[action.dest] = tuple(sorted(strings))
        elif not action.option_strings and action.dest not in ("job", "help"):
            found[action.dest] = ()
    if command.subject is not None:  # a positional word there, --job in Invoke
        found[command.subject.name] = ()
    return found


def invoke_flags(task: Task) -> dict[str, tuple[str, ...]]:
    """Each argument of a task, with the option strings Invoke gives it."""
    found = {}
    for argument in task.get_arguments():
        strings = [("--" if len(n) > 1 else "-") + n for n in argument.names]
        if argument.kind is bool and argument.default is True:  # Invoke adds --no-NAME
            strings = ["--no-" + argument.names[0]]
        name = argument.attr_name or argument.names[0]
        found[name] = tuple(sorted(strings))
    return found


@pytest.fixture
def tasks(tmp_path: Path) -> dict[str, Task]:
    (tmp_path / "hydraflow.yaml").write_text("jobs:\n  train:\n    run: app\n")
    namespace = collection(tmp_path / "hydraflow.yaml")
    return {
        "run": namespace["train"],
        "results": namespace["results"],
        "forget": namespace["forget"],
        "plot": namespace["plot"],
    }


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_flag_exists_in_both_front_ends(name: str, tasks: dict[str, Task]) -> None:
    command = COMMANDS[name]
    from_cli = cli_flags(command)
    from_invoke = invoke_flags(tasks[name])
    assert set(from_cli) == set(from_invoke) == {flag.name for flag in command.flags}
    for flag in command.flags:
        if flag.kind == "subject":
            assert from_invoke[flag.name] == ("--job",)
            continue
        if len(flag.name) == 1:  # Invoke spells a one-letter flag -x only; the CLI also --x
            assert from_cli[flag.name] == (flag.long, f"-{flag.name}") and flag.short == flag.name
            assert from_invoke[flag.name] == (f"-{flag.name}",)
            continue
        assert from_cli[flag.name] == from_invoke[flag.name], flag.name


def test_the_parity_check_would_see_a_flag_missing_from_one_side(
    tasks: dict[str, Task],
) -> None:
    lacking = Command(RUN.name, RUN.help, RUN.description, RUN.flags[:-1])
    assert set(invoke_flags(tasks["run"])) != {flag.name for flag in lacking.flags}


def test_both_front_ends_parse_through_the_same_checks() -> None:
    options = RunOptions.parse({"jobs": "3", "timeout": "1h30m", "only": "a=1"})
    assert (options.jobs, options.timeout, options.only) == (3, 5400.0, ("a=1",))
    with pytest.raises(UsageError, match="choose one of --json, --csv, --md"):
        RESULTS.parse({"json": True, "csv": True})
    assert RESULTS.parse({"group_by": "model, seed"})["group_by"] == ("model", "seed")


def test_a_job_name_is_rewritten_and_a_misspelled_flag_is_named() -> None:
    words = ["eval_all", "-j", "2", "--only", "a=1", "big-sweep", "-nk"]
    assert rewrite(words, ["eval-all", "big_sweep"]) == [
        "eval-all", "-j", "2", "--only", "a=1", "big-sweep", "-nk",
    ]  # fmt: skip
    with pytest.raises(UsageError, match=r"unknown flag '--dry-rn' \(did you mean --dry-run\?\)"):
        rewrite(["train", "--dry-rn"], ["train"])
    with pytest.raises(UsageError, match="a job is chosen with --job"):
        rewrite(["results", "train"], ["train"], subject_tasks={"results": RESULTS})
    assert rewrite(["results", "--job", "train"], ["train"], subject_tasks={"results": RESULTS})


def test_invoke_program_run_passes_the_words_after_double_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invoke's own Program, in this process: the words after ``--`` reach the batch as
    given, whatever this process's own argv is."""
    (tmp_path / "record.py").write_text(RECORDER)
    (tmp_path / "tasks.py").write_text("from hydraflow import collection\nns = collection()\n")
    run = f"{shlex.quote(sys.executable)} record.py"
    (tmp_path / "hydraflow.yaml").write_text(f"jobs:\n  j:\n    run: {run}\n    record: false\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECORD", str(tmp_path / "record.jsonl"))
    monkeypatch.setattr(sys, "argv", ["pytest", "something", "else"])
    Program().run(["invoke", "j", "--no-ledger", "--", "a=5", "b=x y"], exit=False)
    (argv,) = [json.loads(line) for line in (tmp_path / "record.jsonl").read_text().splitlines()]
    assert argv[-2:] == ["a=5", "b=x y"]
    assert os.getcwd() == str(tmp_path)
