"""From a job to its batches: pure data, made lazily, no ids and no side effects.

Every batch is one process. Its command line is::

    <command> <extra words> --multirun <each> <all> hydra.job.name=<name>
        hydra.sweep.dir=<dir> <add> <extra overrides>

The sweep dir is not part of the plan: a batch gets it when it is claimed (a
new folder, or the folder of its earlier attempt on ``--resume``).
"""

from __future__ import annotations

from hydraflow.plan.batch import (
    SWEEP_DIR_KEY,
    SWEEP_ROOT,
    Axes,
    Batch,
    Extras,
    merge_add,
    new_sweep_dir,
)
from hydraflow.plan.build import Counts, Plan, batches, set_batches
from hydraflow.plan.callback import CALLBACK_DIR, RECORD_OVERRIDE, record_env, record_words
from hydraflow.plan.hints import no_match, override_keys, unknown_key
from hydraflow.plan.runs import hydra_sweeps, planned_runs
from hydraflow.words import override_key

__all__ = [
    "CALLBACK_DIR",
    "RECORD_OVERRIDE",
    "SWEEP_DIR_KEY",
    "SWEEP_ROOT",
    "Axes",
    "Batch",
    "Counts",
    "Extras",
    "Plan",
    "batches",
    "hydra_sweeps",
    "merge_add",
    "new_sweep_dir",
    "no_match",
    "override_key",
    "override_keys",
    "planned_runs",
    "record_env",
    "record_words",
    "set_batches",
    "unknown_key",
]
