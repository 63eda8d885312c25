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


# Start times are read to a tick: allow a little slack when comparing them.
_CLOCK_SLACK = 1.0


def started_before(pid: int | None, moment: float) -> bool:
    """Whether ``pid`` names a live process that was already running at ``moment``.

    A row records when its runner claimed it; the runner itself started
    earlier. A later process that got the same pid started after the row, so
    this tells a live runner from an unrelated process, on Linux and macOS
    alike, without the runner having to read its own start time.
    """
    import psutil

    if not pid or pid <= 0:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return bool(process.create_time() <= moment + _CLOCK_SLACK)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def marked_groups(marker: str) -> set[int]:
    """The process groups of every process whose environment holds ``NAME=VALUE``."""
    import psutil

    name, _, value = marker.partition("=")
    groups: set[int] = set()
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if process.environ().get(name) == value:
                groups.add(os.getpgid(process.pid))
    return groups


def stop_marked(marker: str, grace: float = GRACE_SECONDS) -> None:
    """Stop every process group that carries ``marker``, and wait until they are gone."""
    groups = marked_groups(marker)
    stop_groups(groups, grace)
    wait_groups_gone(groups, grace)
