"""Deleting events, counters, uniques and whole prefixes.

A name's keys are found from its bucket registry (never ``KEYS``), streamed
in bounded pages and unlinked with single-key commands (cluster-safe), so
time and memory follow the buckets that exist.

>>> pp.mark("signup", 1)
>>> deleter = Deleter(client, pp.keys, pp.policy, pp.registry)
>>> deleter.delete_event("signup") > 0                    # keys deleted
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from porpoise_django.engine.names import validate_name
from porpoise_django.engine.storage.buckets import (
    KEYS_PER_PIPELINE,
    BucketRegistry,
    unlink_streamed,
)
from porpoise_django.engine.storage.keys import KeyScheme
from porpoise_django.engine.storage.policy import Policy
from porpoise_django.engine.storage.registry import Registry
from porpoise_django.engine.storage.scripts import run_pipeline


class Deleter:
    """Deletes what one store holds, name by name or all of it."""

    def __init__(self, client: Any, keys: KeyScheme, policy: Policy, registry: Registry) -> None:
        self.client = client
        self.keys = keys
        self.policy = policy
        self.registry = registry

    def _run(self, build: Callable[[Any], None], scripts: Sequence[Any] = ()) -> list[Any]:
        return run_pipeline(self.client, build, scripts)

    def delete_keys(self, keys: Sequence[str]) -> None:
        """Delete keys with single-key commands (cluster-safe), pipelined."""
        for start in range(0, len(keys), KEYS_PER_PIPELINE):
            part = keys[start : start + KEYS_PER_PIPELINE]

            def build(pipe: Any, part: Sequence[str] = part) -> None:
                for key in part:
                    pipe.unlink(key)

            self._run(build)

    def delete_registered(
        self,
        kind: str,
        name: str,
        keys_of: Callable[[str], Iterable[str]],
        span_keys: tuple[str, str] | None = None,
    ) -> int:
        """Delete the keys of every bucket in the registry of ``name`` (``keys_of``
        turns a bucket member into its keys), then the registry and ``name``'s
        entries in ``span_keys``. Returns the number of keys that existed."""
        registry = self.registry.buckets.key(kind, name)

        def keys() -> Iterator[str]:
            for page in BucketRegistry.members(self.client, registry):
                for member in page:
                    yield from keys_of(member)

        deleted = unlink_streamed(self.client, keys(), self._run)

        def unregister(pipe: Any) -> None:
            pipe.unlink(registry)
            if span_keys is not None:
                pipe.zrem(span_keys[0], name)
                pipe.zrem(span_keys[1], name)

        self._run(unregister)
        return deleted

    def delete_event(self, name: str, *, prune: bool = True) -> int:
        """Delete every bitmap of event ``name`` and its registry entries, then
        (``prune``) the chunks nothing else holds (their universes and registry
        entries)."""
        name = self.policy.name(name)
        chunks = self.registry.chunks()
        deleted = self.delete_registered(
            "e",
            name,
            lambda member: (self.keys.event_bucket(name, member, c) for c in chunks),
            (self.keys.events_first, self.keys.events_last),
        )
        if prune:
            self.prune_chunks()
        return deleted

    def prune_chunks(self) -> list[int]:
        """Delete the universe and the registry entry of every chunk that no event
        or unique event holds a bitmap in any more; returns those chunks. One
        ``EXISTS`` per chunk over the keys the registries name (they share the
        chunk's slot), pipelined: the cost follows the buckets that exist."""
        registry = self.registry
        registry.forget_chunks()
        chunks = registry.chunks()
        names: list[tuple[str, str]] = []
        for event in registry.event_names():
            for page in BucketRegistry.members(self.client, registry.buckets.key("e", event)):
                names.extend((event, member) for member in page)
        uniques = registry.unique_names()
        keys = self.keys

        def held(chunk: int) -> list[str]:
            found = [keys.event_bucket(e, m, chunk) for e, m in names]
            return found + [keys.unique(u, chunk) for u in uniques]

        def unused(candidates: Sequence[int]) -> list[int]:
            out: list[int] = []
            per_call = max(1, KEYS_PER_PIPELINE // max(1, len(names) + len(uniques)))
            for start in range(0, len(candidates), per_call):
                part = candidates[start : start + per_call]

                def build(pipe: Any, part: Sequence[int] = part) -> None:
                    for chunk in part:
                        pipe.execute_command("EXISTS", *(held(chunk) or [keys.universe(chunk)]))

                replies = self._run(build)
                out += [c for c, n in zip(part, replies, strict=True) if not held(c) or not int(n)]
            return out

        empty = unused(chunks)
        if empty:

            def drop(pipe: Any) -> None:
                for chunk in empty:
                    pipe.unlink(keys.universe(chunk))
                pipe.srem(keys.chunks, *empty)

            self._run(drop)
            # A mark that landed in a chunk between the look and the drop: the
            # chunk goes back, its universe rebuilt from what it holds.
            back = sorted(set(empty) - set(unused(empty)))
            if back:

                def restore(pipe: Any) -> None:
                    for chunk in back:
                        universe = keys.universe(chunk)
                        pipe.execute_command("BITOP", "OR", universe, universe, *held(chunk))
                    pipe.sadd(keys.chunks, *back)

                self._run(restore)
                empty = [c for c in empty if c not in back]
            registry.forget_chunks()
        return empty

    def delete_counter(self, name: str) -> int:
        """Delete every bucket of counter ``name``; returns the number of keys deleted."""
        name = validate_name(name, what="counter name")
        base = f"{self.keys.prefix}:{{k:{name}}}"
        return self.delete_registered(
            "k",
            name,
            lambda member: (f"{base}:c:{member}", f"{base}:t:{member}"),
            (self.keys.counters_first, self.keys.counters_last),
        )

    def delete_unique(self, name: str) -> None:
        """Delete a unique event in every chunk, and its registry entry."""
        name = self.policy.name(name)
        self.delete_keys([self.keys.unique(name, c) for c in self.registry.chunks()])

        def unregister(pipe: Any) -> None:
            pipe.srem(self.keys.uniques, name)
            pipe.hdel(self.keys.segments, name)  # a saved segment is a unique event

        self._run(unregister)

    def delete_stored(self) -> None:
        """Delete events, uniques, counters, universes, registries and the id map;
        then expression results."""
        registry = self.registry
        for name in registry.event_names():
            self.delete_event(name, prune=False)  # every chunk goes below
        for name in registry.unique_names():
            self.delete_unique(name)
        for name in registry.counter_names():
            self.delete_counter(name)
        keys = self.keys
        self.delete_keys(
            [keys.universe(c) for c in registry.chunks()]
            + [
                keys.chunks,
                keys.events_first,
                keys.events_last,
                keys.uniques,
                keys.segments,
                keys.counters_first,
                keys.counters_last,
            ]
            + [key for s in range(keys.idmap_shards) for key in keys.idmap_keys(s)[:2]]
            # The epoch tokens and the shard count go too: the next write starts
            # a new epoch, and a purged map may be made again with other shards.
            + [keys.idmap_epoch(s) for s in range(keys.idmap_shards)]
            + [keys.epoch, keys.idmap_shard_count]
            + [keys.idmap_meta(s) for s in range(keys.idmap_shards)]
            + [keys.idmap_long(s) for s in range(keys.idmap_shards)]
        )
        # The id map's buckets are found by SCAN, like expression results: the
        # bucket counts above are gone, and buckets of a map made with another
        # shard count go too.
        buckets = self.client.scan_iter(match=keys.idmap_bucket_pattern, count=1000)
        unlink_streamed(self.client, buckets, self._run)
        self.delete_temporaries()

    def delete_temporaries(self) -> int:
        """Delete every expression result of this prefix now (they expire by
        themselves); returns how many there were. The one ``SCAN`` of the engine:
        no registry is worth keeping for keys that live minutes."""
        temps = self.client.scan_iter(match=f"{self.keys.prefix}:*:tmp:*", count=1000)
        return unlink_streamed(self.client, temps, self._run)


class Deleting:
    """The per-name deletion methods of :class:`~.analytics.Analytics` (mixed in)."""

    deleter: Deleter

    def delete_keys(self, keys: Sequence[str]) -> None:
        self.deleter.delete_keys(keys)

    def delete_registered(
        self,
        kind: str,
        name: str,
        keys_of: Callable[[str], Iterable[str]],
        span_keys: tuple[str, str] | None = None,
    ) -> int:
        return self.deleter.delete_registered(kind, name, keys_of, span_keys)

    def delete_event(self, name: str) -> int:
        return self.deleter.delete_event(name)

    def delete_counter(self, name: str) -> int:
        return self.deleter.delete_counter(name)

    def delete_unique(self, name: str) -> None:
        self.deleter.delete_unique(name)

    def delete_temporaries(self) -> int:
        return self.deleter.delete_temporaries()
