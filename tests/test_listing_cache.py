"""The listing lines of jobs without help are counted once per version of the file."""

from __future__ import annotations

import json
from pathlib import Path

from hydraflow.config import Config, load
from hydraflow.config.cache import CACHE, listing


def summaries(config: Config) -> dict[str, str]:
    found = listing(config)
    assert not found.problems
    return found.lines


def write(root: Path, each: str, extra: str = "") -> Path:
    path = root / "hydraflow.yaml"
    path.write_text(f"jobs:\n  t:\n    run: app{extra}\n    sets:\n      - each: {each}\n")
    return path


def test_counts_are_kept_and_follow_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "a=1:3")
    assert summaries(load(path)) == {"t": "run: app · 1 set · 3 batches"}
    kept = json.loads((tmp_path / CACHE).read_text())
    assert kept["lines"] == {"t": "run: app · 1 set · 3 batches"}
    # A kept line is used as it is: nothing is parsed again.
    kept["lines"]["t"] = "from the cache"
    (tmp_path / CACHE).write_text(json.dumps(kept))
    assert summaries(load(path)) == {"t": "from the cache"}
    write(tmp_path, "a=1:4")
    assert summaries(load(path)) == {"t": "run: app · 1 set · 4 batches"}


def test_files_with_interpolations_are_never_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "a=1:3", extra=" ${oc.env:NOTHING_HERE,x}")
    assert summaries(load(path)) == {"t": "run: app x · 1 set · 3 batches"}
    assert not (tmp_path / CACHE).exists()


def test_a_damaged_cache_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "a=1:3")
    (tmp_path / CACHE).parent.mkdir(parents=True)
    (tmp_path / CACHE).write_text("{not json")
    assert summaries(load(path)) == {"t": "run: app · 1 set · 3 batches"}


def test_a_job_that_cannot_run_gets_no_count(tmp_path: Path) -> None:
    # Counting needs only `each`; the listing checks `all` too, and keeps nothing.
    path = write(tmp_path, "a=1,2\n        all: lr=1:2:0")
    found = listing(load(path))
    assert found.lines == {}
    problem = found.problems["t"]
    assert "step cannot be zero" in str(problem) and problem.line == 6
    assert not (tmp_path / CACHE).exists()
