"""``hydraflow forget``: runs taken out of ``results`` and ``status`` (a real Hydra app,
a real ledger), their folders deleted only with ``--delete`` and only inside
``multirun/``, a running batch never touched, a terminal asked first."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from check_apps import PY, write_app
from conftest import Project
from test_terminal import in_terminal, plain

from hydraflow.forget import inside_multirun

JOB = (
    f"jobs:\n  fit:\n    run: {PY} app.py\n    add: name=n\n"
    "    sets:\n      - each: model=small,large optim.lr=0.1,0.2\n"
)


def results(project: Project, *flags: str) -> list[dict[str, object]]:
    ran = project.here("results", "fit", "--json", *flags)
    assert ran.returncode == 0, ran.stderr
    found: list[dict[str, object]] = json.loads(ran.stdout)
    return found


def lrs(runs: list[dict[str, object]]) -> list[tuple[object, object]]:
    return sorted((r["params"]["model"], r["params"]["optim.lr"]) for r in runs)  # type: ignore[index]


@pytest.fixture
def fitted(project: Project) -> Project:
    write_app(project, "yaml")
    project.yaml(JOB)
    assert project.here("run", "fit", "-j", "2").returncode == 0
    return project


def test_forget_takes_runs_out_of_results_and_status_and_keeps_folders(fitted: Project) -> None:
    before = results(fitted)
    going = [r for r in before if r["params"]["optim.lr"] == 0.1]  # type: ignore[index]
    listed = fitted.here("forget", "fit", "--where", "optim.lr<0.15", "--dry-run")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 2
    assert "nothing changed (--dry-run)" in listed.stderr and results(fitted) == before
    refused = fitted.here("forget", "fit", "--where", "optim.lr<0.15")  # no terminal to ask
    assert refused.returncode == 2 and "needs --yes" in refused.stderr
    assert results(fitted) == before
    done = fitted.here("forget", "fit", "--where", "optim.lr<0.15", "--yes")
    assert done.returncode == 0 and "forgot 2 runs of fit" in done.stdout, done.stderr
    assert lrs(results(fitted)) == [("large", 0.2), ("small", 0.2)]
    assert all((fitted.root / str(r["dir"])).is_dir() for r in going)  # still on disk
    status = json.loads(fitted.here("status", "fit", "--json").stdout)
    assert "never run" in json.dumps(status)  # their batches read as never run
    again = fitted.here("run", "fit", "--resume")
    assert again.returncode == 0 and "2 skipped (done before)" in again.stdout + again.stderr
    assert lrs(results(fitted)) == lrs(before)


def test_delete_removes_their_folders_only(fitted: Project) -> None:
    before = results(fitted)
    done = fitted.here("forget", "fit", "--where", "model=small", "--delete", "--yes")
    assert done.returncode == 0, done.stderr
    for run in before:
        folder = fitted.root / str(run["dir"])
        assert folder.exists() == (run["params"]["model"] == "large")  # type: ignore[index]
    assert lrs(results(fitted)) == [("large", 0.1), ("large", 0.2)]


def test_the_latest_attempt_goes_and_the_one_before_shows_again(fitted: Project) -> None:
    assert fitted.here("run", "fit", "--only", "model=small").returncode == 0
    assert len(results(fitted, "--all-attempts")) == 6
    latest = {str(r["dir"]) for r in results(fitted)}
    told = fitted.here("forget", "fit", "--where", "model=small", "--dry-run").stderr
    assert "2 other attempts of these configs stay, and results shows them instead" in told
    done = fitted.here("forget", "fit", "--where", "model=small", "--yes")
    assert done.returncode == 0 and "forgot 2 runs" in done.stdout
    assert "2 earlier attempts of these configs stay, and show" in done.stdout
    shown = results(fitted)
    assert lrs(shown) == lrs(results(fitted, "--all-attempts")) and len(shown) == 4
    assert {str(r["dir"]) for r in shown} != latest  # the earlier attempts, back
    assert fitted.here("forget", "fit", "--all-attempts", "--yes").returncode == 0
    assert results(fitted) == [] and results(fitted, "--all-attempts") == []


def test_a_folder_a_link_leads_outside_multirun_is_never_deleted(
    fitted: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = next(r for r in results(fitted) if r["params"]["model"] == "small")  # type: ignore[index]
    inside = fitted.root / str(run["dir"])
    outside = tmp_path_factory.mktemp("elsewhere") / "run"
    shutil.move(inside, outside)
    inside.symlink_to(outside)
    done = fitted.here("forget", "fit", "--where", "model=small", "--delete", "--yes")
    assert done.returncode == 1 and f"not deleted: {run['dir']}: a link leads it" in done.stderr
    assert (outside / ".hydra" / "config.yaml").is_file()


def test_only_folders_inside_multirun_are_ever_named_deletable(tmp_path: Path) -> None:
    (tmp_path / "multirun" / "fit" / "A" / "0").mkdir(parents=True)
    assert inside_multirun(tmp_path, "multirun/fit/A/0")[0] is not None
    for folder in ("outputs/x", "multirun/../outputs", "multirun", "/etc", "multirun/.."):
        target, why = inside_multirun(tmp_path, folder)
        assert target is None and why, folder
    # multirun itself may be a link to a larger disk: inside it is inside
    (tmp_path / "disk").mkdir()
    linked = tmp_path / "other"
    (linked / "fit" / "B" / "0").mkdir(parents=True)
    (tmp_path / "disk" / "multirun").symlink_to(linked)
    assert inside_multirun(tmp_path / "disk", "multirun/fit/B/0")[0] == (linked / "fit/B/0")


NAP_APP = """\
import os, time
import hydra


