"""The check before launch: every batch of a job composed against the app's own config
(real Hydra apps, composed in their own interpreter by the probe), every problem said
at once, nothing started. On Slurm: tests/test_slurm.py."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest
from check_apps import PY, started_nothing, write_app
from conftest import Project
from hypothesis import given
from hypothesis import strategies as st

from hydraflow.modes.submit import HANDLER_VALUE_OPTIONS, handler_command
from hydraflow.slurm import parser as handler_parser

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hydraflow" / "_warm"))
import hydraflow_seams
import hydraflow_words

TASKS = "from hydraflow import collection\n\nns = collection()\n"

# Every kind of problem, in one job of 2 x 2 batches: an unknown group option, an
# unknown key (in two words), a value of the wrong type (an int in the dataclass app;
# the YAML app's values have no type), a mandatory value nothing sets.
JOB = f"""\
jobs:
  fit:
    run: {PY} app.py
    sets:
      - each: model=small,huge optim.lrr=0.1,0.2
        all: epochs=ten
"""


def expected_problems(kind: str) -> list[str]:
    found = [
        "  model=huge (hydraflow.yaml:5): no config 'huge' in group 'model':"
        " choose from large, small [2 batches]",
        "  optim.lrr=0.1, optim.lrr=0.2 (hydraflow.yaml:5): 'optim.lrr' is not in the config"
        " (did you mean 'optim.lr'?); +optim.lrr=… adds it [4 batches]",
    ]
    if kind == "dataclass":
        found.append("  epochs=ten (hydraflow.yaml:6): 'epochs' is an int, not 'ten' [4 batches]")
    found.append(
        "  name=??? (the app's config): 'name' is mandatory (???) and nothing sets it:"
        " add name=… to the job or the command line [4 batches]"
    )
    return found


def problems_of(stderr: str) -> list[str]:
    return [
        line for line in stderr.splitlines() if line.startswith("  ") and "--no-check" not in line
    ]


@pytest.mark.parametrize("kind", ["yaml", "dataclass"])
def test_every_problem_at_once_through_hydraflow_run(project: Project, kind: str) -> None:
    write_app(project, kind)
    project.yaml(JOB)
    ran = project.here("run", "fit", "-j", "2", "-k")
    assert ran.returncode == 2, ran.stderr
    assert "the check of job 'fit' found" in ran.stderr and "nothing was started" in ran.stderr
    assert problems_of(ran.stderr) == expected_problems(kind)
    assert "Traceback" not in ran.stderr
    assert started_nothing(project)


@pytest.mark.parametrize("kind", ["yaml", "dataclass"])
def test_every_problem_at_once_through_invoke(project: Project, kind: str) -> None:
    write_app(project, kind)
    project.yaml(JOB)
    project.write("tasks.py", TASKS)
    ran = project.invoke_here("fit", "-j", "2")
    assert ran.returncode == 2, ran.stderr
    assert problems_of(ran.stderr) == expected_problems(kind)
    assert started_nothing(project)


def test_command_line_words_are_checked_and_named_so(project: Project) -> None:
    write_app(project, "dataclass")
    project.yaml(f"jobs:\n  fit:\n    run: {PY} app.py\n    add: name=n\n")
    ran = project.here("run", "fit", "--", "modl=large", "optim.steps=ten")
    assert ran.returncode == 2
    assert problems_of(ran.stderr) == [
        "  modl=large (command line): 'modl' is not in the config (did you mean 'model'?);"
        " +modl=… adds it",
        "  optim.steps=ten (command line): 'optim.steps' is an int, not 'ten'",
    ]
    assert started_nothing(project)


def test_a_dry_run_checks_and_says_so(project: Project) -> None:
    write_app(project, "dataclass")
    project.yaml(
        f"jobs:\n  fit:\n    run: {PY} app.py\n    add: name=n\n"
        "    sets:\n      - each: model=small,large optim.lr=0.1,0.2\n"
    )
    ran = project.here("run", "fit", "--dry-run")
    assert ran.returncode == 0, ran.stderr
    assert "checked: 4 batches, 2 configs composed" in ran.stderr
    assert len(ran.stdout.splitlines()) == 4  # the batches, and only they, on stdout
    bad = project.here("run", "fit", "--dry-run", "epochs=1.5")
    assert bad.returncode == 2 and "'epochs' is an int, not '1.5'" in bad.stderr


def test_a_passing_check_runs_the_job(project: Project) -> None:
    write_app(project, "yaml")
    project.yaml(
        f"jobs:\n  fit:\n    run: {PY} app.py\n    sets:\n      - each: model=small,large\n"
    )
    ran = project.here("run", "fit", "name=n")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert sorted(project.records()) == [[64, 30, "n"], [256, 30, "n"]]


def test_no_check_and_check_false_run_without_it_and_the_cause_says_why(
    project: Project,
) -> None:
    write_app(project, "dataclass")
    project.yaml(
        f"jobs:\n  fit:\n    run: {PY} app.py\n    add: name=n optim.steps=ten\n"
        f"  unchecked:\n    run: {PY} app.py\n    check: false\n    add: name=n optim.steps=ten\n"
    )
    for ran in (project.here("run", "fit", "--no-check"), project.here("run", "unchecked")):
        assert ran.returncode == 1, ran.stderr
        assert "the check of job" not in ran.stderr
        # Hydra's reason, under its wrapper line, is the cause hydraflow names
        assert (
            "cause: Error merging override optim.steps=ten:"
            " Value 'ten' of type 'str' could not be converted to Integer"
        ) in ran.stdout + ran.stderr


def test_commands_that_are_no_hydra_app_are_not_checked(project: Project) -> None:
    project.write("plain.py", "import sys\nprint(sys.argv[1:])\n")
    project.yaml(
        f"jobs:\n  echo:\n    run: echo\n    sets:\n      - each: modl=1\n"
        f"  plain:\n    run: {PY} plain.py\n    sets:\n      - each: modl=1\n"
    )
    for job in ("echo", "plain"):
        ran = project.here("run", job)
        assert ran.returncode == 0, ran.stderr
        assert "check" not in ran.stderr


def test_a_call_job_is_checked_without_calling_its_function(project: Project) -> None:
    write_app(project, "yaml")
    # Like examples/calls.py: the function imports the app only when it is called.
    project.write(
        "calls.py",
        """\
        import os, sys
        def fit(args):
            with open(os.environ["RECORD"], "a") as out:
                out.write('"called"\\n')
            from app import main
            sys.argv = ["app.py", *args]
            main()
        """,
    )
    project.yaml("jobs:\n  fit:\n    call: calls.fit\n    sets:\n      - each: modl=1\n")
    ran = project.here("run", "fit", "name=n")
    assert ran.returncode == 2
    assert "'modl' is not in the config (did you mean 'model'?)" in ran.stderr
    assert started_nothing(project)


def test_a_module_app_is_checked(project: Project) -> None:
    write_app(project, "dataclass")
    project.write("pkg/__init__.py", "")
    project.write("pkg/fit.py", Path(project.root / "app.py").read_text())
    project.yaml(f"jobs:\n  fit:\n    run: {PY} -m pkg.fit\n    add: name=n\n")
    ran = project.here("run", "fit", "--dry-run", "epochs=ten")
    assert ran.returncode == 2 and "'epochs' is an int, not 'ten'" in ran.stderr


def test_a_script_without_a_main_guard_is_checked_without_running_it(project: Project) -> None:
    write_app(project, "yaml")
    app = (project.root / "app.py").read_text()
    project.write("app.py", app.replace('if __name__ == "__main__":\n    main()', "main()"))
    project.yaml(f"jobs:\n  fit:\n    run: {PY} app.py\n    add: name=n\n")
    ran = project.here("run", "fit", "--dry-run", "model=huge")
    assert ran.returncode == 2 and "no config 'huge' in group 'model'" in ran.stderr
    assert not project.records()  # its top level calls main(): the check never did


def test_the_handlers_value_options_are_the_built_in_handlers() -> None:
    """What the check takes for the command of a submit job's batches follows the
    built-in handler's own parser."""
    taking_values = {
        option
        for action in handler_parser()._actions
        if action.option_strings and action.nargs != 0
        for option in action.option_strings
        if option.startswith("--")
    }
    assert set(HANDLER_VALUE_OPTIONS) == taking_values
    words = ["--time", "10", "--local", "--sbatch", "--qos=x", "python", "app.py", "--x"]
    assert handler_command(words) == ["python", "app.py", "--x"]


