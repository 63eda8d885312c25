"""Errors that front ends render once, at the edge, as one ``error: …`` line."""

from __future__ import annotations

from pathlib import Path

from hydraflow.statuses import ExitStatus


class HydraflowError(Exception):
    """hydraflow itself cannot go on (a ledger it cannot write, a full disk): status 1."""

    exit_code: int = ExitStatus.FAILED


class UsageError(HydraflowError):
    """A mistake in how hydraflow was called: a bad flag value, an unknown job; status 2."""

    exit_code = ExitStatus.USAGE


class ConfigError(UsageError):
    """A mistake in ``hydraflow.yaml``, tied to a file and a line."""

    def __init__(
        self, message: str, path: Path | None = None, line: int = 0, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.detail = detail

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            line = f":{self.line}" if self.line else ""
            where = f"{display_path(self.path)}{line}: "
        text = where + self.message
        return f"{text}\n{self.detail}" if self.detail else text


def display_path(path: Path) -> str:
    """The path as the user would type it from here: relative when below the working folder."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def did_you_mean(word: str, choices: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or nothing when none is close."""
    import difflib

    if len(word) > 100:  # no name is that long; difflib would only spend time on it
        return ""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def shown(value: str, limit: int = 60) -> str:
    """A value quoted for a message, cut short: a 2 MB word must not flood the terminal."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value)} characters)"