@hydra.main(version_base=None, config_path=None)
def main(cfg):
    while not os.path.exists(os.environ["GO"]):
        time.sleep(0.05)


if __name__ == "__main__":
    main()
"""


def test_a_batch_running_now_is_left_alone(project: Project) -> None:
    project.write("nap.py", NAP_APP)
    project.yaml(f"jobs:\n  nap:\n    run: {PY} nap.py\n    sets:\n      - each: +x=1\n")
    go = project.root / "go"
    running = project.start("run", "nap", env={"GO": str(go)})
    try:
        deadline = time.monotonic() + 60
        while not list(project.root.glob("multirun/nap/*/0")) and time.monotonic() < deadline:
            time.sleep(0.05)
        forget = project.here("forget", "nap", "--all-attempts", "--delete", "--yes")
        assert forget.returncode == 0 and "left alone" in forget.stderr, forget.stderr
        assert list(project.root.glob("multirun/nap/*/0"))
    finally:
        go.touch()
        running.communicate(timeout=60)
    assert running.returncode == 0
    assert [r["status"] for r in json.loads(project.here("results", "nap", "--json").stdout)] == [
        "ok"
    ]


def test_a_terminal_is_asked_and_only_yes_forgets(fitted: Project) -> None:
    def asked(answer: bytes) -> str:
        code, output = in_terminal(
            fitted,
            ["forget", "fit", "--where", "model=large"],
            env={"NO_COLOR": "1"},
            when=lambda out: b"[y/N]" in out,
            then=answer,
        )
        return f"{code}:{plain(output)}"

    no = asked(b"n\n")
    assert no.startswith("1:") and "nothing forgotten" in no and len(results(fitted)) == 4
    yes = asked(b"y\n")
    assert yes.startswith("0:") and "forgot 2 runs of fit" in yes
    assert lrs(results(fitted)) == [("small", 0.1), ("small", 0.2)]


def test_an_invoke_user_forgets_too(fitted: Project) -> None:
    fitted.write("tasks.py", "from hydraflow import collection\n\nns = collection()\n")
    listed = fitted.invoke_here("--list")
    assert "forget" in listed.stdout
    done = fitted.invoke_here("forget", "--job", "fit", "--where", "model=large", "--yes")
    assert done.returncode == 0 and "forgot 2 runs" in done.stdout, done.stderr
    assert len(results(fitted)) == 2
    fitted.yaml(JOB.replace("  fit:", "  forget:"))  # a job of that name keeps it
    assert "hydraflow-forget" in fitted.invoke_here("--list").stdout


def test_status_watch_and_json_do_not_combine(fitted: Project) -> None:
    both = fitted.here("status", "--watch", "--json")
    assert both.returncode == 2 and "choose one" in both.stderr
