"""The results as text: JSON, CSV and Markdown for other programs, and the columns shared
with the table on a terminal. No Rich here; every format is parsed back by the tests."""

from __future__ import annotations

import csv
import datetime
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hydraflow.analysis.model import Run, cell, titles
from hydraflow.analysis.table import Group


def number(value: float | None, exact: bool = False) -> str:
    """A metric as a cell: six significant digits for people, every digit (``repr``, which
    reads back as the same float) when ``exact``, and nothing for a missing value."""
    if value is None:
        return ""
    if exact or not math.isfinite(value):
        return repr(value)
    return f"{value:.6g}"


def seconds(value: float | None, exact: bool = False) -> str:
    if value is None:
        return ""
    if exact:
        return repr(value)
    # A run of a few milliseconds is not "0.0": two significant digits below a second.
    return f"{value:.2g}" if value < 1 else f"{value:.1f}"


LEADING, TRAILING = ("job", "status"), ("started", "duration", "dir")


@dataclass(frozen=True)
class Columns:
    """What a table of runs shows: fixed fields (job, status; started, duration, dir),
    parameters and metrics, and the title of each parameter and metric: its name, or
    ``params.NAME``/``metrics.NAME`` where the name is taken twice."""

    params: list[str]
    metrics: list[str]
    param_titles: dict[str, str]
    metric_titles: dict[str, str]
    fields: tuple[str, ...] = ("status", *TRAILING)

    @property
    def leading(self) -> list[str]:
        return [f for f in LEADING if f in self.fields]

    @property
    def trailing(self) -> list[str]:
        return [f for f in TRAILING if f in self.fields]

    @property
    def header(self) -> list[str]:
        return [
            *self.leading,
            *(self.param_titles[p] for p in self.params),
            *(self.metric_titles[m] for m in self.metrics),
            *self.trailing,
        ]


def columns(
    runs: Sequence[Run],
    params: list[str],
    metrics: list[str],
    fields: Sequence[str] | None = None,
) -> Columns:
    """The columns of a table of ``runs``: the job too when they come from several jobs."""
    if fields is None:
        fields = ["job"] if several_jobs(runs) else []
        fields += ["status", *TRAILING]
    return Columns(params, metrics, *titles(runs), tuple(fields))


def several_jobs(runs: Sequence[Run]) -> bool:
    """Whether the runs come from more than one job: then each row names its job."""
    return len({run.job for run in runs}) > 1


def started_text(moment: datetime.datetime | None, exact: bool = False) -> str:
    """When a run started: ISO 8601 for programs, ``12-05 14:03`` for people."""
    if moment is None:
        return ""
    return moment.isoformat(timespec="seconds") if exact else moment.strftime("%m-%d %H:%M")


def field_text(run: Run, name: str, exact: bool = False) -> str:
    if name == "started":
        return started_text(run.started, exact)
    if name == "duration":
        return seconds(run.duration, exact)
    if name == "dir":
        return run.folder
    return str(run.field(name))


# A sweep folder's name is a ULID, whose first characters are its time (alike within a
# day) and whose last are random: its tail is what tells two batches apart.
SHORT_TAIL = 5


def short_dirs(folders: Sequence[str]) -> list[str]:
    """Run folders as a narrow terminal shows them: the run's number whole after the
    last characters of its sweep folder (``…7PNDT/0``). The sweep folder keeps
    ``SHORT_TAIL`` characters, more where two of ``folders`` would read alike, all
    of them where nothing else tells them apart; an empty folder stays empty."""
    distinct = set(folders)
    longest = max((len(folder) for folder in distinct), default=0)
    for keep in range(SHORT_TAIL, longest + 1):
        shown = [_short_dir(folder, keep) for folder in folders]
        if len(set(shown)) == len(distinct):
            return shown
    return list(folders)


def _short_dir(folder: str, keep: int) -> str:
    """``folder`` with its run's number whole and ``keep`` characters before it."""
    sweep, slash, number = folder.rpartition("/")
    if len(sweep) <= keep:
        return folder
    short = f"…{sweep[-keep:]}{slash}{number}"
    return short if len(short) < len(folder) else folder


def run_rows(runs: Sequence[Run], shown: Columns, *, exact: bool = False) -> list[list[str]]:
    """The header and one row per run: numbers with every digit when ``exact`` (for CSV,
    which programs read back)."""
    rows = [shown.header]
    for run in runs:
        rows.append(
            [
                *(field_text(run, name, exact) for name in shown.leading),
                *(cell(run.params[p]) if p in run.params else "" for p in shown.params),
                *(number(run.metrics.get(m), exact) for m in shown.metrics),
                *(field_text(run, name, exact) for name in shown.trailing),
            ]
        )
    return rows


def group_rows(
    groups: Sequence[Group], keys: Sequence[str], *, exact: bool = False
) -> list[list[str]]:
    """The header and one row per group: its parameters, count, how many are ok, and mean ± std
    of each metric; ``exact`` (for CSV) gives every digit, the mean and std in columns of
    their own (``loss.mean``, ``loss.std``) so that each cell reads back as a number."""
    names: dict[str, None] = {}
    for g in groups:
        names.update(dict.fromkeys(g.metrics))
    columns = [f"{n}.{part}" for n in names for part in ("mean", "std")] if exact else names
    rows = [[*keys, "count", "ok", *columns]]
    for g in groups:
        cells: list[str] = []
        for name in names:
            mean, std = g.metrics.get(name, (None, None))
            shown_mean = "" if mean is None else number(mean, exact)
            shown_std = "" if std is None else number(std, exact)
            if exact:
                cells += [shown_mean, shown_std]
            else:
                cells.append(shown_mean + (f" ± {shown_std}" if shown_mean and shown_std else ""))
        rows.append([*(cell(g.params[k]) for k in keys), str(g.count), str(g.ok), *cells])
    return rows


def as_json(
    runs: Sequence[Run] | None = None,
    groups: Sequence[Group] | None = None,
    shown: Columns | None = None,
) -> str:
    """Strict JSON: a non-finite number is ``null``, since ``NaN`` and ``Infinity`` are not
    JSON and other programs' parsers refuse them. ``shown`` (``--columns``) keeps only
    the parameters and metrics it names."""
    if groups is not None:
        items = [g.as_dict() for g in groups]
    else:
        items = [_only(run.as_dict(), shown) for run in runs or []]
    return json.dumps(_finite(items), indent=2, allow_nan=False, default=str) + "\n"


def _only(item: dict[str, Any], shown: Columns | None) -> dict[str, Any]:
    if shown is None:
        return item
    params, metrics = item["params"], item["metrics"]
    item["params"] = {key: params[key] for key in shown.params if key in params}
    item["metrics"] = {key: metrics[key] for key in shown.metrics if key in metrics}
    return item


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def as_csv(rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def as_markdown(rows: Sequence[Sequence[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    header, *body = rows
    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in body]
    return "\n".join(lines) + "\n"


def printable(text: str) -> str:
    """Control characters (line breaks, ESC, BEL, …) shown as escapes, not obeyed: a key
    with a line break must not split a row, nor a label move the cursor."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def as_text(rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns for a pipe: every cell whole, on one line, nothing folded."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in rows
    )