def test_the_seam_holds_on_the_hydra_installed_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The versions where the warm child may skip the basic sweeper's validation are pinned:
    a Hydra outside them must be read again before it joins (and then this test fails)."""
    import hydra
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    assert hydra.__version__ in hydraflow_seams.TRUSTED_HYDRA
    # what the seam replaces is what the sweeper calls, once per batch, before it launches
    sweep = inspect.getsource(BasicSweeper.sweep)
    assert sweep.index("self.validate_batch_is_legal(batch)") < sweep.index("self.launcher.launch(")
    original = BasicSweeper.validate_batch_is_legal
    monkeypatch.setattr(BasicSweeper, "validate_batch_is_legal", original)
    assert not hydraflow_seams.trust_the_check("1.4.0")
    assert BasicSweeper.validate_batch_is_legal is original
    assert hydraflow_seams.trust_the_check()
    assert BasicSweeper.validate_batch_is_legal is not original


COUNTING_APP = """\
import json, os
import hydra
from hydra._internal.config_loader_impl import ConfigLoaderImpl

composed = []
_load = ConfigLoaderImpl.load_sweep_config


def counting(self, *args, **kwargs):
    composed.append(1)
    return _load(self, *args, **kwargs)


ConfigLoaderImpl.load_sweep_config = counting


