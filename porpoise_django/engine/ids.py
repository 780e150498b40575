"""Id modes: integers used directly as bit offsets, or an id map to dense indexes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InvalidId
from .keys import KeyScheme
from .scripts import ID_MAP

MAX_INT_ID = (1 << 63) - 1
MAX_EXTERNAL_ID_LENGTH = 256
ID_MODES = ("int", "map")

ExternalId = int | str


class DirectIds:
    """Integer ids in [0, 2**63) are the bit indexes themselves.

    >>> DirectIds().to_indexes([DirectIds().check(5), 7], create=True)
    [5, 7]
    """

    mode = "int"

    def check(self, external: object) -> int:
        if isinstance(external, bool) or not isinstance(external, (int, np.integer)):
            raise InvalidId(
                f"id {external!r} is not an integer: in 'int' id mode ids are integers "
                f"in [0, 2**63); use id_mode='map' for strings or UUIDs"
            )
        value = int(external)
        if not 0 <= value <= MAX_INT_ID:
            raise InvalidId(f"id {value} is out of range: ids must be in [0, 2**63)")
        return value

    def check_array(self, ids: np.ndarray) -> np.ndarray:
        """Validate a whole array of ids at once (bulk import)."""
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu":
            raise InvalidId(f"ids must be an integer array in 'int' id mode, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or (arr.dtype.kind == "u" and arr.max() > MAX_INT_ID)):
            raise InvalidId("ids must be in [0, 2**63)")
        return arr.astype(np.int64, copy=False)

    def to_indexes(self, externals: Sequence[ExternalId], *, create: bool) -> list[int]:
        """Indexes of ids already validated by :meth:`check` (here: the ids themselves)."""
        return list(externals)  # type: ignore[arg-type]

    def to_externals(self, indexes: np.ndarray) -> np.ndarray:
        return indexes


class IdMap:
    """Strings, UUIDs or sparse integers mapped to dense indexes kept in Redis.

    The map is created atomically by a Lua script and cached in-process, so a
    known id costs no round trip. Ids come back as strings.
    """

    mode = "map"

    def __init__(self, client: Any, keys: KeyScheme, cache_size: int = 200_000) -> None:
        self._client = client
        self._keys = keys
        self._cache_size = cache_size
        self._forward: dict[str, int] = {}
        self._reverse: dict[int, str] = {}

    def check(self, external: object) -> str:
        if isinstance(external, bool) or not isinstance(external, (int, str, np.integer)):
            if hasattr(external, "hex") and hasattr(external, "int"):  # uuid.UUID
                return str(external)
            raise InvalidId(
                f"id {external!r} must be a string, an integer or a UUID in 'map' id mode"
            )
        text = str(external)
        if not text or len(text) > MAX_EXTERNAL_ID_LENGTH:
            raise InvalidId(f"id must be 1 to {MAX_EXTERNAL_ID_LENGTH} characters long")
        return text

    def _remember(self, external: str, index: int) -> None:
        if len(self._forward) >= self._cache_size:
            # A full reset is cheaper than LRU bookkeeping on every lookup.
            self._forward.clear()
            self._reverse.clear()
        self._forward[external] = index
        self._reverse[index] = external

    def to_indexes(self, externals: Sequence[ExternalId], *, create: bool) -> list[int]:
        """Dense indexes of ids validated by :meth:`check` (-1: unknown and not created)."""
        texts = [str(e) for e in externals]
        missing = sorted({t for t in texts if t not in self._forward})
        if missing:
            keys = [self._keys.idmap_forward, self._keys.idmap_reverse, self._keys.idmap_sequence]
            for start in range(0, len(missing), 10_000):
                part = missing[start : start + 10_000]
                found = ID_MAP(self._client, keys, ["1" if create else "0", *part])
                for text, index in zip(part, found, strict=True):
                    if index >= 0:
                        self._remember(text, int(index))
        return [self._forward.get(t, -1) for t in texts]

    def to_externals(self, indexes: np.ndarray) -> list[str]:
        found = {i: self._reverse[i] for i in map(int, indexes) if i in self._reverse}
        wanted = [i for i in map(int, indexes) if i not in found]
        for start in range(0, len(wanted), 50_000):
            part = wanted[start : start + 50_000]
            values = self._client.hmget(self._keys.idmap_reverse, part)
            for index, value in zip(part, values, strict=True):
                if value is not None:
                    text = value.decode() if isinstance(value, bytes) else str(value)
                    found[index] = text
                    self._remember(text, index)
        # An index without a reverse entry cannot happen unless the map was
        # deleted under us; it is skipped rather than reported under a wrong id.
        return [found[i] for i in map(int, indexes) if i in found]

    def forget(self) -> None:
        """Drop the in-process cache (after the map was deleted)."""
        self._forward.clear()
        self._reverse.clear()
