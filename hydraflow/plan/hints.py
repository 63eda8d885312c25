"""What to tell a user whose ``--only`` chose nothing: the keys and values there are."""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterator

from hydraflow.config import Job
from hydraflow.plan.batch import NO_EXTRAS, Batch, Extras
from hydraflow.plan.build import batches, set_batches
from hydraflow.selection import Selection, ValuesSeen
from hydraflow.words import override_key


def override_keys(job: Job, extras: Extras = NO_EXTRAS) -> list[str]:
    """Every override key the job's batches carry, in order of first appearance."""
    keys: dict[str, None] = {}
    for batch in _first_of_each_set(job, extras):
        for word in batch.overrides:
            key = override_key(word)
            if key is not None:
                keys.setdefault(key)
    return list(keys)


def _first_of_each_set(job: Job, extras: Extras) -> Iterator[Batch]:
    """One batch per set: the batches of a set share their keys, unless a pipe gives each
    section its own (``model=a|lr=1``), and then the set's batches up to a bound."""
    for job_set in job.sets or (None,):
        made = set_batches(job, job_set, extras)
        piped = job_set is not None and "|" in job_set.each + job_set.zip
        yield from itertools.islice(made, 10_000 if piped else 1)


def unknown_key(job: Job, extras: Extras, selection: Selection) -> str | None:
    """Why ``--only`` names a key that no batch has, if it does. Asked before planning:
    ``KEY=`` picks the batches without KEY, which a misspelled key would be all of."""
    keys = override_keys(job, extras)
    for key in selection.keys:
        if key not in keys:
            close = difflib.get_close_matches(key, keys, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(k for k in keys if not k.startswith("hydra."))
            return f"--only: no batch of {job.key!r} has the key {key!r}{hint}; keys: {known}"
    return None


def no_match(job: Job, extras: Extras, selection: Selection) -> str:
    """Why ``--only`` chose nothing: a key no batch has, or values none has."""
    unknown = unknown_key(job, extras, selection)
    if unknown is not None:
        return unknown
    seen = ValuesSeen(selection)
    for batch in itertools.islice(batches(job, extras), 10_000):
        for word in batch.overrides:
            key, _, value = word.partition("=")
            seen.add(key, value)
    return f"--only matches no batch of {job.key!r}: {seen}"
