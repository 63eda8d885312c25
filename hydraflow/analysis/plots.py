"""What a plot of runs is, decided and ready to render: the request (``--x``, ``--y``,
``--kind``…), and the plot that answers it: series of aggregated points (a line), a dot
per run (a scatter) or the cells of two parameters (a heatmap), each axis's values in
their order, the scales, and notes on what was left out. The figure (matplotlib), the
terminal drawing (plotext) and the CSV all render one ``Plot``; ``series`` makes it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cached_property
from types import ModuleType
from typing import Any

from hydraflow.config import Goal
from hydraflow.errors import HydraflowError, UsageError, did_you_mean
from hydraflow.typed import number_of, same_key, text_of

KINDS = ("line", "scatter", "heatmap")
AGGREGATES = ("mean", "median", "min", "max")
EXTRA = "pip install 'hydraflow[plot]'"


class MissingExtra(ImportError):
    """matplotlib or plotext is not installed (or not a version hydraflow draws with)."""


def optional(module: str, what: str) -> ModuleType:
    """``module``, imported now; else MissingExtra, one line that names the extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{what} needs {module}: {EXTRA}") from None


class NothingToPlot(HydraflowError):
    """The runs hold nothing a plot can draw (none left, or a value that is no number):
    status 1, as a result that is not there."""


@dataclass(frozen=True)
class PlotRequest:
    """What to draw: ``y`` against ``x`` (line, scatter), or ``z`` over ``x`` and ``y``
    (heatmap); ``logx`` None lets the values (and the sweep) decide."""

    x: str
    y: str
    z: str | None = None
    hue: str | None = None
    kind: str = "line"
    agg: str = "mean"
    logx: bool | None = None
    logy: bool = False

    def check(self) -> None:
        """A request that cannot be drawn, whatever the runs: a usage error."""
        for flag, value, choices in (("--kind", self.kind, KINDS), ("--agg", self.agg, AGGREGATES)):
            if value not in choices:
                hint = did_you_mean(value, list(choices))
                raise UsageError(f"{flag} {value!r}{hint}: one of {', '.join(choices)}")
        if self.kind == "heatmap":
            if not self.z:
                raise UsageError("--kind heatmap needs --z METRIC: the value of each x, y cell")
            if self.hue:
                raise UsageError("--kind heatmap takes no --hue: its colour is --z")
        elif self.z:
            raise UsageError(f"--z is the heatmap's value; a {self.kind} plot draws --y")

    @property
    def measured(self) -> str:
        """The metric whose numbers are drawn."""
        return self.z if self.kind == "heatmap" and self.z else self.y


@dataclass(frozen=True)
class Point:
    x: Any
    value: float  # the aggregate of the runs at x
    std: float | None  # their sample standard deviation; None for one run
    count: int


@dataclass(frozen=True)
class Series:
    hue: Any  # the hue's value (None without --hue)
    points: tuple[Point, ...]

    @property
    def counts(self) -> str:
        """How many runs each point stands for: ``3``, or ``2–3`` where they differ."""
        low = min(p.count for p in self.points)
        high = max(p.count for p in self.points)
        return str(low) if low == high else f"{low}–{high}"


@dataclass(frozen=True)
class Dot:
    x: Any
    y: float
    hue: Any


@dataclass(frozen=True)
class Cell:
    x: Any
    y: Any
    value: float
    std: float | None
    count: int


