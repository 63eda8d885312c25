"""A ``Plot`` drawn in the terminal with plotext (the optional extra ``hydraflow[plot]``,
plotext 5: plotext 6 is another API). The same plot as the file: its lines, error bars
of ± one standard deviation, dots or annotated cells, title, axis labels, legend, and
the caption with what was left out under it. ``NO_COLOR`` draws it without colour.
"""

from __future__ import annotations

import os
import shutil
from types import ModuleType
from typing import IO, Any

from hydraflow.analysis.plots import EXTRA, MissingExtra, Plot, optional
from hydraflow.typed import same_key, text_of

# plotext's own names; a line and its error bars share one.
COLOURS = ("blue", "red", "green", "orange", "magenta", "cyan", "gray")
# Rows the plot may take: at least enough to read, at most a screenful of a usual terminal.
ROWS = (12, 30)


def require() -> ModuleType:
    """plotext 5, or MissingExtra (one line naming the extra)."""
    plotext = optional("plotext", "hydraflow plot on a terminal")
    if not hasattr(plotext, "build"):  # plotext 6 has no build() (nor plot())
        version = getattr(plotext, "version", "6")
        raise MissingExtra(f"hydraflow plot needs plotext 5, not {version}: {EXTRA}")
    return plotext


def draw_terminal(plot: Plot, out: IO[str]) -> None:
    """``plot`` drawn to fit the terminal ``out`` is, then its caption and notes."""
    plt = require()
    colour = not os.environ.get("NO_COLOR")
    columns, lines = _size()
    plt.clf()
    plt.theme("pro" if colour else "clear")
    plt.plotsize(columns, max(ROWS[0], min(ROWS[1], lines - 3 - len(plot.notes))))
    if plot.kind == "heatmap":
        _heatmap(plt, plot)
    elif plot.kind == "scatter":
        _scatter(plt, plot)
    else:
        _lines(plt, plot)
    if plot.kind != "heatmap":
        _x_axis(plt, plot, columns)
        if plot.logy:
            plt.yscale("log")
    plt.title(plot.title)
    plt.xlabel(plot.request.x)
    plt.ylabel(plot.ylabel)
    drawn = plt.build()
    if not colour:
        drawn = plt.uncolorize(drawn)
    out.write(drawn.rstrip("\n") + "\n")
    out.write("".join(f"{line}\n" for line in (plot.caption, *plot.notes)))
    out.flush()


def _size() -> tuple[int, int]:
    """The terminal's size: ``COLUMNS`` and ``LINES`` where set (as Rich reads them), else
    what the terminal says, else 80 × 24."""
    size = shutil.get_terminal_size()
    return max(size.columns, 40), size.lines


def _lines(plt: Any, plot: Plot) -> None:
    for index, series in enumerate(plot.series):
        colour = COLOURS[index % len(COLOURS)]
        xs = [plot.position(p.x) for p in series.points]
        ys = [p.value for p in series.points]
        plt.plot(xs, ys, label=plot.label(series), color=colour, marker="hd")
        spread = [p.std or 0.0 for p in series.points]
        if any(spread):
            plt.error(xs, ys, yerr=spread, color=colour)


def _scatter(plt: Any, plot: Plot) -> None:
    for index, hue in enumerate(plot.hues):
        dots = [dot for dot in plot.dots if same_key(dot.hue) == same_key(hue)]
        label = text_of(hue) if plot.request.hue else plot.request.y
        xs, ys = [plot.position(d.x) for d in dots], [d.y for d in dots]
        plt.scatter(xs, ys, label=label, color=COLOURS[index % len(COLOURS)])


def _x_axis(plt: Any, plot: Plot, columns: int) -> None:
    """Text values at 0, 1, 2… (every k-th labelled where they would not fit side by side);
    numbers labelled with the swept values themselves where they fit, not round numbers."""
    labels = [text_of(x) for x in plot.xs]
    room = max(1, (columns - 10) // (max(map(len, labels)) + 2))
    step = -(-len(labels) // room)  # ceiling
    if not plot.numeric_x:
        places = list(range(0, len(labels), step))
        plt.xticks(places, [labels[i] for i in places])
        plt.xlim(-0.5, len(labels) - 0.5)
        return
    if plot.logx:
        plt.xscale("log")
    if step == 1:
        plt.xticks(list(plot.xs), labels)


def _heatmap(plt: Any, plot: Plot) -> None:
    """Each cell's number at its place; the best cell's in brackets (and bold)."""
    columns, rows = len(plot.xs), len(plot.ys)
    # Invisible corners give the canvas its extent; the numbers are text on it.
    plt.scatter([-0.5, columns - 0.5], [-0.5, rows - 0.5], marker=" ")
    for cell in plot.cells:
        best = cell is plot.best
        text = f"[{cell.value:.3g}]" if best else f"{cell.value:.3g}"
        style = "bold" if best else None
        plt.text(text, plot.column(cell.x), plot.row(cell.y), alignment="center", style=style)
    plt.xticks(list(range(columns)), [text_of(x) for x in plot.xs])
    plt.yticks(list(range(rows)), [text_of(y) for y in plot.ys])
    plt.xlim(-0.5, columns - 0.5)
    plt.ylim(-0.5, rows - 0.5)
