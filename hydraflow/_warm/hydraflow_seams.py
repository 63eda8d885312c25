"""Where hydraflow changes how Hydra runs a batch, each change held to the Hydra versions
whose code it was read against. On any other version it does nothing, so an upgrade
of Hydra can make a batch slower, never wrong. Standard library only at its top.
"""

from __future__ import annotations

import copy
import os
from typing import Any

# Read against each release's source: Hydra 1.3.0 to 1.3.8 share the basic sweeper's
# `sweep` and `Sweeper.validate_batch_is_legal`, `Hydra.get_mode` as `_run_app` uses
# it, and the `load_config` of the file and package config sources (tests/test_check.py
# and tests/test_warm_loading.py pin them).
TRUSTED_HYDRA = frozenset(f"1.3.{patch}" for patch in range(9))


def _trusted(version: str | None) -> bool:
    try:
        import hydra
    except ImportError:
        return False
    return (version or hydra.__version__) in TRUSTED_HYDRA


def trust_the_check(version: str | None = None) -> bool:
    """Skip the composition Hydra's basic sweeper does of every job of a batch only to
    validate it (it composes each again to run it): hydraflow's check composed this
    batch before it started. Returns whether the seam holds here."""
    if not _trusted(version):
        return False
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.plugins.sweeper import Sweeper

    if not callable(getattr(Sweeper, "validate_batch_is_legal", None)):
        return False
    BasicSweeper.validate_batch_is_legal = _validated_before  # type: ignore[method-assign]
    return True


def _validated_before(self: object, batch: object) -> None:
    """hydraflow's check composed this batch before it started."""


def skip_the_mode_composition(version: str | None = None) -> bool:
    """Skip the composition Hydra makes of a ``--multirun`` only to read ``hydra.mode``
    from it, where hydraflow's check found that no config and no word of the job sets
    it: Hydra then takes the mode from ``--multirun``, as it does when the config says
    nothing. A batch whose own words set it still composes. Returns whether the seam
    holds here."""
    if not _trusted(version):
        return False
    from hydra._internal.hydra import Hydra

    original = getattr(Hydra, "get_mode", None)
    if not callable(original):
        return False

    def mode_unset(self: Any, config_name: Any, overrides: list[str]) -> Any:
        if any(_sets_mode(word) for word in overrides):
            return original(self, config_name, overrides)
        return None  # what get_mode answers for a config that leaves the mode unset

    Hydra.get_mode = mode_unset  # type: ignore[method-assign]
    return True


def _sets_mode(word: str) -> bool:
    return word.lstrip("+~").partition("=")[0].strip() == "hydra.mode"


def cache_config_files(version: str | None = None) -> bool:
    """Keep each config file Hydra reads, parsed, for every later composition in this
    process and in the children it forks: Hydra reads and parses each file again for
    every composition (twice in each run of a ``--multirun``). Each use gets a copy of
    its own; a file that changed on disk since (its size or time) is read again.
    Returns whether the seam holds here."""
    if not _trusted(version):
        return False
    from hydra._internal.core_plugins.file_config_source import FileConfigSource
    from hydra._internal.core_plugins.importlib_resources_config_source import (
        ImportlibResourcesConfigSource,
    )

    for source in (FileConfigSource, ImportlibResourcesConfigSource):
        if getattr(source.load_config, "hydraflow_cached", False):
            continue
        source.load_config = _cached(source.load_config)  # type: ignore[method-assign]
    return True


_PARSED: dict[tuple[str, str, str, Any], Any] = {}


def _cached(load: Any) -> Any:
    def load_config(self: Any, config_path: str) -> Any:
        key = (type(self).__name__, str(self.path), config_path, _stamp(self, config_path))
        if key[-1] is None:
            return load(self, config_path)
        if key not in _PARSED:
            _PARSED[key] = load(self, config_path)
        return copy.deepcopy(_PARSED[key])

    load_config.hydraflow_cached = True  # type: ignore[attr-defined]
    return load_config


def _stamp(source: Any, config_path: str) -> Any:
    """What tells a file's contents apart without reading it: a package's never change
    while it runs; a file's size and modification time. None: do not cache."""
    if type(source).__name__ != "FileConfigSource":
        return ()
    name = config_path if config_path.endswith((".yaml", ".yml")) else f"{config_path}.yaml"
    try:
        status = os.stat(os.path.join(str(source.path), name))
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns
