"""hydraflow's check before launch: every batch of a job composed against the app's config.

Run by hydraflow with the job's own interpreter as ``python hydraflow_probe.py``, a
JSON request on stdin: ``{"spec": {...}, "batches": [[word, ...], ...], "words": [...]}``
(the spec as the warm process takes it; each batch's override words; the words the
command gives the app before them). It loads the app without running its work
(``hydraflow_app``), learns its ``hydra.main`` settings, and composes with Hydra's
public compose API: once per distinct combination of config-group choices, then
each distinct other override applied to that composed config, as Hydra applies it.
It never calls the task.

It writes one JSON object on stdout: ``{"hydra": false}`` for a command that is no
Hydra app hydraflow can read, else ``{"hydra": true, "configs": N, "problems":
[{"words", "key", "message", "batches"}]}``. Standard library only at its top.
"""

from __future__ import annotations

import difflib
import itertools
import json
import os
import sys
import threading
from collections.abc import Hashable, Iterator
from typing import Any

from hydraflow_app import (
    HydraMain,
    guarded,
    import_what_it_imports,
    load,
    module_source,
    recording,
    script_source,
    static_hydra_main,
)
from hydraflow_nodes import keys_of, kind_of, node_at, text, type_message, value_key
from hydraflow_words import Words, prefix, values

# hydraflow's own words in every batch: not the user's to get wrong.
_HYDRAFLOWS = frozenset({"hydra.job.name", "hydra.sweep.dir", "hydra.sweep.subdir"})


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


def hydra_main_of(request: dict[str, Any]) -> HydraMain | None:
    """The app's ``hydra.main`` settings, learnt by loading it (its work not run), or read
    from its source where its top level is not guarded; None: no Hydra app."""
    spec = request["spec"]
    with recording() as found:
        function, whole = load(spec)
        if function is not None and not found:  # the function imports the app as it runs
            import_what_it_imports(function)
    if found:
        return found[0]
    if whole:
        return None
    source_and_file = (
        (script_source(spec["target"]), spec["target"])
        if spec["kind"] == "script"
        else module_source(spec["target"])
    )
    if source_and_file is None or guarded(source_and_file[0]):
        return None
    return static_hydra_main(*source_and_file)


_NAME = ("--config-name", "-cn")
_PATH = ("--config-path", "-cp")


def as_the_words_say(main: HydraMain, words: list[str]) -> HydraMain | None:
    """The app's ``hydra.main`` settings as the words before the overrides change them
    (``--config-name x``, ``-cp conf2``); None when a word is one the check cannot follow
    (``--config-dir``, ``--cfg``, an app's own flag): then nothing is checked."""
    rest = list(words)
    while rest:
        name, equals, value = rest.pop(0).partition("=")
        if name in ("-m", "--multirun"):
            continue
        if name not in _NAME + _PATH:
            return None
        if not equals:
            if not rest:
                return None
            value = rest.pop(0)
        if name in _NAME:
            main.config_name = value
        else:
            main.config_path = value
    return main


def initialize(main: HydraMain) -> Any:
    """Hydra's global state set up as the app's ``hydra.main`` would set it up."""
    import hydra

    kwargs: dict[str, Any] = {}
    if main.version_base != "<unset>":
        kwargs["version_base"] = main.version_base
    path = main.config_path
    if path is None:
        return hydra.initialize(config_path=None, **kwargs)
    if str(path).startswith("pkg://"):
        return hydra.initialize_config_module(config_module=str(path)[len("pkg://") :], **kwargs)
    if not os.path.isabs(path):
        path = os.path.join(os.path.dirname(os.path.abspath(main.file or ".")), path)
    return hydra.initialize_config_dir(config_dir=os.path.abspath(path), **kwargs)


# A combination of group choices, the batches that make it, and their other words.
Combo = tuple[tuple[str, ...], set[int], dict[str, tuple[Any, set[int]]]]


