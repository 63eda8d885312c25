"""Tables for the read-only commands (``status``, ``list``): Rich on a terminal, and
plain aligned text in a pipe. Every cell is data, never markup."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import IO, Any

from hydraflow.analysis.formats import printable as safe
from hydraflow.reporting import log_text, recorded_text
from hydraflow.status import STATES, JobStatus
from hydraflow.statuses import BatchStatus

# Columns always shown; the others only when some row has them.
_ALWAYS = (BatchStatus.OK, BatchStatus.FAILED, BatchStatus.NEVER_RUN, BatchStatus.STALE)
_TITLES = {BatchStatus.TIMEOUT: "timed out"}


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], out: IO[str], right: Sequence[int] = ()
) -> None:
    from hydraflow.display.console import TableConsole

    table = _rich_table(headers, rows, right)
    TableConsole(out).show(table)


def _rich_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()
) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, highlight=False)
    for number, header in enumerate(headers):
        table.add_column(header, justify="right" if number in right else "left")
    for row in rows:
        table.add_row(*(Text(safe(cell)) for cell in row))
    return table


def status_rows(report: Sequence[JobStatus]) -> tuple[list[str], list[list[str]]]:
    shown = [s for s in STATES if s in _ALWAYS or any(r.counts[s] for r in report)]
    headers = ["job", "batches", *(_TITLES.get(s, s) for s in shown)]
    rows = [[r.name, str(r.batches), *(str(r.counts[s]) for s in shown)] for r in report]
    return headers, rows


def print_status(report: Sequence[JobStatus], out: IO[str], *, failed: bool) -> None:
    headers, rows = status_rows(report)
    print_table(headers, rows, out, right=range(1, len(headers)))
    studies = [line for entry in report for line in entry.studies]
    if studies:
        out.write("\n" + "".join(f"study {safe(line)}\n" for line in studies))
    if not failed:
        return
    if not any(entry.failed for entry in report):
        out.write("\nno batch failed\n")
    for entry in report:
        if not entry.failed:
            continue
        out.write(f"\n{safe(entry.name)}: batches that did not succeed\n")
        for failure in entry.failed:
            state = recorded_text(failure.status, failure.exit_code)
            out.write(f"✗ {safe(failure.batch)}: {state}\n")
            out.write(f"  log: {safe(log_text(failure.log))}\n")
    out.flush()


def watch_status(
    report_of: Callable[[], Sequence[JobStatus]], out: IO[str], every: float = 2.0
) -> None:
    """Redraw the status until no batch is queued or running (Ctrl-C stops it sooner).
    In a pipe, the table is printed again only when it changes."""
    import time

    from rich.live import Live

    from hydraflow.display.console import TableConsole

    console = TableConsole(out)
    # Asked of the stream itself: under FORCE_COLOR Rich takes a pipe for a terminal, and
    # a pipe would get cursor codes.
    live = None if console.piped else Live(console=console, auto_refresh=False)
    shown = None
    with live or contextlib.nullcontext():
        while True:
            report = report_of()
            headers, rows = status_rows(report)
            if live is not None:
                right = range(1, len(headers))
                live.update(_rich_table(headers, rows, right), refresh=True)
            elif rows != shown:
                print_table(headers, rows, out, right=range(1, len(headers)))
                out.write("\n")
                out.flush()
            shown = rows
            if not any(r.counts[s] for r in report for s in STATES if s.live):
                return
            time.sleep(every)


def print_status_json(report: Sequence[JobStatus], out: IO[str]) -> None:
    jobs = [{"name": r.name, **asdict(r)} for r in report]
    json.dump({"jobs": jobs}, out, indent=2)
    out.write("\n")
