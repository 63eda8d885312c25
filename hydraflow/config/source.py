"""Finding ``hydraflow.yaml``, reading it, and composing its YAML node tree."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hydraflow.errors import ConfigError, UsageError

FILENAME = "hydraflow.yaml"
# How many values aliases may add to what the file spells out (see check_aliases).
ALIAS_LIMIT = 10_000


def find(start: Path | None = None) -> Path:
    """The nearest hydraflow.yaml in ``start`` or a parent folder.

    A folder (or a broken link) of that name stops the search: walking past it
    would silently run the jobs of some enclosing project.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / FILENAME
        if candidate.is_file():
            return candidate
        if candidate.is_dir() or candidate.is_symlink():
            what = "a directory" if candidate.is_dir() else "a broken link"
            raise ConfigError(f"is {what}, not a file (use -f PATH for another file)", candidate)
    raise UsageError(f"no {FILENAME} in {here} or any folder above it (use -f PATH)")


def read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a file", path) from None
    except OSError as error:
        raise ConfigError(f"cannot read the file: {error.strerror or error}", path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        # Everything before the bad byte decodes, by definition.
        row, column = _place(data[: error.start].decode("utf-8"))
        raise ConfigError(
            f"not UTF-8: byte 0x{data[error.start]:02x} at column {column} ({error.reason});"
            " save the file as UTF-8",
            path,
            row,
        ) from None


def compose(text: str, path: Path) -> yaml.Node | None:
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.compose(text, Loader=loader_class)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 0
        problem = error.problem or error.context or "invalid YAML"
        if "mapping values are not allowed" in problem and "=" in _line_text(text, line):
            # `each: lr=1:` reads to YAML as a key: the sweep never reaches hydraflow.
            problem += " (quote a sweep that ends with ':' or holds ': ')"
        raise ConfigError(f"YAML syntax error: {problem}", path, line) from None
    except yaml.reader.ReaderError as error:
        # libyaml counts bytes, the Python reader characters: find the character instead.
        code = error.character if isinstance(error.character, int) else 0
        index = text.find(chr(code))
        row, column = _place(text[:index]) if index >= 0 else (0, 0)
        raise ConfigError(
            f"character U+{code:04X} at column {column} is not allowed in YAML ({error.reason})",
            path,
            row,
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"YAML error: {error}", path) from None
    except RecursionError:  # the pure-Python loader, without libyaml's depth limit
        raise ConfigError("YAML nested too deeply", path) from None


def _line_text(text: str, line: int) -> str:
    """Line ``line`` (1-based) of ``text``; empty when there is none."""
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _place(before: str) -> tuple[int, int]:
    """The 1-based line and column of the character that follows ``before``."""
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def check_aliases(root: yaml.Node, path: Path) -> None:
    """Refuse aliases that multiply the document, or that contain their own anchor.

    PyYAML shares one node among all aliases of an anchor, so nine levels of
    nine aliases compose instantly yet expand to 9^9 values: every later walk
    (interpolation, ``show``) would hang. Aliases may add at most
    ``ALIAS_LIMIT`` values to what is written, which keeps every walk linear.
    Each node is visited once, so this check is linear too.
    """
    sizes: dict[int, int] = {}  # expanded size of every finished node
    uses: dict[int, int] = {}
    nodes: dict[int, yaml.Node] = {id(root): root}  # every node met, finished or on the path
    path_to: list[tuple[yaml.Node, Iterator[yaml.Node]]] = [(root, iter(_children(root)))]
    while path_to:
        node, pending = path_to[-1]
        for child in pending:
            uses[id(child)] = uses.get(id(child), 0) + 1
            if id(child) not in nodes:
                nodes[id(child)] = child
                path_to.append((child, iter(_children(child))))
                break
            if id(child) not in sizes:
                raise ConfigError(
                    "an alias refers to the anchor that contains it", path, line(child)
                )
        else:
            path_to.pop()
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
    if sizes[id(root)] - len(sizes) > ALIAS_LIMIT:
        shared = max((n for n in uses if uses[n] > 1), key=lambda n: sizes[n])
        raise ConfigError(
            f"aliases of this anchor expand the file to {sizes[id(root)]:,} values"
            f" (at most {ALIAS_LIMIT:,} more than written)",
            path,
            line(nodes[shared]),
        )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


@dataclass(frozen=True)
class Place:
    """Where a scalar's value sits in the file, so that an error at a character
    of the value names its own line, also in a value written over several lines."""

    line: int
    # The scalar as written (indicator, indentation, quotes), kept only when it spans lines.
    source: str = ""
    value: str = ""

    def line_of(self, offset: int) -> int:
        """The file line of the value's character at ``offset``.

        Walks the written text beside the value: a character of the value is
        the next one written alike, a line break may stand for a folded space,
        and the rest (indentation, quotes) is skipped. A block scalar's header
        line (``|``, ``>-``, a comment) holds none of the value. An escape in a
        double-quoted scalar is where the walk stops: the line that holds it.
        """
        line, at = self.line, 0
        value, source = self.value, self.source
        if source[:1] in ("|", ">"):
            header = _LINE_BREAK.search(source)
            source = source[header.end() :] if header else ""
            line += 1
        quoted = source[:1] == '"'
        previous = ""
        for char in source:
            if at > offset or at >= len(value):
                break
            if char in _LINE_BREAKS:
                if not (char == "\n" and previous == "\r"):  # CRLF is one break
                    line += 1
                    if value[at] in " \n":  # folded into a space, or a literal newline
                        at += 1
            elif char == value[at]:
                at += 1
            elif quoted and char == "\\":
                break
            previous = char
        return line


# What YAML reads as a line break (a lone CR, CRLF and LF among them).
_LINE_BREAKS = "\n\r\x85\u2028\u2029"
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


def place(node: yaml.Node, text: str, value: str) -> Place:
    """Where ``node`` is; ``value`` is what the reader made of it (an interpolated
    value has no characters in the file to point at, so it keeps the first line)."""
    start, end = node.start_mark, node.end_mark
    if start.line == end.line or not isinstance(node, yaml.ScalarNode) or node.value != value:
        return Place(start.line + 1)
    return Place(start.line + 1, text[start.index : end.index], value)


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


_CONSTRUCTOR = yaml.SafeLoader("")
_TYPED = frozenset(f"tag:yaml.org,2002:{kind}" for kind in ("int", "float", "bool", "null"))


def plain(node: yaml.Node) -> Any:
    """The node as plain data, for ``hydraflow show``."""
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): plain(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [plain(v) for v in node.value]
    return scalar(node)


def scalar(node: yaml.Node) -> Any:
    """Numbers, booleans and nulls as such; anything else (a bad date too) as written."""
    if node.tag in _TYPED:
        try:
            return _CONSTRUCTOR.construct_object(node)
        except (yaml.YAMLError, ValueError, IndexError):
            pass
    return str(node.value)
