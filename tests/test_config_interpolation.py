"""``${…}``: OmegaConf resolves what it can at load time; what only Hydra knows reaches Hydra."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import Project, cpu_seconds

from hydraflow.config import Config, load
from hydraflow.errors import ConfigError


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HF_UNSET_VAR", raising=False)
    monkeypatch.setenv("HF_DATA", "/mnt/d")
    return tmp_path


def read(here: Path, text: str) -> Config:
    (here / "hydraflow.yaml").write_text(text)
    return load(here / "hydraflow.yaml")


def run_of(here: Path, run: str) -> str:
    return read(here, f"jobs:\n  a:\n    run: {run}\n    name: n1\n").job("a").command_text


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        # Only Hydra knows these: kept as written.
        ("x ${now:%Y-%m-%d}", "x ${now:%Y-%m-%d}"),
        ("x ${hydra:job.name}", "x ${hydra:job.name}"),
        ("x ${hydra.job.name}", "x ${hydra.job.name}"),
        ("x ${some_resolver:a,b}", "x ${some_resolver:a,b}"),
        ("x ${oc.env:HF_DATA,${now:%H}}", "x ${oc.env:HF_DATA,${now:%H}}"),
        # OmegaConf knows these: resolved at load time.
        ("x ${oc.env:HF_DATA,/data}", "x /mnt/d"),
        ("x ${oc.env:HF_UNSET_VAR,/data}", "x /data"),
        ("x ${jobs.a.name}", "x n1"),
        ("x ${.name}", "x n1"),
        ("x \\${jobs.a.name}", "x ${jobs.a.name}"),
        # Mixed: each interpolation on its own merits, escapes as OmegaConf reads them.
        ("a=${oc.env:HF_UNSET_VAR,1} b=${now:%H}", "a=1 b=${now:%H}"),
        ("${now:%H}-${jobs.a.name}-${now:%M}", "${now:%H}-n1-${now:%M}"),
        ("\\${jobs.a.name} ${hydra:job.num} ${.name}", "${jobs.a.name} ${hydra:job.num} n1"),
    ],
)
def test_interpolations(here: Path, run: str, expected: str) -> None:
    assert run_of(here, run) == expected


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("jobs:\n  a:\n    run: x ${oc.env:HF_UNSET_VAR}\n", 3, "Environment variable"),
        ("jobs:\n  a:\n    run: x ${oc.env:HF_UNSET_VAR} ${now:%H}\n", 3, "Environment variable"),
        ("jobs:\n  a:\n    run: x ${foo\n", 3, "cannot resolve 'x ${foo'"),
        ("jobs:\n  a:\n    run: ${oc.env:HF_DATA}\n  b:\n    run: x ${}\n", 5, "no viable"),
        ("jobs:\n  a:\n    run: x\n    parallel: ${oc.env:HF_DATA}\n", 4, "not '/mnt/d'"),
    ],
)
def test_resolution_errors_name_the_line(here: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read(here, text)
    assert str(caught.value).startswith(f"hydraflow.yaml:{line}: ")
    assert message in str(caught.value)


def test_interpolations_in_every_kind_of_value(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_N", "3")
    monkeypatch.setenv("HF_DEVICES", "0,1")
    job = read(
        here,
        "jobs:\n  a:\n    run: x\n    parallel: ${oc.env:HF_N}\n"
        "    devices: ${oc.env:HF_DEVICES}\n    help: 2001-13-45\n"
        "    sets:\n      - each: d=${jobs.a.help} p=${jobs.a.parallel}\n"
        "        all: t=${now:%H}\n",
    ).job("a")
    assert (job.parallel, job.devices) == (3, ("0", "1"))
    assert (job.sets[0].each, job.sets[0].all) == ("d=2001-13-45 p=3", "t=${now:%H}")


def test_dates_and_odd_scalars_do_not_stop_resolution(here: Path) -> None:
    text = (
        "jobs:\n  a:\n    run: x ${oc.env:HF_DATA}\n    help: 2001-13-45\n"
        "  b:\n    run: y\n    help: !!binary aGk=\n"
    )
    with pytest.raises(ConfigError, match=r"hydraflow\.yaml:7: help must be a string"):
        read(here, text)
    assert read(here, text.replace("!!binary aGk=", "2024-01-01")).job("a").command[1] == "/mnt/d"


IMPORTS = """
import sys
import warnings
from pathlib import Path
from hydraflow.config import load
config = load(Path(sys.argv[1]))
print(config.job("a").help, config.job("a").command_text)
print(sorted({m.split(".")[0] for m in sys.modules} & {"omegaconf", "rich", "invoke", "hydra"}))
"""


@pytest.mark.parametrize(
    ("text", "imported"),
    [
        ("# ${not.a.value}\njobs:\n  a:\n    run: x\n    help: 2001-13-45\n", "[]"),
        ("jobs:\n  a:\n    run: x ${now:%H}\n    help: 2001-13-45\n", "['omegaconf']"),
    ],
)
def test_omegaconf_only_for_values_with_interpolations(
    here: Path, text: str, imported: str
) -> None:
    (here / "hydraflow.yaml").write_text(text)
    result = subprocess.run(
        [sys.executable, "-c", IMPORTS, "hydraflow.yaml"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == imported


def test_hydra_only_interpolations_reach_the_command(project: Project) -> None:
    project.yaml(
        "jobs:\n  train:\n    run: python app.py\n"
        "    add: hydra.run.dir=out/${now:%Y-%m-%d} seed=${oc.env:SEED,7}\n"
    )
    result = project.hydraflow("run", "train", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "'hydra.run.dir=out/${now:%Y-%m-%d}' seed=7" in result.stdout


def test_references_reach_other_jobs(here: Path) -> None:
    text = "jobs:\n  a:\n    run: x ${jobs.train-big.help} ${..b.name}\n"
    text += "  train-big:\n    run: y\n    help: 2001-13-45\n  b:\n    run: z\n    name: bee\n"
    assert read(here, text).job("a").command_text == "x 2001-13-45 bee"


def test_one_interpolation_among_thousands_of_jobs_is_cheap(here: Path) -> None:
    jobs = "".join(
        f"  j{i}:\n    run: python app.py {i}\n    devices: [0, 1]\n"
        f"    sets:\n      - each: a=1,2\n      - each: b=3\n"
        for i in range(3000)
    )
    loaded: list[Config] = []
    plain = cpu_seconds(lambda: read(here, f"jobs:\n  a:\n    run: x\n{jobs}"))
    one = cpu_seconds(
        lambda: loaded.append(read(here, f"jobs:\n  a:\n    run: x ${{jobs.j7.run}}\n{jobs}"))
    )
    assert loaded[0].job("a").command_text == "x python app.py 7"
    # Handing the whole file to OmegaConf would cost many times the plain read.
    assert one < 3 * plain, f"{one:.2f}s with one interpolation, {plain:.2f}s without"


def test_omegaconf_warnings_are_not_printed(here: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run_of(here, "x ${oc.env:HF_UNSET_VAR,}y") == "x y"
