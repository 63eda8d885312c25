"""What a plot draws, in-process and fast, from plain ``Run`` rows: the aggregate behind
each point, what is left out and said, the scales, the order of text values, the best
cell, and the mistakes that are usage errors or nothing to plot."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hydraflow.analysis.hints import Hints, hints_of
from hydraflow.analysis.model import Run
from hydraflow.analysis.plots import NothingToPlot, Plot, PlotRequest, table
from hydraflow.analysis.series import prepare
from hydraflow.config import Goal, load
from hydraflow.errors import UsageError
from hydraflow.statuses import RunStatus

ROOT = Path("/project")
# loss of each (model, lr) over three seeds: unequal, so that mean, median and std differ.
LOSSES = {
    ("small", 0.001): [0.30, 0.35, 0.50],
    ("small", 0.01): [0.20, 0.22, 0.30],
    ("small", 0.1): [0.40, 0.45, 0.60],
    ("large", 0.001): [0.25, 0.27, 0.40],
    ("large", 0.01): [0.10, 0.12, 0.20],
    ("large", 0.1): [0.90, 1.00, 1.40],
}


def made(status: str = "ok", folder: str = "d/0", **values: Any) -> Run:
    metrics = {k: v for k, v in values.items() if k in ("loss", "acc")}
    params = {k: v for k, v in values.items() if k not in metrics}
    return Run("fit", RunStatus(status), ROOT / folder, params, metrics, root=ROOT)


def sweep() -> list[Run]:
    runs = []
    for (model, lr), losses in LOSSES.items():
        for seed, loss in enumerate(losses):
            runs.append(
                made(folder=f"{model}/{lr}/{seed}", model=model, lr=lr, seed=seed, loss=loss)
            )
    return runs


def points(plot: Plot) -> dict[tuple[Any, Any], tuple[float, float | None, int]]:
    return {(s.hue, p.x): (p.value, p.std, p.count) for s in plot.series for p in s.points}


def test_a_point_is_the_aggregate_of_the_runs_that_share_x_and_hue() -> None:
    plot = prepare(sweep(), PlotRequest("lr", "loss", hue="model"))
    assert [s.hue for s in plot.series] == ["small", "large"]  # as the runs first came
    assert plot.xs == (0.001, 0.01, 0.1) and plot.numeric_x
    for (model, lr), losses in LOSSES.items():
        mean, std, count = points(plot)[model, lr]
        assert mean == pytest.approx(statistics.fmean(losses), rel=1e-12)
        assert std == pytest.approx(statistics.stdev(losses), rel=1e-12)
        assert count == 3
    assert plot.label(plot.series[0]) == "small (n=3)"
    assert plot.runs == 18 and plot.notes == ()


@pytest.mark.parametrize(
    ("agg", "function"), [("median", statistics.median), ("min", min), ("max", max)]
)
def test_other_aggregates_keep_the_same_spread(agg: str, function: Any) -> None:
    plot = prepare(sweep(), PlotRequest("lr", "loss", hue="model", agg=agg))
    for (model, lr), losses in LOSSES.items():
        value, std, _ = points(plot)[model, lr]
        assert value == function(losses)
        assert std == pytest.approx(statistics.stdev(losses), rel=1e-12)
    assert plot.ylabel == f"loss ({agg} ± std)"


def test_without_hue_one_series_over_everything_at_each_x() -> None:
    plot = prepare(sweep(), PlotRequest("lr", "loss"))
    (series,) = plot.series
    for point in series.points:
        losses = [v for (_, lr), vs in LOSSES.items() if lr == point.x for v in vs]
        assert point.value == pytest.approx(statistics.fmean(losses), rel=1e-12)
        assert point.std == pytest.approx(statistics.stdev(losses), rel=1e-12)
        assert point.count == 6
    assert plot.label(series) == "mean of loss (n=6)"


def test_one_run_has_no_spread_and_counts_that_differ_show_as_a_range() -> None:
    runs = [
        made(folder="a", lr=0.1, loss=1.0),
        *[made(folder=f"b{i}", lr=0.2, loss=i) for i in (1, 2)],
    ]
    plot = prepare(runs, PlotRequest("lr", "loss"))
    (series,) = plot.series
    assert [(p.value, p.std, p.count) for p in series.points] == [
        (1.0, None, 1),
        (1.5, 0.7071067811865476, 2),
    ]
    assert plot.label(series) == "mean of loss (n=1–2)"
    assert table(plot).rows[0] == ["0.1", "1.0", "", "1"]  # no std for one run


def test_runs_that_did_not_succeed_are_left_out_and_counted() -> None:
    runs = sweep()
    runs += [made("failed", f"f{i}", model="small", lr=0.1, seed=9) for i in range(2)]
    runs += [made("not run", "n", model="large", lr=0.1, seed=9)]
    runs += [made(folder="s", model="small", seed=1, loss=0.5)]  # no lr: placed nowhere
    runs += [made(folder="t", model="small", lr=0.1, seed=2, acc=0.5)]  # no loss
    plot = prepare(runs, PlotRequest("lr", "loss", hue="model"))
    assert plot.runs == 18 and points(plot)["small", 0.1][2] == 3
    assert plot.notes == (
        "2 failed runs not shown",
        "1 run that never started not shown",
        "1 run without lr not shown",
        "1 run without a finite number for loss not shown",
    )


def test_nothing_to_plot_is_said_with_its_reason() -> None:
    failed = [made("failed", f"f{i}", lr=0.1) for i in range(2)]
    with pytest.raises(NothingToPlot, match="no run succeeded: 2 failed runs not shown") as caught:
        prepare(failed, PlotRequest("lr", "loss"))
    assert caught.value.exit_code == 1
    with pytest.raises(NothingToPlot, match=r"model is not numeric \(its values: small, large\)"):
        prepare(sweep(), PlotRequest("lr", "model"))
    with pytest.raises(NothingToPlot, match="no runs"):
        prepare([], PlotRequest("lr", "loss"))


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (PlotRequest("lrr", "loss"), r"--x: no run has 'lrr' \(did you mean 'lr'\?\)"),
        (PlotRequest("lr", "los"), r"--y: no run has 'los' \(did you mean 'loss'\?\)"),
        (
            PlotRequest("lr", "loss", hue="modle"),
            r"--hue: no run has 'modle' \(did you mean 'model'\?\)",
        ),
        (PlotRequest("lr", "loss", kind="lines"), r"--kind 'lines' \(did you mean 'line'\?\)"),
        (PlotRequest("lr", "loss", agg="avg"), "--agg 'avg': one of mean, median, min, max"),
        (PlotRequest("lr", "model", kind="heatmap"), "--kind heatmap needs --z METRIC"),
        (PlotRequest("lr", "loss", z="loss"), "--z is the heatmap's value"),
        (PlotRequest("model", "loss", logx=True), "--logx: model needs numbers above zero"),
        (PlotRequest("seed", "loss", logx=True), "--logx: seed needs numbers above zero"),
    ],
)
def test_mistakes_are_usage_errors(request_: PlotRequest, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        prepare(sweep(), request_)
    assert caught.value.exit_code == 2


def test_a_log_axis_when_x_spans_more_than_two_decades_or_came_from_log() -> None:
    def logx(xs: list[float], hints: Hints | None = None, **asked: Any) -> bool:
        runs = [made(folder=f"r{i}", lr=x, loss=1.0) for i, x in enumerate(xs)]
        return prepare(runs, PlotRequest("lr", "loss", **asked), hints=hints).logx

    assert logx([0.001, 0.01, 0.1]) is False  # two decades exactly
    assert logx([0.0001, 0.01, 0.1]) is True
    assert logx([0, 1, 1000]) is False  # zero has no place on a log axis
    assert logx([-1000, -1]) is False
    assert logx([0.01, 0.1], Hints(log=frozenset({"lr"}))) is True  # log(…) in the sweep
    assert logx([0.0001, 0.1], logx=False) is False
    assert logx([1, 2], logx=True) is True


def test_text_values_follow_the_sweep_not_the_alphabet(tmp_path: Path) -> None:
    (tmp_path / "hydraflow.yaml").write_text(
        "jobs:\n  fit:\n    run: app\n    sets:\n"
        "      - each: model=small,medium lr=log(1e-4:1e-1:4)\n"
        "      - each: model=large|model=huge\n        all: +tag=tag(log,interval(0.1,1))\n"
    )
    hints = hints_of(load(tmp_path / "hydraflow.yaml").check().job("fit"))
    assert hints.order["model"] == ("small", "medium", "large", "huge")
    assert hints.order["lr"] == (0.0001, 0.001, 0.01, 0.1)
    assert hints.log == {"lr", "tag"}
    runs = [made(folder=m, model=m, loss=1.0) for m in ("huge", "medium", "large", "small", "tiny")]
    plot = prepare(runs, PlotRequest("model", "loss"), hints=hints)
    assert plot.xs == ("small", "medium", "large", "huge", "tiny")  # unswept ones last
    assert [plot.position(x) for x in ("small", "tiny")] == [0.0, 4.0]
    assert prepare(runs, PlotRequest("model", "loss")).xs[:2] == ("huge", "medium")  # no hints


def test_numbers_however_written_are_one_x() -> None:
    runs = [made(folder="a", lr=0.001, loss=1.0), made(folder="b", lr=1e-3, loss=3.0)]
    (series,) = prepare(runs, PlotRequest("lr", "loss")).series
    assert [(p.value, p.count) for p in series.points] == [(2.0, 2)]


def test_values_no_float_holds_make_x_text() -> None:
    runs = [made(folder="a", x=10**400, loss=1.0), made(folder="b", x=2, loss=3.0)]
    plot = prepare(runs, PlotRequest("x", "loss"))
    assert not plot.numeric_x and plot.xs == (10**400, 2) and not plot.logx
    flags = [made(folder="t", on=True, loss=1.0), made(folder="f", on=False, loss=2.0)]
    assert prepare(flags, PlotRequest("on", "loss")).xs == (True, False)  # a bool is no 1


@pytest.mark.parametrize(
    ("goal", "best"),
    [(Goal.MINIMIZE, ("large", 0.01)), (Goal.MAXIMIZE, ("large", 0.1)), (None, None)],
)
def test_the_heatmap_marks_the_best_cell_by_the_declared_goal(
    goal: Goal | None, best: tuple[str, float] | None
) -> None:
    goals = {"fit": ("loss", goal)} if goal else {}
    plot = prepare(sweep(), PlotRequest("model", "lr", z="loss", kind="heatmap"), goals)
    assert plot.xs == ("small", "large") and plot.ys == (0.001, 0.01, 0.1)
    assert {(c.x, c.y): c.value for c in plot.cells} == pytest.approx(
        {key: statistics.fmean(losses) for key, losses in LOSSES.items()}
    )
    if best is None:
        assert plot.best is None
    else:
        assert plot.best is not None and (plot.best.x, plot.best.y) == best
    other = prepare(
        sweep(),
        PlotRequest("model", "lr", z="loss", kind="heatmap"),
        {"fit": ("acc", Goal.MAXIMIZE)},
    )
    assert other.best is None  # a goal on another metric says nothing of this one


def test_the_tables_behind_each_kind() -> None:
    line = table(prepare(sweep(), PlotRequest("lr", "loss", hue="model")))
    assert line.header == ["model", "lr", "loss.mean", "loss.std", "count"]
    assert line.rows[0][:2] == ["small", "0.001"] and len(line.rows) == 6
    scatter = table(prepare(sweep(), PlotRequest("seed", "loss", hue="model", kind="scatter")))
    assert scatter.header == ["model", "seed", "loss"] and len(scatter.rows) == 18
    assert sorted(float(r[2]) for r in scatter.rows) == sorted(
        v for vs in LOSSES.values() for v in vs
    )
    cells = table(prepare(sweep(), PlotRequest("model", "lr", z="loss", kind="heatmap", agg="max")))
    assert cells.header == ["model", "lr", "loss.max", "loss.std", "count"]
    assert cells.rows[0] == ["small", "0.001", "0.5", repr(statistics.stdev([0.3, 0.35, 0.5])), "3"]


def test_runs_plot_draws_on_an_axes_and_names_a_wrong_key() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from hydraflow.analysis.runs import Runs

    ax = Figure().add_subplot()
    assert Runs(sweep()).plot(x="lr", y="loss", hue="model", ax=ax) is ax
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines["small (n=3)"] == pytest.approx(
        [statistics.fmean(LOSSES["small", lr]) for lr in (0.001, 0.01, 0.1)]
    )
    assert ax.get_title() == "fit: loss against lr by model" and ax.get_xlabel() == "lr"
    with pytest.raises(ValueError, match="did you mean 'loss'"):
        Runs(sweep()).plot(x="lr", y="los", ax=ax)


def test_nothing_of_the_plot_extra_is_imported_until_a_plot_is_drawn() -> None:
    code = (
        "import sys, hydraflow, hydraflow.analysis, hydraflow.app, hydraflow.cli, hydraflow.tasks\n"
        "import hydraflow.analysis.series, hydraflow.analysis.figure\n"
        "import hydraflow.display.plot_terminal\n"
        "print(sorted(m for m in ('matplotlib', 'plotext', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_search_space_on_a_log_scale_is_a_log_axis(tmp_path: Path) -> None:
    (tmp_path / "hydraflow.yaml").write_text(
        "jobs:\n  tune:\n    run: app\n    metric: loss\n    goal: minimize\n    search:\n"
        "      trials: 4\n      space: optimizer.lr=tag(log, interval(1e-3, 1e-1))"
        " +x=interval(0,1) model=a,b\n"
    )
    hints = hints_of(load(tmp_path / "hydraflow.yaml").check().job("tune"))
    assert hints.log == {"optimizer.lr"}
