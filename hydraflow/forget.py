"""``hydraflow forget``: take runs out of what ``status`` and ``results`` show, and with
``--delete`` out of the disk.

``choose`` is a query: the runs as ``results`` shows them (the latest attempt of each
config, or every attempt), narrowed by ``--where``, less those whose batch is running
now. ``apply`` then records them as forgotten in the ledger, deletes the attempts of
every batch none of whose runs is left (so its batch reads as never run, and
``--resume`` runs it again in a new folder), and deletes folders only where asked and
only inside ``multirun/``. Talking to the user is the front end's.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hydraflow.analysis.collect import Placed, find, latest
from hydraflow.analysis.model import cell
from hydraflow.analysis.reading import same_values
from hydraflow.analysis.table import unmatched, varying, where
from hydraflow.config import Config, Job
from hydraflow.ledger import LEDGER, Ledger
from hydraflow.ledger.forgotten import Place, forget
from hydraflow.plan import SWEEP_ROOT
from hydraflow.words import params_of


@dataclass(frozen=True)
class Choice:
    """What a forget would do to one job."""

    job: str
    runs: list[Placed]  # the runs to forget
    running: list[Placed]  # chosen, but their batch is running now: left alone
    whole: list[str]  # sweep dirs none of whose runs is left once these go
    columns: list[str]  # the parameters that vary among the runs it chose from
    older: int  # earlier attempts of the chosen configs, which stay (without --all-attempts)
    search: bool = False  # a search job's runs are its trials: none is asked again
    problems: list[str] = field(default_factory=list)  # what could not be read
    unmatched: str = ""  # why --where chose nothing, with the values there are

    @property
    def partial(self) -> int:
        """Runs going whose batch keeps other runs: ``--resume`` takes such a batch as done."""
        return sum(1 for one in self.runs if one.sweep not in self.whole)

    def line(self, placed: Placed) -> str:
        """A run as a forget lists it: status, the parameters that vary, folder."""
        run = placed.run
        words = [f"{key}={cell(run.params[key])}" for key in self.columns if key in run.params]
        return "  ".join([f"{run.status:<11}", " ".join(words), run.folder or "-"])


@dataclass
class Outcome:
    """What a forget did."""

    forgotten: int = 0
    batches: int = 0  # batches whose attempts left the ledger (none of their runs is left)
    running: list[str] = field(default_factory=list)  # claimed meanwhile: nothing changed there
    deleted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # folders not deleted, with why


def choose(config: Config, job: Job, where_: Sequence[str], *, all_attempts: bool) -> Choice:
    """The runs of ``job`` that a forget takes, and what it leaves and why."""
    found = find(config, job.key)
    placed = found.runs.get(job.key, [])
    every = [one.run for one in placed]
    shown = every if all_attempts else latest(every)
    picked = where(shown, where_) if where_ else shown
    ids = {id(run) for run in picked}  # runs carry dicts: they are told apart by identity
    chosen = [one for one in placed if id(one.run) in ids]
    busy = _running(config.root, job.key)
    going = [one for one in chosen if one.sweep not in busy]
    return Choice(
        job=job.key,
        runs=going,
        running=[one for one in chosen if one.sweep in busy],
        whole=_emptied(placed, going),
        columns=varying(shown),
        older=_older(placed, going),
        search=job.search is not None,
        problems=found.problems,
        unmatched=unmatched(shown, where_) if shown and where_ and not picked else "",
    )


def _running(root: Path, job: str) -> set[str]:
    """The sweep dirs where a batch of ``job`` (or a rerun of some of its runs) is running
    or queued now. Their runs are left alone: a run folder deleted under a batch would
    turn its end into a failure, and its rows are the runner's to write."""
    ledger = Ledger.existing(root)
    if ledger is None:
        return set()
    try:
        return {attempt.sweep_dir for attempt in ledger.attempts(job) if attempt.state.live}
    finally:
        ledger.close()


