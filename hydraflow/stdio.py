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

    Its descriptor is taken too, so that no file opened later (the ledger) lands on 1 or
    2, where anything written to standard output or error would go into it. Where one
    was opened there already (a tasks.py that opened a log before Invoke asked for the
    jobs), the stream is a /dev/null of its own rather than that file.
    """
    for fd, (name, mode) in enumerate(_STREAMS):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:  # only if a lower one was closed again in between
                os.dup2(opened, fd)
                os.close(opened)
        if getattr(sys, name) is None:
            # It stands for the stream for the rest of the process, as sys.stdout does.
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115


def flush_output() -> None:
    """The last of the output, while a reader that has gone can still be told apart: the
    interpreter's own last flush would fail with status 120 and a message."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        reader_went_away()


def reader_went_away() -> None:
    """Whoever read the output has gone (``… | head -1``): what is still buffered goes
    nowhere, so that nothing later, the interpreter's last flush included, fails."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a stream without a descriptor
            os.dup2(devnull, stream.fileno())
    os.close(devnull)
