"""Runs a user forgot (``hydraflow forget``): a table of them beside the attempts, which
``results`` leaves out, and the attempts of batches none of whose runs is left.

A run is known by its *place*, its folder from the project's (for a planned run that
never started, the folder Hydra would have given it: ``<sweep dir>/<number>``), and by
the moment it began. A run made later in the same folder (``--resume`` reruns single
runs into their batch's folder, under their own number) began at another moment: it
is another run, and shows. The table is made by the first forget, in its transaction,
so a ledger of an earlier version opens and reads as before and needs no new schema.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from hydraflow.ledger.rows import attempt_of, sql_value
from hydraflow.ledger.store import Ledger
from hydraflow.statuses import LIVE

TABLE = (
    "CREATE TABLE IF NOT EXISTS forgotten"
    " (job TEXT NOT NULL, place TEXT NOT NULL, started INTEGER, at REAL NOT NULL)"
)

# A place and the moment its run began, in whole milliseconds (None: not known). Both sides
# read the moment from the same record, so the rounding only makes it a stable key.
Key = tuple[str, int | None]


def key(place: str, started: float | None) -> Key:
    return place, None if started is None else round(started * 1000)


@dataclass(frozen=True)
class Place:
    """A run to forget: its place, its sweep dir, and when it began (seconds)."""

    place: str
    sweep: str
    started: float | None


@dataclass(frozen=True)
class Forgotten:
    """The runs forgotten so far, as the results ask about them."""

    keys: frozenset[Key] = frozenset()
    places: frozenset[str] = field(default=frozenset(), repr=False)

    @classmethod
    def of(cls, keys: Collection[Key]) -> Forgotten:
        return cls(frozenset(keys), frozenset(place for place, _ in keys))

    def hides(self, place: str, started: float | None) -> bool:
        """A run that began there at that moment was forgotten."""
        return key(place, started) in self.keys

    def hides_planned(self, place: str) -> bool:
        """A planned run that never started, whose place held a run that was forgotten
        (and perhaps deleted with ``--delete``): it went with that run."""
        return place in self.places


def forgotten(ledger: Ledger) -> Forgotten:
    """What the ledger says was forgotten (nothing, for a ledger no forget has written)."""
    named = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'forgotten'"
    if not ledger.read(named):
        return Forgotten()
    rows = ledger.read("SELECT place, started FROM forgotten")
    return Forgotten.of({(_text(row["place"]), row["started"]) for row in rows})


def forget(ledger: Ledger, job: str, runs: Sequence[Place], whole: Collection[str]) -> set[str]:
    """Record ``runs`` of ``job`` as forgotten and delete every attempt of the sweep dirs in
    ``whole`` (none of whose runs is left then), in one transaction.

    The caller chose them from an earlier read; a batch claimed since then (a ``--resume``
    writes into its earlier sweep dir) must not lose its rows or runs, so the sweep dirs
    where a batch is running now are left as they are, and returned.
    """
    touched = {run.sweep for run in runs} | set(whole)
    with ledger.transaction() as db:
        busy = _running(db, job, touched)
        db.execute(TABLE)
        now = time.time()
        db.executemany(
            "INSERT INTO forgotten (job, place, started, at) VALUES (?, ?, ?, ?)",
            [
                (job, sql_value(run.place), key(run.place, run.started)[1], now)
                for run in runs
                if run.sweep not in busy
            ],
        )
        db.executemany(
            "DELETE FROM attempts WHERE job = ? AND sweep_dir = ?",
            [(job, sql_value(sweep)) for sweep in whole if sweep not in busy],
        )
    return busy


def _running(db: sqlite3.Connection, job: str, sweeps: Collection[str]) -> set[str]:
    """Those of ``sweeps`` where a batch (or a rerun of some of its runs) is running or
    queued now: a row that says so and whose runner lives (a dead one's reads ``lost``)."""
    if not sweeps:
        return set()
    marks = ", ".join("?" * len(sweeps))
    live = ", ".join(f"'{word}'" for word in LIVE)
    db.row_factory = sqlite3.Row
    try:
        rows = list(
            db.execute(
                f"SELECT * FROM attempts WHERE job = ? AND status IN ({live})"
                f" AND sweep_dir IN ({marks})",
                (job, *(sql_value(sweep) for sweep in sweeps)),
            )
        )
    finally:
        db.row_factory = None
    return {attempt.sweep_dir for attempt in map(attempt_of, rows) if attempt.state.live}


def _text(value: str | bytes) -> str:
    """A place as it was given: text that was not UTF-8 is kept as its bytes."""
    return os.fsdecode(value) if isinstance(value, bytes) else value
