"""Every job of a hydraflow.yaml as an Invoke task: ``ns = collection()`` in a tasks.py.

Tasks are built with Invoke's public API: a ``Task`` per job whose arguments come
from the flag table (``flags.RUN``), and a ``results`` task from ``flags.RESULTS``.
What Invoke offers no seam for is in ``invoking.hooks``, and only there.
"""

from __future__ import annotations

import contextlib
import copy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.parser.argument import Argument
from invoke.tasks import Task

from hydraflow import config as config_module
from hydraflow.config import Config, Job
from hydraflow.config.cache import Listing, listing
from hydraflow.errors import ConfigError, HydraflowError
from hydraflow.flags import (
    FORGET,
    PLOT,
    RESULTS,
    RUN,
    Command,
    ForgetOptions,
    PlotOptions,
    RunOptions,
)
from hydraflow.invoking import hooks
from hydraflow.stdio import flush_output, open_closed_streams, reader_went_away


def collection(path: str | Path | None = None) -> Collection:
    """An Invoke collection with one task per job of ``hydraflow.yaml``, and ``results``.

    The file is ``path`` (a hydraflow.yaml, or any file beside one, such as
    ``__file__``), else the one beside the tasks.py that Invoke found: the nearest at
    or above the working folder. A file that cannot be read hides no other task:
    its error is said once on stderr, and running a job says it again.
    """
    open_closed_streams()
    namespace = Collection()
    try:
        loaded = config_module.load(_locate(path))
    except ConfigError as error:
        text = str(error)
        _say(text, hooks.install(load_error=text.splitlines()[0], problems=[text]))
        return namespace
    lines = listing(loaded)
    for job in loaded.jobs.values():
        namespace.add_task(JobTask(loaded, job, lines))
    namespace.add_task(ResultsTask(loaded))
    namespace.add_task(ForgetTask(loaded))
    namespace.add_task(PlotTask(loaded))
    problems = [f"job {key!r} cannot run: {error}" for key, error in lines.problems.items()]
    hooked = hooks.install(problems=problems)
    for problem in problems:
        _say(problem, hooked)
    return namespace


def _say(problem: str, hooked: bool) -> None:
    """Said once: by a listing, where the hooks can tell one; else as the file is read."""
    if not hooked:
        sys.stderr.write(f"error: {problem}\n")


def _locate(path: str | Path | None) -> Path:
    """The hydraflow.yaml to read. Invoke walks up from the working folder to the first
    tasks.py and does not change folder: the same walk finds the file beside it."""
    if path is not None:
        given = Path(path)
        if given.is_dir():
            return given / config_module.FILENAME
        named = given.name == config_module.FILENAME
        return given if named else given.parent / config_module.FILENAME
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "tasks.py").is_file() or (folder / "tasks" / "__init__.py").is_file():
            beside = folder / config_module.FILENAME
            if beside.exists():
                return beside
            break
    return config_module.find()


def invoke_arguments(command: Command) -> list[Argument]:
    """The command's flags as Invoke arguments, from the same table the ``hydraflow``
    command's parser comes from."""
    arguments = []
    for flag in command.flags:
        # A one-letter flag (plot's x) is its own short flag: Invoke spells it -x alone.
        names = [flag.name.replace("_", "-"), *([flag.short] if flag.short else [])]
        names = list(dict.fromkeys(names))
        if flag.kind in ("switch", "negatable"):
            kind: Any = bool
            default: Any = flag.kind == "negatable"
        else:
            kind, default = (list, []) if flag.kind == "repeated" else (str, None)
        # An attribute name equal to the flag's would alias the flag to itself.
        attr_name = flag.name if flag.name != names[0] else None
        argument = Argument(
            names=names, kind=kind, default=default, help=flag.help, attr_name=attr_name
        )
        if kind is list:
            # Invoke starts a list as [], which its parser takes for a value given: a bare
            # `--only` would run every batch. Unset, it is an error like any other.
            argument.raw_value = None
        arguments.append(argument)
    return arguments


@contextlib.contextmanager
def endings_for_invoke() -> Iterator[None]:
    """hydraflow's endings, as Invoke takes them: an error in one line with its status;
    an output whose reader has gone, quietly (as the ``hydraflow`` command)."""
    try:
        yield
    except HydraflowError as error:
        raise Exit(f"error: {error}", code=error.exit_code) from None
    except BrokenPipeError:
        reader_went_away()
        raise Exit(code=0) from None
    finally:  # the status stays the task's own (141 for an execution whose reader went away)
        flush_output()


