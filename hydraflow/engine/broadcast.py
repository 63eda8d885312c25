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

    def add(self, observer: Observer, *, first: bool = False) -> None:
        """One more observer; ``first`` hears every event before the others."""
        with self.lock:
            self.observers.insert(0 if first else len(self.observers), observer)

    def __call__(self, event: Event) -> None:
        closed = False
        failure: Exception | None = None
        with self.lock:
            # Every observer gets the event whatever another one does: the ledger's
            # record must not depend on the display, nor the display on the ledger.
            for observer in list(self.observers):
                try:
                    observer.handle(event)
                except BrokenPipeError:
                    self.observers.remove(observer)
                    closed = True
                except Exception as error:
                    failure = failure or error
        if failure is not None:
            raise failure
        if closed:
            raise OutputClosed
