"""Every job of a hydraflow.yaml as an Invoke task: ``ns = collection()`` in a tasks.py."""

from __future__ import annotations

import contextlib
import copy
import difflib
import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit, ParseError
from invoke.parser.argument import Argument
from invoke.tasks import Task

from hydraflow import config as config_module
from hydraflow.config import Config, Job
from hydraflow.config.cache import summaries
from hydraflow.errors import UsageError, did_you_mean
from hydraflow.options import FLAGS, parse_options
from hydraflow.stdio import flush_output, open_closed_streams, reader_went_away

_DEFAULTS: dict[str, Any] = {"switch": False, "negatable": True, "value": None, "repeated": []}
_BY_NAME = {flag.name: flag for flag in FLAGS}


def collection(path: str | Path | None = None) -> Collection:
    """An Invoke collection with one task per job of ``hydraflow.yaml``.

    The file is the one next to the calling tasks.py (Invoke does not change
    directory), or ``path``. A broken file, or a misspelled flag of a job on
    the command line, stops Invoke with one error line and status 2, before
    any task is listed or run.
    """
    open_closed_streams()
    frame = inspect.currentframe()
    program = _calling_program(frame)
    try:
        loaded = config_module.load(_locate(path, frame))
        detailed = program is None or _asks_for_help(program)
        maker = _TaskMaker(loaded, detailed=detailed, lines={} if detailed else summaries(loaded))
        tasks = [maker.task(job) for job in loaded.jobs.values()]
        if program is not None:
            _check_command_line(list(loaded.jobs), program)
    except UsageError as error:
        from hydraflow.app import error_line

        sys.stderr.write(error_line(error) + "\n")
        raise SystemExit(error.exit_code) from None
    namespace = Collection()
    for task in tasks:
        namespace.add_task(task)
    namespace.add_task(_results_task(loaded))
    if program is not None and _asks_for_help(program):
        _show_placeholders_in_help(program, list(loaded.jobs))
    if program is not None:
        _quiet_when_the_reader_goes(program)
        _suggest_task_names(program)
    return namespace


# Invoke's words for a task it does not know; a word like a flag is some task's flag,
# never a misspelled task.
_UNKNOWN_TASK = re.compile(r"No idea what '([^-].*)' is!")


def _suggest_task_names(program: Any) -> None:
    """``invoke trian`` says ``No idea what 'trian' is! (did you mean 'train'?)``, status 2
    as for a misspelled flag. The suggestion is made only once Invoke has failed, among
    every task of the program: tasks.py may hold tasks of its own beside the jobs."""
    for name in ("parse_tasks", "parse_cleanup"):
        parse = getattr(program, name)

        def suggesting(parse: Any = parse) -> None:
            try:
                parse()
            except ParseError as error:
                unknown = _UNKNOWN_TASK.fullmatch(str(error))
                names = list(program.collection.task_names) if program.collection else []
                hint = did_you_mean(unknown.group(1), names) if unknown else ""
                if not hint:
                    raise
                raise Exit(f"{error}{hint}", code=2) from None

        setattr(program, name, suggesting)


def _quiet_when_the_reader_goes(program: Any) -> None:
    """``invoke --list | head -1`` ends quietly, as a dry run does, not with Invoke's
    traceback of the closed pipe."""
    for name in ("list_tasks", "print_task_help"):
        shown = getattr(program, name)

        def quiet(*args: Any, shown: Any = shown) -> None:
            with _endings_for_invoke():
                shown(*args)

        setattr(program, name, quiet)


@contextlib.contextmanager
def _endings_for_invoke() -> Iterator[None]:
    """hydraflow's endings, as Invoke takes them: a usage error in one line with its
    status; an output whose reader has gone, quietly (as the ``hydraflow`` command)."""
    try:
        yield
    except UsageError as error:
        from hydraflow.app import error_line

        raise Exit(error_line(error), code=error.exit_code) from None
    except BrokenPipeError:
        reader_went_away()
        raise Exit(code=0) from None
    finally:  # the status stays the task's own (141 for a run whose reader went away)
        flush_output()


