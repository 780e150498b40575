"""The tracking endpoint's budgets: requests per source, failed logins per address,
new id chunks per open token.

Counted atomically in Redis (``INCR`` of a fixed-window key with an expiry, one
round trip for every source of a request), so concurrent requests cannot slip
past a read-then-write. While Redis fails, each process counts in memory
instead (bounded: at most :data:`LOCAL_LIMIT` windows), so a flood is still
limited, per process, during an outage.

Example::

    spend(["a10.0.0.1", "t3f2a..."])     # seconds to wait, or None
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from porpoise_django import delivery, services
from porpoise_django.conf import porpoise_settings

#: Windows counted in memory while Redis is down, per process.
LOCAL_LIMIT = 100_000


class LocalWindows:
    """Fixed-window counters of this process, for when Redis cannot count."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.lock = threading.Lock()

    def add(self, key: str, slot: int, amount: int = 1) -> int:
        with self.lock:
            if len(self.counts) >= LOCAL_LIMIT:
                # Old windows first; if the current one alone is that big, start over.
                self.counts = {k: v for k, v in self.counts.items() if k[1] >= slot}
                if len(self.counts) >= LOCAL_LIMIT:
                    self.counts.clear()
            value = self.counts.get((key, slot), 0) + amount
            self.counts[(key, slot)] = value
            return value

    def get(self, key: str, slot: int) -> int:
        return self.counts.get((key, slot), 0)

    def clear(self) -> None:
        with self.lock:
            self.counts.clear()


LOCAL = LocalWindows()


def _rate() -> tuple[int, float] | None:
    rate = porpoise_settings.TRACK_THROTTLE_RATE
    if not rate:
        return None
    limit, window = SimpleRateThrottle.parse_rate(None, rate)  # type: ignore[arg-type]
    if limit is None or window is None:
        return None
    return limit, window


def _key(prefix: str, ident: str, slot: int) -> str:
    return f"{prefix}:throttle:{hashlib.sha1(ident.encode()).hexdigest()}:{slot}"


def _counted(idents: list[str], amount: int, window: float, slot: int) -> list[int]:
    """Add ``amount`` to each source's window; what each has used."""
    pp = services.get_analytics()
    keys = [_key(pp.keys.prefix, ident, slot) for ident in idents]

    def build(pipe: Any) -> None:
        for key in keys:
            if amount:
                pipe.incrby(key, amount)
                pipe.expire(key, int(window) + 1)
            else:
                pipe.get(key)

    try:
        replies = pp.run(build, scripts=())
    except delivery.REDIS_ERRORS as exc:
        delivery.log_outage(exc, "the throttle counts in this process")
        if amount:
            return [LOCAL.add(key, slot, amount) for key in keys]
        return [LOCAL.get(key, slot) for key in keys]
    replies = replies[::2] if amount else replies
    return [int(reply or 0) for reply in replies]


def spend(idents: list[str]) -> float | None:
    """Count one request against each source (``TRACK_THROTTLE_RATE`` each); the
    seconds to wait if any source is over its budget, else None."""
    rate = _rate()
    if rate is None or not idents:
        return None
    limit, window = rate
    now = time.time()
    slot = int(now // window)
    if max(_counted(idents, 1, window, slot)) > limit:
        return (slot + 1) * window - now
    return None


def spent(ident: str) -> float | None:
    """The seconds to wait if ``ident`` has used its budget, without counting."""
    rate = _rate()
    if rate is None:
        return None
    limit, window = rate
    now = time.time()
    slot = int(now // window)
    if _counted([ident], 0, window, slot)[0] >= limit:
        return (slot + 1) * window - now
    return None


def new_chunk_budget(ident: str, wanted: int) -> int:
    """How many of ``wanted`` new id chunks ``ident`` may still create today
    (``TRACK_NEW_CHUNKS_PER_DAY``); those granted are counted."""
    per_day = int(porpoise_settings.TRACK_NEW_CHUNKS_PER_DAY)
    if wanted <= 0 or per_day <= 0:
        return 0
    day = int(time.time() // 86_400)
    used = _counted([f"chunks:{ident}"], wanted, 86_400 * 2, day)[0]
    granted = max(0, min(wanted, per_day - (used - wanted)))
    if granted < wanted:
        _counted([f"chunks:{ident}"], granted - wanted, 86_400 * 2, day)
    return granted
