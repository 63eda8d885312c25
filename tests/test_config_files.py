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
