"""Forgetting one id everywhere (a deletion request, GDPR art. 17).

An id's bit lives in one chunk (its index // chunk size), so every bitmap
that can hold it shares one hash tag: the chunk's universe, every unique
event and segment, and every bucket of every event listed in the bucket
registries, and every value of every person property (event properties are
events of their own). Those keys are cleared by one ``CLEAR_BIT`` script call per
chunk and :data:`KEYS_PER_CALL` keys (single-slot on a cluster); expression
results of that chunk (which expire by themselves within ``temp_ttl``) are
found by one ``SCAN`` and cleared the same way. The id is removed from the
per-id sorted sets of every counter bucket (one script per counter and
:data:`KEYS_PER_CALL` buckets); counter totals, metrics and series, which
hold no id, are left as they are. In ``"map"`` id mode the id map entry is
deleted and the purge generation moved, so every process drops its cached
pairs. Cost follows the registered buckets, never the span of time. A
tombstone (``<prefix>:reg:forgotten``: a digest of the id -> when) lets a replay drop writes
for the id that were made before and waited in a spool.

A mark for the id that arrives while this runs may set a bit again: forget
after the source of marks is gone (the user deleted).

Example::

    pp.forget(42)
    # Forgotten(id=42, bits=730, keys=18412, counter_entries=12, mapped=False)
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from porpoise_django.engine.storage.ids import DirectIds, IdMap
from porpoise_django.engine.storage.keys import KeyScheme
from porpoise_django.engine.storage.policy import Policy
from porpoise_django.engine.storage.registry import Registry
from porpoise_django.engine.storage.scripts import LuaScript, run_pipeline
from porpoise_django.engine.values import text

#: Keys per script call: bounds the time one call holds the server.
KEYS_PER_CALL = 5_000
#: Registry members read per ZRANGE page.
_PAGE = 5_000
#: How long a tombstone is kept: a write made before the forget and still
#: waiting in a spool longer than this is replayed after all.
TOMBSTONE_SECONDS = 400 * 86_400

#: Clear bit ARGV[1] in every string key of KEYS that is long enough to hold
#: it (SETBIT on a shorter one would grow it, on a missing one create it).
#: All KEYS share one chunk's hash tag. Returns the number of bits cleared.
CLEAR_BIT = LuaScript(
    """
local offset = tonumber(ARGV[1])
local byte = math.floor(offset / 8)
local cleared = 0
for k = 1, #KEYS do
  local key = KEYS[k]
  if redis.call('TYPE', key)['ok'] == 'string' and redis.call('STRLEN', key) > byte then
    cleared = cleared + redis.call('SETBIT', key, offset, 0)
  end
end
return cleared
"""
)

#: ZREM member ARGV[1] from every sorted set of KEYS (one counter's slot).
#: Returns the number of sorted sets that held it.
FORGET_MEMBER = LuaScript(
    """
local removed = 0
for k = 1, #KEYS do
  local key = KEYS[k]
  if redis.call('TYPE', key)['ok'] == 'zset' then
    removed = removed + redis.call('ZREM', key, ARGV[1])
  end
