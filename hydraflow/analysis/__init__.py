"""Every run of a sweep side by side: the analysis step after configuration and execution.

``collect`` finds the runs (the ledger's batches, and a scan of the output
folder), reads what each recorded (``hydraflow.run.json``, ``.hydra/overrides.yaml``,
metrics files) and gives ``Run`` rows; ``table`` chooses, orders and groups them;
``formats`` writes them for other programs. A reader only: it never imports
Hydra, and rendering on a terminal is the front end's.
"""

from __future__ import annotations

from pathlib import Path

from hydraflow.analysis.collect import collect
from hydraflow.analysis.model import Results, Run

__all__ = ["Results", "Run", "collect", "results"]


def results(job: str | None = None, *, file: str | Path = "hydraflow.yaml") -> Results:
    """The runs of ``job`` (or of every job) of the project whose file is ``file``.

    >>> runs = hydraflow.results("train")
    >>> runs.to_pandas().groupby("model")["loss"].mean()
    """
    from hydraflow import config

    path = Path(file)
    return collect(config.load(path if path.exists() else config.find(path.parent)).check(), job)
