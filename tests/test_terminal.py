"""The live view in a real (pseudo-)terminal: progress by runs, an ETA that moves, counts
kept apart, NO_COLOR, Ctrl-C, and a failure report that reads in 60 columns."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import shlex
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Project, command

from hydraflow.analysis.formats import number
from hydraflow.events import (
    BatchFinished,
    BatchStarted,
    ExecutionStarted,
    Stopped,
    StopReason,
)
from hydraflow.plan import Batch
from hydraflow.statuses import BatchStatus

PY = shlex.quote(sys.executable)
COLOUR = re.compile(rb"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7]|38;[25])[;m]")
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")

# A stand-in for a Hydra app: announces each run as Hydra's launcher does, then works.
FAKE_HYDRA = """\
import os, sys, time
runs = [a for a in sys.argv if a.startswith("seed=")][0].split("=")[1].split(",")
for number, seed in enumerate(runs):
    print(f"[2024-01-01 00:00:00,000][HYDRA] \\t#{number} : seed={seed}", flush=True)
    time.sleep(float(os.environ.get("NAP", "0.4")))
if "model=bad" in sys.argv:
    print("Error executing job with overrides: ['model=bad']", file=sys.stderr)
    print("ValueError: the model is bad", file=sys.stderr)
    print("Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.",
          file=sys.stderr)
    sys.exit(1)
