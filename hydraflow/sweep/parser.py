"""Parse one shell word of a sweep (``KEY=VALUES``, a pipe, ``~key``) into nodes.

The grammar, informally::

    token    := '~'KEY | KEY['/'PREFIX]'='VALUES | section('|'section)+
    section  := [KEY['/'PREFIX]'=']VALUES
    VALUES   := item(','item)*                  commas inside () [] {} or quotes do not split
    item     := range | log(...) | hydra_fn(...) | parts | literal
    parts    := text? '(' VALUES ')' (text | '(' VALUES ')')*
    range    := [num]':'num[':'num][':'exp] | num':'exp

Every error names the position in the original expression.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

from hydraflow.sweep.errors import SweepError
from hydraflow.sweep.shell import Word
from hydraflow.sweep.values import (
    EXPONENT,
    INTEGER,
    NUMBER,
    SI_EXPONENTS,
    Concat,
    DecimalRange,
    IntRange,
    Literal,
    LogRange,
    Node,
    Suffixed,
    Union,
    with_exponent,
)

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
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_OPENERS = frozenset(_CLOSERS.values())


@dataclass(frozen=True, slots=True)
class Assignment:
    """``KEY=VALUES``: one override per value."""

    key: str
    values: Node

    def size(self) -> int:
        return self.values.size()

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

    def __iter__(self) -> Iterator[str]:
        return (section.collected() for section in self.sections)


@dataclass(frozen=True, slots=True)
class Verbatim:
    """A word passed to Hydra unchanged, such as the deletion ``~key``."""

    text: str

    def size(self) -> int:
        return 1

    def __iter__(self) -> Iterator[str]:
        yield self.text

    def collected(self) -> str:
        return self.text


Token = Assignment | Pipe | Verbatim


def parse_token(word: Word, expr: str, *, allow_pipe: bool) -> Token:
    return _WordParser(word, expr).token(allow_pipe=allow_pipe)


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the top-level characters of a span are, and which parenthesis closes which."""

    top: list[int]
    closing: dict[int, int]


