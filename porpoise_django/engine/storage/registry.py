"""The registry of names and chunks: what exists under a prefix, without KEYS.

Writers note here which names they wrote (with the span of time they cover)
and which chunks hold ids; readers list names and chunks from it::

    pp:reg:events:first / :last       event name -> earliest / latest mark
    pp:reg:counters:first / :last     counter name -> earliest / latest increment
    pp:reg:uniques                    set of unique (time-less) event names
    pp:reg:chunks                     set of chunks holding at least one id

The buckets of each name are in :class:`~.buckets.BucketRegistry`, which a
:class:`Registry` holds as ``buckets``. Marks skip the entries this process
wrote lately (see :meth:`Registry.unregistered`).

>>> pp.mark_many([("login", 1), ("active", 1)])
2
>>> registry = Registry(client, KeyScheme(pp.keys.prefix, 20))
>>> registry.event_names()
['active', 'login']
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from porpoise_django.engine.storage.buckets import BucketRegistry
from porpoise_django.engine.storage.keys import KeyScheme
from porpoise_django.engine.storage.scripts import run_pipeline
from porpoise_django.engine.values import text

Spans = Mapping[str, tuple[float, float]]


class Registry:
    """Names and chunks of one prefix, with this process's caches of them.

    :param chunk_cache_seconds: how long the list of chunks is cached.
    :param registry_cache_seconds: how long entries this process wrote are
        not sent again (see :class:`~.analytics.Analytics`).
    """

    def __init__(
        self,
        client: Any,
        keys: KeyScheme,
        *,
        chunk_cache_seconds: float = 2.0,
        registry_cache_seconds: float = 60.0,
    ) -> None:
        self.client = client
        self.keys = keys
        self.chunk_cache_seconds = chunk_cache_seconds
        self.registry_cache_seconds = registry_cache_seconds
        self.buckets = BucketRegistry(keys.prefix, cache_seconds=registry_cache_seconds)
        self._chunks: set[int] = set()
        # Chunks this process wrote (-> when): read even if the registry lost
        # them (a cluster node that came back empty) for own_chunk_seconds, so
        # that a purge elsewhere is noticed within that time.
        self._own_chunks: dict[int, float] = {}
        self.own_chunk_seconds = max(60.0, chunk_cache_seconds)
        self._chunks_read_at = -float("inf")
        self._registered_spans: dict[str, tuple[float, float]] = {}
        self._registered_chunks: set[int] = set()

    # -- chunks ------------------------------------------------------------------------
    def chunks(self) -> list[int]:
        """Chunks holding at least one id, sorted; cached for ``chunk_cache_seconds``.

        The registry's list is re-read, not grown: chunks purged by another
        process are forgotten within ``chunk_cache_seconds``, and a chunk first
        written by another process is seen within that time. Chunks this
        process wrote are included for ``own_chunk_seconds`` after their last
        write (a purge elsewhere is noticed within that time). An empty list is
        never cached (a store's first marks show at once everywhere).
        """
        now = time.monotonic()
        if not self._chunks or now - self._chunks_read_at > self.chunk_cache_seconds:
            members = self.client.smembers(self.keys.chunks)
            self._chunks = {int(m) for m in members}
            self._chunks_read_at = now
            horizon = now - self.own_chunk_seconds
            self._own_chunks = {c: t for c, t in self._own_chunks.items() if t >= horizon}
        return sorted(self._chunks | set(self._own_chunks))

    def note_chunks(self, chunks: Iterable[int]) -> None:
        """Chunks this process just wrote ids into."""
        now = time.monotonic()
        self._own_chunks.update(dict.fromkeys(chunks, now))

    def forget_chunks(self) -> None:
        """Drop the cached list of chunks (after a purge)."""
        self._chunks = set()
        self._own_chunks = {}
        self._chunks_read_at = -float("inf")

    # -- what this process registered ------------------------------------------------------
    def forget(self) -> None:
        """Drop what this process believes is registered (after a purge)."""
        self._registered_spans.clear()
        self._registered_chunks.clear()
        self.buckets.forget()

    def unregistered(
        self, spans: Spans, chunks: Sequence[int]
    ) -> tuple[dict[str, tuple[float, float]], list[int]]:
        """The spans and chunks this process has not registered lately."""
        if self.buckets.expired():
            self._registered_spans.clear()
            self._registered_chunks.clear()
        fresh = {}
        for name, (low, high) in spans.items():
            known = self._registered_spans.get(name)
            if known is None or low < known[0] or high > known[1]:
                fresh[name] = (low, high)
        return fresh, [c for c in chunks if c not in self._registered_chunks]

    def remember(self, spans: Spans, chunks: Iterable[int]) -> None:
        """Note spans and chunks as registered (their write succeeded)."""
        for name, (low, high) in spans.items():
            known = self._registered_spans.get(name, (low, high))
            self._registered_spans[name] = (min(known[0], low), max(known[1], high))
        self._registered_chunks.update(chunks)

    def queue(self, pipe: Any, spans: Spans, chunks: Iterable[int]) -> None:
        """Queue the registration of event spans and chunks on ``pipe``."""
        for name, (first, last) in spans.items():
            pipe.zadd(self.keys.events_first, {name: first}, lt=True)
            pipe.zadd(self.keys.events_last, {name: last}, gt=True)
        chunk_list = sorted(set(chunks))
        if chunk_list:
            pipe.sadd(self.keys.chunks, *chunk_list)

    # -- reading names ------------------------------------------------------------------------
    def event_names(self) -> list[str]:
        """Names of every event marked under this prefix."""
        return sorted(text(m) for m in self.client.zrange(self.keys.events_first, 0, -1))

    def unique_names(self) -> list[str]:
        """Names of every unique event."""
        return sorted(text(m) for m in self.client.smembers(self.keys.uniques))

    def counter_names(self) -> list[str]:
        """Names of every counter."""
        return sorted(text(m) for m in self.client.zrange(self.keys.counters_first, 0, -1))

    def event_span(
        self, name: str, now: float, tz: dt.tzinfo
    ) -> tuple[dt.datetime, dt.datetime] | None:
        """Times of the earliest and latest mark of ``name``, or None if never marked
        (the latest is never later than ``now``, even for marks dated ahead)."""

        def build(pipe: Any) -> None:
            pipe.zscore(self.keys.events_first, name)
            pipe.zscore(self.keys.events_last, name)

        first, last = run_pipeline(self.client, build, ())
        if first is None or last is None:
            return None
        last = min(last, now)
        return (
            dt.datetime.fromtimestamp(first, tz),
            dt.datetime.fromtimestamp(max(first, last), tz),
        )
