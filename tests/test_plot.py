"""``hydraflow plot`` end to end, on the runs of a real Hydra app (three seeds of each
model and learning rate, two of them failing): every kind drawn to PNG, SVG and PDF and
read back, the numbers behind a line against ``results --json``, the terminal drawing
in a pty, the CSV of a pipe, Invoke, the Python API, the errors and their statuses, and
the one line a missing extra gives."""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
import struct
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from check_apps import PY, write_app
from conftest import Project, command
from test_terminal import COLOUR, in_terminal, plain

# log(1e-3:1e-1:3) spans two decades exactly: the axis is logarithmic because the sweep
# said log, not by the span rule. The second set's runs fail (the app multiplies by null).
JOB = f"""\
jobs:
  fit:
    run: {PY} app.py
    add: name=demo
    metric: loss
    goal: minimize
    sets:
      - each: model=small,large optim.lr=log(1e-3:1e-1:3)
        all: +seed=0:2
      - each: model=small optim.lr=null
        all: +seed=0:1
"""
LINE = ["plot", "fit", "--x", "optim.lr", "--y", "loss", "--hue", "model"]
KINDS = {
    "line": LINE,
    "scatter": ["plot", "fit", "--x", "seed", "--y", "loss", "--hue", "model", "--kind", "scatter"],
    "heatmap": [
        "plot",
        "fit",
        "--x",
        "model",
        "--y",
        "optim.lr",
        "--z",
        "loss",
        "--kind",
        "heatmap",
    ],
}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = Project(tmp_path_factory.mktemp("plot"))
    write_app(project, "yaml")
    project.yaml(JOB)
    done = project.here("run", "fit", "-j", "2", "-k")
    assert done.returncode == 1, done.stdout + done.stderr  # the second set fails, as meant
    project.write("tasks.py", "from hydraflow import collection\nns = collection()\n")
    return project


def results(project: Project) -> list[dict[str, Any]]:
    shown = project.here("results", "fit", "--json")
    assert shown.returncode == 0, shown.stderr
    found: list[dict[str, Any]] = json.loads(shown.stdout)
    return found


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def svg_text(path: Path) -> str:
    """Every piece of text in an SVG, as a reader of the picture sees it."""
    tree = ElementTree.parse(path)
    return "\n".join("".join(el.itertext()) for el in tree.iter("{http://www.w3.org/2000/svg}text"))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_drawn_to_png_svg_and_pdf(ran: Project, kind: str) -> None:
    for suffix in ("png", "svg", "pdf"):
        path = ran.root / f"{kind}.{suffix}"
        drawn = ran.here(*KINDS[kind], "-o", str(path))
        assert drawn.returncode == 0, drawn.stderr
        assert drawn.stdout == f"{path}\n"  # its path, and nothing else on stdout
        assert "2 failed runs not shown" in drawn.stderr
    data = (ran.root / f"{kind}.png").read_bytes()
    assert data[:8] == PNG and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (960, 720)  # 8 × 6 inches at 120 dpi
    assert (ran.root / f"{kind}.pdf").read_bytes()[:5] == b"%PDF-"
    text = svg_text(ran.root / f"{kind}.svg")
    assert "fit: " in text and "18 runs" in text  # the job, the runs drawn
    assert "2 failed runs not shown" in text


def test_the_svg_names_the_axes_and_the_legend(ran: Project) -> None:
    line = ran.root / "named.svg"
    assert ran.here(*LINE, "-o", str(line)).returncode == 0
    text = svg_text(line)
    for expected in (
        "fit: loss against optim.lr by model",  # title
        "optim.lr",  # x label
        "loss (mean ± std)",  # y label
        "small (n=3)",  # legend entries, with the runs behind each point
        "large (n=3)",
        "model",  # the legend's title
    ):
        assert expected in text, expected
    heat = ran.root / "heat.svg"
    assert ran.here(*KINDS["heatmap"], "-o", str(heat)).returncode == 0
    text = svg_text(heat)
    assert "loss (mean)" in text and "the best cell (minimize) marked" in text
    assert {"0.064", "0.256", "6.4", "25.6"} <= set(text.split("\n"))  # every cell annotated


def test_a_line_is_the_mean_and_std_of_results_json_by_x(ran: Project) -> None:
    ok = [r for r in results(ran) if r["status"] == "ok"]
    by_lr: dict[float, list[float]] = {}
    for run in ok:
        by_lr.setdefault(run["params"]["optim.lr"], []).append(run["metrics"]["loss"])
    plotted = ran.here("plot", "fit", "--x", "optim.lr", "--y", "loss")
    assert plotted.returncode == 0, plotted.stderr
    table = rows(plotted.stdout)
    assert [float(r["optim.lr"]) for r in table] == sorted(by_lr)  # along x in order
    for row in table:
        losses = by_lr[float(row["optim.lr"])]
        assert len(losses) == 6 and int(row["count"]) == 6  # two models × three seeds
        assert float(row["loss.mean"]) == pytest.approx(statistics.fmean(losses), rel=1e-12)
        assert float(row["loss.std"]) == pytest.approx(statistics.stdev(losses), rel=1e-12)
    median = rows(
        ran.here("plot", "fit", "--x", "optim.lr", "--y", "loss", "--agg", "median").stdout
    )
    assert [float(r["loss.median"]) for r in median] == [
        statistics.median(by_lr[lr]) for lr in sorted(by_lr)
    ]


