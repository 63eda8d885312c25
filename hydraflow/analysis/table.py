"""Shaping runs into a table: choose (``--where``), order (``--sort``), and summarise
(``--group-by``: count, how many are ``ok``, and mean ± std of each metric over those).
Values are typed: numbers compare and sort as numbers, whatever their spelling."""

from __future__ import annotations

import datetime
import difflib
import math
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
from hydraflow.typed import number_of, same_key, text_of

GROUP_FIELDS = ("count", "ok")  # what --sort may also name with --group-by
T = TypeVar("T")


@dataclass(frozen=True)
class Group:
    params: dict[str, Any]
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
    return [
        key
        for key in param_keys(runs)
        if len({same_key(run.params.get(key, _NONE)) for run in runs}) > 1
    ]


_NONE = object()  # a key a run does not have, unlike any value it may have


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


class _Values(Mapping[str, Any]):
    """A run's values as ``--where`` matches them, each key named as ``Run.value`` names it."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def __getitem__(self, key: str) -> Any:
        if not self.run.has(key):
            raise KeyError(key)
        value = self.run.value(key)
        return value.isoformat() if isinstance(value, datetime.datetime) else value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.run.has(key) and self.run.value(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(known_keys([self.run]))

    def __len__(self) -> int:
        return len(known_keys([self.run]))


def _values(run: Run) -> Mapping[str, Any]:
    return _Values(run)


def sort(runs: Sequence[Run], key: str, *, reverse: bool = False) -> list[Run]:
    """Runs ordered by a parameter, metric or field: numbers as numbers, then text; runs
    without the key stay last whichever the direction."""
    check_keys(runs, [key], "--sort")
    return ordered(runs, lambda run: run.value(key), reverse)


def sort_groups(groups: Sequence[Group], key: str, *, reverse: bool = False) -> list[Group]:
    """Groups ordered by one of their keys, the mean of a metric, ``count`` or ``ok``, as
    ``sort`` orders runs; by anything else (a parameter they are not grouped by) they
    keep their order, which is that of their runs."""
    return ordered(groups, lambda one: _group_value(one, key), reverse)


def ordered(items: Sequence[T], value_of: Callable[[T], object], reverse: bool) -> list[T]:
    """Numbers as numbers (times as times), then text, then the items without a value
    (last either way)."""
    numeric: list[tuple[float, T]] = []
    text: list[tuple[str, T]] = []
    missing: list[T] = []
    for item in items:
        raw = value_of(item)
        number = raw.timestamp() if isinstance(raw, datetime.datetime) else number_of(raw)
        if number is not None:
            numeric.append((number, item))
        elif raw is None or raw == "":
            missing.append(item)
        else:
            text.append((text_of(raw), item))
    numeric.sort(key=lambda pair: pair[0], reverse=reverse)
    text.sort(key=lambda pair: pair[0], reverse=reverse)
    return [item for _, item in numeric] + [item for _, item in text] + missing


def _group_value(one: Group, key: str) -> object:
    if key in one.params:
        return one.params[key]
    if key in one.metrics:
        return one.metrics[key][0]
    return {"count": one.count, "ok": one.ok}.get(key)  # GROUP_FIELDS


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
    groups: dict[tuple[Any, ...], tuple[tuple[Any, ...], list[Run]]] = {}
    for run in runs:
        values = tuple(run.value(key) for key in keys)
        groups.setdefault(tuple(map(same_key, values)), (values, []))[1].append(run)
    summary = []
    for values, members in groups.values():
        ok = [run for run in members if run.status == RunStatus.OK]
        metrics: dict[str, tuple[float, float | None]] = {}
        for name in metric_keys(ok):
            numbers = [run.metrics[name] for run in ok if name in run.metrics]
            if numbers:
                metrics[name] = mean_and_spread(numbers)
        summary.append(Group(dict(zip(keys, values, strict=True)), len(members), len(ok), metrics))
    return summary


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


def best_value(runs: Sequence[Run], metric: str, minimize: bool) -> float | None:
    """The best value of a metric among the ``ok`` runs, in the declared direction."""
    values = [r.metrics[metric] for r in runs if r.status == RunStatus.OK and metric in r.metrics]
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return None
    return min(values) if minimize else max(values)
