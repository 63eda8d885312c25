"""Batches handed to Slurm, as the ledger sees them: their state, read from the exit file
each batch writes when it ends, and from the scheduler only for those without one.

A batch submitted by ``hydraflow-slurm`` is a ledger row with a ``scheduler_id``
(``<job id>_<array task>``). Its end is in ``<sweep dir>/hydraflow.exit`` (a
batch that reruns one run of a sweep, ``hydraflow-run<N>.exit``). Refreshing is
cheap: while every exit file is there, nothing asks the scheduler; the rest are
looked up with one ``squeue`` for all of them (and ``sacct`` for the ones that
left the queue, where accounting is on). A task that left without an exit file
and without a trace is ``lost``; a cancelled or timed-out one says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from hydraflow.ledger import Attempt, Ledger, LedgerError, Runner, Update, completion
from hydraflow.run_record import read_record
from hydraflow.statuses import BatchStatus, SlurmState

# Rows whose fate may have changed since they were last read.
WATCHED = (BatchStatus.QUEUED, BatchStatus.RUNNING, BatchStatus.LOST)


def exit_name(part: Sequence[int] | None) -> str:
    """The exit file of a batch (or of a rerun of one of its runs) in its sweep dir."""
    return f"hydraflow-run{part[0]}.exit" if part else "hydraflow.exit"


def log_name(part: Sequence[int] | None) -> str:
    return f"hydraflow-run{part[0]}.log" if part else "hydraflow.log"


def read_exit(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def refresh(ledger: Ledger, root: Path, job: str | None = None) -> list[Attempt]:
    """Update the rows of queued and running Slurm batches; returns those still waiting or
    running (after the update). A ``lost`` one whose exit file has turned up since (a
    shared file system can be late) takes its end from it."""
    attempts = ledger.attempts(job)
    # A lost attempt is revisited only while no later attempt writes the same exit file
    # (a resubmission into its sweep dir), which must not rewrite the older one's end.
    newest = {(a.sweep_dir, exit_name(a.part)): a.id for a in attempts}  # oldest first
    watched = [
        a
        for a in attempts
        if a.scheduler_id
        and a.status in WATCHED
        and (a.status != BatchStatus.LOST or newest[(a.sweep_dir, exit_name(a.part))] == a.id)
    ]
    updates: list[Update] = []
    unknown = []
    for attempt in watched:
        ended = _ended(root, attempt)
        if ended is not None:
            updates.append((attempt.id, ended))
        elif attempt.status != BatchStatus.LOST:
            unknown.append(attempt)
    still = []
    states = scheduler_states(a.scheduler_id or "" for a in unknown) if unknown else {}
    for attempt in unknown:
        if states is None:
            still.append(attempt)  # no scheduler to ask here: leave the row as it is
            continue
        state = states.get(attempt.scheduler_id or "")
        status = state.batch_status if state is not None else BatchStatus.LOST
        if status.live:
            still.append(attempt)
            if status != attempt.status:
                updates.append((attempt.id, {"status": status}))
        else:
            # It left the queue: its exit file may have been written since it was read;
            # without one the scheduler says why, or it is lost.
            late = _ended(root, attempt)
            updates.append((attempt.id, late or {"status": status}))
    if updates:
        ledger.update(updates)
        _complete_reruns(ledger, root, {a.job for a in watched})
    return still


def _ended(root: Path, attempt: Attempt) -> dict[str, object] | None:
    path = root / attempt.sweep_dir / exit_name(attempt.part)
    code = read_exit(path)
    if code is None:
        return None
    status = BatchStatus.OK if code == 0 else BatchStatus.FAILED
    return {"status": status, "exit_code": code, "end": _mtime(path)}


def _complete_reruns(ledger: Ledger, root: Path, jobs: Iterable[str]) -> None:
    """A batch whose failed runs were all rerun on the cluster and all succeeded has
    succeeded: one row says so, as a run on this machine writes it."""
    for job in jobs:
        latest = ledger.latest(job)
        reruns: dict[str, list[Attempt]] = {}
        for attempt in latest.values():
            if attempt.is_rerun:
                reruns.setdefault(attempt.key.partition(":")[0], []).append(attempt)
        for base, parts in reruns.items():
            batch = latest.get(base)
            if batch is None or batch.status == BatchStatus.OK:
                continue
            mine = [p for p in parts if p.sweep_dir == batch.sweep_dir]
            ok = all(p.status == BatchStatus.OK for p in mine)
            if mine and ok and _every_run_ok(root, batch):
                rerun = [n for p in mine for n in p.part or ()]
                end = max(p.end or 0 for p in mine) or time.time()
                ledger.insert(job, base, completion(batch, rerun, end), Runner.this())


def _every_run_ok(root: Path, batch: Attempt) -> bool:
    """Whether each run of the batch, in the folder Hydra numbers it by, has a record that
    says it succeeded (a rerun of only some of the failed runs does not finish a batch)."""
    folder = root / batch.sweep_dir
    runs = range(batch.runs or 0)
    return bool(runs) and all(
        (read_record(str(folder / str(n))) or {}).get("status") == BatchStatus.OK for n in runs
    )


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def scheduler_states(ids: Iterable[str]) -> dict[str, SlurmState | None] | None:
    """Slurm's state of each ``<job>_<task>``: one ``squeue`` for all, then ``sacct`` for
    the ones no longer queued (None for a state hydraflow does not know). None when there
    is no Slurm to ask."""
    wanted = {i for i in ids if i}
    jobs = sorted({i.split("_")[0] for i in wanted})
    if not jobs:
        return {}
    if shutil.which("squeue") is None:
        return None
    states = _ask(["squeue", "-h", "-r", "--states=all", "-j", ",".join(jobs), "-o", "%i %T"])
    if states is None:
        return None
    missing = wanted - set(states)
    if missing and shutil.which("sacct") is not None:
        accounted = _ask(
            ["sacct", "-n", "-X", "-P", "-j", ",".join(jobs), "-o", "JobID,State"], "|"
        )
        states.update({k: v for k, v in (accounted or {}).items() if k in missing})
    return states


def _ask(argv: list[str], separator: str | None = None) -> dict[str, SlurmState | None] | None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    states = {}
    for line in result.stdout.splitlines():
        fields = line.strip().split(separator)
        if len(fields) >= 2:
            states[fields[0].strip()] = SlurmState.read(fields[1])
    return states


def ledger_of(path: str | os.PathLike[str]) -> Ledger | None:
    """The ledger named by a batch file's sidecar, if it can be opened."""
    try:
        return Ledger(Path(path), create=False)
    except LedgerError:
        return None
