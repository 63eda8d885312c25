"""``run:``, the command mode: a process per batch, through the pool; a fresh one, or a
fork of a warm process that loaded the app once."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from hydraflow.errors import ConfigError
from hydraflow.modes.app import AppSpec, python_app
from hydraflow.modes.base import Mode, Services

if TYPE_CHECKING:
    from hydraflow.config import Job


class CommandMode(Mode):
    key = "run"

    def app(self, job: Job, root: Path, environ: Mapping[str, str] = os.environ) -> AppSpec | None:
        found = python_app(job.command, root, environ, job.preload)
        return found if isinstance(found, AppSpec) else None

    def warm_app(self, job: Job, root: Path, environ: Mapping[str, str]) -> AppSpec:
        """The app a warm job loads; a job that asks for warm but cannot have it is a
        mistake in the file, named at its ``warm:`` line, never a silent fall back."""
        found = python_app(job.command, root, environ, job.preload)
        if isinstance(found, str):
            message = f"job {job.key!r}: warm {found}"
            if found.startswith("works for"):
                message += f"; this job runs {job.command_text!r}"
            raise ConfigError(message, job.path, job.line_of("warm"))
        return found

    def pasted_needs_callback(self, job: Job) -> bool:
        return self.records_runs(job)

    def check(self, services: Services) -> None:
        if services.job.warm:
            self.warm_app(services.job, services.root, os.environ)

    def preview(self, services: Services) -> None:
        services.preview_batches(lambda batch, folder: shlex.join(batch.argv(folder)))

    def execute(self, services: Services) -> None:
        job = services.job
        services.run_pool(self.warm_app(job, services.root, os.environ) if job.warm else None)
