"""A run folder holds whatever the user's code left there: results read it without hanging,
without exhausting memory, and keep every run's other data when one file is bad.

Every ``hydraflow results`` here runs in a child capped at 1 GiB of address space and
120 s, so a regression fails the test instead of taking the machine down."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import Project, capped

ULID = "01JA0000000000000000000000"


def run_dir(project: Project, number: int, record: object = None, **files: str) -> Path:
    """A run folder of job ``j`` with a record (``ok`` and ``x=number`` unless given)."""
    folder = project.root / "multirun" / "j" / ULID / str(number)
    folder.mkdir(parents=True)
    if record is None:
        record = {"status": "ok", "overrides": [f"x={number}"], "value": {"loss": number / 10}}
    (folder / "hydraflow.run.json").write_text(json.dumps(record))
    for name, text in files.items():
        (folder / name.replace("__", ".").replace("x_", "x-")).write_text(text)
    return folder


def results(project: Project) -> tuple[dict[str, dict[str, object]], list[str]]:
    """Each run's row by its number, and the warnings said on stderr."""
    shown = capped(project, "results", "j", "--json")
    assert shown.returncode == 0, shown.stderr
    assert "Traceback" not in shown.stderr
    rows = {str(r["dir"]).rpartition("/")[2]: r for r in json.loads(shown.stdout)}
    warnings = [line for line in shown.stderr.splitlines() if "warning" in line]
    return rows, warnings


@pytest.fixture
def job(project: Project) -> Project:
    project.yaml("jobs:\n  j:\n    run: app\n    metrics: [m.json, metrics.json, 'x-*']\n")
    return project


# Ten levels of nine aliases of the level below: under 1 KB that means 9^10 numbers.
def _level(name: str, below: str) -> str:
    return f"{name}: &{name} {{{', '.join(f'k{n}: *{below}' for n in range(9))}}}\n"


ALIAS_BOMB = "a: &a {" + ", ".join(f"k{n}: 1" for n in range(9)) + "}\n"
ALIAS_BOMB += "".join(_level(chr(98 + i), chr(97 + i)) for i in range(9))


def test_hostile_metrics_files_are_skipped_one_line_each(job: Project) -> None:
    run_dir(job, 0, m__json='{"acc": 0.5}')  # a good neighbour in every folder
    fifo = run_dir(job, 1, m__json='{"acc": 0.5}')
    os.mkfifo(fifo / "metrics.json")
    zero = run_dir(job, 2, m__json='{"acc": 0.5}')
    (zero / "metrics.json").symlink_to("/dev/zero")
    run_dir(job, 3, m__json='{"acc": 0.5}', x_bomb__yaml=ALIAS_BOMB)
    run_dir(job, 4, m__json='{"acc": 0.5}', x_deep__json="[" * 3000 + "]" * 3000)
    run_dir(job, 5, m__json='{"acc": 0.5}', x_deep__yaml="- " * 3000 + "1\n")
    run_dir(job, 6, m__json='{"acc": 0.5}', x_bad__json='{"loss": ')
    latin = run_dir(job, 7, m__json='{"acc": 0.5}')
    (latin / "x-latin.json").write_bytes(b'{"\xe9": 1}')  # not UTF-8
    big = run_dir(job, 8, m__json='{"acc": 0.5}')
    with open(big / "x-huge.json", "wb") as handle:  # sparse: 17 MiB on paper, nothing on disk
        handle.truncate(17 * 1024 * 1024)
    rows, warnings = results(job)
    assert len(rows) == 9
    for number, row in rows.items():
        assert row["status"] == "ok"
        assert row["metrics"]["loss"] == int(number) / 10, number  # type: ignore[index]
        assert row["metrics"]["acc"] == 0.5, number  # type: ignore[index]
    reasons = {
        "1": "not a regular file",
        "2": "not a regular file",
        "3": "more than 100,000 values",
        "4": "nested too deeply",
        "6": "x-bad.json",
        "7": "x-latin.json",
        "8": "larger than 16 MiB",
    }
    for number, reason in reasons.items():
        said = [w for w in warnings if f"/{ULID}/{number}/" in w]
        assert len(said) == 1 and reason in said[0], (number, warnings)


def test_numbers_are_kept_whatever_else_a_file_holds(job: Project) -> None:
    run_dir(job, 0, m__json='{"big": ' + "7" * 5000 + ', "acc": 0.5, "": 3, "a\\nb": 4}')
    run_dir(job, 1, x_y__yaml="big: " + "7" * 5000 + "\nacc: 0.25\n")
    run_dir(job, 2, record={"status": "ok", "overrides": ["x=2"], "value": "nan"})
    run_dir(job, 3, record={"status": "ok", "overrides": ["x=3"], "value": {"loss": "nan"}})
    rows, warnings = results(job)
    assert warnings == []
    assert rows["0"]["metrics"] == {"loss": 0.0, "acc": 0.5, '""': 3, "a\nb": 4}
    assert rows["1"]["metrics"] == {"loss": 0.1, "acc": 0.25}
    # A task's bare nan and a nan in a mapping are both nan (null in strict JSON).
    assert rows["2"]["metrics"] == {"value": None} and rows["3"]["metrics"] == {"loss": None}
    plain = capped(job, "results", "j")
    assert plain.returncode == 0
    assert len(plain.stdout.splitlines()) == 1 + 4  # a key with a line break splits no row
    assert "a\\nb" in plain.stdout.splitlines()[0]


@pytest.mark.parametrize(
    "record",
    [
        {"status": "ok", "overrides": [1]},
        {"status": "ok", "overrides": [None]},
        {"status": "ok", "overrides": 5},
        {"status": 7, "overrides": []},
        {"status": "ok", "start": "yesterday"},
        [1, 2],
        "just text",
    ],
)
def test_a_record_of_the_wrong_shape_is_damaged_not_a_traceback(
    job: Project, record: object
) -> None:
    run_dir(job, 0)
    run_dir(job, 1, record=record)
    rows, warnings = results(job)
    assert rows["0"]["status"] == "ok" and rows["1"]["status"] == "unknown"
    (said,) = warnings
    assert f"/{ULID}/1/hydraflow.run.json" in said and "shows as unknown" in said


UNWRITABLE = """\
import hydra

@hydra.main(version_base=None, config_path=None, config_name=None)
def main(cfg):
    return {"loss": 1.0, "big": 10**5000, "odd": object(), "nested": {"deep": 10**5000}}

if __name__ == "__main__":
    main()
"""


def test_a_value_json_cannot_hold_still_leaves_a_record_of_success(project: Project) -> None:
    project.write("app.py", UNWRITABLE)
    project.yaml(f"jobs:\n  j:\n    run: {sys.executable} app.py\n    sets:\n      - all: +x=1,2\n")
    ran = project.hydraflow("run", "j")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    records = [
        json.loads(p.read_text()) for p in project.root.glob("multirun/j/*/*/hydraflow.run.json")
    ]
    assert len(records) == 2
    for record in records:
        assert record["status"] == "ok" and record["value"]["loss"] == 1.0
        assert record["unwritten"] == ["value.big", "value.odd", "value.nested.deep"]
    assert not list(project.root.glob("multirun/**/*.part"))
    rows, warnings = results(project)
    assert warnings == [] and {r["status"] for r in rows.values()} == {"ok"}
    assert all(r["metrics"] == {"loss": 1.0} for r in rows.values())
    resumed = project.here("run", "j", "--resume", "--dry-run")
    assert resumed.stdout.startswith("# skipped, succeeded before")
