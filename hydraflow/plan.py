"""From a job to its batches: pure data, made lazily, no ids and no side effects.

Every batch is one process. Its command line is::

    <command> <extra words> --multirun <each> <all> hydra.job.name=<name>
        hydra.sweep.dir=<dir> <add> <extra overrides>

The sweep dir is not part of the plan: a batch gets it when it is claimed (a
new folder, or the folder of its earlier attempt on ``--resume``).
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from hydraflow.config import Job, JobSet
from hydraflow.errors import UsageError
from hydraflow.selection import Selection

SWEEP_ROOT = "multirun"
SWEEP_DIR_KEY = "hydra.sweep.dir"


def override_key(word: str) -> str | None:
    """The key a Hydra override sets (``+k=1``, ``++k=1``, ``~k`` all set ``k``); None for
    a word that is not an override (``--config-name=x``, ``-c``, a bare ``a``)."""
    if word.startswith("-"):
        return None
    key, eq, _ = word.partition("=")
    if word.startswith("~"):
        return key[1:] or None
    if not eq:
        return None
    return key.lstrip("+") or None


@dataclass(frozen=True)
class Extras:
    """What the user passed after ``--``, placed as Hydra needs it.

    Overrides go last, after the job's own words, and replace any word with the
    same key: ``-- epochs=1`` on a job with ``add: epochs=50`` runs with
    ``epochs=1`` alone. Every other word goes right after the command words.
    """

    front: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()

    @classmethod
    def parse(cls, words: Iterable[str]) -> Extras:
        front: list[str] = []
        overrides: list[str] = []
        for word in words:
            key = override_key(word)
            if key == SWEEP_DIR_KEY:
                raise UsageError(f"{SWEEP_DIR_KEY} is chosen by hydraflow; it cannot be an extra")
            (overrides if key is not None else front).append(word)
        return cls(tuple(front), tuple(overrides))

    @cached_property
    def replaced(self) -> frozenset[str]:
        return frozenset(k for k in map(override_key, self.overrides) if k is not None)

    def keep(self, words: Iterable[str]) -> tuple[str, ...]:
        """``words`` less those whose key an extra override replaces."""
        if not self.replaced:
            return tuple(words)
        return tuple(w for w in words if override_key(w) not in self.replaced)

    @property
    def words(self) -> tuple[str, ...]:
        return (*self.front, *self.overrides)


@dataclass(frozen=True)
class Batch:
    """One process of a job: its words around the sweep dir, and how many Hydra runs it makes."""

    index: int
    each: tuple[str, ...]
    command: tuple[str, ...]
    before_dir: tuple[str, ...]
    after_dir: tuple[str, ...]
    runs: int = 1
    # What Hydra sweeps in this batch, in its order: (key, values) per swept key; None
    # when a word sweeps in a way hydraflow does not read (Hydra's own choice(), …).
    axes: Axes | None = ()
    # hydraflow's own words after the sweep dir (the run record): not part of the identity.
    internal: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How the batch is named in output and tables: its ``each`` overrides."""
        return " ".join(self.each) or f"batch {self.index + 1}"

    @cached_property
    def key(self) -> str:
        """The batch's identity by content: command and overrides, not its place or dir.

        Reordering sets or adding new ones leaves the keys of the other batches alone.
        """
        canonical = "\0".join((*self.command, "\0", *self.before_dir, *self.after_dir))
        return hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()[:32]

    def args(self, sweep_dir: str) -> tuple[str, ...]:
        """Everything after the command words."""
        return (
            "--multirun",
            *self.before_dir,
            f"{SWEEP_DIR_KEY}={sweep_dir}",
            *self.internal,
            *self.after_dir,
        )

    def argv(self, sweep_dir: str) -> tuple[str, ...]:
        return (*self.command, *self.args(sweep_dir))

    @property
    def overrides(self) -> tuple[str, ...]:
        return (*self.before_dir, *self.after_dir)


def merge_add(job_add: Sequence[str], set_add: Sequence[str] | None) -> list[str]:
    """Job-level words then set-level ones; a key keeps its first place and its last value."""
    if set_add is None:
        return list(job_add)
    merged: dict[str, str] = {}
    for word in (*job_add, *set_add):
        merged[word.partition("=")[0]] = word
    return list(merged.values())


def new_sweep_dir(job: Job, ident: str) -> str:
    """``multirun/<job>/<id>``: grouped by job, sorted by time, and never shared."""
    return f"{SWEEP_ROOT}/{job.key}/{ident}"


