"""Shaping runs into a table: choose (``--where``), order (``--sort``), cut (``--top``),
and summarise (``--group-by``: count, how many are ``ok``, and mean ± std of each metric
over those)."""

from __future__ import annotations

import difflib
import math
import re
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hydraflow.analysis.model import (
    FIELDS,
    METRICS,
    PARAMS,
    Run,
    metric_keys,
    param_keys,
)
from hydraflow.errors import UsageError
from hydraflow.selection import Selection, ValuesSeen
from hydraflow.statuses import RunStatus

# A metric is better low when its name says so; otherwise high is better.
_LOWER_IS_BETTER = re.compile(r"loss|err|mse|mae|rmse|nll|perplexity|cost|time|duration|regret")
GROUP_FIELDS = ("count", "ok")  # what --sort may also name with --group-by
T = TypeVar("T")


@dataclass(frozen=True)
class Group:
    params: dict[str, str]
    count: int
    ok: int  # how many of the count succeeded: the runs the means are over
    metrics: dict[str, tuple[float, float | None]]  # mean, std (None with one run)

    def as_dict(self) -> dict[str, object]:
        return {
            "params": dict(self.params),
            "count": self.count,
            "ok": self.ok,
            "metrics": {k: {"mean": m, "std": s} for k, (m, s) in self.metrics.items()},
        }


def varying(runs: Sequence[Run]) -> list[str]:
    """The parameters whose values differ between the runs (the ones worth a column)."""
    return [k for k in param_keys(runs) if len({run.params.get(k) for run in runs}) > 1]


def value_of(run: Run, key: str) -> object:
    """What a key names in a run: a fixed field, else a parameter, else a metric;
    ``params.KEY`` and ``metrics.KEY`` say which outright. None when it has none."""
    if key.startswith(PARAMS) and key[len(PARAMS) :] in run.params:
        return run.params[key[len(PARAMS) :]]
    if key.startswith(METRICS) and key[len(METRICS) :] in run.metrics:
        return run.metrics[key[len(METRICS) :]]
    if key in FIELDS:
        return {"job": run.job, "status": run.status, "duration": run.duration, "dir": run.dir}[key]
    if key in run.params:
        return run.params[key]
    return run.metrics.get(key)


def known_keys(runs: Sequence[Run]) -> list[str]:
    params, metrics = param_keys(runs), metric_keys(runs)
    prefixed = [f"{PARAMS}{p}" for p in params] + [f"{METRICS}{m}" for m in metrics]
    return [*dict.fromkeys([*params, *metrics, *FIELDS, *prefixed])]


def check_keys(runs: Sequence[Run], wanted: Sequence[str], flag: str) -> None:
    """An unknown key is a usage error naming the nearest one. Without runs no key is
    known yet, and "no runs yet" says all there is to say."""
    if not runs:
        return
    known = known_keys(runs)
    for key in wanted:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            shown = [k for k in known if not k.startswith((PARAMS, METRICS))]
            raise UsageError(f"{flag}: no run has {key!r}{hint}; keys: {', '.join(shown)}")


def where(runs: Sequence[Run], expressions: Sequence[str]) -> list[Run]:
    """Runs whose parameters (or status, job, metrics) match every KEY=PATTERN."""
    selection = Selection.parse(expressions, "--where")
    check_keys(runs, selection.keys, "--where")
    return [run for run in runs if selection.matches(_values(run))]


def unmatched(runs: Sequence[Run], expressions: Sequence[str]) -> str:
    """Why ``--where`` chose none of ``runs``: the values its keys have."""
    selection = Selection.parse(expressions, "--where")
    seen = ValuesSeen(selection)
    for run in runs:
        values = _values(run)
        for key in selection.keys:
            seen.add(key, values.get(key, "(none)"))
    return f"no run matches --where {' '.join(expressions)}: {seen}"


