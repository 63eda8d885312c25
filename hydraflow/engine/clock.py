"""Time and waiting, as the pool sees them: the real ones, or a test's.

The pool reads the time and waits for its descriptors only through a ``Clock``,
so a test can run it with a clock that jumps to the next thing due (a batch's
end, a timeout) instead of sleeping.
"""

from __future__ import annotations

import select
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def wait(self, poller: select.poll, timeout: float | None) -> list[tuple[int, int]]:
        """The descriptors of ``poller`` that are ready within ``timeout`` seconds."""


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def wait(self, poller: select.poll, timeout: float | None) -> list[tuple[int, int]]:
        return poller.poll(None if timeout is None else timeout * 1000)


SYSTEM_CLOCK = SystemClock()
