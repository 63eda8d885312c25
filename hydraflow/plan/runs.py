"""The Hydra runs of a batch: which words Hydra sweeps, and every run they make."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import replace

from hydraflow.config import JobSet
from hydraflow.plan.batch import Axes, Batch, Extras

_HYDRA_SWEEP_FUNCTIONS = ("choice(", "range(", "interval(", "glob(", "shuffle(", "sort(", "tag(")
_CLOSING = {"(": ")", "[": "]", "{": "}"}


def hydra_sweeps(word: str) -> bool:
    """Whether Hydra sweeps this override: a comma outside brackets and quotes, or one of
    its sweep functions."""
    value = word.partition("=")[2]
    if "," not in value and "(" not in value:
        return False
    if value.startswith(_HYDRA_SWEEP_FUNCTIONS):
        return True
    closers: list[str] = []
    quote = ""
    for ch in value:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in _CLOSING:
            closers.append(_CLOSING[ch])
        elif closers and ch == closers[-1]:
            closers.pop()
        elif ch == "," and not closers:
            return True
    return False


class SetSweeps:
    """What Hydra sweeps in each batch of a set: the pipe sections among its ``each``
    words (a section sweeps its values in one process) and every ``all`` token."""

    def __init__(self, job_set: JobSet, extras: Extras, fixed: Sequence[str]) -> None:
        from hydraflow.sweep import Assignment, Pipe

        tokens = list(job_set.sweep.tokens)
        if job_set.sweep.zipped is not None:
            tokens += job_set.sweep.zipped.tokens
        self.sections: list[dict[str, tuple[str, tuple[str, ...]]] | None] = [
            {s.collected(): (s.key, tuple(s.values)) for s in token.sections}
            if isinstance(token, Pipe)
            else None
            for token in tokens
        ]
        kept = set(extras.keep(job_set.collected))
        self.all_axes = tuple(
            (token.key, tuple(token.values))
            for token in job_set.all_tokens
            if isinstance(token, Assignment) and token.collected() in kept
        )
        self.readable = not any(map(hydra_sweeps, fixed)) and not any(
            hydra_sweeps(f"{key}={value}") for key, values in self.all_axes for value in values
        )

    def __call__(self, combination: Sequence[str], kept: Sequence[str]) -> tuple[int, Axes | None]:
        axes: list[tuple[str, tuple[str, ...]]] = []
        readable = self.readable
        for sections, word in zip(self.sections, combination, strict=False):
            if sections is not None and word in sections:
                if word in kept:
                    axes.append(sections[word])
            elif word in kept and hydra_sweeps(word):
                readable = False
        axes += self.all_axes
        runs = math.prod(len(values) for _, values in axes)
        return runs, (tuple(axes) if readable else None)


def planned_runs(batch: Batch) -> list[list[str]] | None:
    """The task overrides of every Hydra run of ``batch``, in the order Hydra numbers them
    (its basic sweeper crosses the swept keys, leftmost slowest); None when hydraflow
    cannot tell (a word sweeps through one of Hydra's own functions)."""
    if batch.axes is None:
        return None
    swept = {key for key, _ in batch.axes}
    fixed: dict[str, str] = {}
    for word in batch.overrides:
        key = word.partition("=")[0]
        if "=" in word and not key.startswith("hydra.") and key not in swept:
            fixed.setdefault(key, word)
    keys = [key for key, _ in batch.axes]
    return [
        [*fixed.values(), *(f"{key}={value}" for key, value in zip(keys, values, strict=True))]
        for values in itertools.product(*(values for _, values in batch.axes))
    ]


def rerun_of(batch: Batch, number: int, overrides: Sequence[str]) -> Batch:
    """A batch that runs only run ``number`` of ``batch`` (whose task overrides are
    ``overrides``) again, into the same sweep dir and under the same number."""
    values = dict(override.partition("=")[::2] for override in overrides)
    swept = {key for key, _ in batch.axes or ()}

    def single(word: str) -> str:
        key = word.partition("=")[0]
        return f"{key}={values[key]}" if key in swept and key in values else word

    return replace(
        batch,
        before_dir=tuple(map(single, batch.before_dir)),
        after_dir=tuple(map(single, batch.after_dir)),
        runs=1,
        axes=(),
        internal=(*batch.internal, f"hydra.sweep.subdir={number}"),
        base=batch.key,
        rerun=(number,),
    )
