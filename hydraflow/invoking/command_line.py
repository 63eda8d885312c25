"""The words of an Invoke command line, as hydraflow reads them before Invoke does.

Invoke turns every ``_`` of a task name into ``-`` (or the reverse when
``tasks.auto_dash_names`` is off), so one task cannot answer to both spellings:
the words naming a job are rewritten to Invoke's spelling. A misspelled flag
after a job (``--dry-rn``) must never start a run: it is a usage error naming the
nearest flag, as in the ``hydraflow`` command. Pure functions of the words.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from hydraflow.errors import UsageError
from hydraflow.flags import RUN, Command, Flag


def canonical_names(jobs: Sequence[str], dashes: bool) -> dict[str, str]:
    """Each job's name, written either way (as a key: ``-`` made ``_``), to the one Invoke
    answers to: Invoke turns only the separators inside a name, not those at its ends."""
    canonical = {}
    for name in jobs:
        plain = name.replace("-", "_")
        inside = plain[1:-1].replace("_", "-") if dashes else plain[1:-1]
        canonical[plain] = plain[:1] + inside + plain[-1:] if len(plain) > 1 else plain
    return canonical


def rewrite(
    words: Sequence[str],
    jobs: Sequence[str],
    *,
    dashes: bool = True,
    subject_tasks: Mapping[str, Command] | None = None,
) -> list[str]:
    """``words`` (everything before ``--``, core flags already taken out) with every job
    name in Invoke's spelling; raises UsageError for a flag no job has, and for a job
    named after a task that takes its job with ``--job`` (Invoke would run the job after
    that task)."""
    canonical = canonical_names(jobs, dashes)
    subject_tasks = subject_tasks or {}
    out = list(words)
    in_job = in_task = ""
    takes_value = False
    for index, word in enumerate(out):
        if takes_value:
            takes_value = False
            continue
        if word.startswith("-"):
            if in_job:
                takes_value = job_flag(word, in_job)
            elif in_task:
                takes_value = _takes_value(word, subject_tasks[in_task])
            continue
        prefix, dot, last = word.rpartition(".")
        target = canonical.get(last.replace("-", "_"))
        if in_task and target is not None:
            raise UsageError(
                f"{in_task}: a job is chosen with --job: invoke {in_task} --job {word}"
            )
        in_task = last if last in subject_tasks else ""
        if target is not None:
            out[index] = f"{prefix}{dot}{target}"
            in_job = target
        else:
            in_job = ""
    return out


def job_flag(word: str, job: str, command: Command = RUN) -> bool:
    """Check one flag word after a job's name; True when the next word is its value."""
    if word in ("-h", "--help"):
        return False
    flag = _flag_of(word, command)
    if flag is not None:
        return _takes_value(word, command)
    raise UsageError(
        f"{job}: unknown flag {word!r}{nearest_flag(word, command)};"
        " words for the command go after --"
    )


def _flag_of(word: str, command: Command) -> Flag | None:
    """The flag a word names: ``--jobs``, ``--jobs=2``, ``--no-ledger``, ``-j``, ``-nk``."""
    if word.startswith("--"):
        name = word[2:].partition("=")[0].replace("-", "_")
        named = {flag.name: flag for flag in command.flags}
        if name in named:
            return named[name]
        negated = named.get(name.removeprefix("no_")) if name.startswith("no_") else None
        return negated if negated is not None and negated.kind == "negatable" else None
    letters = word[1:]
    shorts = {flag.short: flag for flag in command.flags if flag.short}
    flags = [shorts.get(letter) for letter in letters]
    if not letters or flags[0] is None:
        return None
    if flags[0].takes_value or all(f is not None and f.kind == "switch" for f in flags):
        return flags[0]
    return None


def _takes_value(word: str, command: Command) -> bool:
    flag = _flag_of(word, command)
    if flag is None or not flag.takes_value:
        return False
    if word.startswith("--"):
        return "=" not in word
    return len(word) == 2  # -j 2, not -j2


def nearest_flag(word: str, command: Command = RUN) -> str:
    names = [flag.long for flag in command.flags]
    names += ["--no-" + flag.long[2:] for flag in command.flags if flag.kind == "negatable"]
    close = difflib.get_close_matches(word.partition("=")[0], [*names, "--help"], n=1, cutoff=0.5)
    return f" (did you mean {close[0]}?)" if close else ""
