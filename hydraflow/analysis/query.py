"""What ``hydraflow results`` (and the Invoke ``results`` task) were asked for, and the
runs or groups that answer it."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hydraflow.analysis.model import FIELDS, Run, metric_keys, param_keys
from hydraflow.analysis.runs import best_runs
from hydraflow.analysis.table import (
    GROUP_FIELDS,
    Group,
    check_keys,
    group,
    sort,
    sort_groups,
    varying,
    where,
)
from hydraflow.config import Goal
from hydraflow.errors import UsageError


@dataclass(frozen=True)
class Query:
    job: str | None = None
    where: tuple[str, ...] = ()
    sort: str | None = None
    reverse: bool = False
    top: int | None = None
    group_by: tuple[str, ...] = ()
    format: str = "table"  # table, json, csv or md
    all_columns: bool = False
    columns: tuple[str, ...] = ()
    all_attempts: bool = False
    best: bool = False

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
            columns=tuple(values.get("columns") or ()),
            all_attempts=bool(values.get("all_attempts")),
            best=bool(values.get("best")),
        )

    def choose(self, runs: Sequence[Run], goals: Mapping[str, tuple[str, Goal]]) -> list[Run]:
        """The runs that match ``--where``, in the asked order (else best first, by the
        declared goal): every one of them, so that what they vary in (the columns) does
        not depend on ``--top``."""
        chosen = where(runs, self.where) if self.where else list(runs)
        goal = goal_of(chosen, goals)
        if self.sort and not (self.group_by and self.sort in GROUP_FIELDS):
            chosen = sort(chosen, self.sort, reverse=self.reverse)
        elif goal is not None and not self.sort:
            metric, direction = goal
            best_first = direction == Goal.MAXIMIZE
            chosen = sort(chosen, metric, reverse=best_first != self.reverse)
        elif self.reverse:
            chosen.reverse()
        return chosen

    def bests(self, chosen: Sequence[Run], goals: Mapping[str, tuple[str, Goal]]) -> list[Run]:
        """``--best``: the best run, or the best of each group with ``--group-by``."""
        if goal_of(chosen, goals) is None and chosen:
            raise UsageError(
                "--best needs a declared goal: give the job metric: NAME and goal: minimize"
                " (or maximize) in hydraflow.yaml"
            )
        if not self.group_by:
            parts: list[Sequence[Run]] = [chosen]
        else:
            check_keys(chosen, self.group_by, "--group-by")
            by: dict[tuple[str, ...], list[Run]] = {}
            for run in chosen:
                by.setdefault(tuple(map(repr, map(run.value, self.group_by))), []).append(run)
            parts = list(by.values())
        found = [best_runs(part, goals) for part in parts]
        return [run for run in found if run is not None]

    def cut(self, chosen: Sequence[Run]) -> list[Run]:
        return list(chosen[: self.top] if self.top else chosen)

    def groups(self, chosen: Sequence[Run], goals: Mapping[str, tuple[str, Goal]]) -> list[Group]:
        """``--group-by`` over every chosen run; ``--sort`` orders the groups (a metric by
        its mean; by default the declared metric, best first) and ``--top`` keeps the
        first groups, each with all of its runs."""
        groups = group(chosen, self.group_by)
        goal = goal_of(chosen, goals)
        if self.sort:
            groups = sort_groups(groups, self.sort, reverse=self.reverse)
        elif goal is not None:
            metric, direction = goal
            best_first = direction == Goal.MAXIMIZE
            groups = sort_groups(groups, metric, reverse=best_first != self.reverse)
        return groups[: self.top] if self.top else groups

    def shown_params(self, runs: Sequence[Run]) -> list[str]:
        """The parameter columns: those that vary, every one (``--all-columns``), or those
        ``--columns`` names (names or globs, in its order)."""
        if self.columns:
            return _picked(param_keys(runs), self.columns)
        return param_keys(runs) if self.all_columns else varying(runs)

    def shown_metrics(
        self, runs: Sequence[Run], goals: Mapping[str, tuple[str, Goal]]
    ) -> list[str]:
        """The metric columns: the declared metric first, or those ``--columns`` names."""
        metrics = metric_keys(runs)
        if self.columns:
            return _picked(metrics, self.columns)
        goal = goal_of(runs, goals)
        if goal is not None and goal[0] in metrics:
            metrics.remove(goal[0])
            metrics.insert(0, goal[0])
        return metrics

    def shown_fields(self) -> list[str] | None:
        """The fixed fields ``--columns`` names (None: the usual ones)."""
        if not self.columns:
            return None
        return _picked(list(FIELDS), self.columns)

    def check_columns(self, runs: Sequence[Run]) -> None:
        """A ``--columns`` name (not a glob) that no run has is an error with a hint."""
        names = [name for name in self.columns if not _is_glob(name)]
        check_keys(runs, names, "--columns")


def goal_of(runs: Sequence[Run], goals: Mapping[str, tuple[str, Goal]]) -> tuple[str, Goal] | None:
    """The one declared goal of the runs' jobs; None when they have none, or differ."""
    declared = {goals.get(run.job) for run in runs}
    if len(declared) != 1:
        return None
    return next(iter(declared))


def _picked(names: Sequence[str], patterns: Sequence[str]) -> list[str]:
    picked: dict[str, None] = {}
    for pattern in patterns:
        picked.update(dict.fromkeys(n for n in names if fnmatch.fnmatchcase(n, pattern)))
    return list(picked)


def _is_glob(name: str) -> bool:
    return any(char in name for char in "*?[")
