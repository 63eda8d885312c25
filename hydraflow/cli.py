"""The ``hydraflow`` command: the same jobs as the Invoke tasks, without a tasks.py."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from hydraflow.errors import HydraflowError, UsageError
from hydraflow.flags import (
    COMMANDS,
    FORGET,
    PLOT,
    RESULTS,
    RUN,
    Command,
    ForgetOptions,
    PlotOptions,
    RunOptions,
)

EXAMPLES = """\
examples:
  hydraflow list                         the jobs, with their batches and runs
  hydraflow run train --dry-run          the exact commands, nothing started
  hydraflow run train -j 2               two batches at a time
  hydraflow run train -- epochs=1        a quick smoke test: the override wins
  hydraflow run train --resume           only what has not succeeded yet
  hydraflow status --failed              what failed, with its log
  hydraflow results train -g model       every run, then the mean of each model
  hydraflow plot train -x seed -y loss   loss against seed, drawn here (-o a.png)
  hydraflow expand 'lr=1:5:m model=a,b'  try the sweep syntax
"""


def main(argv: Sequence[str] | None = None) -> int:
    from hydraflow.engine.signals import install_sigterm_as_interrupt
    from hydraflow.stdio import flush_output, open_closed_streams, reader_went_away

    # First of all: a SIGTERM from now on stops an execution as Ctrl-C does.
    install_sigterm_as_interrupt()
    open_closed_streams()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except HydraflowError as error:
        from hydraflow.app import error_line

        sys.stderr.write(error_line(error) + "\n")
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `hydraflow list | head` is fine
        reader_went_away()
        return 0
    finally:  # the status stays the command's own (141 for an execution whose reader went away)
        flush_output()


def _dispatch(args: list[str]) -> int:
    # Everything after `--` belongs to the job's command, quoting intact.
    extra_after: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, extra_after = args[:cut], args[cut + 1 :]
    parser = _parser()
    namespace, unknown = parser.parse_known_args(args)
    flags = [word for word in unknown if word.startswith("-")]
    if flags:
        raise UsageError(_unknown_flag(flags[0], namespace.command))
    if namespace.command is None:
        parser.print_help()
        return 2
    if namespace.command != "run" and (unknown or extra_after):
        raise UsageError(
            f"unexpected arguments: {shlex.join([*unknown, *extra_after])} "
            f"(see hydraflow {namespace.command} --help)"
        )
    return _HANDLERS[namespace.command](namespace, [*unknown, *extra_after])


# The flags of the commands only this front end has (the others come from flags.COMMANDS).
_OTHER_FLAGS = {
    None: ["--file", "--help", "--version"],
    "status": ["--file", "--help", "--failed", "--json", "--watch"],
    "expand": ["--help", "--all", "--count"],
    "show": ["--file", "--help"],
    "list": ["--file", "--help"],
}


def _unknown_flag(word: str, command: str | None) -> str:
    import difflib

    known = _OTHER_FLAGS.get(command, []) + (
        ["--file", "--help", *long_names(COMMANDS[command])] if command in COMMANDS else []
    )
    close = difflib.get_close_matches(word.partition("=")[0], known, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]}?)" if close else ""
    after = "; words for the job's command go after --" if command == "run" else ""
    where = f"hydraflow {command} --help" if command else "hydraflow --help"
    return f"unknown flag {word!r}{hint}{after} (see {where})"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is a UsageError rendered like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("hydraflow").strip()
        raise UsageError(f"{message} (see hydraflow {command + ' ' if command else ''}--help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hydraflow",
        description="Run the jobs of a hydraflow.yaml: Hydra sweeps with an extended syntax.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    from hydraflow import __version__

    parser.add_argument("--version", action="version", version=f"hydraflow {__version__}")
    file_option = _Parser(add_help=False, allow_abbrev=False)
    file_option.add_argument(
        "-f",
        "--file",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="the hydraflow.yaml to use (default: the nearest one, here or above)",
    )
    parser.add_argument(
        "-f", "--file", type=Path, default=None, metavar="PATH", help="the hydraflow.yaml to use"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = _command_parser(commands, RUN, file_option)
    run.usage = "hydraflow run JOB [flags] [-- extra words]"
    run.add_argument("job", help="the job's name")
    add_flags(run, RUN)

    show = commands.add_parser("show", parents=[file_option], help="show a job (or all) as YAML")
    show.add_argument("job", nargs="?", help="the job's name")

    commands.add_parser("list", parents=[file_option], help="list the jobs with their counts")

    from hydraflow.status import STATE_HELP

    states = "\n".join(f"  {state:<12}{text}" for state, text in STATE_HELP.items())
    status = commands.add_parser(
        "status",
        parents=[file_option],
        help="what ran, from the ledger",
        description="Every job's batches, by the state of their latest attempt. Runs made "
        "with extra words (-- epochs=1) are their own lines.",
        epilog=f"states:\n{states}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status.add_argument("job", nargs="?", help="the job's name (default: every job)")
    status.add_argument("--failed", action="store_true", help="list the batches that failed")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument(
        "--watch",
        action="store_true",
        help="redraw every 2 s until nothing is queued or running (Slurm batches, or an execution "
        "in another terminal)",
    )

    add_flags(_command_parser(commands, RESULTS, file_option), RESULTS)
    add_flags(_command_parser(commands, FORGET, file_option), FORGET)
    add_flags(_command_parser(commands, PLOT, file_option), PLOT)

    expand = commands.add_parser("expand", help="expand a sweep expression")
    expand.add_argument(
        "expr",
        nargs="+",
        help="an each/all expression, e.g. 'lr=1:5:m model=a,b' (unquoted words are its words)",
    )
    expand.add_argument("--all", action="store_true", help="collect as an `all` expression")
    expand.add_argument(
        "--count", action="store_true", help="print only the number of combinations (or values)"
    )
    return parser


def _command_parser(
    commands: argparse._SubParsersAction[_Parser],
    command: Command,
    file_option: _Parser,
) -> argparse.ArgumentParser:
    return commands.add_parser(
        command.name,
        parents=[file_option],
        allow_abbrev=False,
        help=command.help,
        description=command.description,
    )


def add_flags(parser: argparse.ArgumentParser, command: Command) -> None:
    """The command's flags from its table; what they parse to goes through
    ``command.parse``, as the Invoke task's do."""
    for flag in command.flags:
        if flag.kind == "subject":
            parser.add_argument(flag.name, nargs="?", metavar=flag.metavar, help=flag.help)
            continue
        names = [f"-{flag.short}"] if flag.short else []
        names.append(flag.long)
        if flag.kind == "switch":
            parser.add_argument(*names, dest=flag.name, action="store_true", help=flag.help)
        elif flag.kind == "negatable":
            no = "--no-" + flag.long[2:]
            parser.add_argument(
                no, dest=flag.name, action="store_false", default=True, help=f"do not {flag.help}"
            )
        elif flag.kind == "repeated":
            parser.add_argument(
                *names, dest=flag.name, action="append", default=[], metavar=flag.metavar,
                help=flag.help,
            )  # fmt: skip
        else:
            parser.add_argument(*names, dest=flag.name, metavar=flag.metavar, help=flag.help)


