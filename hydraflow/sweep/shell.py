"""Split an expression into words as a POSIX shell (and ``shlex.split``) does.

Unlike ``shlex``, every character of a word remembers where it came from, so
an error found later inside a word can point at the right column of the
original text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hydraflow.sweep.errors import SweepError

_BLANKS = " \t\r\n"
# Inside double quotes a backslash escapes only these (POSIX, and shlex).
_ESCAPED_IN_DOUBLE = '"\\'


@dataclass(frozen=True, slots=True)
class Word:
    """One shell word: its text after quote removal, and where each character sat."""

    text: str
    origin: tuple[int, ...]
    end: int

    def pos(self, index: int) -> int:
        """The source position of ``text[index]`` (the word's end past the last)."""
        return self.origin[index] if index < len(self.origin) else self.end


def split_words(expr: str) -> list[Word]:
    """The words of ``expr``; raises SweepError for an unclosed quote or a dangling escape."""
    words: list[Word] = []
    chars: list[str] = []
    origin: list[int] = []
    in_word = False
    i, n = 0, len(expr)

    def keep(index: int) -> None:
        chars.append(expr[index])
        origin.append(index)

    while i < n:
        ch = expr[i]
        if ch in _BLANKS:
            if in_word:
                words.append(Word("".join(chars), tuple(origin), i))
                chars, origin, in_word = [], [], False
            i += 1
            continue
        in_word = True
        if ch == "'":
            close = expr.find("'", i + 1)
            if close < 0:
                raise SweepError("unclosed quote", expr, i)
            for j in range(i + 1, close):
                keep(j)
            i = close + 1
        elif ch == '"':
            i = _double_quoted(expr, i, keep)
        elif ch == "\\":
            if i + 1 >= n:
                raise SweepError("nothing follows the backslash", expr, i)
            keep(i + 1)
            i += 2
        else:
            keep(i)
            i += 1
    if in_word:
        words.append(Word("".join(chars), tuple(origin), n))
    return words


def _double_quoted(expr: str, quote: int, keep: Callable[[int], None]) -> int:
    """Consume a double-quoted run starting at ``quote``; return the index after it."""
    i, n = quote + 1, len(expr)
    while i < n:
        ch = expr[i]
        if ch == '"':
            return i + 1
        if ch == "\\" and i + 1 < n:
            if expr[i + 1] not in _ESCAPED_IN_DOUBLE:
                keep(i)
            keep(i + 1)
            i += 2
            continue
        keep(i)
        i += 1
    raise SweepError("unclosed quote", expr, quote)
