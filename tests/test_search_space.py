"""The ``space:`` grammar and the ``search:`` block, as the file is read: pure and fast."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import Project
from hypothesis import given
from hypothesis import strategies as st

from hydraflow.config import load
from hydraflow.config.search import Pruner, Sampler
from hydraflow.errors import ConfigError
from hydraflow.search.study import distributions, latest_of, next_name, word
from hydraflow.sweep import SweepError
from hydraflow.sweep.space import Choice, Interval, Space, Steps, parse_space


def test_the_issues_space() -> None:
    space = parse_space(
        "optimizer.lr=tag(log,interval(1e-4,1e-1)) model=small,large epochs=range(10,60,10)"
    )
    assert space.dimensions == (
        ("optimizer.lr", Interval(1e-4, 0.1, log=True)),
        ("model", Choice(("small", "large"))),
        ("epochs", Steps(Decimal(10), Decimal(50), Decimal(10), integer=True)),
    )
    assert space.fixed == ()


@pytest.mark.parametrize(
    ("expr", "dimension"),
    [
        ("x=interval(0,1)", Interval(0.0, 1.0)),  # floats, though written as whole numbers
        ("x=int(interval(1,8))", Interval(1.0, 8.0, integer=True)),
        ("x=tag(log, int(interval(1,1024)))", Interval(1.0, 1024.0, log=True, integer=True)),
        ("x=tag(log, interval(1e-3, 1))", Interval(1e-3, 1.0, log=True)),
        ("x=choice(a, b,c)", Choice(("a", "b", "c"))),
        ("x=10:50:10", Choice(("10", "20", "30", "40", "50"))),
        ("x=log(1e-4:1e-1:4)", Choice(("0.0001", "0.001", "0.01", "0.1"))),
        ("x=range(0,1,0.25)", Steps(Decimal(0), Decimal("0.75"), Decimal("0.25"), False)),
        ("x=range(5,0,-2)", Steps(Decimal(1), Decimal(5), Decimal(2), True)),
        ("x=range(3)", None),
    ],
)
def test_dimensions(expr: str, dimension: object) -> None:
    if dimension is None:
        with pytest.raises(SweepError, match="range takes"):
            parse_space(expr)
        return
    assert parse_space(expr).dimensions == (("x", dimension),)


def test_a_single_value_is_fixed_for_every_trial() -> None:
    space = parse_space("+x=interval(0,1) seed=3 +extra=a")
    assert space.keys == ("+x",)
    assert space.fixed == ("seed=3", "+extra=a")


@given(
    st.integers(-50, 50),
    st.integers(-50, 50),
    st.integers(-7, 7).filter(lambda step: step != 0),
)
def test_range_is_hydras_range(start: int, stop: int, step: int) -> None:
    """``range(a,b,s)`` holds what Hydra's (and Python's) range holds: stop excluded."""
    expected = list(range(start, stop, step))
    expr = f"x=range({start},{stop},{step})"
    if not expected:
        with pytest.raises(SweepError, match="holds no value"):
            parse_space(expr)
        return
    ((_, steps),) = parse_space(expr).dimensions
    assert isinstance(steps, Steps)
    assert sorted(int(v) for v in steps.values()) == sorted(expected)


@given(st.integers(0, 40), st.integers(1, 40), st.sampled_from(["0.1", "0.25", "0.05"]))
def test_float_steps_are_exact(start: int, count: int, step: str) -> None:
    low = Decimal(start) / 10
    stop = low + count * Decimal(step)
    ((_, steps),) = parse_space(f"x=range({low},{stop},{step})").dimensions
    assert isinstance(steps, Steps)
    values = steps.values()
    assert len(values) == count
    assert all(len(v) <= 6 for v in values)  # never 0.30000000000000004
    # a value Optuna gives back (a float a hair off the step) is written from the step
    for value in values:
        drifted = float(value) + 1e-12
        assert word("x", steps, drifted) == f"x={value}"


@pytest.mark.parametrize(
    ("expr", "message", "caret"),
    [
        ("x=interval(2,1)", "interval needs low < high", 2),
        ("x=tag(log,interval(0,1))", "a log scale needs low > 0", 10),
        ("x=interval(1,a)", "expected a number, got 'a'", 13),
        ("x=interval(1,2", "missing ')'", 14),
        ("x=range(0,2,0)", "step cannot be zero", 12),
        ("x=range(5,3)", "holds no value", 2),
        ("x=glob(*)", "glob() makes no distribution", 2),
        ("x=choice()", "needs at least one value", 2),
        ("x=tag(pow,interval(1,2))", "unknown tag 'pow'", 2),
        ("x=1,1", "a value is listed twice", 2),
        ("lr=1 x=interval(1,2)x", "unexpected text after", 20),
        ("x=1,2 y=3\n x=4,5", "'x' is in the space twice", 11),
        ("seed=1", "a space needs a key to search", 0),
        ("x", "expected KEY=VALUE", 0),
    ],
)
def test_mistakes_point_at_their_place(expr: str, message: str, caret: int) -> None:
    with pytest.raises(SweepError) as caught:
        parse_space(expr)
    assert message in str(caught.value)
    assert caught.value.pos == caret


def test_every_dimension_becomes_its_distribution() -> None:
    made = distributions(
        parse_space("a=interval(0,1) b=tag(log,int(interval(1,64))) c=range(1,10,3) d=x,y")
    )
    assert str(made["a"]) == "FloatDistribution(high=1.0, log=False, low=0.0, step=None)"
    assert str(made["b"]) == "IntDistribution(high=64, log=True, low=1, step=1)"
    assert str(made["c"]) == "IntDistribution(high=7, log=False, low=1, step=3)"
    assert str(made["d"]) == "CategoricalDistribution(choices=('x', 'y'))"


def test_a_discrete_space_has_a_grid_and_a_size() -> None:
    space = parse_space("a=range(0,3) b=x,y")
    assert space.discrete() == {"a": ["0", "1", "2"], "b": ["x", "y"]}
    assert space.size() == 6
    assert Space((("a", Interval(0, 1)),)).size() is None


def test_new_studies_are_numbered_and_resume_takes_the_last() -> None:
    assert next_name("tune", []) == "tune"
    assert next_name("tune", ["tune"]) == "tune #2"
    stored = ["tune", "tune #2", "tune #10", "tune[a=1]", "tunes"]
    assert next_name("tune", stored) == "tune #11"
    assert latest_of("tune", stored) == "tune #10"
    assert latest_of("tune[a=2]", stored) is None


# -- the search: block in hydraflow.yaml ------------------------------------------------------


JOB = """\
jobs:
  tune:
    run: python app.py
    metric: loss
    goal: minimize
    search:
      trials: 40
      sampler: random
      seed: 3
      pruner: hyperband
      space: >-
        lr=tag(log,interval(1e-4,1e-1))
        model=small,large
    sets:
      - each: opt=sgd,adam
