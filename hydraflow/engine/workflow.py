"""An execution as a short list of steps, each a plain function of its state.

    check → open the ledger → refresh → plan → preview (``--dry-run`` ends here)
          → execute → summarise

Any step may end the execution by returning an exit status. The front ends build
the views and pass them in; the engine prints nothing itself: everything
reaches the user as events.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence

from hydraflow.attempts import AttemptLog
from hydraflow.cluster import refresh as refresh_cluster
from hydraflow.engine.broadcast import Broadcast, OutputClosed
from hydraflow.engine.check import report
from hydraflow.engine.execution import Execution, Request, Runtime
from hydraflow.engine.launches import workers_and_devices
from hydraflow.engine.signals import signals_as_interrupts
from hydraflow.errors import UsageError
from hydraflow.events import ExecutionFinished, Observer
from hydraflow.ledger import LEDGER, Claims, Ledger
from hydraflow.modes import AppSpec
from hydraflow.plan import Counts, Extras, Plan, no_match, unknown_key
from hydraflow.plan.origins import origin
from hydraflow.resume import Resume
from hydraflow.selection import Selection
from hydraflow.statuses import ExitStatus
from hydraflow.tally import Tally

Step = Callable[[Execution], int | None]


def check(execution: Execution) -> int | None:
    """Everything the user could have got wrong, before anything starts."""
    job, options = execution.job, execution.options
    job.check()
    if options.resume and not options.ledger:
        raise UsageError("--resume reads the ledger; it cannot go with --no-ledger")
    execution.extras = Extras.parse(execution.request.extra)
    words = (*job.command, *job.add, *execution.extras.words)
    if any("\0" in word for word in words):
        raise UsageError(
            f"job {job.key!r}: a word of its command holds a NUL character, "
            "which no program can receive"
        )
    job.mode.check(execution)
    if job.mode.uses_pool:
        workers_and_devices(options.jobs, job.parallel, options.devices or job.devices)
    return None


def check_config(execution: Execution) -> int | None:
    """Every distinct batch composed against the app's own config before anything starts
    (no folder, no ledger row, no sbatch): every problem is said at once, status 2."""
    job, options, root = execution.job, execution.options, execution.root
    if job.search is not None and not options.dry_run:
        from hydraflow.search.study import prefetch

        prefetch()  # while the check composes, in a process of its own
    if not (options.check and job.check_config):
        return None
    app = job.mode.app(job, root, os.environ)
    if app is None or not could_be_hydra(app):
        return None
    selection = Selection.parse(options.only)
    planned = list(Plan(job, execution.extras, selection).batches())
    if job.search is not None:  # a study stands for its trials by a few examples
        from hydraflow.search.trials import examples

        planned = [one for base in planned for one in examples(base, job.search.space)]
    if not planned:
        return None
    # every batch, not each distinct one: a problem's count is of the batches it stops
    words = job.mode.app_words(job, planned[0].command, app)
    checked = execution.runtime.check(app, [batch.overrides for batch in planned], words, root)
    if not checked.hydra:
        return None
    if checked.problems:
        where = {p.key: origin(job, execution.extras, p.key) for p in checked.problems}
        raise report(job.key, checked.problems, where)
    batches = f"{len(planned)} batch{'es' if len(planned) != 1 else ''}"
    configs = f"{checked.configs} config{'s' if checked.configs != 1 else ''}"
    execution.checked = checked
    execution.notice(f"checked: {batches}, {configs} composed", warning=False)
    return None


def could_be_hydra(app: AppSpec) -> bool:
    """A script that never names Hydra is no Hydra app: no probe for it."""
    if app.kind != "script":
        return True
    try:
        with open(app.target, "rb") as handle:
            return b"hydra" in handle.read()
    except OSError:
        return True


def open_ledger(execution: Execution) -> int | None:
    """The ledger, unless ``--no-ledger`` or the job's batches are not hydraflow's to
    record; a dry run only reads it, and never creates it."""
    job, options, root = execution.job, execution.options, execution.root
    if not options.ledger or not job.mode.in_ledger(job):
        return None
    if options.dry_run:
        execution.ledger = Ledger.existing(root) if options.resume else None
        return None
    execution.ledger = Ledger(root / LEDGER)
    claims = Claims(execution.ledger, job.key, resume=options.resume)
    claims.warn = execution.notice
    execution.claims = claims
    return None


def refresh(execution: Execution) -> int | None:
    """What the cluster did since: the rows of batches handed to Slurm, brought up to
    date before anything is decided from them."""
    ledger = execution.ledger
    wanted = execution.options.resume or not execution.job.mode.uses_pool
    if ledger is not None and wanted and not execution.options.dry_run:
        refresh_cluster(ledger, execution.root, execution.job.key)
    return None


def make_plan(execution: Execution) -> int | None:
    """The batches to run: ``--only`` chooses, ``--resume`` skips what succeeded before."""
    job, options = execution.job, execution.options
    if job.search is not None:
        return plan_search(execution)
    if options.resume and execution.ledger is not None:
        claims = execution.claims if isinstance(execution.claims, Claims) else None
        execution.resume = Resume(execution.ledger, job, execution.root, claims)
    if isinstance(execution.claims, Claims):
        extra = job.mode.identity_extras(execution.extras)
        execution.attempts = AttemptLog(execution.claims, extra, execution.resume)
        execution.emit.add(execution.attempts, first=True)
    selection = Selection.parse(options.only)
    if selection.rules and (unknown := unknown_key(job, execution.extras, selection)):
        raise UsageError(unknown)
    resume = execution.resume
    execution.plan = Plan(
        job,
        execution.extras,
        selection,
        resume.done if resume else frozenset(),
        resume.reruns if resume else None,
    )
    execution.counts = execution.plan.count()
    if selection.rules and execution.counts.to_run + execution.counts.skipped == 0:
        raise UsageError(no_match(job, execution.extras, selection))
    return None


def plan_search(execution: Execution) -> int | None:
    """A search's studies, one per combination that ``--only`` chooses, opened (or
    resumed) in ``.hydraflow/optuna.db``; their trials are asked as the pool runs."""
    from hydraflow.search.trials import Trials, check_bases

    job, options = execution.job, execution.options
    selection = Selection.parse(options.only)
    if selection.rules and (unknown := unknown_key(job, execution.extras, selection)):
        raise UsageError(unknown)
    execution.plan = Plan(job, execution.extras, selection)
    bases = list(execution.plan.batches())
    if selection.rules and not bases:
        raise UsageError(no_match(job, execution.extras, selection))
    check_bases(job, bases)
    if isinstance(execution.claims, Claims):
        extra = job.mode.identity_extras(execution.extras)
        execution.attempts = AttemptLog(execution.claims, extra, None)
        execution.emit.add(execution.attempts, first=True)
    if options.dry_run:  # the preview reads the studies; nothing is made
        execution.counts = Counts(0, 0, 0)
        return None
    trials = Trials.open(
        job,
        execution.root,
        bases,
        resume=options.resume,
        emit=execution.emit,
        notice=execution.notice,
    )
    execution.trials = trials
    execution.counts = Counts(trials.left, trials.done, trials.left)
    return None


def preview(execution: Execution) -> int | None:
    """``--dry-run``: the exact commands, one line each, and nothing started."""
    if not execution.options.dry_run:
        return None
    # A preview only shows: its reader going away (`-n | head`) stops no run, so it
    # ends with 0, as `hydraflow list | head` does, not with a stopped execution's 141.
    with contextlib.suppress(OutputClosed):
        execution.job.mode.preview(execution)
    return 0


def execute(execution: Execution) -> int | None:
    counts = execution.counts
    execution.tally.begin(
        counts.to_run, counts.runs, counts.skipped, execution.runtime.clock.time()
    )
    with signals_as_interrupts():
        execution.job.mode.execute(execution)
    return None


def summarise(execution: Execution) -> int:
    summary = execution.tally.summary(execution.runtime.clock.time())
    execution.emit(ExecutionFinished(summary))
    return summary.exit_code


STEPS: tuple[Step, ...] = (
    check,
    check_config,
    open_ledger,
    refresh,
    make_plan,
    preview,
    execute,
    summarise,
)


def run_job(
    request: Request,
    observers: Sequence[Observer],
    runtime: Runtime | None = None,
    steps: Sequence[Step] = STEPS,
) -> int:
    """Run (or preview) every batch of ``request.job``; returns the exit status."""
    tally = Tally(request.job.key, root=request.config.root)
    execution = Execution(request, Broadcast([tally, *observers]), runtime or Runtime())
    execution.tally = tally
    try:
        for step in steps:
            code = step(execution)
            if code is not None:
                return code
    except OutputClosed:
        return ExitStatus.OUTPUT_CLOSED
    finally:
        close(execution)
    return ExitStatus.OK


def close(execution: Execution) -> None:
    """Let go of the ledger: the last ends written, the sign of life stopped."""
    if isinstance(execution.claims, Claims):
        execution.claims.close()
    elif execution.ledger is not None:
        execution.ledger.close()
