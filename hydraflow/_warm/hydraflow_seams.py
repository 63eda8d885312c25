"""Where hydraflow changes how Hydra runs a batch, each change held to the Hydra versions
whose code it was read against. On any other version it does nothing, so an upgrade
of Hydra can make a batch slower, never wrong. Standard library only at its top.
"""

from __future__ import annotations

# Read against each release's source: Hydra 1.3.0 to 1.3.8 share the basic sweeper's
# `sweep` and `Sweeper.validate_batch_is_legal` (tests/test_check.py pins it).
TRUSTED_HYDRA = frozenset(f"1.3.{patch}" for patch in range(9))


def trust_the_check(version: str | None = None) -> bool:
    """Skip the composition Hydra's basic sweeper does of every job of a batch only to
    validate it (it composes each again to run it): hydraflow's check composed this
    batch before it started. Returns whether the seam holds here."""
    try:
        import hydra
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.plugins.sweeper import Sweeper
    except ImportError:
        return False
    if (version or hydra.__version__) not in TRUSTED_HYDRA:
        return False
    if not callable(getattr(Sweeper, "validate_batch_is_legal", None)):
        return False
    BasicSweeper.validate_batch_is_legal = _validated_before  # type: ignore[method-assign]
    return True


def _validated_before(self: object, batch: object) -> None:
    """hydraflow's check composed this batch before it started."""
