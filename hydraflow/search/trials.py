"""A search's trials as the batches the pool pulls, and the observer that tells them.

The pool asks for its next launch only when a worker slot is free, and the
launcher pulls a batch from here one at a time: so ``study.ask()`` happens the
moment a slot frees, never ahead, and no slot waits for another trial to end.
Each batch is one Hydra run with the trial's values as overrides. When it
ends, its value (the job's metric, from the run's record or metrics files) is
told before the pool asks again, so the next trial already knows it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, TypeVar

from hydraflow.analysis.reading import TooMany, numbers, read_metrics
from hydraflow.config import Job
from hydraflow.config.search import Search
from hydraflow.errors import ConfigError
from hydraflow.events import BatchFinished, Event, TrialTold
from hydraflow.ids import new_id
from hydraflow.plan import Batch
from hydraflow.pruning import REPORTS
from hydraflow.run_record import read_record
from hydraflow.search.study import LOST, Study, open_study, study_name
from hydraflow.statuses import BatchStatus
from hydraflow.sweep.space import Choice, Dimension, Interval, Space, number_text

Place = tuple[int, tuple[int, ...]]


class Launched(Protocol):
    """A launch as the pool hands it to ``watch``: only its batch is read."""

    @property
    def batch(self) -> Batch: ...


L = TypeVar("L", bound=Launched)
REPORTS_DIR = os.path.join(".hydraflow", "reports")


def check_bases(job: Job, bases: Sequence[Batch]) -> None:
    """Every combination is one study whose trials are one Hydra run each."""
    for base in bases:
        if base.runs != 1:
            raise ConfigError(
                f"job {job.key!r}: a search's trial is one Hydra run, but {base.label!r}"
                f" makes {base.runs} (a pipe in each:, or a list in add:)",
                job.path,
                job.line_of("search"),
            )


def trial_batch(base: Batch, words: Sequence[str], trial: str, index: int) -> Batch:
    """The combination's batch with a trial's values, after its own ``each`` words."""
    own = len(base.each)
    before = (*base.before_dir[:own], *words, *base.before_dir[own:])
    each = (*base.each, *words)
    return replace(base, index=index, each=each, before_dir=before, runs=1, axes=(), trial=trial)


def examples(base: Batch, space: Space) -> list[Batch]:
    """Batches that stand for a study before it runs (the check, a dry run): every value
    of every choice once, each other key at its lowest."""
    first = {key: _lowest(key, dim) for key, dim in space.dimensions}
    made = [trial_batch(base, (*first.values(), *space.fixed), "example", base.index)]
    for key, dimension in space.dimensions:
        if isinstance(dimension, Choice):
            for value in dimension.values[1:]:
                words = {**first, key: f"{key}={value}"}
                made.append(trial_batch(base, (*words.values(), *space.fixed), "example", 0))
    return made


def _lowest(key: str, dimension: Dimension) -> str:
    if isinstance(dimension, Choice):
        return f"{key}={dimension.values[0]}"
    if isinstance(dimension, Interval) and dimension.integer:
        return f"{key}={int(dimension.low)}"
    return f"{key}={number_text(dimension.low)}"


def metric_of(run_dir: Path, job: Job) -> float | None:
    """The job's metric of a run: what the task returned (a number is ``value``), then
    its metrics files, as ``results`` reads them; None when it has none."""
    found: dict[str, float] = {}
    record = read_record(str(run_dir))
    if record is not None:
        with contextlib.suppress(TooMany):
            found.update(numbers(record.get("value")))
    found.update(read_metrics(str(run_dir), job.metrics))
    return found.get(job.metric or "value")


def run_dir(sweep: Path) -> Path:
    """The trial's one run: Hydra's ``0``, or the folder that holds a record."""
    if (sweep / "0").is_dir():
        return sweep / "0"
    try:
        folders = sorted(entry.path for entry in os.scandir(sweep) if entry.is_dir())
    except OSError:
        return sweep / "0"
    return next((Path(f) for f in folders if read_record(f) is not None), sweep / "0")


@dataclass
class Trials:
    """Every study of a search execution, their trials as batches, told as they end."""

    job: Job
    root: Path
    studies: list[tuple[Batch, Study]]
    emit: Callable[[Event], None]
    notice: Callable[[str], None]
    _running: dict[Place, tuple[Study, int]] = field(default_factory=dict)
    _index: int = 0
    _said: bool = False
    # Where trials' hydraflow.report() lines arrive, and how far each file is read.
    reports: Path = field(default_factory=lambda: Path(REPORTS_DIR) / new_id())
    _read: dict[Place, int] = field(default_factory=dict)
    _pruned: set[Place] = field(default_factory=set)

    @classmethod
    def open(
        cls,
        job: Job,
        root: Path,
        bases: Sequence[Batch],
        *,
        resume: bool,
        emit: Callable[[Event], None],
        notice: Callable[[str], None],
    ) -> Trials:
        search = _search(job)
        goal = str(job.goal)
        studies = [
            (base, open_study(root, search, goal, study_name(job.key, base.each), resume=resume))
            for base in bases
        ]
        return cls(job, root, studies, emit, notice, reports=root / REPORTS_DIR / new_id())

    @property
    def left(self) -> int:
        return sum(study.to_ask for _, study in self.studies)

    @property
    def done(self) -> int:
        return sum(study.counted for _, study in self.studies)

    def batches(self) -> Iterator[Batch]:
        """A trial each time the pool pulls: asked now, when a slot is free."""
        for base, study in self.studies:
            while study.to_ask > 0:
                number, words = study.ask()
                batch = trial_batch(base, words, f"{study.name} #{number}", self._index)
                self._index += 1
                self._running[batch.place] = (study, number)
                yield batch

    def environment(self) -> dict[str, str]:
        """What a trial's batch needs for ``hydraflow.report`` to reach this process."""
        self.reports.mkdir(parents=True, exist_ok=True)
        return {REPORTS: str(self.reports)}

    def watch(self, launches: Sequence[L]) -> list[L]:
        """The running trials whose new reports make Optuna's pruner say stop."""
        pruned = []
        for launch in launches:
            place = launch.batch.place
            found = self._running.get(place)
            if found is None or place in self._pruned:
                continue
            study, number = found
            trial = study.asked.get(number)
            reported = self._new_reports(place, launch.batch.index)
            if trial is None or not reported:
                continue
            for step, value in reported:
                trial.report(value, step)
            if trial.should_prune():
                self._pruned.add(place)
                pruned.append(launch)
        return pruned

    def _new_reports(self, place: Place, index: int) -> list[tuple[int, float]]:
        """The whole lines written to the batch's report file since it was last read."""
        path = self.reports / f"{index}.jsonl"
        try:
            with open(path, "rb") as handle:
                handle.seek(self._read.get(place, 0))
                data = handle.read(1 << 20)
        except OSError:
            return []
        whole = data[: data.rfind(b"\n") + 1]
        self._read[place] = self._read.get(place, 0) + len(whole)
        found = []
        for line in whole.splitlines():
            try:
                item = json.loads(line)
                found.append((int(item["step"]), float(item["value"])))
            except (ValueError, KeyError, TypeError):
                continue  # not a line hydraflow.report wrote: the app's own business
        return found

    def handle(self, event: Event) -> None:
        if not isinstance(event, BatchFinished) or event.retrying:
            return
        found = self._running.pop(event.batch.place, None)
        if found is None:
            return
        study, number = found
        state, value = self._outcome(event, number)
        study.tell(number, state, value)
        best = study.best()
        self.emit(
            TrialTold(
                study.name,
                number,
                state,
                value,
                study.finished,
                study.wanted,
                self.job.metric or "value",
                best[0] if best else None,
                best[1] if best else None,
            )
        )

    def _outcome(self, event: BatchFinished, number: int) -> tuple[str, float | None]:
        if event.status == BatchStatus.INTERRUPTED:
            return LOST, None
        if event.status == BatchStatus.PRUNED or event.batch.place in self._pruned:
            return "pruned", None
        if event.status != BatchStatus.OK:
            return "failed", None
        value = metric_of(run_dir(self.root / event.sweep_dir), self.job)
        if value is None or math.isnan(value):
            if not self._said:  # once: every trial would say the same
                self._said = True
                self.notice(
                    f"trial {number}: no {self.job.metric!r} in what its run returned or in"
                    f" its metrics files ({', '.join(self.job.metrics)}); told as failed"
                )
            return "failed", None
        return "complete", value

    def close(self) -> None:
        """Trials asked and never ended here (the search stopped) are lost: failed in the
        study, and not counted, so a resume asks for them again."""
        for study, number in self._running.values():
            study.tell(number, LOST)
        self._running.clear()
        for _, study in self.studies:
            for number in list(study.asked):
                study.tell(number, LOST)
        shutil.rmtree(self.reports, ignore_errors=True)


def _search(job: Job) -> Search:
    assert job.search is not None
    return job.search
