"""Parse one shell word of a sweep (``KEY=VALUES``, a pipe, ``~key``) into nodes.

The grammar, informally::

    token    := '~'KEY | KEY['/'PREFIX]'='VALUES | section('|'section)+
    section  := [KEY['/'PREFIX]'=']VALUES
    VALUES   := item(','item)*                  commas inside () [] {} or quotes do not split
    item     := range | log(...) | hydra_fn(...) | parts | literal
    parts    := text? '(' VALUES ')' (text | '(' VALUES ')')*
    range    := [num]':'num[':'num][':'exp] | num':'exp

Every error names the position in the original expression. Sizes are worked
out as the tree is built, so what limits.py refuses is refused here, before
any value is made.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from hydraflow.sweep.errors import SweepError, shown
from hydraflow.sweep.limits import MAX_COLLECTED, MAX_COLLECTED_CHARS, MAX_SIZE, MAX_SIZE_TEXT
from hydraflow.sweep.numbers import EXPONENT, NUMBER, SI_EXPONENTS, with_exponent
from hydraflow.sweep.ranges import RangeParser, Span
from hydraflow.sweep.shell import Word
from hydraflow.sweep.structure import WORD, Structure, scan
from hydraflow.sweep.values import Concat, Literal, Literals, Node, Suffixed, Union

# Hydra's own sweep and cast functions: Hydra expands them, so they pass verbatim.
HYDRA_FUNCTIONS = frozenset(
    [
        "choice",
        "range",
        "interval",
        "glob",
        "sort",
        "shuffle",
        "tag",
        "int",
        "float",
        "str",
        "bool",
        "json_str",
    ]
)


@dataclass(frozen=True, slots=True)
class Assignment:
    """``KEY=VALUES``: one override per value."""

    key: str
    values: Node

    def size(self) -> int:
        return self.values.size()

    def width(self) -> int:
        return len(self.key) + 1 + self.values.width()

    def __iter__(self) -> Iterator[str]:
        prefix = self.key + "="
        return (prefix + value for value in self.values)

    def collected(self) -> str:
        return f"{self.key}={','.join(self.values)}"


@dataclass(frozen=True, slots=True)
class Pipe:
    """``a=1,2|b=3``: one override per section, each swept by Hydra inside one process."""

    sections: tuple[Assignment, ...]

    def size(self) -> int:
        return len(self.sections)

    def width(self) -> int:
        return max(_collected_width(section) for section in self.sections)

    def __iter__(self) -> Iterator[str]:
        return (section.collected() for section in self.sections)


@dataclass(frozen=True, slots=True)
class Verbatim:
    """A word passed to Hydra unchanged, such as the deletion ``~key``."""

    text: str

    def size(self) -> int:
        return 1

    def width(self) -> int:
        return len(self.text)

    def __iter__(self) -> Iterator[str]:
        yield self.text

    def collected(self) -> str:
        return self.text


Token = Assignment | Pipe | Verbatim


def parse_token(word: Word, expr: str, *, allow_pipe: bool) -> Token:
    """One word as a token; ``allow_pipe=False`` parses a token of ``all``.

    A token of ``all`` and each pipe section are collected into one override,
    so they must hold at most MAX_COLLECTED values (and MAX_COLLECTED_CHARS
    characters): that is checked here, before anything is made.
    """
    return _WordParser(word, expr).token(allow_pipe=allow_pipe)


def _collected_width(assignment: Assignment) -> int:
    """An upper bound of the length of ``KEY=v1,v2,…``."""
    return len(assignment.key) + 1 + assignment.size() * (assignment.values.width() + 1)


class _WordParser:
    def __init__(self, word: Word, expr: str) -> None:
        self.word = word
        self.text = word.text
        self.expr = expr
        self.ranges = RangeParser(self.text, self.error)
        self.structure: Structure = scan(self.text, self.error)

    def error(self, message: str, index: int) -> SweepError:
        return SweepError(message, self.expr, self.word.pos(index))

    # -- tokens --------------------------------------------------------------

    def token(self, *, allow_pipe: bool) -> Token:
        text = self.text
        pipes = self.structure.top(WORD, 0, len(text), "|")
        if pipes:
            if not allow_pipe:
                raise self.error("a pipe '|' belongs to each, not here", pipes[0])
            return self.pipe(pipes)
        eq = text.find("=")
        if eq < 0:
            if text.startswith("~") and len(text) > 1:
                return Verbatim(text)
            raise self.error(f"expected KEY=VALUES, got {shown(text)}", 0)
        key, exponent = self.key(0, eq)
        assignment = Assignment(key, self.values(eq + 1, len(text), exponent, WORD))
        if not allow_pipe:
            self.collectable(assignment, 0, "sweep it in `each` instead")
        return assignment

    def pipe(self, pipes: list[int]) -> Pipe:
        sections: list[Assignment] = []
        key, exponent = "", ""
        for lo, hi in itertools.pairwise([-1, *pipes, len(self.text)]):
            lo += 1
            start = lo
            eq = self.text.find("=", lo, hi)
            if eq >= 0:
                key, exponent = self.key(lo, eq)
                lo = eq + 1
            elif not key:
                raise self.error("expected KEY=VALUES before the first '|'", lo)
            section = Assignment(key, self.values(lo, hi, exponent, WORD))
            self.collectable(section, start, "split it into more sections")
            sections.append(section)
        return Pipe(tuple(sections))

    def collectable(self, assignment: Assignment, at: int, advice: str) -> None:
        """Refuse an override too large for one process to receive (see limits.py)."""
        size = assignment.size()  # at most MAX_SIZE: larger nodes are refused as they are made
        if size > MAX_COLLECTED:
            raise self.error(
                f"one override collects at most {MAX_COLLECTED:,} values,"
                f" this one has {size:,}; {advice}",
                at,
            )
        if _collected_width(assignment) > MAX_COLLECTED_CHARS:
            raise self.error(
                f"one override collects at most {MAX_COLLECTED_CHARS:,} characters,"
                f" this one may need more; {advice}",
                at,
            )

    def key(self, lo: int, eq: int) -> tuple[str, str]:
        """The override key and the exponent of its prefix notation (``lr/m``), if any."""
        key = self.text[lo:eq]
        slash = key.rfind("/")
        if slash >= 0:
            exponent = self.ranges.suffix(lo + slash + 1, eq)
            if exponent:
                key = key[:slash]
                if not key:
                    raise self.error("missing key before the prefix", lo)
                return key, exponent
        if not key:
            raise self.error("missing key before '='", eq)
        return key, ""

    # -- values --------------------------------------------------------------

    def values(self, lo: int, hi: int, exponent: str, group: int) -> Node:
        """``text[lo:hi]``, a comma list directly inside ``group``."""
        if lo == hi:
            raise self.error("empty value", lo)
        text = self.text
        items: list[Node] = []
        # Consecutive plain items become one node: a long list stays one tuple of strings.
        plain: list[str] = []
        start, marks = lo, []
        for k in [*self.structure.top(group, lo, hi, ",:("), hi]:
            if k < hi and text[k] != ",":
                marks.append(k)
                continue
            if start == k:
                raise self.error("empty item", k)
            if not marks and not exponent:
                plain.append(text[start:k])
            else:
                if plain:
                    items.append(Literals.of(plain))
                    plain = []
                items.append(self.item(start, k, exponent, marks))
            start, marks = k + 1, []
        if plain:
            items.append(Literals.of(plain))
        return items[0] if len(items) == 1 else self.sized(Union.of(items), lo)

    def sized(self, node: Node, lo: int) -> Node:
        if node.size() > MAX_SIZE:
            raise self.error(f"more than {MAX_SIZE_TEXT} values", lo)
        return node

    def item(self, lo: int, hi: int, exponent: str, marks: list[int]) -> Node:
        """One item; ``marks`` are its top-level ``(`` and ``:``."""
        text = self.text
        opens = [k for k in marks if text[k] == "("]
        if opens:
            return self.parenthesised(lo, hi, opens, exponent)
        if marks:
            first = text[lo : marks[0]]
            if not first or NUMBER.fullmatch(first):
                return self.ranges.range(lo, _split(lo, hi, marks), exponent)
        return self.literal(lo, hi, exponent)

    def literal(self, lo: int, hi: int, exponent: str) -> Node:
        value = self.text[lo:hi]
        if not exponent:
            return Literal(value)
        if not NUMBER.fullmatch(value):
            raise self.error(f"prefix notation needs numbers, got {shown(value)}", lo)
        own = EXPONENT.search(value)
        if own:
            raise self.error("exponent given twice", lo + own.start())
        return Literal(with_exponent(value, exponent))

    def parenthesised(self, lo: int, hi: int, opens: list[int], exponent: str) -> Node:
        text = self.text
        closing = self.structure.closing
        name = text[lo : opens[0]]
        if len(opens) == 1 and closing[opens[0]] == hi - 1:
            if name in HYDRA_FUNCTIONS:
                if exponent:
                    raise self.error(f"prefix notation cannot apply to {name}()", lo)
                return Literal(text[lo:hi])
            if name == "log":
                inner = opens[0] + 1
                colons = self.structure.top(opens[0], inner, hi - 1, ":")
                return self.ranges.log(inner, hi - 1, _split(inner, hi - 1, colons), exponent)
        parts: list[Node] = []
        cursor = lo
        trailing_exponent = -1
        for open_ in opens:
            if cursor < open_:
                parts.append(self.between(cursor, open_, after_group=cursor > lo))
            close = closing[open_]
            if open_ + 1 == close:
                raise self.error("empty parentheses", open_)
            parts.append(self.values(open_ + 1, close, "", open_))
            cursor = close + 1
        if cursor < hi:
            parts.append(self.between(cursor, hi, after_group=True))
            if text[cursor:hi] in SI_EXPONENTS:
                trailing_exponent = cursor
        # A lone group is its own values: nothing is concatenated or attached.
        node = parts[0] if len(parts) == 1 else self.sized(Concat.of(parts), lo)
        if exponent:
            if trailing_exponent >= 0:
                raise self.error("exponent given twice", trailing_exponent)
            return Suffixed(node, exponent)
        return node

    def between(self, lo: int, hi: int, *, after_group: bool) -> Node:
        """Text around groups; a bare SI letter after a group is its exponent."""
        segment = self.text[lo:hi]
        if after_group and segment in SI_EXPONENTS:
            return Literal(SI_EXPONENTS[segment])
        return Literal(segment)


def _split(lo: int, hi: int, cuts: list[int]) -> list[Span]:
    """The spans between ``cuts`` in ``[lo, hi)``."""
    return [(a + 1, b) for a, b in itertools.pairwise([lo - 1, *cuts, hi])]
