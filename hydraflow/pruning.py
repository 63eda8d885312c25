"""``hydraflow.report(step, value)``: a trial's intermediate value, for Optuna's pruner.

In a trial of a search, hydraflow gives the batch a folder (``HYDRAFLOW_REPORTS``)
and its number (``HYDRAFLOW_BATCH``); each report is one JSON line appended to
``<folder>/<number>.jsonl``, which hydraflow's own process reads while the trial
runs. Hydraflow, not the trial, asks Optuna whether to prune, and stops the batch
as a timeout does. Anywhere else (a grid job, a run by hand, a notebook) it does
nothing. Standard library only: importing it costs the app nothing.
"""

from __future__ import annotations

import json
import math
import os

REPORTS = "HYDRAFLOW_REPORTS"
BATCH = "HYDRAFLOW_BATCH"


def report(step: int, value: float) -> None:
    """Tell the search this trial's ``value`` at ``step`` (an epoch, an iteration).

    >>> for epoch in range(epochs):
    ...     hydraflow.report(epoch, validation_loss)
    """
    folder, batch = os.environ.get(REPORTS), os.environ.get(BATCH)
    if not folder or batch is None:
        return
    number = float(value)
    if not math.isfinite(number):
        return  # Optuna ignores what is not a number; the run's own return tells its fate
    line = json.dumps({"step": int(step), "value": number}) + "\n"
    # One write of a short line in append mode: hydraflow never reads half of one.
    fd = os.open(os.path.join(folder, f"{batch}.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