def _emptied(placed: Sequence[Placed], going: Sequence[Placed]) -> list[str]:
    """The sweep dirs every run of which goes (those forgotten before are already out)."""
    ids = {id(one) for one in going}
    left = {one.sweep for one in placed if id(one) not in ids}
    return list(dict.fromkeys(one.sweep for one in going if one.sweep not in left))


def _older(placed: Sequence[Placed], going: Sequence[Placed]) -> int:
    """How many other attempts of the configs going stay: ``results`` shows them next."""
    ids = {id(one) for one in going}
    configs = {same_values(params_of(one.run.overrides)) for one in going}
    return sum(
        1
        for one in placed
        if id(one) not in ids and same_values(params_of(one.run.overrides)) in configs
    )


def apply(config: Config, choice: Choice, *, delete: bool) -> Outcome:
    """Forget the chosen runs (made anew in the ledger, which holds what is forgotten even
    for runs made without it), then delete their folders when asked."""
    ledger = Ledger(config.root / LEDGER)
    try:
        places = [
            Place(one.place, one.sweep, one.run.started.timestamp() if one.run.started else None)
            for one in choice.runs
        ]
        busy = forget(ledger, choice.job, places, choice.whole)
    finally:
        ledger.close()
    runs = [one for one in choice.runs if one.sweep not in busy]
    whole = [sweep for sweep in choice.whole if sweep not in busy]
    outcome = Outcome(len(runs), len(whole), sorted(busy))
    if delete:
        _delete(config.root, runs, whole, outcome)
    return outcome


def _delete(root: Path, runs: Sequence[Placed], whole: Sequence[str], outcome: Outcome) -> None:
    """Each run's folder, then each sweep dir none of whose runs is left once it holds no
    folder any more (a run forgotten before without ``--delete`` keeps its own)."""
    for one in runs:
        if one.run.dir is not None:
            _remove(root, one.place, outcome)
    for sweep in whole:
        if not _has_folders(root / sweep):
            _remove(root, sweep, outcome)


def _remove(root: Path, folder: str, outcome: Outcome) -> None:
    path = root / folder
    if not os.path.lexists(path):
        return  # gone already
    target, why = inside_multirun(root, folder)
    if target is None:
        outcome.refused.append(f"{folder}: {why}")
        return
    problems = _rmtree(target)
    if problems:
        outcome.refused.append(f"{folder}: could not delete {'; '.join(problems[:3])}")
    else:
        outcome.deleted.append(folder)


def inside_multirun(root: Path, folder: str) -> tuple[Path | None, str]:
    """The folder's real path when it lies inside ``multirun/`` as its name says, else
    None and why. ``multirun`` itself may be a link (to a larger disk): inside it is
    inside. A link below it is never followed, even to another place inside it."""
    base = (root / SWEEP_ROOT).resolve()
    try:
        relative = (root / folder).relative_to(root / SWEEP_ROOT)
    except ValueError:
        return None, f"not inside {SWEEP_ROOT}/"
    if not relative.parts or ".." in relative.parts:
        return None, f"not inside {SWEEP_ROOT}/"
    real = (root / folder).resolve()
    if real != base / relative:
        return None, f"a link leads it to {real}; only folders inside {SWEEP_ROOT}/ are deleted"
    return real, ""


def _has_folders(path: Path) -> bool:
    """A sub-folder is a run's (a launcher's own, such as ``.submitit``, starts with a dot)."""
    try:
        with os.scandir(path) as entries:
            return any(
                e.is_dir(follow_symlinks=False) and not e.name.startswith(".") for e in entries
            )
    except OSError:
        return False


def _rmtree(path: Path) -> list[str]:
    """Delete a folder (links inside it are removed, never followed); what stayed, and why."""
    problems: list[str] = []

    def failed(path: str, error: BaseException) -> None:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        problems.append(f"{path}: {reason}")

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=lambda _function, where, error: failed(where, error))
    else:
        shutil.rmtree(path, onerror=lambda _function, where, info: failed(where, info[1]))
    return problems
