"""Hostile files end quickly: reading one takes about as long as PyYAML takes to compose it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project, assert_linear, capped
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hydraflow.config import load
from hydraflow.errors import ConfigError


def laughs(levels: int = 9) -> str:
    """Nine levels of nine aliases: a few hundred bytes that expand to 9^9 values."""
    lines = ["    x0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels):
        lines.append(f"    x{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text",
    [
        # `${` in a string once forced a walk of every alias, 9^9 of them.
        "jobs:\n  a:\n    run: python ${oc.env:HOME}\n    sets:\n      - each: x=1\n" + laughs(),
        "# ${only.a.comment}\njobs:\n  a:\n    run: x\n    sets:\n      - each: x=1\n" + laughs(),
        "jobs:\n  a:\n    run: x\n    devices:\n" + laughs().replace("    x", "      - x"),
    ],
)
def test_billion_laughs_are_refused_quickly(project: Project, text: str) -> None:
    project.yaml(text)
    result = capped(project, "list")
    assert result.returncode == 2
    assert result.stderr.startswith("error: hydraflow.yaml:")
    assert "Traceback" not in result.stderr


def test_the_anchor_that_explodes_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("hydraflow.yaml").write_text("jobs:\n  a:\n    run: x\n    sets:\n" + laughs())
    with pytest.raises(ConfigError) as caught:
        load(Path("hydraflow.yaml"))
    # The biggest anchor that is used more than once: &a7, on line 12.
    assert str(caught.value).startswith("hydraflow.yaml:12: aliases of this anchor expand")


def test_modest_aliases_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "hydraflow.yaml"
    path.write_text(
        "jobs:\n"
        "  a:\n    run: &py python app.py\n    add: &launcher hydra/launcher=joblib\n"
        "    sets: &sets\n      - each: model=a,b\n      - each: model=c\n"
        "  b:\n    run: *py\n    add: *launcher\n    sets: *sets\n"
    )
    loaded = load(path).check()
    assert loaded.job("b").command == ("python", "app.py")
    assert loaded.job("b").batches == 3


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hydraflow.yaml"
    path.write_text("jobs:\n  a:\n    run: x\n    sets: &s [{each: x=1}, *s]\n")
    with pytest.raises(ConfigError, match="alias refers to the anchor that contains it"):
        load(path)


@pytest.mark.parametrize("quote", ["", "'"])
def test_a_two_megabyte_word_loads_in_linear_time(project: Project, quote: str) -> None:
    word = "a" * 2_000_000
    project.yaml(f"jobs:\n  a:\n    run: python {quote}{word}{quote}\n    add: b={word}\n")
    job = load(project.root / "hydraflow.yaml").job("a")
    assert job.command == ("python", word) and job.add == (f"b={word}",)

    def load_word(size: int) -> None:
        word = "a" * size
        project.yaml(f"jobs:\n  a:\n    run: python {quote}{word}{quote}\n    add: b={word}\n")
        load(project.root / "hydraflow.yaml").job("a")

    assert_linear(load_word, 2_000_000)


def test_long_values_are_cut_short_in_messages(project: Project) -> None:
    project.yaml(f"jobs:\n  a:\n    call: {'x' * 2_000_000}\n")
    result = capped(project, "list")
    assert result.returncode == 2
    assert len(result.stderr) < 300 and "(2000000 characters)" in result.stderr


def test_an_unclosed_quote_shows_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("hydraflow.yaml").write_text("jobs:\n  a:\n    run: python 'app.py\n")
    with pytest.raises(ConfigError) as caught:
        load(Path("hydraflow.yaml"))
    assert str(caught.value) == (
        "hydraflow.yaml:3: run: unclosed quote\n  python 'app.py\n         ^"
    )


def test_a_two_megabyte_unknown_key_is_named_briefly(project: Project) -> None:
    # YAML allows long keys only in the explicit `? key` form.
    project.yaml(f"jobs:\n  a:\n    run: x\n    ? {'k' * 2_000_000}\n    : 1\n")
    result = capped(project, "list")
    assert result.returncode == 2
    assert result.stderr.startswith("error: hydraflow.yaml:4: unknown key 'kkk")
    assert len(result.stderr) < 300


VALID = """\
jobs:
  train:
    help: 2001-01-01
    run: python ${oc.env:HF_UNSET,app.py} ${now:%H} ${jobs.eval.help} ${.name}
    name: ${oc.env:HF_UNSET,t}
    parallel: ${oc.env:HF_UNSET,2}
    devices: [0, &d 1, *d]
    add: a=1 'b c'
    sets: &s
      - each: a=${jobs.train.name} b=1:3
        zip: c=1,2|d=3 e=4,5
        all: f=1:2
  eval:
    call: m.f ${now:%H}
    help: evaluate
    sets: *s
"""
PIECES = [
    *("${", "}", "&a ", "*a", "*s", "*d", "[", "]", "{", ": ", "- ", "\n", "  ", "\t", "#"),
    *("!foo ", "!!int ", "!!binary ", "'", '"', "\\", "|", ",", "2001-13-45", "~", "\x00"),
    *("? ", "<<: *s", "${now:%H}", "${oc.env:HF_UNSET}", "${.x}", "${jobs}", "${jobs.train}"),
    *("%", ":", "0x", "-1", "true", "é"),
]
EDITS = st.lists(
    st.tuples(st.floats(0, 1), st.sampled_from(["", *PIECES]), st.integers(0, 4)), max_size=6
)


@given(EDITS)
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_damaged_file_loads_or_names_its_line(
    tmp_path: Path, edits: list[tuple[float, str, int]]
) -> None:
    """A valid file with a few pieces inserted or cut: it loads, or the error names a line."""
    text = VALID
    for where, piece, cut in edits:
        at = int(where * len(text))
        text = text[:at] + piece + text[at + cut :]
    path = tmp_path / "hydraflow.yaml"
    path.write_text(text)
    try:
        config = load(path).check()
        for job in config.jobs.values():
            _ = job.raw, job.runs, job.summary()
    except ConfigError as error:
        assert error.line > 0, str(error)
