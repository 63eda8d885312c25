"""What both front ends share: an execution with its view, the results, and rendering
an error once. The Invoke tasks and the ``hydraflow`` command only translate flags.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from hydraflow.config import Config, Job
from hydraflow.errors import UsageError
from hydraflow.flags import ForgetOptions, PlotOptions, RunOptions

if TYPE_CHECKING:
    from hydraflow.analysis.plots import Plot, PlotRequest
    from hydraflow.analysis.query import Query
    from hydraflow.analysis.runs import Runs
    from hydraflow.forget import Choice, Outcome


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


# Runs listed before the question on a terminal; --dry-run lists them all.
ASKED_LIST = 20


def forget(
    config: Config, options: ForgetOptions, *, usage: str, out: IO[str] | None = None
) -> int:
    """``hydraflow forget``: choose the runs, then list them (``--dry-run``), or forget
    them once a terminal said yes or ``--yes`` did. ``usage`` is how the front end spells
    the command, for the error that names no job."""
    from hydraflow.forget import apply, choose

    out = out or sys.stdout
    if not options.job:
        jobs = ", ".join(config.jobs)
        raise UsageError(f"name the job whose runs to forget: {usage} (jobs: {jobs})")
    job = config.job(options.job)
    choice = choose(config, job, options.where, all_attempts=options.all_attempts)
    _tell_choice(choice)
    if not choice.runs:
        return 0
    if options.dry_run:
        out.writelines(choice.line(one) + "\n" for one in choice.runs)
        _say(f"would {_asked(choice, options)}{_consequences(choice)}; nothing changed (--dry-run)")
        return 0
    if not options.yes and not _agreed(choice, options, out):
        _say("nothing forgotten")
        return 1
    outcome = apply(config, choice, delete=options.delete)
    out.write(_done(choice, outcome, options.delete) + "\n")
    for folder in outcome.refused:
        _say(f"not deleted: {folder}")
    for sweep in outcome.running:
        _say(f"left alone: a batch began running in {sweep} meanwhile; none of its runs forgotten")
    return 1 if outcome.refused else 0


def _say(text: str) -> None:
    sys.stderr.write(f"hydraflow: {text}\n")


def _tell_choice(choice: Choice) -> None:
    """What the choice leaves out, on stderr: runs of a batch running now, or everything."""
    from hydraflow.reporting import plural

    for problem in choice.problems:
        _say(f"warning: {problem}")
    if choice.running:
        sweeps = ", ".join(dict.fromkeys(one.sweep for one in choice.running))
        runs = plural(len(choice.running), "run")
        _say(f"left alone: {runs} whose batch is running now ({sweeps})")
    if not choice.runs:
        _say(f"nothing to forget: {choice.unmatched or f'no run of {choice.job} to forget'}")


def _asked(choice: Choice, options: ForgetOptions) -> str:
    """``forget 3 runs of train and delete their folders``."""
    from hydraflow.reporting import plural

    deleting = " and delete their folders" if options.delete else ""
    return f"forget {plural(len(choice.runs), 'run')} of {choice.job}{deleting}"


def _consequences(choice: Choice) -> str:
    """What else follows, each part after ``; ``: batches left without a run, and the older
    attempts ``results`` shows once the latest are forgotten."""
    from hydraflow.reporting import plural

    said = ""
    if choice.search:
        said += "; a study keeps its trials: a forgotten trial is not run again"
    elif choice.whole:
        have = "has" if len(choice.whole) == 1 else "have"
        said += f"; {plural(len(choice.whole), 'batch')} then {have} no run left and read as"
        said += " never run (--resume runs them again)"
    if choice.partial and not choice.search:
        said += f"; {plural(choice.partial, 'run')} of batches that keep other runs: --resume"
        said += " takes those batches as done and does not run them again"
    if choice.older:
        said += f"; {plural(choice.older, 'other attempt')} of these configs stay, and results"
        said += " shows them instead (--all-attempts forgets them too)"
    return said


def _agreed(choice: Choice, options: ForgetOptions, out: IO[str]) -> bool:
    """A yes from the terminal, after the runs (the first few) and what follows; anything
    but ``y`` is a no. Where no one can answer, a usage error: ``--yes`` says it."""
    if not _can_ask():
        raise UsageError(
            f"{_asked(choice, options)}: there is no terminal to ask, so it needs --yes"
            " (--dry-run lists the runs); nothing changed"
        )
    out.writelines(choice.line(one) + "\n" for one in choice.runs[:ASKED_LIST])
    if len(choice.runs) > ASKED_LIST:
        out.write(f"… and {len(choice.runs) - ASKED_LIST} more (--dry-run lists them all)\n")
    if consequences := _consequences(choice).removeprefix("; "):
        out.write(f"({consequences})\n")
    out.write(f"{_asked(choice, options)}? [y/N] ")
    out.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _can_ask() -> bool:
    """Someone is there to answer: standard input and output are both a terminal."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # no stream, or a closed one
        return False