class _WordParser:
    def __init__(self, word: Word, expr: str) -> None:
        self.word = word
        self.text = word.text
        self.expr = expr

    def error(self, message: str, index: int) -> SweepError:
        return SweepError(message, self.expr, self.word.pos(index))

    # -- tokens --------------------------------------------------------------

    def token(self, *, allow_pipe: bool) -> Token:
        text = self.text
        layout = self.layout(0, len(text))
        pipes = [k for k in layout.top if text[k] == "|"]
        if pipes:
            if not allow_pipe:
                raise self.error("a pipe '|' belongs to each, not here", pipes[0])
            return self.pipe(pipes)
        eq = text.find("=")
        if eq < 0:
            if text.startswith("~") and len(text) > 1:
                return Verbatim(text)
            raise self.error(f"expected KEY=VALUES, got {text!r}", 0)
        key, exponent = self.key(0, eq)
        return Assignment(key, self.values(eq + 1, len(text), exponent))

    def pipe(self, pipes: list[int]) -> Pipe:
        sections: list[Assignment] = []
        key, exponent = "", ""
        for lo, hi in itertools.pairwise([-1, *pipes, len(self.text)]):
            lo += 1
            eq = self.text.find("=", lo, hi)
            if eq >= 0:
                key, exponent = self.key(lo, eq)
                lo = eq + 1
            elif not key:
                raise self.error("expected KEY=VALUES before the first '|'", lo)
            sections.append(Assignment(key, self.values(lo, hi, exponent)))
        return Pipe(tuple(sections))

    def key(self, lo: int, eq: int) -> tuple[str, str]:
        """The override key and the exponent of its prefix notation (``lr/m``), if any."""
        key = self.text[lo:eq]
        slash = key.rfind("/")
        if slash >= 0:
            prefix = key[slash + 1 :]
            exponent = SI_EXPONENTS.get(prefix) or (prefix if EXPONENT.fullmatch(prefix) else "")
            if exponent:
                key = key[:slash]
                if not key:
                    raise self.error("missing key before the prefix", lo)
                return key, exponent
        if not key:
            raise self.error("missing key before '='", eq)
        return key, ""

    # -- values --------------------------------------------------------------

    def values(self, lo: int, hi: int, exponent: str) -> Node:
        if lo == hi:
            raise self.error("empty value", lo)
        layout = self.layout(lo, hi)
        commas = [k for k in layout.top if self.text[k] == ","]
        items: list[Node] = []
        for start, stop in itertools.pairwise([lo - 1, *commas, hi]):
            if start + 1 == stop:
                raise self.error("empty item", stop)
            items.append(self.item(start + 1, stop, exponent))
        return items[0] if len(items) == 1 else Union(tuple(items))

    def item(self, lo: int, hi: int, exponent: str) -> Node:
        text = self.text
        layout = self.layout(lo, hi)
        opens = [k for k in layout.top if text[k] == "("]
        if opens:
            return self.parenthesised(lo, hi, opens, layout.closing, exponent)
        colons = [k for k in layout.top if text[k] == ":"]
        if colons:
            first = text[lo : colons[0]]
            if not first or NUMBER.fullmatch(first):
                return self.range(lo, hi, colons, exponent)
        return self.literal(lo, hi, exponent)

    def literal(self, lo: int, hi: int, exponent: str) -> Node:
        value = self.text[lo:hi]
        if not exponent:
            return Literal(value)
        if not NUMBER.fullmatch(value):
            raise self.error(f"prefix notation needs numbers, got {value!r}", lo)
        own = EXPONENT.search(value)
        if own:
            raise self.error("exponent given twice", lo + own.start())
        return Literal(with_exponent(value, exponent))

    def parenthesised(
        self, lo: int, hi: int, opens: list[int], closing: dict[int, int], exponent: str
    ) -> Node:
        text = self.text
        name = text[lo : opens[0]]
        if len(opens) == 1 and closing[opens[0]] == hi - 1:
            if name in HYDRA_FUNCTIONS:
                if exponent:
                    raise self.error(f"prefix notation cannot apply to {name}()", lo)
                return Literal(text[lo:hi])
            if name == "log":
                node: Node = self.log(opens[0] + 1, hi - 1)
                return Suffixed(node, exponent) if exponent else node
        parts: list[Node] = []
        cursor = lo
        trailing_exponent = -1
        for open_ in opens:
            if cursor < open_:
                parts.append(self.between(cursor, open_, after_group=cursor > lo))
            close = closing[open_]
            if open_ + 1 == close:
                raise self.error("empty parentheses", open_)
            parts.append(self.values(open_ + 1, close, ""))
            cursor = close + 1
        if cursor < hi:
            parts.append(self.between(cursor, hi, after_group=True))
            if text[cursor:hi] in SI_EXPONENTS:
                trailing_exponent = cursor
        node = Concat(tuple(parts))
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

    def log(self, lo: int, hi: int) -> Node:
        fields = self.fields(lo, hi)
        if len(fields) != 3:
            raise self.error("log() takes START:STOP:COUNT", lo)
        (a, b), (c, d), (e, f) = fields
        start, stop = self.number(a, b), self.number(c, d)
        count = self.text[e:f]
        if not INTEGER.fullmatch(count) or int(count) < 1:
            raise self.error(f"log() needs a positive whole COUNT, got {count!r}", e)
        if start <= 0 or stop <= 0:
            raise self.error("log() needs START and STOP above zero", lo)
        return LogRange(start, stop, int(count))

    # -- ranges --------------------------------------------------------------

    def range(self, lo: int, hi: int, colons: list[int], exponent: str) -> Node:
        text = self.text
        fields = self.split_at(lo, hi, colons)
        last_lo, last_hi = fields[-1]
        last = text[last_lo:last_hi]
        own = SI_EXPONENTS.get(last) or (last if EXPONENT.fullmatch(last) else "")
        if own:
            if exponent:
                raise self.error("exponent given twice", last_lo)
            exponent = own
            fields = fields[:-1]
        elif last.isalpha():
            raise self.error(f"unknown suffix {last!r}", last_lo)
        if len(fields) > 3:
            raise self.error("a range takes at most three numbers: START:STOP:STEP", fields[3][0])
        # An empty start means 0 (":5"); any other empty field is an error.
        numbers = [
            Decimal(0) if i == 0 and a == b else self.number(a, b)
            for i, (a, b) in enumerate(fields)
        ]
        texts = [text[a:b] or "0" for a, b in fields]
        if len(fields) == 1:
            return Literal(with_exponent(texts[0], exponent))
        if all(INTEGER.fullmatch(t) for t in texts):
            return self.int_range([int(t) for t in texts], fields, exponent, lo)
        return self.decimal_range(numbers, fields, exponent, lo)

    def int_range(
        self, numbers: list[int], fields: list[tuple[int, int]], exponent: str, lo: int
    ) -> Node:
        start, stop, step = (*numbers, 1) if len(numbers) == 2 else numbers
        self.check_direction(start, stop, step, fields, lo)
        return IntRange(start, step, (stop - start) // step + 1, exponent)

    def decimal_range(
        self, numbers: list[Decimal], fields: list[tuple[int, int]], exponent: str, lo: int
    ) -> Node:
        start, stop, step = (*numbers, Decimal(1)) if len(numbers) == 2 else numbers
        self.check_direction(start, stop, step, fields, lo)
        with localcontext(prec=60) as context:
            context.traps[InvalidOperation] = True
            try:
                size = int((stop - start) // step) + 1
            except InvalidOperation:
                raise self.error("range has too many values", lo) from None
        return DecimalRange(start, step, size, exponent)

    def check_direction(
        self,
        start: Decimal | int,
        stop: Decimal | int,
        step: Decimal | int,
        fields: list[tuple[int, int]],
        lo: int,
    ) -> None:
        if step == 0:
            raise self.error("step cannot be zero", fields[2][0])
        if (stop - start) * step < 0:
            raise self.error(f"range runs the wrong way: {start} to {stop} by {step}", lo)

    def number(self, lo: int, hi: int) -> Decimal:
        if lo == hi:
            raise self.error("missing number", lo)
        value = self.text[lo:hi]
        if not NUMBER.fullmatch(value):
            raise self.error(f"invalid number {value!r}", lo)
        return Decimal(value)

    # -- structure -----------------------------------------------------------

    def fields(self, lo: int, hi: int) -> list[tuple[int, int]]:
        layout = self.layout(lo, hi)
        return self.split_at(lo, hi, [k for k in layout.top if self.text[k] == ":"])

    @staticmethod
    def split_at(lo: int, hi: int, cuts: list[int]) -> list[tuple[int, int]]:
        return [(a + 1, b) for a, b in itertools.pairwise([lo - 1, *cuts, hi])]

    def layout(self, lo: int, hi: int) -> _Layout:
        """Find top-level characters in ``text[lo:hi]``; reject unbalanced brackets and quotes."""
        text = self.text
        top: list[int] = []
        closing: dict[int, int] = {}
        stack: list[int] = []
        k = lo
        while k < hi:
            ch = text[k]
            if ch in "'\"":
                end = text.find(ch, k + 1, hi)
                if end < 0:
                    raise self.error("unclosed quote", k)
                k = end + 1
                continue
            if ch in _OPENERS:
                stack.append(k)
                if len(stack) == 1:
                    top.append(k)
            elif ch in _CLOSERS:
                if not stack or text[stack[-1]] != _CLOSERS[ch]:
                    raise self.error(f"unbalanced {ch!r}", k)
                opened = stack.pop()
                if not stack:
                    closing[opened] = k
                    top.append(k)
            elif not stack:
                top.append(k)
            k += 1
        if stack:
            raise self.error(f"unclosed {text[stack[-1]]!r}", stack[-1])
        return _Layout(top, closing)
