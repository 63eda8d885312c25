"""Two real Hydra apps for the check before launch, with the same shape: a ``model`` group
(``small``, ``large``), an ``optim`` node (``lr``, ``steps``), ``epochs`` and a mandatory
``name``. One is read from YAML files, one from dataclasses in Hydra's ConfigStore (so
its values have types). Each run of either appends a few of its values to ``$RECORD``
and returns its ``loss`` (the model's width times the learning rate).
"""

from __future__ import annotations

import shlex
import sys

from conftest import Project

PY = shlex.quote(sys.executable)

_TASK = """\
def record(cfg):
    import json, os
    with open(os.environ["RECORD"], "a") as out:
        out.write(json.dumps([cfg.model.width, cfg.epochs, cfg.name]) + "\\n")
    return {"loss": cfg.model.width * cfg.optim.lr}
"""

YAML_APP = (
    "import hydra\n\n"
    + _TASK
    + """
@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg):
    return record(cfg)


if __name__ == "__main__":
    main()
"""
)

DATACLASS_APP = (
    """\
from dataclasses import dataclass, field
from typing import Any

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class Optim:
    lr: float = 0.1
    steps: int = 10


@dataclass
class Small:
    width: int = 64


@dataclass
class Large:
    width: int = 256


@dataclass
class Config:
    defaults: list = field(default_factory=lambda: ["_self_", {"model": "small"}])
    model: Any = MISSING
    epochs: int = 30
    name: str = MISSING
    optim: Optim = field(default_factory=Optim)


store = ConfigStore.instance()
store.store(name="config", node=Config)
store.store(group="model", name="small", node=Small)
store.store(group="model", name="large", node=Large)

"""
    + _TASK
    + """
@hydra.main(version_base=None, config_name="config")
def main(cfg):
    return record(cfg)


if __name__ == "__main__":
    main()
"""
)

APPS = {"yaml": YAML_APP, "dataclass": DATACLASS_APP}


def write_app(project: Project, kind: str) -> None:
    project.write("app.py", APPS[kind])
    if kind == "yaml":
        project.write(
            "conf/config.yaml",
            """\
            defaults:
              - model: small
              - _self_
            optim:
              lr: 0.1
              steps: 10
            epochs: 30
            name: ???
            """,
        )
        project.write("conf/model/small.yaml", "width: 64\n")
        project.write("conf/model/large.yaml", "width: 256\n")


def started_nothing(project: Project) -> bool:
    """No sweep folder, no ledger, no run: nothing of the job began."""
    return (
        not (project.root / "multirun").exists()
        and not (project.root / ".hydraflow" / "ledger.db").exists()
        and not project.records()
    )
