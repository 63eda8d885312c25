"""hydraflow's warm process: import what a job needs once, then fork a child per batch.

Started by hydraflow with the job's own interpreter as
``python hydraflow_warm.py SPEC_JSON CONTROL_FD`` (or ``--once SPEC_JSON ARGS…``
to run one batch in this process, where fork is not available). It imports
nothing but the standard library, so it runs under any interpreter that runs
the app, with or without hydraflow installed.

The spec says what a batch runs:

- ``{"kind": "script", "target": "train.py"}``: ``python train.py ARGS`` (the
  script is loaded once without its work, as ``hydraflow_app.load`` does, so its
  imports are done; each child runs it as ``__main__``);
- ``{"kind": "module", "target": "pkg.train"}``: ``python -m pkg.train ARGS``;
- ``{"kind": "call", "target": "pkg.mod.func"}``: ``func([ARGS])``.

``"preload"`` names more modules to import first, ``"path"`` folders to put
on ``sys.path``; ``"checked"`` says hydraflow's check composed every batch, so
Hydra's basic sweeper need not compose each a second time to validate it
(``hydraflow_seams``). After preloading it writes one JSON line on the control
socket: ``{"ready": true}``, or ``{"error": …}`` (the target does not import),
or ``{"unsafe": …}`` (a thread was started, so forking is not safe).

Each request on the control socket is a length-prefixed JSON message
``{"argv": […], "set": {…}, "unset": […], "cwd": …}`` (how the batch's environment
differs from the one this process started with) carrying three descriptors: the
batch's stdout and stderr pipes and a status pipe. The child leads its own
session (so its whole process tree can be signalled), takes the pipes as its
stdout and stderr and the environment as its own, and runs the batch. The
reply is the child's pid; when the child ends, its wait status (4 bytes) is
written to the status pipe, which is then closed.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import select
import signal
import socket
import struct
import sys
import threading
import traceback
from typing import Any

from hydraflow_app import HydraMain, import_what_it_imports, initialize, load
from hydraflow_seams import cache_config_files, skip_the_mode_composition, trust_the_check

_HEADER = struct.Struct("!I")
_STATUS = struct.Struct("!i")
_REAP_SECONDS = 0.05


def prepare(spec: dict[str, Any]) -> Any:
    """Import everything a batch needs, without running the app's work; return the
    function of a call job. A script guarded by ``if __name__ == "__main__":`` is run
    under another name; one without the guard would do its work as it loads, so only
    what its top level imports is imported here, and the script runs in each child."""
    function, _ = load(spec)
    if function is not None:  # a call job's function may import its app only as it runs
        import_what_it_imports(function)
    if "hydra" in sys.modules:
        _warm_hydra()
        if spec.get("checked"):
            trust_the_check()
        if spec.get("mode_free"):
            skip_the_mode_composition()
        if spec.get("primary") and cache_config_files():
            _compose_primary(spec["primary"])
    return function


def _warm_hydra() -> None:
    """What every Hydra app does first and the same way: find its plugins, and parse
    overrides (the grammar's parser builds its tables on first use)."""
    with contextlib.suppress(Exception):
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from hydra.core.plugins import Plugins

        Plugins.instance()
        OverridesParser.create().parse_overrides(["a=1,2", "+b=[1,2]", "~c", "d={e:1}"])


def _compose_primary(settings: dict[str, Any]) -> None:
    """Compose the app's primary config once, as the check found its ``hydra.main``: the
    files it reads are kept parsed (``cache_config_files``) for every child. Hydra's
    global state is left as it was; a failure only means no files are kept."""
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra

    main = HydraMain.of(settings)
    with contextlib.suppress(Exception):
        GlobalHydra.instance().clear()
        with initialize(main):
            compose(config_name=main.config_name, return_hydra_config=True)
    GlobalHydra.instance().clear()


def run_batch(spec: dict[str, Any], function: Any, argv: list[str]) -> int:
    """Run one batch in this process; return its exit status."""
    try:
        if spec["kind"] == "script":
            sys.argv = [spec["target"], *argv]
            runpy.run_path(spec["target"], run_name="__main__")
        elif spec["kind"] == "module":
            sys.argv = [spec["target"], *argv]
            runpy.run_module(spec["target"], run_name="__main__", alter_sys=True)
        else:
            function(list(argv))
        return 0
    except SystemExit as exit_:
        code = exit_.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BaseException:
        traceback.print_exc()
        return 1


def _receive(control: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    data, fds, _, _ = socket.recv_fds(control, 65536, 3)
    if not data:
        return None
    while len(data) < _HEADER.size:
        data += control.recv(65536)
    (length,) = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    while len(body) < length:
        more = control.recv(65536)
        if not more:
            return None
        body += more
    return json.loads(body), list(fds)


def _child(
    spec: dict[str, Any],
    function: Any,
    request: dict[str, Any],
    fds: list[int],
    others: list[int],
) -> None:
    """In the forked child: become the batch, then leave without running any cleanup.
    ``others`` are the status pipes of the batches still running: a copy held here
    would keep their reader from seeing the end if the warm process were killed."""
    code = 1
    try:
        os.setsid()
        _as_a_fresh_interpreter()
        signal.set_wakeup_fd(-1)
        stdout, stderr, status = fds
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        for fd in (devnull, stdout, stderr, status, *_INHERITED, *others):
            os.close(fd)
        os.chdir(request["cwd"])
        # The warm process's environment as loading left it, with the batch's own changes.
        for name in request["unset"]:
            os.environ.pop(name, None)
        os.environ.update(request["set"])
        code = run_batch(spec, function, request["argv"])
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code & 0xFF if code >= 0 else 1)


_INHERITED: list[int] = []
# What Python itself ignores at start: a fresh interpreter has these, and nothing else.
_IGNORED_AT_START = {signal.SIGPIPE, *([signal.SIGXFSZ] if hasattr(signal, "SIGXFSZ") else [])}


def _as_a_fresh_interpreter() -> None:
    """The signal mask and dispositions a batch would have in a new Python: whatever the
    app's imports blocked or caught (SIGCHLD blocked at import), and whatever this warm
    process set for itself, is undone."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_IGN if sig in _IGNORED_AT_START else signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def serve(spec: dict[str, Any], control: socket.socket) -> None:
    try:
        function = prepare(spec)
    except BaseException as error:  # the target does not import: say why, and stop
        message = f"{type(error).__name__}: {error}"
        control.sendall(json.dumps({"error": message}).encode() + b"\n")
        return
    if threading.active_count() > 1:
        others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        unsafe = {"unsafe": f"preloading started threads ({', '.join(others)})"}
        control.sendall(json.dumps(unsafe).encode() + b"\n")
        return
    control.sendall(b'{"ready": true}\n')
    # What the app's imports did to signals is not this process's to keep: its children's
    # ends must reach it whatever the app blocked (SIGCHLD blocked at import).
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    _INHERITED.extend([control.fileno(), wake_read, wake_write])
    statuses: dict[int, int] = {}
    while True:
        # Looked at again now and then even without a signal: an end is never missed.
        timeout = _REAP_SECONDS if statuses else None
        ready, _, _ = select.select([control.fileno(), wake_read], [], [], timeout)
        if wake_read in ready:
            os.read(wake_read, 512)
        while statuses:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            fd = statuses.pop(pid, None)
            if fd is not None:
                try:
                    os.write(fd, _STATUS.pack(status))
                finally:
                    os.close(fd)
        if control.fileno() in ready:
            received = _receive(control)
            if received is None:
                return  # hydraflow has gone; the watchdog looks after what is left
            request, fds = received
            for fd in fds:  # never into what a batch starts
                os.set_inheritable(fd, False)
            for stream in (sys.stdout, sys.stderr):  # nothing of ours repeated in a child
                with contextlib.suppress(Exception):
                    stream.flush()
            pid = os.fork()
            if pid == 0:
                _child(spec, function, request, fds, list(statuses.values()))
            statuses[pid] = fds[2]
            os.close(fds[0])
            os.close(fds[1])
            control.sendall(_HEADER.pack(pid))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--once"]:  # one batch here, without forking
        spec = json.loads(argv[1])
        try:
            function = prepare(spec)
        except BaseException:
            traceback.print_exc()
            return 1
        return run_batch(spec, function, argv[2:])
    if argv[:1] == ["--check"]:  # does the target import? (hydraflow run --dry-run)
        try:
            prepare(json.loads(argv[1]))
        except BaseException as error:
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
            return 2
        return 0
    spec, control_fd = json.loads(argv[0]), int(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to act on
    serve(spec, socket.socket(fileno=control_fd))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
