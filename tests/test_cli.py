"""The hydraflow command end to end: dry runs, the three modes, exit codes, extras.

What the command decides and prints is asked of it in this process (``project.here``);
the installed program itself runs where the point is the process: a real run, a real
pipe.
"""

from __future__ import annotations

import itertools
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import RECORD_WORD, Project, Ran, command, hydraflow_in, unulid

PY = shlex.quote(sys.executable)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def here_in(root: Path, *args: str) -> Ran:
    """``hydraflow`` run in this process in any folder (``project.here`` is in the
    project's)."""
    return hydraflow_in(root, *args)


SPEC_JOB = f"""\
jobs:
  train:
    run: {PY} record.py
    add: hydra/launcher=joblib hydra.launcher.n_jobs=2
    sets:
      - each: model=small,large
        all: seed=1:3
      - each: model=huge
        add: hydra.launcher.n_jobs=1
"""


def test_dry_run_of_the_spec_example(project: Project) -> None:
    project.yaml(SPEC_JOB)
    result = project.here("run", "train", "--dry-run")
    assert result.returncode == 0, result.stderr
    tail = f"{RECORD_WORD} hydra/launcher=joblib hydra.launcher.n_jobs="
    assert unulid(result.stdout).splitlines() == [
        f"{sys.executable} record.py --multirun model=small seed=1,2,3 hydra.job.name=train "
        f"hydra.sweep.dir=multirun/ID {tail}2",
        f"{sys.executable} record.py --multirun model=large seed=1,2,3 hydra.job.name=train "
        f"hydra.sweep.dir=multirun/ID {tail}2",
        f"{sys.executable} record.py --multirun model=huge hydra.job.name=train "
        f"hydra.sweep.dir=multirun/ID {tail}1",
    ]
    assert project.records() == []


def test_sweep_dirs_are_unique_and_sorted(project: Project) -> None:
    project.yaml(f"jobs:\n  t:\n    run: {PY} record.py\n    sets:\n      - each: a=1:50\n")
    dirs = [
        line.split("hydra.sweep.dir=")[1].split()[0]
        for line in project.here("run", "t", "--dry-run").stdout.splitlines()
    ]
    assert len(set(dirs)) == 50 and dirs == sorted(dirs)


@pytest.mark.parametrize(
    ("job_add", "set_add", "expected"),
    [
        ("a=1 b=2", "b=3 c=4", "a=1 b=3 c=4"),
        ("a=1 b=2", None, "a=1 b=2"),
        ("a=1 b=2", "''", "a=1 b=2"),
        ("a b", "c d a b=1", "a b=1 c d"),
        ("--flag x=1", "x=2", "--flag x=2"),
    ],
)
def test_add_merge(project: Project, job_add: str, set_add: str | None, expected: str) -> None:
    set_line = f"\n        add: {set_add}" if set_add is not None else ""
    project.yaml(
        f"jobs:\n  t:\n    run: app\n    add: {job_add}\n    sets:\n      - each: k=1{set_line}\n"
    )
    line = project.here("run", "t", "--dry-run").stdout.strip()
    assert line.endswith(" " + expected)
    assert "hydra.job.name=t hydra.sweep.dir=" in line


def test_job_name_and_no_sets(project: Project) -> None:
    project.yaml("jobs:\n  t:\n    run: app\n    name: custom\n")
    assert unulid(project.here("run", "t", "--dry-run").stdout) == (
        f"app --multirun hydra.job.name=custom hydra.sweep.dir=multirun/ID {RECORD_WORD}\n"
    )


def test_run_mode_passes_awkward_values_as_single_arguments(project: Project) -> None:
    """The installed program's real run: argv words reach the job's argv whole."""
    project.yaml(
        f"""\
        jobs:
          t:
            run: {PY} record.py
            sets:
              - each: "msg='a b;c','$HOME x'"
        """
    )
    result = project.here("run", "t", "x=$HOME y", "--dry-run")
    assert result.returncode == 0, result.stderr
    ok = project.hydraflow("run", "t", "extra=one two", "semi=;")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    records = project.records()
    assert [r[-2:] for r in records] == [["extra=one two", "semi=;"]] * 2
    assert [r[1] for r in records] == ["msg=a b;c", "msg=$HOME x"]


