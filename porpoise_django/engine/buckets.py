"""The bucket registry: which buckets of each event, counter, metric and series exist.

Every write notes the buckets it touched in a sorted set per name (member: the
key's bucket suffix such as ``d:20261122``; score: when the bucket expires, or
``+inf``), so deleting a name costs time proportional to the buckets it really
has, never to the span between its first and last write (a counter written in
1970 and today would otherwise walk every minute in between)::

    pp:reg:b:e:active        d:20261122, w:2026W47, ...   (event "active")
    pp:reg:b:k:plays         h:2026112213, ...            (counter "plays")

Every write batch sends its entries (one ``ZADD`` per name and batch, in the
same round trip), so a purge or an empty restart elsewhere is repaired by the
next write. Expired members are trimmed when buckets with a retention are
written.

>>> registry = BucketRegistry("pp")
>>> registry.key("e", "active")
'pp:reg:b:e:active'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: Members read per ZSCAN page while deleting.
_SCAN_PAGE = 500
#: Keys per UNLINK pipeline while deleting.
KEYS_PER_PIPELINE = 2_000

Entry = tuple[str, str, float | None]  # (registry key, member, expire at or None)


class BucketRegistry:
    """Notes written buckets per name and streams them back for deletion."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

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
            page.append(member.decode() if isinstance(member, bytes) else str(member))
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
