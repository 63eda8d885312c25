"""Hydra override words: which key a word sets, and which keys are Hydra's own.

One place for a rule that the plan, the selection (``--only``, ``--where``),
the results and the Slurm handler all need to agree on.
"""

from __future__ import annotations

from collections.abc import Iterable


def override_key(word: str) -> str | None:
    """The key a Hydra override sets (``+k=1``, ``++k=1``, ``~k`` all set ``k``); None for
    a word that is not an override (``--config-name=x``, ``-c``, a bare ``a``)."""
    if word.startswith("-"):
        return None
    key, eq, _ = word.partition("=")
    if word.startswith("~"):
        return key[1:] or None
    if not eq:
        return None
    return key.lstrip("+") or None


def is_hydra(key: str) -> bool:
    """Whether a key is Hydra's own (``hydra.sweep.dir``, ``hydra/launcher``): Hydra keeps
    those apart from the task's overrides, in ``overrides.hydra``."""
    return key == "hydra" or key.startswith(("hydra.", "hydra/"))


def params_of(overrides: Iterable[str]) -> dict[str, str]:
    """The task's parameters from override words: ``["model=small", "+tag=x", "~drop",
    "hydra/launcher=joblib"]`` gives ``{"model": "small", "tag": "x"}``."""
    params: dict[str, str] = {}
    for word in overrides:
        key = override_key(word)
        if key is not None and "=" in word and not word.startswith("~") and not is_hydra(key):
            params[key] = word.partition("=")[2]
    return params
