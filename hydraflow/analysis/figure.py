"""A ``Plot`` drawn with matplotlib: on an Axes (``Runs.plot``, in a notebook) or into a
PNG, SVG or PDF file (``hydraflow plot -o``). matplotlib is the optional extra
``hydraflow[plot]``, imported only here and only when a plot is drawn.

A file is drawn on a bare ``Figure`` with the Agg canvas: no pyplot, so no window,
no backend chosen for the user and nothing left in pyplot's list of figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydraflow.analysis.plots import Plot, optional
from hydraflow.config import Goal
from hydraflow.typed import same_key, text_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FORMATS = (".png", ".svg", ".pdf")
# Past this many cells a heatmap's numbers no longer fit in them: colour alone then.
ANNOTATED = 400
# Past this many text values along an axis, every k-th is labelled.
LABELLED = 40
# Past this many points a line is drawn without a dot at each.
MARKED = 50
# A band of ± one standard deviation, light enough that crossing lines stay readable.
BAND_ALPHA = 0.2


def require(what: str = "hydraflow plot -o") -> None:
    """matplotlib is there, or MissingExtra (one line naming the extra)."""
    optional("matplotlib", what)


def draw(plot: Plot, ax: Axes) -> Axes:
    """``plot`` on ``ax``: title, axis labels, scales, and a legend with each line's count
    and what was left out."""
    if plot.kind == "heatmap":
        _heatmap(plot, ax)
    elif plot.kind == "scatter":
        _scatter(plot, ax)
    else:
        _lines(plot, ax)
    ax.set_title(plot.title)
    ax.set_xlabel(plot.request.x)
    ax.set_ylabel(plot.ylabel)
    if plot.kind != "heatmap":
        _x_axis(plot, ax)
        if plot.logy:
            ax.set_yscale("log")
        title = "\n".join([*([plot.request.hue] if plot.request.hue else []), *plot.notes])
        ax.legend(title=title or None, fontsize="small", title_fontsize="small")
    return ax


def save(plot: Plot, path: Path) -> None:
    """``plot`` into ``path`` (its suffix says the format), with the caption (job, runs
    drawn, what a point is) under it. Text stays text in an SVG."""
    require()
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    wide = plot.kind == "heatmap" and len(plot.xs) > 8
    figure = Figure(figsize=(10 if wide else 8, 6), layout="constrained")
    FigureCanvasAgg(figure)
    draw(plot, figure.add_subplot())
    caption = " · ".join([plot.caption, *(plot.notes if plot.kind == "heatmap" else ())])
    figure.supxlabel(caption, fontsize="small", color="dimgray")
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "hydraflow"}):
        figure.savefig(path, dpi=120, metadata=_metadata(path, plot))


def _metadata(path: Path, plot: Plot) -> dict[str, Any]:
    # PNG and PDF keep a title; a fixed (empty) date keeps a figure the same byte for
    # byte when its runs are, so a committed picture changes only when they do.
    suffix = path.suffix.lower()
    if suffix == ".png":
        return {"Title": plot.title, "Software": None}
    if suffix == ".pdf":
        return {"Title": plot.title, "CreationDate": None}
    return {"Title": plot.title, "Date": None}


def _lines(plot: Plot, ax: Axes) -> None:
    for index, series in enumerate(plot.series):
        xs = [plot.position(p.x) + _dodge(plot, index) for p in series.points]
        ys = [p.value for p in series.points]
        spread = [p.std or 0.0 for p in series.points]
        label = plot.label(series)
        if plot.numeric_x:
            marker = "o" if len(xs) <= MARKED else None  # past that, dots only thicken it
            (line,) = ax.plot(xs, ys, marker=marker, markersize=3, label=label)
            if any(spread):
                low = [y - s for y, s in zip(ys, spread, strict=True)]
                high = [y + s for y, s in zip(ys, spread, strict=True)]
                ax.fill_between(xs, low, high, alpha=BAND_ALPHA, color=line.get_color(), lw=0)
        else:  # between text values a band would claim values in between: error bars
            ax.errorbar(xs, ys, yerr=spread, marker="o", markersize=4, capsize=3, label=label)


def _dodge(plot: Plot, index: int) -> float:
    """Lines over text values step a little aside, so their error bars do not hide one
    another at the same place."""
    if plot.numeric_x or len(plot.series) < 2:
        return 0.0
    return (index - (len(plot.series) - 1) / 2) * min(0.1, 0.4 / len(plot.series))


def _scatter(plot: Plot, ax: Axes) -> None:
    for hue in plot.hues:
        dots = [dot for dot in plot.dots if _same(dot.hue, hue)]
        label = text_of(hue) if plot.request.hue else plot.request.y
        ax.scatter(
            [plot.position(d.x) for d in dots], [d.y for d in dots], s=12, alpha=0.7, label=label
        )


def _same(a: Any, b: Any) -> bool:
    return bool(same_key(a) == same_key(b))


def _x_axis(plot: Plot, ax: Axes) -> None:
    if not plot.numeric_x:
        _categories(ax, "x", [text_of(x) for x in plot.xs])
        ax.set_xlim(-0.5, len(plot.xs) - 0.5)
        return
    if plot.logx:
        ax.set_xscale("log")
    elif all(isinstance(x, int) for x in plot.xs):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _categories(ax: Axes, axis: str, labels: Sequence[str]) -> None:
    """Text values at 0, 1, 2…; where they would overlap, every k-th is labelled (along x
    as many as fit side by side: about 90 characters across, long ones slanted)."""
    longest = max(map(len, labels), default=1)
    slanted = axis == "x" and longest > 8
    room = LABELLED if axis == "y" or slanted else max(1, 90 // (longest + 2))
    step = max(1, math.ceil(len(labels) / room))
    places = list(range(0, len(labels), step))
    shown = [labels[i] for i in places]
    if axis == "y":
        ax.set_yticks(places, shown)
    elif slanted:  # long words side by side would overlap
        ax.set_xticks(places, shown, rotation=30, ha="right")
    else:
        ax.set_xticks(places, shown)


def _heatmap(plot: Plot, ax: Axes) -> None:
    """The cells as an image (missing cells blank), each annotated; the best cell (by the
    declared goal) framed and its number bold."""
    import numpy as np
    from matplotlib.patches import Rectangle

    grid = np.full((len(plot.ys), len(plot.xs)), np.nan)
    for cell in plot.cells:
        grid[plot.row(cell.y), plot.column(cell.x)] = cell.value
    # Lower is better under "minimize": the reversed map makes the best cell the bright one.
    cmap = "viridis_r" if plot.goal == Goal.MINIMIZE else "viridis"
    image = ax.imshow(grid, cmap=cmap, aspect="auto", origin="lower")
    colorbar = ax.figure.colorbar(image, ax=ax)
    colorbar.set_label(f"{plot.request.z} ({plot.request.agg})")
    _categories(ax, "x", [text_of(x) for x in plot.xs])
    _categories(ax, "y", [text_of(y) for y in plot.ys])
    if len(plot.cells) <= ANNOTATED:
        values = [cell.value for cell in plot.cells]
        middle = (min(values) + max(values)) / 2
        for cell in plot.cells:
            col, row = plot.column(cell.x), plot.row(cell.y)
            dark = (cell.value < middle) != (plot.goal == Goal.MINIMIZE)
            best = cell is plot.best
            ax.text(
                col, row, f"{cell.value:.3g}", ha="center", va="center", fontsize="small",
                color="white" if dark else "black", fontweight="bold" if best else "normal",
            )  # fmt: skip
    if plot.best is not None:
        col, row = plot.column(plot.best.x), plot.row(plot.best.y)
        frame = Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="red", lw=2.5)
        ax.add_patch(frame)
