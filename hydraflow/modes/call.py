"""``call:``, the call mode: a Python function called once per batch with the batch's
arguments.

The function runs in a child of the job's warm process (which imported it
once), so a call batch is a process like any other: ``-j``, timeouts,
retries, logs, devices, and nothing of one batch (a crash, ``sys.exit``,
Hydra's global state) can touch the next. ``warm: false`` gives each batch a
fresh interpreter instead; hydraflow itself never runs the job's code.
"""

from __future__ import annotations

import keyword
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hydraflow.errors import shown
from hydraflow.modes.app import AppSpec, call_app
from hydraflow.modes.base import Mode, Services

if TYPE_CHECKING:
    from hydraflow.config import Job
    from hydraflow.plan import Batch


def call_line(batch: Batch, sweep_dir: str) -> str:
    function, *args = batch.argv(sweep_dir)
    return f"{function}([{', '.join(repr(a) for a in args)}])"


class CallMode(Mode):
    key = "call"
    warm_by_default = True

    def command_problem(self, command: Sequence[str]) -> str | None:
        parts = command[0].split(".")
        if len(parts) > 1 and all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):
            return None
        return (
            "call must be module.function, then any fixed arguments"
            f" (e.g. pkg.train.main), not {shown(command[0])}"
        )

    def app(self, job: Job, root: Path, environ: Mapping[str, str] = os.environ) -> AppSpec:
        return call_app(job.command[0], root, job.preload)

    def check(self, services: Services) -> None:
        if services.options.dry_run:  # an execution finds out when its warm process starts
            services.probe(self.app(services.job, services.root))

    def preview(self, services: Services) -> None:
        services.preview_batches(call_line)

    def execute(self, services: Services) -> None:
        services.run_pool(self.app(services.job, services.root))
