"""A job in words: the line a listing shows, and the full text of a job's help."""

from __future__ import annotations

from hydraflow.config.model import Job


def describe(job: Job) -> str:
    """The first line is what ``invoke --list`` shows; the rest is for ``invoke --help JOB``.
    Counting every set parses them all: a bad sweep raises its ConfigError here."""
    lines = [job.help or job.summary(), "", f"{job.mode}: {job.command_text}"]
    if job.add:
        lines.append(f"add: {' '.join(job.add)}")
    for number, job_set in enumerate(job.sets, 1):
        parts = [
            f"{key}: {text}"
            for key, text in (("each", job_set.each), ("zip", job_set.zip), ("all", job_set.all))
            if text
        ]
        if job_set.add is not None:
            parts.append(f"add: {' '.join(job_set.add)}")
        lines.append(
            f"set {number}: {' | '.join(' '.join(p.split()) for p in parts) or '(empty)'}"
            f" -> {job_set.batches} batches, {job_set.runs} Hydra runs"
        )
    lines += [
        f"total: {job.counted[0]} batches, {job.counted[1]} Hydra runs"
        + (f" ({job.search.trials} trials per study)." if job.search else "."),
        "Words after -- go to the command (KEY=VALUE overrides replace the job's own).",
        f"Examples: invoke {job.key} --dry-run | invoke {job.key} -j 2 | "
        f"invoke {job.key} --resume | invoke {job.key} -- epochs=1",
    ]
    return "\n".join(lines)
