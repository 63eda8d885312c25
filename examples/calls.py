"""A `call` target: hydraflow calls `train(args)` once per batch, in its own process."""

from __future__ import annotations

import sys
from pathlib import Path

from hydra.core.global_hydra import GlobalHydra

sys.path.insert(0, str(Path(__file__).parent))


def train(args: list[str]) -> None:
    """Run the Hydra app in-process with `args` as its command line."""
    from train import main

    GlobalHydra.instance().clear()
    saved = sys.argv
    sys.argv = [str(Path(__file__).with_name("train.py")), *args]
    try:
        main()
    finally:
        sys.argv = saved
