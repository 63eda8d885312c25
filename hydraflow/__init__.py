"""hydraflow: run Hydra sweeps from a hydraflow.yaml of jobs, as Invoke tasks or from the CLI."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hydraflow.analysis import results
    from hydraflow.pruning import report
    from hydraflow.sweep import SweepError, collect, count, expand
    from hydraflow.tasks import collection

__version__ = "0.1.0"
__all__ = [
    "SweepError",
    "__version__",
    "collect",
    "collection",
    "count",
    "expand",
    "report",
    "results",
]

# Imported on first use: a tasks.py that only lists jobs pays for neither the
# sweep engine nor anything else it does not touch.
_LAZY = {
    "SweepError": "hydraflow.sweep",
    "collect": "hydraflow.sweep",
    "count": "hydraflow.sweep",
    "expand": "hydraflow.sweep",
    "collection": "hydraflow.tasks",
    "results": "hydraflow.analysis",
    "report": "hydraflow.pruning",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hydraflow' has no attribute {name!r}")
