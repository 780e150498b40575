"""Mark ``active`` once per user per bucket, not once per request.

A user who loads twenty pages in an hour sets the same bit twenty times; the
first is the only one that counts. Each process keeps the ``(event, user)``
pairs it has marked since the smallest tracked bucket began (an hour, or a
day by default), and skips the rest until that bucket ends. Marks are
idempotent, so skipping a repeat never loses a figure; a process that
restarts, or several processes, only mark again. The set is bounded
(``LIMIT`` pairs; past it, it starts over) so memory stays flat.

The set is only true while the data it stands for exists. A purge
(``delete_all``, ``porpoise_purge``), a ``FLUSHDB`` or a Redis that restarted
empty deletes the marks, so the set is tied to the store's *epoch*: the purge
generation and a token created with the data (see ``Analytics.epoch``). The
epoch is read at most every ``check_seconds`` (one round trip; never while
writes are paused by an outage), and a new epoch starts the set over: a visit
after the data loss is marked again. A visit that lands between the loss and
the next check is skipped on the old set's word (at most ``check_seconds``).

The state (store, bucket end, epoch, set) is one object replaced whole, so the
lock-free fast path never pairs a new bucket's end with the old bucket's set.

>>> import time
>>> ACTIVE.first(pp, "active", 42, time.time())
True
>>> ACTIVE.first(pp, "active", 42, time.time())
False
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from porpoise_django.engine import GRANULARITIES

logger = logging.getLogger("porpoise_django")

LIMIT = 100_000
CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class _State:
    store: Any = None
    until: float = 0.0
    epoch: Any = None
    checked_at: float = -float("inf")
    seen: set[tuple[str, Any]] = field(default_factory=set)


class ActiveOnce:
    """The ``(event, id)`` pairs marked in the current bucket of one store.

    :param check_seconds: how often the store's epoch is read (0: every time).
    :param can_check: whether a round trip to Redis is worth trying now (False
        during an outage: the set is kept, the check waits).
    """

    def __init__(
        self,
        limit: int = LIMIT,
        check_seconds: float | Callable[[], float] = CHECK_SECONDS,
        can_check: Callable[[], bool] = lambda: True,
    ) -> None:
        self.limit = limit
        self._check_seconds = check_seconds
        self.can_check = can_check
        self._state = _State()
        self._lock = threading.Lock()

    @property
    def check_seconds(self) -> float:
        setting = self._check_seconds
        return float(setting() if callable(setting) else setting)

    def seen(self, store: Any, event: str, user_id: Any, now: float) -> bool:
        """Whether ``event`` for ``user_id`` was marked in the current bucket (no lock,
        no I/O; a stale answer only ever says False)."""
        state = self._state  # one read: store, end, and set belong together
        return (
            state.store is store
            and now < state.until
            and now < state.checked_at + self.check_seconds
            and (event, user_id) in state.seen
        )

    def first(self, store: Any, event: str, user_id: Any, now: float) -> bool:
        """Whether ``event`` for ``user_id`` is new in the current bucket of ``store``
        (and note it as marked)."""
        if self.seen(store, event, user_id, now):
            return False  # the common case
        with self._lock:
            state = self._current(store, now)
            key = (event, user_id)
            if key in state.seen:
                return False
            if len(state.seen) >= self.limit:
                state = self._state = _State(
                    store, state.until, state.epoch, state.checked_at, set()
                )
            state.seen.add(key)
            return True

    def _current(self, store: Any, now: float) -> _State:
        """The state for ``store`` at ``now``, started over on a new store, a new
        bucket or a new epoch (called under the lock)."""
        state = self._state
        if state.store is not store:  # settings changed: its epoch is read at once
            state = _State(store, _bucket_end(store, now))
        elif now >= state.until:
            state = _State(store, _bucket_end(store, now), state.epoch, state.checked_at)
        if now >= state.checked_at + self.check_seconds and self.can_check():
            epoch = _epoch(store, state.epoch)
            if epoch != state.epoch:
                state = _State(store, state.until, epoch, now)
            else:
                state = _State(store, state.until, epoch, now, state.seen)
        self._state = state
        return state

    def forget(self) -> None:
        """Start over (after data was deleted in this process, say)."""
        with self._lock:
            self._state = _State()


def _epoch(store: Any, known: Any) -> Any:
    """The store's epoch, or ``known`` when it cannot be read now."""
    try:
        return store.epoch()
    except Exception as exc:  # Redis down: keep the set, check again later
        logger.debug("porpoise: store epoch not read: %s", exc)
        return known


def _bucket_end(store: Any, now: float) -> float:
    """When the smallest tracked bucket holding ``now`` ends (epoch seconds)."""
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    smallest = min(store.granularities, key=GRANULARITIES.index)
    return float(store.period(smallest, moment).period_end().timestamp())


def _outage_free() -> bool:
    from porpoise_django.delivery import outage

    return not outage.paused()


def _check_setting() -> float:
    from porpoise_django.conf import porpoise_settings

    return float(porpoise_settings.ACTIVE_CHECK_SECONDS)


#: The process's set, shared by every middleware instance.
ACTIVE = ActiveOnce(check_seconds=_check_setting, can_check=_outage_free)