def _asks_for_help(program: Any) -> bool:
    """Whether this command line shows task help (the only place the long description is read)."""
    return bool(program.args.help.value) or any(
        word in ("-h", "--help") for word in program.core.unparsed
    )


def _check_command_line(names: list[str], program: Any) -> None:
    """Rewrite job names to Invoke's spelling, and refuse a job flag that does not exist.

    Invoke turns every ``_`` of a task name into ``-`` (or the reverse when
    ``tasks.auto_dash_names`` is off), so one task cannot answer to both
    spellings; the command line is already split when tasks.py is imported,
    so the words naming a job are rewritten there. A misspelled flag such as
    ``--dry-rn`` must never start a run: it is an error here, before Invoke
    would report it with status 1.
    """
    dashes = bool(program.config.tasks.auto_dash_names)
    canonical = {}
    for name in names:
        plain = name.replace("-", "_")
        canonical[plain] = plain.replace("_", "-") if dashes else plain
    results = _results_name(names)
    words = program.core.unparsed
    in_job = in_results = ""
    takes_value = False
    for index, word in enumerate(words):
        if word == "--":
            break
        if takes_value:
            takes_value = False
            continue
        if word.startswith("-"):
            if in_job:
                takes_value = _job_flag(word, in_job)
            elif in_results:
                takes_value = word in _RESULTS_VALUES
            continue
        prefix, dot, last = word.rpartition(".")
        target = canonical.get(last.replace("-", "_"))
        if in_results and target is not None:  # Invoke would run the job after the table
            raise UsageError(
                f"{results}: a job is chosen with --job: invoke {results} --job {word}"
            )
        in_results = word if last == results else ""
        if target is not None:
            words[index] = f"{prefix}{dot}{target}"
            in_job = target
        else:
            in_job = ""


def _job_flag(word: str, job: str) -> bool:
    """Check one flag word after a job's name; True when the next word is its value."""
    if word in ("-h", "--help"):
        return False
    if word.startswith("--"):
        name, eq, _ = word[2:].partition("=")
        flag = _BY_NAME.get(name.replace("-", "_"))
        if flag is None and name.startswith("no-"):
            negated = _BY_NAME.get(name[3:].replace("-", "_"))
            flag = negated if negated is not None and negated.kind == "negatable" else None
        if flag is not None:
            return flag.kind in ("value", "repeated") and not eq
    else:
        letters = word[1:]
        flags = [next((f for f in FLAGS if f.short == c), None) for c in letters]
        if letters and flags[0] is not None:
            first = flags[0]
            if first.kind in ("value", "repeated"):
                return len(letters) == 1
            if all(f is not None and f.kind == "switch" for f in flags):
                return False
    raise UsageError(
        f"{job}: unknown flag {word!r}{_nearest_flag(word)}; words for the command go after --"
    )


def _nearest_flag(word: str) -> str:
    names = [flag.long for flag in FLAGS] + ["--no-ledger", "--help"]
    close = difflib.get_close_matches(word.partition("=")[0], names, n=1, cutoff=0.5)
    return f" (did you mean {close[0]}?)" if close else ""


def _show_placeholders_in_help(program: Any, names: list[str]) -> None:
    """Invoke writes every value as ``STRING`` (and a repeatable one as nothing):
    this program's help for a job, and for ``results``, shows each flag's own
    placeholder instead."""
    original = program.print_task_help
    dashed = {name.replace("_", "-") for name in names} | set(names)
    results = _results_name(names)
    job_metavars = {flag.name: flag.metavar for flag in FLAGS if flag.metavar}

    def print_task_help(name: str) -> None:
        task = name.rpartition(".")[2]
        metavars = job_metavars if task in dashed else _RESULTS_METAVARS if task == results else {}
        if metavars:
            context = program.parser.contexts[name]
            plain_help_for = context.help_for

            def help_for(flag: str) -> tuple[str, str]:
                spec, text = plain_help_for(flag)
                argument = context.flags[flag]
                metavar = metavars.get(argument.attr_name or argument.name)
                return (_placeholder(spec, metavar) if metavar else spec), text

            context.help_for = help_for
        original(name)

    program.print_task_help = print_task_help


