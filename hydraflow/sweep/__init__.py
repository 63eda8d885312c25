"""The extended sweep syntax: expressions in, Hydra overrides out.

``expand`` gives the combinations of an ``each`` expression (one per process),
``collect`` turns an ``all`` expression into one ``KEY=v1,v2,…`` override per
token (swept by Hydra inside the process), ``count`` says how many
combinations there are without making them.

What one expression may ask for (nesting, digits, sizes, how much one
override may collect) is bounded; limits.py says where and why.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from hydraflow.sweep.errors import SweepError
from hydraflow.sweep.limits import MAX_SIZE, MAX_SIZE_TEXT
from hydraflow.sweep.parser import Assignment, Pipe, Token, Verbatim, parse_token
from hydraflow.sweep.shell import split_words
from hydraflow.sweep.values import product

__all__ = [
    "Assignment",
    "Pipe",
    "Sweep",
    "SweepError",
    "Token",
    "Verbatim",
    "collect",
    "count",
    "expand",
    "parse_tokens",
    "parse_zip",
]


def parse_tokens(expr: str, *, allow_pipe: bool = True) -> list[Token]:
    """Parse every shell word of ``expr``; raises SweepError at the first fault.

    ``allow_pipe=False`` parses an ``all`` expression (see ``parse_token``).
    The tokens' combinations, counted as they are parsed, may not pass MAX_SIZE.
    """
    tokens: list[Token] = []
    combinations = 1
    for word in split_words(expr):
        token = parse_token(word, expr, allow_pipe=allow_pipe)
        combinations *= token.size()
        if combinations > MAX_SIZE:
            raise SweepError(f"more than {MAX_SIZE_TEXT} combinations", expr, word.pos(0))
        tokens.append(token)
    return tokens


@dataclass(frozen=True, slots=True)
class Zipped:
    """Tokens that advance together: the i-th combination takes the i-th value of each."""

    tokens: tuple[Token, ...]

    def size(self) -> int:
        return self.tokens[0].size()

    def width(self) -> int:
        return sum(token.width() for token in self.tokens)

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        return zip(*self.tokens, strict=True)


def parse_zip(expr: str) -> Zipped | None:
    words = split_words(expr)
    if not words:
        return None
    tokens = tuple(parse_token(word, expr, allow_pipe=True) for word in words)
    for token, word in zip(tokens, words, strict=True):
        if token.size() != tokens[0].size():
            raise SweepError(
                f"zip needs tokens of one length: {tokens[0].size()} and {token.size()}",
                expr,
                word.pos(0),
            )
    return Zipped(tokens)


@dataclass(frozen=True, slots=True)
class Sweep:
    """The parsed ``each`` (and ``zip``) of a set: a lazy, countable stream of combinations."""

    tokens: tuple[Token, ...]
    zipped: Zipped | None = None

    @classmethod
    def parse(cls, each: str = "", paired: str = "") -> Sweep:
        return cls(tuple(parse_tokens(each)), parse_zip(paired))

    def size(self) -> int:
        size = math.prod(token.size() for token in self.tokens)
        return size * self.zipped.size() if self.zipped else size

    def __iter__(self) -> Iterator[list[str]]:
        if self.zipped is None:
            return map(list, product(self.tokens))
        return (_flatten(combination) for combination in product([*self.tokens, self.zipped]))


def _flatten(combination: tuple[object, ...]) -> list[str]:
    """Each-values then the zipped tuple, which the zip axis always puts last."""
    *each, zipped = combination
    assert isinstance(zipped, tuple)
    return [*each, *zipped]


def expand(each: str) -> Iterator[list[str]]:
    """The combinations of an ``each`` expression, in order, each a list of overrides.

    The expression is checked at once; the combinations are made as they are read.
    """
    return iter(Sweep.parse(each))


def collect(all: str) -> list[str]:
    """One ``KEY=v1,v2,…`` override per token of an ``all`` expression."""
    return [collected(token) for token in parse_tokens(all, allow_pipe=False)]


def collected(token: Token) -> str:
    """A token as one override; pipes never reach here (parsing rejects them in ``all``)."""
    if isinstance(token, Pipe):
        raise TypeError("a pipe has no single collected form")
    return token.collected()


def count(each: str) -> int:
    """How many combinations ``expand(each)`` gives, without making them."""
    return Sweep.parse(each).size()
