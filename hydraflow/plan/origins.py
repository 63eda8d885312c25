"""Where a word of a batch comes from, for a message about it: ``hydraflow.yaml:LINE`` of
the set or ``add`` that writes its key, the command line, or the app's own config."""

from __future__ import annotations

import re
from collections.abc import Iterator

from hydraflow.config import Job
from hydraflow.errors import display_path
from hydraflow.plan.batch import Extras


def origin(job: Job, extras: Extras, key: str) -> str:
    """The places that set ``key`` for the job's batches, as ``hydraflow.yaml:10,13``: the
    command line's overrides win over the file, as they do in the batches. A key no word
    sets (a ``???`` left unset, a config file that does not compose) is the app's own."""
    if key in extras.replaced:
        return "command line"
    lines = sorted(set(_lines_setting(job, key)))
    if not lines:
        return "the app's config"
    return f"{display_path(job.path)}:{','.join(map(str, lines))}"


def _lines_setting(job: Job, key: str) -> Iterator[int]:
    pattern = re.compile(rf"(?:^|\s)[+~]*{re.escape(key)}(?:/[^=\s]*)?=")
    for job_set in job.sets:
        for field in ("each", "zip", "all", "add"):
            text = getattr(job_set, field)
            if field == "add":
                text = " ".join(job_set.add or ())
            for found in pattern.finditer(text or ""):
                place = job_set.places.get(field)
                yield place.line_of(found.start()) if place else job_set.line
    if any(pattern.search(word) for word in job.add):
        yield job.line_of("add")
