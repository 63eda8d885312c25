"""The pool with real child processes, where the point is the process itself: batches
that really overlap, a timeout or a signal that must reach a batch's grandchild, bytes
passed verbatim, Python's own buffering. hydraflow runs in this process
(``project.here``) unless a signal must reach a runner of its own; its batches are real.
Slots, devices, failure limits, retries and a program that cannot start are policy:
test_engine proves them in-process, exactly. A runner killed outright (SIGKILL) is
test_hardening's."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import Project, command, in_process

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

PY = shlex.quote(sys.executable)

# Records when it ran, in which slot and as which batch: a shell, so that starting it costs
# next to nothing beside the runner.
TIMED = """\
start=$(date +%s.%N)
sleep 0.4
echo "$start $(date +%s.%N) $HYDRAFLOW_SLOT $HYDRAFLOW_BATCH" >> "$RECORD"
"""

# A batch that starts a grandchild, says who both are, and waits.
SPAWN = """\
sleep 60 &
echo "$$ $!" >> "$RECORD"
wait
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def _all_gone(pids: list[int], within: float = 10.0) -> bool:
    """Whether every process has ended, waiting a little for the last to be reaped."""
    deadline = time.monotonic() + within
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _wait_for_lines(path: Path, count: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and len(_lines(path)) < count:
        time.sleep(0.02)


def test_batches_really_overlap_with_two_workers(project: Project) -> None:
    """Two workers are two processes at the same time, each in its own slot."""
    project.write("timed.sh", TIMED)
    project.yaml("jobs:\n  j:\n    run: sh timed.sh\n    sets:\n      - each: i=1:4\n")
    result = project.here("run", "j", "-j", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = _lines(project.root / "record.jsonl")
    records = sorted((line.split() for line in lines), key=lambda r: float(r[0]))
    assert len(records) == 4
    overlapping = sum(1 for a, b in itertools.pairwise(records) if float(b[0]) < float(a[1]))
    assert overlapping >= 2
    assert {r[2] for r in records} == {"0", "1"}
    assert sorted(r[3] for r in records) == ["0", "1", "2", "3"]


def test_timeout_kills_the_batch_and_its_grandchild(project: Project) -> None:
    """The timeout stops the batch's whole process group, not only its leader."""
    project.write("spawn.sh", SPAWN)
    project.yaml("jobs:\n  j:\n    run: sh spawn.sh\n")
    result = project.here("run", "j", "--timeout", "0.5")
    assert result.returncode == 1
    assert "timed out after 0.5s" in result.stdout
    ((_, grandchild),) = (line.split() for line in _lines(project.root / "record.jsonl"))
    assert _all_gone([int(grandchild)])


def _four_spawning_batches(project: Project) -> Path:
    project.write("spawn.sh", SPAWN)
    project.yaml("jobs:\n  j:\n    run: sh spawn.sh\n    sets:\n      - each: i=1:4\n")
    return project.root / "record.jsonl"


def _assert_stopped_as_an_interrupt(code: int, out: str, err: str, record: Path) -> None:
    assert code == 130, out + err
    assert "Traceback" not in err
    assert "2 interrupted, 2 not started" in out and "to go on: hydraflow run j --resume" in out
    pids = [int(pid) for line in _lines(record) for pid in line.split()]
    assert len(pids) == 4  # two batches, each with its grandchild
    assert _all_gone(pids)


def test_sigterm_stops_every_process_of_every_batch(project: Project) -> None:
    """A real runner of its own, signalled from outside as a service manager would."""
    record = _four_spawning_batches(project)
    runner = project.start("run", "j", "-j", "2")
    _wait_for_lines(record, 2)
    runner.send_signal(signal.SIGTERM)
    out, err = runner.communicate(timeout=30)
    _assert_stopped_as_an_interrupt(runner.returncode, out, err, record)


def _signal_when(record: Path, lines: int, sig: signal.Signals) -> threading.Thread:
    """Signal this process once ``record`` has ``lines`` lines (or after 30 s, so that a
    run that never gets there still ends)."""

    def send() -> None:
        _wait_for_lines(record, lines)
        os.kill(os.getpid(), sig)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    return sender


def test_ctrl_c_stops_every_process_of_every_batch(project: Project) -> None:
    """Ctrl-C reaches the runner (here, this process) and the runner its batches' groups."""
    record = _four_spawning_batches(project)
    sender = _signal_when(record, 2, signal.SIGINT)
    result = project.here("run", "j", "-j", "2")
    sender.join()
    _assert_stopped_as_an_interrupt(result.returncode, result.stdout, result.stderr, record)


def test_output_is_printed_verbatim_and_logged(project: Project) -> None:
    """Markup and bytes that are not UTF-8 reach a real stdout and the log as written."""
    project.write(
        "noisy.sh",
        """\
        printf '[/tmp/x] and [bold]not bold[/bold]\\n'
        printf 'bad utf8 \\377\\376 here\\n'
        echo "to stderr" >&2
        """,
    )
    project.yaml("jobs:\n  j:\n    run: sh noisy.sh\n    sets:\n      - each: k=a,b\n")
    result = subprocess.run(
        [*command("hydraflow"), "run", "j"],
        cwd=project.root,
        capture_output=True,
        env={**os.environ, "TERM": "dumb"},
        timeout=60,
    )
    assert result.returncode == 0
    assert b"[k=a] [/tmp/x] and [bold]not bold[/bold]\n" in result.stdout
    assert b"[k=b] bad utf8 \xff\xfe here\n" in result.stdout
    assert b"\x1b" not in result.stdout + result.stderr
    logs = sorted((project.root / "multirun").glob("*/*/hydraflow.log"))
    assert len(logs) == 2
    for log in logs:
        assert log.read_bytes().splitlines() == [
            b"[/tmp/x] and [bold]not bold[/bold]",
            b"bad utf8 \xff\xfe here",
            b"to stderr",
        ] or sorted(log.read_bytes().splitlines()) == sorted(
            [b"[/tmp/x] and [bold]not bold[/bold]", b"bad utf8 \xff\xfe here", b"to stderr"]
        )


def test_quiet_keeps_output_in_the_logs_only(project: Project) -> None:
    project.yaml("jobs:\n  j:\n    run: sh -c 'echo secret line'\n")
    result = project.here("run", "j", "--quiet")
    assert result.returncode == 0 and "secret line" not in result.stdout
    log = next((project.root / "multirun").glob("*/*/hydraflow.log"))
    assert log.read_text() == "secret line\n"


def test_interrupting_a_submit_stops_the_handler(project: Project) -> None:
    """SIGTERM while the handler runs stops its whole group and leaves no batch file."""
    project.write("handler.sh", 'echo $$ > "$RECORD"\nsleep 60\n')
    project.yaml("jobs:\n  s:\n    submit: sh handler.sh\n")
    record = project.root / "record.jsonl"
    sender = _signal_when(record, 1, signal.SIGTERM)
    result = project.here("run", "s")
    sender.join()
    assert result.returncode == 130, result.stdout + result.stderr
    assert _all_gone([int(record.read_text())])
    assert not list((project.root / ".hydraflow" / "submit").glob("*.txt"))


# Prints a line, then waits (at most 30 s) for the test to say it has seen it.
LIVE_APP = """\
import os, time

def main():
    print("first line")
    for _ in range(300):
        if os.path.exists("seen"):
            break
        time.sleep(0.1)
    print("the test saw it" if os.path.exists("seen") else "nobody saw it")

if __name__ == "__main__":
    main()
"""


class Watching(io.BytesIO):
    """Standard output that leaves the file ``seen`` once ``text`` has reached it."""

    def __init__(self, text: bytes, seen: Path) -> None:
        super().__init__()
        self.text = text
        self.seen = seen

    def write(self, data: ReadableBuffer, /) -> int:
        if self.text in bytes(data):
            self.seen.touch()
        return super().write(data)


@pytest.mark.parametrize("warm", ["false", "true"])
def test_a_python_batch_shows_each_line_when_it_prints_it(project: Project, warm: str) -> None:
    # Into a pipe, Python holds its output back until it ends: a long batch would show
    # nothing, in the view or the log, until then. The view here is this process's
    # stdout, which tells the batch when the first line has reached it.
    from hydraflow import cli

    project.write("app.py", LIVE_APP)
    project.yaml(f"jobs:\n  j:\n    run: {PY} app.py\n    warm: {warm}\n    record: false\n")
    assert "PYTHONUNBUFFERED" not in os.environ  # as on a user's machine
    shown = Watching(b"first line", project.root / "seen")
    stdout = io.TextIOWrapper(shown, encoding="utf-8", write_through=True)
    with in_process(project.root, {"NO_COLOR": "1"}), contextlib.redirect_stdout(stdout):
        code = cli.main(["run", "j"])
    lines = shown.getvalue().decode().splitlines()
    assert code == 0, lines
    assert any(line.endswith("] the test saw it") for line in lines), lines


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the mask from /proc")
def test_a_batch_starts_with_every_signal_as_its_default(project: Project) -> None:
    """Python ignores SIGPIPE for itself; a program it starts must not inherit that (a
    pipeline in a batch would run on after its reader went away), as subprocess ensures."""
    project.write("mask.sh", 'grep -E "^Sig(Ign|Blk)" /proc/self/status >> "$RECORD"\n')
    project.yaml("jobs:\n  j:\n    run: sh mask.sh\n")
    assert project.here("run", "j").returncode == 0
    masks = dict(
        line.split(":") for line in (project.root / "record.jsonl").read_text().splitlines()
    )
    standard = (1 << 31) - 1  # glibc keeps its own 32 and 33 as they are
    assert int(masks["SigIgn"], 16) & standard == 0
    assert int(masks["SigBlk"], 16) & standard == 0
