"""``--dry-run`` of a search: each study (space, sampler, trials done and left) and one
example command, its values the lowest of the space. Nothing is made: the storage is
only read, and only when it exists."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from hydraflow.search.study import STORAGE, next_name, study_name
from hydraflow.search.trials import examples

if TYPE_CHECKING:
    from hydraflow.config import Job
    from hydraflow.flags import RunOptions
    from hydraflow.plan import Batch, Plan


class Previewing(Protocol):
    @property
    def job(self) -> Job: ...

    @property
    def root(self) -> Path: ...

    @property
    def options(self) -> RunOptions: ...

    @property
    def plan(self) -> Plan: ...

    def show(self, text: str) -> None: ...

    def sweep_dir(self, batch: Batch) -> str: ...


def preview_search(services: Previewing, line_of: Callable[[Batch, str], str]) -> None:
    job, root = services.job, services.root
    search = job.search
    assert search is not None
    seed = f" (seed {search.seed})" if search.seed is not None else ""
    how = f"sampler {search.sampler}{seed}, pruner {search.pruner}"
    for base in services.plan.batches():
        name = study_name(job.key, base.each)
        done, said = _done(root, name, resume=services.options.resume)
        left = max(0, search.trials - done)
        services.show(
            f"# study {said}: {search.trials} trials, {done} done, {left} left; {how}; {STORAGE}"
        )
        services.show(f"# space: {' '.join(search.space_text.split())}")
        example = examples(base, search.space)[0]
        services.show("# each trial runs with its own values, such as:")
        services.show(line_of(example, services.sweep_dir(example)))


def _done(root: Path, base: str, *, resume: bool) -> tuple[int, str]:
    """Trials the study run next has finished, and how it is named in the preview."""
    if not (root / STORAGE).is_file():
        return 0, base
    from hydraflow.search.study import names, peek

    if resume and (found := peek(root, base)) is not None:
        return found[1], found[0]
    fresh = next_name(base, names(root))
    return 0, fresh if fresh == base else f"{fresh} (new; --resume goes on with the last)"
