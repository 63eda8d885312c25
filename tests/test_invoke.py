"""The invoke program in a temporary project.

Invoke's own ``Program`` is run in this process (``project.invoke_here``) for what the
tasks decide and print; the installed ``invoke`` runs where the point is the program
itself: its listing, a job's real run with the words after ``--``, closed pipes.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Project, Ran, command, invoke_in, unulid

PY = shlex.quote(sys.executable)
TASKS = "from hydraflow import collection\nns = collection()\n"


def invoke_from(folder: Path, project: Project, *args: str) -> Ran:
    """Invoke's program run in this process from ``folder`` (``project.invoke_here``
    starts in the project's own), its jobs recording into the project's record."""
    return invoke_in(folder, *args, env={"RECORD": str(project.root / "record.jsonl")})


def make(project: Project) -> None:
    project.write("tasks.py", TASKS)
    project.yaml(
        f"""\
        jobs:
          train:
            help: Train all models
            run: {PY} record.py
            sets:
              - each: model=small,large
                all: seed=1:3
          eval_all:
            run: {PY} record.py
          big-sweep:
            run: {PY} record.py
            sets:
              - each: a=1:100 b=1:100
        """
    )


def test_list_shows_every_job_with_help(project: Project) -> None:
    """The installed ``invoke`` lists the jobs of a tasks.py with ``ns = collection()``."""
    make(project)
    result = project.invoke("--list")
    assert result.returncode == 0, result.stderr
    assert "Train all models" in result.stdout
    listed = json.loads(project.invoke_here("--list", "--list-format=json").stdout)
    helps = {t["name"]: t["help"] for t in listed["tasks"]}
    assert set(helps) == {"train", "eval-all", "big-sweep", "results", "forget", "plot"}
    assert helps["train"] == "Train all models"
    assert helps["eval-all"].endswith("record.py · 0 sets · 1 batch")
    assert helps["big-sweep"].endswith("· 1 set · 10000 batches")


def test_help_describes_the_job_and_its_flags(project: Project) -> None:
    make(project)
    text = project.invoke_here("--help", "train").stdout
    for expected in (
        "Train all models",
        "each: model=small,large | all: seed=1:3",
        "2 batches, 6 Hydra runs",
        "--dry-run",
        "-j",
        "--jobs",
        "--keep-going",
        "--timeout",
        "--only",
    ):
        assert expected in text, expected


def test_dry_run_matches_the_hydraflow_command(project: Project) -> None:
    make(project)
    via_invoke = project.invoke_here("train", "--dry-run")
    via_cli = project.here("run", "train", "--dry-run")
    assert via_invoke.returncode == 0, via_invoke.stderr
    assert unulid(via_invoke.stdout) == unulid(via_cli.stdout)
    assert len(via_invoke.stdout.splitlines()) == 2
    core_dry = project.invoke_here("--dry", "train")
    assert unulid(core_dry.stdout) == unulid(via_cli.stdout)
    assert project.records() == []


def test_arguments_after_double_dash_keep_their_quoting(project: Project) -> None:
    """A real run through the installed ``invoke``: its argv, not a list made here."""
    make(project)
    result = project.invoke("eval_all", "--", "a=x y", "b=';'")
    assert result.returncode == 0, result.stdout + result.stderr
    assert project.records()[0][-2:] == ["a=x y", "b=';'"]


def test_either_separator_names_a_job(project: Project) -> None:
    make(project)
    for name in ("eval_all", "eval-all"):
        result = project.invoke_here(name, "--dry-run")
        assert result.returncode == 0, (name, result.stderr)
    for name in ("big_sweep", "big-sweep"):
        result = project.invoke_here(name, "--dry-run", "--only", "a=1", "--only", "b=1,2")
        assert result.returncode == 0, (name, result.stderr)
        assert len(result.stdout.splitlines()) == 2, name


TASKS_WITH_LINT = TASKS + "from invoke import task\n@task\ndef lint(c):\n    print('linted')\n"
TASKS_WITH_LINT += "ns.add_task(lint)\n"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "jobs:\n  train:\n    run: x\n    sets:\n      - each: a=1:2:0\n",
            ":5: step cannot be zero",
        ),
        ("jobs:\n  train:\n    run: x\n   bad: [\n", ":4: "),
        ("jobs:\n  train:\n    runn: x\n", ":3: unknown key 'runn'"),
    ],
)
def test_a_broken_file_hides_no_other_task(project: Project, text: str, error: str) -> None:
    project.write("tasks.py", TASKS_WITH_LINT)
    project.yaml(text)
    listed = project.invoke_here("--list")
    assert listed.returncode == 0, listed.stderr
    assert "lint" in listed.stdout
    assert listed.stderr.count("hydraflow.yaml") == 1 and error in listed.stderr
    assert "Traceback" not in listed.stderr
    linted = project.invoke_here("lint")
    assert linted.returncode == 0 and "linted" in linted.stdout
    train = project.invoke_here("train")
    assert train.returncode == 2 and error in train.stderr, train.stderr


def test_tasks_py_in_a_parent_folder(project: Project) -> None:
    make(project)
    sub = project.root / "deep" / "er"
    sub.mkdir(parents=True)
    result = invoke_from(sub, project, "eval-all")
    assert result.returncode == 0, result.stderr
    assert len(project.records()) == 1
    assert not (sub / ".hydraflow").exists()
    assert (project.root / ".hydraflow" / "ledger.db").is_file()


def test_user_collection_mixes_tasks_and_mounts_jobs(project: Project) -> None:
    make(project)
    project.write(
        "tasks.py",
        """\
        from invoke import Collection, task
        from hydraflow import collection

        @task
        def hello(c):
            print("hello from a hand-written task")

        ns = Collection(hello)
        ns.add_collection(collection(), "jobs")
        """,
    )
    listing = project.invoke_here("--list").stdout
    assert "hello" in listing and "jobs.train" in listing
    assert "hand-written" in project.invoke_here("hello").stdout
    dry = project.invoke_here("jobs.train", "--dry-run")
    assert dry.returncode == 0 and len(dry.stdout.splitlines()) == 2


def test_a_failing_batch_gives_a_non_zero_exit(project: Project) -> None:
    project.write("tasks.py", TASKS)
    project.yaml(f"jobs:\n  bad:\n    run: {PY} -c 'raise SystemExit(5)'\n")
    assert project.invoke_here("bad").returncode == 1


def test_a_bad_sweep_in_a_job_with_help_stops_that_job_before_it_runs(project: Project) -> None:
    project.write("tasks.py", TASKS)
    project.yaml(
        f"jobs:\n  ok:\n    run: {PY} record.py\n  bad:\n    help: Has help\n"
        f"    run: {PY} record.py\n    sets:\n      - each: a=1,2\n      - each: b=3:1\n"
    )
    assert project.invoke_here("--list").returncode == 0
    result = project.invoke_here("bad")
    assert result.returncode == 2
    assert result.stderr.startswith("error: hydraflow.yaml:9: range runs the wrong way")
    assert project.records() == []
    assert project.here("list").returncode == 2


@pytest.mark.parametrize(
    "words",
    [
        ["invoke", "big-sweep", "-n"],
        ["hydraflow", "run", "big-sweep", "-n"],
        ["invoke", "--list"],
        ["invoke", "--help", "train"],
        ["invoke", "results"],
        ["hydraflow", "status"],
        ["hydraflow", "list"],
        ["hydraflow", "results"],
    ],
)
@pytest.mark.parametrize("errors", ["to the same pipe", "kept"])
def test_output_whose_reader_has_gone_ends_quietly(
    project: Project, words: list[str], errors: str
) -> None:
    # `invoke --list 2>&1 | head -1` (or without 2>&1), made certain: the pipe is closed
    # before any write.
    make(project)
    read, write = os.pipe()
    os.close(read)
    try:
        ended = subprocess.run(
            [*command(words[0]), *words[1:]],
            cwd=project.root,
            stdout=write,
            stderr=write if errors == "to the same pipe" else subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    # As `hydraflow list | head`: only showing, so 0; a traceback would make it 1, a
    # preview that reported a stopped run 141.
    assert ended.returncode == 0
    assert not ended.stderr or b"Traceback" not in ended.stderr


@pytest.mark.parametrize("name", ["_", "__", "_a", "a_", "a__b"])
def test_every_job_name_the_file_allows_is_a_task_invoke_runs(project: Project, name: str) -> None:
    """Invoke turns only the separators inside a name; one at either end stays as written."""
    project.write("tasks.py", TASKS)
    project.yaml(f"jobs:\n  '{name}':\n    run: {PY} record.py\n")
    ran = project.invoke_here(name)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert len(project.records()) == 1
