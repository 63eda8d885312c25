"""``call`` jobs: a Python function called once per batch with the batch's arguments.

The function runs in a child of the job's warm process (which imported it
once), so a call batch is a process like any other: ``-j``, timeouts,
retries, logs, devices, and nothing of one batch (a crash, ``sys.exit``,
Hydra's global state) can touch the next. ``warm: false`` gives each batch a
fresh interpreter instead; hydraflow itself never runs the job's code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hydraflow.engine.launching import execute_in_pool, preview_entries
from hydraflow.engine.warm import check_call
from hydraflow.plan import Batch, Extras

if TYPE_CHECKING:
    from hydraflow.engine.workflow import Request, Run


def call_line(batch: Batch, sweep_dir: str) -> str:
    function, *args = batch.argv(sweep_dir)
    return f"{function}([{', '.join(repr(a) for a in args)}])"


class CallMode:
    def check(self, request: Request, extras: Extras) -> None:
        if request.options.dry_run:  # a run checks it when its warm process starts
            check_call(request.job, request.config.root)

    def preview(self, run: Run) -> None:
        preview_entries(run, call_line)

    def execute(self, run: Run) -> None:
        execute_in_pool(run)
