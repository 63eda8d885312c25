"""Warm starts: one process imports what a job needs, then forks a child per batch.

Each child is a batch as real as a fresh process: its own session and process
group (timeouts and Ctrl-C reach its whole tree), its output on the pool's
pipes, its environment (``CUDA_VISIBLE_DEVICES``, ``HYDRAFLOW_SLOT``) set before
the app runs, its exit status. Only the start changes: a fork instead of a new
interpreter and new imports. The warm process is ``hydraflow/_warm/hydraflow_warm.py``,
standard library only, run by the job's own interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from hydraflow.engine.starters import Child, Spawner, Starter
from hydraflow.errors import UsageError
from hydraflow.modes import AppSpec
from hydraflow.process import signal_group

WARM_SCRIPT = Path(__file__).resolve().parents[1] / "_warm" / "hydraflow_warm.py"
_HEADER = struct.Struct("!I")
_STATUS = struct.Struct("!i")


def probe_app(app: AppSpec, root: Path) -> None:
    """Whether the app loads, in its own interpreter (hydraflow itself never runs the
    job's code): a call job's ``--dry-run`` says so before anything runs."""
    result = subprocess.run(
        [app.interpreter, str(WARM_SCRIPT), "--check", app.as_json()],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["it does not import"])[-1]
        raise UsageError(f"cannot call {app.target!r}: {reason}")


class Unsafe(Exception):
    """The warm process cannot fork safely (preloading started threads), or did not load
    the app in time: batches start cold instead."""


# How long loading may take when the job sets no --timeout: a script that waits on
# something at its top level must not hold the run forever.
LOAD_SECONDS = 60.0


class WarmServer:
    """The warm process of one run; ``start`` asks it for a child per batch."""

    def __init__(
        self, spec: AppSpec, env: Mapping[str, str], cwd: Path, limit: float = LOAD_SECONDS
    ) -> None:
        self.spec = spec
        self.limit = limit
        # The environment it starts with: a batch is told only how its own differs, so what
        # the app's imports set in the warm process stays (os.environ["X"] = … at import).
        self._env = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
        ours, theirs = socket.socketpair()
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._process = subprocess.Popen(
            [spec.interpreter, str(WARM_SCRIPT), spec.as_json(), str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            start_new_session=True,  # Ctrl-C is for the runner, which stops the batches
        )
        theirs.close()
        self._control = ours
        try:
            self._handshake()
        except BaseException:  # Ctrl-C while it imports, too: no warm process left behind
            self.close()
            raise

    def _handshake(self) -> None:
        self._control.settimeout(self.limit)
        try:
            line = self._control.makefile("rb").readline()
        except TimeoutError:
            raise Unsafe(f"loading the app took longer than {self.limit:g}s") from None
        self._control.settimeout(None)
        answer = json.loads(line) if line.strip() else {}
        if answer.get("ready"):
            return
        if "unsafe" in answer:
            raise Unsafe(answer["unsafe"])
        reason = answer.get("error") or self._tail() or "it ended without saying why"
        raise UsageError(f"the warm process ({self.spec.interpreter}) could not start: {reason}")

    def _tail(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else ""

    def start(self, argv: Sequence[str], env: Mapping[bytes, bytes]) -> Child:
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        status_read, status_write = os.pipe()
        request = {
            "argv": list(argv[self.spec.prefix :]),
            "set": {
                os.fsdecode(k): os.fsdecode(v) for k, v in env.items() if self._env.get(k) != v
            },
            "unset": [os.fsdecode(k) for k in self._env if k not in env],
            "cwd": os.getcwd(),
        }
        body = json.dumps(request).encode()
        ours = (out_read, err_read, status_read)
        try:
            socket.send_fds(
                self._control,
                [_HEADER.pack(len(body)) + body],
                [out_write, err_write, status_write],
            )
            reply = self._control.recv(_HEADER.size, socket.MSG_WAITALL)
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in (out_write, err_write, status_write):
                os.close(fd)
        if len(reply) != _HEADER.size:
            for fd in ours:
                os.close(fd)
            raise OSError(f"the warm process has ended: {self._tail() or 'no reason given'}")
        (pid,) = _HEADER.unpack(reply)
        return ForkedChild(pid, out_read, err_read, status_read)

    def close(self) -> None:
        """The warm process ends once its socket closes; whatever its loading started
        (a child its top level did not wait for) is in its process group, and goes with
        it. The batches lead sessions of their own, and have ended by now."""
        self._control.close()
        # Killed before it is reaped: its pid, the group's id, cannot be taken meanwhile.
        signal_group(self._process.pid, signal.SIGKILL)
        self._process.wait()
        self._log.close()


class ForkedChild:
    """A child of the warm process: its end and exit status come through a status pipe."""

    def __init__(self, pid: int, stdout: int, stderr: int, status: int) -> None:
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self._status = status
        self._returncode: int | None = None

    def exit_fd(self) -> int | None:
        return self._status

    def poll(self) -> int | None:
        if self._returncode is None:
            data = os.read(self._status, _STATUS.size)
            # No status at all: the warm process itself was killed; so was the batch.
            status = _STATUS.unpack(data)[0] if len(data) == _STATUS.size else 9
            self._returncode = os.waitstatus_to_exitcode(status)
        return self._returncode

    def signal(self, sig: signal.Signals) -> None:
        signal_group(self.pid, sig)

    def close(self) -> None:
        for fd in (self.stdout, self.stderr, self._status):
            if fd >= 0:
                os.close(fd)
        self.stdout = self.stderr = self._status = -1


class ColdCalls(Spawner):
    """A call job without fork: each batch is a fresh interpreter that calls the function."""

    def __init__(self, spec: AppSpec) -> None:
        super().__init__()
        self.head = [sys.executable, str(WARM_SCRIPT), "--once", spec.as_json()]

    def start(self, argv: Sequence[str], env: Mapping[bytes, bytes]) -> Child:
        return super().start([*self.head, *argv[1:]], env)


def starter_for(
    spec: AppSpec | None,
    env: Mapping[str, str],
    cwd: Path,
    notice: Any,
    warm: bool = True,
    limit: float | None = None,
) -> Starter:
    """The warm process where fork is there and safe and the app loads within ``limit``
    seconds (the job's timeout, else ``LOAD_SECONDS``); otherwise a process per batch,
    with one line saying so (none when the job itself asked for no warm process)."""
    if spec is None:
        return Spawner()
    if warm and not hasattr(os, "fork"):
        notice("warm starts need fork, which this system lacks: a new process per batch")
    elif warm:
        try:
            return WarmServer(spec, env, cwd, limit or LOAD_SECONDS)
        except Unsafe as why:
            notice(f"warm starts are not safe here ({why}): a new process per batch")
    return ColdCalls(spec) if spec.kind == "call" else Spawner()
