"""The check says nothing Hydra itself would not say: words Hydra takes pass it (each
proven by a real run), the ones it refuses are still found, in apps whose loading does
what apps do (print, start threads, import other apps, read Hydra 1.1 defaults)."""

from __future__ import annotations

from check_apps import PY
from conftest import Project

# Prints and starts a thread as it is imported: neither may spoil or hold the check.
# The thread holds only when HOLD is set, so a real run of the app ends.
APP = """\
import os, threading, time

import hydra
from omegaconf import OmegaConf

print("loading the app")
threading.Thread(target=lambda: os.environ.get("HOLD") and time.sleep(3600)).start()


@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg):
    print(OmegaConf.to_yaml(cfg, resolve=False))


if __name__ == "__main__":
    main()
"""

CONFIG = """\
defaults:
  - db: mysql
  - _self_
lr: 0.1
tags: [x, y]
nothing: null
later: ???
opts: {x: 1}
out: ${hydra:runtime.output_dir}
"""

# Every word of `good` is one Hydra takes and an unaware check would refuse: a list
# index, an option in a subfolder of its group, a list of options, `+` on a null or
# ??? key or with a dict, keys under a dict the batch adds.
JOBS = f"""\
jobs:
  good:
    run: {PY} app.py
    add: later=1
    sets:
      - each: tags.0=z +experiment=cifar/r18,exp1
      - each: "db=[mysql,postgres]"
      - each: +nothing=5 +later=2 "+opts={{y:2}}"
      - each: "+newd={{a:1}} newd.a=2"
  bad:
    run: {PY} app.py
    add: later=1
    sets:
      - each: lrr=1 +lr=2 db=oracle +experiment=cifar/r19
      - each: lrr=1
"""


def write(project: Project) -> None:
    project.write("app.py", APP)
    project.write("conf/config.yaml", CONFIG)
    project.write("conf/db/mysql.yaml", "port: 3306\n")
    project.write("conf/db/postgres.yaml", "port: 5432\n")
    project.write("conf/experiment/exp1.yaml", "# @package _global_\nlr: 0.5\n")
    project.write("conf/experiment/cifar/r18.yaml", "# @package _global_\nlr: 0.2\n")
    project.yaml(JOBS)


def test_words_hydra_takes_pass_the_check_and_run(project: Project) -> None:
    write(project)
    checked = project.here("run", "good", "--dry-run", env={"HOLD": "1"})
    assert checked.returncode == 0, checked.stderr
    assert "checked: 5 batches" in checked.stderr and "problem" not in checked.stderr
    ran = project.here("run", "good", "--no-check", "-j", "2")
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_words_hydra_refuses_are_still_found(project: Project) -> None:
    write(project)
    ran = project.here("run", "bad", "--dry-run", env={"HOLD": "1"})
    assert ran.returncode == 2, ran.stderr
    assert "found 4 problems" in ran.stderr
    for word in ("+lr=2", "db=oracle", "+experiment=cifar/r19"):
        assert f"  {word} (hydraflow.yaml:14):" in ran.stderr
    assert "  lrr=1 (hydraflow.yaml:14,15):" in ran.stderr  # every line that sets it
    assert "choose from cifar/r18\n" in ran.stderr  # beside the option asked for
    assert "choose from mysql, postgres\n" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_the_app_the_batches_run_is_checked_not_one_it_imports(project: Project) -> None:
    project.write(
        "evaluate.py",
        '@__import__("hydra").main(version_base=None, config_path="conf_eval",'
        ' config_name="config")\ndef main(cfg):\n    pass\n',
    )
    project.write("conf_eval/config.yaml", "threshold: 0.5\n")
    project.write(
        "train.py",
        "import hydra\nimport evaluate\n\n\n"
        '@hydra.main(version_base=None, config_path="conf_train", config_name="config")\n'
        'def main(cfg):\n    print(cfg.lr)\n\n\nif __name__ == "__main__":\n    main()\n',
    )
    project.write("conf_train/config.yaml", "lr: 0.1\n")
    project.yaml(
        f"jobs:\n  train:\n    run: {PY} train.py\n    sets:\n      - each: lr=0.2\n"
        f"  typo:\n    run: {PY} train.py\n    sets:\n      - each: threshold=1\n"
    )
    assert project.here("run", "train", "--dry-run").returncode == 0
    typo = project.here("run", "typo", "--dry-run")
    assert typo.returncode == 2 and "'threshold' is not in the config" in typo.stderr


def test_hydra_1_1_defaults_find_the_config_beside_the_app(project: Project) -> None:
    # No config_path under version_base 1.1 (or none given): Hydra looks beside the app.
    for version in ('version_base="1.1", ', ""):
        project.write(
            "app.py",
            f'import hydra\n\n\n@hydra.main({version}config_name="config")\n'
            'def main(cfg):\n    print(cfg.lr)\n\n\nif __name__ == "__main__":\n    main()\n',
        )
        project.write("config.yaml", "lr: 0.1\n")
        project.yaml(
            f"jobs:\n  fit:\n    run: {PY} app.py\n    sets:\n      - each: lr=1,2\n"
            f"  typo:\n    run: {PY} app.py\n    sets:\n      - each: lrr=1\n"
        )
        fit = project.here("run", "fit", "--dry-run")
        assert fit.returncode == 0 and "checked: 2 batches" in fit.stderr, fit.stderr
        typo = project.here("run", "typo", "--dry-run")
        assert typo.returncode == 2 and "did you mean 'lr'?" in typo.stderr
