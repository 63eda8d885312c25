"""The check itself: a job's batches composed against the app's config, as Hydra would.

Composing depends only on the config-group choices, so each distinct combination of
them is composed once (on every core); every other word is then tried on that composed
config the way Hydra applies an override, each distinct value once per kind of leaf.
When in doubt it says nothing: a problem is reported only where Hydra itself would
refuse the word, never for what the check cannot follow. Standard library only at
its top.
"""

from __future__ import annotations

import difflib
import itertools
import json
import os
import threading
from collections.abc import Hashable, Iterator
from typing import Any

from hydraflow_app import HydraMain
from hydraflow_nodes import (
    keys_of,
    kind_of,
    missing_keys,
    node_at,
    selected,
    type_message,
    value_key,
)
from hydraflow_words import Words, shown_word, values

# hydraflow's own words in every batch: not the user's to get wrong.
_HYDRAFLOWS = frozenset({"hydra.job.name", "hydra.sweep.dir", "hydra.sweep.subdir"})
# A combination of group choices, the batches that make it, and their other words.
Combo = tuple[tuple[str, ...], set[int], dict[str, tuple[Any, set[int]]]]


class Unchecked(Exception):
    """The check cannot reproduce how the app composes its config (its primary config is
    made where the check does not run): nothing is said, the run finds out."""


