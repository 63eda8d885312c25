"""The results table on a terminal: the best value of the declared metric stands out,
failed runs are red and runs that never started are dim. Cells are data, never markup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from hydraflow.analysis.formats import Columns, field_text, number, printable
from hydraflow.analysis.model import Run, cell
from hydraflow.analysis.table import best_value
from hydraflow.config import Goal
from hydraflow.statuses import RunStatus

_STYLES = {RunStatus.FAILED: "red", RunStatus.NOT_RUN: "dim"}


def print_runs(
    runs: Sequence[Run],
    shown: Columns,
    out: IO[str],
    *,
    goal: tuple[str, Goal] | None = None,
) -> None:
    """One row per run; the best value of the declared metric (``goal``) in bold green."""
    from rich.table import Table
    from rich.text import Text

    from hydraflow.display.console import TableConsole

    table = Table(highlight=False, header_style="bold")
    for name in shown.leading:
        table.add_column(name)
    for key in shown.params:
        table.add_column(printable(shown.param_titles[key]))
    for key in shown.metrics:
        table.add_column(printable(shown.metric_titles[key]), justify="right")
    for name in shown.trailing:
        # Folded, not cut with an ellipsis: a folder is for copying, so it must stay whole.
        table.add_column(name, justify="right" if name == "duration" else "left",
                         overflow="fold" if name == "dir" else "ellipsis")  # fmt: skip
    best = best_value(runs, goal[0], goal[1] == Goal.MINIMIZE) if goal else None
    for run in runs:
        style = _STYLES.get(run.status, "")
        cells = [Text(printable(field_text(run, name)), style=style) for name in shown.leading]
        cells += [
            Text(printable(cell(run.params[p]) if p in run.params else "")) for p in shown.params
        ]
        for metric in shown.metrics:
            value = run.metrics.get(metric)
            shine = goal is not None and metric == goal[0] and value is not None and value == best
            cells.append(Text(number(value), style="bold green" if shine else ""))
        cells += [Text(printable(field_text(run, name))) for name in shown.trailing]
        table.add_row(*cells)
    TableConsole(out).show(table)


def print_rows(rows: Sequence[Sequence[str]], out: IO[str]) -> None:
    """Grouped results: the first row is the header."""
    from rich.table import Table
    from rich.text import Text

    from hydraflow.display.console import TableConsole

    header, *body = rows
    table = Table(highlight=False, header_style="bold")
    for title in header:
        table.add_column(printable(title))
    for row in body:
        table.add_row(*(Text(printable(cell)) for cell in row))
    TableConsole(out).show(table)