def _placeholder(spec: str, metavar: str) -> str:
    names = [part.split("=")[0].split(" ")[0] for part in spec.split(", ")]
    return ", ".join(
        f"{name} {metavar}" if len(name) == 2 else f"{name}={metavar}" for name in names
    )


def _calling_program(frame: Any) -> Any:
    from invoke.program import Program

    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, Program) and getattr(candidate, "core", None) is not None:
            return candidate
        frame = frame.f_back
    return None


def _locate(path: str | Path | None, frame: Any) -> Path:
    if path is not None:
        return Path(path)
    caller = frame.f_back.f_globals.get("__file__") if frame and frame.f_back else None
    if caller:
        return Path(caller).resolve().parent / config_module.FILENAME
    return config_module.find()


class _TaskMaker:
    """Builds one task per job; the signature and flag help are made once and shared."""

    def __init__(self, loaded: Config, *, detailed: bool, lines: dict[str, str]) -> None:
        self.loaded = loaded
        self.detailed = detailed
        self.lines = lines
        parameters = [inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        for flag in FLAGS:
            parameters.append(
                inspect.Parameter(
                    flag.name, inspect.Parameter.KEYWORD_ONLY, default=_DEFAULTS[flag.kind]
                )
            )
        self.signature = inspect.Signature(parameters)
        self.help = {flag.name: flag.help for flag in FLAGS}
        self.iterable = [flag.name for flag in FLAGS if flag.kind == "repeated"]

    def task(self, job: Job) -> Task[Any]:
        """A task whose flags are the run flags and whose body runs the job."""
        loaded = self.loaded

        def body(c: Context, **flags: Any) -> None:
            from hydraflow import app
            from hydraflow.engine.signals import signals_as_interrupts

            with signals_as_interrupts(), _endings_for_invoke():
                try:
                    options = parse_options({**flags, "dry_run": flags["dry_run"] or _dry(c)})
                    code = app.run(
                        loaded, job, options, _extra_args(), rerun=f"invoke {job.key} --resume"
                    )
                except KeyboardInterrupt:
                    raise Exit(code=130) from None
            if code:
                raise Exit(code=code)

        body.__signature__ = self.signature  # type: ignore[attr-defined]
        # Listing reads only the first line; counting every set is left to task help.
        if self.detailed:
            body.__doc__ = describe(job)
        else:
            body.__doc__ = job.help or self.lines.get(job.key) or job.summary()
        body.__name__ = job.key
        return _JobTask(
            body, name=job.key, help=dict(self.help), iterable=self.iterable, auto_shortflags=False
        )


class _RepeatedFlagsNeedValues(Task[Any]):
    """Invoke starts a repeatable flag's value as ``[]``, which its parser takes for a
    value given: ``invoke train --only`` would run every batch. Starting it unset makes a
    bare ``--only`` an error, as it is for every other flag that takes a value."""

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        arguments = super().get_arguments(ignore_unknown_help)
        for argument in arguments:
            if argument.kind is list:
                argument.raw_value = None
        return arguments


class _JobTask(_RepeatedFlagsNeedValues):
    """A job's task: cheap to copy, with the short flags hydraflow chose.

    Invoke deep-copies every task of a module's ``ns`` before it lists them;
    for a job task that meant copying its signature, a third of the cost of
    ``invoke --list``. Only ``help`` is changed by Invoke (it pops entries), so
    a shallow copy with its own ``help`` is as independent as a deep one.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> _JobTask:
        clone = copy.copy(self)
        clone.help = dict(self.help)
        return clone

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names)
        flag = _BY_NAME.get(name)
        if flag is not None and flag.short:
            opts["names"] = [*opts["names"], flag.short]
        return opts


RESULTS_HELP = {
    "job": "the job's name (default: every job)",
    "where": "only runs whose KEY matches PAT[,PAT] (globs, as --only; KEY= for none; repeatable)",
    "sort": "order by a parameter or metric (groups: by its mean)",
    "reverse": "largest first",
    "top": "only the first N rows (or groups)",
    "group_by": "one row per value of KEY[,KEY]: count, ok count, mean ± std of each metric",
    "json": "a JSON list, for programs",
    "csv": "CSV: a header row, a row per run",
    "md": "a Markdown table",
    "all_columns": "every parameter, not only those that vary",
}


def _results_task(loaded: Config) -> Task[Any]:
    """``invoke results``: every run of a job side by side. Named ``hydraflow-results``
    when a job already has the name ``results``."""

    def results(
        c: Context,
        job: str = "",
        where: list[str] | None = None,
        sort: str = "",
        reverse: bool = False,
        top: str = "",
        group_by: str = "",
        json: bool = False,
        csv: bool = False,
        md: bool = False,
        all_columns: bool = False,
    ) -> None:
        """Every run of a job side by side: status, parameters, metrics, duration, folder."""
        from dataclasses import replace

        from hydraflow import app
        from hydraflow.analysis.table import Query

        with _endings_for_invoke():
            query = Query.parse(
                job=job, where=where or [], sort=sort, reverse=reverse, top=top,
                group_by=group_by, json=json, csv=csv, md=md, all_columns=all_columns,
            )  # fmt: skip
            if query.job:
                query = replace(query, job=loaded.job(query.job).key)
            app.show_results(loaded.check(), query)

    return _ResultsTask(
        results,
        name=_results_name(list(loaded.jobs)),
        help=dict(RESULTS_HELP),
        iterable=["where"],
        auto_shortflags=False,
    )


def _results_name(jobs: list[str]) -> str:
    return "hydraflow-results" if "results" in jobs else "results"


# No -j or -t: after a job's name they are --jobs and --timeout, and must not mean
# something else one task over.
_RESULTS_SHORT = {"where": "w", "sort": "s", "group_by": "g"}
_RESULTS_METAVARS = {
    "job": "JOB", "where": "KEY=PAT", "sort": "KEY", "top": "N", "group_by": "KEY[,KEY]",
}  # fmt: skip
_RESULTS_VALUES = {
    *(f"-{short}" for short in _RESULTS_SHORT.values()),
    *(f"--{name.replace('_', '-')}" for name in (*_RESULTS_SHORT, "job", "top")),
}


class _ResultsTask(_RepeatedFlagsNeedValues):
    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names)
        if name in _RESULTS_SHORT:
            opts["names"] = [*opts["names"], _RESULTS_SHORT[name]]
        return opts


def describe(job: Job) -> str:
    """The first line is what ``invoke --list`` shows; the rest is for ``invoke --help JOB``."""
    lines = [job.help or job.summary(), "", f"{job.mode}: {job.command_text}"]
    if job.add:
        lines.append(f"add: {' '.join(job.add)}")
    for number, job_set in enumerate(job.sets, 1):
        parts = [
            f"{key}: {text}"
            for key, text in (("each", job_set.each), ("zip", job_set.zip), ("all", job_set.all))
            if text
        ]
        if job_set.add is not None:
            parts.append(f"add: {' '.join(job_set.add)}")
        lines.append(
            f"set {number}: {' | '.join(' '.join(p.split()) for p in parts) or '(empty)'}"
            f" -> {job_set.batches} batches, {job_set.runs} Hydra runs"
        )
    lines += [
        f"total: {job.batches} batches, {job.runs} Hydra runs.",
        "Words after -- go to the command (KEY=VALUE overrides replace the job's own).",
        f"Examples: invoke {job.key} --dry-run | invoke {job.key} -j 2 | "
        f"invoke {job.key} --resume | invoke {job.key} -- epochs=1",
    ]
    return "\n".join(lines)


def _dry(c: Context) -> bool:
    """Invoke's own ``invoke --dry`` must never start a process either."""
    try:
        return bool(c.config.run.dry)
    except AttributeError:
        return False


def _extra_args() -> list[str]:
    # Invoke's c.remainder re-joins words with spaces and loses their quoting.
    argv = sys.argv
    return argv[argv.index("--") + 1 :] if "--" in argv else []