"""


def test_the_search_block_is_read(tmp_path: Path) -> None:
    (tmp_path / "hydraflow.yaml").write_text(JOB)
    job = load(tmp_path / "hydraflow.yaml").check().job("tune")
    assert job.search is not None
    assert (job.search.trials, job.search.sampler, job.search.seed) == (40, Sampler.RANDOM, 3)
    assert job.search.pruner == Pruner.HYPERBAND
    assert job.search.space.keys == ("lr", "model")


@pytest.mark.parametrize(
    ("change", "message", "line"),
    [
        (("run: python app.py", "submit: hydraflow-slurm python app.py"), "search is for run", 6),
        (("    metric: loss\n    goal: minimize\n", ""), "names no metric", 4),
        (("sampler: random", "sampler: bayes"), "sampler must be tpe, random, cmaes or grid", 8),
        (("pruner: hyperband", "pruner: asha"), "pruner must be median, hyperband or none", 10),
        (("      trials: 40\n", ""), "search needs trials:", 6),
        (("trials: 40", "trials: 0"), "trials must be a whole number of at least 1", 7),
        (("seed: 3", "sed: 3"), "unknown key 'sed' in search (did you mean 'seed'?)", 9),
        (("model=small,large", "model=small,,large"), "empty item", 13),
        (("sampler: random", "sampler: grid"), "the grid sampler needs values to walk", 11),
        (("      - each: opt=sgd,adam", "      - all: opt=sgd,adam"), "all: would sweep", 15),
    ],
)
def test_mistakes_in_the_search_block_name_their_line(
    project: Project, change: tuple[str, str], message: str, line: int
) -> None:
    project.yaml(JOB.replace(*change))
    ran = project.here("run", "tune", "--dry-run")
    assert ran.returncode == 2
    assert f"hydraflow.yaml:{line}: " in ran.stderr
    assert message in ran.stderr
    assert "Traceback" not in ran.stderr


def test_a_pipe_makes_a_trial_of_several_runs_which_is_refused(project: Project) -> None:
    project.yaml(JOB.replace("opt=sgd,adam", "opt=sgd,adam|momentum"))
    ran = project.here("run", "tune", "--dry-run")
    assert ran.returncode == 2
    assert "a search's trial is one Hydra run" in ran.stderr


def test_the_space_grammar_never_crashes() -> None:
    """Whatever is written, a space parses or says why in one SweepError."""
    pieces = ["x=", "interval(", "tag(log,", "range(", "choice(", "1", ",", ")", "a", " ", "-2"]
    for parts in itertools.product(pieces, repeat=4):
        expr = "".join(parts)
        try:
            parse_space(expr)
        except SweepError as error:
            assert 0 <= error.pos <= len(expr)


def test_config_errors_carry_a_caret(tmp_path: Path) -> None:
    (tmp_path / "hydraflow.yaml").write_text(JOB.replace("1e-4,1e-1", "1e-1,1e-4"))
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "hydraflow.yaml").check()
    assert caught.value.line == 12
    assert caught.value.detail.splitlines()[-1].strip() == "^"
