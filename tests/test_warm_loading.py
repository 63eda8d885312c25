"""Loading an app for warm starts runs none of its work, and is bounded: a script
without a ``__main__`` guard does its work once per batch, warm as cold; one that hangs
as it loads is given up after the job's --timeout, and leaves no process behind."""

from __future__ import annotations

import inspect
import json
import shlex
import sys
import time
from pathlib import Path

import pytest
from conftest import Project

PY = shlex.quote(sys.executable)

# Its top level is its work (no guard): a stamp per execution, with its argv.
UNGUARDED = """\
import json, os, sys
import stamped_helper
with open(os.environ["RECORD"], "a") as out:
    out.write(json.dumps({"who": "script", "argv": sys.argv[1:]}) + "\\n")
"""

# A module the scripts import: a stamp each time it is imported.
HELPER = """\
import json, os
with open(os.environ["RECORD"], "a") as out:
    out.write(json.dumps({"who": "helper", "pid": os.getpid()}) + "\\n")
"""

GUARDED = """\
import json, os, sys
import stamped_helper

if __name__ == "__main__":
    with open(os.environ["RECORD"], "a") as out:
        out.write(json.dumps({"who": "script", "argv": sys.argv[1:]}) + "\\n")
"""

# Waits at its top level on a child that runs for long (and notes the child's pid).
HANGS = """\
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
with open(os.environ["RECORD"], "a") as out:
    out.write(str(child.pid) + "\\n")
child.wait()
"""


def stamps(project: Project) -> list[dict[str, object]]:
    path = project.root / "record.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def jobs(script: str) -> str:
    return "jobs:\n" + "".join(
        f"  {name}:\n    run: {PY} {script}\n    warm: {warm}\n    record: false\n"
        "    sets:\n      - each: a=1:4\n"
        for name, warm in (("warm", "true"), ("cold", "false"))
    )


@pytest.mark.parametrize("warm", ["warm", "cold"])
def test_an_unguarded_script_does_its_work_once_per_batch(project: Project, warm: str) -> None:
    project.write("stamped_helper.py", HELPER)
    project.write("work.py", UNGUARDED)
    project.yaml(jobs("work.py"))
    ran = project.hydraflow("run", warm, "-j", "2")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    values = [
        word
        for s in stamps(project)
        if s["who"] == "script"
        for word in s["argv"]  # type: ignore[attr-defined]
        if word.startswith("a=")
    ]
    assert sorted(values) == ["a=1", "a=2", "a=3", "a=4"]  # none while the warm one loads


def test_a_guarded_scripts_imports_are_done_once_warm(project: Project) -> None:
    project.write("stamped_helper.py", HELPER)
    project.write("work.py", GUARDED)
    project.yaml(jobs("work.py"))
    assert project.hydraflow("run", "warm", "-j", "2").returncode == 0
    helpers = [s for s in stamps(project) if s["who"] == "helper"]
    assert len(helpers) == 1  # in the warm process; its children did not import it again
    assert len([s for s in stamps(project) if s["who"] == "script"]) == 4
    (project.root / "record.jsonl").unlink()
    assert project.hydraflow("run", "cold", "-j", "2").returncode == 0
    assert len([s for s in stamps(project) if s["who"] == "helper"]) == 4


def test_a_script_that_hangs_as_it_loads_is_bounded_and_leaves_nothing(
    project: Project,
) -> None:
    # The import a script makes must hang for loading to hang: an unguarded script's own
    # top level is not run while loading, so the module it imports is what waits.
    project.write("stamped_helper.py", HANGS)
    project.write("work.py", UNGUARDED)
    project.yaml(jobs("work.py"))
    started = time.monotonic()
    ran = project.hydraflow("run", "warm", "--timeout", "2", "-k")
    assert time.monotonic() - started < 120  # it returned (each cold batch timed out)
    assert ran.returncode == 1
    said = ran.stdout + ran.stderr
    assert "loading the app took longer than 2s" in said and "a new process per batch" in said
    assert "timed out" in said
    time.sleep(0.5)
    children = [int(line) for line in (project.root / "record.jsonl").read_text().split()]
    assert children  # the loading's child, and each cold batch's
    for pid in children:
        assert not alive(pid), pid


def alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


# Each run notes the value its config had, then changes the file for the next run.
EDITS_ITS_CONFIG = """\
import json, os
import hydra


@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg):
    with open(os.environ["RECORD"], "a") as out:
        out.write(json.dumps({"x": cfg.x}) + "\\n")
    with open(os.path.join(os.environ["ROOT"], "conf", "config.yaml"), "w") as conf:
        conf.write(f"x: {cfg.x + 1}\\n")


if __name__ == "__main__":
    main()
"""


def test_a_config_file_changed_during_a_warm_run_is_read_again(project: Project) -> None:
    """The warm process keeps the app's config files parsed for its children; a file
    edited since is read again, as a cold batch would read it."""
    project.write("app.py", EDITS_ITS_CONFIG)
    project.write("conf/config.yaml", "x: 0\n")
    project.yaml(
        f"jobs:\n  j:\n    run: {PY} app.py\n    warm: true\n    sets:\n      - each: +n=1:3\n"
    )
    ran = project.here("run", "j", env={"ROOT": str(project.root)})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert [s["x"] for s in stamps(project)] == [0, 1, 2]


def test_the_config_cache_seam_holds_on_the_hydra_installed_here() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hydraflow" / "_warm"))
    import hydraflow_seams
    from hydra._internal.core_plugins.file_config_source import FileConfigSource
    from hydra._internal.core_plugins.importlib_resources_config_source import (
        ImportlibResourcesConfigSource,
    )

    assert not hydraflow_seams.cache_config_files("1.4.0")
    for source in (FileConfigSource, ImportlibResourcesConfigSource):
        assert "def load_config(self, config_path: str) -> ConfigResult" in inspect.getsource(
            source
        )
