"""The ``hydraflow`` command: the same jobs as the Invoke tasks, without a tasks.py."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from hydraflow import __version__
from hydraflow.errors import UsageError
from hydraflow.options import flag_specs, parse_options


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except UsageError as error:
        sys.stderr.write(f"error: {error}\n")
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `hydraflow run big --dry-run | head` is fine; silence the closed pipe.
        sys.stderr.close()
        return 0


def _dispatch(args: list[str]) -> int:
    # Everything after `--` belongs to the job's command, quoting intact.
    extra_after: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, extra_after = args[:cut], args[cut + 1 :]
    parser = _parser()
    namespace, unknown = parser.parse_known_args(args)
    if namespace.command != "run" and (unknown or extra_after):
        parser.error(f"unrecognized arguments: {' '.join([*unknown, *extra_after])}")
    if namespace.command is None:
        parser.print_help()
        return 2
    handler = _HANDLERS[namespace.command]
    if namespace.command == "run":
        return handler(namespace, [*unknown, *extra_after])
    return handler(namespace, [])


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is a UsageError rendered like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see hydraflow {self.prog.split()[-1]} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hydraflow",
        description="Run the jobs of a hydraflow.yaml: Hydra sweeps with an extended syntax.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"hydraflow {__version__}")
    file_option = _Parser(add_help=False, allow_abbrev=False)
    file_option.add_argument(
        "-f",
        "--file",
        type=Path,
        default=argparse.SUPPRESS,
        help="the hydraflow.yaml to use (default: the nearest one, here or above)",
    )
    parser.add_argument("-f", "--file", type=Path, default=None, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser(
        "run",
        parents=[file_option],
        allow_abbrev=False,
        help="run a job (arguments after the job name go to its command)",
        description="Run a job. Unknown arguments, and all after --, reach the job's command.",
    )
    run.add_argument("job", help="the job's name")
    for name, spec in flag_specs():
        flags = [f"--{name.replace('_', '-')}"]
        if "short" in spec:
            flags.insert(0, f"-{spec['short']}")
        if spec["kind"] == "bool":
            run.add_argument(*flags, dest=name, action="store_true", help=spec["help"])
        elif spec["kind"] == "negated":
            no = f"--no-{name.replace('_', '-')}"
            run.add_argument(no, dest=name, action="store_false", help=f"do not {spec['help']}")
        elif spec["kind"] == "list":
            run.add_argument(
                *flags,
                dest=name,
                action="append",
                default=[],
                metavar=spec["metavar"],
                help=spec["help"],
            )
        else:
            run.add_argument(*flags, dest=name, metavar=spec["metavar"], help=spec["help"])

    show = commands.add_parser("show", parents=[file_option], help="show a job (or all) as YAML")
    show.add_argument("job", nargs="?", help="the job's name")

    commands.add_parser("list", parents=[file_option], help="list the jobs with their counts")

    status = commands.add_parser("status", parents=[file_option], help="what ran, from the ledger")
    status.add_argument("job", nargs="?", help="the job's name (default: every job)")
    status.add_argument("--failed", action="store_true", help="list the failed batches")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    expand = commands.add_parser("expand", help="expand a sweep expression")
    expand.add_argument("expr", help="an each/all expression, e.g. 'lr=1:5:m model=a,b'")
    expand.add_argument("--all", action="store_true", help="collect as an `all` expression")
    expand.add_argument(
        "--count", action="store_true", help="print only the number of combinations"
    )

    return parser


def _config(namespace: argparse.Namespace):  # type: ignore[no-untyped-def]
    from hydraflow import config

    path = getattr(namespace, "file", None)
    return config.load(path if path is not None else config.find()).check()


def _run(namespace: argparse.Namespace, extra: list[str]) -> int:
    from hydraflow.run import run_job

    options = parse_options({name: getattr(namespace, name) for name, _ in flag_specs()})
    loaded = _config(namespace)
    return run_job(loaded, loaded.job(namespace.job), options, extra)


def _show(namespace: argparse.Namespace, extra: list[str]) -> int:
    import yaml

    loaded = _config(namespace)
    jobs = [loaded.job(namespace.job)] if namespace.job else list(loaded.jobs.values())
    for job in jobs:
        sys.stdout.write(yaml.safe_dump({job.key: job.raw}, sort_keys=False, allow_unicode=True))
        sys.stdout.write(f"# {len(job.sets)} sets, {job.batches} batches, {job.runs} Hydra runs\n")
    return 0


def _list(namespace: argparse.Namespace, extra: list[str]) -> int:
    from rich.console import Console
    from rich.table import Table

    loaded = _config(namespace)
    table = Table(box=None, pad_edge=False)
    for column in ("job", "mode", "help", "sets", "batches", "Hydra runs"):
        table.add_column(
            column, justify="right" if column in ("sets", "batches", "Hydra runs") else "left"
        )
    for job in loaded.jobs.values():
        table.add_row(
            job.key,
            job.mode,
            job.help or job.summary(),
            str(len(job.sets)),
            str(job.batches),
            str(job.runs),
        )
    Console(highlight=False).print(table)
    return 0


def _expand(namespace: argparse.Namespace, extra: list[str]) -> int:
    from hydraflow.errors import ConfigError
    from hydraflow.sweep import SweepError, collect, expand

    try:
        if namespace.all:
            sys.stdout.write(shlex.join(collect(namespace.expr)) + "\n")
        elif namespace.count:
            from hydraflow.sweep import count

            sys.stdout.write(f"{count(namespace.expr)}\n")
        else:
            write = sys.stdout.write
            for combination in expand(namespace.expr):
                write(shlex.join(combination) + "\n")
    except SweepError as error:
        raise ConfigError(str(error), detail=error.caret()) from None
    return 0


def _status(namespace: argparse.Namespace, extra: list[str]) -> int:
    from hydraflow.status import show_status

    loaded = _config(namespace)
    return show_status(loaded, namespace.job, failed=namespace.failed, as_json=namespace.json)


_HANDLERS = {
    "run": _run,
    "show": _show,
    "list": _list,
    "expand": _expand,
    "status": _status,
}

if __name__ == "__main__":
    sys.exit(main())
