"""The results table on a terminal: the best value of the declared metric stands out,
failed runs are red and runs that never started are dim. Cells are data, never markup.

A narrow terminal never cuts a number. When the table is wider than the terminal, the
``dir`` column gives way first (``…7PNDT/0``), then the widest words give way to an
ellipsis, each column's title keeping enough of its end to stay unlike the others. A
number (a metric, a duration, a parameter's value) is never cut nor folded: when even
then the table is too wide, its columns wrap into tables one under the other, as R and
pandas print a wide frame, each led by the runs' folders."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import IO

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text

from hydraflow.analysis.formats import Columns, field_text, number, printable, short_dirs
from hydraflow.analysis.model import FIELDS, Run, cell
from hydraflow.analysis.table import best_value
from hydraflow.config import Goal
from hydraflow.display.console import TableConsole
from hydraflow.statuses import RunStatus

_STYLES = {RunStatus.FAILED: "red", RunStatus.NOT_RUN: "dim"}
ELLIPSIS = "…"
# A cut word keeps three characters: "fai…" still reads as failed, "fa…" hardly does.
_KEPT = 3
# Titles that are hydraflow's own words, not the user's keys: short, and "…ion" would
# name nothing, so they are never cut.
_WORDS = frozenset({*FIELDS, "count", "ok"})


@dataclass(frozen=True)
class _Column:
    """A column as the fitting sees it: its title, its cells (one per row) and their
    styles; ``whole`` cells are never cut; ``short`` is what the cells become first
    when the terminal is too narrow (the ``dir`` column's short folders)."""

    title: str
    cells: list[str]
    styles: list[str] | None = None
    right: bool = False
    keep_title: bool = False
    whole: bool = False
    short: list[str] | None = None


# A block of the layout: the columns of one table and the width of each.
Block = tuple[list[_Column], list[int]]


def print_runs(
    runs: Sequence[Run],
    shown: Columns,
    out: IO[str],
    *,
    goal: tuple[str, Goal] | None = None,
) -> None:
    """One row per run; the best value of the declared metric (``goal``) in bold green."""
    styles = [_STYLES.get(run.status, "") for run in runs]
    columns = [_field_column(runs, name, styles) for name in shown.leading]
    columns += [
        _Column(
            printable(shown.param_titles[key]),
            [printable(cell(run.params[key])) if key in run.params else "" for run in runs],
        )
        for key in shown.params
    ]
    best = best_value(runs, goal[0], goal[1] == Goal.MINIMIZE) if goal else None
    for metric in shown.metrics:
        values = [run.metrics.get(metric) for run in runs]
        shine = goal is not None and metric == goal[0]
        columns.append(
            _Column(
                printable(shown.metric_titles[metric]),
                [number(value) for value in values],
                ["bold green" if shine and v is not None and v == best else "" for v in values],
                right=True,
            )
        )
    columns += [_field_column(runs, name) for name in shown.trailing]
    # The folder names a run: when the columns wrap, it leads each table.
    key = len(columns) - 1 if "dir" in shown.trailing else None
    _show(columns, len(runs), out, key)


def _field_column(runs: Sequence[Run], name: str, styles: list[str] | None = None) -> _Column:
    cells = [printable(field_text(run, name)) for run in runs]
    if name != "dir":
        return _Column(name, cells, styles, right=name == "duration", keep_title=True)
    # A folder is for copying: whole, or (narrow) its sweep's last characters and the run's
    # number, never cut elsewhere. JSON, CSV and the plain text in a pipe keep it whole.
    short = [printable(text) for text in short_dirs([run.folder for run in runs])]
    return _Column(name, cells, styles, keep_title=True, whole=True, short=short)


def print_rows(rows: Sequence[Sequence[str]], out: IO[str]) -> None:
    """Grouped results: the first row is the header, the first column leads each table
    when the columns wrap."""
    header, *body = rows
    columns = [
        _Column(
            printable(title),
            [printable(row[index]) for row in body],
            keep_title=title in _WORDS,
        )
        for index, title in enumerate(header)
    ]
    _show(columns, len(body), out, 0)


def _show(columns: list[_Column], rows: int, out: IO[str], key: int | None) -> None:
    console = TableConsole(out)
    blocks = layout(columns, console.width, key)
    # Only a terminal too narrow for one number beside the folder gets a wider table
    # (whose lines it wraps): Rich would narrow every column alike, numbers too.
    console.width = max(console.width, *(sum(w) + _frame(len(w)) for _, w in blocks))
    console.show(Group(*(_table(block, rows) for block in blocks)))


def _table(block: Block, rows: int) -> Table:
    columns, widths = block
    table = Table(highlight=False, header_style="bold", padding=(0, 1))
    for column, width in zip(columns, widths, strict=True):
        table.add_column(
            Text(title_at(column.title, width)),
            justify="right" if column.right else "left",
            width=width,
            no_wrap=True,
            overflow="ellipsis",  # only words reach it: every number fits its column
        )
    for row in range(rows):
        table.add_row(
            *(Text(c.cells[row], style=c.styles[row] if c.styles else "") for c in columns)
        )
    return table


def _frame(count: int) -> int:
    """What a table of ``count`` columns takes beside their text: a space either side of
    each (Rich's padding) and a rule after each, plus the first rule."""
    return 3 * count + 1


def layout(columns: list[_Column], width: int, key: int | None = None) -> list[Block]:
    """The tables that show ``columns`` in ``width`` cells: one table with every column
    whole if it fits; else the folders short; else the widest words cut, none below its
    least (``least``); else the columns wrap into tables one under the other, each led
    by column ``key``, and each cuts only the words it must."""
    if sum(map(_natural, columns)) + _frame(len(columns)) > width:
        columns = [c if c.short is None else replace(c, cells=c.short) for c in columns]
    lows, highs = least(columns), [_natural(c) for c in columns]
    blocks = [list(range(len(columns)))]
    if sum(lows) + _frame(len(columns)) > width:
        blocks = _wrap(lows, width, key)
    return [
        (
            [columns[i] for i in block],
            _level([lows[i] for i in block], [highs[i] for i in block], width - _frame(len(block))),
        )
        for block in blocks
    ]


def _wrap(lows: list[int], width: int, key: int | None) -> list[list[int]]:
    """The columns in order, as many to a table as fit at their least, each table led by
    ``key``; a column too wide for any table has one of its own, wider than ``width``."""
    lead = [] if key is None else [key]
    blocks: list[list[int]] = []
    block = list(lead)
    for index in (i for i in range(len(lows)) if i != key):
        wider = [*block, index]
        if len(block) > len(lead) and sum(lows[i] for i in wider) + _frame(len(wider)) > width:
            blocks.append(block)
            block = list(lead)
        block.append(index)
    return [*blocks, block]


def _natural(column: _Column) -> int:
    return max(cell_len(text) for text in [column.title, *column.cells])


def least(columns: list[_Column]) -> list[int]:
    """The narrowest each column may be: its numbers (and ``whole`` cells) whole, its
    words three characters and an ellipsis, its title the end that tells it apart."""
    tails = _tails_needed([column.title for column in columns])
    return [
        max(
            cell_len(c.title) if c.keep_title else _title_least(c.title, tail),
            *(_cell_least(text, c.whole) for text in c.cells),
        )
        for c, tail in zip(columns, tails, strict=True)
    ]


def _cell_least(text: str, whole: bool) -> int:
    return cell_len(text) if whole or is_number(text) else min(cell_len(text), _KEPT + 1)


def is_number(text: str) -> bool:
    """A number, or a group's ``mean ± std``: such a cell is never cut."""
    try:
        for part in text.split(" ± "):
            float(part)
    except ValueError:
        return False
    return True


def _tails_needed(titles: list[str]) -> list[int]:
    """How many of each title's last characters tell it from every other title (more than
    its length where it is the end of another: then only all of it does)."""
    ends = [title[::-1] for title in titles]
    order = sorted(range(len(titles)), key=ends.__getitem__)
    # Sorted by their ends read backwards, a title shares its longest end with a neighbour.
    needed = [1] * len(titles)
    for a, b in itertools.pairwise(order):
        shared = _common_start(ends[a], ends[b]) + 1
        needed[a], needed[b] = max(needed[a], shared), max(needed[b], shared)
    return needed


def _common_start(one: str, other: str) -> int:
    size = 0
    for x, y in zip(one, other, strict=False):
        if x != y:
            break
        size += 1
    return size


def _title_least(title: str, tail: int) -> int:
    kept = max(tail, _KEPT)
    return cell_len(title) if kept >= len(title) else 1 + cell_len(title[-kept:])


def title_at(title: str, width: int) -> str:
    """The title in ``width`` cells: whole, or an ellipsis and as much of its end as fits
    (the end of a key, ``…encoder.layers``, names it better than its start)."""
    if cell_len(title) <= width:
        return title
    start = 0
    while cell_len(title[start:]) > width - 1:
        start += 1
    return ELLIPSIS + title[start:]


def _level(least: list[int], natural: list[int], room: int) -> list[int]:
    """Widths that fit ``room``: the largest cap on every width that fits (none below its
    least), the room the cap leaves spread over the first columns it narrowed."""

    def capped(cap: int) -> list[int]:
        return [max(low, min(high, cap)) for low, high in zip(least, natural, strict=True)]

    low, high = 0, max(natural, default=0)
    while low < high:  # the cap's sum grows with the cap: search it
        middle = (low + high + 1) // 2
        low, high = (middle, high) if sum(capped(middle)) <= room else (low, middle - 1)
    widths = capped(low)
    spare = room - sum(widths)
    for index, width in enumerate(widths):
        if spare > 0 and width == low < natural[index]:
            widths[index] += 1
            spare -= 1
    return widths
