"""The record each run writes in its folder (``hydraflow.run.json``, by the Hydra callback
``_callback/hydraflow_record.py``), read by the results, resume and the cluster refresh."""

from __future__ import annotations

import json
import math
import os
from typing import Any

from hydraflow.run_files import Unreadable, read_bounded

RUN_RECORD = "hydraflow.run.json"
MAX_RECORD = 1024 * 1024  # a record is a few hundred bytes, with what the task returned


def load_record(run_dir: str) -> tuple[dict[str, Any] | None, str | None]:
    """The run's record, or None and why it is damaged (None and None: it has none)."""
    path = os.path.join(run_dir, RUN_RECORD)
    try:
        record = json.loads(read_bounded(path, MAX_RECORD))
    except FileNotFoundError:
        return None, None
    except Unreadable as why:
        return None, f"{path}: {why}"
    except (ValueError, RecursionError):
        return None, f"{path}: not a record hydraflow wrote (not JSON)"
    problem = _shape_problem(record)
    return (None, f"{path}: {problem}") if problem else (record, None)


def read_record(run_dir: str) -> dict[str, Any] | None:
    """The run's record; None when it has none, or none that can be read."""
    return load_record(run_dir)[0]


def _shape_problem(record: Any) -> str | None:
    """What is wrong with a record's shape, if anything: what hydraflow reads of it must
    be what the callback writes."""
    if not isinstance(record, dict):
        return "not a record hydraflow wrote (not a mapping)"
    if record.get("status") not in ("ok", "failed"):
        return "a damaged record (its status is neither ok nor failed)"
    overrides = record.get("overrides", [])
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        return "a damaged record (its overrides are not a list of words)"
    for key in ("start", "end"):
        value = record.get(key)
        if value is not None and not (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ):
            return f"a damaged record (its {key} is not a time)"
    return None
