"""Mark ``active`` once per user per bucket, not once per request.

A user who loads twenty pages in an hour sets the same bit twenty times; the
first is the only one that counts. Each process keeps the ``(event, user)``
pairs it has marked since the smallest tracked bucket began (an hour, or a
day by default), and skips the rest until that bucket ends. Marks are
idempotent, so skipping a repeat never loses a figure; a process that
restarts, or several processes, only mark again. The set is bounded
(``LIMIT`` pairs; past it, it starts over) so memory stays flat.

>>> ACTIVE.first(pp, "active", 42, time.time())     # doctest: +SKIP
True
>>> ACTIVE.first(pp, "active", 42, time.time())     # doctest: +SKIP
False
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from porpoise_django.engine import GRANULARITIES

LIMIT = 100_000


class ActiveOnce:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._seen: set[tuple[str, Any]] = set()
        self._until = 0.0
        self._store: Any = None
        self._lock = threading.Lock()

    def first(self, store: Any, event: str, user_id: Any, now: float) -> bool:
        """Whether ``event`` for ``user_id`` is new in the current bucket of ``store``."""
        key = (event, user_id)
        if store is self._store and now < self._until and key in self._seen:
            return False  # the common case: no lock, no date arithmetic
        with self._lock:
            if store is not self._store or now >= self._until:
                # Another store (settings changed) or a new bucket: start over.
                self._store, self._until = store, _bucket_end(store, now)
                self._seen = set()
            if key in self._seen:
                return False
            if len(self._seen) >= self.limit:
                self._seen = set()
            self._seen.add(key)
            return True

    def forget(self) -> None:
        """Start over (after data was deleted in this process, say)."""
        with self._lock:
            self._store, self._seen = None, set()


def _bucket_end(store: Any, now: float) -> float:
    """When the smallest tracked bucket holding ``now`` ends (epoch seconds)."""
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    smallest = min(store.granularities, key=GRANULARITIES.index)
    return float(store.period(smallest, moment).period_end().timestamp())


#: The process's set, shared by every middleware instance.
ACTIVE = ActiveOnce()
