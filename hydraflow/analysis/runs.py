"""``Runs``: the runs of a sweep as a collection to ask questions of, as one would of a
data frame: filter, sort, group, aggregate, pick the best, hand over to pandas or
polars. Every method returns a new collection; none changes the one it is called on.

>>> runs = hydraflow.results("train")
>>> runs.filter(model="small", seed=(0, 1)).sort("loss").first()
>>> runs.group_by("model").agg(loss="mean")
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

from hydraflow.analysis.model import Run, metric_keys, param_keys, titles
from hydraflow.config import Goal
from hydraflow.statuses import RunStatus
from hydraflow.typed import number_of, same_key

Condition = Any  # a value, a list of values, a (low, high) pair, or a predicate
AGGREGATES: dict[str, Callable[[list[Any]], Any]] = {
    "count": len,
    "mean": lambda v: _numeric(v, statistics.fmean),
    "median": lambda v: _numeric(v, statistics.median),
    "std": lambda v: _numeric(v, statistics.stdev, at_least=2),
    "min": lambda v: _numeric(v, min),
    "max": lambda v: _numeric(v, max),
    "sum": lambda v: _numeric(v, math.fsum),
    "first": lambda v: v[0] if v else None,
    "last": lambda v: v[-1] if v else None,
}


class Runs(Sequence[Run]):
    """Runs in the order they were found (job, sweep, run number) or as sorted, with the
    files that could not be read (``problems``, a line each) and each job's declared goal
    (``goals``: job → (metric, minimize or maximize))."""

    def __init__(
        self,
        runs: Iterable[Run] = (),
        *,
        problems: Sequence[str] = (),
        goals: Mapping[str, tuple[str, Goal]] | None = None,
    ) -> None:
        self._runs = list(runs)
        self.problems = list(problems)
        self.goals = dict(goals or {})

    def _like(self, runs: Iterable[Run]) -> Runs:
        return Runs(runs, problems=self.problems, goals=self.goals)

    @overload
    def __getitem__(self, index: int) -> Run: ...
    @overload
    def __getitem__(self, index: slice) -> Runs: ...
    def __getitem__(self, index: int | slice) -> Run | Runs:
        if isinstance(index, slice):
            return self._like(self._runs[index])
        return self._runs[index]

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[Run]:
        return iter(self._runs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        jobs = sorted({run.job for run in self._runs})
        return f"<Runs: {len(self)} of {', '.join(jobs) or 'no job'}>"

    # -- choosing ----------------------------------------------------------------------

    def filter(
        self,
        predicate: Callable[[Run], bool] | Mapping[str, Condition] | None = None,
        /,
        **conditions: Condition,
    ) -> Runs:
        """The runs for which every condition holds. A condition on a key (``seed=0``;
        a dotted key as ``optimizer__lr=0.1`` or in a mapping, ``{"optimizer.lr": 0.1}``)
        is a value (numbers equal as numbers), a list of values (any of them), a
        ``(low, high)`` pair (between, inclusive; None leaves a side open) or a function
        of the value; a function of the run is a condition on the whole run."""
        test = _test(predicate, conditions, self._runs)
        return self._like(run for run in self._runs if test(run))

    def exclude(
        self,
        predicate: Callable[[Run], bool] | Mapping[str, Condition] | None = None,
        /,
        **conditions: Condition,
    ) -> Runs:
        """The runs ``filter`` would leave out."""
        test = _test(predicate, conditions, self._runs)
        return self._like(run for run in self._runs if not test(run))

    def sort(self, key: str | Callable[[Run], Any], *, reverse: bool = False) -> Runs:
        """Ordered by a key (numbers as numbers, then text) or a function of the run; runs
        without the key stay last either way."""
        from hydraflow.analysis.table import ordered

        if not callable(key):
            _known(self._runs, [key])
        value_of = key if callable(key) else (lambda run: run.value(key))
        return self._like(ordered(self._runs, value_of, reverse))

    def one(self) -> Run:
        """The one run there is; an error when there are none or several."""
        if len(self._runs) != 1:
            raise LookupError(f"expected one run, found {len(self._runs)}")
        return self._runs[0]

    def first(self) -> Run | None:
        return self._runs[0] if self._runs else None

    def best(self) -> Run:
        """The run with the best value of its job's declared metric (``metric:`` and
        ``goal:`` in hydraflow.yaml), among those that succeeded."""
        chosen = best_runs(self._runs, self.goals)
        if chosen is None:
            jobs = sorted({run.job for run in self._runs})
            declared = [job for job in jobs if job in self.goals]
            why = (
                f"no run that succeeded has {self.goals[declared[0]][0]!r}"
                if declared
                else f"{', '.join(jobs) or 'these runs'} declare no metric and goal"
                " (metric: loss and goal: minimize in hydraflow.yaml)"
            )
            raise LookupError(f"no best run: {why}")
        return chosen

    # -- summing up --------------------------------------------------------------------

    def group_by(self, *keys: str) -> Groups:
        """The runs by their values of ``keys``: one key gives each group by its value,
        several by a tuple of values."""
        if not keys:
            raise TypeError("group_by needs at least one key")
        groups: dict[Any, tuple[Any, list[Run]]] = {}
        for run in self._runs:
            values = tuple(run.value(key) for key in keys)
            same = tuple(map(same_key, values))
            groups.setdefault(same, (values, []))[1].append(run)
        named = {(v[0] if len(keys) == 1 else v): self._like(r) for v, r in groups.values()}
        return Groups(keys, named)

    def agg(self, **named: str | tuple[str, str | Callable[[list[Any]], Any]]) -> dict[str, Any]:
        """Named summaries over the runs: ``loss="mean"`` is the mean of ``loss``;
        ``worst=("loss", "max")`` names another key; a function of the list of values
        may stand for the name (count, mean, median, std, min, max, sum, first, last)."""
        summary = {}
        for name, how in named.items():
            key, function = (name, how) if isinstance(how, str) else how
            apply = AGGREGATES.get(function) if isinstance(function, str) else function
            if apply is None:
                raise ValueError(f"unknown aggregate {function!r}; one of {', '.join(AGGREGATES)}")
            values = [run.value(key) for run in self._runs if run.has(key)]
            summary[name] = apply([v for v in values if v is not None])
        return summary

    # -- handing over ------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """One flat mapping per run: job, status, parameters, metrics, started, duration,
        dir (absolute); a name shared by a parameter and a metric is prefixed."""
        params, metrics = titles(self._runs)
        return [
            {
                "job": run.job,
                "status": str(run.status),
                **{params[key]: value for key, value in run.params.items()},
                **{metrics[key]: value for key, value in run.metrics.items()},
                "started": run.started,
                "duration": run.duration,
                "dir": str(run.dir) if run.dir is not None else None,
            }
            for run in self._runs
        ]

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one row per run (``pip install 'hydraflow[frames]'``)."""
        pandas = _optional("pandas", "to_pandas")
        frame = pandas.DataFrame(self.rows(), columns=self._columns())
        if "started" in frame:
            frame["started"] = pandas.to_datetime(frame["started"], utc=True)
        return frame

    def to_polars(self) -> Any:
        """A polars DataFrame, one row per run (``pip install 'hydraflow[frames]'``); a
        column of mixed values is kept as text."""
        polars = _optional("polars", "to_polars")
        rows = self.rows()
        columns = self._columns()
        data = {name: [row.get(name) for row in rows] for name in columns}
        series = []
        for name, values in data.items():
            try:
                series.append(polars.Series(name, values, strict=True))
            except (TypeError, ValueError, OverflowError, polars.exceptions.PolarsError):
                shown = [None if v is None else str(v) for v in values]
                series.append(polars.Series(name, shown))
        return polars.DataFrame(series)

    def _columns(self) -> list[str]:
        params, metrics = titles(self._runs)
        return ["job", "status", *params.values(), *metrics.values(), "started", "duration", "dir"]

    def plot(
        self,
        x: str,
        y: str,
        hue: str | None = None,
        kind: str = "line",
        ax: Any = None,
        *,
        z: str | None = None,
        agg: str = "mean",
        logx: bool | None = None,
        logy: bool = False,
    ) -> Any:
        """The runs drawn on a matplotlib Axes (``ax``, else a new figure's), which it
        returns: ``y`` against ``x``, a line per ``hue`` value with the ``agg`` (mean,
        median, min, max) ± std of the runs that share x; ``kind="scatter"``, every run;
        ``kind="heatmap"``, ``z`` over ``x`` and ``y``. As ``hydraflow plot`` draws them
        (``pip install 'hydraflow[plot]'``); a key no run has is a ValueError."""
        from hydraflow.analysis.figure import draw, require
        from hydraflow.analysis.plots import PlotRequest
        from hydraflow.analysis.series import prepare
        from hydraflow.errors import HydraflowError

        require("Runs.plot()")
        request = PlotRequest(x, y, z, hue, kind, agg, logx, logy)
        try:
            made = prepare(self._runs, request, self.goals)
        except HydraflowError as error:
            raise ValueError(str(error)) from None
        if ax is None:
            from matplotlib import pyplot

            _, ax = pyplot.subplots()
        return draw(made, ax)

    def param_keys(self) -> list[str]:
        return param_keys(self._runs)

    def metric_keys(self) -> list[str]:
        return metric_keys(self._runs)


