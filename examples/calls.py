"""A `call` target: hydraflow calls `train(args)` once per batch, in its own process."""

from __future__ import annotations

import sys

from hydra.core.global_hydra import GlobalHydra


def train(args: list[str]) -> None:
    """Run the Hydra app in-process with `args` as its command line."""
    from train import main  # examples/ is on sys.path: hydraflow adds the yaml's folder

    GlobalHydra.instance().clear()
    saved = sys.argv
    sys.argv = ["train.py", *args]
    try:
        main()
    finally:
        sys.argv = saved
