"""The record each run writes in its folder (``hydraflow.run.json``, by the Hydra callback
``_callback/hydraflow_record.py``), read by the results and by the cluster refresh."""

from __future__ import annotations

import json
import os
from typing import Any

RUN_RECORD = "hydraflow.run.json"


def read_record(run_dir: str) -> dict[str, Any] | None:
    """The run's record; None when it has none, or none that can be read."""
    try:
        with open(os.path.join(run_dir, RUN_RECORD), "rb") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