class _HydraflowTask(Task[Any]):
    """A task whose arguments come from a flag table. Invoke deep-copies every task of a
    tasks.py's ``ns`` before listing them; these share the loaded file instead of
    copying it, with a ``help`` of their own (the one thing Invoke changes)."""

    hydraflow_command: Command
    hydraflow_job: str | None = None

    def __init__(self, name: str, doc: str) -> None:
        super().__init__(self._call, name=name, positional=[], auto_shortflags=False)
        self.__doc__ = doc

    def __deepcopy__(self, memo: dict[int, Any]) -> _HydraflowTask:
        clone = copy.copy(self)
        clone.help = dict(self.help)
        return clone

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        return invoke_arguments(self.hydraflow_command)

    def describe(self) -> str:
        return self.__doc__ or ""

    def _call(self, c: Context, **flags: Any) -> None:
        raise NotImplementedError


class JobTask(_HydraflowTask):
    """``invoke JOB``: an execution of the job, with the run flags."""

    hydraflow_command = RUN

    def __init__(self, loaded: Config, job: Job, lines: Listing) -> None:
        self.loaded = loaded
        self.job = job
        self.hydraflow_job = job.key
        self.problem = lines.problems.get(job.key)
        first = job.help or lines.lines.get(job.key) or f"cannot run: {self.problem}"
        super().__init__(job.key, first)

    def describe(self) -> str:
        from hydraflow.config.describe import describe

        with contextlib.suppress(ConfigError):  # the job's own line already says why not
            return describe(self.job)
        return self.__doc__ or ""

    def _call(self, c: Context, **flags: Any) -> None:
        from hydraflow import app
        from hydraflow.engine.signals import signals_as_interrupts

        with signals_as_interrupts(), endings_for_invoke():
            if self.problem is not None:
                raise self.problem
            try:
                dry = flags.get("dry_run") or _dry(c)
                options = RunOptions.parse({**flags, "dry_run": dry})
                extra = hooks.remainder_words(getattr(c, "remainder", ""))
                rerun = f"invoke {self.job.key} --resume"
                code = app.execute(self.loaded.check(), self.job, options, extra, rerun=rerun)
            except KeyboardInterrupt:
                raise Exit(code=130) from None
        if code:
            raise Exit(code=code)


class ResultsTask(_HydraflowTask):
    """``invoke results``: every run of a job side by side. Named ``hydraflow-results``
    when a job already has the name ``results``."""

    hydraflow_command = RESULTS

    def __init__(self, loaded: Config) -> None:
        self.loaded = loaded
        name = "hydraflow-results" if "results" in loaded.jobs else "results"
        super().__init__(name, "Every run of a job side by side: status, parameters, metrics.")

    def _call(self, c: Context, **flags: Any) -> None:
        from dataclasses import replace

        from hydraflow import app
        from hydraflow.analysis.query import Query

        with endings_for_invoke():
            query = Query.of(RESULTS.parse(flags))
            if query.job:
                query = replace(query, job=self.loaded.job(query.job).key)
            app.show_results(self.loaded.check(), query)


class ForgetTask(_HydraflowTask):
    """``invoke forget``: take runs out of the ledger (and their folders, with
    ``--delete``). Named ``hydraflow-forget`` when a job already has the name."""

    hydraflow_command = FORGET

    def __init__(self, loaded: Config) -> None:
        self.loaded = loaded
        name = "hydraflow-forget" if "forget" in loaded.jobs else "forget"
        self.usage = f"invoke {name} --job JOB"
        super().__init__(name, "Forget runs of a job: status and results no longer show them.")

    def _call(self, c: Context, **flags: Any) -> None:
        from hydraflow import app

        with endings_for_invoke():
            options = ForgetOptions.parse(flags)
            code = app.forget(self.loaded.check(), options, usage=self.usage)
        if code:
            raise Exit(code=code)


class PlotTask(_HydraflowTask):
    """``invoke plot``: a metric of a job's runs against a parameter, as a picture. Named
    ``hydraflow-plot`` when a job already has the name."""

    hydraflow_command = PLOT

    def __init__(self, loaded: Config) -> None:
        self.loaded = loaded
        name = "hydraflow-plot" if "plot" in loaded.jobs else "plot"
        self.usage = f"invoke {name} --job JOB -x KEY -y METRIC"
        super().__init__(name, "Plot a metric of a job's runs against a parameter.")

    def _call(self, c: Context, **flags: Any) -> None:
        from hydraflow import app

        with endings_for_invoke():
            options = PlotOptions.parse(flags)
            app.plot(self.loaded.check(), options, usage=self.usage)


def _dry(c: Context) -> bool:
    """Invoke's own ``invoke --dry`` must never start a process either."""
    try:
        return bool(c.config.run.dry)
    except AttributeError:
        return False
