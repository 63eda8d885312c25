"""Reading one run dir: its record, its overrides and the numbers in its metrics files.

Each file is read once; YAML goes through libyaml's ``CSafeLoader`` when present.
"""

from __future__ import annotations

import glob
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from hydraflow.run_record import read_record
from hydraflow.statuses import RunStatus
from hydraflow.words import params_of

OVERRIDES = os.path.join(".hydra", "overrides.yaml")
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: str) -> Any:
    with open(path, "rb") as handle:
        return yaml.load(handle, Loader=_LOADER)


def load_json(path: str) -> Any:
    with open(path, "rb") as handle:
        return json.load(handle)


def read_overrides(run_dir: str) -> list[str] | None:
    try:
        overrides = load_yaml(os.path.join(run_dir, OVERRIDES))
    except (OSError, yaml.YAMLError):
        return None
    return [str(o) for o in overrides] if isinstance(overrides, list) else None


def numbers(value: Any, prefix: str = "") -> dict[str, float]:
    """The numbers in ``value``: a number is ``value`` (or ``prefix``); a mapping gives its
    entries, nested keys joined with ``.``; anything else, or an int too large for a float,
    gives nothing."""
    if isinstance(value, bool):
        return {}
    if isinstance(value, float):
        return {prefix or "value": value}
    if isinstance(value, int):
        # JSON and YAML keep ints of any size; one beyond a float's range is no metric.
        try:
            return {prefix or "value": float(value)}
        except OverflowError:
            return {}
    if isinstance(value, str) and prefix and value in ("nan", "inf", "-inf"):
        return {prefix: float(value)}  # the record keeps non-finite floats as text
    if isinstance(value, Mapping):
        found: dict[str, float] = {}
        for key, item in value.items():
            found.update(numbers(item, f"{prefix}.{key}" if prefix else str(key)))
        return found
    return {}


def read_metrics(run_dir: str, patterns: Iterable[str]) -> dict[str, float]:
    """The numbers in the run's metrics files (JSON, or YAML by its suffix)."""
    found: dict[str, float] = {}
    for pattern in patterns:
        paths = (
            sorted(glob.glob(os.path.join(glob.escape(run_dir), pattern)))
            if glob.has_magic(pattern)
            else [os.path.join(run_dir, pattern)]
        )
        for path in paths:
            try:
                data = load_yaml(path) if path.endswith((".yaml", ".yml")) else load_json(path)
            except (OSError, ValueError, yaml.YAMLError):
                continue
            found.update(numbers(data))
    return found


def same_values(params: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    """Parameters as Hydra records them, whatever the spelling on the command line:
    ``1e-3`` and ``0.001`` are the same number, ``true`` and ``True`` the same flag."""
    return frozenset((key, canonical(value)) for key, value in params.items())


def canonical(value: str) -> str:
    """A value as Hydra records it, for comparing: ``True`` for ``true``, ``0.001`` for ``1e-3``."""
    lowered = value.lower()
    if lowered in ("true", "false", "null", "none"):
        return lowered
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return value
    return repr(number) if math.isfinite(number) else lowered


def run_numbers(
    folder: str, planned: Sequence[Mapping[str, str]], status: RunStatus = RunStatus.OK
) -> set[int]:
    """Which of a batch's planned runs have a record with ``status`` in its sweep dir.

    A run is known by the number its folder is named after (Hydra numbers runs in the
    order hydraflow plans them, and a rerun keeps its number); a folder not named by
    a number is matched by its parameters instead.
    """
    by_values = {same_values(params): number for number, params in enumerate(planned)}
    found: set[int] = set()
    try:
        names = os.listdir(folder)
    except OSError:
        return found
    for name in names:
        record = read_record(os.path.join(folder, name))
        if record is None or record.get("status") != status:
            continue
        if name.isdigit() and int(name) < len(planned):
            found.add(int(name))
        else:
            number = by_values.get(same_values(params_of(map(str, record.get("overrides") or []))))
            if number is not None:
                found.add(number)
    return found
