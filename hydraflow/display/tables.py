"""Tables for the read-only commands (``status``, ``list``): Rich on a terminal, and
plain aligned text in a pipe. Every cell is data, never markup."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import IO

from hydraflow.report import log_text
from hydraflow.status import STATES, JobStatus

# Columns always shown; the others only when some row has them.
_ALWAYS = ("ok", "failed", "never run", "stale")
_TITLES = {"timeout": "timed out"}


def safe(text: str) -> str:
    """Control characters (ESC, BEL, …) of labels from a ledger shown, not obeyed."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], out: IO[str], right: Sequence[int] = ()
) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, highlight=False)
    for number, header in enumerate(headers):
        table.add_column(header, justify="right" if number in right else "left")
    for row in rows:
        table.add_row(*(Text(safe(cell)) for cell in row))
    Console(file=out, highlight=False, markup=False, emoji=False).print(table)


def print_status(report: Sequence[JobStatus], out: IO[str], *, failed: bool) -> None:
    shown = [s for s in STATES if s in _ALWAYS or any(r.counts[s] for r in report)]
    headers = ["job", "batches", *(_TITLES.get(s, s) for s in shown)]
    rows = [[r.name, str(r.batches), *(str(r.counts[s]) for s in shown)] for r in report]
    print_table(headers, rows, out, right=range(1, len(headers)))
    if not failed:
        return
    for entry in report:
        if not entry.failed:
            continue
        out.write(f"\n{safe(entry.name)}: batches that did not succeed\n")
        for failure in entry.failed:
            code = "" if failure.exit_code is None else f" (exit {failure.exit_code})"
            out.write(f"✗ {safe(failure.batch)}: {failure.status}{code}\n")
            out.write(f"  log: {safe(log_text(failure.log))}\n")
    out.flush()


def print_status_json(report: Sequence[JobStatus], out: IO[str]) -> None:
    jobs = [{"name": r.name, **asdict(r)} for r in report]
    json.dump({"jobs": jobs}, out, indent=2)
    out.write("\n")