class Checker:
    def __init__(self, main: HydraMain) -> None:
        from hydra.core.global_hydra import GlobalHydra

        self.main = main
        self.loader = GlobalHydra.instance().config_loader()
        self.words = Words()
        self.problems = Problems()
        self.composed = 0
        self._options: dict[str, list[str]] = {}
        # (key, kind of its node, value) -> the reason it does not fit, or "" when it does
        self._verdicts: dict[tuple[str, Hashable, Hashable], str] = {}

    def parse(self, word: str, batch: int) -> Any | None:
        """The override a word is; None when Hydra cannot read it."""
        parsed = self.words.parsed[word]
        if isinstance(parsed, str):
            self.problems.add(word, word.partition("=")[0].lstrip("+~"), parsed, {batch})
            return None
        return parsed

    def options(self, group: str) -> list[str]:
        if group not in self._options:
            self._options[group] = sorted(self.loader.get_group_options(group))
        return self._options[group]

    def is_group(self, override: Any) -> bool:
        return bool(self.options(override.key_or_group))

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
            if cfg is not None:
                self._check_values(cfg, checks)
                self._check_mandatory(cfg, numbers, checks)

    def _group_choices(
        self, groups: list[tuple[str, Any]], batch: int
    ) -> Iterator[tuple[str, ...]]:
        """Each combination of the batch's group choices, as override words. A choice the
        group does not have is a problem, and is left out (its group keeps its default),
        so the batch's other words are still checked."""
        per_group: list[list[str]] = []
        for word, override in groups:
            group = override.key_or_group
            if override.is_delete():
                per_group.append([word])
                continue
            chosen = (
                list(override.sweep_string_iterator())
                if override.is_sweep_override()
                else [override.get_value_element_as_str()]
            )
            options = self.options(group)
            for value in chosen:
                if value not in options:
                    message = f"no config {value!r} in group {group!r}: choose from " + ", ".join(
                        options
                    )
                    self.problems.add(f"{group}={value}", group, message, {batch})
            key = override.get_key_element()[len(prefix(override)) :]
            known = [f"{prefix(override)}{key}={value}" for value in chosen if value in options]
            if known:
                per_group.append(known)
        yield from (tuple(words) for words in itertools.product(*per_group))

    def _compose(self, combo: tuple[str, ...], numbers: set[int]) -> Any | None:
        import hydra
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        try:
            self.composed += 1
            return hydra.compose(
                config_name=self.main.config_name, overrides=list(combo), return_hydra_config=True
            )
        except (HydraException, OmegaConfBaseException) as error:
            lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
            word = " ".join(combo) or "(the config itself)"
            self.problems.add(word, "", " ".join(lines[:2]) or type(error).__name__, numbers)
            return None

    def _check_values(self, cfg: Any, checks: dict[str, tuple[Any, set[int]]]) -> None:
        """Each override's key looked up in the composed config as it came, before any is
        applied; then each value applied to that same config (thrown away after), as
        Hydra applies it, unless a value was already tried on a leaf of the same kind."""
        to_apply = []
        keys: list[str] | None = None
        for word, (override, numbers) in checks.items():
            key = override.key_or_group
            exists = node_at(cfg, key) is not None
            if override.is_delete():
                if not exists:
                    self.problems.add(word, key, f"there is no {key!r} to delete", numbers)
            elif override.is_add() and exists:
                message = f"{key!r} is already in the config: write {key}=… to change it"
                self.problems.add(word, key, message, numbers)
            elif not exists and not (override.is_add() or override.is_force_add()):
                keys = keys if keys is not None else keys_of(cfg)
                close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                message = f"{key!r} is not in the config{hint}; +{key}=… adds it"
                self.problems.add(word, key, message, numbers)
            else:
                to_apply.append((override, numbers))
        for override, numbers in to_apply:
            key = override.key_or_group
            for value in values(override):
                if reason := self._verdict(cfg, override, value):
                    self.problems.add(f"{key}={text(value)}", key, reason, numbers)

    def _verdict(self, cfg: Any, override: Any, value: Any) -> str:
        """Why ``value`` does not fit at the override's key; empty when it does."""
        from omegaconf import OmegaConf, open_dict
        from omegaconf.errors import OmegaConfBaseException

        key = override.key_or_group
        kind = kind_of(node_at(cfg, key))
        known = (key, kind, value_key(value))
        if kind is not None and known in self._verdicts:
            return self._verdicts[known]
        reason = ""
        try:
            if override.is_add() or override.is_force_add():
                with open_dict(cfg):
                    OmegaConf.update(cfg, key, value, merge=True)
            else:
                OmegaConf.update(cfg, key, value, merge=True)
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
        from omegaconf import OmegaConf

        task = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"])
        for key in OmegaConf.missing_keys(task):
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


def in_parallel(checker: Checker, work: list[Combo]) -> None:
    """Compose on every core: composing is most of the check's time, and each combination
    is composed on its own. Each fork of this process (which loaded the app and Hydra
    once) checks its share and sends back its problems; a share whose fork said nothing
    is checked here. A process running threads is not forked (a fork copies one thread)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    forks = min(cores or 1, len(work)) if threading.active_count() == 1 else 1
    shares = [work[index::forks] for index in range(forks)]
    children = [(_fork(checker, share), share) for share in shares[1:]]
    checker.check_combos(shares[0])
    for (pid, pipe), share in children:
        with os.fdopen(pipe, "rb") as reader:
            said = reader.read()
        os.waitpid(pid, 0)
        try:
            found = json.loads(said)
        except ValueError:
            checker.check_combos(share)
            continue
        checker.problems.merge(found["problems"])
        checker.composed += found["composed"]


def _fork(checker: Checker, share: list[Combo]) -> tuple[int, int]:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid:
        os.close(writer)
        return pid, reader
    os.close(reader)
    try:
        checker.problems, checker.composed = Problems(), 0
        checker.check_combos(share)
        said = {"problems": checker.problems.raw(), "composed": checker.composed}
        with os.fdopen(writer, "w", encoding="utf-8") as out:
            json.dump(said, out)
    finally:
        os._exit(0)


def main() -> int:
    request = json.load(sys.stdin)
    try:
        found = hydra_main_of(request)
    except BaseException as error:  # the app does not load: the run would say it first
        json.dump({"hydra": None, "why": f"{type(error).__name__}: {error}"}, sys.stdout)
        return 0
    if found is not None:
        found = as_the_words_say(found, list(request.get("words", [])))
    if found is None:
        json.dump({"hydra": False}, sys.stdout)
        return 0
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize(found):
        checker = Checker(found)
        checker.check(request["batches"])
    json.dump(
        {"hydra": True, "configs": checker.composed, "problems": checker.problems.as_list()},
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