@hydra.main(version_base=None, config_path=None)
def main(cfg):
    with open(os.environ["RECORD"], "a") as out:
        out.write(json.dumps([cfg.i, len(composed)]) + "\\n")


if __name__ == "__main__":
    main()
"""


def test_a_warm_child_composes_a_checked_batch_once(project: Project) -> None:
    """Hydra's basic sweeper composes each run twice (to validate, then to run); after
    hydraflow's check, a warm child composes it once."""
    project.write("app.py", COUNTING_APP)
    project.yaml(
        f"jobs:\n  w:\n    run: {PY} app.py\n    warm: true\n    sets:\n      - each: +i=1,2\n"
    )
    assert project.here("run", "w").returncode == 0
    assert sorted(project.records()) == [[1, 1], [2, 1]]
    (project.root / "record.jsonl").unlink()
    assert project.here("run", "w", "--no-check").returncode == 0
    assert sorted(project.records()) == [[1, 2], [2, 2]]


MODE_APP = """\
import json, os
import hydra
from hydra._internal.hydra import Hydra

composed = []
_compose = Hydra.compose_config


def counting(self, *args, **kwargs):
    composed.append(1)
    return _compose(self, *args, **kwargs)


Hydra.compose_config = counting


@hydra.main(version_base=None, config_path=".", config_name="config")
def main(cfg):
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    with open(os.environ["RECORD"], "a") as out:
        out.write(json.dumps([cfg.i, len(composed), str(hydra_cfg.mode)]) + "\\n")


if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("config", ["i: 0\n", "i: 0\nhydra:\n  mode: MULTIRUN\n"])
def test_a_warm_child_skips_the_mode_composition_only_where_nothing_sets_the_mode(
    project: Project, config: str
) -> None:
    """Hydra composes a run's config once only to read hydra.mode from it; where the check
    saw no config and no word set it, a warm child takes the mode from --multirun."""
    project.write("app.py", MODE_APP)
    project.write("config.yaml", config)
    project.yaml(
        f"jobs:\n  w:\n    run: {PY} app.py\n    warm: true\n    sets:\n      - each: i=1,2\n"
    )
    assert project.here("run", "w").returncode == 0
    skipped = "mode" not in config
    assert sorted(project.records()) == [
        [1, 1 if skipped else 2, "RunMode.MULTIRUN"],
        [2, 1 if skipped else 2, "RunMode.MULTIRUN"],
    ]
    (project.root / "record.jsonl").unlink()
    assert project.here("run", "w", "--", "hydra.mode=MULTIRUN").returncode == 0
    assert [r[1] for r in project.records()] == [2, 2]  # a word sets it: composed to read it


def test_the_mode_seam_holds_on_the_hydra_installed_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hydra reads the mode from a composed config, and takes --multirun where it is unset:
    what the seam answers is what get_mode answers for such a config."""
    from hydra._internal import utils
    from hydra._internal.hydra import Hydra

    assert "hydra.get_mode(" in inspect.getsource(utils._run_hydra)
    run_app = inspect.getsource(utils._run_app)
    assert "if mode is None:" in run_app and 'overrides.extend(["hydra.mode=MULTIRUN"])' in run_app
    original = Hydra.get_mode
    monkeypatch.setattr(Hydra, "get_mode", original)
    assert not hydraflow_seams.skip_the_mode_composition("1.4.0")
    assert Hydra.get_mode is original
    assert hydraflow_seams.skip_the_mode_composition()
    assert Hydra.get_mode(object(), "config", ["a=1"]) is None


