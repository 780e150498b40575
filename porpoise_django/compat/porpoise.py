"""Porpoise's API (the Python package this project is named after) over the engine.

``from porpoise import Analytics`` becomes
``from porpoise_django.compat.porpoise import Analytics``; the range helpers
and ``bitset`` come from the same module.

>>> porpoise = Analytics(client)                               # client = redis.Redis()
>>> porpoise.event("login", 1)
>>> porpoise.event("song:played", 1)
>>> events = porpoise.events
>>> both = events("login") & events("song:played")
>>> len(both(hourrange(-24)))        # one set per hour before the current one
24

Porpoise's ranges keep porpoise's meaning, which is not the engine's: a range
steps from ``start`` (an offset from now, or a time) by one unit while before
``end`` (now by default): ``hourrange(-24)`` is the 24 hours before the
current one, ``dayrange(start, end)`` stops before ``end``, and
``weekrange(-1)`` is the seven days before today, one bucket a day. Iterating
a range gives porpoise's moments (``str(m)`` is ``"2013010100"``, ``m.dt``
the time); calling an expression with a range gives one set of ids per
moment, equal to (and printed like) a Python ``set``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Set
from typing import Any

import redis

from porpoise_django import engine
from porpoise_django.engine import Bitmap, Period

#: porpoise's resolution letters: month, day, hour and (counters only) minute;
#: ``w`` (weeks) is this module's own.
RESOLUTIONS = {"m": "month", "w": "week", "d": "day", "H": "hour", "M": "minute"}
#: What a store made here keeps by default (porpoise's ``"dmH"``).
DEFAULT_RESOLUTIONS = "dmH"
_FORMATS = {"month": "%Y%m", "day": "%Y%m%d", "hour": "%Y%m%d%H", "minute": "%Y%m%d%H%M"}
_STEPS = {
    "minute": dt.timedelta(minutes=1),
    "hour": dt.timedelta(hours=1),
    "day": dt.timedelta(days=1),
    "week": dt.timedelta(days=7),
}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class moment:
    """One bucket of a range: ``str(m)`` is porpoise's suffix (``"20130101"``),
    ``m.dt`` the (naive UTC) time it was stepped to."""

    def __init__(self, when: dt.datetime, granularity: str) -> None:
        self.dt = when
        self.granularity = granularity

    def __str__(self) -> str:
        return self.dt.strftime(_FORMATS[self.granularity])

    def __repr__(self) -> str:
        return f"<moment {self}>"


class TimeRange:
    """Buckets of one granularity, porpoise style: from ``start``, one step at a
    time, while before ``end``. Offsets count units from now; datetimes are
    read as UTC when naive (as porpoise's ``utcnow()``), dates as midnight."""

    granularity = "day"

    def __init__(self, start: Any = -1, end: Any = 0) -> None:
        self.start, self.end = start, end
        self._now = _utcnow()

    def _step(self, cursor: dt.datetime, n: int = 1) -> dt.datetime:
        return cursor + _STEPS[self.granularity] * n

    def _ends(self, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        start, end = self.start, self.end
        if isinstance(start, (int, float)):
            start = self._step(now, start)  # type: ignore[arg-type]
            if end is None:
                end = self._step(start)
        if isinstance(end, (int, float)):
            end = self._step(now, end)  # type: ignore[arg-type]
        return _naive_utc(start), _naive_utc(end)

    def moments(self, now: dt.datetime | None = None) -> list[moment]:
        """Porpoise's moments of this range, ``now`` (naive UTC) being the
        time offsets count from (default: when the range was made)."""
        cursor, end = self._ends(self._now if now is None else now)
        found = []
        while cursor < end:
            found += self._suffixes(cursor)
            cursor = self._step(cursor)
        return found

    def _suffixes(self, cursor: dt.datetime) -> list[moment]:
        return [moment(cursor, self.granularity)]

    def __iter__(self) -> Iterator[moment]:
        return iter(self.moments())

    def periods(self, store: engine.Analytics) -> list[Period]:
        """The store's buckets of these moments, offsets counted from the store's clock."""
        now = store.clock().astimezone(dt.UTC).replace(tzinfo=None)
        return [store.period(m.granularity, m.dt.replace(tzinfo=dt.UTC)) for m in self.moments(now)]


# Porpoise's names, lower case as porpoise spells them.


class minuterange(TimeRange):
    granularity = "minute"


class hourrange(TimeRange):
    granularity = "hour"


class dayrange(TimeRange):
    granularity = "day"


class weekrange(TimeRange):
    """Weeks of seven days from ``start``; each week gives its seven day buckets
    (porpoise keeps no weekly buckets)."""

    granularity = "week"

    def _suffixes(self, cursor: dt.datetime) -> list[moment]:
        return dayrange(cursor, cursor + dt.timedelta(days=7)).moments()


class monthrange(TimeRange):
    """Months (this module's own): offsets are calendar months."""

    granularity = "month"

    def _step(self, cursor: dt.datetime, n: int = 1) -> dt.datetime:
        months = cursor.year * 12 + cursor.month - 1 + int(n)
        return cursor.replace(year=months // 12, month=months % 12 + 1, day=1)


def _naive_utc(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            return value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    raise ValueError(f"a range end is an offset (int), a datetime or a date, not {value!r}")


def _when(value: Any) -> Any:
    """porpoise's ``time=``: None (now), a datetime (naive is UTC) or a UNIX timestamp."""
    if isinstance(value, bool):
        raise ValueError("time must be a datetime or a UNIX timestamp")
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def bitset(value: bytes | str | None) -> set[int]:
    """The offsets of the bits set in ``value`` (a Redis string; the first byte's
    highest bit is 0), as porpoise's ``bitset``."""
    bits: set[int] = set()
    if value is None:
        return bits
    data = value.encode("latin-1") if isinstance(value, str) else bytes(value)
    for i, byte in enumerate(data):
        for j in range(8):
            if byte & (0x80 >> j):
                bits.add(i * 8 + j)
    return bits


class IdSet(Set[Any]):
    """The ids of one bucket: a read-only set that compares equal to a Python
    ``set`` with the same ids, and prints like one. Membership and ``len`` ask
    the server (no ids are fetched); iterating fetches them once."""

    def __init__(self, bitmap: Bitmap) -> None:
        self.bitmap = bitmap
        self._ids: list[Any] | None = None

    @classmethod
    def _from_iterable(cls, it: Any) -> set[Any]:
        return set(it)  # ``ids & {1, 2}`` is a Python set

    def _all(self) -> list[Any]:
        if self._ids is None:
            self._ids = list(self.bitmap)
        return self._ids

    def __iter__(self) -> Iterator[Any]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all()) if self._ids is not None else len(self.bitmap)

    def __contains__(self, item: object) -> bool:
        if self._ids is not None:
            return item in self._ids
        return item in self.bitmap

    def __repr__(self) -> str:
        ids = self._all()  # in id order (a Python set prints in hash order)
        return "{" + ", ".join(map(repr, ids)) + "}" if ids else "set()"


class Events:
    """An expression over event names, bound later to each bucket of a range."""

    def __init__(self, store: engine.Analytics, template: Bitmap) -> None:
        self.store = store
        self.template = template

    def __call__(self, periods: TimeRange) -> list[IdSet]:
        """One set of ids per bucket of ``periods``, oldest first."""
        return [IdSet(self.template.bind(p)) for p in periods.periods(self.store)]

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

    def __repr__(self) -> str:
        return f"Events({self.template.signature!r})"


class Counters:
    """A counter read per bucket: ``{id: count}`` for each bucket of a range, or
    (for one ``id``) that id's count, None where it has none (as porpoise)."""

    def __init__(self, store: engine.Analytics, name: str, id: Any = None) -> None:
        self.store = store
        self.counter = store.counter(name)
        self.id = None if id is None else str(id)

    def __call__(self, periods: TimeRange) -> Iterator[Any]:
        for period in periods.periods(self.store):
            counts = self.counter.get(period)
            yield counts if self.id is None else counts.get(self.id)


def granularities_of(resolutions: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(event granularities, counter granularities)`` of porpoise's letters."""
    unknown = set(resolutions) - set(RESOLUTIONS)
    if unknown or not resolutions:
        raise ValueError(
            f"resolutions {resolutions!r}: use the letters "
            + ", ".join(f"{k} ({v})" for k, v in RESOLUTIONS.items())
        )
    counters = tuple(dict.fromkeys(RESOLUTIONS[r] for r in resolutions))
    events = tuple(g for g in counters if g != "minute") or ("day",)
    return events, counters


class Analytics:
    """``porpoise.Analytics(client=None, resolutions="dmH")``: events and counters
    over a redis-py client (localhost by default), or over an existing engine
    store (``store=``). Minutes (``M``) are kept for counters only."""

    def __init__(
        self,
        client: Any = None,
        resolutions: str = DEFAULT_RESOLUTIONS,
        *,
        store: engine.Analytics | None = None,
        prefix: str = "pp",
        tz: str = "UTC",
    ) -> None:
        self.resolutions = resolutions
        events, counters = granularities_of(resolutions)
        if client is None:
            client = store.client if store is not None else redis.Redis()
        self.client = client
        self.store = store or engine.Analytics(
            self.client,
            prefix=prefix,
            tz=tz,
            granularities=events,
            counter_granularities=counters,
        )

    def event(
        self, key: str, id: Any, time: Any = None, tx: Any = None, *, when: Any = None
    ) -> None:
        """Record that ``id`` did ``key`` now (or at ``time``: a datetime, naive
        UTC, or a UNIX timestamp). A pipeline given as ``tx`` is executed too."""
        self.store.mark(key, id, _when(time if when is None else when))
        if tx is not None:
            tx.execute()

    def count(
        self,
        key: str,
        id: Any = None,
        count: float = 1,
        time: Any = None,
        tx: Any = None,
        *,
        by: float | None = None,
        when: Any = None,
    ) -> None:
        """Add ``count`` to counter ``key`` for ``id`` now (or at ``time``)."""
        self.store.count(
            key, id, count if by is None else by, _when(time if when is None else when)
        )
        if tx is not None:
            tx.execute()

    def events(self, key: str) -> Events:
        """Event ``key`` as an expression: combine with ``& | ^ - ~``, call with a range."""
        return Events(self.store, self.store.event(key))

    def counters(self, key: str, id: Any = None) -> Counters:
        return Counters(self.store, key, id)
