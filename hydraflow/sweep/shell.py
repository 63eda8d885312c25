"""Split an expression into words as a POSIX shell (and ``shlex.split``) does.

Unlike ``shlex``, every character of a word remembers where it came from, so
an error found later inside a word can point at the right column of the
original text.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from hydraflow.sweep.errors import SweepError

_BLANKS = re.compile(r"[ \t\r\n]+")
_PLAIN = re.compile(r"[^ \t\r\n'\"\\]+")
_IN_DOUBLE = re.compile(r'[^"\\]+')
# Inside double quotes a backslash escapes only these (POSIX, and shlex).
_ESCAPED_IN_DOUBLE = '"\\'


@dataclass(frozen=True, slots=True)
class Word:
    """One shell word: its text after quote removal, and where its characters sat.

    A word is copied from the expression in runs (an unquoted stretch, the
    inside of quotes); ``starts[j]`` is where run ``j`` begins in ``text`` and
    ``sources[j]`` where it begins in the expression. Runs rather than one
    position per character keep splitting a long word cheap.
    """

    text: str
    starts: tuple[int, ...]
    sources: tuple[int, ...]
    end: int

    def pos(self, index: int) -> int:
        """The source position of ``text[index]`` (the word's end past the last)."""
        if index >= len(self.text) or not self.starts:
            return self.end
        run = bisect.bisect_right(self.starts, index) - 1
        return self.sources[run] + index - self.starts[run]


class _WordBuilder:
    """Collects the runs of one word, merging runs that continue each other."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: list[int] = []
        self.sources: list[int] = []
        self.length = 0
        self.source_end = -1
        self.started = False

    def add(self, expr: str, lo: int, hi: int) -> None:
        self.started = True
        if lo == hi:
            return
        if lo != self.source_end:
            self.starts.append(self.length)
            self.sources.append(lo)
        self.parts.append(expr[lo:hi])
        self.length += hi - lo
        self.source_end = hi

    def word(self, end: int) -> Word:
        return Word("".join(self.parts), tuple(self.starts), tuple(self.sources), end)


def split_words(expr: str) -> list[Word]:
    """The words of ``expr``; raises SweepError for an unclosed quote or a dangling escape."""
    words: list[Word] = []
    builder = _WordBuilder()
    i, n = 0, len(expr)
    while i < n:
        blanks = _BLANKS.match(expr, i)
        if blanks:
            if builder.started:
                words.append(builder.word(i))
                builder = _WordBuilder()
            i = blanks.end()
            continue
        ch = expr[i]
        if ch == "'":
            close = expr.find("'", i + 1)
            if close < 0:
                raise SweepError("unclosed quote", expr, i)
            builder.add(expr, i + 1, close)
            i = close + 1
        elif ch == '"':
            i = _double_quoted(expr, i, builder)
        elif ch == "\\":
            if i + 1 >= n:
                raise SweepError("nothing follows the backslash", expr, i)
            builder.add(expr, i + 1, i + 2)
            i += 2
        else:
            plain = _PLAIN.match(expr, i)
            assert plain is not None
            builder.add(expr, i, plain.end())
            i = plain.end()
    if builder.started:
        words.append(builder.word(n))
    return words


def _double_quoted(expr: str, quote: int, builder: _WordBuilder) -> int:
    """Consume a double-quoted run starting at ``quote``; return the index after it."""
    i, n = quote + 1, len(expr)
    builder.add(expr, i, i)
    while i < n:
        run = _IN_DOUBLE.match(expr, i)
        if run:
            builder.add(expr, i, run.end())
            i = run.end()
            continue
        if expr[i] == '"':
            return i + 1
        # A backslash: it escapes only a quote or a backslash, and is kept before anything else.
        if i + 1 < n:
            builder.add(expr, i if expr[i + 1] not in _ESCAPED_IN_DOUBLE else i + 1, i + 2)
            i += 2
        else:
            builder.add(expr, i, i + 1)
            i += 1
    raise SweepError("unclosed quote", expr, quote)
