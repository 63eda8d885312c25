"""What the check asks of a composed config: whether a key is there, every key it has (for
a did-you-mean), the type a structured config declares for a key, in words."""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

_KINDS = {int: "an int", float: "a float", bool: "a bool", str: "a string"}


def node_at(cfg: Any, key: str) -> Any | None:
    """The node at a dotted key, even a ``???`` one (which ``in`` does not see), an item
    of a list by its index (``layers.0.units``); None when the key is not there."""
    from omegaconf import ListConfig

    node: Any = cfg
    for part in key.split("."):
        try:
            if isinstance(node, ListConfig):
                node = node._get_node(int(part)) if part.lstrip("-").isdigit() else None
            else:
                node = node._get_node(part)
        except Exception:
            return None
        if node is None:
            return None
    return node


def selected(cfg: Any, key: str) -> Any:
    """The value at a key as Hydra asks for it before ``+`` or ``~``: None when the key is
    not there, or is null or ``???``."""
    from omegaconf import OmegaConf

    try:
        return OmegaConf.select(cfg, key, throw_on_missing=False)
    except Exception:  # an interpolation only a run resolves: something is there
        return True


def missing_keys(cfg: Any, skip: tuple[str, ...] = ()) -> list[str]:
    """The dotted keys whose value is ``???``, read without resolving anything (an
    interpolation such as ``${hydra:runtime.output_dir}`` resolves only in a run)."""
    from omegaconf import DictConfig, ListConfig

    found = []
    pending: list[tuple[str, Any]] = [("", cfg)]
    while pending:
        name, node = pending.pop()
        if isinstance(node, DictConfig | ListConfig):
            if node._is_missing():
                found.append(name)
                continue
            if node._is_none() or node._is_interpolation():
                continue
            keys: list[Any] = list(
                node.keys() if isinstance(node, DictConfig) else range(len(node))
            )
            for key in keys:
                if not name and str(key) in skip:
                    continue
                child = node._get_node(key)
                pending.append((f"{name}.{key!s}" if name else str(key), child))
        elif node is not None and not node._is_interpolation() and node._value() == "???":
            found.append(name)
    return sorted(found)


def kind_of(node: Any) -> Hashable | None:
    """What decides which values a leaf accepts: its node class, declared type and whether
    it may be None. Two leaves of one kind accept the same values, so a value checked
    against one is known for the other. None for a container, which is not compared."""
    from omegaconf import ValueNode

    if not isinstance(node, ValueNode):
        return None
    metadata = node._metadata
    return (type(node), metadata.ref_type, metadata.optional, getattr(node, "enum_type", None))


def value_key(value: Any) -> Hashable:
    """A value told apart by type as well (``1``, ``1.0`` and ``True`` are equal in Python)."""
    try:
        hash(value)
    except TypeError:
        return (type(value), repr(value))
    return (type(value), value)


def keys_of(cfg: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a config, for suggestions."""
    from omegaconf import DictConfig

    found = []
    for key in cfg.keys() if isinstance(cfg, DictConfig) else []:
        name = f"{prefix}{key!s}"
        found.append(name)
        try:
            child = cfg._get_node(key)
        except Exception:
            continue
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            found += keys_of(child, f"{name}.")
    return found


def text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return repr(value) if isinstance(value, float) else json.dumps(value)


def type_message(key: str, value: Any, cfg: Any, error: Exception) -> str:
    kind = declared(cfg, key)
    if kind:
        return f"{key!r} is {kind}, not {text(value)!r}"
    reason = str(error).strip()
    return reason.splitlines()[0] if reason else type(error).__name__


def declared(cfg: Any, key: str) -> str:
    """The type a structured config declares for ``key``, in words; empty if none."""
    node = node_at(cfg, key)
    kind = getattr(getattr(node, "_metadata", None), "ref_type", None)
    if isinstance(kind, type) and kind in _KINDS:
        return _KINDS[kind]
    if isinstance(kind, type) and hasattr(kind, "__members__"):
        return f"one of {', '.join(kind.__members__)}"
    return ""
