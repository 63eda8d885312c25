"""The run flags, declared once: the ``hydraflow`` CLI and the Invoke tasks share them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from hydraflow.errors import UsageError


@dataclass(frozen=True)
class RunOptions:
    """How to run a job. Field metadata gives each flag's help and value name."""

    dry_run: bool = field(default=False, metadata={"help": "print the commands, run nothing"})
    jobs: int | None = field(
        default=None,
        metadata={
            "help": "batches to run at once (default: the job's parallel, else 1)",
            "metavar": "N",
            "short": "j",
        },
    )
    keep_going: bool = field(
        default=False, metadata={"help": "run every batch even after failures"}
    )
    max_failures: int | None = field(
        default=None, metadata={"help": "stop launching batches after K failures", "metavar": "K"}
    )
    timeout: float | None = field(
        default=None,
        metadata={"help": "kill a batch (and its children) after SECONDS", "metavar": "SECONDS"},
    )
    retries: int = field(
        default=0, metadata={"help": "rerun a failed batch up to N times", "metavar": "N"}
    )
    devices: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "device ids, one per worker, as CUDA_VISIBLE_DEVICES (e.g. 0,1)",
            "metavar": "IDS",
        },
    )
    quiet: bool = field(
        default=False, metadata={"help": "show only progress and the summary; output goes to logs"}
    )
    resume: bool = field(
        default=False,
        metadata={"help": "skip batches that already succeeded (from the ledger)"},
    )
    ledger: bool = field(
        default=True, metadata={"help": "record every attempt in .hydraflow/ledger.db"}
    )
    only: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "run only batches whose overrides match KEY=PATTERN[,PATTERN] "
            "(repeatable, globs allowed)",
            "metavar": "EXPR",
        },
    )
    keep_file: bool = field(
        default=False, metadata={"help": "submit jobs: keep the batch file after the handler ends"}
    )

    @property
    def failure_limit(self) -> int | None:
        """How many failures stop new launches; None runs everything."""
        if self.keep_going:
            return None
        return self.max_failures if self.max_failures is not None else 1


def flag_specs() -> list[tuple[str, dict[str, Any]]]:
    """(name, metadata + kind) of every flag, in declaration order."""
    specs = []
    for spec in fields(RunOptions):
        if isinstance(spec.default, bool):
            kind = "bool" if spec.default is False else "negated"
        else:
            kind = "list" if spec.name == "only" else "value"
        specs.append((spec.name, {**spec.metadata, "kind": kind}))
    return specs


def parse_options(raw: Mapping[str, Any]) -> RunOptions:
    """Validate flag values as given on a command line (strings, bools, lists)."""
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None or value == [] or value == ():
            continue
        if name in ("jobs", "max_failures", "retries"):
            values[name] = _whole(name, value, minimum=0 if name == "retries" else 1)
        elif name == "timeout":
            values[name] = _seconds(value)
        elif name == "devices":
            values[name] = tuple(d.strip() for d in str(value).split(",") if d.strip())
        elif name == "only":
            values[name] = tuple(value) if not isinstance(value, str) else (value,)
        else:
            values[name] = bool(value)
    return RunOptions(**values)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _whole(name: str, value: Any, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{_flag(name)} needs a whole number, got {value!r}") from None
    if number < minimum:
        raise UsageError(f"{_flag(name)} must be at least {minimum}, got {number}")
    return number


def _seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"--timeout needs a number of seconds, got {value!r}") from None
    if seconds <= 0:
        raise UsageError(f"--timeout must be above zero, got {value!r}")
    return seconds
