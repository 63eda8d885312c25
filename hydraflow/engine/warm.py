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
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hydraflow.config import Config, Job
from hydraflow.engine.starters import Child, Spawner, Starter
from hydraflow.errors import ConfigError, UsageError

WARM_SCRIPT = Path(__file__).resolve().parents[1] / "_warm" / "hydraflow_warm.py"
_HEADER = struct.Struct("!I")
_STATUS = struct.Struct("!i")
_PYTHON = re.compile(r"(python|pypy)[0-9.]*(\.exe)?$")


@dataclass(frozen=True)
class WarmSpec:
    """What a job's batches run, as the warm process needs it."""

    interpreter: str
    kind: str  # script, module or call
    target: str
    prefix: int  # argv words before the batch's own: [python, script] is 2
    preload: tuple[str, ...] = ()
    path: tuple[str, ...] = ()

    def as_json(self) -> str:
        fields = {"kind": self.kind, "target": self.target, "preload": list(self.preload)}
        return json.dumps({**fields, "path": list(self.path)})


def spec_of(job: Job, config: Config, environ: Mapping[str, str]) -> WarmSpec | None:
    """What the job's batches run, as hydraflow_warm.py takes it; None for a run job that
    is not warm. A job that asks for ``warm`` but cannot have it is a mistake in the
    file, named at its ``warm:`` line, never a silent fall back."""
    root = config.root
    if job.mode == "call":  # cold or warm, a call goes through hydraflow_warm.py
        return WarmSpec(sys.executable, "call", job.command[0], 1, job.preload, (str(root),))
    if job.mode != "run" or not job.warm:
        return None

    def mistake(message: str) -> ConfigError:
        return ConfigError(f"job {job.key!r}: {message}", config.path, job.line_of("warm"))

    words = job.command
    found = shutil.which(words[0], path=environ.get("PATH")) if len(words) > 1 else None
    if found is None or not _PYTHON.search(Path(words[0]).name):
        raise mistake(
            "warm works for `python SCRIPT …` or `python -m MODULE …`;"
            f" this job runs {job.command_text!r}"
        )
    if words[1] == "-m" and len(words) > 2:
        return WarmSpec(found, "module", words[2], 3, job.preload, (str(root),))
    if words[1].startswith("-"):
        raise mistake(
            "warm takes `python SCRIPT …` or `python -m MODULE …`,"
            f" without interpreter options such as {words[1]!r}"
        )
    script = (root / words[1]).resolve()
    if not script.is_file():
        raise mistake(f"warm needs the script {words[1]!r}, which is not there")
    return WarmSpec(found, "script", str(script), 2, job.preload, (str(script.parent),))


def check_call(job: Job, root: Path) -> None:
    """``--dry-run`` of a call job still checks that the function imports (in a child
    process: hydraflow itself never runs the job's code)."""
    spec = WarmSpec(sys.executable, "call", job.command[0], 1, job.preload, (str(root),))
    result = subprocess.run(
        [sys.executable, str(WARM_SCRIPT), "--check", spec.as_json()],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["it does not import"])[-1]
        raise UsageError(f"job {job.key!r}: cannot call {job.command[0]!r}: {reason}")


class Unsafe(Exception):
    """The warm process cannot fork safely (preloading started threads)."""


class WarmServer:
    """The warm process of one run; ``start`` asks it for a child per batch."""

    def __init__(self, spec: WarmSpec, env: Mapping[str, str], cwd: Path) -> None:
        self.spec = spec
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
            self._process.kill()
            self.close()
            raise

    def _handshake(self) -> None:
        line = self._control.makefile("rb").readline()
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
            "env": {os.fsdecode(k): os.fsdecode(v) for k, v in env.items()},
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
        self._control.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
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

    def close(self) -> None:
        for fd in (self.stdout, self.stderr, self._status):
            if fd >= 0:
                os.close(fd)
        self.stdout = self.stderr = self._status = -1


class ColdCalls(Spawner):
    """A call job without fork: each batch is a fresh interpreter that calls the function."""

    def __init__(self, spec: WarmSpec) -> None:
        super().__init__()
        self.head = [sys.executable, str(WARM_SCRIPT), "--once", spec.as_json()]

    def start(self, argv: Sequence[str], env: Mapping[bytes, bytes]) -> Child:
        return super().start([*self.head, *argv[1:]], env)


def starter_for(
    spec: WarmSpec | None, env: Mapping[str, str], cwd: Path, notice: Any, warm: bool = True
) -> Starter:
    """The warm process where fork is there and safe; otherwise a process per batch, with
    one line saying so (none when the job itself asked for no warm process)."""
    if spec is None:
        return Spawner()
    if warm and not hasattr(os, "fork"):
        notice("warm starts need fork, which this system lacks: a new process per batch")
    elif warm:
        try:
            return WarmServer(spec, env, cwd)
        except Unsafe as why:
            notice(f"warm starts are not safe here ({why}): a new process per batch")
    return ColdCalls(spec) if spec.kind == "call" else Spawner()
