"""Reading one run dir: its record, its overrides and the numbers in its metrics files.

Each file is read once; YAML goes through libyaml's ``CSafeLoader`` when present.
"""

from __future__ import annotations

import glob
import json
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

RECORD = "hydraflow.run.json"  # written by hydraflow_record.RunRecord
OVERRIDES = os.path.join(".hydra", "overrides.yaml")
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: str) -> Any:
    with open(path, "rb") as handle:
        return yaml.load(handle, Loader=_LOADER)


def load_json(path: str) -> Any:
    with open(path, "rb") as handle:
        return json.load(handle)


def read_record(run_dir: str) -> dict[str, Any] | None:
    try:
        record = load_json(os.path.join(run_dir, RECORD))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def read_overrides(run_dir: str) -> list[str] | None:
    try:
        overrides = load_yaml(os.path.join(run_dir, OVERRIDES))
    except (OSError, yaml.YAMLError):
        return None
    return [str(o) for o in overrides] if isinstance(overrides, list) else None


def params_of(overrides: Iterable[str]) -> dict[str, str]:
    """``["model=small", "+tag=x", "~drop"]`` → ``{"model": "small", "tag": "x"}``."""
    params: dict[str, str] = {}
    for override in overrides:
        key, eq, value = override.partition("=")
        if eq and not key.startswith("~"):
            params[key.lstrip("+")] = value
    return params


def numbers(value: Any, prefix: str = "") -> dict[str, float]:
    """The numbers in ``value``: a number is ``value`` (or ``prefix``); a mapping gives its
    entries, nested keys joined with ``.``; anything else gives nothing."""
    if isinstance(value, bool):
        return {}
    if isinstance(value, int | float):
        return {prefix or "value": float(value)}
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


def finite(value: float) -> bool:
    return math.isfinite(value)