class _Values(Mapping[str, str]):
    """A run's values as ``--where`` matches them, each key named as ``value_of`` names it."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def __getitem__(self, key: str) -> str:
        value = value_of(self.run, key)
        if value is None:
            raise KeyError(key)
        return f"{value:g}" if isinstance(value, float) else str(value)

    def __iter__(self) -> Iterator[str]:
        return iter(known_keys([self.run]))

    def __len__(self) -> int:
        return len(known_keys([self.run]))


def _values(run: Run) -> Mapping[str, str]:
    return _Values(run)


def sort(runs: Sequence[Run], key: str, *, reverse: bool = False) -> list[Run]:
    """Runs ordered by a parameter, metric or field: numbers as numbers, then text; runs
    without the key stay last whichever the direction."""
    check_keys(runs, [key], "--sort")
    return _ordered(runs, lambda run: _run_value(run, key), reverse)


def sort_groups(groups: Sequence[Group], key: str, *, reverse: bool = False) -> list[Group]:
    """Groups ordered by one of their keys, the mean of a metric, ``count`` or ``ok``, as
    ``sort`` orders runs; by anything else (a parameter they are not grouped by) they
    keep their order, which is that of their runs."""
    return _ordered(groups, lambda one: _group_value(one, key), reverse)


def _ordered(items: Sequence[T], value_of: Callable[[T], object], reverse: bool) -> list[T]:
    """Numbers as numbers, then text, then the items without a value (last either way)."""
    numeric: list[tuple[float, T]] = []
    text: list[tuple[str, T]] = []
    missing: list[T] = []
    for item in items:
        raw = value_of(item)
        number = _number(raw)
        if number is not None:
            numeric.append((number, item))
        elif raw is None or raw == "":
            missing.append(item)
        else:
            text.append((str(raw), item))
    numeric.sort(key=lambda pair: pair[0], reverse=reverse)
    text.sort(key=lambda pair: pair[0], reverse=reverse)
    return [item for _, item in numeric] + [item for _, item in text] + missing


def _run_value(run: Run, key: str) -> object:
    return value_of(run, key)


def _group_value(one: Group, key: str) -> object:
    if key in one.params:
        return one.params[key]
    if key in one.metrics:
        return one.metrics[key][0]
    return {"count": one.count, "ok": one.ok}.get(key)  # GROUP_FIELDS


def _number(raw: object) -> float | None:
    try:
        number = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if not math.isnan(number) else None


def group(runs: Sequence[Run], keys: Sequence[str]) -> list[Group]:
    """One group per combination of ``keys``, in order of first appearance."""
    check_keys(runs, keys, "--group-by")
    params, measured = set(param_keys(runs)), set(metric_keys(runs))
    for key in keys:
        bare_metric = key in measured and key not in params and key not in FIELDS
        if bare_metric or (key.startswith(METRICS) and key[len(METRICS) :] in measured):
            raise UsageError(
                f"--group-by: {key!r} is a metric: groups are made by parameters"
                " (or job, status), and each metric is summed up within them"
            )
    groups: dict[tuple[str, ...], list[Run]] = {}
    for run in runs:
        groups.setdefault(tuple(_cell(value_of(run, k)) for k in keys), []).append(run)
    summary = []
    for values, members in groups.items():
        ok = [run for run in members if run.status == RunStatus.OK]
        metrics: dict[str, tuple[float, float | None]] = {}
        for name in metric_keys(ok):
            numbers = [run.metrics[name] for run in ok if name in run.metrics]
            if numbers:
                metrics[name] = mean_and_spread(numbers)
        summary.append(Group(dict(zip(keys, values, strict=True)), len(members), len(ok), metrics))
    return summary


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def mean_and_spread(numbers: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for one number). A nan or an infinity
    makes both nan, as a spreadsheet would show an error; numbers so large that their
    sum or squares overflow are scaled down first."""
    if not all(map(math.isfinite, numbers)):
        return math.nan, math.nan if len(numbers) > 1 else None
    try:
        return _mean_and_spread(numbers, 1.0)
    except OverflowError:
        return _mean_and_spread(numbers, max(abs(x) for x in numbers))


def _mean_and_spread(numbers: Sequence[float], scale: float) -> tuple[float, float | None]:
    scaled = [x / scale for x in numbers]
    spread = statistics.stdev(scaled) * scale if len(numbers) > 1 else None
    return statistics.fmean(scaled) * scale, spread


def lower_is_better(metric: str) -> bool:
    return bool(_LOWER_IS_BETTER.search(metric.lower()))


def best(runs: Sequence[Run], metric: str) -> float | None:
    """The best value of a metric among the ``ok`` runs."""
    values = [r.metrics[metric] for r in runs if r.status == RunStatus.OK and metric in r.metrics]
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return None
    return min(values) if lower_is_better(metric) else max(values)


@dataclass(frozen=True)
class Query:
    """What ``hydraflow results`` (and the Invoke ``results`` task) were asked for."""

    job: str | None = None
    where: tuple[str, ...] = ()
    sort: str | None = None
    reverse: bool = False
    top: int | None = None
    group_by: tuple[str, ...] = ()
    format: str = "table"  # table, json, csv or md
    all_columns: bool = False

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Query:
        """From ``flags.RESULTS.parse``: the values of the results flags, checked."""
        formats = [name for name in ("json", "csv", "md") if values.get(name)]
        return cls(
            job=values.get("job") or None,
            where=tuple(values.get("where") or ()),
            sort=values.get("sort") or None,
            reverse=bool(values.get("reverse")),
            top=values.get("top"),
            group_by=tuple(values.get("group_by") or ()),
            format=formats[0] if formats else "table",
            all_columns=bool(values.get("all_columns")),
        )

    def choose(self, runs: Sequence[Run]) -> list[Run]:
        """The runs that match ``--where``, in the asked order: every one of them, so that
        what they vary in (the columns) does not depend on ``--top``."""
        chosen = where(runs, self.where) if self.where else list(runs)
        if self.sort and not (self.group_by and self.sort in GROUP_FIELDS):
            chosen = sort(chosen, self.sort, reverse=self.reverse)
        elif self.reverse:
            chosen.reverse()
        return chosen

    def cut(self, chosen: Sequence[Run]) -> list[Run]:
        return list(chosen[: self.top] if self.top else chosen)

    def groups(self, chosen: Sequence[Run]) -> list[Group]:
        """``--group-by`` over every chosen run; ``--sort`` orders the groups (a metric by
        its mean) and ``--top`` keeps the first groups, each with all of its runs."""
        groups = group(chosen, self.group_by)
        if self.sort:
            groups = sort_groups(groups, self.sort, reverse=self.reverse)
        return groups[: self.top] if self.top else groups
