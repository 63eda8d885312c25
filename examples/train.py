"""A small but real Hydra app: fit a line by gradient descent and return the final loss.

Run it alone (`python examples/train.py model=large optimizer.lr=0.05`) or
through hydraflow (`invoke train`), which records what it returns in each run's
folder: `hydraflow results train` then shows every run's loss side by side.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import hydra
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def fit(width: int, lr: float, momentum: float, epochs: int, seed: int) -> float:
    """Least-squares fit of y = 3x + 1 with `width` noisy samples; returns the final loss."""
    rng = random.Random(seed)
    xs = [rng.uniform(-1, 1) for _ in range(width)]
    ys = [3 * x + 1 + rng.gauss(0, 0.1) for x in xs]
    w = b = vw = vb = 0.0
    loss = float("inf")
    for _ in range(epochs):
        errors = [w * x + b - y for x, y in zip(xs, ys, strict=True)]
        loss = sum(e * e for e in errors) / width
        gw = 2 * sum(e * x for e, x in zip(errors, xs, strict=True)) / width
        gb = 2 * sum(errors) / width
        vw, vb = momentum * vw - lr * gw, momentum * vb - lr * gb
        w, b = w + vw, b + vb
    return loss


# An absolute config path works whether this runs as a script or is imported (call jobs).
@hydra.main(
    version_base=None, config_path=str(Path(__file__).parent / "conf"), config_name="config"
)
def main(cfg: DictConfig) -> dict[str, float]:
    loss = fit(cfg.model.width, cfg.optimizer.lr, cfg.optimizer.momentum, cfg.epochs, cfg.seed)
    log.info("model=%s lr=%s seed=%s loss=%.6f", cfg.model.name, cfg.optimizer.lr, cfg.seed, loss)
    return {"loss": loss}


if __name__ == "__main__":
    main()
