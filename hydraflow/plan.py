"""From a job to its batches: the exact argv of every process, made lazily.

For every set in order and every ``each`` combination in order::

    <command> <extra> --multirun <each> <all> hydra.job.name=<name>
        hydra.sweep.dir=multirun/<ULID> <add>
"""

from __future__ import annotations

import hashlib
import os
import shlex
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from hydraflow.config import Job, JobSet

SWEEP_ROOT = "multirun"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True, slots=True)
class Batch:
    """One process of a job: Hydra overrides and where its outputs go."""

    index: int
    each: tuple[str, ...]
    args: tuple[str, ...]
    sweep_dir: str
    key: str = ""

    @property
    def label(self) -> str:
        """How the batch is named in output and tables: its ``each`` overrides."""
        return " ".join(self.each) or f"batch {self.index + 1}"


def merge_add(job_add: Sequence[str], set_add: Sequence[str] | None) -> list[str]:
    """Job-level words then set-level ones; a key keeps its first place and its last value."""
    if set_add is None:
        return list(job_add)
    merged: dict[str, str] = {}
    for word in (*job_add, *set_add):
        merged[word.partition("=")[0]] = word
    return list(merged.values())


def batch_key(command: Sequence[str], args_without_dir: Sequence[str]) -> str:
    """A batch's identity by content: its command and overrides, not its place or sweep dir.

    Reordering sets or adding new ones leaves the keys of the other batches alone.
    """
    canonical = "\0".join((*command, "\0", *args_without_dir))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def batches(
    job: Job,
    extra: Sequence[str] = (),
    *,
    keyed: bool = False,
    sweep_dirs: Mapping[str, str] | None = None,
) -> Iterator[Batch]:
    """Every batch of ``job`` in order, made as they are read.

    ``keyed`` gives each batch its content key; ``sweep_dirs`` (key → dir)
    lets a rerun batch write into the folder of its earlier attempt.
    """
    job_name = f"hydra.job.name={job.name}"
    command = (*job.command, *extra)
    sets: Sequence[JobSet | None] = job.sets or (None,)
    index = 0
    for job_set in sets:
        add = merge_add(job.add, job_set.add if job_set else None)
        collected = job_set.collected if job_set else ()
        combinations: Iterator[list[str]] = iter(job_set.sweep) if job_set else iter([[]])
        for each in combinations:
            key = batch_key(command, (*each, *collected, job_name, *add)) if keyed else ""
            known = sweep_dirs.get(key) if sweep_dirs else None
            sweep_dir = known or f"{SWEEP_ROOT}/{new_id()}"
            args = ("--multirun", *each, *collected, job_name, f"hydra.sweep.dir={sweep_dir}", *add)
            yield Batch(index, tuple(each), args, sweep_dir, key)
            index += 1


def submit_file(job: Job) -> str:
    """Where a submit job's batch file goes, relative to the project folder."""
    return f".hydraflow/submit/{job.key}-{new_id()}.txt"


def argv(job: Job, batch: Batch, extra: Sequence[str] = ()) -> list[str]:
    return [*job.command, *extra, *batch.args]


def dry_run_lines(
    job: Job, chosen: Iterable[Batch], extra: Sequence[str], submit_file: str
) -> Iterator[str]:
    """What ``--dry-run`` prints, one line at a time, as the batches are made."""
    if job.mode == "run":
        for batch in chosen:
            yield shlex.join(argv(job, batch, extra))
    elif job.mode == "call":
        function, *words = job.command
        for batch in chosen:
            yield f"{function}([{', '.join(repr(a) for a in (*words, *extra, *batch.args))}])"
    else:
        yield shlex.join([*job.command, *extra, submit_file])
        for batch in chosen:
            yield shlex.join(batch.args)


# -- ULIDs -----------------------------------------------------------------------------

_last = [0, 0]
_lock = threading.Lock()


def new_id() -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, in Crockford base 32.

    Within one millisecond the random part counts up, so ids made here sort
    in the order they were made.
    """
    with _lock:
        now = time.time_ns() // 1_000_000
        if now <= _last[0]:
            now, randomness = _last[0], _last[1] + 1
        else:
            randomness = int.from_bytes(os.urandom(10), "big") >> 1
        _last[0], _last[1] = now, randomness
    value = (now << 80) | (randomness & ((1 << 80) - 1))
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))
