"""Every flag of the commands both front ends offer, declared once.

A ``Command`` (``run``, ``results``, …) is a table of ``Flag`` records: name,
kind, short flag, placeholder, help and parser. The ``hydraflow`` command builds
its argparse parsers from these tables and the Invoke tasks build their
arguments from them, so a flag cannot exist in one front end and not the other
(a test checks both). Whatever a front end parsed comes back through
``Command.parse``: strings in, checked values out, one error message for both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, Self

from hydraflow.config.devices import parse_devices
from hydraflow.errors import UsageError
from hydraflow.flag_values import parse_duration, parse_keys, whole

# switch: --flag; negatable: --[no-]flag; value: --flag V; repeated: --flag V, again;
# subject: the job the command is about (a positional word in the hydraflow command,
# --job in Invoke, where a job's own task carries it in its name).
Kind = Literal["switch", "negatable", "value", "repeated", "subject"]
KINDS: tuple[Kind, ...] = ("switch", "negatable", "value", "repeated", "subject")


@dataclass(frozen=True)
class Flag:
    name: str
    kind: Kind
    help: str
    parse: Callable[[str], Any] = str
    metavar: str = ""
    short: str = ""
    # Flags that share a group exclude each other (--json, --csv, --md).
    exclusive: str = ""

    @property
    def long(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def takes_value(self) -> bool:
        return self.kind in ("value", "repeated", "subject")

    @property
    def default(self) -> Any:
        """The value when the flag is not given."""
        return {"switch": False, "negatable": True, "repeated": ()}.get(self.kind)


@dataclass(frozen=True)
class Command:
    """A command both front ends offer, with its flags."""

    name: str
    help: str  # one line, for listings
    description: str
    flags: tuple[Flag, ...]

    @property
    def subject(self) -> Flag | None:
        return next((flag for flag in self.flags if flag.kind == "subject"), None)

    def flag(self, name: str) -> Flag:
        return next(flag for flag in self.flags if flag.name == name)

    def parse(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Checked values from what a front end parsed (bools for switches, strings or
        lists of strings for the others); a flag not given keeps its default."""
        values: dict[str, Any] = {}
        for flag in self.flags:
            given = raw.get(flag.name)
            if given is None or given == [] or given == ():
                values[flag.name] = flag.default
            elif flag.kind in ("switch", "negatable"):
                if not isinstance(given, bool):
                    raise UsageError(f"{flag.long} takes no value")
                values[flag.name] = given
            elif flag.kind == "repeated":
                items = [given] if isinstance(given, str) else list(given)
                values[flag.name] = tuple(_parsed(flag, item) for item in items)
            else:
                values[flag.name] = _parsed(flag, given) if given != "" else flag.default
        self._check_exclusive(values)
        return values

    def _check_exclusive(self, values: Mapping[str, Any]) -> None:
        groups: dict[str, list[str]] = {}
        for flag in self.flags:
            if flag.exclusive and values[flag.name]:
                groups.setdefault(flag.exclusive, []).append(flag.long)
        for group, chosen in groups.items():
            if len(chosen) > 1:
                members = [f.long for f in self.flags if f.exclusive == group]
                raise UsageError(f"choose one of {', '.join(members)} (got {', '.join(chosen)})")


def _parsed(flag: Flag, value: Any) -> Any:
    try:
        return flag.parse(str(value))
    except ValueError as error:
        raise UsageError(f"{flag.long} {error}") from None


# A search stops after this many failed trials in a row: its app is broken, not its luck.
SEARCH_FAILURES = 5

