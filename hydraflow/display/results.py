"""The results table on a terminal: the best value of each metric stands out, failed runs
are red and runs that never started are dim. Cells are data, never markup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from hydraflow.analysis.formats import Columns, number, printable, seconds
from hydraflow.analysis.model import Run
from hydraflow.analysis.table import best
from hydraflow.statuses import RunStatus


def print_runs(
    runs: Sequence[Run],
    shown: Columns,
    out: IO[str],
    *,
    job: bool = False,
) -> None:
    """One row per run; its job first when ``job`` (the runs come from several)."""
    from rich.table import Table
    from rich.text import Text

    from hydraflow.display.console import TableConsole

    table = Table(highlight=False, header_style="bold")
    params, metrics = shown.params, shown.metrics
    for title in (*(["job"] if job else []), "status", *(shown.param_titles[p] for p in params)):
        table.add_column(printable(title))
    for title in (*(shown.metric_titles[m] for m in metrics), "duration"):
        table.add_column(printable(title), justify="right")
    # Folded, not cut with an ellipsis: a folder is for copying, so it must stay whole.
    table.add_column("dir", overflow="fold")
    bests = {m: best(runs, m) for m in metrics}
    for run in runs:
        style = {RunStatus.FAILED: "red", RunStatus.NOT_RUN: "dim"}.get(run.status, "")
        cells = [Text(run.job)] if job else []
        cells += [
            Text(run.status, style=style),
            *(Text(printable(run.params.get(p, ""))) for p in params),
        ]
        for metric in metrics:
            value = run.metrics.get(metric)
            shine = value is not None and value == bests[metric]
            cells.append(Text(number(value), style="bold green" if shine else ""))
        cells.append(Text("" if run.duration is None else f"{seconds(run.duration)}s"))
        cells.append(Text(run.dir or ""))
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