class Groups(Mapping[Any, Runs]):
    """``Runs.group_by``: each group's value (or tuple of values) to its runs."""

    def __init__(self, keys: Sequence[str], groups: Mapping[Any, Runs]) -> None:
        self.keys_by = tuple(keys)
        self._groups: dict[Any, Runs] = dict(groups)

    def __repr__(self) -> str:
        shown = ", ".join(f"{value!r}: {len(runs)} runs" for value, runs in self._groups.items())
        return f"<Groups by {', '.join(self.keys_by)}: {shown}>"

    def __getitem__(self, value: Any) -> Runs:
        for known, runs in self._groups.items():
            if bool(known == value) or (
                not isinstance(known, tuple) and same_key(known) == same_key(value)
            ):
                return runs
        raise KeyError(value)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._groups)

    def __len__(self) -> int:
        return len(self._groups)

    def agg(
        self, **named: str | tuple[str, str | Callable[[list[Any]], Any]]
    ) -> list[dict[str, Any]]:
        """A row per group: its keys' values, then ``Runs.agg`` of its runs."""
        rows = []
        for value, runs in self._groups.items():
            values = value if len(self.keys_by) > 1 else (value,)
            rows.append({**dict(zip(self.keys_by, values, strict=True)), **runs.agg(**named)})
        return rows

    def best(self) -> dict[Any, Run]:
        """The best run of each group (see ``Runs.best``)."""
        return {value: runs.best() for value, runs in self._groups.items()}


