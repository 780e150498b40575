"""Conversions between Redis bitmap strings and numpy arrays of offsets.

Redis numbers bits from the most significant bit of the first byte, which is
numpy's ``bitorder="big"``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: Bits scattered at once when building many bitmaps (a bool each: 64 MiB).
SCATTER_BITS = 1 << 26
#: Beyond this many blocks of SCATTER_BITS, grouping by sorting is cheaper.
MAX_SCATTER_BLOCKS = 16


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


def group_bitmaps(
    group: np.ndarray, offsets: np.ndarray, width: int
) -> Iterator[tuple[int, bytes]]:
    """``(group number, bitmap of its offsets)`` for each group present, in
    increasing order: ``group[i]`` holds ``offsets[i]`` (< ``width``, a multiple of 8).

    The bits are scattered into one bool matrix (a row per group) and packed
    row by row, with no sort: a few blocks of at most :data:`SCATTER_BITS`
    when the groups are many. Past :data:`MAX_SCATTER_BLOCKS` blocks (an hour
    bucket per chunk over months) the offsets are sorted into groups instead.
    Each bitmap is as long as its highest set bit needs, as
    :func:`bitmap_from_offsets` makes it.

    >>> [(g, b.hex()) for g, b in group_bitmaps(np.array([2, 0, 2]), np.array([0, 9, 15]), 16)]
    [(0, '0040'), (2, '8001')]
    """
    if len(group) == 0:
        return
    rows = max(1, SCATTER_BITS // width)
    blocks = int(group.max()) // rows + 1
    if blocks > MAX_SCATTER_BLOCKS:
        yield from _sorted_groups(group, offsets)
        return
    for block in range(blocks):
        if blocks == 1:
            members, held = group, offsets
        else:
            mask = (group // rows) == block
            members, held = group[mask] - block * rows, offsets[mask]
        if len(members):
            for row, raw in _packed_rows(members, held, width):
                yield block * rows + row, raw


def _packed_rows(group: np.ndarray, offsets: np.ndarray, width: int) -> Iterator[tuple[int, bytes]]:
    count = int(group.max()) + 1
    bits = np.zeros(count * width, dtype=np.bool_)
    bits[group.astype(np.int64) * width + offsets] = True
    packed = np.packbits(bits.reshape(count, width), axis=1, bitorder="big")
    nonzero = packed != 0
    # Each row's length: up to its last byte with a bit set.
    lengths = packed.shape[1] - np.argmax(nonzero[:, ::-1], axis=1)
    for row in np.flatnonzero(nonzero.any(axis=1)).tolist():
        yield row, packed[row, : lengths[row]].tobytes()


def _sorted_groups(group: np.ndarray, offsets: np.ndarray) -> Iterator[tuple[int, bytes]]:
    # Few groups (buckets x chunks): a 16-bit key sorts by radix, in linear time,
    # and the groups' sizes come from counting them, not from the sorted keys.
    key = group.astype(np.uint16) if int(group.max()) < 2**16 else group
    order = np.argsort(key, kind="stable")
    sorted_offsets = offsets[order]
    sizes = np.bincount(group)
    present = np.flatnonzero(sizes)
    ends = np.cumsum(sizes)[present]
    starts = ends - sizes[present]
    for number, s, e in zip(present.tolist(), starts.tolist(), ends.tolist(), strict=True):
        yield number, bitmap_from_offsets(sorted_offsets[s:e])