@dataclass(frozen=True)
class Plot:
    """Everything a renderer needs, already decided: the values along each axis in their
    order, the scales, and the notes on what is left out."""

    request: PlotRequest
    jobs: tuple[str, ...]
    runs: int  # the runs drawn
    notes: tuple[str, ...]  # what is left out and why
    xs: tuple[Any, ...]  # along x, in order (numbers ascending, text in sweep order)
    numeric_x: bool
    logx: bool
    logy: bool
    series: tuple[Series, ...] = ()
    dots: tuple[Dot, ...] = ()
    hues: tuple[Any, ...] = ()  # the hue values, in order (line and scatter)
    ys: tuple[Any, ...] = ()  # heatmap: along y, in order
    numeric_y: bool = False
    cells: tuple[Cell, ...] = ()
    best: Cell | None = None  # heatmap: the best cell by the declared goal
    goal: Goal | None = None

    @property
    def kind(self) -> str:
        return self.request.kind

    def position(self, x: Any) -> float:
        """Where an x value sits on the axis: the number, or a text value's place."""
        if self.numeric_x:
            return number_of(x) or 0.0
        return float(self.column(x))

    def column(self, x: Any) -> int:
        """An x value's place along x (a heatmap's column)."""
        return self._columns[same_key(x)]

    def row(self, y: Any) -> int:
        """A heatmap's y value's place along y."""
        return self._rows[same_key(y)]

    @cached_property
    def _columns(self) -> dict[Any, int]:
        return {same_key(x): place for place, x in enumerate(self.xs)}

    @cached_property
    def _rows(self) -> dict[Any, int]:
        return {same_key(y): place for place, y in enumerate(self.ys)}

    @property
    def title(self) -> str:
        r = self.request
        what = f"{r.z} over {r.x} and {r.y}" if self.kind == "heatmap" else f"{r.y} against {r.x}"
        by = f" by {r.hue}" if r.hue else ""
        return f"{', '.join(self.jobs)}: {what}{by}"

    @property
    def ylabel(self) -> str:
        r = self.request
        if self.kind == "heatmap":
            return r.y
        return r.y if self.kind == "scatter" else f"{r.y} ({r.agg} ± std)"

    @property
    def caption(self) -> str:
        """The job, the runs drawn, and how: ``train · 12 runs · mean ± std of the runs
        at each point``."""
        parts = [", ".join(self.jobs), plural(self.runs, "run")]
        if self.kind == "line":
            parts.append(f"{self.request.agg} ± std of the runs at each point")
        elif self.kind == "heatmap":
            parts.append(f"{self.request.agg} of {self.request.z} in each cell")
            if self.best is not None:
                parts.append(f"the best cell ({self.goal}) marked")
        return " · ".join(parts)

    def label(self, series: Series) -> str:
        """A line's legend entry, with the runs behind each of its points."""
        name = (
            text_of(series.hue) if self.request.hue else f"{self.request.agg} of {self.request.y}"
        )
        return f"{name} (n={series.counts})"


@dataclass(frozen=True)
class Table:
    """The numbers behind a plot as rows of text, for CSV (every digit)."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)


def table(plot: Plot) -> Table:
    """Line: a row per point (hue, x, aggregate, std, count); scatter: a row per run
    drawn; heatmap: a row per cell. Numbers with every digit, so they read back."""
    r = plot.request
    hue = [r.hue] if r.hue else []
    if plot.kind == "scatter":
        out = Table([*hue, r.x, r.y])
        for dot in plot.dots:
            out.rows.append([*_hue_cell(r, dot.hue), text_of(dot.x), repr(dot.y)])
        return out
    if plot.kind == "heatmap":
        z = r.z or ""
        out = Table([r.x, r.y, f"{z}.{r.agg}", f"{z}.std", "count"])
        for c in plot.cells:
            out.rows.append([text_of(c.x), text_of(c.y), repr(c.value), _std(c.std), str(c.count)])
        return out
    out = Table([*hue, r.x, f"{r.y}.{r.agg}", f"{r.y}.std", "count"])
    for one in plot.series:
        for p in one.points:
            cells = [text_of(p.x), repr(p.value), _std(p.std), str(p.count)]
            out.rows.append([*_hue_cell(r, one.hue), *cells])
    return out


def _hue_cell(request: PlotRequest, hue: Any) -> list[str]:
    return [text_of(hue)] if request.hue else []


def _std(std: float | None) -> str:
    return "" if std is None else repr(std)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
