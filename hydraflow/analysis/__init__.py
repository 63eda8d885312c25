"""Every run of a sweep side by side: the analysis step after configuration and execution.

``collect`` finds the runs (the ledger's batches, and a scan of the output
folder), reads what each recorded (``hydraflow.run.json``, the config Hydra saved
in ``.hydra/config.yaml``, metrics files) and gives ``Run`` rows in a ``Runs``
collection; ``table`` and ``query`` choose, order and group them; ``formats``
writes them for other programs. A reader only: it never imports Hydra, and
rendering on a terminal is the front end's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from hydraflow.analysis.collect import collect
from hydraflow.analysis.model import ConfigMismatch, NoConfig, Run
from hydraflow.analysis.runs import Groups, Runs

__all__ = ["ConfigMismatch", "Groups", "NoConfig", "Run", "Runs", "collect", "results"]


def results(
    job: str | None = None,
    *,
    file: str | os.PathLike[str] | None = None,
    where: str | Sequence[str] = (),
    all_attempts: bool = False,
) -> Runs:
    """The runs of ``job`` (or of every job) of a project: the latest attempt of each
    config, or every one with ``all_attempts``. The project's ``hydraflow.yaml`` is
    ``file``, else the nearest one from the current folder upward. ``where`` takes what
    ``--where`` takes (``"loss<0.1"``, ``["model=small", "seed>=1"]``).

    >>> runs = hydraflow.results("train")
    >>> runs.filter(model="small").sort("loss").first()
    >>> runs.to_pandas().groupby("model")["loss"].mean()
    """
    from hydraflow import config
    from hydraflow.analysis.table import where as matching

    loaded = config.load(_project_file(file)).check()
    found = collect(loaded, job, all_attempts=all_attempts)
    expressions = [where] if isinstance(where, str) else list(where)
    if not expressions:
        return found
    return Runs(matching(found, expressions), problems=found.problems, goals=found.goals)


def _project_file(file: str | os.PathLike[str] | None) -> Path:
    from hydraflow.config import FILENAME

    if file is not None:
        path = Path(file).expanduser()
        if path.is_dir():
            path = path / FILENAME
        if not path.is_file():
            raise FileNotFoundError(f"no {FILENAME} at {path}")
        return path
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / FILENAME).is_file():
            return folder / FILENAME
    raise FileNotFoundError(f"no {FILENAME} in {here} or any folder above it")
