"""Optuna's side of a search: its storage, the sampler and pruner, ask and tell.

Only hydraflow's own process talks to Optuna: a trial's batch gets its values as
overrides and never sees a study. Studies live in ``.hydraflow/optuna.db`` (Optuna's
own SQLite storage, so ``optuna-dashboard`` reads it too), one per job and ``each``
combination. Optuna is imported here only, and only when a search runs or previews.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from hydraflow.config.search import Pruner, Sampler, Search
from hydraflow.errors import UsageError
from hydraflow.sweep.space import Choice, Dimension, Interval, Space, Steps, number_text

STORAGE = Path(".hydraflow") / "optuna.db"
INSTALL = "pip install 'hydraflow[search]'"
# A trial that was running when hydraflow stopped (killed, interrupted): failed, not counted.
LOST = "lost"
ATTR = "hydraflow"


def optuna_module() -> Any:
    """Optuna, or a usage error that names the install command."""
    try:
        import optuna
    except ImportError:
        raise UsageError(f"search jobs need Optuna: {INSTALL}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def prefetch() -> None:
    """Import Optuna (and its storage's tables) in a thread of its own, so that it is ready
    when the studies open: it takes about a second, which the check before launch (a
    process of its own) and the ledger's start would otherwise wait for first. Where it
    fails, opening the studies says why."""
    import threading

    def load() -> None:
        with contextlib.suppress(Exception):
            importlib.import_module("optuna")
            importlib.import_module("optuna.storages._rdb.models")

    threading.Thread(target=load, name="hydraflow-optuna-import", daemon=True).start()


def study_name(job: str, each: Iterable[str]) -> str:
    """``tune``, or ``tune[optimizer=sgd]`` for one combination of the sets."""
    words = " ".join(each)
    return f"{job}[{words}]" if words else job


def distributions(space: Space) -> dict[str, Any]:
    """Optuna's distribution of every searched key."""
    optuna = optuna_module()
    dist = optuna.distributions
    made: dict[str, Any] = {}
    for key, dimension in space.dimensions:
        if isinstance(dimension, Choice):
            made[key] = dist.CategoricalDistribution(list(dimension.values))
        elif isinstance(dimension, Steps):
            if dimension.integer:
                low, high, step = int(dimension.low), int(dimension.high), int(dimension.step)
                made[key] = dist.IntDistribution(low, high, step=step)
            else:
                low_, high_ = float(dimension.low), float(dimension.high)
                made[key] = dist.FloatDistribution(low_, high_, step=float(dimension.step))
        elif dimension.integer:
            made[key] = dist.IntDistribution(
                int(dimension.low), int(dimension.high), log=dimension.log
            )
        else:
            made[key] = dist.FloatDistribution(dimension.low, dimension.high, log=dimension.log)
    return made


def grid(space: Space) -> dict[str, list[Any]]:
    """The grid sampler's points, valued as the distributions give them."""
    points: dict[str, list[Any]] = {}
    for key, dimension in space.dimensions:
        if isinstance(dimension, Choice):
            points[key] = list(dimension.values)
        elif isinstance(dimension, Steps):
            kind = int if dimension.integer else float
            points[key] = [kind(Decimal(value)) for value in dimension.values()]
        else:
            raise UsageError("the grid sampler cannot walk an interval")
    return points


def word(key: str, dimension: Dimension, value: Any) -> str:
    """The override for a trial's value: ``lr=0.00123``, ``epochs=20``, ``model=small``.
    A stepped float is written from its step, so 0.1 steps never read 0.30000000000000004."""
    if isinstance(dimension, Choice):
        return f"{key}={value}"
    if isinstance(dimension, Steps) and not dimension.integer:
        steps = round((Decimal(repr(float(value))) - dimension.low) / dimension.step)
        return f"{key}={number_text(dimension.low + steps * dimension.step)}"
    if isinstance(dimension, Interval) and not dimension.integer:
        return f"{key}={number_text(float(value))}"
    return f"{key}={int(value)}"


def make_sampler(search: Search, done: int) -> Any:
    """The sampler, seeded from the seed and the trials the study has: a resumed study
    never walks again the points its first attempt already proposed."""
    samplers = optuna_module().samplers
    seed = None if search.seed is None else search.seed + done
    if search.sampler == Sampler.RANDOM:
        return samplers.RandomSampler(seed=seed)
    if search.sampler == Sampler.CMAES:
        if importlib.util.find_spec("cmaes") is None:
            raise UsageError("the cmaes sampler needs the cmaes package: pip install cmaes")
        return samplers.CmaEsSampler(seed=seed)
    if search.sampler == Sampler.GRID:
        return samplers.GridSampler(grid(search.space), seed=seed)
    # The constant liar keeps parallel trials apart: a running trial counts as a bad one.
    return samplers.TPESampler(seed=seed, constant_liar=True)


def make_pruner(search: Search) -> Any:
    pruners = optuna_module().pruners
    if search.pruner == Pruner.HYPERBAND:
        return pruners.HyperbandPruner()
    if search.pruner == Pruner.NONE:
        return pruners.NopPruner()
    return pruners.MedianPruner()


def storage_url(root: Path) -> str:
    return f"sqlite:///{(root / STORAGE).resolve()}"


def names(root: Path) -> list[str]:
    """The studies stored in the project, or none when it has no storage yet."""
    if not (root / STORAGE).is_file():
        return []
    optuna = optuna_module()
    return list(optuna.study.get_all_study_names(storage_url(root)))


def latest_of(base: str, stored: Iterable[str]) -> str | None:
    """The latest study of ``base``: ``base`` itself, or ``base #3`` after two new starts."""
    numbered = {1 if name == base else _number(name, base) for name in stored}
    numbered.discard(0)
    if not numbered:
        return None
    last = max(numbered)
    return base if last == 1 else f"{base} #{last}"


def _number(name: str, base: str) -> int:
    suffix = name.removeprefix(f"{base} #")
    return int(suffix) if suffix != name and suffix.isdigit() else 0


def next_name(base: str, stored: Iterable[str]) -> str:
    """A new study for a new search: the old ones stay, for results and the dashboard."""
    stored = list(stored)
    latest = latest_of(base, stored)
    if latest is None:
        return base
    return f"{base} #{(_number(latest, base) or 1) + 1}"


@dataclass
class Study:
    """One study while a search runs: the trials it asked, what it was told."""

    name: str
    search: Search
    goal: str
    study: Any  # optuna.Study
    counted: int  # trials finished before this execution (not lost ones)
    asked: dict[int, Any] = field(default_factory=dict)  # number -> optuna.Trial, running
    told: int = 0

    @property
    def wanted(self) -> int:
        """Trials it should finish: ``trials``, or the grid's size when that is smaller."""
        size = self.search.space.size() if self.search.sampler == Sampler.GRID else None
        return min(self.search.trials, size) if size else self.search.trials

    @property
    def finished(self) -> int:
        return self.counted + self.told

    @property
    def to_ask(self) -> int:
        return max(0, self.wanted - self.finished - len(self.asked))

    def ask(self) -> tuple[int, tuple[str, ...]]:
        """A new trial: its number and its override words (searched, then fixed)."""
        space = self.search.space
        trial = self.study.ask(distributions(space))
        self.asked[trial.number] = trial
        words = tuple(word(key, dim, trial.params[key]) for key, dim in space.dimensions)
        return trial.number, (*words, *space.fixed)

    def tell(self, number: int, state: str, value: float | None = None) -> None:
        """How a trial ended: ``complete`` with its value, ``pruned``, ``failed`` or
        ``lost`` (failed, and not counted: it was stopped with the whole search)."""
        trial_state = optuna_module().trial.TrialState
        trial = self.asked.pop(number)
        if state == LOST:
            trial.set_user_attr(ATTR, LOST)
        states = {"complete": trial_state.COMPLETE, "pruned": trial_state.PRUNED}
        told = states.get(state, trial_state.FAIL)
        self.study.tell(trial, value if told == trial_state.COMPLETE else None, state=told)
        if state != LOST:
            self.told += 1

    def best(self) -> tuple[float, int] | None:
        """The best value so far and its trial's number."""
        complete = self.study.get_trials(deepcopy=False, states=(_state("COMPLETE"),))
        if not complete:
            return None
        pick = min if self.goal == "minimize" else max
        trial = pick(complete, key=lambda t: t.value)
        return float(trial.value), int(trial.number)


def _state(name: str) -> Any:
    return getattr(optuna_module().trial.TrialState, name)


def counted(study: Any) -> int:
    """Trials finished in earlier executions; one running when hydraflow was killed is
    lost (failed now, as Optuna left it running) and does not count."""
    trial_state = optuna_module().trial.TrialState
    for trial in study.get_trials(deepcopy=False, states=(trial_state.RUNNING,)):
        study._storage.set_trial_user_attr(trial._trial_id, ATTR, LOST)
        study.tell(trial.number, state=trial_state.FAIL)
    ended = (trial_state.COMPLETE, trial_state.PRUNED, trial_state.FAIL)
    trials = study.get_trials(deepcopy=False, states=ended)
    return sum(trial.user_attrs.get(ATTR) != LOST for trial in trials)


def open_study(root: Path, search: Search, goal: str, base: str, *, resume: bool) -> Study:
    """The study to run: the latest of ``base`` on ``--resume``, else a new one."""
    optuna = optuna_module()
    (root / STORAGE).parent.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.RDBStorage(storage_url(root))
    stored = optuna.study.get_all_study_names(storage)
    latest = latest_of(base, stored) if resume else None
    name = latest or next_name(base, stored)
    study = optuna.create_study(
        storage=storage, study_name=name, direction=goal, load_if_exists=True
    )
    done = counted(study) if latest else 0
    study.sampler = make_sampler(search, len(study.trials))
    study.pruner = make_pruner(search)
    return Study(name, search, goal, study, done)


def peek(root: Path, base: str) -> tuple[str, int] | None:
    """For a dry run: the latest study of ``base`` and its finished trials, read only."""
    stored = names(root)
    latest = latest_of(base, stored)
    if latest is None:
        return None
    optuna = optuna_module()
    study = optuna.load_study(study_name=latest, storage=storage_url(root))
    ended = tuple(_state(name) for name in ("COMPLETE", "PRUNED", "FAIL"))
    trials = study.get_trials(deepcopy=False, states=ended)
    return latest, sum(t.user_attrs.get(ATTR) != LOST for t in trials)


@dataclass(frozen=True)
class Progress:
    """Where a study stands, for ``hydraflow status``."""

    study: str
    finished: int
    wanted: int
    best: tuple[float, int] | None  # the best value and its trial's number

    def line(self, metric: str) -> str:
        """``tune[optimizer=sgd]: 12/40 trials, best loss 0.0612 (#12)``"""
        best = f", best {metric} {self.best[0]:.6g} (#{self.best[1]})" if self.best else ""
        return f"{self.study}: {self.finished}/{self.wanted} trials{best}"


def progress(root: Path, search: Search, goal: str, bases: Iterable[str]) -> list[Progress]:
    """The latest study of each of ``bases`` that exists, read only (Optuna is imported only
    when the storage is there)."""
    if not (root / STORAGE).is_file():
        return []
    stored = names(root)
    found = []
    for base in bases:
        latest = latest_of(base, stored)
        if latest is None:
            continue
        study = optuna_module().load_study(study_name=latest, storage=storage_url(root))
        ended = tuple(_state(name) for name in ("COMPLETE", "PRUNED", "FAIL"))
        trials = study.get_trials(deepcopy=False, states=ended)
        finished = sum(t.user_attrs.get(ATTR) != LOST for t in trials)
        complete = [t for t in trials if t.state == _state("COMPLETE") and t.value is not None]
        pick = min if goal == "minimize" else max
        chosen = pick(complete, key=lambda t: t.value) if complete else None
        best = (float(chosen.value), int(chosen.number)) if chosen is not None else None
        found.append(Progress(latest, finished, search.trials, best))
    return found
