"""The bucket registry: which buckets of each event, counter, metric and series exist.

Every write notes the buckets it touched in a sorted set per name (member: the
key's bucket suffix such as ``d:20261122``; score: when the bucket expires, or
``+inf``), so deleting a name costs time proportional to the buckets it really
has, never to the span between its first and last write (a counter written in
1970 and today would otherwise walk every minute in between)::

    pp:reg:b:e:active        d:20261122, w:2026W47, ...   (event "active")
    pp:reg:b:k:plays         h:2026112213, ...            (counter "plays")

Counters, metrics and series send their entries with every batch (one
``ZADD`` per name, same round trip). Marks, the hot path, skip what the
process registered lately, and send everything again when a mark creates a
bitmap on the server (after a purge or an empty restart elsewhere). Expired
members are trimmed when buckets with a retention are written.

>>> registry = BucketRegistry("pp")
>>> registry.key("e", "active")
'pp:reg:b:e:active'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from porpoise_django.engine.values import text

#: Members read per ZSCAN page while deleting.
_SCAN_PAGE = 500
#: Pairs a process remembers before it starts again (bounds its memory).
_MEMORY_LIMIT = 200_000
#: Keys per UNLINK pipeline while deleting.
KEYS_PER_PIPELINE = 2_000

Entry = tuple[str, str, float | None]  # (registry key, member, expire at or None)


class BucketRegistry:
    """Notes written buckets per name and streams them back for deletion."""

    def __init__(self, prefix: str, *, cache_seconds: float = 60.0) -> None:
        self.prefix = prefix
        self.cache_seconds = cache_seconds
        self._known: set[tuple[str, str]] = set()
        self._checked_at = time.monotonic()

    def expired(self) -> bool:
        """True (and the memory emptied) once ``cache_seconds`` have passed."""
        now = time.monotonic()
        if now - self._checked_at > self.cache_seconds or len(self._known) > _MEMORY_LIMIT:
            self._known.clear()
            self._checked_at = now
            return True
        return False

    def unregistered(self, entries: Iterable[Entry]) -> list[Entry]:
        """The entries this process has not registered lately (used by marks, the
        hot path; counters, metrics and series register with every batch)."""
        self.expired()
        return [e for e in entries if (e[0], e[1]) not in self._known]

    def remember(self, entries: Iterable[Entry]) -> None:
        self._known.update((key, member) for key, member, _ in entries)

    def forget(self) -> None:
        self._known.clear()

    def key(self, kind: str, name: str) -> str:
        """The registry of ``name`` of ``kind`` (``e`` events, ``k`` counters, ``m``
        metrics, ``s:<type>`` series)."""
        return f"{self.prefix}:reg:b:{kind}:{name}"

    @staticmethod
    def queue(pipe: Any, entries: Iterable[Entry], now: float) -> None:
        """Queue the ``ZADD`` of ``entries`` (one per registry) and, where buckets
        expire, the trim of expired members."""
        grouped: dict[str, dict[str, float]] = {}
        for key, member, expire_at in entries:
            grouped.setdefault(key, {})[member] = (
                float("inf") if expire_at is None else float(expire_at)
            )
        for key, members in grouped.items():
            # GT: a bucket written with a longer retention keeps the later expiry.
            pipe.zadd(key, members, gt=True)
            if any(score != float("inf") for score in members.values()):
                pipe.zremrangebyscore(key, "-inf", f"({now}")

    @staticmethod
    def members(client: Any, key: str) -> Iterator[list[str]]:
        """Pages of the members of registry ``key`` (ZSCAN, bounded memory)."""
        page: list[str] = []
        for member, _score in client.zscan_iter(key, count=_SCAN_PAGE):
            page.append(text(member))
            if len(page) >= _SCAN_PAGE:
                yield page
                page = []
        if page:
            yield page


def unlink_streamed(client: Any, keys: Iterable[str], run: Callable[..., Any]) -> int:
    """UNLINK ``keys`` in pipelines of :data:`KEYS_PER_PIPELINE` (cluster-safe:
    single-key commands). Returns the number of keys that existed."""
    batch: list[str] = []
    deleted = 0

    def flush() -> None:
        nonlocal batch, deleted
        if batch:
            part = batch

            def build(pipe: Any) -> None:
                for key in part:
                    pipe.unlink(key)

            deleted += sum(int(r or 0) for r in run(build, scripts=()))
            batch = []

    for key in keys:
        batch.append(key)
        if len(batch) >= KEYS_PER_PIPELINE:
            flush()
    flush()
    return deleted
