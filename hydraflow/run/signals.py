"""Signals shared by every way of running: SIGTERM acts like Ctrl-C; groups die whole."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal every process of the group led by ``pid``; a group already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Within this block SIGTERM raises KeyboardInterrupt, so both stop a run the same way.

    Only the main thread can install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
