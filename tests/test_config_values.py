"""Values of the wrong kind or tag: ``KEY must be …, not …`` with the line, never a traceback."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import Project
from hypothesis import given, settings
from hypothesis import strategies as st

from hydraflow.config import Config, load, parse_devices
from hydraflow.config.values import Values
from hydraflow.errors import ConfigError

Read = Callable[[str | bytes], Config]


@pytest.fixture
def read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Read:
    """Load a hydraflow.yaml of this text, from its folder (errors name it as written)."""
    monkeypatch.chdir(tmp_path)

    def read(text: str | bytes) -> Config:
        path = tmp_path / "hydraflow.yaml"
        if isinstance(text, str):
            text = text.encode()
        path.write_bytes(text)
        return load(path)

    return read


def job(*lines: str) -> str:
    return "jobs:\n  a:\n" + "".join(f"    {line}\n" for line in lines)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            job("run: x", "parallel: 2001-13-45"),
            4,
            "parallel must be a whole number of at least 1, not a date",
        ),
        (job("run: x", "parallel: !foo 3"), 4, "not a value tagged !foo"),
        (
            job("run: x", "parallel: true"),
            4,
            "parallel must be a whole number of at least 1, not true/false",
        ),
        (job("run: x", "parallel: 2.0"), 4, "not a number"),
        (job("run: x", "parallel: '3'"), 4, "not a string"),
        (job("run: x", "parallel: 0"), 4, "not 0"),
        (job("run: x", "parallel: !!int x"), 4, "not 'x'"),
        (job("run: x", "parallel: [1]"), 4, "not a list"),
        (job("run: x", "help: {a: 1}"), 4, "help must be a string, not a mapping"),
        (job("run: [x]"), 3, "run must be a string, not a list"),
        (job("run: !foo x"), 3, "run must be a string, not a value tagged !foo"),
        (job("run: !!binary aGk="), 3, "not binary data"),
        (job("run: x", "name: [a]"), 4, "name must be a string, not a list"),
        (job("run: x", "add: {a: 1}"), 4, "add must be a string, not a mapping"),
        (job("run: x", "sets: {each: a=1}"), 4, "sets must be a list, not a mapping"),
        (job("run: x", "sets:", "  - each: [a=1]"), 5, "each must be a string, not a list"),
        (job("run: x", "sets:", "  - all: {a: 1}"), 5, "all must be a string, not a mapping"),
        (job("submit: h", "warm: true"), 4, "warm is for run and call jobs"),
        (job("submit: h", "warm: [torch]"), 4, "warm is for run and call jobs"),
        ("jobs: [a]\n", 1, "jobs must be a mapping, not a list"),
        ("- a\n", 1, "the file must be a mapping, not a list"),
    ],
)
def test_wrong_kinds_name_the_key_and_line(read: Read, text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read(text)
    assert str(caught.value).startswith(f"hydraflow.yaml:{line}: ")
    assert message in str(caught.value)


def test_a_submit_job_may_say_it_is_not_warm(read: Read) -> None:
    assert read(job("submit: h", "warm: false")).jobs["a"].warm is False


def test_scalars_read_as_written(read: Read) -> None:
    loaded = read(job("run: python 1.0 true", "help: 2001-13-45 yes", "name: 2024-01-01"))
    a = loaded.job("a")
    assert a.command == ("python", "1.0", "true")
    assert a.help == "2001-13-45 yes"
    assert a.name == "2024-01-01"
    assert read(job("run: x", "parallel: 0x10")).job("a").parallel == 16


def test_show_keeps_unparseable_scalars_as_text(project: Project) -> None:
    project.yaml(job("run: x", "help: 2001-13-45", "parallel: 2"))
    result = project.hydraflow("show", "a")
    assert result.returncode == 0, result.stderr
    assert "help: '2001-13-45'" in result.stdout and "parallel: 2" in result.stdout


@pytest.mark.parametrize(
    "text", [job("run: x", "parallel: 2001-13-45"), job("run: x", "parallel: !foo 3")]
)
def test_wrong_kinds_exit_2_without_traceback(project: Project, text: str) -> None:
    project.yaml(text)
    result = project.hydraflow("list")
    assert result.returncode == 2
    assert result.stderr.startswith("error: hydraflow.yaml:4: parallel must be")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("written", "devices"),
    [
        ("[0, 1]", ("0", "1")),
        ("0,1", ("0", "1")),
        ("' 0 , 1 '", ("0", "1")),
        ("3", ("3",)),
        ("[GPU-8c1e, MIG-1/2]", ("GPU-8c1e", "MIG-1/2")),
        ("''", ()),
        ("[]", ()),
        ("~", ()),
    ],
)
def test_devices(read: Read, written: str, devices: tuple[str, ...]) -> None:
    assert read(job("run: x", f"devices: {written}")).job("a").devices == devices


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("[[0], {a: 1}]", "each device must be a device number or id, not a list"),
        ("[0, {a: 1}]", "not a mapping"),
        ("[true]", "not true/false"),
        ("[1.5]", "not a number"),
        ("[-1]", "not -1"),
        ("['0,1']", "'0,1' is not one device id"),
        ("['0 1']", "'0 1' is not one device id"),
        ("['']", "empty device id"),
        ("0,,1", "empty device id"),
        ("'0,1,'", "empty device id"),
        ("{a: 1}", "devices must be device ids"),
        ("true", "not true/false"),
    ],
)
def test_bad_devices(read: Read, written: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read(job("run: x", f"devices: {written}"))
    assert str(caught.value).startswith("hydraflow.yaml:4: ")
    assert message in str(caught.value)


def test_devices_hidden_in_nested_anchors_are_refused(read: Read) -> None:
    nested = "&b [&a [0, 0, 0], *a, *a]"
    with pytest.raises(ConfigError, match="each device must be a device number or id, not a list"):
        read(job("run: x", f"devices: [{nested}, *b, *b]"))


def test_parse_devices() -> None:
    assert parse_devices("0,1") == ("0", "1")
    assert parse_devices(" 2 ") == ("2",)
    assert parse_devices("") == ()
    with pytest.raises(ValueError, match="empty device id"):
        parse_devices("0,")
    with pytest.raises(ValueError, match="not one device id"):
        parse_devices("0 1")


@pytest.mark.parametrize(
    "target",
    ["func", "pkg.", ".func", "pkg..func", "pkg.func-x", "pkg.class.f", "1pkg.f", "x" * 300],
)
def test_call_needs_module_dot_function(read: Read, target: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read(job("run: x", "parallel: 1").replace("run: x", f"call: {target} --flag"))
    assert str(caught.value).startswith("hydraflow.yaml:3: call must be module.function")
    assert len(str(caught.value)) < 200


def test_call_keeps_its_arguments(read: Read) -> None:
    a = read(job("call: pkg.mod.main --config-name=x a=1")).job("a")
    assert a.command == ("pkg.mod.main", "--config-name=x", "a=1")


@pytest.mark.parametrize("command", [("list",), ("run", "a", "--dry-run")])
def test_call_without_module_fails_before_running(
    project: Project, command: tuple[str, ...]
) -> None:
    project.yaml(job("call: func"))
    result = project.hydraflow(*command)
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith("error: hydraflow.yaml:3: call must be module.function")


@given(st.text(alphabet="ab =#'\"\\\t\n\r\x0b\x0c\xa0", max_size=25))
@settings(max_examples=500)
def test_words_split_like_shlex(text: str) -> None:
    values = Values(Path("hydraflow.yaml"), yaml.ScalarNode("tag:yaml.org,2002:str", ""))
    mark = yaml.Mark("hydraflow.yaml", 0, 0, 0, None, None)
    node = yaml.ScalarNode("tag:yaml.org,2002:str", text, mark, mark)
    try:
        expected: list[str] | None = shlex.split(text)
    except ValueError:
        expected = None
    try:
        got: list[str] | None = values.words(text, node, "run")
    except ConfigError:
        got = None
    assert got == expected


def test_long_quoted_text_splits_like_shlex(read: Read) -> None:
    text = "python " + 'a \'b c\' "d\\"e" f\\ g ' * 800  # past the length shlex is given
    assert read(job(f"run: {yaml.safe_dump(text).strip()}")).job("a").command == tuple(
        shlex.split(text)
    )
