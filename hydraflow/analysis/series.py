"""The runs of a sweep as what a plot draws: series of aggregated points (a line), every run
as a dot (a scatter), or cells of two parameters (a heatmap). Pure: no matplotlib, no
terminal; the figure, the terminal drawing and the CSV all render one ``Plot``.

A point aggregates the runs that share its x (and hue) but differ in other keys, such as
seeds: their mean (or median, min, max), the sample standard deviation (None for one
run) and how many they are. Only runs that succeeded are drawn; the others are counted
in the plot's notes (``2 failed runs not shown``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hydraflow.analysis.hints import Hints
from hydraflow.analysis.model import Run
from hydraflow.analysis.plots import (
    Cell,
    Dot,
    NothingToPlot,
    Plot,
    PlotRequest,
    Point,
    Series,
    plural,
)
from hydraflow.analysis.table import check_keys, mean_and_spread
from hydraflow.config import Goal
from hydraflow.errors import UsageError
from hydraflow.statuses import RunStatus
from hydraflow.typed import number_of, same_key, text_of

AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {
    "mean": lambda values: mean_and_spread(values)[0],
    "median": statistics.median,
    "min": min,
    "max": max,
}
# "x spans more than two decades": the largest value over the smallest.
LOG_SPAN = 100.0


def prepare(
    runs: Sequence[Run],
    request: PlotRequest,
    goals: Mapping[str, tuple[str, Goal]] | None = None,
    hints: Hints | None = None,
) -> Plot:
    """The plot of ``runs`` that ``request`` asks for. An unknown key is a usage error that
    names the nearest; runs to draw none of, or a value that is no number, NothingToPlot."""
    request.check()
    hints = hints or Hints()
    if not runs:
        raise NothingToPlot("no runs to plot")
    # Before the keys: where every run failed, no metric is known, and that is the news.
    if not any(run.status == RunStatus.OK for run in runs):
        left: dict[str, int] = {}
        for run in runs:
            left[_left_out(run.status)] = left.get(_left_out(run.status), 0) + 1
        said = "; ".join(_note(reason, count) for reason, count in left.items())
        raise NothingToPlot(f"nothing to plot, no run succeeded: {said}")
    check_keys(runs, [request.x], "--x")
    check_keys(runs, [request.y], "--y")
    for flag, key in (("--z", request.z), ("--hue", request.hue)):
        if key:
            check_keys(runs, [key], flag)
    drawn, notes = _drawn(runs, request)
    xs, numeric_x = _axis(request.x, [run.value(request.x) for run, _ in drawn], hints)
    common: dict[str, Any] = {
        "request": request,
        "jobs": tuple(dict.fromkeys(run.job for run in runs)),
        "runs": len(drawn),
        "notes": tuple(notes),
        "xs": xs,
        "numeric_x": numeric_x,
        "logx": _logx(request, xs, numeric_x, hints),
        "logy": request.logy,
    }
    if request.logy and any(value <= 0 for _, value in drawn):
        raise UsageError(f"--logy: {request.measured} has values at or below zero")
    if request.kind == "heatmap":
        return _heatmap(drawn, request, common, goals or {}, hints)
    hues, _ = _axis(request.hue, [_hue(run, request) for run, _ in drawn], hints)
    if request.kind == "scatter":
        dots = tuple(Dot(run.value(request.x), v, _hue(run, request)) for run, v in drawn)
        return Plot(**common, dots=dots, hues=hues)
    return Plot(**common, series=_series(drawn, request, xs, hues), hues=hues)


# A run to draw, with the number it is drawn at.
Drawn = list[tuple[Run, float]]


def _drawn(runs: Sequence[Run], request: PlotRequest) -> tuple[Drawn, list[str]]:
    """The runs that succeeded and have a number to draw and every key to place it; the
    notes say how many others there are, and why each was left out."""
    measured = request.measured
    keys = [
        k for k in (request.x, request.y if request.kind == "heatmap" else None, request.hue) if k
    ]
    left: dict[str, int] = {}
    drawn: Drawn = []
    texts: dict[str, None] = {}
    for run in runs:
        if run.status != RunStatus.OK:
            left[_left_out(run.status)] = left.get(_left_out(run.status), 0) + 1
            continue
        missing = next((key for key in keys if run.value(key) is None), None)
        if missing is not None:
            reason = f"without {missing}"
            left[reason] = left.get(reason, 0) + 1
            continue
        raw = run.value(measured)
        number = number_of(raw) if not isinstance(raw, str) else None
        if number is None or not math.isfinite(number):
            if raw is not None and not _is_number(raw):
                texts.setdefault(text_of(raw))
            reason = f"without a finite number for {measured}"
            left[reason] = left.get(reason, 0) + 1
            continue
        drawn.append((run, number))
    if not drawn:
        if texts:
            shown = ", ".join(list(texts)[:5])
            raise NothingToPlot(f"{measured} is not numeric (its values: {shown}): nothing to plot")
        said = "; ".join(_note(reason, count) for reason, count in left.items())
        raise NothingToPlot(f"nothing to plot: {said}")
    return drawn, [_note(reason, count) for reason, count in left.items()]


def _is_number(value: Any) -> bool:
    """An int or float that a float holds: a bool, nan or an int of 400 digits has no
    place on a numeric axis, and text that reads as a number stays the config's text."""
    return not isinstance(value, str) and number_of(value) is not None


