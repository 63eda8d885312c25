"""hydraflow results with a real Hydra app: per-run records, metrics from the returned
value and from files, runs found from the ledger and from the folder, every format."""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Project

from hydraflow.analysis.reading import same_values

PY = shlex.quote(sys.executable)

APP = """\
import json, os, time
import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig):
    time.sleep(600 if cfg.seed == cfg.hang_at else cfg.nap)
    if cfg.seed == cfg.fail_at:
        raise RuntimeError(f"seed {cfg.seed} is unlucky")
    if cfg.write:
        folder = HydraConfig.get().runtime.output_dir
        with open(os.path.join(folder, "scores.yaml"), "w") as f:
            f.write(f"score: {cfg.seed + 0.5}\\ndetail:\\n  name: not a number\\n  depth: 2\\n")
    return {"score": cfg.seed * 10 + cfg.x, "nested": {"a": 1.5, "flag": True}}

if __name__ == "__main__":
    main()
"""


def with_app(project: Project) -> Project:
    project.write("app.py", APP)
    project.write(
        "conf/config.yaml", "x: 0\nseed: 0\nfail_at: -1\nhang_at: -1\nnap: 0\nwrite: false\n"
    )
    return project


@pytest.fixture
def app(project: Project) -> Project:
    return with_app(project)


def setup(project: Project, extra: str = "", add: str = "fail_at=2") -> None:
    project.yaml(
        f"jobs:\n  j:\n    run: {PY} app.py\n    add: {add}\n{extra}"
        "    sets:\n      - each: x=1,2\n        all: seed=0:3\n"
    )


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """One real execution of the app, 8 runs of which 2 fail, that tests only read."""
    project = with_app(Project(tmp_path_factory.mktemp("ran")))
    setup(project)
    project.write("tasks.py", "from hydraflow import collection\nns = collection()\n")
    done = project.hydraflow("run", "j", "-k")
    assert done.returncode == 1, done.stdout + done.stderr  # Hydra reports the failed run
    return project


def results(project: Project, *args: str) -> list[dict[str, object]]:
    shown = project.here("results", *args, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def test_a_failing_run_among_four_and_returned_dicts(ran: Project) -> None:
    app = ran
    rows = results(app, "j")
    assert len(rows) == 8
    assert {(r["params"]["x"], r["params"]["seed"], r["status"]) for r in rows} == {
        (x, s, "failed" if s == 2 else "ok") for x in (1, 2) for s in (0, 1, 2, 3)
    }
    for row in rows:
        # every key of the config Hydra composed, typed as the config has it
        assert row["params"] == {  # type: ignore[index]
            **{"x": row["params"]["x"], "seed": row["params"]["seed"]},  # type: ignore[index]
            **{"fail_at": 2, "hang_at": -1, "nap": 0, "write": False},
        }
        if row["status"] == "ok":
            x, seed = row["params"]["x"], row["params"]["seed"]  # type: ignore[index]
            assert row["metrics"] == {"score": seed * 10 + x, "nested.a": 1.5}
            assert isinstance(row["duration"], float)
        else:
            assert row["metrics"] == {}
        assert Path(app.root, str(row["dir"]), "hydraflow.run.json").is_file()
    assert str(rows[0]["dir"]).startswith("multirun/j/")


def test_metrics_files_and_the_metrics_key(app: Project) -> None:
    setup(app, extra="    metrics: [scores.yaml, 'nothing-*.json']\n", add="write=true")
    assert app.hydraflow("run", "j").returncode == 0
    row = results(app, "j", "--where", "x=1", "--where", "seed=3")[0]
    assert row["metrics"] == {"score": 3.5, "nested.a": 1.5, "detail.depth": 2}  # files win


def test_runs_are_found_without_the_ledger_and_in_older_folders(app: Project) -> None:
    setup(app, add="fail_at=-1")
    assert app.hydraflow("run", "j", "--no-ledger").returncode == 0
    assert len(results(app, "j")) == 8
    # An older layout: multirun/<id>, found through its multirun.yaml.
    first = sorted((app.root / "multirun" / "j").iterdir())[0]
    shutil.move(first, app.root / "multirun" / first.name)
    moved = results(app, "j")
    assert len(moved) == 8
    assert sum(str(r["dir"]).startswith(f"multirun/{first.name}/") for r in moved) == 4


def stopped_at_run_1(app: Project) -> None:
    """Run job ``j`` (its run 1 hangs) and stop it with SIGTERM once run 1 has begun."""
    runner = app.start("run", "j")
    deadline = time.monotonic() + 60
    while not list(app.root.glob("multirun/j/*/1/.hydra/overrides.yaml")):
        assert time.monotonic() < deadline and runner.poll() is None
        time.sleep(0.05)
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=60) == 130


