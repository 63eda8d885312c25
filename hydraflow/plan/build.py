"""From a job to its batches, lazily, and the ``Plan`` of an execution: which batches
it starts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from hydraflow.config import Job, JobSet
from hydraflow.plan.batch import NO_EXTRAS, Axes, Batch, Extras, merge_add
from hydraflow.plan.callback import record_words
from hydraflow.plan.runs import SetSweeps, hydra_sweeps, planned_runs, rerun_of
from hydraflow.selection import Selection


def batches(job: Job, extras: Extras = NO_EXTRAS) -> Iterator[Batch]:
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
    command = job.mode.batch_command(job, extras.front)
    job_name = extras.keep([f"hydra.job.name={job.name}"])
    tail = (*extras.keep(merge_add(job.add, job_set.add if job_set else None)), *extras.overrides)
    internal = record_words(job)
    if job_set is None:
        axes: Axes | None = None if any(map(hydra_sweeps, tail)) else ()
        yield Batch(first_index, (), command, job_name, tail, 1, axes, internal)
        return
    collected = extras.keep(job_set.collected)
    sweeps = SetSweeps(job_set, extras, tail)
    for index, combination in enumerate(job_set.sweep, first_index):
        each = extras.keep(combination)
        runs, axes = sweeps(combination, each)
        before = (*each, *collected, *job_name)
        yield Batch(index, each, command, before, tail, runs, axes, internal)


@dataclass(frozen=True)
class Counts:
    to_run: int
    skipped: int
    runs: int


@dataclass(frozen=True)
class Plan:
    """The batches an execution will start: chosen by ``--only``, less those done before."""

    job: Job
    extras: Extras = NO_EXTRAS
    only: Selection = field(default_factory=Selection)
    done: frozenset[str] = frozenset()
    # With --resume: the runs of a batch to run again (None: the whole batch; empty: none).
    reruns: Callable[[Batch], tuple[int, ...] | None] | None = field(default=None, compare=False)

    def entries(self) -> Iterator[tuple[Batch, bool]]:
        """Every chosen batch and whether it is skipped as done before; a batch whose runs
        partly succeeded is replaced by batches of the runs that did not."""
        # Batches alike are known by one key. Alike as written (`each: i=1,1`), they run
        # as written, as in the original (a repeat may be on purpose); alike only because
        # an extra replaced the word that told them apart, they are the same work and run
        # once. A resume cannot tell which copy an attempt was: then every key runs once.
        resume = self.reruns is not None
        written: Iterator[Batch] | None = None
        if self.extras.overrides and not resume:
            written = batches(self.job)
        seen: dict[str, str] | None = {} if resume or written is not None else None
        for batch in batches(self.job, self.extras):
            twin = next(written) if written is not None else batch
            if not self.only.matches_words(batch.overrides):
                continue
            if seen is not None:
                as_written = twin.key
                if batch.key in seen and (resume or seen[batch.key] != as_written):
                    continue
                seen.setdefault(batch.key, as_written)
            if self.done and batch.key in self.done:
                yield batch, True
                continue
            numbers = self.reruns(batch) if self.reruns is not None else None
            if numbers is None:
                yield batch, False
            elif not numbers:
                yield batch, True
            else:
                planned = planned_runs(batch) or []
                for number in numbers:
                    yield rerun_of(batch, number, planned[number]), False

    def batches(self) -> Iterator[Batch]:
        return (batch for batch, skipped in self.entries() if not skipped)

    def count(self) -> Counts:
        """How many batches run and are skipped, and their Hydra runs, without ids or hashes
        unless ``--resume`` needs the keys."""
        if not self.only.rules and not self.done and not self.extras.overrides and not self.reruns:
            return Counts(self.job.batches, 0, self.job.runs)
        to_run = skipped = runs = 0
        for batch, is_skipped in self.entries():
            if is_skipped:
                skipped += 1
            else:
                to_run += 1
                runs += batch.runs
        return Counts(to_run, skipped, runs)
