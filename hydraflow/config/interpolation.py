"""OmegaConf ``${…}`` interpolations, resolved when the file is loaded, as the original does.

Some interpolations only Hydra can resolve, when the job runs: ``${now:%H}``,
``${hydra:job.name}``, ``${hydra.job.name}``. An interpolation that names a
resolver OmegaConf does not know, or a key the file does not have, therefore
reaches Hydra as written; the other interpolations of the same string are
still resolved here (``a=${oc.env:A,1} b=${now:%H}`` → ``a=1 b=${now:%H}``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from itertools import chain
from typing import Any

import yaml

from hydraflow.config.source import scalar
from hydraflow.errors import shown

# Deeper than any value of a valid hydraflow.yaml (jobs → job → sets → set → each);
# what lies deeper is left out, so no walk here recurses without bound.
_MAX_DEPTH = 6
# Job names are made of these, so an interpolation that reaches a job spells its name.
_WORD = re.compile(r"[\w-]+")

KeyPath = tuple[str | int, ...]


class ResolveError(ValueError):
    """An interpolation OmegaConf could not resolve; the reader adds the line."""


class Interpolations:
    """The whole file as an OmegaConf config, so that ``${jobs.a.name}`` finds its target."""

    def __init__(self, root: yaml.Node) -> None:
        from omegaconf import OmegaConf
        from omegaconf.errors import GrammarParseError

        self.paths: dict[int, KeyPath] = {}
        # Strings whose ``${`` OmegaConf cannot parse stay out of the config, so that
        # one bad string is reported at its own line and the others still resolve.
        self.unparsed: set[int] = set()
        self.omitted = _out_of_reach(root)
        try:
            self.config = OmegaConf.create(self._data(root, (), 0))
        except GrammarParseError:
            self.paths.clear()
            self.config = OmegaConf.create(self._data(root, (), 0, check=True))

    def _data(self, node: yaml.Node, path: KeyPath, depth: int, check: bool = False) -> Any:
        if isinstance(node, yaml.ScalarNode):
            self.paths.setdefault(id(node), path)
            value = scalar(node)
            if check and isinstance(value, str) and "${" in value and not _parses(value):
                self.unparsed.add(id(node))
                return None
            return value
        if depth >= _MAX_DEPTH:
            return None
        if isinstance(node, yaml.SequenceNode):
            return [
                self._data(item, (*path, i), depth + 1, check) for i, item in enumerate(node.value)
            ]
        return {
            str(key.value): self._data(value, (*path, str(key.value)), depth + 1, check)
            for key, value in node.value
            if isinstance(key, yaml.ScalarNode) and id(value) not in self.omitted
        }

    def resolve(self, node: yaml.ScalarNode) -> str:
        """The string of ``node`` with every interpolation OmegaConf knows resolved."""
        # The loader never prints; OmegaConf's warnings (a deprecated key, an empty
        # argument) would reach the terminal as Python warnings.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._resolve(node)

    def _resolve(self, node: yaml.ScalarNode) -> str:
        from omegaconf.errors import (
            InterpolationKeyError,
            OmegaConfBaseException,
            UnsupportedInterpolationType,
        )

        text = str(node.value)
        try:
            parent, key = self._place(node)
        except OmegaConfBaseException as error:
            raise _failed(text, error) from None
        try:
            if id(node) in self.unparsed:
                parent[key] = text  # raises the parse error, with OmegaConf's message
            return str(parent[key])
        except (UnsupportedInterpolationType, InterpolationKeyError):
            return self._partly(parent, key, text)
        except OmegaConfBaseException as error:
            raise _failed(text, error) from None

    def _place(self, node: yaml.Node) -> tuple[Any, str | int]:
        if id(node) not in self.paths:  # deeper than any value hydraflow reads
            raise ResolveError(f"cannot resolve {shown(node.value)}: nested too deeply")
        *parents, key = self.paths[id(node)]
        parent: Any = self.config
        for part in parents:
            parent = parent[part]
        return parent, key

    def _partly(self, parent: Any, key: str | int, text: str) -> str:
        """Resolve what OmegaConf can; interpolations only Hydra knows stay as written."""
        # Interpolations left for Hydra become unique plain words while the rest
        # resolves, so OmegaConf's own rules (escapes, relative keys) still apply.
        import secrets

        from omegaconf import grammar_parser
        from omegaconf.errors import OmegaConfBaseException

        marker = f"hydraflow{secrets.token_hex(8)}x"
        kept: dict[str, str] = {}
        masked: list[str] = []
        end = 0
        top = grammar_parser.parse(text).getChild(0)  # configValue: text EOF
        try:
            for child in top.getChildren():
                if child.getChildCount() == 0:  # plain text and escapes, not an interpolation
                    continue
                start, stop = child.start.start, child.stop.stop + 1
                piece = text[start:stop]
                if self._hydra_only(parent, key, piece):
                    place = f"{marker}{len(kept)}x"
                    kept[place] = piece
                    masked += [text[end:start], place]
                    end = stop
            masked.append(text[end:])
            parent[key] = "".join(masked)
            value = str(parent[key])
        except OmegaConfBaseException as error:
            raise _failed(text, error) from None
        finally:
            parent[key] = text
        for place, piece in kept.items():
            value = value.replace(place, piece)
        return value

    def _hydra_only(self, parent: Any, key: str | int, piece: str) -> bool:
        from omegaconf.errors import InterpolationKeyError, UnsupportedInterpolationType

        parent[key] = piece
        try:
            parent[key]
        except (UnsupportedInterpolationType, InterpolationKeyError):
            return True
        return False


def _out_of_reach(root: yaml.Node) -> set[int]:
    """The jobs no interpolation can reach: none is inside them and none names them.

    OmegaConf takes about a millisecond to wrap a job, so one ``${`` in a file
    of thousands of jobs would cost seconds if every job went into its config.
    """
    jobs = _entry(root, "jobs")
    if not isinstance(jobs, yaml.MappingNode):
        return set()
    found = {id(job): list(_interpolated(job, 2)) for _, job in jobs.value}
    words = set(_WORD.findall(" ".join(text for texts in found.values() for text in texts)))
    return {id(job) for key, job in jobs.value if not found[id(job)] and key.value not in words}


def _entry(node: yaml.Node, name: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((value for key, value in node.value if key.value == name), None)
    return None


def _interpolated(node: yaml.Node, depth: int) -> Iterator[str]:
    """The strings holding ``${`` in ``node``, as deep as the config goes."""
    if isinstance(node, yaml.ScalarNode):
        if "${" in node.value:
            yield node.value
    elif depth < _MAX_DEPTH:
        children = node.value if isinstance(node, yaml.SequenceNode) else chain(*node.value)
        for child in children:
            yield from _interpolated(child, depth + 1)


def _parses(text: str) -> bool:
    from omegaconf import grammar_parser
    from omegaconf.errors import GrammarParseError

    try:
        grammar_parser.parse(text)
    except GrammarParseError:
        return False
    return True


def _failed(text: str, error: Exception) -> ResolveError:
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return ResolveError(f"cannot resolve {shown(text)}: {message}")
