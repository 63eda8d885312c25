"""hydraflow: run Hydra sweeps from a hydraflow.yaml of jobs, as Invoke tasks or from the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hydraflow.sweep import SweepError, collect, count, expand

if TYPE_CHECKING:
    from hydraflow.tasks import collection

__version__ = "0.1.0"
__all__ = ["SweepError", "__version__", "collect", "collection", "count", "expand"]


def __getattr__(name: str) -> Any:
    # Invoke is imported only by those who ask for the collection.
    if name == "collection":
        from hydraflow.tasks import collection

        return collection
    raise AttributeError(f"module 'hydraflow' has no attribute {name!r}")
