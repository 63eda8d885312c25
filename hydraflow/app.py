"""What both front ends share: building a run's observers and records, and rendering
an error once. The Invoke tasks and the ``hydraflow`` command only translate flags.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from hydraflow.config import Config, Job
from hydraflow.options import RunOptions

if TYPE_CHECKING:
    from hydraflow.recorder import Recorder


def error_line(error: BaseException) -> str:
    return f"error: {error}"


def run(
    config: Config,
    job: Job,
    options: RunOptions,
    extra: Sequence[str] = (),
    *,
    rerun: str,
    out: IO[str] | None = None,
) -> int:
    """Run (or preview) ``job`` with a display on ``out`` and, unless ``--no-ledger``, the
    ledger; ``rerun`` is the front end's command to resume it, for the failure report."""
    from hydraflow.display import make_display
    from hydraflow.display.plain import PlainDisplay
    from hydraflow.engine.workflow import Request, run_job

    out = out or sys.stdout
    request = Request(config, job, options, tuple(extra))
    records = _records(config, job, options, tuple(extra))
    try:
        if options.dry_run:
            return run_job(request, [PlainDisplay(out)], records)
        display = make_display(options.quiet, out, rerun if options.ledger else None)
        return run_job(request, [display], records)
    finally:
        if records is not None:
            records.close()


def _records(
    config: Config, job: Job, options: RunOptions, extra: tuple[str, ...]
) -> Recorder | None:
    """The ledger's recorder; only reading it for a dry run (which never creates it)."""
    from hydraflow.ledger import LEDGER, Ledger

    if not options.ledger:
        return None
    from hydraflow.recorder import Recorder

    if options.dry_run:
        if not options.resume:
            return None
        ledger = Ledger.existing(config.root)
        return Recorder(ledger, job, extra, resume=True) if ledger else None
    return Recorder(Ledger(config.root / LEDGER), job, extra, resume=options.resume)