def batches(job: Job, extras: Extras = Extras()) -> Iterator[Batch]:
    """Every batch of ``job`` in order, made as they are read."""
    index = 0
    for job_set in job.sets or (None,):
        for batch in set_batches(job, job_set, extras, index):
            yield batch
            index += 1


def set_batches(
    job: Job, job_set: JobSet | None, extras: Extras, first_index: int = 0
) -> Iterator[Batch]:
    """The batches of one set (None: a job without sets, which has one batch)."""
    command = (*job.command, *extras.front)
    job_name = extras.keep([f"hydra.job.name={job.name}"])
    tail = (*extras.keep(merge_add(job.add, job_set.add if job_set else None)), *extras.overrides)
    internal = record_words(job)
    if job_set is None:
        axes: Axes | None = None if any(map(hydra_sweeps, tail)) else ()
        yield Batch(first_index, (), command, job_name, tail, 1, axes, internal)
        return
    collected = extras.keep(job_set.collected)
    sweeps = _SetSweeps(job_set, extras, tail)
    for index, combination in enumerate(job_set.sweep, first_index):
        each = extras.keep(combination)
        runs, axes = sweeps(combination, each)
        before = (*each, *collected, *job_name)
        yield Batch(index, each, command, before, tail, runs, axes, internal)


def record_words(job: Job) -> tuple[str, ...]:
    """The override that makes every run write its record, unless the job turns it off.

    Jobs handed to another program get it only from the built-in Slurm handler,
    which also puts the callback where the runs can import it.
    """
    if not job.record or (job.mode == "submit" and job.command[0] != "hydraflow-slurm"):
        return ()
    return (RECORD_OVERRIDE,)


RECORD_OVERRIDE = "++hydra.callbacks.hydraflow_record._target_=hydraflow_record.RunRecord"
# The callback's folder holds only its module, so that putting it on an app's
# PYTHONPATH adds nothing else to the app's imports (the app may live in another venv).
CALLBACK_DIR = Path(__file__).resolve().parent / "_callback"


def record_env(job: Job, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment a job's batches need for their runs to find the record callback."""
    if not record_words(job):
        return {}
    path = environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join([str(CALLBACK_DIR), *([path] if path else [])])}


Axes = tuple[tuple[str, tuple[str, ...]], ...]
_HYDRA_SWEEP_FUNCTIONS = ("choice(", "range(", "interval(", "glob(", "shuffle(", "sort(", "tag(")
_CLOSING = {"(": ")", "[": "]", "{": "}"}


def hydra_sweeps(word: str) -> bool:
    """Whether Hydra sweeps this override: a comma outside brackets and quotes, or one of
    its sweep functions."""
    value = word.partition("=")[2]
    if "," not in value and "(" not in value:
        return False
    if value.startswith(_HYDRA_SWEEP_FUNCTIONS):
        return True
    closers: list[str] = []
    quote = ""
    for ch in value:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in _CLOSING:
            closers.append(_CLOSING[ch])
        elif closers and ch == closers[-1]:
            closers.pop()
        elif ch == "," and not closers:
            return True
    return False


class _SetSweeps:
    """What Hydra sweeps in each batch of a set: the pipe sections among its ``each``
    words (a section sweeps its values in one process) and every ``all`` token."""

    def __init__(self, job_set: JobSet, extras: Extras, fixed: Sequence[str]) -> None:
        from hydraflow.sweep import Assignment, Pipe

        tokens = list(job_set.sweep.tokens)
        if job_set.sweep.zipped is not None:
            tokens += job_set.sweep.zipped.tokens
        self.sections: list[dict[str, tuple[str, tuple[str, ...]]] | None] = [
            {s.collected(): (s.key, tuple(s.values)) for s in token.sections}
            if isinstance(token, Pipe)
            else None
            for token in tokens
        ]
        kept = set(extras.keep(job_set.collected))
        self.all_axes = tuple(
            (token.key, tuple(token.values))
            for token in job_set.all_tokens
            if isinstance(token, Assignment) and token.collected() in kept
        )
        self.runs_of_all = math.prod(len(values) for _, values in self.all_axes)
        self.readable = not any(map(hydra_sweeps, fixed)) and not any(
            hydra_sweeps(f"{key}={value}") for key, values in self.all_axes for value in values
        )

    def __call__(self, combination: Sequence[str], kept: Sequence[str]) -> tuple[int, Axes | None]:
        axes: list[tuple[str, tuple[str, ...]]] = []
        readable = self.readable
        for sections, word in zip(self.sections, combination, strict=False):
            if sections is not None and word in sections:
                if word in kept:
                    axes.append(sections[word])
            elif word in kept and hydra_sweeps(word):
                readable = False
        axes += self.all_axes
        runs = math.prod(len(values) for _, values in axes)
        return runs, (tuple(axes) if readable else None)