def test_extra_args_after_double_dash_and_dry_run_anywhere(project: Project) -> None:
    project.yaml(f"jobs:\n  t:\n    run: {PY} record.py\n")
    before = project.here("run", "--dry-run", "t", "seed=1")
    after = project.here("run", "t", "seed=1", "--dry-run")
    dashed = project.here("run", "t", "--dry-run", "--", "--dry-run", "a b")
    assert unulid(before.stdout) == unulid(after.stdout)
    assert " record.py --multirun " in before.stdout and before.stdout.endswith(" seed=1\n")
    assert " record.py --dry-run 'a b' --multirun " in dashed.stdout


def test_call_mode(project: Project) -> None:
    project.write(
        "calls.py",
        """\
        import json, os
        def record(args):
            with open(os.environ["RECORD"], "a") as f:
                f.write(json.dumps(args) + "\\n")
        def fail(args):
            raise SystemExit(3)
        """,
    )
    project.yaml(
        """\
        jobs:
          good:
            call: calls.record fixed
            sets:
              - each: p=1,2
          bad:
            call: calls.fail
          missing:
            call: calls.nothing_here
        """
    )
    dry = project.here("run", "good", "--dry-run", "x=1")
    assert unulid(dry.stdout).splitlines() == [
        f"calls.record(['fixed', '--multirun', 'p={p}', 'hydra.job.name=good', "
        f"'hydra.sweep.dir=multirun/ID', '{RECORD_WORD}', 'x=1'])"
        for p in (1, 2)
    ]
    assert project.here("run", "good", "x=1").returncode == 0
    assert [r[:3] + r[-1:] for r in project.records()] == [
        ["fixed", "--multirun", f"p={p}", "x=1"] for p in (1, 2)
    ]
    assert project.here("run", "bad").returncode == 1
    missing = project.here("run", "missing")
    assert missing.returncode == 2 and "has no function 'nothing_here'" in missing.stderr


def test_submit_mode(project: Project) -> None:
    project.write(
        "handler.py",
        """\
        import json, os, sys
        with open(os.environ["RECORD"], "a") as f:
            f.write(json.dumps(sys.argv[1:]) + "\\n")
            f.write(json.dumps(open(sys.argv[-1]).read().splitlines()) + "\\n")
        sys.exit(int(os.environ.get("HANDLER_EXIT", "0")))
        """,
    )
    project.yaml(
        f"""\
        jobs:
          sub:
            submit: {PY} handler.py --opt
            sets:
              - each: q=1:2 msg='"a b"'
        """
    )
    dry = unulid(project.here("run", "sub", "--dry-run", "extra").stdout).splitlines()
    assert dry[0].startswith(f"{sys.executable} handler.py --opt extra .hydraflow/submit/sub-")
    assert dry[1:] == [
        f"--multirun q={q} 'msg=\"a b\"' hydra.job.name=sub hydra.sweep.dir=multirun/ID"
        for q in (1, 2)
    ]
    assert project.here("run", "sub", "extra").returncode == 0
    argv, lines = project.records()
    assert argv[:2] == ["--opt", "extra"]
    assert [shlex.split(unulid(line)) for line in lines] == [
        ["--multirun", f"q={q}", 'msg="a b"', "hydra.job.name=sub", "hydra.sweep.dir=multirun/ID"]
        for q in (1, 2)
    ]
    assert not (project.root / argv[-1]).exists()
    failed = project.here("run", "sub", "--keep-file", env={"HANDLER_EXIT": "4"})
    assert failed.returncode == 1
    assert (project.root / project.records()[-2][-1]).exists()


def test_a_failing_batch_fails_the_run(project: Project) -> None:
    project.yaml(
        f"""\
        jobs:
          t:
            run: {PY} -c "import sys; sys.exit(int(sys.argv[2].split('=')[1]))"
            sets:
              - each: code=0,3,0
        """
    )
    result = project.here("run", "t")
    assert result.returncode == 1
    assert "1 ok, 1 failed, 1 not started" in result.stdout
    assert project.here("run", "t", "--keep-going").returncode == 1


