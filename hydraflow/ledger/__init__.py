"""The run ledger: one SQLite row per attempt of a batch, at ``.hydraflow/ledger.db``.

Batches are known by their content key (``Batch.key``), so an edited
hydraflow.yaml still resumes right. Before a batch starts, its runner *claims*
it in a write transaction: a batch that another live runner is running is
skipped, so two runners on one ledger never run it twice at once. A runner
that dies leaves its rows ``running``; they read as ``lost`` once both the
runner and its watchdog are gone, and the watchdog ends only after the
batches it guards have ended, so a lost batch never runs twice at once. A
runner on another host (sharing the project's folder) cannot be asked
whether it lives: its rows carry its latest sign of life, written every
minute, and read as ``lost`` after ten silent minutes.
Batches handed to Slurm carry their job and task (``scheduler_id``) instead.
"""

from __future__ import annotations

from hydraflow.ledger.claims import Claims
from hydraflow.ledger.rows import (
    HEARTBEAT_SECONDS,
    STALE_SECONDS,
    Attempt,
    Claimed,
    Runner,
    Update,
    Wanted,
    completion,
)
from hydraflow.ledger.store import BUSY_SECONDS, LEDGER, Ledger, LedgerError, explain

__all__ = [
    "BUSY_SECONDS",
    "HEARTBEAT_SECONDS",
    "LEDGER",
    "STALE_SECONDS",
    "Attempt",
    "Claimed",
    "Claims",
    "Ledger",
    "LedgerError",
    "Runner",
    "Update",
    "Wanted",
    "completion",
    "explain",
]
