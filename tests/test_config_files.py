"""Finding and reading the file: what is not a readable UTF-8 YAML file is an error with a line."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project, command, run

from hydraflow.config import find, load
from hydraflow.errors import ConfigError


def test_a_directory_named_hydraflow_yaml_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "hydraflow.yaml").write_text("jobs:\n  outer:\n    run: x\n")
    inner = tmp_path / "project"
    (inner / "hydraflow.yaml").mkdir(parents=True)
    with pytest.raises(ConfigError) as caught:
        find(inner)
    assert str(caught.value).startswith(f"{inner / 'hydraflow.yaml'}: is a directory")
    with pytest.raises(ConfigError, match="is a directory"):
        load(inner / "hydraflow.yaml")


def test_a_broken_link_named_hydraflow_yaml_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "hydraflow.yaml").write_text("jobs: {}\n")
    inner = tmp_path / "project"
    inner.mkdir()
    (inner / "hydraflow.yaml").symlink_to(inner / "gone.yaml")
    with pytest.raises(ConfigError, match="is a broken link"):
        find(inner)


def test_the_cli_names_the_directory(project: Project) -> None:
    project.yaml("jobs:\n  outer:\n    run: x\n")
    (project.root / "sub" / "hydraflow.yaml").mkdir(parents=True)
    result = run([*command("hydraflow"), "list"], project.root / "sub")
    assert result.returncode == 2
    assert result.stderr == (
        "error: hydraflow.yaml: is a directory, not a file (use -f PATH for another file)\n"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"jobs:\n  a:\n    help: caf\xe9\n    run: x\n",
            "hydraflow.yaml:3: not UTF-8: byte 0xe9 at column 14 (invalid continuation byte)",
        ),
        (
            "jobs:\n  a:\n    help: é€\n".encode() + b"\xff\n",
            "hydraflow.yaml:4: not UTF-8: byte 0xff at column 1",
        ),
        (
            "jobs:\n  a:\n    run: x\n    help: é\x00\n".encode(),
            "hydraflow.yaml:4: character U+0000 at column 12 is not allowed in YAML",
        ),
        (
            "jobs:\n  a:\n    run: x é\x01\n".encode(),
            "hydraflow.yaml:3: character U+0001 at column 13 is not allowed in YAML",
        ),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "hydraflow.yaml:1: character U+007F at column 1"),
        (b"\x89PNG\r\n\x1a\n", "hydraflow.yaml:1: not UTF-8: byte 0x89 at column 1"),
    ],
)
def test_bytes_that_are_not_yaml_text_name_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hydraflow.yaml").write_bytes(data)
    with pytest.raises(ConfigError) as caught:
        load(Path("hydraflow.yaml"))
    assert str(caught.value).startswith(message)


def test_a_binary_file_exits_2_with_the_line(project: Project) -> None:
    (project.root / "hydraflow.yaml").write_bytes(b"jobs:\n  a:\n    run: x\n  b: \xff\xfe\n")
    result = project.hydraflow("list")
    assert result.returncode == 2
    assert result.stderr.startswith("error: hydraflow.yaml:4: not UTF-8: byte 0xff at column 6")
    assert "Traceback" not in result.stderr
