"""Id modes: integers used directly as bit offsets, or an id map to dense indexes."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from porpoise_django.engine.errors import InvalidId
from porpoise_django.engine.storage.keys import KeyScheme
from porpoise_django.engine.storage.scripts import ID_MAP, CommandBuffer
from porpoise_django.engine.values import int_in, plain, text

MAX_INT_ID = (1 << 63) - 1
#: The largest id of "int" mode unless configured: what 32-bit auto-increment
#: keys reach, and a bound on memory per bucket (512 MiB at the worst).
DEFAULT_MAX_ID = (1 << 32) - 1
MAX_EXTERNAL_ID_LENGTH = 256
ID_MODES = ("int", "map")

ExternalId = int | str


class DirectIds:
    """Integer ids in [0, 2**63) are the bit indexes themselves.

    >>> DirectIds().to_indexes([DirectIds().check(5), 7], create=True)
    [5, 7]
    """

    mode = "int"

    def __init__(self, max_id: int = DEFAULT_MAX_ID) -> None:
        if not int_in(max_id, 1, MAX_INT_ID):
            raise ValueError(f"max_id must be an int from 1 to 2**63 - 1, got {max_id!r}")
        self.max_id = max_id

    def check(self, external: object) -> int:
        if not plain(external, int, np.integer):
            raise InvalidId(
                f"id {str(external)[:60]!r} is not an integer: in 'int' id mode ids are "
                f"integers from 0 to {self.max_id}; use id_mode='map' for strings or UUIDs"
            )
        value = int(external)
        if not 0 <= value <= self.max_id:
            shown = str(value) if abs(value) < 10**30 else "a huge integer"
            raise InvalidId(
                f"id {shown} is out of range: ids run from 0 to {self.max_id} (MAX_ID); "
                "use id_mode='map' for larger or sparse ids"
            )
        return value

    def check_array(self, ids: np.ndarray) -> np.ndarray:
        """Validate a whole array of ids at once (bulk import)."""
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu":
            raise InvalidId(f"ids must be an integer array in 'int' id mode, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or int(arr.max()) > self.max_id):
            raise InvalidId(f"ids run from 0 to {self.max_id} (MAX_ID)")
        return arr.astype(np.int64, copy=False)

    def to_indexes(self, externals: Sequence[ExternalId], *, create: bool) -> list[int]:
        """Indexes of ids already validated by :meth:`check` (here: the ids themselves)."""
        return list(externals)  # type: ignore[arg-type]

    def to_externals(self, indexes: np.ndarray) -> np.ndarray:
        return indexes


class IdMap:
    """Strings, UUIDs or sparse integers mapped to dense indexes kept in Redis.

    The map is created atomically by a Lua script and cached in-process (at
    most ``cache_size`` ids; a full cache starts again, which costs lookups,
    never answers). A purge (:meth:`Analytics.delete_all`) bumps a generation
    number kept beside the map and never resets the index sequence; every
    lookup checks that number in the same round trip as the map (a ``GET``
    when every id is cached), so no process keeps using pairs of a map that
    is gone. Ids come back as strings.

    With ``keys.idmap_shards`` above 1, an id belongs to shard
    ``crc32(id) % shards``, each shard in its own slot with its own sequence,
    and an index is ``sequence x shards + shard``: a cluster spreads the map
    over its nodes while the indexes stay dense overall. A lookup is still
    one round trip per batch (a pipeline over the shards). Choose the number
    once: ids already mapped stay where they are only under the same number.
    """

    mode = "map"

    def __init__(self, client: Any, keys: KeyScheme, cache_size: int = 200_000) -> None:
        if not int_in(cache_size, 1):
            raise ValueError(f"id cache size must be a positive int, got {cache_size!r}")
        self._client = client
        self._keys = keys
        self._cache_size = cache_size
        self._forward: dict[str, int] = {}
        self._reverse: dict[int, str] = {}
        self._generation: int | None = None

    def check(self, external: object) -> str:
        if not plain(external, int, str, np.integer):
            if hasattr(external, "hex") and hasattr(external, "int"):  # uuid.UUID
                return str(external)
            raise InvalidId(
                f"id {external!r} must be a string, an integer or a UUID in 'map' id mode"
            )
        text = str(external)
        if not text or len(text) > MAX_EXTERNAL_ID_LENGTH:
            raise InvalidId(f"id must be 1 to {MAX_EXTERNAL_ID_LENGTH} characters long")
        return text

    def shard_of(self, external: str) -> int:
        shards = self._keys.idmap_shards
        return 0 if shards == 1 else zlib.crc32(external.encode()) % shards

    def _remember(self, external: str, index: int) -> None:
        if len(self._forward) >= self._cache_size:
            # A full reset is cheaper than LRU bookkeeping on every lookup;
            # callers never read their answers back from the cache.
            self._forward.clear()
            self._reverse.clear()
        self._forward[external] = index
        self._reverse[index] = external

    def _observe(self, generation: Any) -> bool:
        """Note the map's generation; False (and an empty cache) if it changed."""
        current = int(generation or 0)
        if current == self._generation:
            return True
        fresh = self._generation is None
        self.forget()
        self._generation = current
        return fresh

    def _lookup(self, texts: Sequence[str], create: bool) -> dict[str, int]:
        """Ask the map for ``texts`` (one round trip per 10,000); the generation
        seen by the script is observed, so answers are never from a stale map.
        If a purge lands between two pages, the earlier pages are asked again."""
        found: dict[str, int] = {}
        start = 0
        while start < len(texts):
            part = texts[start : start + 10_000]
            by_shard: dict[int, list[str]] = {}
            for external in part:
                by_shard.setdefault(self.shard_of(external), []).append(external)
            calls = CommandBuffer()
            flag, shards = "1" if create else "0", self._keys.idmap_shards
            for shard, members in by_shard.items():
                ID_MAP.queue(calls, self._keys.idmap_keys(shard), [flag, shards, shard, *members])
            replies = calls.send(self._client, (ID_MAP,))
            # Every shard's generation moves with each purge; the highest is current.
            if not self._observe(max(reply[0] for reply in replies)) and start:
                found, start = {}, 0  # pages before this one came from the old map
                continue
            for members, (_, *indexes) in zip(by_shard.values(), replies, strict=True):
                for external, index in zip(members, indexes, strict=True):
                    if index >= 0:
                        found[external] = int(index)
            start += len(part)
        return found

    def to_indexes(self, externals: Sequence[ExternalId], *, create: bool) -> list[int]:
        """Dense indexes of ids validated by :meth:`check` (-1: unknown and not created).

        Every id of the batch gets its answer, whatever the cache size.
        """
        texts = [str(e) for e in externals]
        known = {t: self._forward[t] for t in texts if t in self._forward}
        missing = sorted(set(texts) - known.keys())
        if missing:
            generation_before = self._generation
            found = self._lookup(missing, create)
            if self._generation != generation_before and known:
                # The map changed under the cached pairs: ask for them again.
                found.update(self._lookup(sorted(known), create))
                known = {}
        elif texts:
            if self._observe(self._client.get(self._keys.generation)):
                found = {}
            else:
                found = self._lookup(sorted(known), create)
                known = {}
        else:
            return []
        answers = {**known, **found}
        for external, index in found.items():
            self._remember(external, index)
        return [answers.get(t, -1) for t in texts]

    def to_externals(self, indexes: np.ndarray) -> list[str]:
        """External ids of ``indexes``; the generation is checked in the same round trip."""
        wanted = [int(i) for i in indexes]
        found: dict[int, str] = {}
        missing = wanted
        for attempt in range(2):
            found = {i: self._reverse[i] for i in wanted if i in self._reverse}
            missing = [i for i in wanted if i not in found]
            pipe = self._client.pipeline(transaction=False)
            pipe.get(self._keys.generation)
            shards = self._keys.idmap_shards
            by_shard: dict[int, list[int]] = {}
            for index in missing:  # one pass, whatever the number of shards
                by_shard.setdefault(index % shards, []).append(index)
            chunks = [
                (shard, mine[s : s + 50_000])
                for shard, mine in by_shard.items()
                for s in range(0, len(mine), 50_000)
            ]
            for shard, part in chunks:
                pipe.hmget(self._keys.idmap_keys(shard)[1], part)
            generation, *replies = pipe.execute()
            if not self._observe(generation) and attempt == 0 and found:
                continue  # cached pairs were from an older map: read them all
            for (_, part), values in zip(chunks, replies, strict=True):
                for index, value in zip(part, values, strict=True):
                    if value is not None:
                        found[index] = text(value)
                        self._remember(found[index], index)
            break
        # An index without a reverse entry is a mark made before a purge by a
        # process that had not yet seen it; it is skipped, never reported
        # under somebody else's id (indexes are never reused).
        return [found[i] for i in wanted if i in found]

    def forget(self) -> None:
        """Drop the in-process cache (after the map was deleted)."""
        self._forward.clear()
        self._reverse.clear()