RUN = Command(
    "run",
    "run a job",
    "Run a job. Words after -- (and other words that are not flags) go to its command; "
    "KEY=VALUE overrides replace the job's own.",
    (
        Flag("dry_run", "switch", "print the commands, start nothing", short="n"),
        Flag(
            "jobs",
            "value",
            "batches to run at once (default: the job's parallel:, else 1)",
            whole(1),
            "N",
            "j",
        ),
        Flag("keep_going", "switch", "run every batch even after failures", short="k"),
        Flag(
            "max_failures",
            "value",
            f"stop launching batches after K failures (a search: K in a row, default"
            f" {SEARCH_FAILURES})",
            whole(1),
            "K",
        ),
        Flag(
            "timeout",
            "value",
            "stop a batch and its children after TIME (90, 90s, 15m, 2h, 1h30m)",
            parse_duration,
            "TIME",
            "t",
        ),
        Flag("retries", "value", "rerun a failed batch up to N times", whole(0), "N"),
        Flag(
            "devices",
            "value",
            "device ids, one per worker, as CUDA_VISIBLE_DEVICES (0,1; repeat an id to share)",
            parse_devices,
            "IDS",
            "d",
        ),
        Flag(
            "quiet", "switch", "show only progress and the summary; output goes to logs", short="q"
        ),
        Flag("resume", "switch", "skip batches (and runs) that already succeeded", short="r"),
        Flag("ledger", "negatable", "record every attempt in .hydraflow/ledger.db"),
        Flag("check", "negatable", "compose every batch's config before anything starts"),
        Flag(
            "only",
            "repeated",
            "run only batches whose overrides match KEY=PATTERN[,PATTERN] (globs; repeatable)",
            str,
            "KEY=PAT",
            "o",
        ),
        Flag("keep_file", "switch", "submit jobs: keep the batch file after the handler ends"),
    ),
)

# No -j or -t here: after a job's name they are --jobs and --timeout, and must not
# mean something else one task over.
RESULTS = Command(
    "results",
    "every run of a job side by side",
    "Every run of a job (or of all jobs): its status, the parameters that vary, its metrics "
    "(the numbers it returned and those in its metrics files), its duration and its folder.",
    (
        Flag("job", "subject", "the job's name (default: every job)", metavar="JOB"),
        Flag(
            "where",
            "repeated",
            "only runs whose KEY matches PAT[,PAT] (numbers as numbers, else globs; KEY= for"
            " none; KEY!=, KEY<, <=, >, >= N; repeatable)",
            metavar="KEY=PAT",
            short="w",
        ),
        Flag(
            "sort",
            "value",
            "order by a parameter or metric (groups: by its mean)",
            metavar="KEY",
            short="s",
        ),
        Flag("reverse", "switch", "largest first"),
        Flag("top", "value", "only the first N rows (or groups)", whole(1), "N"),
        Flag(
            "group_by",
            "value",
            "one row per value of KEY[,KEY]: count, ok count, mean ± std of each metric "
            "over the ok runs",
            parse_keys,
            "KEY[,KEY]",
            "g",
        ),
        Flag("json", "switch", "a JSON list, for programs", exclusive="format"),
        Flag("csv", "switch", "CSV: a header row, a row per run", exclusive="format"),
        Flag("md", "switch", "a Markdown table", exclusive="format"),
        Flag("all_columns", "switch", "every parameter, not only those that vary"),
        Flag(
            "columns",
            "value",
            "only these columns, in this order (names or globs: lr,optimizer.*,loss,dir)",
            parse_keys,
            "KEY[,KEY]",
        ),
        Flag("all_attempts", "switch", "every attempt of each config, not only its latest"),
        Flag("best", "switch", "only the best run by the job's goal (each group's, with -g)"),
    ),
)

FORGET = Command(
    "forget",
    "remove runs from the ledger (and their folders)",
    "Forget runs of a job, as results shows them (--where, --all-attempts): status and results "
    "no longer show them, and a batch none of whose runs is left reads as never run. "
    "--delete also deletes their folders, only inside multirun/. A batch running now is left "
    "alone. Asks first on a terminal; elsewhere it needs --yes.",
    (
        Flag("job", "subject", "the job whose runs to forget", metavar="JOB"),
        RESULTS.flag("where"),
        RESULTS.flag("all_attempts"),
        Flag("delete", "switch", "also delete their folders (only inside multirun/)"),
        Flag("dry_run", "switch", "list the runs that would go, change nothing", short="n"),
        Flag("yes", "switch", "do not ask (needed where there is no terminal to ask)", short="y"),
    ),
)

