"""The run flags, declared once: one record per flag with its parser, short flag and help.

Both front ends (the ``hydraflow`` command and the Invoke tasks) build their
flags from ``FLAGS`` and turn what they parsed into ``RunOptions`` with
``parse_options``. A flag of an unknown kind, or a field without a flag, stops
the import: nothing can silently become a ``bool``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from hydraflow.config.devices import parse_devices
from hydraflow.errors import UsageError

Kind = Literal["switch", "negatable", "value", "repeated"]
KINDS: tuple[Kind, ...] = ("switch", "negatable", "value", "repeated")


@dataclass(frozen=True)
class RunOptions:
    """How to run a job."""

    dry_run: bool = False
    jobs: int | None = None
    keep_going: bool = False
    max_failures: int | None = None
    timeout: float | None = None
    retries: int = 0
    devices: tuple[str, ...] = ()
    quiet: bool = False
    resume: bool = False
    ledger: bool = True
    only: tuple[str, ...] = ()
    keep_file: bool = False

    @property
    def failure_limit(self) -> int | None:
        """How many failures stop new launches; None runs everything. A limit given
        with ``--max-failures`` holds beside ``-k`` (as in ``make -k``, only the default
        stop at the first failure goes)."""
        if self.max_failures is not None:
            return self.max_failures
        return None if self.keep_going else 1


@dataclass(frozen=True)
class Flag:
    name: str
    kind: Kind
    help: str
    parse: Callable[[str], Any] = str
    metavar: str = ""
    short: str = ""

    @property
    def long(self) -> str:
        return "--" + self.name.replace("_", "-")


def _whole(minimum: int) -> Callable[[str], int]:
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


FLAGS: tuple[Flag, ...] = (
    Flag("dry_run", "switch", "print the commands, start nothing", short="n"),
    Flag(
        "jobs",
        "value",
        "batches to run at once (default: the job's parallel:, else 1)",
        _whole(1),
        "N",
        "j",
    ),
    Flag("keep_going", "switch", "run every batch even after failures", short="k"),
    Flag("max_failures", "value", "stop launching batches after K failures", _whole(1), "K"),
    Flag(
        "timeout",
        "value",
        "stop a batch and its children after TIME (90, 90s, 15m, 2h, 1h30m)",
        parse_duration,
        "TIME",
        "t",
    ),
    Flag("retries", "value", "rerun a failed batch up to N times", _whole(0), "N"),
    Flag(
        "devices",
        "value",
        "device ids, one per worker, as CUDA_VISIBLE_DEVICES (0,1; repeat an id to share)",
        parse_devices,
        "IDS",
        "d",
    ),
    Flag("quiet", "switch", "show only progress and the summary; output goes to logs", short="q"),
    Flag("resume", "switch", "skip batches (and runs) that already succeeded", short="r"),
    Flag("ledger", "negatable", "record every attempt in .hydraflow/ledger.db"),
    Flag(
        "only",
        "repeated",
        "run only batches whose overrides match KEY=PATTERN[,PATTERN] (globs; repeatable)",
        str,
        "KEY=PAT",
        "o",
    ),
    Flag("keep_file", "switch", "submit jobs: keep the batch file after the handler ends"),
)


def _check_declarations() -> None:
    declared = {flag.name for flag in FLAGS}
    wanted = {spec.name for spec in fields(RunOptions)}
    if declared != wanted:
        raise TypeError(f"flags and RunOptions disagree: {sorted(declared ^ wanted)}")
    for flag in FLAGS:
        if flag.kind not in KINDS:
            raise TypeError(f"flag {flag.name!r} has an unknown kind {flag.kind!r}")
        if flag.kind in ("value", "repeated") and not flag.metavar:
            raise TypeError(f"flag {flag.name!r} takes a value but names no placeholder")
    shorts = [flag.short for flag in FLAGS if flag.short]
    if len(shorts) != len(set(shorts)):
        raise TypeError("two flags share a short flag")


_check_declarations()


def parse_options(raw: Mapping[str, Any]) -> RunOptions:
    """RunOptions from what a front end parsed: bools for switches, strings (or lists of
    strings) for values. Absent or empty values keep their defaults."""
    values: dict[str, Any] = {}
    for flag in FLAGS:
        value = raw.get(flag.name)
        if value is None or value == [] or value == ():
            continue
        if flag.kind in ("switch", "negatable"):
            if not isinstance(value, bool):
                raise UsageError(f"{flag.long} takes no value")
            values[flag.name] = value
        elif flag.kind == "value":
            values[flag.name] = _parsed(flag, value)
        else:
            items = [value] if isinstance(value, str) else list(value)
            values[flag.name] = tuple(_parsed(flag, item) for item in items)
    return RunOptions(**values)


def _parsed(flag: Flag, value: Any) -> Any:
    try:
        return flag.parse(str(value))
    except ValueError as error:
        raise UsageError(f"{flag.long} {error}") from None
