"""A batch's output as lines: split in linear time, bounded, and Hydra's run announcements."""

from __future__ import annotations

import re

# A longer line is passed on in pieces, so one line cannot take all the memory.
MAX_LINE = 1 << 20
# Hydra's launchers announce each run as "[…][HYDRA] \t#3 : a=1 b=2".
_HYDRA_LAUNCH = re.compile(rb"\[HYDRA\]\s+#(\d+) : ")


def hydra_run_number(line: bytes) -> int | None:
    """The run number Hydra announces in ``line`` (from 0), if it announces one."""
    if b"[HYDRA]" not in line:
        return None
    match = _HYDRA_LAUNCH.search(line)
    return int(match.group(1)) if match else None


class LineSplitter:
    """Bytes in, whole lines out, in linear time; a line over MAX_LINE is cut in pieces."""

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self.buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        scan_from = len(self.buffer)
        self.buffer += chunk
        lines: list[bytes] = []
        start = 0
        while (newline := self.buffer.find(b"\n", scan_from)) >= 0:
            lines.append(bytes(self.buffer[start:newline]))
            start = scan_from = newline + 1
        while len(self.buffer) - start >= self.limit:
            lines.append(bytes(self.buffer[start : start + self.limit]))
            start += self.limit
        del self.buffer[:start]
        return lines

    def end(self) -> list[bytes]:
        rest, self.buffer = bytes(self.buffer), bytearray()
        return [rest] if rest else []