# --x, --y and --z are also -x, -y and -z: Invoke spells a one-letter flag only so.
PLOT = Command(
    "plot",
    "a metric against a parameter, as a picture",
    "Plot a job's runs as results shows them (the latest attempt of each config, --where): "
    "a metric against a parameter, a line per --hue value with the mean ± std of the runs "
    "that share x (seeds); every run as a dot (--kind scatter); or a metric over two "
    "parameters (--kind heatmap --z METRIC). -o writes a PNG, SVG or PDF; on a terminal it "
    "draws there; into a pipe it prints the numbers as CSV.",
    (
        Flag("job", "subject", "the job whose runs to plot", metavar="JOB"),
        Flag("x", "value", "the parameter along x", metavar="KEY", short="x"),
        Flag("y", "value", "the metric along y (heatmap: a parameter)", metavar="KEY", short="y"),
        Flag("z", "value", "heatmap: the metric in each cell", metavar="METRIC", short="z"),
        Flag("hue", "value", "a line (or colour) per value of KEY", metavar="KEY"),
        Flag("kind", "value", "line (default), scatter or heatmap", metavar="KIND"),
        Flag("agg", "value", "a point's value: mean (default), median, min, max", metavar="AGG"),
        RESULTS.flag("where"),
        Flag(
            "logx",
            "switch",
            "a log x axis (default: when x is above zero and spans more than two decades, "
            "or came from log(…))",
            exclusive="logx",
        ),
        Flag("no_logx", "switch", "a linear x axis, whatever x spans", exclusive="logx"),
        Flag("logy", "switch", "a log y axis"),
        Flag("output", "value", "write it to FILE: .png, .svg or .pdf", metavar="FILE", short="o"),
    ),
)

COMMANDS: dict[str, Command] = {command.name: command for command in (RUN, RESULTS, FORGET, PLOT)}


class _Options:
    """Options made from a command's table: what a front end parsed, checked by
    ``Command.parse``; a flag not given keeps the dataclass's default."""

    COMMAND: ClassVar[Command]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        return cls(**{k: v for k, v in cls.COMMAND.parse(raw).items() if v is not None})


@dataclass(frozen=True)
class RunOptions(_Options):
    """How to run a job: ``RUN``'s flags, checked."""

    COMMAND = RUN

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
    check: bool = True
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

    @property
    def search_failure_limit(self) -> int | None:
        """How many failed trials in a row stop a search: ``--max-failures``, else
        ``SEARCH_FAILURES``; ``-k`` alone lets it go on whatever fails."""
        if self.max_failures is not None:
            return self.max_failures
        return None if self.keep_going else SEARCH_FAILURES


@dataclass(frozen=True)
class ForgetOptions(_Options):
    """What to forget: ``FORGET``'s flags, checked."""

    COMMAND = FORGET

    job: str | None = None
    where: tuple[str, ...] = ()
    all_attempts: bool = False
    delete: bool = False
    dry_run: bool = False
    yes: bool = False


@dataclass(frozen=True)
class PlotOptions(_Options):
    """What to plot and where: ``PLOT``'s flags, checked (the values of ``--kind`` and
    ``--agg`` by the plot, which knows them)."""

    COMMAND = PLOT

    job: str | None = None
    x: str | None = None
    y: str | None = None
    z: str | None = None
    hue: str | None = None
    kind: str | None = None
    agg: str | None = None
    where: tuple[str, ...] = ()
    logx: bool = False
    no_logx: bool = False
    logy: bool = False
    output: str | None = None


def _check_declarations() -> None:
    """A table that cannot be turned into flags stops the import, not a user's run."""
    for options in (RunOptions, ForgetOptions, PlotOptions):
        declared = {flag.name for flag in options.COMMAND.flags}
        if declared != {spec.name for spec in fields(options)}:
            raise TypeError(f"{options.COMMAND.name}'s flags and {options.__name__} disagree")
    for command in COMMANDS.values():
        shorts = [flag.short for flag in command.flags if flag.short]
        if len(shorts) != len(set(shorts)):
            raise TypeError(f"two flags of {command.name} share a short flag")
        for flag in command.flags:
            if flag.kind not in KINDS:
                raise TypeError(f"flag {flag.name!r} has an unknown kind {flag.kind!r}")
            if flag.takes_value and not flag.metavar:
                raise TypeError(f"flag {flag.name!r} takes a value but names no placeholder")


_check_declarations()
