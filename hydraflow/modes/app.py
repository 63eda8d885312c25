"""The Python app behind a job's batches, as the job's own interpreter loads it.

The warm process loads it once and forks a child per batch; the check before
launch (and a call job's dry run) loads it to learn what it needs. A command
that is not ``python SCRIPT …`` or ``python -m MODULE …`` has no app here.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_PYTHON = re.compile(r"(python|pypy)[0-9.]*(\.exe)?$")


@dataclass(frozen=True)
class AppSpec:
    interpreter: str
    kind: str  # script, module or call
    target: str
    prefix: int  # argv words before the batch's own: [python, script] is 2
    preload: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    checked: bool = False  # hydraflow's check composed every batch before it started
    mode_free: bool = False  # ... and none of their configs or words sets hydra.mode
    primary: str = ""  # ... with the app's hydra.main settings as it found them (JSON)

    def as_json(self) -> str:
        fields = {"kind": self.kind, "target": self.target, "preload": list(self.preload)}
        primary = json.loads(self.primary) if self.primary else None
        checks = {"checked": self.checked, "mode_free": self.mode_free, "primary": primary}
        return json.dumps({**fields, "path": list(self.path), **checks})


def call_app(function: str, root: Path, preload: Sequence[str] = ()) -> AppSpec:
    """A call job's function, imported by the interpreter running hydraflow."""
    return AppSpec(sys.executable, "call", function, 1, tuple(preload), (str(root),))


def python_app(
    command: Sequence[str],
    root: Path,
    environ: Mapping[str, str],
    preload: Sequence[str] = (),
) -> AppSpec | str:
    """The app a command runs, or why it is not one hydraflow can load."""
    words = list(command)
    found = shutil.which(words[0], path=environ.get("PATH")) if len(words) > 1 else None
    if found is None or not _PYTHON.search(Path(words[0]).name):
        return "works for `python SCRIPT …` or `python -m MODULE …`"
    if words[1] == "-m" and len(words) > 2:
        return AppSpec(found, "module", words[2], 3, tuple(preload), (str(root),))
    if words[1].startswith("-"):
        return (
            "takes `python SCRIPT …` or `python -m MODULE …`,"
            f" without interpreter options such as {words[1]!r}"
        )
    script = (root / words[1]).resolve()
    if not script.is_file():
        return f"needs the script {words[1]!r}, which is not there"
    return AppSpec(found, "script", str(script), 2, tuple(preload), (str(script.parent),))
