"""What both front ends share: an execution with its view, the results, and rendering
an error once. The Invoke tasks and the ``hydraflow`` command only translate flags.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from hydraflow.config import Config, Job
from hydraflow.flags import RunOptions

if TYPE_CHECKING:
    from hydraflow.analysis.query import Query
    from hydraflow.analysis.runs import Runs


def error_line(error: BaseException) -> str:
    return f"error: {error}"


def execute(
    config: Config,
    job: Job,
    options: RunOptions,
    extra: Sequence[str] = (),
    *,
    rerun: str,
    out: IO[str] | None = None,
) -> int:
    """Run (or preview) ``job`` with a view on ``out``; ``rerun`` is the front end's
    command to resume it, for the failure report."""
    from hydraflow.display import make_display
    from hydraflow.display.plain import PlainDisplay
    from hydraflow.engine.execution import Request
    from hydraflow.engine.workflow import run_job

    out = out or sys.stdout
    if extra:  # resuming means the same extras: they are part of what a batch is
        rerun = f"{rerun} -- {shlex.join(extra)}"
    request = Request(config, job, options, tuple(extra))
    if options.dry_run:
        code = run_job(request, [PlainDisplay(out, aside=sys.stderr)])
        _paste_hint(job)
        return code
    display = make_display(options.quiet, out, rerun if options.ledger else None)
    try:
        return run_job(request, [display])
    finally:
        display.close()


def _paste_hint(job: Job) -> None:
    """The commands of a dry run name hydraflow's record callback, which their Python finds
    only on the PYTHONPATH hydraflow gives it: said on stderr, so stdout stays commands."""
    from hydraflow.plan import CALLBACK_DIR

    if job.mode.pasted_needs_callback(job):
        sys.stderr.write(
            f"hydraflow: to run these by hand, put {CALLBACK_DIR} on PYTHONPATH"
            " (or set `record: false` on the job)\n"
        )


def show_results(config: Config, query: Query, out: IO[str] | None = None) -> int:
    """``hydraflow results``: collect the runs, shape them as asked, and print them."""
    from hydraflow.analysis import collect

    found = collect(config, query.job, all_attempts=query.all_attempts)
    for problem in found.problems:  # said once each, beside output that stays well-formed
        sys.stderr.write(f"hydraflow: warning: {problem}\n")
    return print_results(found, query, out or sys.stdout)


def print_results(found: Runs, query: Query, out: IO[str]) -> int:
    """The runs found, shaped as ``query`` asks, on ``out``."""
    from hydraflow.analysis import formats as fmt

    goals = found.goals
    query.check_columns(found)
    matching = query.choose(found, goals)
    if not matching:  # said beside the (empty) output, which stays well-formed for scripts
        sys.stderr.write(f"hydraflow: {_nothing_found(found, query)}\n")
    if query.group_by and not query.best:
        groups = query.groups(matching, goals)
        if query.format == "json":
            out.write(fmt.as_json(groups=groups))
            return 0
        rows = fmt.group_rows(groups, query.group_by, exact=query.format == "csv")
    else:
        runs = query.bests(matching, goals) if query.best else query.cut(matching)
        # Columns from every matching run: a shorter --top shows fewer rows, not other columns.
        shown = fmt.columns(
            matching,
            query.shown_params(matching),
            query.shown_metrics(matching, goals),
            query.shown_fields(),
        )
        if query.format == "json":
            out.write(fmt.as_json(runs, shown=shown if query.columns else None))
            return 0
        rows = fmt.run_rows(runs, shown, exact=query.format == "csv")
        if query.format == "table" and _is_terminal(out):
            from hydraflow.analysis.query import goal_of
            from hydraflow.display.results import print_runs

            goal = goal_of(matching, goals)
            print_runs(runs, shown, out, goal=goal)
            return 0
    if query.format == "csv":
        out.write(fmt.as_csv(rows))
    elif query.format == "md":
        out.write(fmt.as_markdown(rows))
    elif _is_terminal(out):
        from hydraflow.display.results import print_rows

        print_rows(rows, out)
    else:
        out.write(fmt.as_text(rows))
    return 0


def _nothing_found(found: Runs, query: Query) -> str:
    from hydraflow.analysis.table import unmatched

    if found:
        return unmatched(found, query.where)
    if query.job:
        return f"no runs of {query.job!r} yet (`hydraflow run {query.job}` makes them)"
    return "no runs yet"


def _is_terminal(out: IO[str]) -> bool:
    from hydraflow.display import wants_live

    return wants_live(out)