PLAIN_VALUES = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text("abcAZ019_.+-/:eEtrufalsnl", min_size=1, max_size=8),
    st.sampled_from(["true", "False", "null", "inf", "-inf", "nan", "1e3", "1_000", "0x1f", "01"]),
)


@given(
    key=st.sampled_from(["a", "a.b", "+a", "++a.b", "a@pkg", "grp/sub"]),
    values=st.lists(PLAIN_VALUES, min_size=1, max_size=6),
)
def test_words_read_together_are_each_what_it_is_alone(key: str, values: list[str]) -> None:
    """The check reads a key's plain values in one parse; each must come out as Hydra reads
    its word alone (the same value and type, or the same refusal)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    words = hydraflow_words.Words()
    written = [f"{key}={value}" for value in values]
    words.read(written)
    parser = OverridesParser.create()
    for word in written:
        together = words.parsed[word]
        try:
            alone = parser.parse_override(word)
        except HydraException:
            assert isinstance(together, str)
            continue
        assert not isinstance(together, str), (word, together)
        assert (together.type, together.key_or_group, together.package) == (
            alone.type,
            alone.key_or_group,
            alone.package,
        )
        assert together.value_type == alone.value_type and together.input_line == word
        assert repr(together.value()) == repr(alone.value())
        assert type(together.value()) is type(alone.value())


def test_the_config_the_command_names_is_the_one_checked(project: Project) -> None:
    write_app(project, "yaml")
    project.write("conf/other.yaml", "defaults:\n  - model: small\n  - _self_\nsteps: 3\n")
    project.yaml(
        f"jobs:\n  other:\n    run: {PY} app.py --config-name other\n"
        f"  elsewhere:\n    run: {PY} app.py -cd conf\n"
    )
    ran = project.here("run", "other", "--dry-run", "steps=4", "epochs=1")
    assert ran.returncode == 2
    assert problems_of(ran.stderr) == [
        "  epochs=1 (command line): 'epochs' is not in the config; +epochs=… adds it"
    ]
    # a word the check cannot follow (another config folder) leaves the job unchecked
    unchecked = project.here("run", "elsewhere", "--dry-run", "epochs=ten")
    assert unchecked.returncode == 0 and "checked" not in unchecked.stderr
