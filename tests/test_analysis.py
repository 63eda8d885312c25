"""Results policy, in-process and fast: reading numbers, the formats, grouping and the
columns shown, from plain ``Run`` rows."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from statistics import stdev
from typing import Any

import pytest

from hydraflow import app
from hydraflow.analysis import formats
from hydraflow.analysis.model import Run
from hydraflow.analysis.query import Query
from hydraflow.analysis.reading import numbers, read_metrics
from hydraflow.analysis.runs import Runs
from hydraflow.analysis.table import group
from hydraflow.errors import UsageError
from hydraflow.flags import RESULTS
from hydraflow.statuses import RunStatus

NAN, INF = math.nan, math.inf
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ROOT = Path("/project")


def made(
    job: str,
    status: str,
    folder: str | None,
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    duration: float | None = None,
) -> Run:
    """A run as the collector makes it, in a project at ROOT."""
    where = ROOT / folder if folder else None
    return Run(job, RunStatus(status), where, params or {}, metrics or {}, duration, root=ROOT)


def strict_json(text: str) -> Any:
    """JSON as other programs read it: ``NaN`` and ``Infinity`` are not JSON."""

    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


# -- reading --------------------------------------------------------------------------------


def test_an_int_too_large_for_a_float_is_not_a_number_column(tmp_path: Path) -> None:
    huge = 10**400
    assert numbers({"huge": huge, "loss": 2, "deep": {"huge": -huge}}) == {"loss": 2.0}
    assert numbers(huge) == {}
    (tmp_path / "metrics.json").write_text(f'{{"huge": {huge}, "acc": 0.5}}')
    assert read_metrics(str(tmp_path), ["metrics.json"]) == {"acc": 0.5}


# -- formats --------------------------------------------------------------------------------


def test_json_writes_non_finite_numbers_as_null() -> None:
    runs = [
        made("j", "ok", "d/0", {"x": "1"}, {"loss": NAN, "up": INF, "down": -INF, "acc": 0.5}),
        made("j", "ok", "d/1", {"x": "2"}, {"loss": INF, "up": 1.0}, duration=NAN),
    ]
    with pytest.raises(ValueError, match="not JSON"):
        strict_json('{"a": NaN}')  # the check itself can fail
    rows = strict_json(formats.as_json(runs))
    assert rows[0]["metrics"] == {"loss": None, "up": None, "down": None, "acc": 0.5}
    assert rows[1]["duration"] is None
    grouped = strict_json(formats.as_json(groups=group(runs, ["x"])))
    assert [g["metrics"]["loss"] for g in grouped] == [{"mean": None, "std": None}] * 2
    assert grouped[0]["metrics"]["acc"] == {"mean": 0.5, "std": None}


def shown(runs: list[Run], **flags: Any) -> str:
    """What ``hydraflow results`` prints to a pipe for ``runs`` found."""
    out = io.StringIO()
    assert app.print_results(Runs(runs), Query.of(RESULTS.parse(flags)), out) == 0
    return out.getvalue()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """What ``hydraflow results`` shows on a terminal ``width`` columns wide, as lines."""
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("CI", raising=False)  # a CI service's own CI=true means plain lines

    def show(runs: list[Run], width: int = 120, **flags: Any) -> list[str]:
        monkeypatch.setenv("COLUMNS", str(width))
        out = Terminal()
        assert app.print_results(Runs(runs), Query.of(RESULTS.parse(flags)), out) == 0
        return ANSI.sub("", out.getvalue()).splitlines()

    return show


def test_csv_keeps_every_digit_and_the_other_formats_round() -> None:
    loss, duration = 0.12345678912345678, 12.345678901234
    runs = [
        made("j", "ok", "d/0", {"x": "1"}, {"loss": loss, "big": 123456789.123}, duration),
        made("j", "ok", "d/1", {"x": "1"}, {"loss": 1 / 3}, None),
        made("j", "failed", "d/2", {"x": "1"}, {"big": NAN}),  # not in the group's mean
    ]
    first, second, third = csv.DictReader(io.StringIO(shown(runs, csv=True)))
    assert float(first["loss"]) == loss and float(first["big"]) == 123456789.123
    assert float(first["duration"]) == duration
    assert float(second["loss"]) == 1 / 3 and second["duration"] == ""
    assert math.isnan(float(third["big"]))
    grouped = list(csv.DictReader(io.StringIO(shown(runs, group_by="x", csv=True))))
    assert float(grouped[0]["loss.mean"]) == (loss + 1 / 3) / 2
    assert float(grouped[0]["loss.std"]) == stdev([loss, 1 / 3])
    assert grouped[0]["big.mean"] == "123456789.123" and grouped[0]["big.std"] == ""
    assert "0.123457" in shown(runs, md=True) and "12.3" in shown(runs)  # for people
    quick = [made("j", "ok", "d/0", {}, {}, 0.0058), made("j", "ok", "d/1", {}, {}, 0.25)]
    assert "0.0058" in shown(quick) and "0.25" in shown(quick)  # not 0.0


# -- grouping -------------------------------------------------------------------------------


def test_a_group_counts_its_runs_and_those_that_succeeded() -> None:
    runs = [
        made("j", "ok", "d/0", {"x": "1"}, {"loss": 1.0}),
        made("j", "failed", "d/1", {"x": "1"}),
        made("j", "not run", None, {"x": "1"}),
        made("j", "ok", "d/3", {"x": "2"}, {"loss": 3.0}),
    ]
    assert [(g.count, g.ok) for g in group(runs, ["x"])] == [(3, 1), (1, 1)]
    header, *rows = csv.reader(io.StringIO(shown(runs, group_by="x", csv=True)))
    assert header == ["x", "count", "ok", "loss.mean", "loss.std"]
    assert rows == [["1", "3", "1", "1.0", ""], ["2", "1", "1", "3.0", ""]]  # one run: no spread
    as_json = strict_json(shown(runs, group_by="x", json=True))
    assert [(g["count"], g["ok"]) for g in as_json] == [(3, 1), (1, 1)]


def test_groups_are_sorted_by_their_mean_and_top_keeps_whole_groups() -> None:
    # small's best run beats large's, but large's mean is lower.
    losses = {"small": [0.1, 0.9, 0.8], "large": [0.3, 0.4, 0.2], "tiny": [0.5]}
    runs = [
        made("j", "ok", f"d/{m}{n}", {"model": m, "seed": str(n)}, {"loss": loss})
        for m, values in losses.items()
        for n, loss in enumerate(values)
    ]

    def grouped(**flags: Any) -> list[tuple[str, str]]:
        rows = csv.DictReader(io.StringIO(shown(runs, group_by="model", csv=True, **flags)))
        return [(row["model"], row["count"]) for row in rows]

    assert grouped(sort="loss") == [("large", "3"), ("tiny", "1"), ("small", "3")]
    assert grouped(sort="loss", reverse=True) == [("small", "3"), ("tiny", "1"), ("large", "3")]
    assert grouped(sort="loss", top=1) == [("large", "3")]  # a group, with all of its runs
    assert grouped(sort="count") == [("tiny", "1"), ("small", "3"), ("large", "3")]
    assert grouped(sort="model") == [("large", "3"), ("small", "3"), ("tiny", "1")]
    assert grouped(top=2) == [("small", "3"), ("large", "3")]  # in order of their runs


def test_an_empty_pattern_picks_the_runs_without_the_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    runs = [
        made("j", "ok", "d/0", {"model": "a"}, {"loss": 1.0}),
        made("j", "ok", "d/1", {"model": "a", "epochs": "1"}, {"loss": 9.0}),
    ]
    plain = csv.DictReader(io.StringIO(shown(runs, where="epochs=", csv=True)))
    assert [row["dir"] for row in plain] == ["d/0"]
    both = csv.DictReader(io.StringIO(shown(runs, where="epochs=,1", csv=True)))
    assert [row["dir"] for row in both] == ["d/0", "d/1"]
    assert capsys.readouterr().err == ""


def test_nothing_found_is_said_beside_well_formed_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    runs = [made("j", "ok", "d/0", {"model": "small"}), made("j", "ok", "d/1", {"model": "big"})]
    assert strict_json(shown(runs, where="model=xx", json=True)) == []
    assert capsys.readouterr().err == (
        "hydraflow: no run matches --where model=xx: model is one of small, big\n"
    )
    assert strict_json(shown([], job="grid", json=True)) == []
    assert "no runs of 'grid' yet" in capsys.readouterr().err
    sums = [made("j", "ok", "d/0", {"lr": 0.1 + 0.2}, {"loss": 1 / 3})]
    assert shown(sums, where=["lr>1", "loss>1"], json=True) == "[]\n"
    assert "lr is one of 0.3; loss is one of 0.333333\n" in capsys.readouterr().err
    # Before the first run no key is known: grouping or sorting by one is no mistake yet.
    assert strict_json(shown([], job="grid", group_by="model", sort="loss", json=True)) == []
    assert "no runs of 'grid' yet" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("values", "mean", "spread"),
    [
        ([1.0, 3.0], 2.0, stdev([1.0, 3.0])),
        ([1e308, 1e308], 1e308, 0.0),
        ([1.0, math.inf], math.nan, math.nan),
        ([math.nan, 2.0], math.nan, math.nan),
    ],
)
def test_groups_of_non_finite_or_huge_metrics_never_crash(
    values: list[float], mean: float, spread: float
) -> None:
    runs = [made("j", "ok", f"d/{n}", {"x": "1"}, {"loss": v}) for n, v in enumerate(values)]
    (only,) = group(runs, ["x"])
    got_mean, got_spread = only.metrics["loss"]
    assert got_mean == pytest.approx(mean, nan_ok=True)
    assert got_spread == pytest.approx(spread, nan_ok=True)
    assert strict_json(shown(runs, group_by="x", json=True))  # nan reads back as null


# -- columns --------------------------------------------------------------------------------


def test_the_columns_come_from_every_matching_run_not_only_the_top_ones() -> None:
    runs = [
        made("j", "ok", "d/0", {"x": "1", "seed": "0", "lr": "0.1"}, {"loss": 1.0}),
        made("j", "ok", "d/1", {"x": "1", "seed": "1", "lr": "0.1"}, {"loss": 2.0}),
        made("j", "ok", "d/2", {"x": "2", "seed": "0", "lr": "0.1"}, {"loss": 3.0, "acc": 0.5}),
        made("j", "failed", "d/3", {"x": "3", "seed": "0", "lr": "0.2"}),
    ]

    def header(**flags: Any) -> list[str]:
        return next(csv.reader(io.StringIO(shown(runs, csv=True, **flags))))

    every = ["status", "x", "seed", "loss", "acc", "started", "duration", "dir"]
    assert [header(where="status=ok", top=n) for n in (1, 2, 3)] == [every] * 3
    assert header(where="status=ok", sort="loss", reverse=True, top=1) == every
    assert header(top=1)[:4] == ["status", "x", "seed", "lr"]  # the failed run matches


def test_runs_of_several_jobs_name_their_job(terminal: Callable[..., list[str]]) -> None:
    runs = [
        made("train", "ok", "multirun/train/A/0", {"x": "1"}, {"loss": 1.0}),
        made("train", "ok", "multirun/train/A/1", {"x": "2"}, {"loss": 2.0}),
        made("eval", "ok", "multirun/eval/B/0", {"x": "1"}, {"acc": 0.5}),
    ]
    header, *rows = csv.reader(io.StringIO(shown(runs, csv=True)))
    assert header[:3] == ["job", "status", "x"]
    assert [row[0] for row in rows] == ["train", "train", "eval"]
    assert shown(runs, md=True).startswith("| job | status |")
    assert shown(runs).startswith("job    status")
    assert shown(runs, top=2).startswith("job    status")  # the matching runs span both
    table = terminal(runs)
    assert table[1].split("┃")[1].strip() == "job"
    assert [line.split("│")[1].strip() for line in table[3:-1]] == ["train", "train", "eval"]
    one_job = next(csv.reader(io.StringIO(shown(runs, where="job=train", csv=True))))
    assert one_job[:2] == ["status", "x"]


def test_a_terminal_under_ci_gets_the_plain_table(
    terminal: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [made("train", "ok", "multirun/train/A/0", {"x": "1"}, {"loss": 1.0})]
    assert "┃" in "".join(terminal(runs))
    monkeypatch.setenv("CI", "true")
    assert terminal(runs) == shown(runs).splitlines()


def _cells(table: list[str]) -> list[list[str]]:
    """The body rows of a one-table terminal view, split into stripped cells."""
    return [[c.strip() for c in line.split("│")[1:-1]] for line in table if line.startswith("│")]


def test_a_narrow_terminal_shortens_the_dir_first_and_cuts_no_number(
    terminal: Callable[..., list[str]],
) -> None:
    sweep = "multirun/train/01M8JXB4HHAX8JR2BHNF3THKGR"
    runs = [
        made("train", "ok", f"{sweep}/12", {"model": "small"}, {"loss": 0.123456}, 1.5),
        made("train", "failed", f"{sweep}/13", {"model": "big"}),
    ]
    wide = terminal(runs, width=200)
    assert [row[-1] for row in _cells(wide)] == [f"{sweep}/12", f"{sweep}/13"]
    table = terminal(runs, width=66)
    assert max(map(len, table)) <= 66
    rows = _cells(table)
    assert [row[-1] for row in rows] == ["…THKGR/12", "…THKGR/13"]  # the sweep's end
    assert "0.123456" in rows[0] and "small" in rows[0]  # nothing else needed to give way


def test_words_give_way_after_the_dir_numbers_never_and_titles_stay_apart(
    terminal: Callable[..., list[str]],
) -> None:
    runs = [
        made(
            "j",
            "ok",
            f"multirun/j/01M8JXB4HHAX8JR2BHNF3THK{n}Z/0",
            {"encoder.layers.name": f"transformer-{n}-" * 3, "decoder.layers.name": f"lstm{n}"},
            {"validation_loss": 1234.56789 * n, "validation_accuracy": 0.987654},
            123.4,
        )
        for n in range(1, 4)
    ]
    table = terminal(runs, width=60)
    assert max(map(len, table)) <= 60
    text = "\n".join(table)
    for run in runs:  # every number whole, in some table
        assert formats.number(run.metrics["validation_loss"]) in text
    assert "0.987654" in text and "…" in text  # a word gave way
    for header in (line for line in table if line.startswith("┃")):  # one per table
        titles = [title.strip() for title in header.split("┃")[1:-1]]
        assert len(set(titles)) == len(titles)  # each still names one column


def test_parameters_metrics_and_fields_that_share_a_name_stay_apart() -> None:
    runs = [
        made("j", "ok", "d/0", {"lr": "0.1", "status": "weird"}, {"lr": 0.9, "job": 7.0}),
        made("j", "ok", "d/1", {"lr": "0.2", "status": "weird"}, {"lr": 0.3, "job": 8.0}),
        made("j", "failed", "d/2", {"lr": "0.3", "status": "odd"}, {"lr": 0.5}),
    ]
    # A parameter or metric named like a field never hides the field.
    assert len(strict_json(shown(runs, where="status=ok", json=True))) == 2
    # A bare name is the parameter; params.NAME and metrics.NAME say which.
    assert [r["params"]["lr"] for r in strict_json(shown(runs, sort="lr", json=True))] == [
        "0.1", "0.2", "0.3",
    ]  # fmt: skip
    by_metric = strict_json(shown(runs, sort="metrics.lr", json=True))
    assert [r["params"]["lr"] for r in by_metric] == ["0.2", "0.3", "0.1"]
    assert len(strict_json(shown(runs, where="metrics.lr=0.9", json=True))) == 1
    assert len(strict_json(shown(runs, where="params.lr=0.1", json=True))) == 1
    header = shown(runs, csv=True).splitlines()[0].split(",")
    assert header == [
        "status", "params.lr", "params.status", "metrics.lr", "metrics.job", "started",
        "duration", "dir",
    ]  # fmt: skip
    with pytest.raises(UsageError, match=r"'metrics\.lr' is a metric"):
        shown(runs, group_by="metrics.lr")
    pytest.importorskip("pandas")
    frame = Runs(runs).to_pandas()
    assert list(frame.columns) == [
        "job", "status", "params.lr", "params.status", "metrics.lr", "metrics.job",
        "started", "duration", "dir",
    ]  # fmt: skip
    assert list(frame["status"]) == ["ok", "ok", "failed"] and list(frame["job"]) == ["j"] * 3


# -- the Runs collection ----------------------------------------------------------------


def test_runs_filter_sort_group_and_aggregate_by_typed_values() -> None:
    runs = Runs(
        [
            made("j", "ok", "m/j/A/0", {"lr": 1e-3, "model": "small", "flag": True}, {"loss": 3.0}),
            made(
                "j", "ok", "m/j/A/1", {"lr": 1e-2, "model": "small", "flag": False}, {"loss": 1.0}
            ),
            made("j", "failed", "m/j/B/0", {"lr": 0.001, "model": "big", "flag": True}),
            made("j", "ok", "m/j/B/1", {"lr": 0.01, "model": "big", "flag": False}, {"loss": 2.0}),
        ]
    )
    assert [r.folder for r in runs.filter(lr="1e-3")] == ["m/j/A/0", "m/j/B/0"]
    assert [r.folder for r in runs.filter(lr=[1e-2], model="big")] == ["m/j/B/1"]
    assert len(runs.filter(loss=(1.5, None))) == 2 and len(runs.filter(loss=lambda v: v < 2)) == 1
    assert len(runs.filter(flag=True)) == 2 and len(runs.filter(flag=1)) == 0  # a bool is no 1
    assert len(runs.filter(lambda run: run.status == "failed")) == 1
    assert [r.metrics.get("loss") for r in runs.sort("loss")] == [1.0, 2.0, 3.0, None]
    assert [r.metrics.get("loss") for r in runs.sort("loss", reverse=True)] == [3.0, 2.0, 1.0, None]
    assert runs.filter(model="none").first() is None
    with pytest.raises(LookupError, match="expected one run, found 2"):
        runs.filter(model="big").one()
    groups = runs.group_by("model")
    assert list(groups) == ["small", "big"] and len(groups["big"]) == 2
    assert runs.group_by("model", "flag")[("big", True)].one().status == "failed"
    assert groups.agg(loss="mean", runs=("loss", "count")) == [
        {"model": "small", "loss": 2.0, "runs": 2},
        {"model": "big", "loss": 2.0, "runs": 1},
    ]
    assert runs.agg(worst=("loss", "max"), spread=("loss", "std")) == {"worst": 3.0, "spread": 1.0}
    with pytest.raises(ValueError, match="unknown aggregate"):
        runs.agg(loss="average")
    assert isinstance(runs[1:], Runs) and len(runs[1:]) == 3
    with pytest.raises(LookupError, match="j declare no metric and goal"):
        runs.best()  # nothing is best without a declared goal, whatever the metric's name
    for misspelt in (
        lambda: runs.filter(lss=1),
        lambda: runs.exclude(lss=1),
        lambda: runs.sort("lss"),
    ):
        with pytest.raises(KeyError, match="no run has 'lss' \\(did you mean 'loss'\\?\\)"):
            misspelt()
    from hydraflow.config import Goal

    judged = Runs(runs, goals={"j": ("loss", Goal.MAXIMIZE)})
    assert judged.best().folder == "m/j/A/0"
    with pytest.raises(LookupError, match="no run that succeeded has 'loss'"):
        judged.filter(status="failed").best()
    assert repr(judged.group_by("model")) == "<Groups by model: 'small': 2 runs, 'big': 2 runs>"
    assert judged.group_by("model").best()["big"].folder == "m/j/B/1"  # the failed run never is


def test_a_missing_frame_library_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(ImportError, match=r"pip install 'hydraflow\[frames\]'"):
        Runs([made("j", "ok", "m/j/A/0")]).to_polars()