def test_runs_that_never_started_are_not_run(app: Project) -> None:
    app.yaml(
        f"jobs:\n  j:\n    run: {PY} app.py\n    add: hang_at=1 +flag=true\n"
        "    sets:\n      - each: x=1\n        all: seed=0:3\n"
    )
    stopped_at_run_1(app)
    rows = results(app, "j")
    status = {r["params"]["seed"]: r["status"] for r in rows}  # type: ignore[index]
    assert status == {0: "ok", 1: "interrupted", 2: "not run", 3: "not run"}
    # The runs that never ran have their values typed as Hydra reads the words.
    assert [r["params"]["flag"] for r in rows] == [True] * 4  # type: ignore[index]


def test_runs_of_a_killed_runner_are_lost_as_status_says(app: Project) -> None:
    app.yaml(
        f"jobs:\n  j:\n    run: {PY} app.py\n    add: hang_at=1\n"
        "    sets:\n      - each: x=1\n        all: seed=0:3\n"
    )
    runner = app.start("run", "j")
    deadline = time.monotonic() + 60
    while not list(app.root.glob("multirun/j/*/1/.hydra/overrides.yaml")):
        assert time.monotonic() < deadline and runner.poll() is None
        time.sleep(0.1)
    runner.kill()
    runner.wait()

    def counts() -> dict[str, int]:
        return dict(json.loads(app.hydraflow("status", "--json").stdout)["jobs"][0]["counts"])

    while counts().get("lost") != 1:  # its watchdog stops the batch, then ends
        assert time.monotonic() < deadline
        time.sleep(0.2)
    rows = {r["params"]["seed"]: r["status"] for r in results(app, "j")}  # type: ignore[index]
    assert rows == {0: "ok", 1: "lost", 2: "not run", 3: "not run"}


def test_a_run_stopped_before_hydra_wrote_its_overrides_is_known_by_its_number(
    app: Project,
) -> None:
    """Hydra makes a run's folder, then writes config.yaml, hydra.yaml and overrides.yaml:
    a batch stopped in between leaves a run folder that names no parameters."""
    app.yaml(
        f"jobs:\n  j:\n    run: {PY} app.py\n    sets:\n      - each: x=1\n        all: seed=0:3\n"
    )
    assert app.hydraflow("run", "j").returncode == 0
    cut = next(app.root.glob("multirun/j/*/2"))
    (cut / "hydraflow.run.json").unlink()
    (cut / ".hydra" / "overrides.yaml").unlink()
    rows = {str(r["dir"]).rpartition("/")[2]: r["params"] for r in results(app, "j")}
    config = {"fail_at": -1, "hang_at": -1, "nap": 0, "write": False}
    assert rows == {str(n): {"x": 1, "seed": n, **config} for n in range(4)}


def test_si_values_match_their_records_so_no_run_is_counted_twice(app: Project) -> None:
    """Hydra records ``+y=1e-3`` as it was written; a failed batch's rows must still pair
    each planned run with its record, whatever the spelling."""
    app.yaml(
        f"jobs:\n  j:\n    run: {PY} app.py\n    add: fail_at=1\n"
        "    sets:\n      - each: x=1\n        all: +y/m=1,2 seed=0:1\n"
    )
    assert app.hydraflow("run", "j").returncode == 1
    rows = results(app, "j")
    assert len(rows) == 4, rows
    assert sorted(str(r["status"]) for r in rows) == ["failed", "failed", "ok", "ok"]
    assert same_values({"y": "1e-3"}) == same_values({"y": "0.001"})
    assert same_values({"f": "True"}) == same_values({"f": "true"})


