"""A run as the results see it, and a list of them that pandas can take."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hydraflow.statuses import RunStatus

FIELDS = ("job", "status", "duration", "dir")  # every row's own, never a parameter's or metric's
PARAMS, METRICS = "params.", "metrics."


@dataclass(frozen=True)
class Run:
    """One Hydra run: the job that made it, how it ended, where it wrote, its parameters
    (the overrides it ran with) and its metrics (the numbers it returned or wrote)."""

    job: str
    status: RunStatus
    dir: str | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    duration: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "status": self.status,
            "dir": self.dir,
            "params": dict(self.params),
            "metrics": dict(self.metrics),
            "duration": self.duration,
        }


class Results(list[Run]):
    """The runs, in the order they were found (job, then sweep, then run number), and
    the files that could not be read (each in a line; the runs' other data stays)."""

    def __init__(self, runs: Iterable[Run] = ()) -> None:
        super().__init__(runs)
        self.problems: list[str] = []

    def to_pandas(self) -> Any:
        """A DataFrame: one row per run, parameters and metrics as columns (needs pandas)."""
        try:
            import pandas
        except ImportError:
            raise ImportError("Results.to_pandas() needs pandas: pip install pandas") from None
        params, metrics = titles(self)
        rows = [
            {
                "job": run.job,
                "status": str(run.status),
                **{params[k]: v for k, v in run.params.items()},
                **{metrics[k]: v for k, v in run.metrics.items()},
                "duration": run.duration,
                "dir": run.dir,
            }
            for run in self
        ]
        return pandas.DataFrame(rows)


def param_keys(runs: Iterable[Run]) -> list[str]:
    keys: dict[str, None] = {}
    for run in runs:
        keys.update(dict.fromkeys(run.params))
    return list(keys)


def metric_keys(runs: Iterable[Run]) -> list[str]:
    keys: dict[str, None] = {}
    for run in runs:
        keys.update(dict.fromkeys(run.metrics))
    return list(keys)


def titles(runs: Sequence[Run]) -> tuple[dict[str, str], dict[str, str]]:
    """Each parameter's and each metric's column title: its name, or ``params.NAME`` and
    ``metrics.NAME`` where a parameter and a metric share it, or it is a fixed field's."""
    params, metrics = param_keys(runs), metric_keys(runs)
    shared = set(params) & set(metrics)
    return (
        {p: f"{PARAMS}{p}" if p in shared or p in FIELDS else p for p in params},
        {m: f"{METRICS}{m}" if m in shared or m in FIELDS else m for m in metrics},
    )