"""


def in_terminal(
    project: Project,
    args: list[str],
    env: dict[str, str] | None = None,
    columns: int = 100,
    when: Callable[[bytes], bool] | None = None,
    then: bytes = b"",
    timeout: float = 60,
) -> tuple[int, bytes]:
    """Run hydraflow on a pseudo-terminal; type ``then`` once the output satisfies ``when``."""
    full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), **(env or {})}
    for name in ("NO_COLOR", "CI"):  # as a user's terminal has them, unless a test says
        if name not in (env or {}):
            full_env.pop(name, None)
    pid, master = pty.fork()
    if pid == 0:  # the child: a session leader with the terminal as its own
        os.chdir(project.root)
        os.execve(command("hydraflow")[0], [*command("hydraflow"), *args], full_env)
    output = b""
    typed = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        if when is not None and not typed and when(output):
            os.write(master, then)
            typed = True
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    return os.waitstatus_to_exitcode(status), output


def plain(output: bytes) -> str:
    return ANSI.sub("", output.decode("utf-8", "replace")).replace("\r", "")


def fake_job(project: Project, each: str = "model=a,b", extra: str = "") -> None:
    """A program that talks as Hydra does, without being one: its runs keep no record."""
    project.write("fake.py", FAKE_HYDRA)
    project.yaml(
        f"jobs:\n  train:\n    run: {PY} fake.py\n    record: false\n{extra}    sets:\n"
        f"      - each: {each}\n        all: seed=0:2\n"
    )


def test_live_view_counts_runs_and_its_eta_moves(project: Project) -> None:
    fake_job(project)
    code, output = in_terminal(project, ["run", "train"], env={"NAP": "0.7"})
    text = plain(output)
    assert code == 0, text
    assert "train: 2 batches, 6 runs" in text  # the header
    etas = set(re.findall(r"ETA (\d[\w.]*)", text))
    assert len(etas) >= 2, text  # it moves while batches run
    assert re.search(r"\d/6 runs", text)
    assert "run 2/3" in text  # the running batch line counts its runs
    assert "train: 2 batches, 6 runs in" in text and "2 ok" in text
    assert "outputs: multirun/" in text


def test_failures_timeouts_and_skips_are_counted_apart(project: Project) -> None:
    fake_job(project, each="model=a,bad,slow")
    project.write(
        "fake.py",
        FAKE_HYDRA.replace(
            "time.sleep(float", "time.sleep(30 if 'model=slow' in sys.argv else float"
        ),
    )
    code, output = in_terminal(
        project, ["run", "train", "-k", "-j", "3", "--timeout", "3"], env={"NAP": "0.2"}
    )
    text = plain(output)
    assert code == 1, text
    assert "1 ok, 1 failed, 1 timed out" in text
    assert "exit -15" not in text and "timed out after" in text
    again = plain(in_terminal(project, ["run", "train", "--resume", "--only", "model=a,bad"])[1])
    assert "1 skipped (done before)" in again


def test_the_failure_report_names_the_cause_in_60_columns(project: Project) -> None:
    fake_job(project, each="model=bad")
    code, output = in_terminal(project, ["run", "train"], env={"NAP": "0"}, columns=60)
    text = plain(output)
    assert code == 1
    block = text[text.index("✗ model=bad") :].splitlines()
    assert block[1] == "  cause: ValueError: the model is bad"
    log = next(project.root.glob("multirun/*/*/hydraflow.log")).relative_to(project.root)
    assert f"  log:   {log}" in block  # whole, on one line, even past 60 columns
    assert "rerun: hydraflow run train --resume" in text
    assert all(len(line) <= 60 for line in block[:2])


def test_no_color_turns_off_colour_and_nothing_else(project: Project) -> None:
    fake_job(project)
    _, coloured = in_terminal(project, ["run", "train"], env={"NAP": "0.3"})
    _, uncoloured = in_terminal(project, ["run", "train"], env={"NAP": "0.3", "NO_COLOR": "1"})
    assert COLOUR.search(coloured)
    assert not COLOUR.search(uncoloured)
    # Still the live view: its panel is redrawn in place (cursor movements), with its bar.
    assert b"\x1b[2K" in uncoloured or b"\x1b[1A" in uncoloured
    assert "runs" in plain(uncoloured) and "ETA" in plain(uncoloured)


def test_ctrl_c_says_stopping_and_leaves_no_process(project: Project) -> None:
    project.write(
        "stubborn.py",
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: (time.sleep(1), sys.exit(1)))\n"
        "open(os.environ['RECORD'], 'a').write(f'{os.getpid()}\\n')\n"
        "print('working', flush=True)\n"
        "time.sleep(60)\n",
    )
    project.yaml(f"jobs:\n  j:\n    run: {PY} stubborn.py\n    sets:\n      - each: i=1:4\n")
    record = project.root / "record.jsonl"
    code, output = in_terminal(
        project,
        ["run", "j", "-j", "2"],
        env={"RECORD": str(record)},
        when=lambda out: out.count(b"working") >= 2,
        then=b"\x03",
    )
    text = plain(output)
    assert code == 130, text
    assert "stopping… (Ctrl-C again to kill now)" in text
    assert "2 interrupted" in text and "2 not started" in text
    time.sleep(0.2)
    for pid in record.read_text().split():
        assert (
            not Path(f"/proc/{pid}").exists()
            or "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
        )


@pytest.mark.parametrize("env", [{"TERM": "dumb"}, {"CI": "true"}])
def test_plain_lines_when_the_terminal_is_dumb_or_a_ci_log(
    project: Project, env: dict[str, str]
) -> None:
    fake_job(project)
    code, output = in_terminal(project, ["run", "train"], env={"NAP": "0", **env})
    text = output.decode()
    assert code == 0
    assert "hydraflow: start  #1 model=a" in text and "\x1b[" not in text


@pytest.mark.parametrize(("failed", "colour"), [(0, "32"), (1, "31")])
def test_the_bar_is_green_unless_something_failed(failed: int, colour: str) -> None:
    from rich.console import Console

    from hydraflow.display.live import LiveDisplay

    view = LiveDisplay(io.StringIO())
    view.handle(ExecutionStarted("train", 4, 4, 2, 0))
    view.live.stop()  # drawn here on demand, not by Rich's timer
    for index, status in enumerate(["ok"] * (2 - failed) + ["failed"] * failed):
        batch = Batch(index, (f"x={index}",), ("app",), (), ())
        view.handle(BatchStarted(batch, "D", ("app",), 0, 1, 100, 0.0))
        view.handle(BatchFinished(batch, "D", BatchStatus(status), 0, 0.0, 1.0, 1, None))
    out = io.StringIO()
    Console(file=out, force_terminal=True, color_system="standard", width=80).print(view)
    bar = out.getvalue().splitlines()[0]
    assert f"\x1b[{colour}m" in bar
    reds = re.findall(r"\x1b\[(?:31|91)m", bar)
    assert bool(reds) == bool(failed)  # the rest of the bar is grey


def test_after_ctrl_c_the_bar_says_stopping_and_stopped_batches_are_not_done() -> None:
    from rich.console import Console

    from hydraflow.display.live import LiveDisplay

    view = LiveDisplay(io.StringIO())
    view.handle(ExecutionStarted("train", 4, 4, 2, 0))
    view.live.stop()  # drawn here on demand, not by Rich's timer
    batches = [Batch(i, (f"x={i}",), ("app",), (), ()) for i in range(2)]
    for batch in batches:
        view.handle(BatchStarted(batch, "D", ("app",), batch.index, 1, 100 + batch.index, 0.0))
    view.handle(BatchFinished(batches[0], "D", BatchStatus.OK, 0, 0.0, 1.0, 1, None))

    def bar() -> str:
        out = io.StringIO()
        Console(file=out, width=100).print(view)
        return out.getvalue().splitlines()[0]

    assert "1/4 batches" in bar() and "ETA" in bar()
    view.handle(Stopped(StopReason.INTERRUPT))
    view.handle(BatchFinished(batches[1], "D", BatchStatus.INTERRUPTED, -2, 0.0, 1.5, 1, None))
    assert "1/4 batches" in bar() and "1/4 runs" in bar()
    assert "stopping…" in bar() and "ETA" not in bar()


def test_results_in_60_columns_keep_every_number_whole(project: Project) -> None:
    from check_apps import write_app

    write_app(project, "yaml")
    lrs = "0.123456789,0.000987654321,0.5"
    project.yaml(
        f"jobs:\n  fit:\n    run: {PY} app.py\n    add: name=a-rather-long-run-name\n"
        f"    sets:\n      - each: model=small,large optim.lr={lrs}\n"
    )
    assert project.here("run", "fit", "-j", "2").returncode == 0
    runs = json.loads(project.here("results", "fit", "--json").stdout)
    code, output = in_terminal(project, ["results", "fit", "--all-columns"], columns=60)
    text = plain(output)
    assert code == 0 and all(len(line) <= 60 for line in text.splitlines()), text
    for run in runs:  # as the screen rounds it, never cut
        assert number(run["metrics"]["loss"]) in text
        assert run["dir"] not in text and run["dir"][-4:] in text  # the folder shortened