def test_without_records_a_stopped_batch_vouches_for_none_of_its_runs(app: Project) -> None:
    """With records its run dirs would tell finished runs from the one cut short; without,
    they cannot, so they are ``unknown`` rather than all ``interrupted``."""
    app.yaml(
        f"jobs:\n  j:\n    run: {PY} app.py\n    add: hang_at=1\n    record: false\n"
        "    sets:\n      - each: x=1\n        all: seed=0:3\n"
    )
    stopped_at_run_1(app)
    status = {r["params"]["seed"]: r["status"] for r in results(app, "j")}  # type: ignore[index]
    assert status == {0: "unknown", 1: "unknown", 2: "not run", 3: "not run"}


def test_every_format_reads_back(ran: Project) -> None:
    app = ran
    as_csv = list(csv.DictReader(io.StringIO(app.here("results", "j", "--csv").stdout)))
    assert len(as_csv) == 8
    assert list(as_csv[0]) == [
        "status", "x", "seed", "score", "nested.a", "started", "duration", "dir"
    ]  # fmt: skip
    markdown = app.here("results", "j", "--md").stdout.splitlines()
    assert markdown[0].startswith("| status | x | seed |") and len(markdown) == 10
    cells = [line.strip("|").split("|") for line in markdown[2:]]
    assert {c[0].strip() for c in cells} == {"ok", "failed"}
    plain = app.here("results", "j").stdout.splitlines()
    assert plain[0].split()[:3] == ["status", "x", "seed"] and len(plain) == 9
    grouped = json.loads(app.here("results", "j", "--group-by", "x", "--json").stdout)
    spread = pytest.approx(15.275, abs=1e-3)  # seeds 0, 1 and 3: the ok runs of each group
    assert grouped == [
        {"params": {"x": 1}, "count": 4, "ok": 3,
         "metrics": {"score": {"mean": pytest.approx(43 / 3), "std": spread},
                     "nested.a": {"mean": 1.5, "std": 0.0}}},
        {"params": {"x": 2}, "count": 4, "ok": 3,
         "metrics": {"score": {"mean": pytest.approx(46 / 3), "std": spread},
                     "nested.a": {"mean": 1.5, "std": 0.0}}},
    ]  # fmt: skip
    grouped_csv = list(csv.reader(io.StringIO(app.here("results", "j", "-g", "x", "--csv").stdout)))
    assert grouped_csv[0] == [
        "x", "count", "ok", "score.mean", "score.std", "nested.a.mean", "nested.a.std"
    ]  # fmt: skip
    assert grouped_csv[1][1:3] == ["4", "3"]
    mean, spread = map(float, grouped_csv[1][3:5])  # every digit: 14.333333…
    assert mean == 43 / 3 and spread == pytest.approx(15.275252316519467, rel=1e-15)


def test_where_sort_top_and_mistakes(ran: Project) -> None:
    app = ran
    top = results(app, "j", "--where", "status=ok", "--sort", "score", "--reverse", "--top", "2")
    assert [r["metrics"]["score"] for r in top] == [32, 31]  # type: ignore[index]
    numbers = results(app, "j", "--where", "status=ok", "--sort", "seed")
    assert [r["params"]["seed"] for r in numbers][:4] == [0, 0, 1, 1]  # type: ignore[index]
    typo = app.here("results", "j", "--sort", "scor")
    assert typo.returncode == 2 and "did you mean 'score'" in typo.stderr
    job = app.here("results", "jo")
    assert job.returncode == 2 and "did you mean 'j'" in job.stderr


def test_the_python_api_gives_the_same_rows(ran: Project) -> None:
    app = ran
    import hydraflow

    runs = hydraflow.results("j", file=app.root / "hydraflow.yaml")
    assert [r.as_dict() for r in runs] == results(app, "j")
    again = hydraflow.results("j", file=app.root / "hydraflow.yaml")
    assert [r.as_dict() for r in again] == [r.as_dict() for r in runs]
    pytest.importorskip("pandas")
    frame = runs.to_pandas()
    assert len(frame) == 8 and {"x", "seed", "score"} <= set(frame.columns)


