"""The standard streams at the edges of a command: closed before it started, or whose
reader went away while it ran."""

from __future__ import annotations

import contextlib
import os
import sys

_STREAMS = (("stdin", "r"), ("stdout", "w"), ("stderr", "w"))


def open_closed_streams() -> None:
    """A standard stream closed before the command started (``hydraflow run j >&-``, a
    daemon's missing descriptors) reads as /dev/null: nobody is watching, as under cron.
    Its descriptor is taken too, so that no file opened later (the ledger) lands on 1 or 2
    where anything written to standard output or error would go into it."""
    for fd, (name, mode) in enumerate(_STREAMS):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
        if getattr(sys, name) is None:
            # It stands for the stream for the rest of the process, as sys.stdout always does.
            setattr(sys, name, open(fd, mode, encoding="utf-8", closefd=False))  # noqa: SIM115


def reader_went_away() -> None:
    """Whoever read the output has gone (``… | head -1``): what is still buffered goes
    nowhere, so that nothing later, the interpreter's last flush included, fails."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a stream without a descriptor
            os.dup2(devnull, stream.fileno())
    os.close(devnull)
