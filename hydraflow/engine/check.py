"""The check before launch: every distinct batch of a job composed against the app's own
config, by ``_warm/hydraflow_probe.py`` in the job's interpreter, before anything starts.

What the probe finds comes back as problems (a word, its key, Hydra's reason in plain
words, how many batches share it); each is said once, with where its word comes from.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydraflow.errors import UsageError
from hydraflow.modes import AppSpec
from hydraflow.process import signal_group

PROBE = Path(__file__).resolve().parents[1] / "_warm" / "hydraflow_probe.py"
# Loading an app and composing its configs takes seconds at most; a probe past this is stuck.
PROBE_SECONDS = 60.0
_WORDS_SHOWN = 3  # of the words that share a problem; the rest are counted


@dataclass(frozen=True)
class Problem:
    words: tuple[str, ...]
    key: str
    message: str
    batches: int


@dataclass(frozen=True)
class Checked:
    """What the probe found: whether the command is a Hydra app it could read, how many
    configs it composed, and the problems."""

    hydra: bool
    configs: int = 0
    problems: tuple[Problem, ...] = field(default=())
    sets_mode: bool = True  # a config or word sets hydra.mode (unknown: assume it does)
    primary: str = ""  # the app's hydra.main settings as the check composed with them, JSON


def probe(
    app: AppSpec,
    batches: Sequence[Sequence[str]],
    words: Sequence[str],
    root: Path,
    timeout: float = PROBE_SECONDS,
) -> Checked:
    """Run the probe in the app's interpreter on the batches' overrides and the words the
    command gives the app before them; one that cannot say (the app does not load, or
    loading hangs) checks nothing: the run says what is wrong when it gets there."""
    request = json.dumps(
        {
            "spec": json.loads(app.as_json()),
            "batches": [list(b) for b in batches],
            "words": list(words),
        }
    )
    process = subprocess.Popen(
        [app.interpreter, str(PROBE)],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # what loading the app prints is no message of ours
        start_new_session=True,  # whatever it starts goes with it
    )
    try:
        out, _ = process.communicate(request.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        signal_group(process.pid, signal.SIGKILL)
        process.wait()
        return Checked(hydra=False)
    finally:
        if process.poll() is None:
            signal_group(process.pid, signal.SIGKILL)
            process.wait()
    try:
        found: dict[str, Any] = json.loads(out.decode("utf-8", "replace") or "{}")
    except ValueError:
        return Checked(hydra=False)
    if not found.get("hydra"):
        return Checked(hydra=False)
    problems = tuple(
        Problem(tuple(map(str, p["words"])), str(p["key"]), str(p["message"]), int(p["batches"]))
        for p in found.get("problems", [])
    )
    sets_mode = bool(found.get("sets_mode", True))
    primary = json.dumps(found["main"]) if isinstance(found.get("main"), dict) else ""
    return Checked(True, int(found.get("configs", 0)), problems, sets_mode, primary)


def report(job: str, problems: Sequence[Problem], where: dict[str, str]) -> UsageError:
    """Every problem in a line of its own, with where its word comes from."""
    lines = [
        f"the check of job {job!r} found {len(problems)} problem"
        f"{'s' if len(problems) != 1 else ''} in its batches' config; nothing was started:"
    ]
    for problem in problems:
        count = f" [{problem.batches} batches]" if problem.batches > 1 else ""
        words = ", ".join(problem.words[:_WORDS_SHOWN])
        if len(problem.words) > _WORDS_SHOWN:
            words += f", … ({len(problem.words) - _WORDS_SHOWN} more)"
        lines.append(f"  {words} ({where[problem.key]}): {problem.message}{count}")
    lines.append("  (--no-check, or check: false on the job, runs without this check)")
    return UsageError("\n".join(lines))
