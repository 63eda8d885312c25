"""The command line as a user meets it: flags that cannot start work by mistake,
overrides that win, failures of the user's making named before anything runs.

All of it is what the two front ends decide and print: both are asked in this process
(``project.here``, ``project.invoke_here``); test_cli and test_invoke run the installed
programs."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from conftest import RECORD_WORD, Project, Ran, unulid

PY = shlex.quote(sys.executable)
TASKS = "from hydraflow import collection\nns = collection()\n"


def job(project: Project, extra: str = "", each: str = "model=small,large") -> None:
    """The train job, for both front ends: `hydraflow` reads the file, Invoke the tasks.py."""
    project.write("tasks.py", TASKS)
    project.yaml(
        f"jobs:\n  train:\n    run: {PY} record.py\n    add: epochs=50\n{extra}"
        f"    sets:\n      - each: {each}\n        all: seed=0:1\n"
    )


def helped(project: Project, *args: str, env: dict[str, str] | None = None) -> Ran:
    """``hydraflow ... --help`` in this process: argparse ends it with SystemExit, whose
    code the console script makes its status."""
    return project.here(*args, env=env)


@pytest.mark.parametrize("front", ["hydraflow", "invoke"])
@pytest.mark.parametrize("word", ["--dry-rn", "--dry", "-x", "--jbos=2"])
def test_a_misspelled_flag_starts_nothing(project: Project, front: str, word: str) -> None:
    job(project)
    call = project.here if front == "hydraflow" else project.invoke_here
    result = call(*(["run"] if front == "hydraflow" else []), "train", word)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "unknown flag" in result.stderr and "Traceback" not in result.stderr
    if word.startswith("--dry"):
        assert "did you mean --dry-run?" in result.stderr
    assert project.records() == []


@pytest.mark.parametrize("words", [["trian"], ["--help", "trian"]])
def test_a_misspelled_job_for_invoke_names_the_nearest_task(
    project: Project, words: list[str]
) -> None:
    job(project)
    result = project.invoke_here(*words)
    assert result.returncode == 2
    assert result.stderr == "No idea what 'trian' is! (did you mean 'train'?)\n"
    far = project.invoke_here("zzzz")  # nothing close: Invoke's own words and status
    assert (far.returncode, far.stderr) == (1, "No idea what 'zzzz' is!\n")
    flag = project.invoke_here("results", "--trian")  # a flag is never taken for a task
    assert (flag.returncode, flag.stderr) == (1, "No idea what '--trian' is!\n")


@pytest.mark.parametrize("front", ["hydraflow", "invoke"])
def test_overrides_after_double_dash_win_and_other_words_stay_in_front(
    project: Project, front: str
) -> None:
    job(project)
    call = project.here if front == "hydraflow" else project.invoke_here
    prefix = ["run"] if front == "hydraflow" else []
    result = call(*prefix, "train", "--", "epochs=7", "--cfg=job", "+tag=smoke", "seed=3")
    assert result.returncode == 0, result.stdout + result.stderr
    for record in project.records():
        assert record[0] == "--cfg=job" and record[1] == "--multirun"
        assert record[-3:] == ["epochs=7", "+tag=smoke", "seed=3"]
        assert "epochs=50" not in record and "seed=0,1" not in record


def test_the_same_placement_for_call_and_submit(project: Project) -> None:
    project.write(
        "calls.py",
        "import json, os\ndef record(args):\n"
        "    open(os.environ['RECORD'], 'a').write(json.dumps(args) + '\\n')\n",
    )
    project.write("handler.py", "import sys\nprint(open(sys.argv[-1]).read())\n")
    project.yaml(
        f"jobs:\n  c:\n    call: calls.record\n    add: epochs=50\n"
        f"  s:\n    submit: {PY} handler.py\n    add: epochs=50\n"
    )
    call = project.here("run", "c", "--dry-run", "--", "epochs=1")
    assert call.stdout.rstrip().endswith("'epochs=1'])") and "epochs=50" not in call.stdout
    submit = project.here("run", "s", "--dry-run", "--", "epochs=1")
    line = submit.stdout.splitlines()[1]
    assert line.endswith(" epochs=1") and "epochs=50" not in line


def test_runs_with_extras_are_their_own_line_in_status(project: Project) -> None:
    job(project)
    assert project.here("run", "train", "--", "epochs=1").returncode == 0
    report = json.loads(project.here("status", "--json").stdout)["jobs"]
    assert [(r["name"], r["counts"]["ok"], r["counts"]["never run"]) for r in report] == [
        ("train", 0, 2),
        ("train -- epochs=1", 2, 0),
    ]
    assert all(r["counts"]["stale"] == 0 for r in report)
    table = project.here("status").stdout
    assert "train -- epochs=1" in table
    assert "stale" in helped(project, "status", "--help").stdout


def test_only_that_matches_nothing_is_an_error(project: Project) -> None:
    job(project)
    typo = project.here("run", "train", "--only", "modl=small")
    assert typo.returncode == 2 and "did you mean 'model'" in typo.stderr
    none = project.here("run", "train", "--only", "model=huge")
    assert none.returncode == 2 and "model is one of small, large" in none.stderr
    # `KEY=` picks batches without KEY: a misspelled key would pick them all.
    empty = project.here("run", "train", "--only", "modl=")
    assert empty.returncode == 2 and "did you mean 'model'" in empty.stderr
    assert project.records() == []


@pytest.mark.parametrize("args", [["train", "--only"], ["train", "-o", "-n"], ["results", "-w"]])
def test_a_repeatable_flag_without_its_value_starts_nothing(
    project: Project, args: list[str]
) -> None:
    job(project)
    result = project.invoke_here(*args)
    assert result.returncode != 0 and "needed value" in result.stderr
    assert project.records() == [] and result.stdout == ""


def test_timeout_takes_durations(project: Project) -> None:
    job(project)
    assert project.here("run", "train", "--timeout", "1h30m", "--dry-run").returncode == 0
    bad = project.here("run", "train", "--timeout", "soon")
    assert bad.returncode == 2 and "90s, 15m" in bad.stderr


def test_more_workers_than_devices_is_an_error(project: Project) -> None:
    job(project, extra="    parallel: 2\n")
    result = project.here("run", "train", "-j", "3", "--devices", "0,1")
    assert result.returncode == 2 and "--devices 0,1,0" in result.stderr
    assert project.records() == []
    # The default worker count is the job's parallel:, whatever the devices.
    project.write(
        "who.py",
        "import json, os\nopen(os.environ['RECORD'], 'a').write(json.dumps("
        "[os.environ['HYDRAFLOW_SLOT'], os.environ['CUDA_VISIBLE_DEVICES']]) + '\\n')\n",
    )
    project.yaml(
        f"jobs:\n  j:\n    run: {PY} who.py\n    parallel: 2\n    devices: 0,0,1\n"
        "    sets:\n      - each: i=1:4\n"
    )
    assert project.here("run", "j").returncode == 0
    assert {tuple(r) for r in project.records()} == {("0", "0"), ("1", "0")}


def test_a_missing_submit_handler_is_a_usage_error(project: Project) -> None:
    project.yaml("jobs:\n  s:\n    submit: surely-no-such-handler --x\n")
    result = project.here("run", "s")
    assert result.returncode == 2 and "not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_built_in_handler_needs_no_path_and_takes_options(
    project: Project, capfd: pytest.CaptureFixture[str]
) -> None:
    project.yaml(
        f"jobs:\n  s:\n    submit: hydraflow-slurm --time 5 {PY} record.py\n"
        "    sets:\n      - each: x=1:2\n"
    )
    result = project.here("run", "s", "--", "--local", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
    # The handler is a process of its own, on this process's standard output (descriptor
    # 1): what it says is there, not in what hydraflow itself wrote.
    assert "running the 2 array tasks locally" in capfd.readouterr().out
    assert sorted(r[1] for r in project.records()) == ["x=1", "x=2"]


def test_dry_run_of_a_call_job_checks_the_function(project: Project) -> None:
    project.write("calls.py", "def there(args):\n    pass\n")
    project.yaml("jobs:\n  c:\n    call: calls.missing\n  d:\n    call: nowhere.f\n")
    missing = project.here("run", "c", "--dry-run")
    assert missing.returncode == 2 and "has no function 'missing'" in missing.stderr
    nowhere = project.here("run", "d", "--dry-run")
    assert nowhere.returncode == 2 and "No module named 'nowhere'" in nowhere.stderr


def test_interpolations_only_hydra_knows_pass_through(project: Project) -> None:
    project.yaml(
        "jobs:\n  t:\n    run: app\n    add: "
        "hydra.run.dir=out/${now:%Y-%m-%d} +name=${hydra:job.name} root=${oc.env:HOME}\n"
    )
    line = project.here("run", "t", "--dry-run").stdout
    assert "hydra.run.dir=out/${now:%Y-%m-%d}" in line and "+name=${hydra:job.name}" in line
    assert f"root={os.environ['HOME']}" in line


def test_help_shows_placeholders_defaults_examples_and_the_same_short_flags(
    project: Project,
) -> None:
    job(project)
    cli = helped(project, "run", "--help", env={"COLUMNS": "200"}).stdout
    invoke = project.invoke_here("--help", "train", env={"COLUMNS": "200"}).stdout
    for flag, placeholder in (("only", "KEY=PAT"), ("jobs", "N"), ("timeout", "TIME")):
        assert f"--{flag} {placeholder}" in cli and f"--{flag}={placeholder}" in invoke
    for short, long in (
        ("-n", "--dry-run"),
        ("-j", "--jobs"),
        ("-r", "--resume"),
        ("-d", "--devices"),
    ):
        assert f"{short}" in cli and f"{short}" in invoke
        assert any(short in line and long in line for line in cli.splitlines())
        assert any(short in line and long in line for line in invoke.splitlines())
    assert "default: the job's parallel:, else 1" in cli
    results_cli = helped(project, "results", "--help", env={"COLUMNS": "200"}).stdout
    results = project.invoke_here("--help", "results", env={"COLUMNS": "200"}).stdout
    for flag, placeholder in (("where", "KEY=PAT"), ("group-by", "KEY[,KEY]"), ("top", "N")):
        assert f"--{flag} {placeholder}" in results_cli and f"--{flag}={placeholder}" in results
    top = helped(project, "--help").stdout
    assert "examples:" in top and "hydraflow run train --dry-run" in top
    assert project.here("expand", "--all", "--count", "a=1:3 b=x,y").stdout == "3 2\n"
    bad = project.here("bogus")
    assert "see hydraflow --help" in bad.stderr and "hydraflow hydraflow" not in bad.stderr


def test_dry_run_lines_are_the_exact_commands(project: Project, tmp_path: Path) -> None:
    job(project)
    line = unulid(project.here("run", "train", "--dry-run", "--", "epochs=1").stdout)
    assert line.splitlines()[0] == (
        f"{sys.executable} record.py --multirun model=small seed=0,1 hydra.job.name=train"
        f" hydra.sweep.dir=multirun/ID {RECORD_WORD} epochs=1"
    )
