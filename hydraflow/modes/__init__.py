"""The ways a job runs its batches, one object each, found by the job's key in the file.

``run``: a process per batch, through the pool. ``call``: a Python function per
batch. ``submit``: one handler process that receives every batch in a file.
Adding a mode means its module and a line here.
"""

from __future__ import annotations

from hydraflow.modes.app import AppSpec
from hydraflow.modes.base import Mode, Services
from hydraflow.modes.call import CallMode
from hydraflow.modes.command import CommandMode
from hydraflow.modes.submit import SubmitMode

MODES: dict[str, Mode] = {mode.key: mode for mode in (CommandMode(), CallMode(), SubmitMode())}

__all__ = ["MODES", "AppSpec", "CallMode", "CommandMode", "Mode", "Services", "SubmitMode"]
