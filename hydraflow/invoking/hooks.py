"""The one place where hydraflow reaches into Invoke beyond its public API.

A tasks.py can give Invoke tasks and their arguments, but Invoke has no seam for
what hydraflow's jobs need of the command line around them:

- a job answers to both spellings of its name (``eval_all``, ``eval-all``);
- a misspelled flag after a job (``--dry-rn``) is a usage error with the nearest
  flag and status 2, never a run; a misspelled task gets the nearest task name;
- a job's help shows each flag's placeholder (``--jobs=N``) and the job's sets with
  their counts (counted only then: listing stays cheap);
- ``invoke --list | head -1`` ends quietly, as every hydraflow command does;
- words after ``--`` keep the quoting the shell gave them (Invoke's ``c.remainder``
  joins them with spaces).

Two methods of Invoke's ``Program`` are wrapped for this, once per process, only
for the Invoke versions hydraflow is tested with (``SUPPORTED``, the range
pyproject.toml pins); with any other version the tasks work as Invoke alone makes
them, and extras are split from ``c.remainder`` as a shell would.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from hydraflow.errors import UsageError, did_you_mean
from hydraflow.flags import Command
from hydraflow.invoking.command_line import canonical_names, rewrite
from hydraflow.stdio import flush_output, reader_went_away

SUPPORTED = ((3, 0), (3, 1))  # lowest tested, and the first version above the highest
_UNKNOWN_TASK = re.compile(r"No idea what '([^-].*)' is!")


class OurTask(Protocol):
    """What a task of hydraflow's carries for the hooks."""

    hydraflow_command: Command
    hydraflow_job: str | None  # the job a job's task runs; None for results and the like
    __doc__: str | None

    def describe(self) -> str: ...


class _State:
    installed = False
    load_error = ""  # why hydraflow.yaml gave no jobs, for the task that was not found
    problems: tuple[str, ...] = ()  # what a listing says on stderr: why jobs cannot run
    # The words after `--` of the command line being parsed, with Invoke's joined text.
    remainder: tuple[str, list[str]] = ("", [])


def supported(version: str) -> bool:
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    return SUPPORTED[0] <= numbers < SUPPORTED[1]


def install(load_error: str = "", problems: Sequence[str] = ()) -> bool:
    """Wrap the two methods (once); remember why the file gave no jobs, if it did not, and
    why some jobs cannot run (said once by a listing). False where Invoke's version is
    not one hydraflow is tested with: nothing is wrapped."""
    _State.load_error = load_error
    _State.problems = tuple(problems)
    if _State.installed:
        return True
    import invoke
    from invoke.program import Program

    if not supported(invoke.__version__):
        return False
    _State.installed = True
    Program.parse_tasks = _wrapped(Program.parse_tasks, _before_tasks)  # type: ignore[method-assign]
    Program.parse_cleanup = _wrapped(Program.parse_cleanup, _before_cleanup)  # type: ignore[method-assign]
    return True


def remainder_words(remainder: str) -> list[str]:
    """The words after ``--``: as the program was given them when the hooks saw them,
    else split from Invoke's remainder as a shell would."""
    joined, words = _State.remainder
    if remainder and joined == remainder:
        return list(words)
    return shlex.split(remainder) if remainder else []


def _wrapped(original: Callable[[Any], None], before: Callable[[Any], None]) -> Any:
    def method(program: Any) -> None:
        if not (_ours(program) or _State.load_error):
            original(program)
            return
        from invoke.exceptions import Exit, ParseError

        try:
            before(program)
            original(program)
        except UsageError as error:
            raise Exit(f"error: {error}", code=error.exit_code) from None
        except ParseError as error:
            raise _suggestion(program, error) or error from None
        except BrokenPipeError:
            reader_went_away()
            raise Exit(code=0) from None
        finally:  # the status stays the program's own
            flush_output()

    return method


def _ours(program: Any) -> dict[str, OurTask]:
    """hydraflow's tasks in the program's collection, by their full name."""
    collection = getattr(program, "collection", None)
    if collection is None:
        return {}
    found = {}
    for name in collection.task_names:
        task = collection[name]
        if hasattr(task, "hydraflow_command"):
            found[name] = task
    return found


def _before_tasks(program: Any) -> None:
    argv = list(program.argv)
    words = argv[argv.index("--") + 1 :] if "--" in argv else []
    _State.remainder = (program.core.remainder, words)
    ours = _ours(program)
    jobs = [name.rpartition(".")[2] for name, task in ours.items() if task.hydraflow_job]
    subject_tasks = {
        name.rpartition(".")[2]: task.hydraflow_command
        for name, task in ours.items()
        if task.hydraflow_command.subject is not None
    }
    dashes = bool(program.config.tasks.auto_dash_names)
    program.core.unparsed[:] = rewrite(
        program.core.unparsed, jobs, dashes=dashes, subject_tasks=subject_tasks
    )


def _before_cleanup(program: Any) -> None:
    """A listing says once why jobs cannot run; a job's help is in full: its sets with their
    counts, its flags' placeholders."""
    if program.args.list.value:
        for problem in _State.problems:
            sys.stderr.write(f"error: {problem}\n")
    wanted = program.args.help.value
    if not isinstance(wanted, str):
        return
    prefix, dot, last = wanted.rpartition(".")
    dashes = bool(program.config.tasks.auto_dash_names)
    ours = _ours(program)
    spelled = canonical_names(list(_last_names(ours)), dashes).get(last.replace("-", "_"))
    name = f"{prefix}{dot}{spelled}" if spelled else wanted
    task = ours.get(name)
    if task is None:
        return
    program.args.help.value = name
    task.__doc__ = task.describe()
    context = program.parser.contexts[name]
    context.__class__ = _placeholder_context()
    context.metavars = {flag.name: flag.metavar for flag in task.hydraflow_command.flags}


def _last_names(ours: dict[str, OurTask]) -> Iterator[str]:
    return (name.rpartition(".")[2] for name in ours)


def _suggestion(program: Any, error: Exception) -> Exception | None:
    """``No idea what 'trian' is! (did you mean 'train'?)``, status 2; when the file gave no
    jobs, why. A word close to no task keeps Invoke's own message."""
    from invoke.exceptions import Exit

    unknown = _UNKNOWN_TASK.fullmatch(str(error))
    if unknown is None:
        return None
    if _State.load_error:
        return Exit(f"{error} (hydraflow.yaml has no jobs now: {_State.load_error})", code=2)
    names = list(program.collection.task_names) if program.collection else []
    hint = did_you_mean(unknown.group(1), names)
    return Exit(f"{error}{hint}", code=2) if hint else None


def _placeholder_context() -> type:
    """Invoke writes every value as ``STRING``: a job's help shows each flag's own
    placeholder instead (``-j N, --jobs=N``)."""
    from invoke.parser.context import ParserContext

    class PlaceholderContext(ParserContext):
        metavars: dict[str, str]

        def help_for(self, flag: str) -> tuple[str, str]:
            spec, text = super().help_for(flag)
            argument = self.flags[flag]
            metavar = self.metavars.get(argument.attr_name or argument.name)
            return (_placeholder(spec, metavar) if metavar else spec), text

    return PlaceholderContext


def _placeholder(spec: str, metavar: str) -> str:
    names = [part.split("=")[0].split(" ")[0] for part in spec.split(", ")]
    return ", ".join(
        f"{name} {metavar}" if len(name) == 2 else f"{name}={metavar}" for name in names
    )
