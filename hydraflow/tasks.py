"""Every job of a hydraflow.yaml as an Invoke task: ``ns = collection()`` in a tasks.py."""

from __future__ import annotations

import copy
import inspect
import sys
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import Task

from hydraflow import config as config_module
from hydraflow.config import Config, Job
from hydraflow.errors import UsageError
from hydraflow.options import flag_specs, parse_options


def collection(path: str | Path | None = None) -> Collection:
    """An Invoke collection with one task per job of ``hydraflow.yaml``.

    The file is the one next to the calling tasks.py (Invoke does not change
    directory), or ``path``. A broken file stops Invoke with the error and
    status 2, before any task is listed or run.
    """
    frame = inspect.currentframe()
    program = _calling_program(frame)
    try:
        loaded = config_module.load(_locate(path, frame))
        maker = _TaskMaker(loaded, detailed=program is None or _asks_for_help(program))
        tasks = [maker.task(job) for job in loaded.jobs.values()]
    except UsageError as error:
        sys.stderr.write(f"error: {error}\n")
        raise SystemExit(error.exit_code) from None
    namespace = Collection()
    for task in tasks:
        namespace.add_task(task)
    if program is not None:
        _accept_either_separator(list(loaded.jobs), program)
    return namespace


def _asks_for_help(program: Any) -> bool:
    """Whether this command line shows task help (the only place the long description is read)."""
    return bool(program.args.help.value) or any(
        word in ("-h", "--help") for word in program.core.unparsed
    )


def _accept_either_separator(names: list[str], program: Any) -> None:
    """Let ``invoke eval_all`` run the task Invoke lists as ``eval-all`` (or the reverse).

    Invoke turns every ``_`` of a task name and its aliases into ``-`` (or every
    ``-`` into ``_`` when ``tasks.auto_dash_names`` is off), so one task cannot
    answer to both spellings. The command line is already split when tasks.py
    is imported; the words that name a job are rewritten there to Invoke's form.
    """
    dashes = bool(program.config.tasks.auto_dash_names)
    canonical = {}
    for name in names:
        plain = name.replace("-", "_")
        canonical[plain] = plain.replace("_", "-") if dashes else plain
    words = program.core.unparsed
    for index, word in enumerate(words):
        if word == "--":
            break
        prefix, dot, last = word.rpartition(".")
        target = canonical.get(last.replace("-", "_"))
        if target is not None and not word.startswith("-"):
            words[index] = f"{prefix}{dot}{target}"


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

    def __init__(self, loaded: Config, *, detailed: bool) -> None:
        self.loaded = loaded
        self.detailed = detailed
        specs = flag_specs()
        parameters = [inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        for name, spec in specs:
            default: Any = {"bool": False, "negated": True, "list": []}.get(spec["kind"])
            parameters.append(
                inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
            )
        self.signature = inspect.Signature(parameters)
        self.help = {name: spec["help"] for name, spec in specs}
        self.iterable = [name for name, spec in specs if spec["kind"] == "list"]

    def task(self, job: Job) -> Task[Any]:
        """A task whose flags are the run flags and whose body calls ``run_job``."""
        loaded = self.loaded

        def body(c: Context, **flags: Any) -> None:
            from hydraflow.run import run_job

            try:
                options = parse_options(flags)
                if _invoke_dry(c):
                    options = parse_options({**flags, "dry_run": True})
                code = run_job(loaded, job, options, _extra_args())
            except UsageError as error:
                raise Exit(f"error: {error}", code=error.exit_code) from None
            if code:
                raise Exit(code=code)

        body.__signature__ = self.signature  # type: ignore[attr-defined]
        # Listing reads only the first line; counting every set is left to task help.
        body.__doc__ = describe(job) if self.detailed else job.help or job.summary()
        body.__name__ = job.key
        return _JobTask(body, name=job.key, help=self.help, iterable=self.iterable)


class _JobTask(Task[Any]):
    """A task that Invoke can copy cheaply.

    Invoke deep-copies every task of a module's ``ns`` before it lists them;
    for a job task that meant copying its signature, a third of the cost of
    ``invoke --list``. Only ``help`` is changed by Invoke (it pops entries), so
    a shallow copy with its own ``help`` is as independent as a deep one.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> _JobTask:
        clone = copy.copy(self)
        clone.help = dict(self.help)
        return clone


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
    lines.append(
        f"total: {job.batches} batches, {job.runs} Hydra runs."
        " Arguments after -- go to the command."
    )
    return "\n".join(lines)


def _invoke_dry(c: Context) -> bool:
    """Invoke's own ``invoke --dry`` must never start a process either."""
    try:
        return bool(c.config.run.dry)
    except AttributeError:
        return False


def _extra_args() -> list[str]:
    # Invoke's c.remainder re-joins words with spaces and loses their quoting.
    argv = sys.argv
    return argv[argv.index("--") + 1 :] if "--" in argv else []
