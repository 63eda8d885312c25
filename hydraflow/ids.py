"""Sortable unique ids (ULIDs) for sweep folders and batch files."""

from __future__ import annotations

import os
import threading
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_last = [0, 0]
_lock = threading.Lock()


def new_id() -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, in Crockford base 32.

    Within one millisecond the random part counts up, so ids made here sort
    in the order they were made.
    """
    with _lock:
        now = time.time_ns() // 1_000_000
        if now <= _last[0]:
            now, randomness = _last[0], _last[1] + 1
        else:
            randomness = int.from_bytes(os.urandom(10), "big") >> 1
        _last[0], _last[1] = now, randomness
    value = (now << 80) | (randomness & ((1 << 80) - 1))
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def time_of(ident: str) -> float | None:
    """When a ULID was made, in seconds since the epoch; None for a name that is no ULID."""
    if len(ident) != 26:
        return None
    milliseconds = 0
    for char in ident[:10].upper():
        digit = _CROCKFORD.find(char)
        if digit < 0:
            return None
        milliseconds = milliseconds * 32 + digit
    return milliseconds / 1000
