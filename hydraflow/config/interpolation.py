"""OmegaConf ``${…}`` interpolations, resolved when the file is loaded, as the original does."""

from __future__ import annotations

from typing import Any

import yaml

from hydraflow.config.source import plain


class ResolveError(ValueError):
    """An interpolation OmegaConf could not resolve; the reader adds the line."""


class Interpolations:
    def __init__(self, root: yaml.Node) -> None:
        from omegaconf import OmegaConf

        self.paths: dict[int, list[str | int]] = {}
        self._index(root, [])
        self.config = OmegaConf.create(plain(root))

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
            raise ResolveError(f"cannot resolve {node.value!r}: {message}") from None
        return str(target)