def test_a_pipe_gets_the_numbers_of_each_kind_as_csv(ran: Project) -> None:
    line = ran.here(*LINE)
    assert line.returncode == 0 and line.stderr == "hydraflow: 2 failed runs not shown\n"
    assert [(r["model"], r["optim.lr"], r["count"]) for r in rows(line.stdout)] == [
        (model, lr, "3") for model in ("small", "large") for lr in ("0.001", "0.01", "0.1")
    ]
    dots = rows(ran.here(*KINDS["scatter"]).stdout)
    ok = [r for r in results(ran) if r["status"] == "ok"]
    assert sorted((d["model"], int(d["seed"]), float(d["loss"])) for d in dots) == sorted(
        (r["params"]["model"], r["params"]["seed"], r["metrics"]["loss"]) for r in ok
    )
    cells = rows(ran.here(*KINDS["heatmap"]).stdout)
    assert len(cells) == 6 and {c["model"] for c in cells} == {"small", "large"}
    chosen = rows(ran.here(*LINE, "--where", "model=small", "--where", "optim.lr<0.05").stdout)
    assert [(r["model"], r["optim.lr"]) for r in chosen] == [("small", "0.001"), ("small", "0.01")]


def test_the_terminal_gets_the_same_plot(ran: Project) -> None:
    code, output = in_terminal(ran, LINE, columns=80)
    text = plain(output)
    assert code == 0, text
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), text
    assert "fit: loss against optim.lr by model" in text
    assert "small (n=3)" in text and "large (n=3)" in text
    assert "┌" in text and "┘" in text  # a drawing, not a table
    assert "0.001" in text and "0.1" in text  # the swept values label x
    assert "fit · 18 runs" in text and lines[-1] == "2 failed runs not shown"
    assert COLOUR.search(output)
    _, bare = in_terminal(ran, LINE, env={"NO_COLOR": "1"}, columns=80)
    assert not COLOUR.search(bare) and b"\x1b[0m" not in bare
    assert plain(bare) == plain(output)  # colour is all that went
    code, heat = in_terminal(ran, KINDS["heatmap"], env={"NO_COLOR": "1"}, columns=80)
    assert code == 0 and "[0.064]" in plain(heat)  # the best cell, marked


def test_invoke_reaches_plot_as_it_reaches_results(ran: Project) -> None:
    by_invoke = ran.invoke_here(
        "plot", "--job", "fit", "-x", "optim.lr", "-y", "loss", "--hue", "model"
    )
    assert by_invoke.returncode == 0, by_invoke.stderr
    assert by_invoke.stdout == ran.here(*LINE).stdout
    typo = ran.invoke_here("plot", "--job", "fit", "-x", "optim.lr", "-y", "los")
    assert typo.returncode == 2 and "did you mean 'loss'" in typo.stderr
    picture = ran.root / "invoked.png"
    made = ran.invoke_here("plot", "--job", "fit", "-x", "seed", "-y", "loss", "-o", str(picture))
    assert made.returncode == 0 and picture.read_bytes()[:8] == PNG


def test_a_job_named_plot_keeps_its_name(project: Project) -> None:
    project.yaml(f"jobs:\n  plot:\n    run: {PY} record.py\n")
    project.write("tasks.py", "from hydraflow import collection\nns = collection()\n")
    listed = json.loads(project.invoke_here("--list", "--list-format=json").stdout)
    assert {"plot", "hydraflow-plot"} <= {task["name"] for task in listed["tasks"]}


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (
            ["--x", "optim.lrr", "--y", "loss"],
            2,
            "--x: no run has 'optim.lrr' (did you mean 'optim.lr'?)",
        ),
        (["--x", "optim.lr", "--y", "los"], 2, "(did you mean 'loss'?)"),
        (["--x", "optim.lr", "--y", "loss", "--hue", "modl"], 2, "(did you mean 'model'?)"),
        (["--x", "optim.lr", "--y", "loss", "--kind", "bars"], 2, "--kind 'bars': one of line"),
        (["--x", "optim.lr", "--y", "loss", "-o", "plot.jpg"], 2, "written as .png, .svg, .pdf"),
        (["--x", "optim.lr", "--y", "loss", "-o", "nowhere/plot.png"], 2, "there is no folder"),
        (["--x", "optim.lr"], 2, "plot needs --x KEY --y METRIC"),
        (["--x", "optim.lr", "--y", "model"], 1, "model is not numeric (its values: small, large)"),
        (["--x", "optim.lr", "--y", "loss", "--where", "model=huge"], 1, "no run matches --where"),
        (["--x", "seed", "--y", "loss", "--where", "status=failed"], 1, "no run succeeded"),
    ],
)
def test_errors_say_one_line_with_their_status(
    ran: Project, args: list[str], status: int, message: str
) -> None:
    failed = ran.here("plot", "fit", *args)
    assert failed.returncode == status and failed.stdout == ""
    assert failed.stderr.count("\n") == 1 and message in failed.stderr, failed.stderr
    assert "Traceback" not in failed.stderr


