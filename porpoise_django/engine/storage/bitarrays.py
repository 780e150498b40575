"""Conversions between Redis bitmap strings and numpy arrays of offsets.

Redis numbers bits from the most significant bit of the first byte, which is
numpy's ``bitorder="big"``.
"""

from __future__ import annotations

import numpy as np


def offsets_from_bitmap(raw: bytes | None) -> np.ndarray:
    """Offsets of the set bits of a Redis bitmap value, ascending (int64)."""
    if not raw:
        return np.empty(0, dtype=np.int64)
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="big")
    # flatnonzero over a bool view is several times faster than over uint8.
    return np.flatnonzero(bits.view(np.bool_)).astype(np.int64, copy=False)


def bitmap_from_offsets(offsets: np.ndarray) -> bytes:
    """A Redis bitmap value with exactly ``offsets`` set (duplicates allowed)."""
    if len(offsets) == 0:
        return b""
    bits = np.zeros(int(offsets.max()) + 1, dtype=np.uint8)
    bits[offsets] = 1
    return np.packbits(bits, bitorder="big").tobytes()
