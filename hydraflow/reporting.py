"""What the end of an execution says, as plain text: status words, the summary line, and one
block per failed batch naming its cause. Both views render these; no Rich here."""

from __future__ import annotations

import re
import shlex
import signal
from collections.abc import Iterable, Sequence
from pathlib import Path

from hydraflow.errors import display_path
from hydraflow.events import BatchFinished, Summary
from hydraflow.statuses import BatchStatus

# Lines that say something went wrong, most telling first.
_EXCEPTION = re.compile(r"^\s*(?:[\w.]+\.)?\w*(?:Error|Exception|Exit|Interrupt)\b:?")
_TELLING = re.compile(r"Could not|Error|error:|Exception|Traceback|failed|cannot", re.IGNORECASE)
_BOILERPLATE = ("HYDRA_FULL_ERROR", "Traceback (most recent call last)")
# Hydra's lines that wrap a reason given below them, and its hints around that reason.
_WRAPPERS = ("Error merging override", "Could not override", "Could not append to config")
_HINTS = re.compile(r"^(?:To append to your config use|full_key:|reference_type=|object_type=)")


def status_text(finished: BatchFinished) -> str:
    """``ok``, ``failed (exit 2)``, ``killed by SIGKILL``, ``timed out after 1m30s``, …"""
    if finished.status in (BatchStatus.OK, BatchStatus.INTERRUPTED, BatchStatus.PRUNED):
        text = str(finished.status)
    elif finished.status == BatchStatus.TIMEOUT:
        # The limit the user set; the time the batch took to stop is shown beside it.
        text = f"timed out after {duration(finished.timeout or finished.duration)}"
    elif finished.status == BatchStatus.INCOMPLETE:
        missing = len(finished.unrecorded)
        text = f"incomplete (exit 0, {missing} of {finished.batch.runs} runs unrecorded)"
    elif finished.returncode is None:
        text = "failed to start" if finished.started == finished.ended else "failed"
    elif finished.returncode < 0:
        text = f"killed by {_signal_name(-finished.returncode)}"
    else:
        text = f"failed (exit {finished.returncode})"
    return text + (", retrying" if finished.retrying else "")


