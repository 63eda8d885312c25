"""The one error type of the sweep engine: a message tied to a place in the text."""

from __future__ import annotations


class SweepError(ValueError):
    """A sweep expression that cannot be expanded.

    ``expr`` is the whole expression as the user wrote it and ``pos`` the
    0-based index of the character the problem starts at (``len(expr)`` when
    something is missing at the end).
    """

    def __init__(self, message: str, expr: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.expr = expr
        self.pos = max(0, min(pos, len(expr)))

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type[SweepError], tuple[str, str, int]]:
        return (type(self), (self.message, self.expr, self.pos))

    def caret(self, indent: str = "  ") -> str:
        """The line of the expression holding the fault, and a caret under it."""
        start = self.expr.rfind("\n", 0, self.pos) + 1
        end = self.expr.find("\n", self.pos)
        line = self.expr[start : end if end >= 0 else len(self.expr)]
        # Tabs keep their width on the caret line so the caret stays aligned.
        pad = "".join("\t" if ch == "\t" else " " for ch in line[: self.pos - start])
        return f"{indent}{line}\n{indent}{pad}^"


def shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message, cut short: a message names a value, it does not copy it."""
    return repr(text if len(text) <= limit else text[:limit] + "…")
