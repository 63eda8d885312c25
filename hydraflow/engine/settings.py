"""What a pool is told before it starts: how many at once, limits, devices, and what it
asks along the way (which runs left no record, which batches to stop early)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hydraflow.engine.running import Launch
from hydraflow.process import GRACE_SECONDS


@dataclass(frozen=True)
class PoolSettings:
    workers: int = 1
    failure_limit: int | None = 1
    timeout: float | None = None
    retries: int = 0
    devices: tuple[str, ...] = ()
    grace: float = GRACE_SECONDS
    env: Mapping[str, str] = field(default_factory=dict)
    # A batch that succeeds sets the failures back to none: the limit counts them in a row
    # (a search, whose failed trials are part of searching, stops only at a run of them).
    in_a_row: bool = False
    # Asked every ``watch_every`` seconds while batches run, with their launches: those it
    # returns are stopped as a timeout stops them, and end ``pruned`` (a search's trials).
    watch: Callable[[Sequence[Launch]], Iterable[Launch]] | None = None
    watch_every: float = 0.25
    # The runs of a batch that exited 0 that left no record of success, given how many
    # Hydra announced: exit 0 alone is no proof that every run ran.
    unrecorded: Callable[[Launch, int], tuple[int, ...]] | None = None