def test_dry_run_streams(project: Project) -> None:
    """The first line reaches a real pipe while a million are still to come."""
    project.yaml("jobs:\n  big:\n    run: app\n    sets:\n      - each: a=1:1000 b=1:1000\n")
    with subprocess.Popen(
        [*command("hydraflow"), "run", "big", "--dry-run"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:  # leaving it closes the pipe and waits
        assert process.stdout is not None
        first = process.stdout.readline()
        process.kill()
    assert first.startswith("app --multirun a=1 b=1 ")


def test_list_show_expand_version(project: Project) -> None:
    project.yaml(SPEC_JOB)
    listing = project.here("list")
    assert listing.returncode == 0
    assert "train" in listing.stdout and " 3 " in listing.stdout and " 7" in listing.stdout
    # Without help, the help column names the command; sets and batches have their own.
    row = listing.stdout.splitlines()[1].split()
    assert row == ["train", "run", PY, "record.py", "2", "3", "7"]
    show = project.here("show", "train")
    assert "each: model=small,large" in show.stdout
    assert "# 2 sets, 3 batches, 7 Hydra runs" in show.stdout
    expand = project.here("expand", "a=1:2 b='x y'")
    assert expand.stdout == "a=1 'b=x y'\na=2 'b=x y'\n"
    # Unquoted, each argument is one word of the expression, as the shell split it.
    assert project.here("expand", "a=1:2", "b=x y").stdout == expand.stdout
    assert project.here("expand", "--count", "a=1:10 b=1:10").stdout == "100\n"
    assert project.here("expand", "--all", "a=1:3").stdout == "a=1,2,3\n"
    assert here_in(project.root, "--version").stdout.startswith("hydraflow ")
    # In a pipe a row stays on one line however long its command (grep and awk read it).
    long = f"{PY} {'very-long-script-name-' * 8}.py"
    project.yaml(f"jobs:\n  long:\n    run: {long}\n    sets:\n      - each: a=1,2\n")
    lines = project.here("list").stdout.splitlines()
    assert len(lines) == 2 and lines[1].split() == ["long", "run", *long.split(), "1", "2", "2"]
    assert all(line == line.rstrip() for line in lines)
    # FORCE_COLOR (common in CI) makes Rich take a pipe for a terminal: still whole rows.
    forced = project.here("list", env={"FORCE_COLOR": "1"}).stdout.splitlines()
    assert len(forced) == 2 and "very-long-script-name-" * 8 in forced[1]


def test_expand_error_has_a_caret_and_no_traceback(project: Project) -> None:
    result = project.here("expand", "lr=1:2:0")
    assert result.returncode == 2
    assert result.stderr == "error: step cannot be zero\n  lr=1:2:0\n         ^\n"


def test_seed_document_examples() -> None:
    seed = EXAMPLES / "seed"
    train = here_in(seed, "run", "train", "--dry-run")
    assert unulid(train.stdout).splitlines() == [
        f"python train.py --multirun {word} hydra.job.name=train hydra.sweep.dir=multirun/ID"
        f" {RECORD_WORD}"
        for word in ("model=small", "model=large", "seed=42")
    ]
    syntax = here_in(seed, "run", "syntax", "--dry-run").stdout.splitlines()
    sizes = range(16, 129, 16)
    rates = [f"{i}e-3" for i in range(1, 6)]
    models = ["cnn_small", "cnn_large", "transformer_small", "transformer_large"]
    expected = [
        f"python train.py --multirun batch_size={b} learning_rate={r} model={m} "
        f"hydra.job.name=syntax hydra.sweep.dir=multirun/ID {RECORD_WORD}"
        for b, r, m in itertools.product(sizes, rates, models)
    ]
    assert [unulid(line) for line in syntax] == expected


@pytest.mark.parametrize("text", ["", "jobs:\n", "jobs: {}\n"])
def test_a_file_without_jobs_says_so(project: Project, text: str) -> None:
    project.yaml(text)
    for name in ("list", "show", "status"):
        result = project.here(name)
        assert result.returncode == 0
        assert result.stderr == "hydraflow: no jobs in hydraflow.yaml yet: add one under 'jobs:'\n"
