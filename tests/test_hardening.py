"""Regression tests for the hardening pass: no silent success, no traceback, no hang,
no batch twice. Each test names the defect it guards against.

hydraflow runs in this process (``project.here``) wherever what is proven is its own
decision; a real program only where the edge is the process itself: pipes and streams
closed around it, a signal while it loads, a runner killed outright. Batches are shell
scripts, which cost next to nothing to start.
"""

from __future__ import annotations

import os
import resource
import shlex
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import Project, assert_linear, command

from hydraflow.ledger import LEDGER, Claims, Ledger, Wanted, store
from hydraflow.ledger import claims as claims_module
from hydraflow.statuses import BatchStatus

PY = shlex.quote(sys.executable)


def ledger_rows(project: Project) -> list[dict[str, object]]:
    db = sqlite3.connect(project.root / ".hydraflow" / "ledger.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in db.execute("SELECT * FROM attempts ORDER BY id")]
    finally:
        db.close()


def start(project: Project, *args: str, **env: str) -> subprocess.Popen[str]:
    return project.start(*args, env=env)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


# -- 1. a failure inside hydraflow fails the run, in one line, with an accurate record ----------


def test_a_ledger_that_breaks_mid_run_fails_the_run(project: Project) -> None:
    project.write(
        "breaker.py",
        """\
        import sqlite3, sys
        if "i=2" in sys.argv:
            sqlite3.connect(".hydraflow/ledger.db").execute("DROP TABLE attempts")
        """,
    )
    project.yaml(f"jobs:\n  j:\n    run: {PY} breaker.py\n    sets:\n      - each: i=1:4\n")
    result = project.here("run", "j")
    assert result.returncode in (1, 2), result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "ledger" in result.stdout + result.stderr


def test_a_log_that_cannot_be_written_fails_the_run_and_is_recorded(project: Project) -> None:
    project.yaml("jobs:\n  j:\n    run: echo 1\n    sets:\n      - each: i=1:3\n")
    (project.root / "multirun").write_text("a file where the sweep folders should go")
    result = project.here("run", "j")
    assert result.returncode == 1
    assert "cannot write the log" in result.stdout and "Traceback" not in result.stderr
    assert [row["status"] for row in ledger_rows(project)] == ["failed"]


def test_an_argument_that_is_not_utf8_reaches_the_program(project: Project) -> None:
    # As Python decodes it from the command line: the byte 0xff as a lone surrogate.
    project.write("raw.sh", 'printf %s "$1" > "$RECORD"\n')
    project.yaml("jobs:\n  j:\n    run: sh raw.sh\n")
    result = project.here("run", "j", "--", os.fsdecode(b"\xff"))
    assert result.returncode == 0, result.stderr
    assert (project.root / "record.jsonl").read_bytes() == b"\xff"


def test_a_project_whose_path_is_not_utf8_runs_and_records_every_batch(tmp_path: Path) -> None:
    """Paths are bytes on POSIX: the ledger keeps such text as the bytes it was."""
    (tmp_path / os.fsdecode(b"p7_\xff\xfe")).mkdir()
    project = Project(tmp_path / os.fsdecode(b"p7_\xff\xfe"))
    project.yaml("jobs:\n  j:\n    run: echo printed\n    sets:\n      - each: i=1:3\n")
    ran = project.here("run", "j")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert [row["status"] for row in ledger_rows(project)] == ["ok"] * 3
    (attempt,) = Ledger(project.root / LEDGER).attempts("j")[:1]
    assert attempt.log_path is not None and os.fsencode(attempt.log_path).find(b"\xff\xfe") > 0
    assert Path(attempt.log_path).read_text().startswith("printed --multirun i=1 ")
    resumed = project.here("run", "j", "--resume")
    assert "3 skipped (done before)" in resumed.stdout


def test_a_nul_in_the_command_is_a_usage_error(project: Project) -> None:
    project.yaml('jobs:\n  j:\n    run: "echo a\\0b"\n')
    result = project.here("run", "j")
    assert result.returncode == 2 and "NUL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("program", ["hydraflow run", "invoke"])
def test_a_closed_pipe_downstream_ends_the_run_quietly(project: Project, program: str) -> None:
    project.write("tasks.py", "import hydraflow\nns = hydraflow.collection()\n")
    project.yaml("jobs:\n  chatty:\n    run: sh -c 'seq 1000000'\n    sets:\n      - each: i=1:3\n")
    head = shlex.join([*command(program.split()[0]), *program.split()[1:]])
    pipeline = subprocess.run(
        ["bash", "-c", f"{head} chatty | head -2; exit ${{PIPESTATUS[0]}}"],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert len(pipeline.stdout.splitlines()) == 2
    assert "Traceback" not in pipeline.stderr and "Error" not in pipeline.stderr
    assert pipeline.returncode == 141  # stopped, as the README says: never a success
    statuses = {row["status"] for row in ledger_rows(project)}
    assert "running" not in statuses and statuses <= {"interrupted", "ok"}


@pytest.mark.parametrize("closed", [">&-", "2>&-", "<&-", "<&- >&- 2>&-"])
@pytest.mark.parametrize("program", ["hydraflow run", "invoke"])
def test_streams_closed_before_the_start_are_nobody_watching(
    project: Project, program: str, closed: str
) -> None:
    # As from a daemon or `cron` without descriptors: no traceback, the work done, and the
    # ledger (which would otherwise be opened as descriptor 1 or 2) left whole. Invoke runs
    # both jobs in one call, and stops at the first that fails: `bad` runs only if `j`
    # succeeded, and the call ends as `bad` does.
    project.write("tasks.py", "import hydraflow\nns = hydraflow.collection()\n")
    project.yaml(
        f"jobs:\n  j:\n    run: sh -c 'echo {'x' * 100}'\n    sets:\n      - each: i=1:3\n"
        "  bad:\n    run: sh -c 'exit 3'\n"
    )
    head = shlex.join([*command(program.split()[0]), *program.split()[1:]])
    calls = [("j bad", 1)] if program == "invoke" else [("j", 0), ("bad", 1)]
    for jobs, code in calls:
        argv = ["sh", "-c", f"exec {head} {jobs} {closed}"]
        ended = subprocess.run(argv, cwd=project.root, timeout=60)
        assert ended.returncode == code, jobs
    rows = ledger_rows(project)
    assert [row["status"] for row in rows] == ["ok", "ok", "ok", "failed"]
    assert [p.read_text() for p in project.root.glob("multirun/j/*/hydraflow.log")] == [
        "x" * 100 + "\n"
    ] * 3


def test_a_file_that_tasks_py_opened_on_a_closed_stdout_gets_nothing(project: Project) -> None:
    # Opened before hydraflow could take descriptor 1, the log is not the listing's place.
    project.write(
        "tasks.py", "import hydraflow\nlog = open('tasks.log', 'w')\nns = hydraflow.collection()\n"
    )
    project.yaml("jobs:\n  j:\n    run: 'true'\n")
    invoke = shlex.join(command("invoke"))
    ended = subprocess.run(["sh", "-c", f"exec {invoke} --list >&-"], cwd=project.root, timeout=60)
    assert ended.returncode == 0
    assert (project.root / "tasks.log").read_text() == ""


# -- 2. a batch ends when its process ends -------------------------------------------------------


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """A run in this process that hangs fails the test, as a subprocess's timeout would;
    the pool then kills what it was running."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_batch_that_closes_its_output_is_still_timed(project: Project) -> None:
    # It sleeps past the test's own time limit: a run that waited for it fails the test.
    project.yaml("jobs:\n  j:\n    run: sh -c 'exec >&- 2>&-; sleep 600'\n")
    with time_limit(60):
        result = project.here("run", "j", "--timeout", "0.5")
    assert result.returncode == 1 and "timed out" in result.stdout


def test_a_leftover_child_holding_the_pipe_does_not_hold_the_run(project: Project) -> None:
    # The leftover outlives the test's own time limit: a run that waited for it fails.
    project.yaml("jobs:\n  j:\n    run: sh -c 'sleep 600 & echo started'\n")
    with time_limit(60):
        result = project.here("run", "j")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "started" in result.stdout


@contextmanager
def address_space_capped(extra: int) -> Iterator[None]:
    """This process allowed ``extra`` bytes of address space beyond what it has now: what
    grows without bound fails with a MemoryError instead of taking the machine."""
    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def test_more_workers_than_batches_start_only_what_is_needed(project: Project) -> None:
    project.yaml("jobs:\n  j:\n    run: 'true'\n    sets:\n      - each: i=1:3\n")
    # Anything made per worker, 10^8 times, would not fit: not in the cap (a list of 10^8
    # would take 800 MB), nor in what Python allocated meanwhile.
    tracemalloc.start()
    try:
        with address_space_capped(1 << 30):
            result = project.here("run", "j", "-j", "100000000")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("start ") == 3
    assert peak < 64 << 20


def test_a_huge_line_is_read_in_linear_time(project: Project) -> None:
    def read_a_line(size: int) -> None:
        project.write("long.sh", f"head -c {size} /dev/zero | tr '\\0' x\n")
        project.yaml("jobs:\n  j:\n    run: sh long.sh\n")
        result = project.here("run", "j", "--quiet", "--no-ledger")
        assert result.returncode == 0, result.stdout
        logs = (project.root / "multirun").glob("*/*/hydraflow.log")
        assert max(log.stat().st_size for log in logs) >= size

    assert_linear(read_a_line, 64 << 20)


# -- 3. never the same batch twice at once ------------------------------------------------------

# Notes "<kind> <i> <pid> <its sleep's pid> <time>"; on TERM, takes half a second to stop.
# It prints nothing: once its runner is killed, a write to its output would end it by SIGPIPE
# (as it ends any program whose reader has gone) before it could note how it stopped.
SLOW = """\
exec 2>/dev/null
for word in "$@"; do case $word in i=*) i=${word#i=} ;; esac; done
note() { echo "$1 $i $$ $2 $(date +%s.%N)" >> "$RECORD"; }
trap 'sleep 0.5; note stopped -; exit 1' TERM
sleep "${NAP:-30}" &
note start $!
wait $!
note end -
"""


def test_a_killed_runner_is_stopped_by_its_watchdog_and_resumed_after_it(
    project: Project,
) -> None:
    """SIGKILL leaves nothing of the runner to clean up: its watchdog stops every process
    of every batch. A resume started right away waits for that, rather than running a
    batch beside its old self."""
    project.write("slow.sh", SLOW)
    project.yaml("jobs:\n  j:\n    run: sh slow.sh\n    sets:\n      - each: i=1:2\n")
    runner = start(project, "run", "j", "-j", "2")
    record = project.root / "record.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        not record.exists() or len(record.read_text().splitlines()) < 2
    ):
        time.sleep(0.02)
    runner.kill()
    runner.wait()
    resumed = project.here("run", "j", "--resume", "-j", "2", env={"NAP": "0"})
    assert runner.returncode == -signal.SIGKILL
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    notes = [line.split() for line in record.read_text().splitlines()]
    first = notes[:2]
    assert [n[0] for n in first] == ["start", "start"]
    first_pids = {n[2] for n in first}
    old_ends = [float(n[4]) for n in notes if n[2] in first_pids and n[0] == "stopped"]
    new_starts = [float(n[4]) for n in notes if n[2] not in first_pids and n[0] == "start"]
    assert len(old_ends) == 2 and len(new_starts) == 2, (notes, resumed.stdout)
    assert min(new_starts) >= max(old_ends)
    every_process = [int(pid) for n in first for pid in (n[2], n[3])]
    assert not any(_alive(pid) for pid in every_process)


def _runner(path: Path, keys: list[str], together: threading.Barrier) -> BaseException | None:
    """What a runner does with the ledger: open it, then claim each batch and write its end,
    a transaction each, both runners starting each step at once; what went wrong, if
    anything."""
    try:
        together.wait()
        claims = Claims(Ledger(path), "j", resume=True)
        try:
            together.wait()  # the one that lost the race to make the ledger has waited
            for key in keys:
                fields = {"label": key, "argv": [], "sweep_dir": "x", "runs": 1}
                (claimed,) = claims.claim([Wanted(key, fields)])
                ended = {"status": BatchStatus.OK, "exit_code": 0, "end": time.time()}
                claims.end(claimed.row, ended, now=True)  # type: ignore[union-attr]
        finally:
            claims.close()
    except BaseException as error:
        together.abort()  # the other runner does not wait for this one any more
        return error
    return None


def test_two_runners_on_a_new_project_both_work(tmp_path: Path) -> None:
    """Two runners open a ledger that neither has made yet, at the same moment: the second
    waits for the first to make it (WAL mode, the table) rather than failing. Run many
    times over, each runner a thread with its own connection, which SQLite locks as it
    would two processes; two real runners on a new project are test_ledger's
    test_two_runners_share_the_work."""
    for attempt in range(30):
        path = tmp_path / str(attempt) / LEDGER
        together = threading.Barrier(2, timeout=60)
        with ThreadPoolExecutor(2) as pool:
            keys = [[f"{runner}{i}" for i in range(4)] for runner in "ab"]
            outcomes = list(pool.map(_runner, [path] * 2, keys, [together] * 2))
        assert outcomes == [None, None]
        ledger = Ledger(path)
        try:
            assert sorted(a.status for a in ledger.attempts("j")) == [BatchStatus.OK] * 8
        finally:
            ledger.close()


LOCKER = """\
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # until the test lets go
db.execute("COMMIT")
"""


def test_a_ledger_locked_for_a_while_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's end that finds the ledger locked by another process for longer than
    SQLite's own busy timeout is written once the lock goes, not lost and not a failure.
    SQLite's wait is made short, and the other process lets go only once the recorder
    has had to pause between two tries: no clock decides the outcome."""
    monkeypatch.setattr(store, "BUSY_SECONDS", 0.05)
    path = tmp_path / LEDGER
    claims = Claims(Ledger(path), "j", resume=False)
    fields = {"label": "i=1", "argv": [], "sweep_dir": "x", "runs": 1}
    (claimed,) = claims.claim([Wanted("k", fields)])
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdin is not None and locker.stdout is not None
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        """The recorder waits between two tries: the other process lets go meanwhile."""
        pauses.append(seconds)
        locker.stdin.close()  # type: ignore[union-attr]
        locker.wait(timeout=30)

    try:
        assert locker.stdout.readline() == "locked\n"
        monkeypatch.setattr(
            claims_module, "time", SimpleNamespace(monotonic=time.monotonic, sleep=pause)
        )
        ended = {"status": BatchStatus.OK, "exit_code": 0, "end": time.time()}
        claims.end(claimed.row, ended, now=True)  # type: ignore[union-attr]
    finally:
        locker.kill()
        locker.wait()
        claims.close()
    assert pauses  # the first try found the ledger locked, past SQLite's own wait
    ledger = Ledger(path)
    try:
        assert [a.status for a in ledger.attempts("j")] == [BatchStatus.OK]
    finally:
        ledger.close()


# -- 5. also ---------------------------------------------------------------------------------


def test_a_submit_value_with_a_line_break_is_refused_up_front(project: Project) -> None:
    project.yaml("jobs:\n  s:\n    submit: cat\n    sets:\n      - each: \"msg='a\\nb',c\"\n")
    for args in (("run", "s"), ("run", "s", "--dry-run")):
        result = project.here(*args)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "line break" in result.stderr and "Traceback" not in result.stderr


def test_sigterm_while_loading_is_an_interrupt(project: Project) -> None:
    jobs = "".join(
        f"  j{i}:\n    run: 'true'\n    sets:\n      - each: a=1:9 b=(x,y)_(1,2)\n"
        for i in range(20000)
    )
    project.yaml("jobs:\n" + jobs)
    runner = start(project, "list")
    time.sleep(0.4)
    runner.send_signal(signal.SIGTERM)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode in (0, 130), err
    assert "Traceback" not in err


def test_status_escapes_control_characters_of_labels(project: Project) -> None:
    project.yaml("jobs:\n  j:\n    run: sh -c 'exit 1'\n    sets:\n      - each: \"x=\\e\\a\"\n")
    project.here("run", "j")
    shown = project.here("status", "--failed")
    assert shown.returncode == 0
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "x=\\x1b\\x07" in shown.stdout


def test_a_silent_batch_has_no_log_and_every_report_says_so(project: Project) -> None:
    project.write("quiet.sh", 'case "$*" in *code=3*) exit 3 ;; esac\n')
    project.yaml("jobs:\n  j:\n    run: sh quiet.sh\n    sets:\n      - each: code=0,3\n")
    result = project.here("run", "j", "--keep-going")
    assert result.returncode == 1
    assert not list(project.root.glob("multirun/*/*/hydraflow.log"))
    assert "log:   none (the batch printed nothing)" in result.stdout
    failed = project.here("status", "--failed")
    assert "log: none (the batch printed nothing)" in failed.stdout
    assert [row["log_path"] for row in ledger_rows(project)] == [None, None]


def test_a_batch_that_prints_has_its_log_named_everywhere(project: Project) -> None:
    project.yaml("jobs:\n  j:\n    run: sh -c 'echo hello; exit 2'\n")
    result = project.here("run", "j")
    log = next(project.root.glob("multirun/*/*/hydraflow.log"))
    assert log.read_text() == "hello\n"
    relative = str(log.relative_to(project.root))
    assert f"log:   {relative}" in result.stdout
    assert f"log: {relative}" in project.here("status", "--failed").stdout


@pytest.mark.parametrize(
    "text", ["attempt to write a readonly database", "database or disk is full"]
)
def test_a_ledger_that_cannot_be_written_says_why(text: str) -> None:
    from hydraflow.ledger import explain

    message = explain(Path("x.db"), sqlite3.OperationalError(text))
    assert "move it aside" not in message


def _full_disk_at(size: int) -> Callable[[], None]:
    """A child whose files cannot grow past ``size`` bytes: writes fail as on a full disk
    (Python ignores SIGXFSZ, so a write past the limit is an error, as ENOSPC is)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


@pytest.mark.parametrize(
    ("size", "when"), [(0, "before the start"), (512 * 1024, "during the run")]
)
def test_a_full_disk_is_one_line_and_status_1(project: Project, size: int, when: str) -> None:
    project.write(
        "loud.py",
        "import sys\nsys.stdout.write(('y' * 1023 + '\\n') * 2048)\n",  # 2 MiB to its log
    )
    project.yaml(f"jobs:\n  j:\n    run: {PY} loud.py\n    sets:\n      - each: i=1:3\n")
    ran = subprocess.run(
        [*command("hydraflow"), "run", "j"],
        cwd=project.root,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_full_disk_at(size),
    )
    assert ran.returncode == 1, (when, ran.stdout[-500:], ran.stderr[-2000:])
    assert "Traceback" not in ran.stdout + ran.stderr
    said = [line for line in (ran.stdout + ran.stderr).splitlines() if line.startswith("error:")]
    assert len(said) == 1, said
    if when == "during the run":
        assert "cannot write the log" in said[0] and "File too large" in said[0]
        statuses = [row["status"] for row in ledger_rows(project)]
        assert statuses == ["failed"]  # recorded; the other batches never started
    else:
        assert "ledger" in said[0]
