"""How the ledger follows batches handed to Slurm, from their exit files and run records
(in-process: no scheduler is asked while every exit file is there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hydraflow.cluster import refresh
from hydraflow.ledger import Attempt, Ledger, Runner


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))
    return Ledger(tmp_path / "ledger.db")


def add(ledger: Ledger, key: str, status: str, **fields: object) -> int:
    values = {"label": key, "argv": [], "sweep_dir": "sweep", "status": status, **fields}
    return ledger.insert("j", key, values, Runner.this())


def latest(ledger: Ledger, key: str) -> Attempt:
    return ledger.latest("j")[key]


def finish(root: Path, name: str, code: int) -> None:
    (root / "sweep").mkdir(exist_ok=True)
    (root / "sweep" / name).write_text(f"{code}\n")


def record(root: Path, number: int, status: str) -> None:
    folder = root / "sweep" / str(number)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hydraflow.run.json").write_text(json.dumps({"status": status}))


def test_exit_files_end_rows_without_asking_the_scheduler(ledger: Ledger, tmp_path: Path) -> None:
    add(ledger, "a", "queued", scheduler_id="7_0")
    finish(tmp_path, "hydraflow.exit", 3)
    assert refresh(ledger, tmp_path) == []
    row = latest(ledger, "a")
    assert (row.status, row.exit_code) == ("failed", 3)


def test_without_a_scheduler_a_row_without_exit_file_stays(ledger: Ledger, tmp_path: Path) -> None:
    add(ledger, "a", "running", scheduler_id="7_0")
    assert [a.key for a in refresh(ledger, tmp_path)] == ["a"]
    assert latest(ledger, "a").status == "running"


def test_a_lost_batch_takes_its_end_from_a_late_exit_file(ledger: Ledger, tmp_path: Path) -> None:
    add(ledger, "a", "lost", scheduler_id="7_0")
    refresh(ledger, tmp_path)
    assert latest(ledger, "a").status == "lost"
    finish(tmp_path, "hydraflow.exit", 0)
    refresh(ledger, tmp_path)
    assert latest(ledger, "a").status == "ok"


def test_reruns_that_all_succeed_complete_their_batch(ledger: Ledger, tmp_path: Path) -> None:
    add(ledger, "a", "failed", runs=2)
    add(ledger, "a:1", "queued", scheduler_id="8_0", part=[1])
    record(tmp_path, 0, "ok")
    record(tmp_path, 1, "ok")
    finish(tmp_path, "hydraflow-run1.exit", 0)
    refresh(ledger, tmp_path)
    done = latest(ledger, "a")
    assert (done.status, done.part, done.runs) == ("ok", [1], 2)
    assert "a" in ledger.succeeded("j")


def test_a_run_still_failed_keeps_its_batch_failed(ledger: Ledger, tmp_path: Path) -> None:
    """Only some of the failed runs were rerun (``--only``): the batch is not done."""
    add(ledger, "a", "failed", runs=3)
    add(ledger, "a:1", "queued", scheduler_id="8_0", part=[1])
    record(tmp_path, 0, "ok")
    record(tmp_path, 1, "ok")
    record(tmp_path, 2, "failed")
    finish(tmp_path, "hydraflow-run1.exit", 0)
    refresh(ledger, tmp_path)
    assert latest(ledger, "a:1").status == "ok"
    assert latest(ledger, "a").status == "failed"


def test_a_late_exit_file_ends_only_the_latest_attempt(ledger: Ledger, tmp_path: Path) -> None:
    old = add(ledger, "a", "lost", scheduler_id="7_0")
    add(ledger, "a", "queued", scheduler_id="9_0")
    finish(tmp_path, "hydraflow.exit", 1)
    refresh(ledger, tmp_path)
    assert latest(ledger, "a").status == "failed"
    assert next(a for a in ledger.attempts("j") if a.id == old).status == "lost"


def test_a_late_exit_file_in_its_own_folder_still_counts(ledger: Ledger, tmp_path: Path) -> None:
    """A later attempt in a fresh folder (a run without --resume) writes another file."""
    old = add(ledger, "a", "lost", scheduler_id="7_0")
    add(ledger, "a", "queued", scheduler_id="9_0", sweep_dir="elsewhere")
    finish(tmp_path, "hydraflow.exit", 0)
    refresh(ledger, tmp_path)
    assert next(a for a in ledger.attempts("j") if a.id == old).status == "ok"