class Problems:
    """Each problem once, with the words that have it and how many batches share it: words
    that differ only in a value the reason does not name (``lrr=0.1``, ``lrr=0.2``: the
    key is unknown) are one problem."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, word: str, key: str, message: str, batches: set[int]) -> None:
        entry = self.found.setdefault(
            (key, message), {"words": {}, "key": key, "message": message, "batches": set()}
        )
        entry["words"][word] = None
        entry["batches"] |= batches

    def as_list(self) -> list[dict[str, Any]]:
        return [
            {**entry, "words": list(entry["words"]), "batches": len(entry["batches"])}
            for entry in self.found.values()
        ]

    def raw(self) -> list[dict[str, Any]]:
        return [
            {**entry, "words": list(entry["words"]), "batches": sorted(entry["batches"])}
            for entry in self.found.values()
        ]

    def merge(self, raw: list[dict[str, Any]]) -> None:
        for entry in raw:
            for word in entry["words"]:
                self.add(word, entry["key"], entry["message"], set(entry["batches"]))


class Checker:
    def __init__(self, main: HydraMain) -> None:
        from hydra.core.global_hydra import GlobalHydra

        self.main = main
        self.loader = GlobalHydra.instance().config_loader()
        self.words = Words(self.loader)
        self.problems = Problems()
        self.composed = 0
        # Whether a composed config sets hydra.mode: a warm batch may then not skip the
        # composition Hydra makes only to read it (hydraflow_seams).
        self.sets_mode = False
        self._entries: dict[tuple[str, bool], list[str]] = {}
        # (key, kind of its node, value) -> the reason it does not fit, or "" when it does
        self._verdicts: dict[tuple[str, Hashable, Hashable], str] = {}

    def parse(self, word: str, batch: int) -> Any | None:
        """The override a word is; None when Hydra cannot read it."""
        parsed = self.words.parsed[word]
        if isinstance(parsed, str):
            self.problems.add(word, word.partition("=")[0].lstrip("+~"), parsed, {batch})
            return None
        return parsed

    def entries(self, group: str, configs_only: bool = True) -> list[str]:
        """A group's options (``configs_only``), or everything in it, its sub-groups too;
        the primary config's ``hydra.searchpath`` counts."""
        if (group, configs_only) not in self._entries:
            from hydra.core.object_type import ObjectType

            kind = ObjectType.CONFIG if configs_only else None
            found = self.loader.get_group_options(
                group, results_filter=kind, config_name=self.main.config_name
            )
            self._entries[group, configs_only] = sorted(found)
        return self._entries[group, configs_only]

    def has_option(self, group: str, value: str) -> bool:
        """``cifar/r18`` is an option of ``experiment`` when ``experiment/cifar/r18`` is."""
        head, _, leaf = value.rpartition("/")
        return leaf in self.entries(f"{group}/{head}" if head else group)

    def options_shown(self, group: str, value: str) -> list[str]:
        """The options beside the one asked for (``cifar/r19``: those in ``cifar``), and
        the sub-groups of the group, as ``cifar/…``."""
        head, _, _ = value.rpartition("/")
        where = f"{group}/{head}" if head and self.entries(f"{group}/{head}", False) else group
        inner = where[len(group) + 1 :] + "/" if where != group else ""
        options = self.entries(where)
        groups = sorted(set(self.entries(where, configs_only=False)) - set(options))
        return [inner + name for name in options] + [f"{inner}{name}/…" for name in groups]

    def is_group(self, override: Any) -> bool:
        return override.package is not None or bool(
            self.entries(override.key_or_group, configs_only=False)
        )

    # -- the check -----------------------------------------------------------------

    def check(self, batches: list[list[str]]) -> None:
        self.words.read(word for words in batches for word in words)
        combos: dict[tuple[str, ...], set[int]] = {}
        checks: dict[tuple[str, ...], dict[str, tuple[Any, set[int]]]] = {}
        for number, words in enumerate(batches):
            groups: list[tuple[str, Any]] = []
            others: list[tuple[str, Any]] = []
            for word in words:
                override = self.parse(word, number)
                if override is None or override.key_or_group in _HYDRAFLOWS:
                    continue
                (groups if self.is_group(override) else others).append((word, override))
            for combo in self._group_choices(groups, number):
                combos.setdefault(combo, set()).add(number)
                for word, override in others:
                    entry = checks.setdefault(combo, {}).setdefault(word, (override, set()))
                    entry[1].add(number)
        work = [(combo, numbers, checks.get(combo, {})) for combo, numbers in combos.items()]
        in_parallel(self, work)

    def check_combos(self, work: list[Combo]) -> None:
        for combo, numbers, checks in work:
            cfg = self._compose(combo, numbers)
            if cfg is None:
                continue
            self.sets_mode |= _sets_mode(cfg, checks)
            try:
                self._check_values(cfg, checks)
                self._check_mandatory(cfg, numbers, checks)
            except Exception:  # what the check cannot follow is no problem to report
                continue

    def _group_choices(
        self, groups: list[tuple[str, Any]], batch: int
    ) -> Iterator[tuple[str, ...]]:
        """Each combination of the batch's group choices, as override words. A choice the
        group does not have is a problem, and is left out (its group keeps its default),
        so the batch's other words are still checked."""
        per_group: list[list[str]] = []
        for word, override in groups:
            if override.is_delete() or override.package is not None:
                per_group.append([word])
                continue
            group, key = override.key_or_group, override.get_key_element()
            chosen = _choices(override)
            if chosen is None:  # a list of options, a mapping, a glob: Hydra composes it
                per_group.append([word])
                continue
            known = []
            for value in chosen:
                if self.has_option(group, value):
                    known.append(f"{key}={value}")
                    continue
                shown = word if len(chosen) == 1 else f"{key}={value}"
                options = ", ".join(self.options_shown(group, value))
                message = f"no config {value!r} in group {group!r}: choose from {options}"
                self.problems.add(shown, key.lstrip("+~"), message, {batch})
            if known:
                per_group.append(known)
        yield from (tuple(words) for words in itertools.product(*per_group))

    def _compose(self, combo: tuple[str, ...], numbers: set[int]) -> Any | None:
        import hydra

        try:
            self.composed += 1
            return hydra.compose(
                config_name=self.main.config_name, overrides=list(combo), return_hydra_config=True
            )
        except Exception as error:  # a broken YAML file of the app's is a problem too
            reason = _reason(error)
            if "Cannot find primary config" in reason or "Primary config" in reason:
                raise Unchecked(reason) from None
            key = next((w.partition("=")[0] for w in combo if _names(reason, w)), "")
            word = " ".join(combo) or "(the config itself)"
            self.problems.add(word, key.lstrip("+~"), reason, numbers)
            return None

    def _check_values(self, cfg: Any, checks: dict[str, tuple[Any, set[int]]]) -> None:
        """Each override's key looked up in the composed config as it came, as Hydra does
        (a key another word of the batch makes is not looked up); then each value applied
        to that same config (thrown away after), unless it was tried before on a leaf of
        the same kind."""
        made = _made(checks)
        to_apply = []
        keys: list[str] | None = None
        for word, (override, numbers) in checks.items():
            key = override.key_or_group
            if any(key.startswith(f"{other}.") for other in made):
                continue  # an earlier word makes it (``+opt={a:1} opt.a=2``)
            if override.is_delete():
                if selected(cfg, key) is None:
                    self.problems.add(word, key, f"there is no {key!r} to delete", numbers)
            elif override.is_add():
                whole = any(isinstance(v, dict | list) for v in values(override))
                if selected(cfg, key) is not None and not whole:
                    message = f"{key!r} is already in the config: write {key}=… or ++{key}=…"
                    self.problems.add(word, key, message, numbers)
                else:
                    to_apply.append((override, numbers))
            elif override.is_force_add() or node_at(cfg, key) is not None:
                to_apply.append((override, numbers))
            else:
                keys = keys if keys is not None else keys_of(cfg)
                close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                message = f"{key!r} is not in the config{hint}; +{key}=… adds it"
                self.problems.add(word, key, message, numbers)
        for override, numbers in to_apply:
            for value in values(override):
                if reason := self._verdict(cfg, override, value):
                    word = shown_word(override, value)
                    self.problems.add(word, override.key_or_group, reason, numbers)

    def _verdict(self, cfg: Any, override: Any, value: Any) -> str:
        """Why ``value`` does not fit at the override's key; empty when it does."""
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        key = override.key_or_group
        kind = kind_of(node_at(cfg, key))
        known = (key, kind, value_key(value))
        if kind is not None and known in self._verdicts:
            return self._verdicts[known]
        reason = ""
        adding = override.is_add() or override.is_force_add()
        try:
            OmegaConf.update(cfg, key, value, merge=True, force_add=adding)
        except (OmegaConfBaseException, ValueError) as error:
            reason = type_message(key, value, cfg, error)
        if kind is not None:
            self._verdicts[known] = reason
        return reason

    def _check_mandatory(
        self, cfg: Any, numbers: set[int], checks: dict[str, tuple[Any, set[int]]]
    ) -> None:
        """A ``???`` value that no override of a batch sets: Hydra says so only once the app
        reads it, mid-run."""
        for key in missing_keys(cfg, skip=("hydra",)):
            setting: set[int] = set()
            for override, batches in checks.values():
                set_key = override.key_or_group
                if key == set_key or key.startswith(set_key + "."):
                    setting |= batches
            if unset := numbers - setting:
                message = (
                    f"{key!r} is mandatory (???) and nothing sets it:"
                    f" add {key}=… to the job or the command line"
                )
                self.problems.add(f"{key}=???", key, message, unset)


