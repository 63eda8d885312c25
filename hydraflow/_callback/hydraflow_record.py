"""hydraflow's record of one Hydra run, written as ``<run dir>/hydraflow.run.json``.

hydraflow adds this callback to every batch it starts
(``++hydra.callbacks.hydraflow_record._target_=hydraflow_record.RunRecord``) and
puts this file's folder on the batch's ``PYTHONPATH``. It imports nothing but
the standard library and Hydra, so it works in any environment that runs the
app, with or without hydraflow installed. It never fails a run: whatever goes
wrong here is ignored, and the run simply has no record.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from typing import Any

from hydra.experimental.callback import Callback

RECORD = "hydraflow.run.json"
VERSION = 1


class RunRecord(Callback):
    """A Hydra callback: ``on_job_start`` and ``on_job_end`` of every run."""

    def __init__(self) -> None:
        self.started: float | None = None

    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        self.started = time.time()

    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None:
        with contextlib.suppress(Exception):  # a record must never cost the run
            self._write(job_return)

    def _write(self, job_return: Any) -> None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.core.utils import JobStatus

        hydra = HydraConfig.get()
        ok = job_return.status == JobStatus.COMPLETED
        record = {
            "version": VERSION,
            "job": hydra.job.name,
            "num": getattr(hydra.job, "num", None),
            "status": "ok" if ok else "failed",
            "start": self.started,
            "end": time.time(),
            "overrides": list(hydra.overrides.task),
            "value": _plain(job_return._return_value) if ok else None,
            "error": None if ok else _error(job_return._return_value),
        }
        folder = str(hydra.runtime.output_dir)
        path = os.path.join(folder, RECORD)
        part = f"{path}.{os.getpid()}.part"
        with open(part, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(part, path)


def _error(error: Any) -> str:
    return f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)


def _plain(value: Any, depth: int = 0) -> Any:
    """The returned value as JSON can hold it: numbers, text, lists and mappings."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth > 8:
        return str(value)
    if hasattr(value, "items"):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    number = getattr(value, "item", None)  # numpy and torch scalars
    if callable(number):
        try:
            return _plain(number(), depth + 1)
        except Exception:
            pass
    return str(value)
