"""Helpers for tests that drive the real programs in a temporary project."""

from __future__ import annotations

import contextlib
import gc
import io
import itertools
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

from hydraflow.sweep import SweepError, expand

# Timings on a shared 2-core machine are noise: a property test fails on what it
# finds, never on Hypothesis's default 200 ms per example (tests that bound the time
# on purpose, like the fuzz test's 2 s per call, say so themselves).
settings.register_profile("hydraflow", deadline=None)
settings.load_profile("hydraflow")

# The programs under test run as on a user's machine, where Python buffers output into
# a pipe: a PYTHONUNBUFFERED of the developer's own would hide what that changes.
os.environ.pop("PYTHONUNBUFFERED", None)

BIN = Path(sys.executable).parent
ULID = re.compile(r"multirun/(?:[\w-]+/)?[0-9A-HJKMNP-TV-Z]{26}")

# A program that records the argv it receives, one JSON line per call.
RECORDER = """\
import json, os, sys
with open(os.environ["RECORD"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def command(name: str) -> list[str]:
    """The installed console script, or the module when it is not on disk."""
    script = BIN / name
    if script.exists():
        return [str(script)]
    return (
        [sys.executable, "-m", "hydraflow"] if name == "hydraflow" else [sys.executable, "-m", name]
    )


def run(
    args: list[str], cwd: Path, record: Path | None = None, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "RECORD": str(record or cwd / "record.jsonl")}
    env.update(kwargs.pop("env", {}))  # type: ignore[arg-type]
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,  # type: ignore[call-overload]
    )


# hydraflow's own word after the sweep dir: every run records itself (hydraflow.run.json).
RECORD_WORD = "++hydra.callbacks.hydraflow_record._target_=hydraflow_record.RunRecord"


def unulid(text: str) -> str:
    return ULID.sub("multirun/ID", text)


@dataclass(frozen=True)
class Ran:
    """How a command run in this process ended, as ``subprocess.run`` would say it."""

    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def in_process(
    root: Path, env: dict[str, str]
) -> Iterator[tuple[io.TextIOWrapper, io.TextIOWrapper]]:
    """This process made to look like a command started in ``root``: its folder, its
    environment, its standard output and error (with byte buffers, as a real stream
    has), and signal handlers restored afterwards."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    saved_env = dict(os.environ)
    os.environ.update(env)
    try:
        with (
            contextlib.chdir(root),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            yield out, err
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _status(exit_: SystemExit) -> int:
    """The status a console script ends with for this SystemExit."""
    return exit_.code if isinstance(exit_.code, int) else (1 if exit_.code else 0)


def hydraflow_in(folder: Path, *args: str, env: dict[str, str] | None = None) -> Ran:
    """The ``hydraflow`` command run in this process from ``folder``, ended as its console
    script ends it (argparse's ``--help`` and ``--version`` end with SystemExit)."""
    from hydraflow import cli

    with in_process(folder, {"NO_COLOR": "1", **(env or {})}) as (out, err):
        try:
            code = cli.main(list(args))
        except SystemExit as exit_:
            code = _status(exit_)
    return Ran(code, _text(out), _text(err))


def invoke_in(folder: Path, *args: str, env: dict[str, str] | None = None) -> Ran:
    """Invoke's own program run in this process from ``folder``. Its loader puts the
    tasks.py folder on sys.path and the module in sys.modules: both are taken back."""
    from invoke.program import Program

    path, tasks = list(sys.path), sys.modules.get("tasks")
    with in_process(folder, {"NO_COLOR": "1", **(env or {})}) as (out, err):
        try:
            Program().run(["invoke", *args])
            code = 0
        except SystemExit as exit_:
            code = _status(exit_)
        finally:
            sys.path[:] = path
            if tasks is None:
                sys.modules.pop("tasks", None)
            else:
                sys.modules["tasks"] = tasks
    return Ran(code, _text(out), _text(err))


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    return stream.buffer.getvalue().decode("utf-8", "replace")  # type: ignore[attr-defined]


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "record.py").write_text(RECORDER)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def yaml(self, text: str) -> Path:
        return self.write("hydraflow.yaml", text)

    def hydraflow(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return run([*command("hydraflow"), *args], self.root, **kwargs)

    def _env(self, env: dict[str, str] | None) -> dict[str, str]:
        return {"NO_COLOR": "1", "RECORD": str(self.root / "record.jsonl"), **(env or {})}

    def here(self, *args: str, env: dict[str, str] | None = None) -> Ran:
        """The ``hydraflow`` command run in this process: for what it decides (options,
        plans, resume, messages); the real program is run by ``hydraflow``."""
        return hydraflow_in(self.root, *args, env=self._env(env))

    def invoke_here(self, *args: str, env: dict[str, str] | None = None) -> Ran:
        """Invoke's own program run in this process, on this project's tasks.py."""
        return invoke_in(self.root, *args, env=self._env(env))

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """hydraflow running in the background (to signal it, or to race it), its output
        in pipes."""
        full_env = {**os.environ, "NO_COLOR": "1", "RECORD": str(self.root / "record.jsonl")}
        return subprocess.Popen(
            [*command("hydraflow"), *args],
            cwd=self.root,
            env={**full_env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def invoke(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        cwd = kwargs.pop("cwd", self.root)
        record = self.root / "record.jsonl"
        return run([*command("invoke"), *args], cwd, record, **kwargs)  # type: ignore[arg-type]

    def records(self) -> list[list[str]]:
        path = self.root / "record.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A copy of the repository's demo: hydraflow.yaml and the examples it runs."""
    shutil.copytree(REPO / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("seed"))
    shutil.copy(REPO / "hydraflow.yaml", tmp_path)
    return tmp_path


def run_demo(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # `python` in the demo jobs must be this interpreter, as in an activated virtualenv.
    path = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    full_env = {**os.environ, "PATH": path, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [*command("hydraflow"), *args],
        cwd=root,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def hydra_runs(root: Path) -> list[tuple[str, ...]]:
    """The overrides of every Hydra run under multirun/, as Hydra recorded them."""
    found = []
    for path in root.glob("multirun/*/*/*/.hydra/overrides.yaml"):
        found.append(tuple(sorted(yaml.safe_load(path.read_text()))))
    return sorted(found)


def expected(*axes: list[str]) -> list[tuple[str, ...]]:
    return sorted(tuple(sorted(combo)) for combo in itertools.product(*axes))


def fault(expr: str, call: object = None) -> SweepError:
    """The SweepError that ``expand`` (or ``call``) raises for ``expr``."""
    with pytest.raises(SweepError) as caught:
        if call is None:
            list(itertools.islice(expand(expr), 3))
        else:
            call(expr)  # type: ignore[operator]
    assert "\n" not in str(caught.value)
    return caught.value


def cpu_seconds(work: Callable[[], object]) -> float:
    """The CPU time of ``work``: this process's and that of the processes it waited for."""

    def spent() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    gc.collect()
    gc.disable()  # a collection would charge one side for the other's garbage
    try:
        started = spent()
        work()
        return spent() - started
    finally:
        gc.enable()


def assert_linear(work: Callable[[int], object], size: int) -> None:
    """``work(size)`` costs about 8x ``work(size // 8)`` when it is linear, 64x when it is
    quadratic. Both are measured here, in CPU time, so a loaded machine slows both alike;
    no wall-clock threshold."""
    small = min(cpu_seconds(lambda: work(size // 8)) for _ in range(2))
    large = min(cpu_seconds(lambda: work(size)) for _ in range(2))
    assert large < 24 * max(small, 0.005), f"{large:.3f}s for {size}, {small:.3f}s for 1/8 of it"


def capped(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    """Run hydraflow in 1 GiB of address space: whatever grew without bound (a file's
    aliases expanded, something made per worker) fails the test with a MemoryError,
    where without the cap it would take the machine."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run(
        [*command("hydraflow"), *args],
        cwd=project.root,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=cap,
    )
