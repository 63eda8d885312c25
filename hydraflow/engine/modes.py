"""The three ways a job runs its batches, behind one small interface.

``run``: a process per batch, through the pool. ``call``: a Python function
per batch. ``submit``: one handler process that receives every batch in a file.
"""

from __future__ import annotations

import os
import shlex
from typing import TYPE_CHECKING, Protocol

from hydraflow.config import Job
from hydraflow.engine.launching import execute_in_pool, preview_entries
from hydraflow.plan import Extras

if TYPE_CHECKING:
    from hydraflow.engine.workflow import Request, Run


class Mode(Protocol):
    def check(self, request: Request, extras: Extras) -> None: ...

    def preview(self, run: Run) -> None: ...

    def execute(self, run: Run) -> None: ...


def mode_of(job: Job) -> Mode:
    # Each mode's module is imported only by a job that uses it.
    if job.mode == "call":
        from hydraflow.engine.call import CallMode

        return CallMode()
    if job.mode == "submit":
        from hydraflow.engine.submit import SubmitMode

        return SubmitMode()
    return RunMode()


class RunMode:
    """A process per batch, several at once: a fresh one, or a fork of a warm process."""

    def check(self, request: Request, extras: Extras) -> None:
        if request.job.warm:  # a job that asks for warm but cannot have it is told so now
            from hydraflow.engine.warm import spec_of

            spec_of(request.job, request.config, os.environ)

    def preview(self, run: Run) -> None:
        preview_entries(run, lambda batch, directory: shlex.join(batch.argv(directory)))

    def execute(self, run: Run) -> None:
        execute_in_pool(run)
