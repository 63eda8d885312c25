"""Override words read as Hydra reads them, fast enough for thousands of batches.

Hydra's override parser is an ANTLR grammar: most of its cost is the start of a parse,
not its length. A job's batches share keys and differ in a value (``lr=0.001``,
``lr=0.002``, …), so the plain values of one key are read together, as one comma
list (``lr=0.001,0.002,…``), and each item becomes the override its own word would
have parsed to. Any word outside that plain shape is parsed on its own.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

# Values the grammar reads the same alone and as an item of a comma list: no comma,
# bracket, quote, space, escape or interpolation that could make one item into several.
_PLAIN = re.compile(r"[A-Za-z0-9_.+\-/:]+")
_ALONE = 2  # fewer words than this under a key gain nothing from a joint parse


class Words:
    """Each distinct word parsed once, into Hydra's ``Override`` or the reason it is not one."""

    def __init__(self, loader: Any = None) -> None:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        # With the app's config loader, a glob over a group's options can be listed.
        self._parser = OverridesParser.create(config_loader=loader)
        self.parsed: dict[str, Any] = {}

    def read(self, words: Iterable[str]) -> None:
        by_key: dict[str, list[str]] = {}
        for word in words:
            if word in self.parsed:
                continue
            key, equals, value = word.partition("=")
            if equals and _PLAIN.fullmatch(value):
                by_key.setdefault(key, []).append(word)
            else:
                self.parsed[word] = self._one(word)
        for key, same in by_key.items():
            unique = list(dict.fromkeys(same))
            if len(unique) < _ALONE or not self._together(key, unique):
                for word in unique:
                    self.parsed[word] = self._one(word)

    def _together(self, key: str, words: list[str]) -> bool:
        """Parse ``key=v1,v2,…`` once; False when it does not give one item per word."""
        from hydra.core.override_parser.types import ChoiceSweep, ValueType
        from hydra.errors import HydraException

        values = [word.partition("=")[2] for word in words]
        try:
            joint = self._parser.parse_override(f"{key}={','.join(values)}")
        except HydraException:
            return False
        sweep = joint._value
        if joint.value_type != ValueType.SIMPLE_CHOICE_SWEEP or not isinstance(sweep, ChoiceSweep):
            return False
        if len(sweep.list) != len(words):
            return False
        for word, item in zip(words, sweep.list, strict=True):
            self.parsed[word] = dataclasses.replace(
                joint, value_type=ValueType.ELEMENT, _value=item, input_line=word
            )
        return True

    def _one(self, word: str) -> Any:
        from hydra.errors import HydraException

        try:
            return self._parser.parse_override(word)
        except HydraException as error:
            lines = str(error).strip().splitlines()
            return f"Hydra cannot read it: {lines[0] if lines else error}"


def prefix(override: Any) -> str:
    if override.is_force_add():
        return "++"
    if override.is_add():
        return "+"
    return "~" if override.is_delete() else ""


def shown_word(override: Any, value: Any) -> str:
    """One value of an override as the user would write it: the word itself, or for an item
    of a sweep, its key (with its ``+``) and that item."""
    if not override.is_sweep_override():
        return str(override.input_line)
    try:
        item = override._get_value_element_as_str(value)
    except Exception:  # a seam of Hydra's for display only: fall back to Python's text
        item = str(value)
    return f"{override.get_key_element()}={item}"


def values(override: Any) -> list[Any]:
    """The values an override sets: one, or each of a sweep's."""
    if not override.is_sweep_override():
        return [override.value()]
    try:
        return list(override.sweep_iterator())
    except Exception:  # an interval cannot be listed: its key was checked
        return []
