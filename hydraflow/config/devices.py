"""Device lists, as ``devices:`` in the file and ``--devices`` on a command line give them.

Each id becomes a worker's ``CUDA_VISIBLE_DEVICES``, so it must be one id:
a number or a name such as ``GPU-8c1e…`` or ``MIG-…``, never a list of them.
"""

from __future__ import annotations


def parse_devices(text: str) -> tuple[str, ...]:
    """The ids of a comma list such as ``"0,1"``; blank text is no devices.

    Raises ValueError with a message naming the bad item.
    """
    if not text.strip():
        return ()
    return tuple(device_id(item) for item in text.split(","))


def device_id(text: str) -> str:
    """One device id, stripped; raises ValueError when it is empty or holds several."""
    item = text.strip()
    if not item:
        raise ValueError(f"empty device id in {text!r} (a comma too many?)")
    if "," in item or any(ch.isspace() for ch in item):
        raise ValueError(f"{item!r} is not one device id; separate ids with commas, as in 0,1")
    return item
