"""Every run records itself (``hydraflow.run.json``) through a Hydra callback that
hydraflow adds to each batch; here is the word that adds it and where it lives."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from hydraflow.config import Job


def record_words(job: Job) -> tuple[str, ...]:
    """The override that makes every run write its record, where the job's mode adds it."""
    return (RECORD_OVERRIDE,) if job.mode.records_runs(job) else ()


RECORD_OVERRIDE = "++hydra.callbacks.hydraflow_record._target_=hydraflow_record.RunRecord"
# The callback's folder holds only its module, so that putting it on an app's
# PYTHONPATH adds nothing else to the app's imports (the app may live in another venv).
CALLBACK_DIR = Path(__file__).resolve().parents[1] / "_callback"


def record_env(job: Job, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment a job's batches need for their runs to find the record callback."""
    if not record_words(job):
        return {}
    path = environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join([str(CALLBACK_DIR), *([path] if path else [])])}
