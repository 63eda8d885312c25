"""A batch: the words of one process around its sweep dir, and its identity by content."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from hydraflow.config import Job
from hydraflow.errors import UsageError
from hydraflow.words import override_key

# What Hydra sweeps in a batch: (key, values) per swept key, in Hydra's order.
Axes = tuple[tuple[str, tuple[str, ...]], ...]

SWEEP_ROOT = "multirun"
SWEEP_DIR_KEY = "hydra.sweep.dir"


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


NO_EXTRAS = Extras()


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
    # A batch that reruns some runs of an earlier one: that batch's key, and the runs.
    base: str = ""
    rerun: tuple[int, ...] = ()
    # A search's trial (``tune #12``): part of its identity, as two trials may ask alike.
    trial: str = ""

    @property
    def label(self) -> str:
        """How the batch is named in output and tables: its ``each`` overrides."""
        label = " ".join(self.each) or f"batch {self.index + 1}"
        if self.trial:
            return f"trial {self.trial.rpartition('#')[2]}: {label}"
        return f"{label} · run {','.join(map(str, self.rerun))}" if self.rerun else label

    @cached_property
    def key(self) -> str:
        """The batch's identity by content: command and overrides, not its place or dir.

        Reordering sets or adding new ones leaves the keys of the other batches alone.
        A rerun of some runs of a batch is known by that batch's key and the runs.
        """
        if self.base:
            return f"{self.base}:{','.join(map(str, self.rerun))}"
        trial = (self.trial,) if self.trial else ()
        canonical = "\0".join((*trial, *self.command, "\0", *self.before_dir, *self.after_dir))
        return hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()[:32]

    @property
    def place(self) -> tuple[int, tuple[int, ...]]:
        """Where the batch stands in its execution: unique within it, even for two batches
        alike (``each: i=1,1``) or the reruns of several runs of one batch."""
        return (self.index, self.rerun)

    @property
    def base_key(self) -> str:
        """The key of the batch this one belongs to: its own, or the one it reruns runs of."""
        return self.base or self.key

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
