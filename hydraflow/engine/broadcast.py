"""Sending each event to every observer, and noticing when our reader has gone."""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable

from hydraflow.events import Event, Observer


class OutputClosed(Exception):
    """The reader of our output went away (``hydraflow run j | head``)."""


class Broadcast:
    """Sends each event to every observer, one event at a time, in the order they come.

    An observer may cause an event while it handles one (the ledger says it was made
    anew): that event waits until every observer has had the current one.
    """

    def __init__(self, observers: Iterable[Observer]) -> None:
        self.observers = list(observers)
        self.lock = threading.RLock()
        self._queue: collections.deque[Event] = collections.deque()
        self._delivering = False

    def add(self, observer: Observer, *, first: bool = False) -> None:
        """One more observer; ``first`` hears every event before the others."""
        with self.lock:
            self.observers.insert(0 if first else len(self.observers), observer)

    def __call__(self, event: Event) -> None:
        with self.lock:
            self._queue.append(event)
            if self._delivering:
                return
            self._delivering = True
            try:
                closed, failure = False, None
                while self._queue:
                    now_closed, now_failure = self._deliver(self._queue.popleft())
                    closed, failure = closed or now_closed, failure or now_failure
            finally:
                self._delivering = False
        if failure is not None:
            raise failure
        if closed:
            raise OutputClosed

    def _deliver(self, event: Event) -> tuple[bool, Exception | None]:
        """Every observer gets the event whatever another one does: the ledger's record
        must not depend on the display, nor the display on the ledger."""
        closed, failure = False, None
        for observer in list(self.observers):
            try:
                observer.handle(event)
            except BrokenPipeError:
                self.observers.remove(observer)
                closed = True
            except Exception as error:
                failure = failure or error
        return closed, failure
