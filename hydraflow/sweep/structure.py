"""Where a word's brackets and separators are, found in one pass.

The parser asks, for a stretch of a word, where its top-level commas, colons,
pipes and parentheses are. Scanning the stretch each time would read a
character once per bracket around it, so a deeply nested word would cost its
length times its depth; instead one pass notes, for the word and for each
``(`` group, the separators directly inside it, and a question is a binary
search in that list.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

from hydraflow.sweep.errors import SweepError
from hydraflow.sweep.limits import MAX_DEPTH

WORD = -1  # the group key of the word's own top level
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_OPENERS = frozenset(_CLOSERS.values())
# A quoted stretch is one match (its inside is literal); a quote with no
# partner matches alone, which is how an unclosed quote shows.
_SPECIAL = re.compile(r"""'[^']*'|"[^"]*"|['"]|[][(){},:|]""")

Fault = Callable[[str, int], SweepError]


@dataclass(frozen=True, slots=True)
class Structure:
    """``marks[g]``: positions of ``, : | (`` directly inside group ``g``, ascending.

    A group is keyed by the index of its ``(``, the word's top level by WORD;
    separators inside quotes, ``[…]`` or ``{…}`` belong to no group, as those
    are literal. ``closing`` maps each ``(`` to its ``)``.
    """

    text: str
    marks: dict[int, list[int]]
    closing: dict[int, int]

    def top(self, group: int, lo: int, hi: int, chars: str) -> list[int]:
        """Positions in ``[lo, hi)`` of the characters ``chars`` directly inside ``group``."""
        marks = self.marks[group]
        if not marks:
            return []
        text = self.text
        first = bisect.bisect_left(marks, lo)
        last = bisect.bisect_left(marks, hi, first)
        return [k for k in marks[first:last] if text[k] in chars]


def scan(text: str, fault: Fault) -> Structure:
    """Match every bracket and quote of ``text``; raise ``fault(message, index)`` if one is off."""
    marks: dict[int, list[int]] = {WORD: []}
    closing: dict[int, int] = {}
    stack: list[int] = []
    # The mark list of each open group; None inside literal brackets.
    lists: list[list[int] | None] = [marks[WORD]]
    current = lists[-1]
    for found in _SPECIAL.finditer(text):
        k = found.start()
        ch = text[k]
        if ch in "'\"":
            if found.end() == k + 1:
                raise fault("unclosed quote", k)
        elif ch in _OPENERS:
            if len(stack) == MAX_DEPTH:
                raise fault(f"brackets nest deeper than {MAX_DEPTH} levels", k)
            stack.append(k)
            if ch == "(" and current is not None:
                current.append(k)
                current = marks[k] = []
            else:
                current = None
            lists.append(current)
        elif ch in _CLOSERS:
            if not stack or text[stack[-1]] != _CLOSERS[ch]:
                raise fault(f"unbalanced {ch!r}", k)
            opened = stack.pop()
            lists.pop()
            current = lists[-1]
            if ch == ")":
                closing[opened] = k
        elif current is not None:
            current.append(k)
    if stack:
        raise fault(f"unclosed {text[stack[-1]]!r}", stack[-1])
    return Structure(text, marks, closing)