def long_names(command: Command) -> list[str]:
    """Every long flag the command takes, as the hydraflow command spells them."""
    names = []
    for flag in command.flags:
        if flag.kind == "negatable":
            names.append("--no-" + flag.long[2:])
        elif flag.kind != "subject":
            names.append(flag.long)
    return names


def _config(namespace: argparse.Namespace):  # type: ignore[no-untyped-def]
    from hydraflow import config

    path = getattr(namespace, "file", None)
    loaded = config.load(path if path is not None else config.find()).check()
    if not loaded.jobs:  # an empty table alone would not say why
        sys.stderr.write(f"hydraflow: no jobs in {loaded.path.name} yet: add one under 'jobs:'\n")
    return loaded


def _run(namespace: argparse.Namespace, extra: list[str]) -> int:
    from hydraflow import app

    options = RunOptions.parse(vars(namespace))
    loaded = _config(namespace)
    job = loaded.job(namespace.job)
    file = f" -f {shlex.quote(str(namespace.file))}" if getattr(namespace, "file", None) else ""
    return app.execute(loaded, job, options, extra, rerun=f"hydraflow{file} run {job.key} --resume")


def _show(namespace: argparse.Namespace, extra: list[str]) -> int:
    import yaml

    from hydraflow.reporting import plural

    loaded = _config(namespace)
    jobs = [loaded.job(namespace.job)] if namespace.job else list(loaded.jobs.values())
    for job in jobs:
        sys.stdout.write(yaml.safe_dump({job.key: job.raw}, sort_keys=False, allow_unicode=True))
        batches, runs = job.counted
        counts = [plural(len(job.sets), "set"), plural(batches, "batch")]
        sys.stdout.write(f"# {', '.join(counts)}, {plural(runs, 'Hydra run')}\n")
    return 0


