"""Id modes: integers used directly as bit offsets, or an id map to dense indexes."""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from porpoise_django.engine.errors import IdMapMismatch, InvalidId
from porpoise_django.engine.storage.keys import KeyScheme
from porpoise_django.engine.storage.scripts import (
    ID_ADOPT,
    ID_FORGET,
    ID_MAP,
    ID_REVERSE,
    STORE_EPOCH,
    CommandBuffer,
)
from porpoise_django.engine.values import int_in, plain, text

MAX_INT_ID = (1 << 63) - 1
#: The largest id of "int" mode unless configured: what 32-bit auto-increment
#: keys reach, and a bound on memory per bucket (512 MiB at the worst).
DEFAULT_MAX_ID = (1 << 32) - 1
MAX_EXTERNAL_ID_LENGTH = 256
ID_MODES = ("int", "map")

ExternalId = int | str

_UUID_LOWER = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_UUID_UPPER = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")


def pack_id(external: str) -> bytes:
    """The bytes the id map stores for an id: a UUID string in canonical form
    (all lower or all upper case) as a mark byte and its 16 bytes, anything
    else as its UTF-8 (which never holds the bytes 0xfe and 0xff).

    >>> pack_id("user-42"), len(pack_id("2f1c6a4e-8b1d-4f6e-9a3b-0c5d7e9f1a2b"))
    (b'user-42', 17)
    """
    if len(external) == 36:
        if _UUID_LOWER.fullmatch(external):
            return b"\xff" + bytes.fromhex(external.replace("-", ""))
        if _UUID_UPPER.fullmatch(external):
            return b"\xfe" + bytes.fromhex(external.replace("-", ""))
    return external.encode()


def unpack_id(stored: bytes) -> str:
    """The id of bytes written by :func:`pack_id`.

    >>> unpack_id(pack_id("2F1C6A4E-8B1D-4F6E-9A3B-0C5D7E9F1A2B"))
    '2F1C6A4E-8B1D-4F6E-9A3B-0C5D7E9F1A2B'
    """
    mark = stored[:1]
    if mark not in (b"\xff", b"\xfe"):
        return stored.decode()
    h = stored[1:].hex()
    text = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return text.upper() if mark == b"\xfe" else text


def encode_id(external: str) -> bytes:
    """What the id map's scripts are sent for an id: a 5-byte digest (its forward
    bucket and field) followed by :func:`pack_id`."""
    packed = pack_id(external)
    return hashlib.blake2b(packed, digest_size=5).digest() + packed


def queue_store_epoch(
    calls: CommandBuffer, keys: KeyScheme, token: str, shards: int | str, write: bool
) -> None:
    """Queue :data:`STORE_EPOCH`: generation, epoch token and stored shard count
    (``shards=""`` outside "map" id mode), writing what is missing if ``write``."""
    head = [
        keys.generation,
        keys.epoch,
        keys.idmap_shard_count,
        f"{keys.prefix}:{{idmap}}:fwd",  # a one-shard map made before the count was kept
    ]
    STORE_EPOCH.queue(calls, head, [token, shards, "1" if write else "0"])


