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
        unwritten: list[str] = []
        record = {
            "version": VERSION,
            "job": hydra.job.name,
            "num": getattr(hydra.job, "num", None),
            "status": "ok" if ok else "failed",
            "start": self.started,
            "end": time.time(),
            "overrides": [str(o) for o in hydra.overrides.task],
            "value": _plain(job_return._return_value, "value", unwritten) if ok else None,
            "error": None if ok else _error(job_return._return_value),
        }
        if unwritten:  # kept as text: what the run did is recorded, however it returned it
            record["unwritten"] = unwritten
        try:
            text = json.dumps(record)
        except (TypeError, ValueError) as error:  # nothing must cost the run's own outcome
            record["value"] = None
            record["unwritten"] = [f"value: {type(error).__name__}: {error}"]
            text = json.dumps(record)
        _write_atomically(os.path.join(str(hydra.runtime.output_dir), RECORD), text)


def _write_atomically(path: str, text: str) -> None:
    """Whole or not at all: a reader never sees half a record, and nothing is left behind."""
    part = f"{path}.{os.getpid()}.part"
    try:
        with open(part, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(part, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(part)


def _error(error: Any) -> str:
    return (
        f"{type(error).__name__}: {_text(error)}"
        if isinstance(error, BaseException)
        else _text(error)
    )


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__} that cannot be shown>"


def _plain(value: Any, where: str, unwritten: list[str], depth: int = 0) -> Any:
    """The returned value as JSON can hold it: numbers, text, lists and mappings. What it
    cannot hold becomes text, and its place is listed in ``unwritten``."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        try:
            json.dumps(value)  # an int of thousands of digits has no JSON text here
        except ValueError:
            unwritten.append(where)
            return f"<int of {value.bit_length()} bits>"
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth > 8:
        unwritten.append(where)
        return _text(value)
    if hasattr(value, "items"):
        try:
            items = list(value.items())
        except Exception:
            unwritten.append(where)
            return _text(value)
        return {_text(k): _plain(v, f"{where}.{_text(k)}", unwritten, depth + 1) for k, v in items}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]", unwritten, depth + 1) for i, v in enumerate(value)]
    number = getattr(value, "item", None)  # numpy and torch scalars
    if callable(number):
        try:
            return _plain(number(), where, unwritten, depth + 1)
        except Exception:
            pass
    unwritten.append(where)
    return _text(value)
