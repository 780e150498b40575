"""Porpoise's API (the Python package this project is named after) over the engine.

``from porpoise import Analytics`` becomes
``from porpoise_django.compat.porpoise import Analytics``; the range helpers
come from the same module.

>>> porpoise = Analytics()                                     # doctest: +SKIP
>>> porpoise.event("login", 1)                                 # doctest: +SKIP
>>> events = porpoise.events                                   # doctest: +SKIP
>>> both = events("login") & events("song:played")            # doctest: +SKIP
>>> [len(users) for users in both(hourrange(-24))]            # doctest: +SKIP

Porpoise's ranges keep porpoise's meaning, which is not the engine's:
``hourrange(-24)`` is the 24 hours *before* the current one, and
``dayrange(start, end)`` stops before ``end`` (the engine's ranges include
both ends and the current bucket).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import redis

from porpoise_django import engine
from porpoise_django.engine import Bitmap, Period

#: Granularities a porpoise store keeps: porpoise queries any of them.
GRANULARITIES = ("hour", "day", "week", "month")
COUNTER_GRANULARITIES = ("minute", "hour", "day", "week", "month")


class TimeRange:
    """Buckets of one granularity, porpoise style: ``start`` included, ``end`` not.

    Offsets count buckets from the current one; datetimes (naive ones are UTC)
    and dates are absolute times.
    """

    granularity = "day"

    def __init__(self, start: Any, end: Any = 0) -> None:
        self.start, self.end = start, end

    def periods(self, store: engine.Analytics) -> list[Period]:
        first = store.period(self.granularity, _when(self.start))
        last = store.period(self.granularity, _when(self.end))
        periods = list(store.range(self.granularity, first.start, last.start))
        return periods[:-1]  # porpoise's end is exclusive


# Porpoise's names, lower case as porpoise spells them.


class minuterange(TimeRange):
    granularity = "minute"


class hourrange(TimeRange):
    granularity = "hour"


class dayrange(TimeRange):
    granularity = "day"


class weekrange(TimeRange):
    granularity = "week"


class monthrange(TimeRange):
    granularity = "month"


def _when(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class Events:
    """An expression over event names, bound later to each bucket of a range."""

    def __init__(self, store: engine.Analytics, template: Bitmap) -> None:
        self.store = store
        self.template = template

    def __call__(self, periods: TimeRange) -> list[Bitmap]:
        """One set of users per bucket of ``periods``, oldest first."""
        return [self.template.bind(p) for p in periods.periods(self.store)]

    def _combine(self, other: Events, op: Callable[[Bitmap, Bitmap], Bitmap]) -> Events:
        return Events(self.store, op(self.template, other.template))

    def __and__(self, other: Events) -> Events:
        return self._combine(other, lambda a, b: a & b)

    def __or__(self, other: Events) -> Events:
        return self._combine(other, lambda a, b: a | b)

    def __xor__(self, other: Events) -> Events:
        return self._combine(other, lambda a, b: a ^ b)

    def __sub__(self, other: Events) -> Events:
        return self._combine(other, lambda a, b: a - b)

    def __invert__(self) -> Events:
        return Events(self.store, ~self.template)


class Counters:
    """A counter read per bucket: ``{id: count}`` for each bucket of a range."""

    def __init__(self, store: engine.Analytics, name: str) -> None:
        self.store = store
        self.counter = store.counter(name)

    def __call__(self, periods: TimeRange) -> Iterator[dict[str, float | int]]:
        for period in periods.periods(self.store):
            yield self.counter.get(period)


class Analytics:
    """``porpoise.Analytics``: events and counters over a redis-py client
    (localhost by default), or over an existing engine store."""

    def __init__(
        self,
        client: Any = None,
        *,
        store: engine.Analytics | None = None,
        prefix: str = "pp",
        tz: str = "UTC",
    ) -> None:
        self.store = store or engine.Analytics(
            client if client is not None else redis.Redis(),
            prefix=prefix,
            tz=tz,
            granularities=GRANULARITIES,
            counter_granularities=COUNTER_GRANULARITIES,
        )

    def event(self, name: str, id: Any, when: Any = None) -> None:
        """Record that ``id`` did ``name`` now (or at ``when``)."""
        self.store.mark(name, id, _when(when))

    def count(self, name: str, id: Any = None, by: float = 1, when: Any = None) -> None:
        """Add ``by`` to counter ``name`` for ``id``."""
        self.store.count(name, id, by, _when(when))

    def events(self, name: str) -> Events:
        """Event ``name`` as an expression: combine with ``& | ^ - ~``, call with a range."""
        return Events(self.store, self.store.event(name))

    def counters(self, name: str) -> Counters:
        return Counters(self.store, name)