def _float(value: Any) -> float:
    return number_of(value) or 0.0


def _left_out(status: RunStatus) -> str:
    return "that never started" if status == RunStatus.NOT_RUN else str(status)


def _note(reason: str, count: int) -> str:
    """``2 failed runs not shown``, ``1 run without seed not shown``."""
    if reason.startswith(("without", "that")):
        return f"{plural(count, 'run')} {reason} not shown"
    return f"{count} {reason} run{'' if count == 1 else 's'} not shown"


def _axis(key: str | None, values: Sequence[Any], hints: Hints) -> tuple[tuple[Any, ...], bool]:
    """The distinct values along an axis, in order, and whether they are all numbers:
    numbers ascend; text (or a mix) follows the sweep's order, then first appearance."""
    if key is None:
        return (None,), False
    distinct: dict[Any, Any] = {}
    for value in values:
        distinct.setdefault(same_key(value), value)
    numeric = all(_is_number(v) for v in distinct.values())
    if numeric:
        return tuple(sorted(distinct.values(), key=_float)), True
    rank = hints.rank(key)
    first = {same: place for place, same in enumerate(distinct)}
    ordered = sorted(distinct, key=lambda same: (rank.get(same, len(rank)), first[same]))
    return tuple(distinct[same] for same in ordered), False


def _logx(request: PlotRequest, xs: Sequence[Any], numeric: bool, hints: Hints) -> bool:
    positive = numeric and all(_float(x) > 0 for x in xs)
    if request.logx:
        if not positive:
            raise UsageError(f"--logx: {request.x} needs numbers above zero")
        return True
    if request.logx is False or not positive:
        return False
    numbers = [_float(x) for x in xs]
    return hints.is_log(request.x) or max(numbers) / min(numbers) > LOG_SPAN


def _hue(run: Run, request: PlotRequest) -> Any:
    return run.value(request.hue) if request.hue else None


def _series(
    drawn: Drawn, request: PlotRequest, xs: Sequence[Any], hues: Sequence[Any]
) -> tuple[Series, ...]:
    """A series per hue value, a point per x value that it has runs at."""
    groups: dict[tuple[Any, Any], list[float]] = {}
    for run, value in drawn:
        at = (same_key(_hue(run, request)), same_key(run.value(request.x)))
        groups.setdefault(at, []).append(value)
    series = []
    for hue in hues:
        points = [
            _point(x, values, request.agg)
            for x in xs
            if (values := groups.get((same_key(hue), same_key(x)))) is not None
        ]
        series.append(Series(hue, tuple(points)))
    return tuple(series)


def _point(x: Any, values: Sequence[float], agg: str) -> Point:
    _, std = mean_and_spread(values)
    return Point(x, AGGREGATES[agg](values), std, len(values))


def _heatmap(
    drawn: Drawn,
    request: PlotRequest,
    common: dict[str, Any],
    goals: Mapping[str, tuple[str, Goal]],
    hints: Hints,
) -> Plot:
    ys, numeric_y = _axis(request.y, [run.value(request.y) for run, _ in drawn], hints)
    groups: dict[tuple[Any, Any], tuple[Any, Any, list[float]]] = {}
    for run, value in drawn:
        x, y = run.value(request.x), run.value(request.y)
        groups.setdefault((same_key(x), same_key(y)), (x, y, []))[2].append(value)
    cells = []
    for y in ys:
        for x in common["xs"]:
            found = groups.get((same_key(x), same_key(y)))
            if found is not None:
                point = _point(x, found[2], request.agg)
                cells.append(Cell(x, y, point.value, point.std, point.count))
    goal = _goal(drawn, goals, request.measured)
    best = None
    if goal is not None and cells:
        pick = min if goal == Goal.MINIMIZE else max
        best = pick(cells, key=lambda cell: cell.value)
    return Plot(**common, ys=ys, numeric_y=numeric_y, cells=tuple(cells), best=best, goal=goal)


def _goal(drawn: Drawn, goals: Mapping[str, tuple[str, Goal]], metric: str) -> Goal | None:
    """The declared goal, when every job drawn declares the same one for ``metric``."""
    declared = {goals.get(run.job) for run, _ in drawn}
    if len(declared) != 1:
        return None
    (one,) = declared
    if one is None or metric not in (one[0], f"metrics.{one[0]}"):
        return None
    return one[1]
