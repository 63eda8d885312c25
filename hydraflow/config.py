"""Read ``hydraflow.yaml`` into frozen dataclasses, checking everything before anything runs.

PyYAML's node tree keeps the line of every key and value, so each mistake is
reported as ``hydraflow.yaml:LINE: …``. Sweep expressions are parsed here too:
a bad ``each`` fails at load time, with a caret under the fault.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import yaml

from hydraflow.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from hydraflow.sweep import Sweep, Token

FILENAME = "hydraflow.yaml"
MODES = ("run", "call", "submit")
JOB_KEYS = ("run", "call", "submit", "name", "help", "add", "sets", "parallel", "devices")
SET_KEYS = ("each", "all", "zip", "add")
# Invoke turns job names into task names; a '.' would break every invoke command.
JOB_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")

Mode = Literal["run", "call", "submit"]
T = TypeVar("T")


@dataclass(frozen=True)
class JobSet:
    """One entry of a job's ``sets``. Its expressions are parsed when first needed.

    Parsing on demand keeps ``invoke --list`` cheap; ``check()`` (called by
    every run and by the ``hydraflow`` command) parses all of them first, so a
    bad expression still stops everything before anything runs.
    """

    each: str
    all: str
    zip: str
    add: tuple[str, ...] | None
    path: Path
    line: int
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)

    @cached_property
    def sweep(self) -> Sweep:
        from hydraflow.sweep import Sweep, parse_tokens, parse_zip

        return Sweep(tuple(self._parsed("each", parse_tokens)), self._parsed("zip", parse_zip))

    @cached_property
    def all_tokens(self) -> tuple[Token, ...]:
        from hydraflow.sweep import parse_tokens

        return tuple(self._parsed("all", lambda expr: parse_tokens(expr, allow_pipe=False)))

    @cached_property
    def collected(self) -> tuple[str, ...]:
        from hydraflow.sweep import collected

        return tuple(collected(token) for token in self.all_tokens)

    def check(self) -> None:
        """Parse every expression now; raises ConfigError at the first bad one."""
        _ = self.sweep, self.all_tokens

    def _parsed(self, key: str, parse: Callable[[str], T]) -> T:
        from hydraflow.sweep import SweepError

        try:
            return parse(getattr(self, key))
        except SweepError as error:
            line = self.lines.get(key, self.line)
            raise ConfigError(str(error), self.path, line, error.caret()) from None

    @property
    def batches(self) -> int:
        return self.sweep.size()

    @property
    def runs(self) -> int:
        """Hydra runs of this set: each value of ``each`` times every value of ``all``."""
        each_runs = math.prod(_runs(token) for token in self.sweep.tokens)
        if self.sweep.zipped is not None:
            rows = zip(*(_weights(token) for token in self.sweep.zipped.tokens), strict=True)
            each_runs *= sum(math.prod(row) for row in rows)
        return each_runs * math.prod(token.size() for token in self.all_tokens)


def _runs(token: Token) -> int:
    return sum(_weights(token))


def _weights(token: Token) -> list[int]:
    """How many Hydra runs each value of a token stands for (a pipe section sweeps several)."""
    from hydraflow.sweep import Pipe

    if isinstance(token, Pipe):
        return [section.values.size() for section in token.sections]
    return [1] * token.size()


@dataclass(frozen=True)
class Job:
    key: str
    name: str
    mode: Mode
    command: tuple[str, ...]
    command_text: str
    add: tuple[str, ...]
    sets: tuple[JobSet, ...]
    help: str
    parallel: int | None
    devices: tuple[str, ...]
    line: int
    node: yaml.Node = field(repr=False, compare=False)

    @cached_property
    def raw(self) -> Any:
        """The job as plain data, as written (for ``hydraflow show``)."""
        return _plain(self.node)

    def check(self) -> None:
        for job_set in self.sets:
            job_set.check()

    @property
    def batches(self) -> int:
        return sum(s.batches for s in self.sets) if self.sets else 1

    @property
    def runs(self) -> int:
        return sum(s.runs for s in self.sets) if self.sets else 1

    def summary(self) -> str:
        """The one line shown when a job has no ``help``."""
        sets = len(self.sets)
        return (
            f"{self.mode}: {self.command_text} · {sets} set{'s' * (sets != 1)}"
            f" · {self.batches} batch{'es' * (self.batches != 1)}"
        )


@dataclass(frozen=True)
class Config:
    path: Path
    jobs: dict[str, Job]

    def check(self) -> Config:
        """Parse every sweep expression of every job; raises ConfigError at the first fault."""
        for job in self.jobs.values():
            job.check()
        return self

    @property
    def root(self) -> Path:
        """The folder of hydraflow.yaml: jobs run here, whatever the caller's folder."""
        return self.path.parent

    def job(self, name: str) -> Job:
        for candidate in (name, name.replace("-", "_"), name.replace("_", "-")):
            if candidate in self.jobs:
                return self.jobs[candidate]
        known = ", ".join(self.jobs) or "(none)"
        hint = _did_you_mean(name, list(self.jobs))
        raise UsageError(f"no job named {name!r}{hint}; jobs in {self.path.name}: {known}")


