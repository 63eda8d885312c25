"""Every mistake in hydraflow.yaml: one message naming file and line, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project

from hydraflow.config.reader import load
from hydraflow.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("jobs:\n  train:\n    run: x\n    sets: [\n", 5, "YAML syntax error"),
        (
            "jobs:\n  a:\n    run: x\n    sets:\n      - each: lr=1:\n",
            5,
            "mapping values are not allowed in this context (quote a sweep that ends with ':'",
        ),
        ("jobz:\n  a:\n    run: x\n", 1, "unknown key 'jobz' (did you mean 'jobs'?)"),
        (
            "jobs:\n  a:\n    run: x\n    sest: []\n",
            4,
            "unknown key 'sest' in job 'a' (did you mean 'sets'?)",
        ),
        ("jobs:\n  a:\n    run: x\n    sets:\n      - eahc: a=1\n", 5, "did you mean 'each'?"),
        (
            "jobs:\n  a:\n    help: no command\n",
            3,
            "needs exactly one of run, call or submit; it has none",
        ),
        ("jobs:\n  a:\n    run: x\n    call: m.f\n", 3, "it has run and call"),
        ("jobs:\n  a.b:\n    run: x\n", 2, "cannot be a task name"),
        ("jobs:\n  a:\n    run: x\n    sets:\n      - a=1\n", 5, "must be a mapping"),
        ("jobs:\n  a:\n    run: x\n    sets: nope\n", 4, "sets must be a list"),
        ("jobs:\n  a:\n    run: x\n    parallel: two\n", 4, "parallel must be a whole number"),
        ("jobs:\n  a:\n    run: [x]\n", 3, "run must be a string"),
        ("jobs:\n  a:\n    run: x\n  a:\n    run: y\n", 4, "duplicate key 'a'"),
        (
            "jobs:\n  a_b:\n    run: x\n  a-b:\n    run: y\n",
            4,
            "jobs 'a_b' and 'a-b' differ only by '-' and '_'",
        ),
        ("jobs:\n  a:\n    run: x\n    sets:\n      - each: x=1\n        all: a=1|2\n", 6, "pipe"),
        ("jobs:\n  a:\n    run: x\n    sets:\n      - zip: a=1,2 b=1\n", 5, "one length"),
        ("jobs:\n  a:\n    run: ''\n", 3, "run of job 'a' is empty"),
    ],
)
def test_config_errors(project: Project, text: str, line: int, message: str) -> None:
    project.write("hydraflow.yaml", text)
    result = project.hydraflow("run", "a", "--dry-run")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: hydraflow.yaml:{line}: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_sweep_error_shows_the_expression_and_a_caret(project: Project) -> None:
    project.yaml(
        """\
        jobs:
          train:
            run: python app.py
            sets:
              - each: model=a,b
              - each: >-
                  model=c
                  lr=1:2:0
        """
    )
    result = project.hydraflow("run", "train", "--dry-run")
    assert result.returncode == 2
    assert result.stderr == (
        "error: hydraflow.yaml:8: step cannot be zero\n  model=c lr=1:2:0\n                 ^\n"
    )


@pytest.mark.parametrize(
    "written",
    [
        "each: |\n          a=1,2\n\n          b=1,,2\n",  # literal: a newline per line
        "each: >-\n          a=1,2\n          c=(3,4)\n          b=1,,2\n",
        "each:\n          a=1,2\n          c=3\n          b=1,,2\n",  # plain, folded
        'each: "a=1,2\n\n          b=1,,2"\n',
        "each: a=1 a=(1,2)\n          b=1,,2\n",
    ],
)
def test_an_error_in_a_value_over_several_lines_names_its_own_line(
    tmp_path: Path, written: str
) -> None:
    text = f"jobs:\n  a:\n    run: x\n    sets:\n      - {written}"
    (tmp_path / "hydraflow.yaml").write_text(text)
    job_set = load(tmp_path / "hydraflow.yaml").jobs["a"].sets[0]
    with pytest.raises(ConfigError) as raised:
        job_set.check()
    # The line that holds the bad item, counted in the text as written.
    assert (
        raised.value.line
        == text.splitlines().index(next(line for line in text.splitlines() if ",," in line)) + 1
    )


@pytest.mark.parametrize(
    ("written", "line"),
    [
        # An escape the walk cannot read past: the line that holds the escape.
        ('each: "a=\\x41 b=1,,2\n\n          c=3\n\n          d=4"\n', 5),
        # The header's comment holds none of the value, though it reads alike.
        ("each: > # x=1,,2\n          x=1,,2\n", 6),
        # Line breaks YAML also reads: a lone CR, CRLF.
        ("each: |\r          a=1\r          b=1,,2\r", 7),
        ("each: >-\r\n          a=1\r\n          b=1,,2\r\n", 7),
    ],
)
def test_the_line_of_an_error_in_odd_spellings(tmp_path: Path, written: str, line: int) -> None:
    text = f"jobs:\n  a:\n    run: x\n    sets:\n      - {written}"
    (tmp_path / "hydraflow.yaml").write_bytes(text.encode())
    job_set = load(tmp_path / "hydraflow.yaml").jobs["a"].sets[0]
    with pytest.raises(ConfigError) as raised:
        job_set.check()
    assert raised.value.line == line


def test_unknown_job_lists_the_jobs(project: Project) -> None:
    project.yaml("jobs:\n  train:\n    run: x\n  eval:\n    run: y\n")
    result = project.hydraflow("run", "trian")
    assert result.returncode == 2
    assert "no job named 'trian' (did you mean 'train'?)" in result.stderr
    assert "train, eval" in result.stderr


def test_missing_file_says_where_it_looked(project: Project) -> None:
    result = project.hydraflow("run", "train")
    assert result.returncode == 2
    assert f"no hydraflow.yaml in {project.root.resolve()}" in result.stderr
    missing = project.hydraflow("-f", "nope.yaml", "list")
    assert missing.returncode == 2 and "nope.yaml: no such file" in missing.stderr


def test_interpolations_are_resolved(project: Project) -> None:
    project.yaml(
        """\
        jobs:
          train:
            run: python ${oc.env:APP,default.py}
            sets:
              - each: data=${oc.env:DATA_DIR,/data}
        """
    )
    result = project.hydraflow("run", "train", "--dry-run", env={"DATA_DIR": "/mnt/d"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("python default.py --multirun data=/mnt/d ")


def test_unresolvable_interpolation_names_the_line(project: Project) -> None:
    project.yaml("jobs:\n  train:\n    run: python ${oc.env:SURELY_UNSET_VAR_42}\n")
    result = project.hydraflow("run", "train", "--dry-run")
    assert result.returncode == 2
    assert result.stderr.startswith("error: hydraflow.yaml:3: cannot resolve")
