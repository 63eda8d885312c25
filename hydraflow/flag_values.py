"""What a flag's value means: whole numbers with a floor, durations, lists of keys.
Each parser takes the text a user typed and raises ValueError with the reason."""

from __future__ import annotations

import re
from collections.abc import Callable


def whole(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"needs a whole number, got {text!r}") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum}, got {number}")
        return number

    return parse


_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([hms])")
_PLAIN_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``1.5m``, ``2h`` or ``1h30m``."""
    compact = text.strip().lower()
    parts = _DURATION_PART.findall(compact)
    if _PLAIN_SECONDS.fullmatch(compact):
        seconds = float(compact)
    elif parts and "".join(n + u for n, u in parts) == compact:
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    else:
        raise ValueError(f"needs a duration such as 90, 90s, 15m, 2h or 1h30m; got {text!r}")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"must be a duration above zero, got {text!r}")
    return seconds


def parse_keys(text: str) -> tuple[str, ...]:
    """``model,optimizer`` as its keys."""
    return tuple(key.strip() for key in text.split(",") if key.strip())