def test_a_dry_run_command_pasted_as_the_hint_says_records_its_runs(app: Project) -> None:
    setup(app, add="fail_at=-1")
    dry = app.hydraflow("run", "j", "--dry-run")
    folder = re.search(r"put (\S+) on PYTHONPATH", dry.stderr)
    assert folder is not None, dry.stderr
    first = shlex.split(dry.stdout.splitlines()[0])
    env = {**os.environ, "PYTHONPATH": folder.group(1)}
    subprocess.run(first, cwd=app.root, env=env, check=True, capture_output=True)
    assert len(list(app.root.glob("multirun/j/*/*/hydraflow.run.json"))) == 4


def test_a_job_can_turn_records_off(app: Project) -> None:
    setup(app, extra="    record: false\n", add="fail_at=-1")
    dry = app.hydraflow("run", "j", "--dry-run")
    assert "hydra.callbacks" not in dry.stdout and "PYTHONPATH" not in dry.stderr
    assert app.hydraflow("run", "j").returncode == 0
    assert not list(app.root.glob("multirun/*/*/*/hydraflow.run.json"))
    rows = results(app, "j")
    assert len(rows) == 8 and {r["status"] for r in rows} == {"ok"}  # from the ledger


def test_the_callback_needs_nothing_of_hydraflow(app: Project) -> None:
    source = Path(__file__).parents[1] / "hydraflow" / "_callback" / "hydraflow_record.py"
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__", "contextlib", "json", "math", "os", "time", "typing", "hydra"}
    # An app whose Python cannot import hydraflow still records its runs.
    app.write("shadow/hydraflow/__init__.py", "raise ImportError('no hydraflow here')\n")
    app.write("app.py", "import sys\nsys.path.insert(0, 'shadow')\n" + APP)
    setup(app, add="fail_at=-1")
    assert app.hydraflow("run", "j").returncode == 0
    assert len(list(app.root.glob("multirun/*/*/*/hydraflow.run.json"))) == 8


def test_invoke_users_have_a_results_task(ran: Project) -> None:
    app = ran
    shown = app.invoke("results", "--job", "j", "--group-by", "x", "--json")  # the real program
    assert shown.returncode == 0, shown.stderr
    assert [(g["count"], g["ok"]) for g in json.loads(shown.stdout)] == [(4, 3), (4, 3)]
    assert "results" in app.invoke_here("--list").stdout
    sweeps = set(app.root.glob("multirun/j/*"))
    bare = app.invoke_here("results", "j")  # Invoke alone would show the table, then run j
    assert bare.returncode == 2 and "invoke results --job j" in bare.stderr
    assert set(app.root.glob("multirun/j/*")) == sweeps


def test_while_a_batch_runs_its_runs_are_running_and_queued(project: Project) -> None:
    """Runs of a batch still running are not "not run" nor "unknown": one is running, the
    rest wait their turn."""
    from hydraflow.attempts import attempt_fields
    from hydraflow.config import load
    from hydraflow.ledger import LEDGER, Ledger, Runner
    from hydraflow.plan import batches

    path = project.yaml(
        "jobs:\n  j:\n    run: app\n    sets:\n      - each: x=1\n        all: seed=0:3\n"
    )
    (batch,) = batches(load(path).job("j"))
    folder = "multirun/j/01JA0000000000000000000000"
    ledger = Ledger(project.root / LEDGER)
    ledger.insert(
        "j", batch.key, attempt_fields(batch, folder, batch.argv(folder), ()), Runner.this()
    )
    ledger.close()
    done = project.root / folder / "0"
    done.mkdir(parents=True)
    (done / "hydraflow.run.json").write_text(
        json.dumps({"status": "ok", "overrides": ["x=1", "seed=0"]})
    )
    (project.root / folder / "1" / ".hydra").mkdir(parents=True)  # Hydra began it
    rows = results(project, "j")
    status = {r["params"]["seed"]: r["status"] for r in rows}  # type: ignore[index]
    assert status == {0: "ok", 1: "running", 2: "queued", 3: "queued"}
