"""Sending each event to every observer, and noticing when our reader has gone."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from hydraflow.events import Event, Observer


class OutputClosed(Exception):
    """The reader of our output went away (``hydraflow run j | head``)."""


class Broadcast:
    """Sends each event to every observer, one event at a time."""

    def __init__(self, observers: Iterable[Observer]) -> None:
        self.observers = list(observers)
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        closed = False
        with self.lock:
            # Every observer gets the event even when another one's output is gone:
            # the ledger's record must not depend on the display.
            for observer in list(self.observers):
                try:
                    observer.handle(event)
                except BrokenPipeError:
                    self.observers.remove(observer)
                    closed = True
        if closed:
            raise OutputClosed
