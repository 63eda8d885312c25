"""Reading the files a run leaves (its record, its metrics, Hydra's own), whatever they are.

A run folder is written by the user's code, so nothing in it is trusted: a file
named ``metrics.json`` may be a FIFO that never ends, a link to ``/dev/zero``, a
document of aliases that expands to billions of values, or nested thousands of
levels deep. Only regular files are read, at most ``MAX_FILE`` bytes of them; an
integer too long to convert in linear time is no number; every way a file can be
wrong ends as one ``Unreadable`` with the reason, never a hang or a traceback.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

import yaml

MAX_FILE = 16 * 1024 * 1024  # a run's metrics are kilobytes; anything this big is not one
MAX_DIGITS = 4300  # Python's own limit for converting a decimal string to an int
_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Unreadable(Exception):
    """A file that is not read, and why, in a few words."""


def read_bounded(path: str, limit: int = MAX_FILE) -> bytes:
    """A regular file's bytes; a FIFO, a device or a file over ``limit`` is Unreadable.
    FileNotFoundError passes through: a missing file is no problem to report."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise Unreadable(error.strerror or str(error)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable("not a regular file")
        if info.st_size > limit:
            raise Unreadable(f"larger than {limit // (1024 * 1024)} MiB")
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # it grew while being read
                raise Unreadable(f"larger than {limit // (1024 * 1024)} MiB")
        return b"".join(chunks)
    except OSError as error:
        raise Unreadable(error.strerror or str(error)) from None
    finally:
        os.close(fd)


def _int(text: str) -> int | None:
    """An int as JSON or YAML writes it; None (no number) past ``MAX_DIGITS`` digits."""
    digits = len(text.lstrip("+-").replace("_", ""))
    return None if digits > MAX_DIGITS else int(text)


class _Loader(_BASE):  # type: ignore[misc]
    """YAML's safe loader, with ints no longer than ``MAX_DIGITS`` digits."""


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int | None:
    if len(str(node.value)) > MAX_DIGITS:
        return None
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


# As deep as Python's JSON parser goes before 3.13 (whose parser goes much deeper):
# the same file reads the same on every supported Python.
MAX_DEPTH = 900


def _deeper_than(value: Any, most: int) -> bool:
    """Whether lists and mappings nest more than ``most`` levels, walked without
    recursion and each once: a YAML alias is one object however often it is used, and
    walking it again would take as long as the alias bombs the readers bound."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    seen: set[int] = set()
    while pending:
        item, depth = pending.pop()
        if depth > most:
            return True
        if not isinstance(item, dict | list) or id(item) in seen:
            continue
        seen.add(id(item))
        inner = item.values() if isinstance(item, dict) else item
        pending.extend((each, depth + 1) for each in inner)
    return False


def load(path: str, limit: int = MAX_FILE) -> Any:
    """A JSON or YAML file (by its suffix) as data; Unreadable with the reason when it
    cannot be, whatever went wrong. A missing file raises FileNotFoundError."""
    data = read_bounded(path, limit)
    try:
        if path.endswith((".yaml", ".yml")):  # its parser recurses: deep files fail in it
            return yaml.load(data, Loader=_Loader)
        loaded = json.loads(data, parse_int=_int)
        # Only a file with that many brackets can nest that deep: most are looked at no more.
        opened = data.count(b"[") + data.count(b"{")
        if opened > MAX_DEPTH and _deeper_than(loaded, MAX_DEPTH):
            raise RecursionError
        return loaded
    except RecursionError:
        raise Unreadable("nested too deeply") from None
    except (ValueError, TypeError, yaml.YAMLError, MemoryError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise Unreadable(first or type(error).__name__) from None
