"""Walk the YAML node tree into the model; every check raises ConfigError with the node's line."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import yaml

from hydraflow.config.model import DEFAULT_METRICS, Config, Goal, Job, JobSet
from hydraflow.config.search import SEARCH_KEYS, Pruner, Sampler, Search
from hydraflow.config.source import check_aliases, compose, is_null, line, place, read
from hydraflow.config.values import Values, kind
from hydraflow.errors import ConfigError, did_you_mean, shown
from hydraflow.modes import MODES, Mode

JOB_KEYS = (
    *MODES,
    *("name", "help", "add", "sets", "parallel", "devices", "record", "metrics", "warm", "check"),
    *("metric", "goal", "search"),
)
SET_KEYS = ("each", "all", "zip", "add")
# Invoke turns job names into task names; a '.' would break every invoke command.
JOB_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")

Entries = dict[str, tuple[yaml.Node, yaml.Node]]
E = TypeVar("E", bound=StrEnum)


def load(path: Path) -> Config:
    text = read(path)
    root = compose(text, path)
    if root is None:
        return Config(path, {})
    check_aliases(root, path)
    return _Reader(path, root, text).config()


class _Reader:
    def __init__(self, path: Path, root: yaml.Node, text: str) -> None:
        self.path = path
        self.root = root
        self.text = text
        self.values = Values(path, root)

    def error(self, message: str, node: yaml.Node) -> ConfigError:
        return ConfigError(message, self.path, line(node))

    def config(self) -> Config:
        mapping = self.mapping(self.root, "the file")
        unknown = [k for k in mapping if k != "jobs"]
        if unknown:
            key_node = mapping[unknown[0]][0]
            raise self.error(
                f"unknown key {shown(unknown[0])}{did_you_mean(unknown[0], ['jobs'])}", key_node
            )
        if "jobs" not in mapping:
            return Config(self.path, {})
        jobs_node = mapping["jobs"][1]
        if is_null(jobs_node):
            return Config(self.path, {})
        jobs: dict[str, Job] = {}
        spellings: dict[str, str] = {}
        for name, (key_node, value_node) in self.mapping(jobs_node, "jobs").items():
            if not JOB_NAME.fullmatch(name):
                raise self.error(
                    f"job name {shown(name)} cannot be a task name:"
                    " use letters, digits, '_' and '-'",
                    key_node,
                )
            # A job answers to both spellings (Invoke turns one into the other).
            other = spellings.setdefault(name.replace("-", "_"), name)
            if other != name:
                raise self.error(
                    f"jobs {other!r} and {name!r} differ only by '-' and '_',"
                    " which name the same job: rename one",
                    key_node,
                )
            jobs[name] = self.job(name, value_node)
        return Config(self.path, jobs)

    def mapping(self, node: yaml.Node, what: str) -> Entries:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(f"{what} must be a mapping, not {kind(node)}", node)
        entries: Entries = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error("keys must be plain names", key_node)
            key = str(key_node.value)
            if key in entries:
                raise self.error(f"duplicate key {shown(key)}", key_node)
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
                    f"unknown key {shown(key)} in {what}{did_you_mean(key, list(allowed))}",
                    key_node,
                )

    def job(self, key: str, node: yaml.Node) -> Job:
        if is_null(node):
            raise self.error(f"job {key!r} needs one of {_choices(list(MODES))}", node)
        entries = self.mapping(node, f"job {key!r}")
        self.known(entries, JOB_KEYS, f"job {key!r}")
        modes = [m for m in MODES if m in entries]
        if len(modes) != 1:
            given = " and ".join(modes)
            problem = f"has {given}" if modes else "has none"
            raise self.error(
                f"job {key!r} needs exactly one of {_choices(list(MODES))}; it {problem}", node
            )
        mode = MODES[modes[0]]
        command_node = entries[mode.key][1]
        command_text = self.values.text(command_node, mode.key)
        command = self.values.words(command_text, command_node, mode.key)
        if not command:
            raise self.error(f"{mode} of job {key!r} is empty", command_node)
        if (wrong := mode.command_problem(command)) is not None:
            raise self.error(wrong, command_node)
        text = {
            k: self.values.text(entries[k][1], k) for k in ("name", "help", "add") if k in entries
        }
        sets_node = entries["sets"][1] if "sets" in entries else None
        sets = tuple(self.sets(sets_node)) if sets_node is not None else ()
        goal = self.goal(key, node, entries)
        search = self.search(key, entries, mode, goal, sets) if "search" in entries else None
        return Job(
            key=key,
            name=text.get("name") or key,
            mode=mode,
            command=tuple(command),
            command_text=command_text,
            add=tuple(
                self.values.words(text.get("add", ""), entries.get("add", (node, node))[1], "add")
            ),
            sets=sets,
            help=" ".join(text.get("help", "").split()),
            parallel=self.values.whole(entries["parallel"][1], "parallel")
            if "parallel" in entries
            else None,
            devices=self.values.devices(entries["devices"][1]) if "devices" in entries else (),
            record=self.values.boolean(entries["record"][1], "record")
            if "record" in entries
            else True,
            metrics=self.values.texts(entries["metrics"][1], "metrics")
            if "metrics" in entries
            else DEFAULT_METRICS,
            **self.warm(entries, mode),
            check_config=self.values.boolean(entries["check"][1], "check")
            if "check" in entries
            else True,
            **goal,
            search=search,
            line=line(node),
            node=node,
            path=self.path,
        )

    def goal(
        self, key: str, node: yaml.Node, entries: Mapping[str, tuple[yaml.Node, yaml.Node]]
    ) -> dict[str, Any]:
        """``metric: loss`` with ``goal: minimize`` (or ``maximize``): the run that is best."""
        if "metric" not in entries and "goal" not in entries:
            return {}
        if "metric" not in entries or "goal" not in entries:
            given, missing = ("metric", "goal") if "metric" in entries else ("goal", "metric")
            raise self.error(
                f"job {key!r} has {given}: but no {missing}: a run is best by a metric"
                " and a goal (metric: loss, goal: minimize)",
                entries[given][1],
            )
        metric = self.values.text(entries["metric"][1], "metric")
        goal_node = entries["goal"][1]
        goal = self.values.text(goal_node, "goal")
        if goal not in {g.value for g in Goal}:
            choices = _choices([g.value for g in Goal])
            raise self.error(f"goal must be {choices}, not {shown(goal)}", goal_node)
        return {"metric": metric, "goal": Goal(goal)}

    def search(
        self,
        key: str,
        entries: Mapping[str, tuple[yaml.Node, yaml.Node]],
        mode: Mode,
        goal: Mapping[str, Any],
        sets: tuple[JobSet, ...],
    ) -> Search:
        """``search:``: trials of Optuna's, run by hydraflow's pool, for a run or call job
        that says which metric to ``goal``."""
        key_node, node = entries["search"]
        if not mode.uses_pool:
            raise self.error(
                f"search is for run and call jobs: the batches of a {mode} job are started by"
                " its handler, so no trial could be asked for when a worker frees",
                key_node,
            )
        if not goal:
            raise self.error(
                f"job {key!r} searches but names no metric: add metric: and goal:"
                " (metric: loss, goal: minimize)",
                key_node,
            )
        for job_set in sets:
            if job_set.all.strip():
                raise ConfigError(
                    "a search's trial is one Hydra run: all: would sweep inside it"
                    " (each: makes one study per combination)",
                    self.path,
                    job_set.places["all"].line if "all" in job_set.places else job_set.line,
                )
        fields = self.mapping(node, "search")
        self.known(fields, SEARCH_KEYS, "search")
        for needed in ("trials", "space"):
            if needed not in fields:
                raise self.error(f"search needs {needed}:", key_node)
        space_node = fields["space"][1]
        space = self.values.text(space_node, "space")
        if not space.strip():
            raise self.error("space is empty: name a key to search", space_node)
        return Search(
            trials=self.values.whole(fields["trials"][1], "trials"),
            space_text=space,
            sampler=self.choice(fields, "sampler", Sampler, Sampler.TPE),
            seed=self.values.number(fields["seed"][1], "seed", "a whole number")
            if "seed" in fields
            else None,
            pruner=self.choice(fields, "pruner", Pruner, Pruner.MEDIAN),
            path=self.path,
            line=line(key_node),
            place=place(space_node, self.text, space),
        )

    def choice(
        self,
        fields: Mapping[str, tuple[yaml.Node, yaml.Node]],
        key: str,
        kind: type[E],
        default: E,
    ) -> E:
        """One of an enum's words, or its default when the key is not there."""
        if key not in fields:
            return default
        value_node = fields[key][1]
        word = self.values.text(value_node, key)
        words = [str(member) for member in kind]
        if word not in words:
            hint = did_you_mean(word, words)
            raise self.error(
                f"{key} must be {_choices(words)}, not {shown(word)}{hint}", value_node
            )
        return kind(word)

    def warm(
        self, entries: Mapping[str, tuple[yaml.Node, yaml.Node]], mode: Mode
    ) -> dict[str, Any]:
        """``warm: true``, ``warm: false``, or the modules to preload (which means true).
        A call job is warm unless it says otherwise."""
        if "warm" not in entries:
            return {"warm": mode.warm_by_default, "preload": ()}
        node = entries["warm"][1]
        preload: tuple[str, ...] = ()
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":bool"):
            warm = self.values.boolean(node, "warm")
        else:
            warm, preload = True, self.values.texts(node, "warm")
        if warm and not mode.can_be_warm:  # the handler starts the batches, not hydraflow
            warmable = [key for key, other in MODES.items() if other.can_be_warm]
            raise self.error(f"warm is for {' and '.join(warmable)} jobs", node)
        return {"warm": warm, "preload": preload}

    def sets(self, node: yaml.Node) -> Iterator[JobSet]:
        if is_null(node):
            return
        if not isinstance(node, yaml.SequenceNode):
            raise self.values.wrong(node, "sets", "a list")
        for item in node.value:
            yield self.job_set(item)

    def job_set(self, node: yaml.Node) -> JobSet:
        if is_null(node):
            node_entries: Entries = {}
        else:
            if not isinstance(node, yaml.MappingNode):
                raise self.error("each entry of sets must be a mapping (each/all/zip/add)", node)
            node_entries = self.mapping(node, "a set")
        self.known(node_entries, SET_KEYS, "a set")
        text = {k: self.values.text(v, k) for k, (_, v) in node_entries.items()}
        add = text.get("add", "")
        add_node = node_entries["add"][1] if "add" in node_entries else node
        return JobSet(
            each=text.get("each", ""),
            all=text.get("all", ""),
            zip=text.get("zip", ""),
            add=tuple(self.values.words(add, add_node, "add")) if add.strip() else None,
            path=self.path,
            line=line(node),
            places={k: place(v, self.text, text[k]) for k, (_, v) in node_entries.items()},
        )


def _choices(words: list[str]) -> str:
    """``run, call or submit``."""
    return f"{', '.join(words[:-1])} or {words[-1]}" if len(words) > 1 else words[0]