def find(start: Path | None = None) -> Path:
    """The nearest hydraflow.yaml in ``start`` or a parent folder."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / FILENAME
        if candidate.is_file():
            return candidate
    raise UsageError(f"no {FILENAME} in {here} or any folder above it (use -f PATH)")


def load(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the file: {error}", path) from None
    return _Reader(path, text).config()


def _did_you_mean(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Reader:
    """Walks the YAML node tree; every check raises ConfigError with the node's line."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.resolver: _Interpolations | None = None

    def error(self, message: str, node: yaml.Node | int, detail: str = "") -> ConfigError:
        line = node if isinstance(node, int) else _line(node)
        return ConfigError(message, self.path, line, detail)

    def config(self) -> Config:
        root = self.compose()
        if root is None:
            return Config(self.path, {})
        if "${" in self.text:
            self.resolver = _Interpolations(self, root)
        mapping = self.mapping(root, "the file")
        unknown = [k for k in mapping if k != "jobs"]
        if unknown:
            key_node = mapping[unknown[0]][0]
            raise self.error(
                f"unknown key {unknown[0]!r}{_did_you_mean(unknown[0], ['jobs'])}", key_node
            )
        if "jobs" not in mapping:
            return Config(self.path, {})
        jobs_node = mapping["jobs"][1]
        if _is_null(jobs_node):
            return Config(self.path, {})
        jobs: dict[str, Job] = {}
        for name, (key_node, value_node) in self.mapping(jobs_node, "jobs").items():
            if not JOB_NAME.fullmatch(name):
                raise self.error(
                    f"job name {name!r} cannot be a task name: use letters, digits, '_' and '-'",
                    key_node,
                )
            jobs[name] = self.job(name, value_node)
        return Config(self.path, jobs)

    def compose(self) -> yaml.Node | None:
        loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            return yaml.compose(self.text, Loader=loader_class)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = mark.line + 1 if mark else 0
            problem = error.problem or error.context or "invalid YAML"
            raise self.error(f"YAML syntax error: {problem}", line) from None
        except yaml.YAMLError as error:
            raise self.error(f"YAML error: {error}", 0) from None

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(f"{what} must be a mapping", node)
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error("keys must be plain names", key_node)
            key = str(key_node.value)
            if key in entries:
                raise self.error(f"duplicate key {key!r}", key_node)
            entries[key] = (key_node, value_node)
        return entries

    def known(
        self,
        entries: Mapping[str, tuple[yaml.Node, yaml.Node]],
        allowed: tuple[str, ...],
        what: str,
    ) -> None:
        for key, (key_node, _) in entries.items():
            if key not in allowed:
                raise self.error(
                    f"unknown key {key!r} in {what}{_did_you_mean(key, list(allowed))}", key_node
                )

    def string(self, node: yaml.Node, what: str) -> str:
        if _is_null(node):
            return ""
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(f"{what} must be a string", node)
        value = str(node.value)
        if self.resolver is not None and "${" in value:
            value = self.resolver.resolve(node)
        return value

    def job(self, key: str, node: yaml.Node) -> Job:
        if _is_null(node):
            raise self.error(f"job {key!r} needs one of run, call or submit", node)
        entries = self.mapping(node, f"job {key!r}")
        self.known(entries, JOB_KEYS, f"job {key!r}")
        modes = [m for m in MODES if m in entries]
        if len(modes) != 1:
            given = " and ".join(modes)
            problem = f"has {given}" if modes else "has none"
            raise self.error(
                f"job {key!r} needs exactly one of run, call or submit; it {problem}", node
            )
        mode: Mode = modes[0]  # type: ignore[assignment]
        command_node = entries[mode][1]
        command_text = self.string(command_node, mode)
        command = self.words(command_text, command_node, mode)
        if not command:
            raise self.error(f"{mode} of job {key!r} is empty", command_node)
        text = {k: self.string(entries[k][1], k) for k in ("name", "help", "add") if k in entries}
        sets_node = entries["sets"][1] if "sets" in entries else None
        return Job(
            key=key,
            name=text.get("name") or key,
            mode=mode,
            command=tuple(command),
            command_text=command_text,
            add=tuple(self.words(text.get("add", ""), entries.get("add", (node, node))[1], "add")),
            sets=tuple(self.sets(sets_node)) if sets_node is not None else (),
            help=" ".join(text.get("help", "").split()),
            parallel=self.positive(entries["parallel"][1], "parallel")
            if "parallel" in entries
            else None,
            devices=self.devices(entries["devices"][1]) if "devices" in entries else (),
            line=_line(node),
            node=node,
        )

    def words(self, text: str, node: yaml.Node, what: str) -> list[str]:
        try:
            return shlex.split(text)
        except ValueError as error:
            raise self.error(f"{what}: {error}", node) from None

    def positive(self, node: yaml.Node, what: str) -> int:
        value = _scalar(node)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(f"{what} must be a whole number of at least 1", node)
        return value

    def devices(self, node: yaml.Node) -> tuple[str, ...]:
        if isinstance(node, yaml.SequenceNode):
            return tuple(str(item.value) for item in node.value)
        text = self.string(node, "devices")
        return tuple(d.strip() for d in text.split(",") if d.strip())

    def sets(self, node: yaml.Node) -> Iterator[JobSet]:
        if _is_null(node):
            return
        if not isinstance(node, yaml.SequenceNode):
            raise self.error("sets must be a list", node)
        for item in node.value:
            yield self.job_set(item)

    def job_set(self, node: yaml.Node) -> JobSet:
        if _is_null(node):
            node_entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        else:
            if not isinstance(node, yaml.MappingNode):
                raise self.error("each entry of sets must be a mapping (each/all/zip/add)", node)
            node_entries = self.mapping(node, "a set")
        self.known(node_entries, SET_KEYS, "a set")
        text = {k: self.string(v, k) for k, (_, v) in node_entries.items()}
        add = text.get("add", "")
        add_node = node_entries["add"][1] if "add" in node_entries else node
        return JobSet(
            each=text.get("each", ""),
            all=text.get("all", ""),
            zip=text.get("zip", ""),
            add=tuple(self.words(add, add_node, "add")) if add.strip() else None,
            path=self.path,
            line=_line(node),
            lines={k: _line(v) for k, (_, v) in node_entries.items()},
        )


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


