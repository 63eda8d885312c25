"""Where a word of a batch comes from, for a message about it: ``hydraflow.yaml:LINE`` of
the set or ``add`` that writes its key, the command line, or the app's own config."""

from __future__ import annotations

import re

from hydraflow.config import Job
from hydraflow.errors import display_path
from hydraflow.plan.batch import Extras


def origin(job: Job, extras: Extras, key: str) -> str:
    """The first place that sets ``key`` for the job's batches: the command line's
    overrides win over the file, as they do in the batches. A key no word sets (a ``???``
    left unset, a config file that does not compose) is the app's own."""
    if key in extras.replaced:
        return "command line"
    where = display_path(job.path)
    pattern = re.compile(rf"(?:^|\s)[+~]*{re.escape(key)}(?:/[^=\s]*)?=")
    for job_set in job.sets:
        for field in ("each", "zip", "all", "add"):
            text = getattr(job_set, field)
            if field == "add":
                text = " ".join(job_set.add or ())
            if (found := pattern.search(text or "")) is not None:
                place = job_set.places.get(field)
                line = place.line_of(found.start()) if place else job_set.line
                return f"{where}:{line}"
    if any(pattern.search(word) for word in job.add):
        return f"{where}:{job.line_of('add')}"
    return "the app's config"