def store_epoch(client: Any, keys: KeyScheme, shards: int | str = "") -> str:
    """The store's epoch, ``"<generation>:<token>"``, creating the token if there is
    none: it changes with every purge and after the data was lost (FLUSHDB, a
    Redis that restarted empty). One round trip."""
    calls = CommandBuffer()
    queue_store_epoch(calls, keys, secrets.token_hex(8), shards, True)
    generation, token, _ = calls.send(client, (STORE_EPOCH,))[0]
    return f"{int(generation or 0)}:{text(token)}"


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
    one round trip per batch (a pipeline over the shards). The number is
    stored beside the map when it is created (``{idmap}:shards``) and checked
    by every lookup that asks the server: a process configured with another
    number raises :class:`IdMapMismatch` instead of reading or writing ids
    at the wrong indexes (purge the map to change it).

    The map lives in many small hashes that Redis keeps in its compact
    listpack encoding (at most 128 fields of at most 64 bytes): about 30 bytes
    per id where one hashtable each way cost 80 to 140. An id's index is
    ``sequence x shards + shard``; its shard's *reverse* buckets
    ``<base>:r:<sequence // 128>`` hold field ``sequence % 128`` -> the id
    (:func:`pack_id`: a UUID in 17 bytes), so they fill up one after another.
    The *forward* buckets ``<base>:f:<n>`` hold a 5-byte digest of the id ->
    its sequence, and grow by linear hashing: when the shard holds more than
    40 ids per bucket, the script splits the next bucket in turn, so a bucket
    holds 40 ids on average and under 128 even when its turn comes last (the
    bucket count is kept in ``<base>:fm``). A digest is checked against the
    reverse entry it leads to; two ids of one digest chain (the second's field
    is the digest and a byte 1, ...). Ids over 64 bytes stay in one hash per
    shard (``<base>:rl``), their reverse field holding ``""``: each costs as
    much as before. A map of the one-hash layout (``<base>:fwd`` / ``:rev``)
    is still read; lookups move the ids they meet, :meth:`migrate` the rest.

    A FLUSHDB or a Redis that restarted empty loses the map but not this
    process's cache, and the purge generation reads 0 before and after. So
    each shard (and the store) holds a random *epoch* token written with its
    first id; lookups read it in the same round trip as the map, and a token
    that is gone or new empties the cache like a purge does.
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
        #: Epoch tokens seen: "store" for the {idmap} slot's, an int per shard.
        self._epochs: dict[Any, str] = {}
        self._token = secrets.token_hex(8)

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

    def _observe(self, generation: Any, epochs: dict[Any, str]) -> bool:
        """Note the map's generation and epoch tokens; False (and an empty cache)
        if either changed since last seen."""
        current = int(generation or 0)
        tokens = {where: text(token) for where, token in epochs.items()}
        same = current == self._generation and all(
            self._epochs.get(where, token) == token for where, token in tokens.items()
        )
        if same:
            self._epochs.update(tokens)
            return True
        fresh = self._generation is None
        self.forget()
        self._generation = current
        self._epochs = tokens
        return fresh

    def _queue_head(self, calls: CommandBuffer, create: bool) -> None:
        """Queue the read of the store's epoch and the stored shard count."""
        queue_store_epoch(calls, self._keys, self._token, self._keys.idmap_shards, create)

    def _check_shards(self, stored: Any) -> None:
        stored_text = text(stored) if stored not in (None, b"", "") else ""
        if stored_text and int(stored_text) != self._keys.idmap_shards:
            raise IdMapMismatch(
                f"the id map under prefix {self._keys.prefix!r} was made with "
                f"id_map_shards={stored_text}, this process has {self._keys.idmap_shards}: "
                "ids would go to the wrong indexes. Configure the stored number "
                "(ID_MAP_SHARDS), or purge the data to start a map of another size "
                "(check porpoise_django.E020)"
            )

    def _shard_keys(self, shard: int) -> list[str]:
        """KEYS[1..4] of the id map's scripts: meta, long ids, the one-hash layout."""
        forward, reverse, _, _ = self._keys.idmap_keys(shard)
        return [self._keys.idmap_meta(shard), self._keys.idmap_long(shard), forward, reverse]

    def _shard_args(self, shard: int) -> list[Any]:
        """ARGV[1..3] of the id map's scripts: key base, shard count, shard."""
        return [self._keys.idmap_base(shard), self._keys.idmap_shards, shard]

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
            self._queue_head(calls, create)
            flag = "1" if create else "0"
            for shard, members in by_shard.items():
                _, _, sequence, generation = self._keys.idmap_keys(shard)
                keys = [*self._shard_keys(shard), sequence, generation]
                keys.append(self._keys.idmap_epoch(shard))
                args = [*self._shard_args(shard), flag, self._token]
                ID_MAP.queue(calls, keys, args + [encode_id(m) for m in members])
            (generation, store_epoch, stored_shards), *replies = calls.send(
                self._client, (STORE_EPOCH, ID_MAP)
            )
            self._check_shards(stored_shards)
            epochs: dict[Any, str] = {"store": store_epoch}
            epochs.update((shard, reply[1]) for shard, reply in zip(by_shard, replies, strict=True))
            # Every shard's generation moves with each purge; the highest is current.
            current = max(generation, *(reply[0] for reply in replies))
            if not self._observe(current, epochs) and start:
                found, start = {}, 0  # pages before this one came from the old map
                continue
            for members, (_, _, *indexes) in zip(by_shard.values(), replies, strict=True):
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
            generation, epoch = self._client.execute_command(
                "MGET", self._keys.generation, self._keys.epoch
            )
            if self._observe(generation, {"store": epoch or ""}):
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
            calls = CommandBuffer()
            calls.get(self._keys.generation)
            calls.get(self._keys.epoch)
            calls.get(self._keys.idmap_shard_count)
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
                args = self._shard_args(shard) + [index // shards for index in part]
                ID_REVERSE.queue(calls, self._shard_keys(shard), args)
            generation, epoch, stored_shards, *replies = calls.send(self._client, (ID_REVERSE,))
            self._check_shards(stored_shards)
            if not self._observe(generation, {"store": epoch or ""}) and attempt == 0 and found:
                continue  # cached pairs were from an older map: read them all
            for (_, part), values in zip(chunks, replies, strict=True):
                for index, value in zip(part, values, strict=True):
                    if value is not None:
                        found[index] = unpack_id(value)
                        self._remember(found[index], index)
            break
        # An index without a reverse entry is a mark made before a purge by a
        # process that had not yet seen it; it is skipped, never reported
        # under somebody else's id (indexes are never reused).
        return [found[i] for i in wanted if i in found]

    def unmap(self, external: str) -> bool:
        """Delete ``external``'s entry (both ways); True if there was one. The
        caller moves the purge generation so that no process keeps the pair."""
        shard = self.shard_of(external)
        args = [*self._shard_args(shard), encode_id(external), external]
        return bool(ID_FORGET(self._client, self._shard_keys(shard), args))

    def migrate(self, batch: int = 2000) -> int:
        """Move every id still in the one-hash layout (before buckets) into the
        buckets, ``batch`` per script call; returns how many were moved. Lookups
        move the ids they meet by themselves and read both layouts meanwhile."""
        moved = 0
        for shard in range(self._keys.idmap_shards):
            old = self._keys.idmap_keys(shard)[0]
            while self._client.exists(old):
                cursor = 0
                while True:
                    cursor, pairs = self._client.hscan(old, cursor, count=batch)
                    args = self._shard_args(shard)
                    for external, index in pairs.items():
                        args += [encode_id(text(external)), external, index]
                    if pairs:
                        moved += int(ID_ADOPT(self._client, self._shard_keys(shard), args))
                    if not cursor:
                        break
        return moved

    def forget(self) -> None:
        """Drop the in-process cache (after the map was deleted)."""
        self._forward.clear()
        self._reverse.clear()

    def stored_shards(self) -> int | None:
        """The shard count stored with the map (None: no map yet); raises
        :class:`IdMapMismatch` if it is not this process's."""
        calls = CommandBuffer()
        self._queue_head(calls, create=False)
        _, _, stored = calls.send(self._client, (STORE_EPOCH,))[0]
        self._check_shards(stored)
        return int(text(stored)) if stored not in (None, b"", "") else None
