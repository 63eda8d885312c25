"""Results in the app's own typed config, with real Hydra apps (a YAML config and a
dataclass config in the ConfigStore): typed values in every format, defaults, --where
on numbers, one row per config, a declared goal, and the Python API."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from check_apps import PY, write_app
from conftest import Project

from hydraflow.analysis import ConfigMismatch

JOB = f"""\
jobs:
  fit:
    run: {PY} app.py
    add: name=demo
    metric: loss
    goal: minimize
    sets:
      - each: model=small,large optim.lr=1e-3,0.01
"""
WIDTHS = {"small": 64, "large": 256}
# loss = width * lr: the best (lowest) run is small with lr 1e-3
LOSSES = {(m, lr): w * lr for m, w in WIDTHS.items() for lr in (1e-3, 0.01)}


@pytest.fixture(scope="module", params=["yaml", "dataclass"])
def ran(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The job run twice over (a rerun of every batch, as without --resume)."""
    project = Project(tmp_path_factory.mktemp(request.param))
    write_app(project, request.param)
    project.yaml(JOB)
    for _ in range(2):
        done = project.here("run", "fit", "-j", "2")
        assert done.returncode == 0, done.stdout + done.stderr
    return project


def results(project: Project, *args: str) -> list[dict[str, object]]:
    shown = project.here("results", "fit", *args, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def test_values_keep_their_types_in_every_format(ran: Project) -> None:
    rows = results(ran)
    assert len(rows) == 4  # the latest attempt of each config
    for row in rows:
        params = row["params"]
        assert isinstance(params, dict)
        width = params["model.width"]
        assert width == WIDTHS[params["model"]] and type(width) is int
        assert type(params["optim.lr"]) is float and params["optim.lr"] in (0.001, 0.01)
        assert params["epochs"] == 30 and params["name"] == "demo"
        loss = LOSSES[params["model"], params["optim.lr"]]
        assert row["metrics"] == {"loss": pytest.approx(loss)}
        assert str(row["started"]).count("T") == 1  # ISO 8601
    as_csv = list(csv.DictReader(io.StringIO(ran.here("results", "fit", "--csv").stdout)))
    assert {(r["model"], r["model.width"], r["optim.lr"]) for r in as_csv} == {
        ("small", "64", "0.001"), ("small", "64", "0.01"),
        ("large", "256", "0.001"), ("large", "256", "0.01"),
    }  # fmt: skip
    assert all(float(r["loss"]) == LOSSES[r["model"], float(r["optim.lr"])] for r in as_csv)
    markdown = ran.here("results", "fit", "--md").stdout.splitlines()
    header = [cell.strip() for cell in markdown[0].strip("|").split("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in markdown[2:]]
    widths = {row[header.index("model")]: row[header.index("model.width")] for row in cells}
    assert widths == {"small": "64", "large": "256"}


def test_defaults_show_with_all_columns_and_columns_picks(ran: Project) -> None:
    plain = ran.here("results", "fit", "--csv").stdout.splitlines()[0].split(",")
    assert "epochs" not in plain and "name" not in plain  # the same in every run
    every = ran.here("results", "fit", "--csv", "--all-columns").stdout.splitlines()[0].split(",")
    assert {"epochs", "name", "optim.steps", "model.width", "optim.lr"} <= set(every)
    picked = ran.here("results", "fit", "--csv", "--columns", "optim.*,loss,dir").stdout
    assert picked.splitlines()[0] == "optim.lr,optim.steps,loss,dir"
    typo = ran.here("results", "fit", "--columns", "los")
    assert typo.returncode == 2 and "did you mean 'loss'" in typo.stderr


def test_where_compares_numbers_as_numbers(ran: Project) -> None:
    assert len(results(ran, "--where", "optim.lr=0.001")) == 2
    assert len(results(ran, "--where", "optim.lr=1e-3")) == 2  # however it is written
    assert len(results(ran, "--where", "optim.lr=1.0e-03,0.01")) == 4
    assert {r["params"]["model"] for r in results(ran, "--where", "model.width>100")} == {"large"}  # type: ignore[index]
    small = results(ran, "--where", "loss<0.1")
    assert [r["metrics"]["loss"] for r in small] == [pytest.approx(0.064)]  # type: ignore[index]
    assert len(results(ran, "--where", "loss<=0.64", "--where", "model!=large")) == 2
    assert len(results(ran, "--where", "loss>=2.56")) == 1
    assert len(results(ran, "--where", "model=sm*")) == 2  # globs on text
    bad = ran.here("results", "fit", "--where", "loss<small")
    assert bad.returncode == 2 and "compares numbers" in bad.stderr
    typo = ran.here("results", "fit", "--where", "optim.lrr=1")
    assert typo.returncode == 2 and "did you mean 'optim.lr'" in typo.stderr


def test_a_rerun_replaces_its_earlier_attempt(ran: Project) -> None:
    def counts(*args: str) -> dict[str, int]:
        grouped = results(ran, "--group-by", "model", *args)
        return {str(g["params"]["model"]): int(g["count"]) for g in grouped}  # type: ignore[index, call-overload]

    assert counts() == {"small": 2, "large": 2}  # as after one execution
    assert counts("--all-attempts") == {"small": 4, "large": 4}
    every = results(ran, "--all-attempts")
    latest = results(ran)
    assert len(every) == 8
    newest = max(str(r["started"]) for r in every)
    assert all(str(r["started"]) <= newest for r in latest)


def test_the_declared_goal_sorts_and_picks_the_best(ran: Project) -> None:
    losses = [r["metrics"]["loss"] for r in results(ran)]  # type: ignore[index]
    assert losses == sorted(losses)  # minimize: best first
    assert results(ran, "--reverse")[0]["metrics"]["loss"] == pytest.approx(2.56)  # type: ignore[index]
    (best,) = results(ran, "--best")
    assert best["params"]["model"] == "small" and best["params"]["optim.lr"] == 0.001  # type: ignore[index]
    per_model = results(ran, "--best", "--group-by", "model")
    assert {(r["params"]["model"], r["params"]["optim.lr"]) for r in per_model} == {  # type: ignore[index]
        ("small", 0.001),
        ("large", 0.001),
    }
    header = ran.here("results", "fit", "--csv").stdout.splitlines()[0].split(",")
    # the metrics after the parameters
    assert header[header.index("loss") - 1] in ("optim.lr", "model.width", "optim")


def test_without_a_goal_nothing_is_best(ran: Project, tmp_path: Path) -> None:
    ran.yaml(JOB.replace("    metric: loss\n    goal: minimize\n", ""))
    try:
        shown = ran.here("results", "fit", "--best")
        assert shown.returncode == 2 and "needs a declared goal" in shown.stderr
        import hydraflow

        with pytest.raises(LookupError, match="declare no metric and goal"):
            hydraflow.results("fit", file=ran.root).best()
    finally:
        ran.yaml(JOB)


@dataclass
class Optim:
    lr: float = 0.1
    steps: int = 10


@dataclass
class Model:
    width: int = 64


@dataclass
class Fit:
    model: Model = field(default_factory=Model)
    optim: Optim = field(default_factory=Optim)
    epochs: int = 1
    name: str = "x"


@dataclass
class Wrong:
    model: Model = field(default_factory=Model)
    optim: Optim = field(default_factory=Optim)
    epochs: int = 1
    name: int = 0  # the runs' name is text


def test_the_python_api_from_another_folder(
    ran: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hydraflow

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(FileNotFoundError, match=r"no hydraflow\.yaml"):
        hydraflow.results("fit")
    runs = hydraflow.results("fit", file=ran.root / "hydraflow.yaml")
    assert len(runs) == 4 and all(run.dir is not None and run.dir.is_absolute() for run in runs)
    monkeypatch.chdir(ran.root / "multirun")  # below the project: found upward
    assert len(hydraflow.results("fit")) == 4
    best = runs.best()
    assert (best.params["model"], best.params["optim.lr"]) == ("small", 0.001)
    config = best.config(Fit)
    assert isinstance(config, Fit) and config.model.width == 64 and config.optim.lr == 0.001
    assert config.epochs == 30 and config.name == "demo"
    assert best.cfg.optim.steps == 10  # the DictConfig, read on first use
    with pytest.raises(ConfigMismatch, match=r"does not fit Wrong at 'name'.*'demo'"):
        best.config(Wrong)
    small = runs.filter(model="small")
    assert len(small) == 2 and len(runs.exclude(model="small")) == 2
    assert len(runs.filter(optim__lr=1e-3)) == 2 and len(runs.filter({"optim.lr": [0.01]})) == 2
    assert len(runs.filter(loss=(None, 0.3))) == 2
    assert runs.sort("loss", reverse=True).first().metrics["loss"] == pytest.approx(2.56)  # type: ignore[union-attr]
    assert runs.filter(model="large", optim__lr=0.01).one().params["model.width"] == 256
    grouped = runs.group_by("model")
    assert set(grouped) == {"small", "large"} and len(grouped["large"]) == 2
    rows = grouped.agg(loss="mean", n=("loss", "count"))
    assert {r["model"]: r["n"] for r in rows} == {"small": 2, "large": 2}
    assert len(hydraflow.results("fit", file=ran.root, where="loss<0.1")) == 1
    pandas = pytest.importorskip("pandas")
    frame = runs.to_pandas()
    assert pandas.api.types.is_integer_dtype(frame["model.width"])
    assert pandas.api.types.is_float_dtype(frame["optim.lr"])
    assert pandas.api.types.is_float_dtype(frame["loss"])
    assert pandas.api.types.is_datetime64_any_dtype(frame["started"])
    assert os.path.isabs(frame["dir"][0])
    polars = pytest.importorskip("polars")
    table = runs.to_polars()
    assert table.schema["model.width"] == polars.Int64
    assert table.schema["optim.lr"] == polars.Float64
    assert table.height == 4
