"""Read ``hydraflow.yaml`` into frozen dataclasses, checking everything before anything runs.

PyYAML's node tree keeps the line of every key and value, so each mistake is
reported as ``hydraflow.yaml:LINE: …``. Sweep expressions are parsed on demand
(``Config.check()`` parses them all): a bad ``each`` fails with a caret under
the fault.

- ``source``: finding the file, decoding it, composing YAML nodes.
- ``reader``: walking the nodes into the model, with every check.
- ``interpolation``: OmegaConf ``${…}`` resolution, imported only when needed.
- ``values``: the one checked way to read a scalar.
- ``devices``: device lists, shared with the ``--devices`` flag.
- ``model``: ``Config``, ``Job``, ``JobSet`` and their counts.
"""

from __future__ import annotations

from hydraflow.config.devices import parse_devices
from hydraflow.config.model import Config, Goal, Job, JobSet
from hydraflow.config.reader import load
from hydraflow.config.source import FILENAME, find

__all__ = ["FILENAME", "Config", "Goal", "Job", "JobSet", "find", "load", "parse_devices"]