def _list(namespace: argparse.Namespace, extra: list[str]) -> int:
    from hydraflow.display.tables import print_table

    loaded = _config(namespace)
    rows = [
        [
            job.key,
            str(job.mode),
            job.help or job.command_text,  # mode, sets and batches have columns here
            str(len(job.sets)),
            str(job.counted[0]),
            str(job.counted[1]),
        ]
        for job in loaded.jobs.values()
    ]
    print_table(
        ["job", "mode", "help", "sets", "batches", "Hydra runs"], rows, sys.stdout, right=(3, 4, 5)
    )
    return 0


def _expand(namespace: argparse.Namespace, extra: list[str]) -> int:
    from hydraflow.errors import ConfigError
    from hydraflow.sweep import SweepError, collect, count, expand, parse_tokens

    write = sys.stdout.write
    words: list[str] = namespace.expr
    # One argument is the expression as written in hydraflow.yaml; several are its words.
    namespace.expr = words[0] if len(words) == 1 else shlex.join(words)
    try:
        if namespace.all and namespace.count:
            tokens = parse_tokens(namespace.expr, allow_pipe=False)
            write(" ".join(f"{token.size()}" for token in tokens) + "\n")
        elif namespace.all:
            write(shlex.join(collect(namespace.expr)) + "\n")
        elif namespace.count:
            write(f"{count(namespace.expr)}\n")
        else:
            for combination in expand(namespace.expr):
                write(shlex.join(combination) + "\n")
    except SweepError as error:
        raise ConfigError(str(error), detail=error.caret()) from None
    return 0


def _status(namespace: argparse.Namespace, extra: list[str]) -> int:
    from hydraflow.display.tables import print_status, print_status_json
    from hydraflow.status import project_status

    if namespace.watch and namespace.json:
        raise UsageError("--watch redraws a table; --json prints once: choose one")
    loaded = _config(namespace)
    if namespace.watch:
        from hydraflow.display.tables import watch_status

        watch_status(lambda: project_status(loaded, namespace.job), sys.stdout)
        return 0
    report = project_status(loaded, namespace.job)
    if namespace.json:
        print_status_json(report, sys.stdout)
    else:
        print_status(report, sys.stdout, failed=namespace.failed)
    return 0


def _results(namespace: argparse.Namespace, extra: list[str]) -> int:
    from hydraflow import app
    from hydraflow.analysis.query import Query

    query = Query.of(RESULTS.parse(vars(namespace)))
    loaded = _config(namespace)
    if query.job:
        query = replace(query, job=loaded.job(query.job).key)
    return app.show_results(loaded, query)


def _forget(namespace: argparse.Namespace, extra: list[str]) -> int:
    from hydraflow import app

    options = ForgetOptions.parse(vars(namespace))
    return app.forget(_config(namespace), options, usage="hydraflow forget JOB")


def _plot(namespace: argparse.Namespace, extra: list[str]) -> int:
    from hydraflow import app

    options = PlotOptions.parse(vars(namespace))
    return app.plot(_config(namespace), options, usage="hydraflow plot JOB --x KEY --y METRIC")


_HANDLERS: dict[str, Callable[[argparse.Namespace, list[str]], int]] = {
    "run": _run,
    "show": _show,
    "list": _list,
    "expand": _expand,
    "status": _status,
    "results": _results,
    "forget": _forget,
    "plot": _plot,
}

if __name__ == "__main__":
    sys.exit(main())