def best_runs(runs: Sequence[Run], goals: Mapping[str, tuple[str, Goal]]) -> Run | None:
    """The best of the runs that succeeded, by their jobs' declared metric and goal; None
    without one (or when the jobs declare different ones)."""
    declared = {goals.get(run.job) for run in runs}
    if len(declared) != 1 or None in declared:
        return None
    metric, goal = next(iter(declared))  # type: ignore[misc]
    scored = [
        (value, run)
        for run in runs
        if run.status == RunStatus.OK and (value := number_of(run.metrics.get(metric))) is not None
    ]
    if not scored:
        return None
    pick = min if goal == Goal.MINIMIZE else max
    return pick(scored, key=lambda pair: pair[0])[1]


def _known(runs: Sequence[Run], keys: Sequence[str]) -> None:
    """A key no run has is a misspelling, not an empty answer: KeyError with the nearest
    one (as ``--where`` says it). Without runs no key is known, and none is wrong."""
    from hydraflow.analysis.table import known_keys
    from hydraflow.errors import did_you_mean

    if not runs:
        return
    known = known_keys(runs)
    for key in keys:
        if key not in known:
            raise KeyError(f"no run has {key!r}{did_you_mean(key, known)}")


def _test(
    predicate: Callable[[Run], bool] | Mapping[str, Condition] | None,
    conditions: Mapping[str, Condition],
    runs: Sequence[Run],
) -> Callable[[Run], bool]:
    wanted = {key.replace("__", "."): value for key, value in conditions.items()}
    if isinstance(predicate, Mapping):
        wanted.update(predicate)
        predicate = None
    _known(runs, list(wanted))
    checks = [(key, _condition(value)) for key, value in wanted.items()]

    def test(run: Run) -> bool:
        if predicate is not None and not predicate(run):
            return False
        return all(run.has(key) and holds(run.value(key)) for key, holds in checks)

    return test


def _condition(wanted: Condition) -> Callable[[Any], bool]:
    if callable(wanted):
        return lambda value: bool(wanted(value))
    if isinstance(wanted, tuple) and len(wanted) == 2:
        low, high = wanted
        return lambda value: _between(value, low, high)
    if isinstance(wanted, list | set | frozenset | tuple):
        tests = [_condition(item) for item in wanted]
        return lambda value: any(test(value) for test in tests)
    return lambda value: _same(value, wanted)


def _same(value: Any, wanted: Any) -> bool:
    if isinstance(value, bool) or isinstance(wanted, bool):
        return value is wanted or (isinstance(value, str) and value.lower() == str(wanted).lower())
    number, target = number_of(value), number_of(wanted)
    if number is not None and target is not None:
        return number == target
    return bool(value == wanted) or str(value) == str(wanted)


def _between(value: Any, low: Any, high: Any) -> bool:
    number = number_of(value)
    if number is None:
        return False
    return (low is None or number >= float(low)) and (high is None or number <= float(high))


def _numeric(values: list[Any], function: Callable[..., Any], at_least: int = 1) -> Any:
    numbers = [n for n in map(number_of, values) if n is not None]
    return function(numbers) if len(numbers) >= at_least else None


def _optional(module: str, method: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"Runs.{method}() needs {module}: pip install 'hydraflow[frames]' (or {module})"
        ) from None