_CONSTRUCTOR = yaml.SafeLoader("")


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return None
    return _CONSTRUCTOR.construct_object(node)


def _plain(node: yaml.Node) -> Any:
    """The node as plain data, for ``hydraflow show``."""
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): _plain(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_plain(v) for v in node.value]
    return _scalar(node)


class _Interpolations:
    """Resolves OmegaConf ``${…}`` interpolations, as the original HydraFlow does on load."""

    def __init__(self, reader: _Reader, root: yaml.Node) -> None:
        from omegaconf import OmegaConf

        self.reader = reader
        self.paths: dict[int, list[str | int]] = {}
        self._index(root, [])
        self.config = OmegaConf.create(_plain(root))

    def _index(self, node: yaml.Node, path: list[str | int]) -> None:
        self.paths[id(node)] = path
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self._index(value, [*path, str(key.value)])
        elif isinstance(node, yaml.SequenceNode):
            for i, value in enumerate(node.value):
                self._index(value, [*path, i])

    def resolve(self, node: yaml.Node) -> str:
        from omegaconf.errors import OmegaConfBaseException

        target: Any = self.config
        try:
            for part in self.paths[id(node)]:
                target = target[part]
        except OmegaConfBaseException as error:
            message = str(error).splitlines()[0]
            raise self.reader.error(f"cannot resolve {node.value!r}: {message}", node) from None
        return str(target)
