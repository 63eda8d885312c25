"""Signals shared by every way of running: SIGTERM acts like Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from collections.abc import Callable, Iterator


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def install_sigterm_as_interrupt() -> None:
    """From now on SIGTERM raises KeyboardInterrupt in the main thread.

    The ``hydraflow`` command installs this first thing, so a SIGTERM that
    arrives early still ends it as an interrupt (130), not with 143.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Within this block SIGTERM raises KeyboardInterrupt, so both stop an execution the same way.

    Only the main thread can install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def signals_counted(count: Callable[[], None], poller: select.poll) -> Iterator[int | None]:
    """Within this block Ctrl-C and SIGTERM only call ``count`` and wake ``poller``
    through a pipe, whose end it gives (the caller reads the bytes that wake it), so a
    signal never cuts the caller's bookkeeping in half.

    Only the main thread can install handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    wake_read, wake_write = os.pipe()  # not inherited by children
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    poller.register(wake_read, select.POLLIN)

    def counted(signum: int, frame: object) -> None:
        count()

    previous = {sig: signal.signal(sig, counted) for sig in (signal.SIGINT, signal.SIGTERM)}
    old_wakeup = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    try:
        yield wake_read
    finally:
        signal.set_wakeup_fd(old_wakeup)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        poller.unregister(wake_read)
        os.close(wake_read)
        os.close(wake_write)
