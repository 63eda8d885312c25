"""Batch and run counts are arithmetic: a sweep of ten billion values is counted, not listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project

from hydraflow.config import JobSet, load


def job_set(tmp_path: Path, each: str = "", zip: str = "", all: str = "") -> JobSet:
    path = tmp_path / "hydraflow.yaml"
    path.write_text(
        f"jobs:\n  a:\n    run: x\n    sets:\n"
        f"      - each: {each!r}\n        zip: {zip!r}\n        all: {all!r}\n"
    )
    return load(path).check().job("a").sets[0]


@pytest.mark.parametrize(
    ("each", "zip", "all", "batches", "runs"),
    [
        ("x=0:10000000000", "", "", 10**10 + 1, 10**10 + 1),
        ("x=0:10000000000 y=1:3", "", "s=1:2", 3 * (10**10 + 1), 6 * (10**10 + 1)),
        ("", "a=0:10000000000 b=1:10000000001", "", 10**10 + 1, 10**10 + 1),
        # A pipe section sweeps its values inside one batch.
        ("m=a,b|lr=1:3", "", "", 2, 5),
        ("m=a,b|lr=1:3 x=0:9999", "", "", 20_000, 50_000),
        # Zipped rows run the product of their pipe sections: (a=1,2 with c=1), (b=1:3 with c=2).
        ("x=1,2", "a=1,2|b=1:3 c=1,2", "", 4, 10),
        ("", "a=1,2|b=1:3 d=1|e=1:4 c=1,2", "", 2, 2 * 1 + 3 * 4),
        ("", "", "", 1, 1),
    ],
)
def test_counts(tmp_path: Path, each: str, zip: str, all: str, batches: int, runs: int) -> None:
    counted = job_set(tmp_path, each, zip, all)
    assert (counted.batches, counted.runs) == (batches, runs)


def test_list_and_task_help_count_a_huge_sweep(project: Project) -> None:
    project.yaml("jobs:\n  big:\n    run: x\n    sets:\n      - each: x=0:10000000000\n")
    listed = project.hydraflow("list")
    assert listed.returncode == 0, listed.stderr
    assert "10000000001" in listed.stdout
    project.write("tasks.py", "from hydraflow import collection\nns = collection()\n")
    helped = project.invoke("--help", "big")
    assert helped.returncode == 0, helped.stderr
    assert "10000000001 batches, 10000000001 Hydra runs" in helped.stdout
