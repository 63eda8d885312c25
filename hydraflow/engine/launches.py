"""From planned batches to launches: a sweep dir for each, claimed as workers ask."""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Generator, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from hydraflow.attempts import attempt_fields
from hydraflow.engine.clock import Clock
from hydraflow.engine.running import Launch
from hydraflow.errors import UsageError
from hydraflow.events import BatchSkipped, Event
from hydraflow.ledger import Claimed, Wanted
from hydraflow.plan import Batch
from hydraflow.statuses import BatchStatus, Skip

# Claims are grouped only while batches take less than this each.
QUICK_SECONDS = 0.2
MAX_GROUP = 16


class Claiming(Protocol):
    """The ledger's claims as the engine uses them, or ``Unclaimed``."""

    @property
    def ledger_path(self) -> Path | None: ...

    def guard(self, pid: int) -> None: ...

    def claim(self, wanted: Sequence[Wanted]) -> list[Claimed | Skip]: ...

    def release(self, claims: Sequence[Claimed]) -> None: ...

    def release_untaken(self, rows: Sequence[int]) -> None: ...

    def flush(self) -> None: ...


class Unclaimed:
    """``--no-ledger`` (and dry runs): every batch is claimed, nothing is remembered."""

    ledger_path: Path | None = None

    def guard(self, pid: int) -> None:
        pass

    def claim(self, wanted: Sequence[Wanted]) -> list[Claimed | Skip]:
        return [Claimed(0, str(item.fields["sweep_dir"])) for item in wanted]

    def release(self, claims: Sequence[Claimed]) -> None:
        pass

    def release_untaken(self, rows: Sequence[int]) -> None:
        pass

    def flush(self) -> None:
        pass


class Launcher:
    """Claims planned batches as workers ask for them, each in the folder ``folder_of``
    gives it, and reports those its claim skipped."""

    def __init__(
        self,
        claims: Claiming,
        folder_of: Callable[[Batch], str],
        extra: Sequence[str],
        emit: Callable[[Event], None],
        clock: Clock,
        claimed: Callable[[Batch, int], None] = lambda batch, row: None,
    ) -> None:
        self.claims = claims
        self.folder_of = folder_of
        self.extra = tuple(extra)
        self.emit = emit
        self.clock = clock
        self.claimed = claimed

    def claim(
        self,
        planned: Sequence[tuple[Batch, str]],
        status: BatchStatus = BatchStatus.RUNNING,
    ) -> list[Claimed | Skip]:
        """Claim batches, each in its folder, in one transaction; each one skipped is
        reported."""
        wanted = [
            Wanted(batch.key, attempt_fields(batch, folder, batch.argv(folder), self.extra, status))
            for batch, folder in planned
        ]
        results = self.claims.claim(wanted)
        batches = [batch for batch, _ in planned]
        for batch, result in zip(batches, results, strict=True):
            if isinstance(result, Claimed):
                self.claimed(batch, result.row)
            else:
                self.emit(BatchSkipped(batch, result))
        return results

    def launches(
        self, batches: Iterable[Batch], workers: int = 1, most: int = MAX_GROUP
    ) -> Generator[Launch | None, None, None]:
        """Claim the planned batches as workers ask for them; None for one skipped at its
        claim.

        The first claim is one batch per worker, as all of them start at once. Then
        batches shorter than ``QUICK_SECONDS`` are claimed a few at a time (one
        transaction for several, each claim waiting a moment for its slot); once
        batches take longer, each is claimed alone when its slot frees (always, with
        ``most=1``: a search asks for its next trial only then). So another
        runner on the same project can still take the batches this one has not
        started, and a runner killed outright leaves claims of batches it never
        started (``lost``, hiding how they ended before) only among quick batches.
        """
        planned = iter(batches)
        group = workers
        asked: collections.deque[float] = collections.deque(maxlen=workers + 1)
        while chunk := list(itertools.islice(planned, group)):
            results = self.claim([(batch, self.folder_of(batch)) for batch in chunk])
            unstarted = [r for r in results if isinstance(r, Claimed)]
            try:
                for batch, result in zip(chunk, results, strict=True):
                    if isinstance(result, Claimed):
                        unstarted.remove(result)
                        yield Launch(batch, result.sweep_dir, batch.argv(result.sweep_dir))
                        asked.append(self.clock.monotonic())  # a slot is free again
                    else:
                        yield None
            finally:
                self.claims.release(unstarted)
            # Batches are quick when every worker asked again soon: once for each of
            # them within QUICK_SECONDS apiece. Two slow batches that end together ask
            # twice at once, which says nothing of how long a batch takes.
            quick = len(asked) > workers and asked[-1] - asked[0] < QUICK_SECONDS * workers
            group = min(group * 2, most) if quick else 1


def workers_and_devices(
    jobs: int | None, parallel: int | None, devices: Sequence[str]
) -> tuple[int, tuple[str, ...]]:
    """``-j`` (default: the job's ``parallel:``, else 1) and the devices they share.

    More workers than devices would put two workers on one device without
    anyone asking: that is an error; repeating an id shares a device on purpose.
    """
    workers = jobs or parallel or 1
    if devices and workers > len(devices):
        shared = ",".join(devices[i % len(devices)] for i in range(workers))
        raise UsageError(
            f"{workers} workers but {len(devices)} device(s) ({','.join(devices)}): give one id "
            f"per worker, repeating an id to share it (e.g. --devices {shared})"
        )
    return workers, tuple(devices[:workers])