@dataclass(frozen=True)
class Counts:
    to_run: int
    skipped: int
    runs: int


@dataclass(frozen=True)
class Plan:
    """The batches a run will start: chosen by ``--only``, less those done before."""

    job: Job
    extras: Extras = Extras()
    only: Selection = field(default_factory=Selection)
    done: frozenset[str] = frozenset()

    def entries(self) -> Iterator[tuple[Batch, bool]]:
        """Every chosen batch and whether it is skipped as done before."""
        for batch in batches(self.job, self.extras):
            if self.only.matches_words(batch.overrides):
                yield batch, bool(self.done) and batch.key in self.done

    def batches(self) -> Iterator[Batch]:
        return (batch for batch, skipped in self.entries() if not skipped)

    def skipped(self) -> Iterator[Batch]:
        return (batch for batch, skipped in self.entries() if skipped)

    def count(self) -> Counts:
        """How many batches run and are skipped, and their Hydra runs, without ids or hashes
        unless ``--resume`` needs the keys."""
        if not self.only.rules and not self.done and not self.extras.overrides:
            return Counts(self.job.batches, 0, self.job.runs)
        to_run = skipped = runs = 0
        for batch, is_skipped in self.entries():
            if is_skipped:
                skipped += 1
            else:
                to_run += 1
                runs += batch.runs
        return Counts(to_run, skipped, runs)


def override_keys(job: Job, extras: Extras = Extras()) -> list[str]:
    """Every override key the job's batches carry, in order of first appearance."""
    keys: dict[str, None] = {}
    for batch in _first_of_each_set(job, extras):
        for word in batch.overrides:
            key = override_key(word)
            if key is not None:
                keys.setdefault(key)
    return list(keys)


def _first_of_each_set(job: Job, extras: Extras) -> Iterator[Batch]:
    """One batch per set (the batches of a set share their keys)."""
    for job_set in job.sets or (None,):
        first = next(set_batches(job, job_set, extras), None)
        if first is not None:
            yield first


def no_match(job: Job, extras: Extras, selection: Selection) -> str:
    """Why ``--only`` chose nothing: a key no batch has, or values none has."""
    keys = override_keys(job, extras)
    for key in selection.keys:
        if key not in keys:
            close = difflib.get_close_matches(key, keys, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(k for k in keys if not k.startswith("hydra."))
            return f"--only: no batch of {job.key!r} has the key {key!r}{hint}; keys: {known}"
    shown = 12
    seen: dict[str, dict[str, None]] = {key: {} for key in selection.keys}
    for batch in itertools.islice(batches(job, extras), 10_000):
        for word in batch.overrides:
            key, _, value = word.partition("=")
            if key in seen and len(seen[key]) <= shown:
                seen[key].setdefault(value)
    values = "; ".join(
        f"{key} is one of {', '.join(list(v)[:shown])}{', …' if len(v) > shown else ''}"
        for key, v in seen.items()
    )
    return f"--only matches no batch of {job.key!r}: {values}"


def planned_runs(batch: Batch) -> list[list[str]] | None:
    """The task overrides of every Hydra run of ``batch``, in the order Hydra numbers them
    (its basic sweeper crosses the swept keys, leftmost slowest); None when hydraflow
    cannot tell (a word sweeps through one of Hydra's own functions)."""
    if batch.axes is None:
        return None
    swept = {key for key, _ in batch.axes}
    fixed: dict[str, str] = {}
    for word in batch.overrides:
        key = word.partition("=")[0]
        if "=" in word and not key.startswith("hydra.") and key not in swept:
            fixed.setdefault(key, word)
    keys = [key for key, _ in batch.axes]
    return [
        [*fixed.values(), *(f"{key}={value}" for key, value in zip(keys, values, strict=True))]
        for values in itertools.product(*(values for _, values in batch.axes))
    ]
