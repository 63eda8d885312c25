"""Processes: telling a live process from a later one with the same pid, and stopping a
process group whole (TERM, a grace period, then KILL).

Nothing here imports psutil at module level: the watchdog runs this module in an
interpreter started without site-packages, and only needs the group helpers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Collection

GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.05


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal every process of the group; a group that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_groups_gone(pgids: Collection[int], timeout: float) -> bool:
    """Poll until no process of any group is left, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while any(group_exists(pgid) for pgid in pgids):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def stop_groups(
    pgids: Collection[int],
    grace: float = GRACE_SECONDS,
    gone: Callable[[float], bool] | None = None,
) -> None:
    """TERM every group, wait up to ``grace`` seconds for them to end, KILL what is left.

    ``gone(timeout)`` says whether everything ended within ``timeout``; the
    default polls the groups. A caller that reaps the group leaders itself
    passes its own (a zombie leader keeps its group visible until reaped).
    """
    if not pgids:
        return
    for pgid in pgids:
        signal_group(pgid, signal.SIGTERM)
    finished = (gone or (lambda timeout: wait_groups_gone(pgids, timeout)))(grace)
    if not finished:
        for pgid in pgids:
            signal_group(pgid, signal.SIGKILL)


def process_token(pid: int) -> str | None:
    """A token for the process ``pid`` that a later process with the same pid will not share.

    It is the process's start time, from psutil. None when no such process is
    alive; "" when it is alive but its start time cannot be read.
    """
    import psutil

    if pid <= 0:
        return None
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return f"{process.create_time():.2f}"
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:
        return ""


def is_alive(pid: int | None, token: str | None) -> bool:
    """Whether ``pid`` still names the process whose token was ``token``."""
    current = process_token(pid or 0)
    return current is not None and (not token or not current or current == token)