end
return removed
"""
)


@dataclass(frozen=True)
class Forgotten:
    """What :meth:`Forgetter.forget` erased."""

    id: Any
    #: Bits cleared (events x buckets, uniques, segments, the universe, results).
    bits: int
    #: Bitmap keys looked at in the id's chunk.
    keys: int
    #: Counter buckets whose per-id sorted set held the id.
    counter_entries: int
    #: Whether an id map entry was deleted ("map" id mode).
    mapped: bool


class Forgetter:
    """Erases one id from everything a store keeps per id."""

    def __init__(
        self, client: Any, keys: KeyScheme, registry: Registry, id_codec: DirectIds | IdMap
    ) -> None:
        self.client = client
        self.keys = keys
        self.registry = registry
        self.id_codec = id_codec

    def _run(self, build: Any) -> list[Any]:
        return run_pipeline(self.client, build, (CLEAR_BIT, FORGET_MEMBER))

    def forget(
        self, external: object, *, scan_results: bool = True, now: float | None = None
    ) -> Forgotten:
        """Clear ``external`` everywhere; see the module docstring.

        :param scan_results: also clear expression results (found by ``SCAN``);
            False leaves them to expire within ``temp_ttl`` seconds.
        :param now: when it is forgotten (epoch seconds; default: now), for
            the tombstone that keeps a spooled write made before from coming back.
        """
        now = time.time() if now is None else now
        checked = self.id_codec.check(external)
        [index] = self.id_codec.to_indexes([checked], create=False)
        names = self._names()
        bits = keys_seen = 0
        if index >= 0:
            chunk, offset = divmod(index, self.keys.chunk_size)
            bits, keys_seen = self._clear_bits(names, chunk, offset, scan_results)
        entries = self._forget_counters(names[2], str(checked))
        mapped = False
        if isinstance(self.id_codec, IdMap) and index >= 0:
            mapped = self._unmap(str(checked), index)
        self._tombstone(tombstone_of(self.keys, checked), now)
        return Forgotten(checked, bits, keys_seen, entries, mapped)

    def _tombstone(self, member: str, now: float) -> None:
        """Note when ``member`` was forgotten (see :meth:`forgotten_at`); drop
        tombstones older than :data:`TOMBSTONE_SECONDS`."""
        key = tombstones_key(self.keys)

        def build(pipe: Any) -> None:
            pipe.zadd(key, {member: now})
            pipe.zremrangebyscore(key, "-inf", f"({now - TOMBSTONE_SECONDS}")

        self._run(build)

    def forgotten_at(self, externals: Sequence[object]) -> dict[str, float]:
        """``{id as text: when it was forgotten}`` for those of ``externals`` that
        were (one round trip): a replay drops their writes made before then."""
        texts = sorted({str(e) for e in externals if e is not None})
        if not texts:
            return {}
        members = [tombstone_of(self.keys, t) for t in texts]
        scores = self.client.zmscore(tombstones_key(self.keys), members)
        return {t: float(s) for t, s in zip(texts, scores, strict=True) if s is not None}

    def _names(self) -> tuple[list[str], list[str], list[str]]:
        """Event, unique and counter names, in one round trip."""

        def build(pipe: Any) -> None:
            pipe.zrange(self.keys.events_first, 0, -1)
            pipe.smembers(self.keys.uniques)
            pipe.zrange(self.keys.counters_first, 0, -1)

        events, uniques, counters = self._run(build)
        return (
            sorted(text(n) for n in events),
            sorted(text(n) for n in uniques),
            sorted(text(n) for n in counters),
        )

    def _members(self, registries: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
        """``(position in registries, page of members)``: every registry read in
        pages, one round trip per page number for all of them."""
        open_ = list(range(len(registries)))
        start = 0
        while open_:
            current = open_

            def build(pipe: Any, current: list[int] = current, start: int = start) -> None:
                for i in current:
                    pipe.zrange(registries[i], start, start + _PAGE - 1)

            replies = self._run(build)
            open_ = []
            for i, page in zip(current, replies, strict=True):
                if page:
                    yield i, [text(m) for m in page]
                if len(page) >= _PAGE:
                    open_.append(i)
            start += _PAGE

    def _chunk_keys(
        self, names: tuple[list[str], list[str], list[str]], chunk: int, scan_results: bool
    ) -> Iterator[str]:
        """Every key of ``chunk`` that may hold a bit of an id."""
        keys = self.keys
        events, uniques, _ = names
        yield keys.universe(chunk)
        for name in uniques:
            yield keys.unique(name, chunk)
        buckets = self.registry.buckets
        registries = [buckets.key("e", name) for name in events]
        for i, members in self._members(registries):
            for member in members:
                yield keys.event_bucket(events[i], member, chunk)
        yield from self._person_property_keys(chunk)
        if scan_results:
            pattern = f"{keys.temp(chunk, '')}*"
            for key in self.client.scan_iter(match=pattern, count=1000):
                yield text(key)

    def _person_property_keys(self, chunk: int) -> list[str]:
        """The bitmaps of every value of every person property in ``chunk``, from
        the property registry (``{props}:kinds``, ``{props}:values:<name>``)."""
        registry = f"{self.keys.prefix}:{{props}}"
        kinds = self.client.hgetall(f"{registry}:kinds")
        person = sorted(text(p) for p, kind in kinds.items() if text(kind) == "person")
        if not person:
            return []

        def build(pipe: Any) -> None:
            for prop in person:
                pipe.smembers(f"{registry}:values:{prop}")

        tag = self.keys.tag(chunk)
        values = self._run(build)
        return [
            f"{tag}:p:{prop}:{text(value)}"
            for prop, held in zip(person, values, strict=True)
            for value in sorted(held)
        ]

    def _clear_bits(
        self,
        names: tuple[list[str], list[str], list[str]],
        chunk: int,
        offset: int,
        scan_results: bool,
    ) -> tuple[int, int]:
        bits = seen = 0
        batch: list[str] = []

        def flush() -> int:
            part = list(batch)
            batch.clear()
            if not part:
                return 0
            [cleared] = self._run(lambda pipe: CLEAR_BIT.queue(pipe, part, [offset]))
            return int(cleared)

        for key in self._chunk_keys(names, chunk, scan_results):
            batch.append(key)
            seen += 1
            if len(batch) >= KEYS_PER_CALL:
                bits += flush()
        bits += flush()
        return bits, seen

    def _forget_counters(self, counters: list[str], member: str) -> int:
        """Remove ``member`` from the per-id sorted set of every counter bucket."""
        if not counters:
            return 0
        buckets = self.registry.buckets
        registries = [buckets.key("k", name) for name in counters]
        removed = 0
        for i, members in self._members(registries):
            base = f"{self.keys.prefix}:{{k:{counters[i]}}}:c:"
            keys = [base + m for m in members]
            calls = [keys[s : s + KEYS_PER_CALL] for s in range(0, len(keys), KEYS_PER_CALL)]

            def build(pipe: Any, calls: list[list[str]] = calls) -> None:
                for part in calls:
                    FORGET_MEMBER.queue(pipe, part, [member])

            removed += sum(int(r or 0) for r in self._run(build))
        return removed

    def _unmap(self, external: str, index: int) -> bool:
        """Delete the id map entry; move the purge generation so every process
        drops its cached pairs (this one at once)."""
        assert isinstance(self.id_codec, IdMap)
        removed = self.id_codec.unmap(external)
        bump_generation(self.client, self.keys)
        self.id_codec.forget()
        return bool(removed)


def tombstones_key(keys: KeyScheme) -> str:
    """Sorted set: digest of a forgotten id -> when it was forgotten."""
    return f"{keys.prefix}:reg:forgotten"


def tombstone_of(keys: KeyScheme, external: object) -> str:
    """What a tombstone holds for an id: a digest, never the id itself (an id in
    map mode may be an email address, which a deletion must not keep)."""
    return hashlib.sha256(f"{keys.prefix}\0{external}".encode()).hexdigest()[:32]


def bump_generation(client: Any, keys: KeyScheme) -> None:
    """Move the purge generation, and each id map shard's copy of it: every
    process drops its cached id pairs at its next lookup."""

    def build(pipe: Any) -> None:
        for key in keys.shard_generations():
            pipe.incr(key)

    run_pipeline(client, build, ())


class Forgetting:
    """The forgetting methods of :class:`~.analytics.Analytics` (mixed in)."""

    client: Any
    policy: Policy
    keys: KeyScheme
    registry: Registry
    id_codec: DirectIds | IdMap

    def forget(self, id: object, *, scan_results: bool = True) -> Forgotten:
        """Remove ``id`` from every bitmap, unique event, segment, per-id counter
        and (map mode) the id map; see :mod:`~.storage.forgetting`."""
        now = self.policy.clock().timestamp()
        return self._forgetter().forget(id, scan_results=scan_results, now=now)

    def forgotten_at(self, ids: Sequence[object]) -> dict[str, float]:
        """When each of ``ids`` that was forgotten was (epoch seconds), by id as text."""
        return self._forgetter().forgotten_at(ids)

    def _forgetter(self) -> Forgetter:
        return Forgetter(self.client, self.keys, self.registry, self.id_codec)