def _done(choice: Choice, outcome: Outcome, delete: bool) -> str:
    from hydraflow.reporting import plural

    line = f"forgot {plural(outcome.forgotten, 'run')} of {choice.job}"
    if outcome.batches and not choice.search:
        line += f"; {plural(outcome.batches, 'batch')} with no run left now read as never run"
    if delete:
        line += f"; deleted {plural(len(outcome.deleted), 'folder')}"
    if choice.older:
        line += f"; {plural(choice.older, 'earlier attempt')} of these configs stay, and show"
    if choice.partial and not choice.search:
        line += "; --resume takes the batches that keep other runs as done"
    return line


def plot(config: Config, options: PlotOptions, *, usage: str, out: IO[str] | None = None) -> int:
    """``hydraflow plot``: the runs ``results`` would show, drawn into ``-o FILE``, on the
    terminal, or (into a pipe) their numbers as CSV. What the drawing needs is checked
    before any run is read: a missing extra says so at once."""
    from hydraflow.analysis import collect
    from hydraflow.analysis.hints import hints_of
    from hydraflow.analysis.plots import NothingToPlot
    from hydraflow.analysis.series import prepare
    from hydraflow.analysis.table import unmatched, where

    out = out or sys.stdout
    if not options.job:
        jobs = ", ".join(config.jobs)
        raise UsageError(f"name the job to plot: {usage} (jobs: {jobs})")
    request = _plot_request(options)
    terminal = not options.output and _is_terminal(out)
    _require_drawing(options.output, terminal)
    job = config.job(options.job)
    found = collect(config, job.key)
    for problem in found.problems:
        _say(f"warning: {problem}")
    if not found:
        raise NothingToPlot(f"no runs of {job.key!r} yet (`hydraflow run {job.key}` makes them)")
    chosen = where(found, options.where) if options.where else list(found)
    if not chosen:
        raise NothingToPlot(unmatched(found, options.where))
    drawn = prepare(chosen, request, found.goals, hints_of(job))
    if options.output:
        _save(drawn, options.output, out)
    elif terminal:
        from hydraflow.display.plot_terminal import draw_terminal

        draw_terminal(drawn, out)
    else:
        from hydraflow.analysis.formats import as_csv
        from hydraflow.analysis.plots import table

        numbers = table(drawn)
        out.write(as_csv([numbers.header, *numbers.rows]))
        for note in drawn.notes:  # beside the CSV, which stays the numbers alone
            _say(note)
    return 0


def _plot_request(options: PlotOptions) -> PlotRequest:
    from hydraflow.analysis.plots import PlotRequest

    kind = options.kind or "line"
    if not options.x or not options.y:
        wanted = "--x KEY --y KEY --z METRIC" if kind == "heatmap" else "--x KEY --y METRIC"
        raise UsageError(f"plot needs {wanted}")
    logx = True if options.logx else False if options.no_logx else None  # None: x decides
    request = PlotRequest(
        options.x,
        options.y,
        options.z,
        options.hue,
        kind,
        options.agg or "mean",
        logx,
        options.logy,
    )
    request.check()
    return request


def _require_drawing(output: str | None, terminal: bool) -> None:
    """The extra the drawing needs, before any run is read; its absence a usage error."""
    from pathlib import Path

    from hydraflow.analysis.figure import FORMATS, require
    from hydraflow.analysis.plots import MissingExtra

    if output is not None:
        path = Path(output)
        if path.suffix.lower() not in FORMATS:
            raise UsageError(f"-o {output}: plots are written as {', '.join(FORMATS)}")
        if not path.parent.is_dir():
            raise UsageError(f"-o {output}: there is no folder {path.parent}")
    try:
        if output is not None:
            require()
        elif terminal:
            from hydraflow.display.plot_terminal import require as require_plotext

            require_plotext()
    except MissingExtra as missing:
        raise UsageError(str(missing)) from None


def _save(drawn: Plot, output: str, out: IO[str]) -> None:
    from pathlib import Path

    from hydraflow.analysis.figure import save
    from hydraflow.errors import HydraflowError

    try:
        save(drawn, Path(output))
    except OSError as error:
        raise HydraflowError(f"cannot write {output}: {error.strerror or error}") from None
    for note in drawn.notes:
        _say(note)
    out.write(f"{output}\n")
