"""A helper process that outlives the runner to stop the batches it leaves behind.

Every batch of an execution carries its marker in its environment
(``HYDRAFLOW_RUN=<id>``), and so does everything it starts. The helper waits
on a pipe from the runner; if the pipe closes without the runner saying it
finished (the runner died, even by SIGKILL), the helper finds the processes
that carry the marker, stops their process groups (TERM, grace, KILL) and
exits only when they are gone: while it lives, the ledger treats the
runner's batches as still running, so none of them is started twice at once.

It costs nothing per batch: no message per start or end, and no
``preexec_fn`` (which would make every launch use ``fork`` instead of ``vfork``).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from hydraflow.ids import new_id
from hydraflow.process import GRACE_SECONDS

MARKER = "HYDRAFLOW_RUN"
_FINISHED = b"finished"
# It starts without site-packages (-S), so that it costs next to nothing while it waits;
# only when it has work to do does it load them, for psutil.
_HELPER = f"""
import sys
if sys.stdin.buffer.read() != {_FINISHED!r}:
    import site
    site.main()
    sys.path.insert(0, sys.argv[3])
    from hydraflow.process import stop_marked
    stop_marked(sys.argv[2], float(sys.argv[1]))
"""
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class Watchdog:
    def __init__(self, grace: float = GRACE_SECONDS) -> None:
        self.marker = f"{MARKER}={new_id()}"
        # Its own session: a Ctrl-C meant for the runner must not reach it.
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _HELPER, str(grace), self.marker, _PACKAGE_PARENT],
            stdin=subprocess.PIPE,
            # Holding the runner's output open would keep its readers waiting.
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def env(self) -> dict[str, str]:
        """What every batch's environment carries so that the helper can find it."""
        name, _, value = self.marker.partition("=")
        return {name: value}

    def close(self) -> None:
        """The run ended here, properly: the helper goes without stopping anything."""
        assert self._process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.write(_FINISHED)
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