def recorded_text(status: BatchStatus, exit_code: int | None) -> str:
    """A ledger row's end in words: ``failed (exit 2)``, ``killed by SIGKILL``, ``lost``;
    a batch stopped on purpose (timeout, Ctrl-C, scancel) is named by that alone."""
    if status != BatchStatus.FAILED or exit_code is None:
        return str(status)
    if exit_code < 0:
        return f"killed by {_signal_name(-exit_code)}"
    return f"failed (exit {exit_code})"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def duration(seconds: float) -> str:
    """``0.4s``, ``12s``, ``3m05s``, ``1h02m``."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else ('es' if word.endswith('ch') else 's')}"


def summary_line(summary: Summary) -> str:
    """``train: 4 batches, 12 runs in 3.2s: 3 ok, 1 failed, 2 skipped (done before)``."""
    if summary.handler is not None:
        # The handler reports its batches itself; only its failure needs saying.
        return ""
    parts = [f"{summary.ok} ok"]
    for status, word in (
        (BatchStatus.FAILED, "failed"),
        (BatchStatus.TIMEOUT, "timed out"),
        (BatchStatus.INCOMPLETE, "incomplete"),
        (BatchStatus.PRUNED, "pruned"),
        (BatchStatus.INTERRUPTED, "interrupted"),
    ):
        if count := summary.count(status):
            parts.append(f"{count} {word}")
    if summary.skipped:
        parts.append(f"{summary.skipped} skipped (done before)")
    if summary.elsewhere:
        parts.append(f"{summary.elsewhere} skipped (running elsewhere)")
    if summary.not_started:
        parts.append(f"{summary.not_started} not started")
    size = f"{plural(summary.batches, 'batch')}, {plural(summary.runs, 'run')}"
    if summary.search:
        size = plural(summary.batches, "trial")
    # Say the execution was interrupted once: a batch stopped by it already says so.
    stopped = summary.interrupted and not summary.output_closed
    state = " (interrupted)" if stopped and not summary.count(BatchStatus.INTERRUPTED) else ""
    # After a stop the bar counted runs: the summary says how many, as the bar last did.
    done = f"; {summary.runs_done}/{summary.runs} runs done" if stopped else ""
    return f"{summary.job}: {size} in {duration(summary.ended - summary.started)}: " + (
        ", ".join(parts) + state + done
    )


def study_lines(summary: Summary) -> list[str]:
    """A search's end, a line per study: ``tune: best loss 0.0612 (trial 12), 40/40
    trials``; and why it stopped short, when the failures in a row stopped it."""
    lines = []
    for told in summary.studies:
        best = "no trial succeeded"
        if told.best is not None:
            best = f"best {told.metric} {told.best:.6g} (trial {told.best_trial})"
        lines.append(f"{told.study}: {best}, {told.finished}/{told.wanted} trials")
    stopped = summary.interrupted or summary.broken
    if summary.search and summary.not_started and not stopped:
        lines.append(
            "the search stopped: too many trials failed in a row (--max-failures); --resume goes on"
        )
    return lines


def cause_of(lines: Sequence[str]) -> str:
    """The line of a failed batch's output that says what went wrong.

    Hydra ends a failure with boilerplate (``Set the environment variable
    HYDRA_FULL_ERROR=1 …``); the useful line is the exception, or a line
    such as ``In 'config': Could not find 'model/lage'`` above it.
    """
    meaningful = [
        line.strip()
        for line in lines
        if line.strip() and not any(noise in line for noise in _BOILERPLATE)
    ]
    for pattern in (_EXCEPTION, _TELLING):
        for index in reversed(range(len(meaningful))):
            if pattern.search(meaningful[index]):
                return _with_reason(meaningful[index], meaningful[index + 1 :])
    return meaningful[-1] if meaningful else ""


def _with_reason(line: str, below: Sequence[str]) -> str:
    """``Error merging override x=ten`` says where, the line under it why: both are the
    cause (``…: Value 'ten' of type 'str' could not be converted to Integer``)."""
    if not line.startswith(_WRAPPERS):
        return line
    reason = next((text for text in below if not _HINTS.match(text)), "")
    return f"{line.rstrip('.')}: {reason}" if reason else line


def failure_block(finished: BatchFinished, rerun: str | None) -> list[str]:
    """A failed batch in a few short lines; the log path is whole on its own line.

    ``rerun`` is how to run what failed again (``… --resume``); None shows the
    batch's own command instead (there is no ledger to resume from).
    """
    took = "" if finished.status == BatchStatus.TIMEOUT else f" after {duration(finished.duration)}"
    lines = [f"✗ {finished.batch.label}: {status_text(finished)}{took}"]
    # A batch that was stopped ended for that reason, whatever its last lines say.
    cause = cause_of(finished.tail) if finished.status == BatchStatus.FAILED else ""
    if finished.status == BatchStatus.INCOMPLETE:
        numbers = ", ".join(map(str, finished.unrecorded))
        cause = f"run {numbers} left no record of success (sys.exit or os._exit in the task?)"
    if cause:
        lines.append(f"  cause: {cause}")
    lines.append(f"  log:   {log_text(finished.log_path)}")
    if rerun is None and finished.argv:
        rerun = shlex.join(finished.argv)
    if rerun:
        lines.append(f"  rerun: {rerun}")
    return lines


def log_text(path: Path | str | None) -> str:
    """Where a batch's output is; a batch that printed nothing has no log file."""
    return display_path(Path(path)) if path else "none (the batch printed nothing)"


def outputs_line(outputs: Iterable[str]) -> str:
    """Where the batches wrote: their common folder, or the folders themselves (reruns of
    several runs of one batch share its folder)."""
    dirs = list(dict.fromkeys(map(Path, outputs)))
    if not dirs:
        return ""
    parents = {d.parent for d in dirs}
    if len(dirs) > 3 and len(parents) == 1:
        # One path to resolve, not one per batch: an execution of 500 batches resolved 500.
        return f"outputs: {display_path(parents.pop())}/ ({len(dirs)} sweep folders)"
    return "outputs: " + " ".join(dict.fromkeys(map(display_path, dirs)))
