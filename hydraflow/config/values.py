"""Every scalar the reader takes from the file passes through ``Values``: one check of kind.

A value of the wrong kind (a list for ``run``, ``true`` for ``parallel``, a
bad date, an unknown ``!tag``) is ``KEY must be …, not …`` with its line.
Strings holding ``${`` are resolved here, and only then is OmegaConf imported.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from hydraflow.config.devices import device_id, parse_devices
from hydraflow.config.interpolation import Interpolations, ResolveError
from hydraflow.config.source import line
from hydraflow.errors import ConfigError, shown

_YAML = "tag:yaml.org,2002:"
# Plain scalars of these kinds read as the text written: `help: 2024-01-01` is a string.
_TEXT_TAGS = frozenset(_YAML + kind for kind in ("str", "int", "float", "bool", "timestamp"))
_KINDS = {
    "str": "a string",
    "int": "a number",
    "float": "a number",
    "bool": "true/false",
    "null": "empty",
    "timestamp": "a date",
    "binary": "binary data",
}


def kind(node: yaml.Node) -> str:
    """How a node reads in a message: ``a list``, ``a date``, ``a value tagged !foo``."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    tag = str(node.tag)
    if tag.startswith(_YAML) and tag[len(_YAML) :] in _KINDS:
        return _KINDS[tag[len(_YAML) :]]
    return f"a value tagged {tag}"


class Values:
    """Checked access to the scalars of one file; errors carry the file and the node's line."""

    def __init__(self, path: Path, root: yaml.Node) -> None:
        self.path = path
        self.root = root
        self._interpolations: Interpolations | None = None

    def error(self, message: str, node: yaml.Node, detail: str = "") -> ConfigError:
        return ConfigError(message, self.path, line(node), detail)

    def wrong(self, node: yaml.Node, key: str, want: str) -> ConfigError:
        return self.error(f"{key} must be {want}, not {kind(node)}", node)

    def text(self, node: yaml.Node, key: str, want: str = "a string") -> str:
        """A scalar's text as written, interpolations resolved; an empty value is ``''``."""
        if isinstance(node, yaml.ScalarNode) and node.tag == _YAML + "null":
            return ""
        if not isinstance(node, yaml.ScalarNode) or node.tag not in _TEXT_TAGS:
            raise self.wrong(node, key, want)
        value = str(node.value)
        if node.tag == _YAML + "str" and "${" in value:
            return self.resolve(node)
        return value

    def words(self, text: str, node: yaml.Node, key: str) -> list[str]:
        """``text`` split into words as ``shlex.split`` would, like ``run``'s command line."""
        stripped = text.strip(_BLANK_CHARS)
        if not _QUOTING.search(stripped):
            # Without quotes or escapes shlex only splits at blanks: a regex does it at C speed.
            return _BLANKS.split(stripped) if stripped else []
        # shlex grows each word a character at a time (quadratic: a 2 MB word takes
        # minutes); the sweep engine's splitter gives the same words in linear time,
        # and says where a quote is left open, so long texts and errors go there.
        if len(text) <= _SHLEX_LIMIT:
            try:
                return shlex.split(text)
            except ValueError:
                pass
        from hydraflow.sweep import SweepError
        from hydraflow.sweep.shell import split_words

        try:
            return [word.text for word in split_words(text)]
        except SweepError as error:
            raise self.error(f"{key}: {error}", node, error.caret()) from None

    def number(self, node: yaml.Node, key: str, want: str) -> int:
        """A whole number, written as one or given by an interpolation."""
        if isinstance(node, yaml.ScalarNode) and node.tag == _YAML + "int":
            try:
                return int(_CONSTRUCTOR.construct_yaml_int(node))
            except (ValueError, IndexError):  # `!!int x`, `!!int ''`
                raise self.error(f"{key} must be {want}, not {shown(node.value)}", node) from None
        if isinstance(node, yaml.ScalarNode) and node.tag == _YAML + "str" and "${" in node.value:
            text = self.resolve(node)
            try:
                return int(text)
            except ValueError:
                raise self.error(f"{key} must be {want}, not {shown(text)}", node) from None
        raise self.wrong(node, key, want)

    def whole(self, node: yaml.Node, key: str) -> int:
        """A whole number of at least 1, such as ``parallel``."""
        want = "a whole number of at least 1"
        number = self.number(node, key, want)
        if number < 1:
            raise self.error(f"{key} must be {want}, not {number}", node)
        return number

    def boolean(self, node: yaml.Node, key: str) -> bool:
        """``true`` or ``false``, as YAML writes them."""
        if isinstance(node, yaml.ScalarNode) and node.tag == _YAML + "bool":
            return bool(_CONSTRUCTOR.construct_yaml_bool(node))
        raise self.wrong(node, key, "true or false")

    def texts(self, node: yaml.Node, key: str) -> tuple[str, ...]:
        """One string, or a list of strings (such as glob patterns)."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        texts = tuple(self.text(item, key, "a string or a list of strings") for item in items)
        if any(not text.strip() for text in texts):
            raise self.error(f"{key} cannot hold an empty string", node)
        return texts

    def devices(self, node: yaml.Node) -> tuple[str, ...]:
        """``[0, 1]`` or ``0,1``: the ids that workers take in turn as CUDA_VISIBLE_DEVICES."""
        if isinstance(node, yaml.SequenceNode):
            return tuple(self.device(item) for item in node.value)
        if isinstance(node, yaml.ScalarNode) and node.tag == _YAML + "int":
            return (self.device(node),)
        if isinstance(node, yaml.ScalarNode) and node.tag not in (_YAML + "str", _YAML + "null"):
            raise self.wrong(node, "devices", _DEVICES)
        try:
            return parse_devices(self.text(node, "devices", _DEVICES))
        except ValueError as error:
            raise self.error(f"devices: {error}", node) from None

    def device(self, node: yaml.Node) -> str:
        want = "a device number or id"
        if isinstance(node, yaml.ScalarNode) and node.tag == _YAML + "str":
            try:
                return device_id(self.text(node, "each device", want))
            except ValueError as error:
                raise self.error(f"devices: {error}", node) from None
        number = self.number(node, "each device", want)
        if number < 0:
            raise self.error(f"each device must be {want}, not {number}", node)
        return str(number)

    def resolve(self, node: yaml.ScalarNode) -> str:
        if self._interpolations is None:
            self._interpolations = Interpolations(self.root)
        try:
            return self._interpolations.resolve(node)
        except ResolveError as error:
            raise self.error(str(error), node) from None


_CONSTRUCTOR = yaml.SafeLoader("")
_SHLEX_LIMIT = 10_000
# shlex.split's separators and the characters that make it more than a split at them.
_BLANK_CHARS = " \t\r\n"
_BLANKS = re.compile("[ \t\r\n]+")
_QUOTING = re.compile("[\"'\\\\]")
_DEVICES = "device ids, as a list ([0, 1]) or a comma list (0,1)"
