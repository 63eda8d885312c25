"""Values as the app's config has them: an int, a float, a bool, null, a string, or a list
or mapping kept whole. One place for how such a value is read from an override word,
compared (``1e-3`` is ``0.001``), ordered and written in a cell, for the selection
(``--only``, ``--where``), the results and their formats alike."""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Mapping
from typing import Any

# Hydra's override grammar: an int (with _ between digits), a float (with exponent, inf or
# nan, any case), true/false (any case), null. Anything else is text.
_INT = re.compile(r"[+-]?(?:0|[1-9](?:_?\d)*)")
_DIGITS = r"\d(?:_?\d)*"
_POINT = rf"(?:(?:{_DIGITS})?\.{_DIGITS}|{_DIGITS}\.)"
_FLOAT = re.compile(rf"[+-]?(?:{_POINT}|(?:{_DIGITS}|{_POINT})e[+-]?{_DIGITS}|inf|nan)", re.I)


def from_word(text: str) -> Any:
    """An override's value as Hydra reads it: ``3`` an int, ``1e-3`` a float, ``True`` a
    bool, ``null`` None; any other text stays text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if _INT.fullmatch(text):
        return int(text.replace("_", ""))
    if _FLOAT.fullmatch(text):
        return float(text.replace("_", ""))
    return text


def plain(value: Any) -> Any:
    """A value read from a YAML file made plain: a date is its ISO text, and anything that
    is no JSON value is its text (a list or mapping keeps its shape)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return str(value)


def number_of(value: Any) -> float | None:
    """The number a value is (an int, a float, or text that reads as one); None for
    anything else, a bool included, and for nan (which equals nothing)."""
    if isinstance(value, str):
        value = from_word(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int past a float's range is no number to compare
        return None
    return None if math.isnan(number) else number


def text_of(value: Any) -> str:
    """A value as a cell shows it: text as it is, numbers in full (``repr``, which reads
    back as the same float), ``true``/``false``/``null`` as the config writes them, a
    list or mapping as compact JSON; None in a cell is empty."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def same_key(value: Any) -> Any:
    """What makes two values the same (for grouping): equal numbers are one whatever
    their spelling or type; a bool is not the number 1; a list or mapping by its JSON."""
    number = number_of(value) if not isinstance(value, str) else None
    if number is not None:
        return ("number", number)
    if isinstance(value, list | dict):
        return ("json", text_of(value))
    return (type(value).__name__, value)