def _sets_mode(cfg: Any, checks: dict[str, tuple[Any, set[int]]]) -> bool:
    """Whether the app's config, or a word of the batches, sets ``hydra.mode``."""
    from omegaconf import OmegaConf

    said = any(override.key_or_group == "hydra.mode" for override, _ in checks.values())
    return said or OmegaConf.select(cfg, "hydra.mode", default=None) is not None


def _choices(override: Any) -> list[str] | None:
    """The options a group word chooses, one or a sweep's; None for a list of options, a
    mapping or a glob, which the check leaves to Hydra's composition."""
    try:
        if override.is_sweep_override():
            return [str(v) for v in override.sweep_string_iterator()]
        if isinstance(override.value(), dict | list):
            return None
        return [override.get_value_element_as_str()]
    except Exception:
        return None


def _made(checks: dict[str, tuple[Any, set[int]]]) -> set[str]:
    """Keys the batch's words make whole (an add, or a mapping given as a value): what
    another word sets below them need not be there before."""
    return {
        override.key_or_group
        for override, _ in checks.values()
        if override.is_add()
        or override.is_force_add()
        or any(isinstance(v, dict) for v in values(override))
    }


def _reason(error: Exception) -> str:
    """Hydra's own reason, whole up to where it starts listing its search path."""
    lines = []
    for line in str(error).strip().splitlines():
        if line.strip().startswith("Config search path"):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines) or type(error).__name__


def _names(reason: str, word: str) -> bool:
    key = word.partition("=")[0].lstrip("+~").partition("@")[0]
    return bool(key) and (f"'{key}" in reason or f" {key}." in reason or f" {key} " in reason)


def in_parallel(checker: Checker, work: list[Combo]) -> None:
    """Compose on every core: composing is most of the check's time, and each combination
    is composed on its own. Each fork of this process (which loaded the app and Hydra
    once) checks its share and sends back its problems; a share whose fork said nothing
    is checked here. A process running threads is not forked (a fork copies one thread)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    forks = min(cores or 1, len(work)) if threading.active_count() == 1 else 1
    shares = [work[index::forks] for index in range(max(forks, 1))]
    children = [(_fork(checker, share), share) for share in shares[1:]]
    try:
        checker.check_combos(shares[0])
    finally:
        said = [(_heard(pid, pipe), share) for (pid, pipe), share in children]
    for found, share in said:
        if found is None:
            checker.check_combos(share)
            continue
        if found.get("unchecked"):
            raise Unchecked(found["unchecked"])
        checker.problems.merge(found["problems"])
        checker.composed += found["composed"]
        checker.sets_mode |= bool(found.get("sets_mode"))


def _heard(pid: int, pipe: int) -> dict[str, Any] | None:
    with os.fdopen(pipe, "rb") as reader:
        said = reader.read()
    os.waitpid(pid, 0)
    try:
        found: dict[str, Any] = json.loads(said)
    except ValueError:
        return None
    return found


def _fork(checker: Checker, share: list[Combo]) -> tuple[int, int]:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid:
        os.close(writer)
        return pid, reader
    os.close(reader)
    try:
        checker.problems, checker.composed = Problems(), 0
        try:
            checker.check_combos(share)
            said: dict[str, Any] = {"problems": checker.problems.raw()}
        except Unchecked as why:
            said = {"unchecked": str(why)}
        said["composed"] = checker.composed
        said["sets_mode"] = checker.sets_mode
        with os.fdopen(writer, "w", encoding="utf-8") as out:
            json.dump(said, out)
    finally:
        os._exit(0)
