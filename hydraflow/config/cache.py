"""The listing lines of jobs without ``help:``, kept between runs.

A job without help is listed with its counts (``run: … · 1 set · 400
batches``), and counting means parsing its sweeps. ``invoke --list`` is asked
often and the file seldom changes, so the lines are kept in
``.hydraflow/cache/listing.json`` beside the ledger, for the file's exact
bytes and this version of hydraflow. A file with interpolations is not kept:
``${oc.env:…}`` may change the counts without changing the file.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from hydraflow.config.model import Config, Job
from hydraflow.errors import ConfigError

CACHE = Path(".hydraflow") / "cache" / "listing.json"
# Lines kept before every sweep was checked may count a job that cannot run.
_FORMAT = 2


@dataclass(frozen=True)
class Listing:
    """The listing line of each job without help, and why a job cannot run, if it cannot."""

    lines: dict[str, str] = field(default_factory=dict)
    problems: dict[str, ConfigError] = field(default_factory=dict)


def listing(config: Config) -> Listing:
    """The listing lines of the jobs without help, parsed once per version of the file; a
    job whose sweeps do not parse has its problem instead (and nothing is kept)."""
    wanted = [job for job in config.jobs.values() if not job.help]
    if not wanted:
        return Listing()
    try:
        data = config.path.read_bytes()
    except OSError:
        data = b"${"  # cannot tell whether the file changed: do not keep
    if b"${" in data:
        return _counted(wanted)
    from hydraflow import __version__

    key = f"{__version__}:{_FORMAT}:{len(data)}:{zlib.crc32(data):08x}"
    path = config.root / CACHE
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("key") == key:
            return Listing(dict(kept["lines"]))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    counted = _counted(wanted)
    if not counted.problems:
        _keep(path, {"key": key, "lines": counted.lines})
    return counted


def _counted(jobs: list[Job]) -> Listing:
    """Each line from sweeps all checked: counting needs only ``each``, but a count shown
    for a job that cannot run (a bad ``all``) would be a promise the run breaks."""
    found = Listing()
    for job in jobs:
        try:
            job.check()
            found.lines[job.key] = job.summary()
        except ConfigError as error:
            found.problems[job.key] = error
    return found


def _keep(path: Path, content: object) -> None:
    """Write the cache whole or not at all; a read-only project simply keeps nothing."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(f".{os.getpid()}.part")
        part.write_text(json.dumps(content), encoding="utf-8")
        os.replace(part, path)
    except OSError:
        pass