def test_the_python_api_returns_the_axes(ran: Project) -> None:
    pytest.importorskip("matplotlib")
    import hydraflow

    runs = hydraflow.results("fit", file=ran.root)
    ax = runs.plot(x="optim.lr", y="loss", hue="model")
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines["large (n=3)"] == pytest.approx([0.256, 2.56, 25.6])
    assert ax.get_xscale() == "linear"  # the API knows no sweep: two decades are linear
    import matplotlib.pyplot

    matplotlib.pyplot.close("all")


# A stand-in for an environment without the extra: a meta path finder, installed by a
# sitecustomize on PYTHONPATH before hydraflow starts, makes importing matplotlib or
# plotext fail as it does where they are not installed.
BLOCKER = """\
import sys

class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("matplotlib", "plotext"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Missing())
"""


@pytest.fixture
def without_extra(tmp_path: Path) -> Iterator[dict[str, str]]:
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    yield {"PYTHONPATH": path}


def test_a_missing_extra_is_one_line_that_names_it(
    ran: Project, without_extra: dict[str, str]
) -> None:
    """matplotlib and plotext blocked by an import hook (see BLOCKER), in a real process."""
    to_file = ran.hydraflow(*LINE, "-o", str(ran.root / "none.png"), env=without_extra)
    assert to_file.returncode == 2 and to_file.stdout == ""
    assert to_file.stderr == (
        "error: hydraflow plot -o needs matplotlib: pip install 'hydraflow[plot]'\n"
    )
    assert not (ran.root / "none.png").exists()
    assert (
        ran.hydraflow(*LINE, env=without_extra).stdout == ran.here(*LINE).stdout
    )  # CSV needs neither
    code, output = in_terminal(ran, LINE, env={**without_extra, "NO_COLOR": "1"})
    assert code == 2
    assert plain(output).strip() == (
        "error: hydraflow plot on a terminal needs plotext: pip install 'hydraflow[plot]'"
    )


def test_plotext_6_is_named_as_the_wrong_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydraflow.analysis.plots import MissingExtra
    from hydraflow.display.plot_terminal import require

    newer = types.ModuleType("plotext")
    newer.version = "6.1.0"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "plotext", newer)
    with pytest.raises(MissingExtra, match=r"needs plotext 5, not 6\.1\.0: pip install"):
        require()


def test_in_a_virtualenv_without_the_extra(ran: Project, tmp_path: Path) -> None:
    """A real virtualenv with hydraflow's own dependencies and not the extra: the same line."""
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    dependencies = ["invoke>=3.0,<3.1", "pyyaml>=6", "rich>=13", "hydra-core>=1.3", "psutil>=5.9"]
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", *dependencies],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    # hydraflow itself from this checkout, as an editable install finds it.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "hydraflow-checkout.pth").write_text(str(Path(__file__).resolve().parents[1]))
    probe = "import importlib.util as u; print(u.find_spec('matplotlib'), u.find_spec('plotext'))"
    assert (
        subprocess.run([str(python), "-c", probe], capture_output=True, text=True).stdout
        == "None None\n"
    )
    env = {**os.environ, "NO_COLOR": "1"}
    args = [str(python), "-m", "hydraflow", *LINE]
    to_file = subprocess.run(
        [*args, "-o", "bare.png"], cwd=ran.root, env=env, capture_output=True, text=True
    )
    assert to_file.returncode == 2 and to_file.stderr == (
        "error: hydraflow plot -o needs matplotlib: pip install 'hydraflow[plot]'\n"
    )
    piped = subprocess.run(args, cwd=ran.root, env=env, capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stdout == ran.here(*LINE).stdout


def test_the_installed_command_draws_too(ran: Project) -> None:
    """The console script, as a user runs it (the tests above mostly run it in-process)."""
    drawn = subprocess.run(
        [*command("hydraflow"), *KINDS["heatmap"], "-o", "heat.png"],
        cwd=ran.root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert drawn.returncode == 0 and drawn.stdout == "heat.png\n", drawn.stderr
    assert (ran.root / "heat.png").read_bytes()[:8] == PNG
    assert drawn.stderr == "hydraflow: 2 failed runs not shown\n"
