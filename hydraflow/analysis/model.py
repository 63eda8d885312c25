"""A run as the results see it: how it ended, its parameters as the app's config typed
them, its metrics, and the composed config itself on demand."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from hydraflow.statuses import RunStatus
from hydraflow.typed import text_of

# Every row's own, never a parameter's or metric's.
FIELDS = ("job", "status", "started", "duration", "dir")
PARAMS, METRICS = "params.", "metrics."
CONFIG = os.path.join(".hydra", "config.yaml")
T = TypeVar("T")


class NoConfig(LookupError):
    """A run without the config Hydra saves (it never started, or Hydra saved none)."""


class ConfigMismatch(ValueError):
    """A run's config that the asked dataclass does not take; the message names the key."""


@dataclass(frozen=True)
class Run:
    """One Hydra run: the job that made it, how it ended, when it started, where it wrote,
    its parameters (every key of the config Hydra composed for it, typed as the config
    has them, and the config groups chosen) and its metrics (the numbers it returned or
    wrote). ``dir`` is absolute; ``folder`` is the same, from the project's folder."""

    job: str
    status: RunStatus
    dir: Path | None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    duration: float | None = None
    started: datetime.datetime | None = None
    error: str | None = None
    overrides: tuple[str, ...] = ()  # the words it was given, as Hydra recorded them
    root: Path | None = field(default=None, repr=False, compare=False)

    @property
    def folder(self) -> str:
        """The run's folder from the project's (``multirun/train/…/0``); empty if none."""
        if self.dir is None:
            return ""
        if self.root is None:
            return str(self.dir)
        try:
            return self.dir.relative_to(self.root).as_posix()
        except ValueError:
            return str(self.dir)

    @cached_property
    def cfg(self) -> Any:
        """The config Hydra composed for the run, as an OmegaConf ``DictConfig`` (read on
        first use; needs omegaconf, which every Hydra app has)."""
        from omegaconf import OmegaConf

        path = self.dir / CONFIG if self.dir is not None else None
        if path is None or not path.is_file():
            raise NoConfig(f"the run {self.folder or '(never started)'} has no {CONFIG}")
        return OmegaConf.load(path)

    def config(self, schema: type[T]) -> T:
        """The run's config as an instance of ``schema`` (a dataclass of the app's), each
        value checked against its type by OmegaConf."""
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        try:
            merged = OmegaConf.merge(OmegaConf.structured(schema), self.cfg)
            made = OmegaConf.to_object(merged)
        except OmegaConfBaseException as error:
            where = f" at {error.full_key!r}" if getattr(error, "full_key", None) else ""
            reason = str(error).strip().splitlines()[0]
            raise ConfigMismatch(
                f"the config of {self.folder} does not fit {schema.__name__}{where}: {reason}"
            ) from None
        return made  # type: ignore[return-value]

    def value(self, key: str) -> Any:
        """What a key names in this run: a fixed field, else a parameter, else a metric;
        ``params.KEY`` and ``metrics.KEY`` say which outright. None when it has none."""
        if key.startswith(PARAMS) and key[len(PARAMS) :] in self.params:
            return self.params[key[len(PARAMS) :]]
        if key.startswith(METRICS) and key[len(METRICS) :] in self.metrics:
            return self.metrics[key[len(METRICS) :]]
        if key in FIELDS:
            return self.field(key)
        if key in self.params:
            return self.params[key]
        return self.metrics.get(key)

    def has(self, key: str) -> bool:
        if key.startswith(PARAMS):
            return key[len(PARAMS) :] in self.params
        if key.startswith(METRICS):
            return key[len(METRICS) :] in self.metrics
        return key in FIELDS or key in self.params or key in self.metrics

    def field(self, key: str) -> Any:
        return {
            "job": self.job,
            "status": self.status,
            "started": self.started,
            "duration": self.duration,
            "dir": self.folder or None,
        }[key]

    def as_dict(self) -> dict[str, Any]:
        """The run as JSON takes it: typed parameters, the start in ISO 8601."""
        return {
            "job": self.job,
            "status": str(self.status),
            "started": iso(self.started),
            "dir": self.folder or None,
            "params": dict(self.params),
            "metrics": dict(self.metrics),
            "duration": self.duration,
        }


def when(seconds: float | None) -> datetime.datetime | None:
    """A time from seconds since the epoch, in the local time zone."""
    if seconds is None:
        return None
    try:
        return datetime.datetime.fromtimestamp(seconds, datetime.UTC).astimezone()
    except (OverflowError, OSError, ValueError):
        return None


def iso(moment: datetime.datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


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


def cell(value: Any) -> str:
    """A parameter's value in a table cell."""
    return text_of(value)
