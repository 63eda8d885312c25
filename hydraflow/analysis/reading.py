"""Reading one run dir: its record, its overrides and the numbers in its metrics files.

Each file is read once, through ``run_files``: only regular files, of bounded size,
and every way one can be wrong is a problem reported in one line, while the run's
other data stays. YAML goes through libyaml's ``CSafeLoader`` when present.
"""

from __future__ import annotations

import glob
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hydraflow.run_files import Unreadable, load
from hydraflow.run_record import read_record
from hydraflow.statuses import RunStatus
from hydraflow.typed import plain
from hydraflow.words import params_of

OVERRIDES = os.path.join(".hydra", "overrides.yaml")
CONFIG = os.path.join(".hydra", "config.yaml")
# A metrics file holds a few numbers; a walk past this many values is an alias bomb.
MAX_VALUES = 100_000
_NON_FINITE = ("nan", "inf", "-inf")


def read_config(run_dir: str, problems: list[str] | None = None) -> dict[str, Any] | None:
    """The config Hydra composed for the run (``.hydra/config.yaml``), flattened to
    dotted keys; None when it saved none, or one that cannot be read (said in
    ``problems``: the run's parameters are then its overrides)."""
    path = os.path.join(run_dir, CONFIG)
    try:
        config = load(path)
        if not isinstance(config, Mapping):
            raise Unreadable("not a mapping")
        return flatten(config)
    except FileNotFoundError:
        return None
    except (OSError, Unreadable, TooMany, RecursionError) as why:
        if problems is not None:
            reason = "nested too deeply" if isinstance(why, RecursionError) else why
            problems.append(f"{path}: {reason}; the run's parameters are its overrides")
        return None


def flatten(config: Mapping[Any, Any]) -> dict[str, Any]:
    """``{"optimizer": {"lr": 0.1}}`` as ``{"optimizer.lr": 0.1}``, in the config's order.
    A list (and an empty mapping) is one value; a date is its ISO text. At most
    ``MAX_VALUES`` values, counted through every list: aliases may expand without end."""
    found: dict[str, Any] = {}
    budget = [MAX_VALUES]
    pending: list[tuple[str, Any]] = [
        (str(key), value) for key, value in reversed(list(config.items()))
    ]
    while pending:
        name, item = pending.pop()
        _spend(budget)
        if isinstance(item, Mapping) and item:
            pending.extend((f"{name}.{key}", inner) for key, inner in reversed(list(item.items())))
        else:
            found[name] = _whole(item, budget)
    return found


def _whole(value: Any, budget: list[int]) -> Any:
    """A value made plain (``typed.plain``), each item of a list or mapping counted."""
    if isinstance(value, Mapping):
        _spend(budget, len(value))
        return {str(key): _whole(item, budget) for key, item in value.items()}
    if isinstance(value, list | tuple):
        _spend(budget, len(value))
        return [_whole(item, budget) for item in value]
    return plain(value)


def _spend(budget: list[int], count: int = 1) -> None:
    budget[0] -= count
    if budget[0] < 0:
        raise TooMany(f"more than {MAX_VALUES:,} values")


def read_overrides(run_dir: str) -> list[str] | None:
    try:
        overrides = load(os.path.join(run_dir, OVERRIDES))
    except (OSError, Unreadable):
        return None
    return [str(o) for o in overrides] if isinstance(overrides, list) else None


class TooMany(ValueError):
    """More values than any metrics file holds: aliases that expand without end."""


def numbers(value: Any, prefix: str = "") -> dict[str, float]:
    """The numbers in ``value``: a number is ``value`` (or ``prefix``); a mapping gives its
    entries, nested keys joined with ``.`` (an empty key is ``""``); anything else, or an
    int too large for a float, gives nothing. A non-finite float kept as text (``"nan"``,
    as records keep them) is that float. Walked without recursion and at most
    ``MAX_VALUES`` values deep and wide: raises TooMany past that."""
    found: dict[str, float] = {}
    pending: list[tuple[str, Any]] = [(prefix, value)]
    visited = 0
    while pending:
        name, item = pending.pop()
        visited += 1
        if visited > MAX_VALUES:
            raise TooMany(f"more than {MAX_VALUES:,} values")
        if isinstance(item, Mapping):
            for key, inner in reversed(list(item.items())):
                part = str(key) if str(key) else '""'
                pending.append((f"{name}.{part}" if name else part, inner))
        elif (number := _number(item)) is not None:
            found[name or "value"] = number
    return found


def _number(item: Any) -> float | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, float):
        return item
    if isinstance(item, int):
        # JSON and YAML keep ints of any size; one beyond a float's range is no metric.
        try:
            return float(item)
        except OverflowError:
            return None
    if isinstance(item, str) and item in _NON_FINITE:
        return float(item)  # the record keeps non-finite floats as text
    return None


def read_metrics(
    run_dir: str, patterns: Iterable[str], problems: list[str] | None = None
) -> dict[str, float]:
    """The numbers in the run's metrics files (JSON, or YAML by its suffix); a file that
    cannot be read is a line in ``problems`` and the others still count."""
    found: dict[str, float] = {}
    for pattern in patterns:
        paths = (
            sorted(glob.glob(os.path.join(glob.escape(run_dir), pattern)))
            if glob.has_magic(pattern)
            else [os.path.join(run_dir, pattern)]
        )
        for path in paths:
            try:
                found.update(numbers(load(path)))
            except FileNotFoundError:
                continue
            except (Unreadable, TooMany) as why:
                if problems is not None:
                    problems.append(f"{path}: {why}; its metrics are left out")
    return found


def same_values(params: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    """Parameters as Hydra records them, whatever the spelling on the command line:
    ``1e-3`` and ``0.001`` are the same number, ``true`` and ``True`` the same flag."""
    return frozenset((key, canonical(value)) for key, value in params.items())


def canonical(value: str) -> str:
    """A value as Hydra records it, for comparing: ``True`` for ``true``, ``0.001`` for ``1e-3``."""
    lowered = value.lower()
    if lowered in ("true", "false", "null", "none"):
        return lowered
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return value
    return repr(number) if math.isfinite(number) else lowered


def run_numbers(
    folder: str, planned: Sequence[Mapping[str, str]], status: RunStatus = RunStatus.OK
) -> set[int]:
    """Which of a batch's planned runs have a record with ``status`` in its sweep dir.

    A run is known by the number its folder is named after (Hydra numbers runs in the
    order hydraflow plans them, and a rerun keeps its number); a folder not named by
    a number is matched by its parameters instead.
    """
    by_values = {same_values(params): number for number, params in enumerate(planned)}
    found: set[int] = set()
    try:
        names = os.listdir(folder)
    except OSError:
        return found
    for name in names:
        record = read_record(os.path.join(folder, name))
        if record is None or record.get("status") != status:
            continue
        if name.isdigit() and int(name) < len(planned):
            found.add(int(name))
        else:
            number = by_values.get(same_values(params_of(map(str, record.get("overrides") or []))))
            if number is not None:
                found.add(number)
    return found
