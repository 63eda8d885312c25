"""A helper process that outlives the runner to stop the batches it leaves behind.

The runner tells it every batch's process group as the batch starts and ends,
through a pipe. If the runner dies, even by SIGKILL, the pipe closes and the
helper stops every group still listed (TERM, grace, KILL) and waits until they
are gone before it exits: while it lives, the ledger treats the runner's
batches as still running, so none of them is started twice at once. This
costs one small process per run instead of a ``preexec_fn`` per batch, which
would make every launch use ``fork`` instead of ``vfork``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

from hydraflow.process import GRACE_SECONDS

# Started without site-packages for speed (-S): it finds hydraflow by path.
_HELPER = """
import sys
sys.path.insert(0, sys.argv[2])
from hydraflow.process import stop_groups
groups = set()
for line in sys.stdin:
    (groups.add if line[0] == "+" else groups.discard)(int(line[1:]))
stop_groups(groups, float(sys.argv[1]))
"""
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class Watchdog:
    def __init__(self, grace: float = GRACE_SECONDS) -> None:
        # Its own session: a Ctrl-C meant for the runner must not reach it.
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _HELPER, str(grace), _PACKAGE_PARENT],
            stdin=subprocess.PIPE,
            bufsize=0,
            # Holding the runner's output open would keep its readers waiting.
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self._process.pid

    def _send(self, line: str) -> None:
        assert self._process.stdin is not None
        # One unbuffered write: a short line reaches the pipe whole.
        with self._lock, contextlib.suppress(BrokenPipeError, ValueError):
            os.write(self._process.stdin.fileno(), line.encode())

    def watch(self, group: int) -> None:
        self._send(f"+{group}\n")

    def release(self, group: int) -> None:
        self._send(f"-{group}\n")

    def close(self) -> None:
        assert self._process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.close()
        self._process.wait()

    def __enter__(self) -> Watchdog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
