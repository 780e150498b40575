"""bitmapist's API over the porpoise engine: ``import bitmapist`` becomes
``from porpoise_django.compat import bitmapist`` (and ``bitmapist.cohort``
becomes ``porpoise_django.compat.bitmapist.cohort``).

>>> from porpoise_django.compat import bitmapist
>>> server = client.connection_pool.connection_kwargs       # the test's server
>>> bitmapist.setup_redis("default", server["host"], server["port"])
>>> bitmapist.mark_event("active", 123)
>>> 123 in bitmapist.DayEvents("active")
True
>>> bitmapist.delete_all_events()

What carries over: ``setup_redis`` / ``get_redis``, ``mark_event`` /
``unmark_event`` (month, week, day, and hour with ``TRACK_HOURLY``),
``mark_unique`` / ``unmark_unique``, ``YearEvents`` to ``HourEvents`` (their
``year``, ``month``, ``week``, ``day``, ``hour``, ``event_name``, ``system``
and ``redis_key``, ``from_date``, ``prev``, ``next`` and ``delta`` of the same
class, ``period_start`` and ``period_end``, the last microsecond of the
period), ``len``, ``get_count``, ``in``, iteration, ``has_events_marked``,
``delete``; ``UniqueEvents``; ``BitOpAnd/Or/Xor/Not`` (a system name first or
not) and the operators; ``get_event_names``, ``delete_all_events``,
``delete_temporary_bitop_keys``, ``delete_runtime_bitop_keys``; the
``cohort`` module.

Where porpoise differs on purpose (see "Coming from bitmapist" in docs/peers.md):
naive datetimes are read as UTC, as bitmapist writes them; ``~x`` (and
``BitOpNot``) is "every id ever marked, minus x" (bitmapist issue #14), not
every zero bit; expression results expire by themselves, ``delete()`` drops
them at once; ``redis_key`` names a bitmap as bitmapist would but is not a key
of the store: data lives in porpoise's key layout (``porpoise_import
--from-bitmapist`` moves an existing keyspace).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import redis

from porpoise_django.engine import (
    Analytics,
    Bitmap,
    BitOp,
    Difference,
    EventBitmap,
    Period,
    UniqueBitmap,
    UniverseBitmap,
)

#: Mark hourly buckets too (bitmapist's default: off, to save memory).
TRACK_HOURLY = False
#: Mark the unique (time-less) event too.
TRACK_UNIQUE = False
#: Granularities the stores made here keep (hours only when marked).
GRANULARITIES = ("hour", "day", "week", "month")

SYSTEMS: dict[str, Analytics] = {}
#: Expression results dropped with ``delete()``: they read as empty until the
#: expression is built again (bitmapist's BITOP runs when it is built).
_DELETED: set[tuple[int, str]] = set()


def setup_redis(name: str, host: str, port: int, **kwargs: Any) -> None:
    """Register Redis system ``name`` (``prefix=`` picks the key prefix, "pp" by default)."""
    prefix = kwargs.pop("prefix", "pp")
    setup_store(
        name,
        Analytics(
            redis.Redis(host=host, port=port, **kwargs),
            prefix=prefix,
            granularities=GRANULARITIES,
            tz="UTC",
        ),
    )


def setup_store(name: str, store: Analytics) -> None:
    """Register an existing store as system ``name`` (e.g. the Django app's,
    ``porpoise_django.services.get_analytics()``)."""
    missing = {"day", "week", "month"} - set(store.granularities)
    if missing:
        raise ValueError(f"a bitmapist system needs day, week and month tracked; missing {missing}")
    SYSTEMS[name] = store


def store_of(system: str) -> Analytics:
    """The store of system ``system`` ("default" is made on localhost at first use)."""
    if system not in SYSTEMS:
        if system != "default":
            raise ValueError(f"unknown system {system!r}; call setup_redis({system!r}, ...) first")
        setup_redis("default", "localhost", 6379)
    return SYSTEMS[system]


_store = store_of


def get_redis(system: Any = "default") -> Any:
    """The redis-py client of system ``system`` (a client given is returned as is)."""
    if isinstance(system, (redis.Redis, redis.RedisCluster)):
        return system
    return _store(system).client


def _aware(when: dt.datetime | dt.date | None, system: str = "default") -> dt.datetime:
    """bitmapist's times are UTC (naive ones too); a date is its midnight in the
    store's zone; None is the store's now."""
    if when is None:
        return _store(system).clock().astimezone(dt.UTC)
    if not isinstance(when, dt.datetime):
        return dt.datetime(when.year, when.month, when.day, tzinfo=_store(system).tz)
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


# -- marking ------------------------------------------------------------------------------
def _granularities(store: Analytics, track_hourly: bool | None) -> tuple[str, ...]:
    hourly = TRACK_HOURLY if track_hourly is None else track_hourly
    wanted = ("month", "week", "day", "hour") if hourly else ("month", "week", "day")
    return tuple(g for g in wanted if g in store.granularities)


def mark_event(
    event_name: str,
    uuid: int,
    system: str = "default",
    now: dt.datetime | None = None,
    track_hourly: bool | None = None,
    track_unique: bool | None = None,
    use_pipeline: bool = True,
    redis_client: Any = None,
) -> None:
    """Mark ``uuid`` for ``event_name`` now (or at ``now``): one round trip."""
    store = _store(system)
    unique = TRACK_UNIQUE if track_unique is None else track_unique
    store.mark(
        event_name,
        uuid,
        _aware(now, system),
        granularities=_granularities(store, track_hourly),
        track_unique=unique,
    )


def unmark_event(
    event_name: str,
    uuid: int,
    system: str = "default",
    now: dt.datetime | None = None,
    track_hourly: bool | None = None,
    track_unique: bool | None = None,
    use_pipeline: bool = True,
    redis_client: Any = None,
) -> None:
    """Clear the mark of ``uuid`` in the buckets holding ``now``."""
    store = _store(system)
    store.unmark(
        event_name, uuid, _aware(now, system), granularities=_granularities(store, track_hourly)
    )
    if TRACK_UNIQUE if track_unique is None else track_unique:
        store.unmark_unique(event_name, uuid)


def mark_unique(event_name: str, uuid: int, system: str = "default") -> None:
    _store(system).mark_unique(event_name, uuid)


def unmark_unique(event_name: str, uuid: int, system: str = "default") -> None:
    _store(system).unmark_unique(event_name, uuid)


def get_event_names(system: str = "default", prefix: str = "", batch: int = 10000) -> list[str]:
    """Names of the events marked (from the registry, never KEYS)."""
    return [n for n in _store(system).event_names() if n.startswith(prefix)]


def delete_all_events(system: str = "default") -> None:
    _store(system).delete_all()


def delete_temporary_bitop_keys(system: str = "default") -> None:
    """Drop every expression result now (they expire by themselves)."""
    _store(system).delete_temporaries()


def delete_runtime_bitop_keys() -> None:
    """Drop the expression results of every system."""
    for store in SYSTEMS.values():
        store.delete_temporaries()


# -- what every bitmapist object has ----------------------------------------------------------
class _Bitmapist:
    """bitmapist's names on an engine bitmap: ``get_count``, ``get_uuids``,
    ``redis_key`` equality, and operators that give bitmapist's BitOp classes."""

    system: str
    redis_key: str

    def get_count(self) -> int:
        return len(self)  # type: ignore[arg-type]

    def get_uuids(self) -> Any:
        return iter(self)  # type: ignore[call-overload]

    def __and__(self, other: Any) -> BitOpAnd:
        return BitOpAnd(self, other)

    def __or__(self, other: Any) -> BitOpOr:
        return BitOpOr(self, other)

    def __xor__(self, other: Any) -> BitOpXor:
        return BitOpXor(self, other)

    def __invert__(self) -> BitOpNot:
        return BitOpNot(self)

    def __eq__(self, other: object) -> bool:
        key = getattr(other, "redis_key", None)
        return NotImplemented if key is None else bool(self.redis_key == key)

    def __hash__(self) -> int:
        return hash(self.redis_key)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.redis_key}>"


def _key(event_name: str, suffix: str) -> str:
    """The name bitmapist gives this bitmap (``trackist_active_2026-3-2``)."""
    return f"trackist_{event_name}_{suffix}"


class _FromDate:
    """``Events.from_date(name, when, system)`` as bitmapist, and also
    ``Events(name).from_date(when)`` as bitmapist's README writes it."""

    def __get__(self, obj: Any, cls: Any) -> Any:
        if obj is None:
            return cls._from_date
        return lambda when=None: cls._from_date(obj.event_name, when, obj.system)


# -- events of a period -------------------------------------------------------------------
class GenericPeriodEvents(_Bitmapist, EventBitmap):
    """An event in one period of the system's store. Its ``year``, ``month``,
    ``day``... are the period's, in the store's time zone (UTC for a store made
    by :func:`setup_redis`)."""

    granularity = "day"

    def _setup(self, event_name: str, period: Period, system: str) -> None:
        store = _store(system)
        EventBitmap.__init__(self, store, store.policy.name(event_name), period)
        self.event_name = event_name
        self.system = system
        start = period.start
        self.year, self.month, self.day, self.hour = start.year, start.month, start.day, start.hour
        self.week = start.isocalendar()[1]
        if self.granularity == "week":
            self.year = start.isocalendar()[0]
        self.redis_key = _key(event_name, self._suffix())

    def _suffix(self) -> str:
        return f"{self.year}-{self.month}-{self.day}"

    @classmethod
    def _of(cls, event_name: str, period: Period, system: str) -> Any:
        made = cls.__new__(cls)
        made._setup(event_name, period, system)
        return made

    from_date = _FromDate()

    @classmethod
    def _from_date(
        cls, event_name: str, dt: dt.datetime | dt.date | None = None, system: str = "default"
    ) -> Any:
        """The ``cls`` period holding ``dt`` (now by default)."""
        return cls._of(
            event_name, _store(system).period(cls.granularity, _aware(dt, system)), system
        )

    @staticmethod
    def _local(system: str, year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
        """That wall-clock time in the store's zone: the store's own buckets."""
        return dt.datetime(year, month, day, hour, tzinfo=_store(system).tz)

    @staticmethod
    def _now(system: str) -> dt.datetime:
        store = _store(system)
        return store.clock().astimezone(store.tz)

    def delta(self, value: int) -> Any:
        """The same event ``value`` periods later (earlier when negative), same class."""
        assert self.period is not None
        return self._of(self.event_name, self.period.delta(value), self.system)

    def next(self) -> Any:
        return self.delta(1)

    def prev(self) -> Any:
        return self.delta(-1)

    def period_start(self) -> dt.datetime:
        assert self.period is not None
        return self.period.start

    def period_end(self) -> dt.datetime:
        """The last microsecond of the period, as bitmapist (not the next one's start)."""
        assert self.period is not None
        return self.period.period_end() - dt.timedelta(microseconds=1)


class MonthEvents(GenericPeriodEvents):
    granularity = "month"

    def __init__(
        self,
        event_name: str,
        year: int | None = None,
        month: int | None = None,
        system: str = "default",
    ) -> None:
        now = self._now(system)
        when = self._local(system, _or(year, now.year), _or(month, now.month), 1)
        self._setup(event_name, _store(system).period("month", when), system)

    def _suffix(self) -> str:
        return f"{self.year}-{self.month}"


class WeekEvents(GenericPeriodEvents):
    """An ISO week (``year`` is the ISO year)."""

    granularity = "week"

    def __init__(
        self,
        event_name: str,
        year: int | None = None,
        week: int | None = None,
        system: str = "default",
    ) -> None:
        iso = self._now(system).isocalendar()
        monday = dt.date.fromisocalendar(_or(year, iso[0]), _or(week, iso[1]), 1)
        when = self._local(system, monday.year, monday.month, monday.day)
        self._setup(event_name, _store(system).period("week", when), system)

    def _suffix(self) -> str:
        return f"W{self.year}-{self.week}"


class DayEvents(GenericPeriodEvents):
    granularity = "day"

    def __init__(
        self,
        event_name: str,
        year: int | None = None,
        month: int | None = None,
        day: int | None = None,
        system: str = "default",
    ) -> None:
        now = self._now(system)
        when = self._local(system, _or(year, now.year), _or(month, now.month), _or(day, now.day))
        self._setup(event_name, _store(system).period("day", when), system)


class HourEvents(GenericPeriodEvents):
    granularity = "hour"

    def __init__(
        self,
        event_name: str,
        year: int | None = None,
        month: int | None = None,
        day: int | None = None,
        hour: int | None = None,
        system: str = "default",
    ) -> None:
        now = self._now(system)
        parts = (_or(year, now.year), _or(month, now.month), _or(day, now.day))
        when = self._local(system, *parts, _or(hour, now.hour))
        self._setup(event_name, _store(system).period("hour", when), system)

    def _suffix(self) -> str:
        return f"{self.year}-{self.month}-{self.day}-{self.hour}"


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


class UniqueEvents(_Bitmapist, UniqueBitmap):
    """A unique (time-less) event: ``next()`` and ``prev()`` are itself."""

    def __init__(self, event_name: str, system: str = "default") -> None:
        store = _store(system)
        UniqueBitmap.__init__(self, store, store.policy.name(event_name))
        self.event_name = event_name
        self.system = system
        self.redis_key = _key(event_name, "u")

    from_date = _FromDate()

    @classmethod
    def _from_date(cls, event_name: str, dt: Any = None, system: str = "default") -> UniqueEvents:
        return cls(event_name, system)

    def next(self) -> UniqueEvents:
        return self

    def prev(self) -> UniqueEvents:
        return self

    def delta(self, value: int) -> UniqueEvents:
        return self


# -- bit operations ---------------------------------------------------------------------------
class _Result(_Bitmapist):
    """An expression result: after ``delete()`` it reads as empty until built again."""

    store: Any

    def _dropped(self) -> bool:
        return (id(self.store), self.redis_key) in _DELETED

    def count(self) -> int:
        return 0 if self._dropped() else super().count()  # type: ignore[misc]

    def __contains__(self, uuid: object) -> bool:
        return False if self._dropped() else super().__contains__(uuid)  # type: ignore[misc]

    def indexes(self) -> Any:
        if self._dropped():
            import numpy as np

            return np.empty(0, dtype=np.int64)
        return super().indexes()  # type: ignore[misc]

    def has_events_marked(self) -> bool:
        return self.count() > 0

    def delete(self) -> None:
        super().delete()  # type: ignore[misc]
        _DELETED.add((id(self.store), self.redis_key))

    def _built(self, op: str, system: str, events: tuple[Any, ...]) -> None:
        self.system = system
        self.redis_key = "trackist_bitop_{}_{}".format(
            op, "-".join(getattr(e, "redis_key", repr(e)) for e in events)
        )
        _DELETED.discard((id(self.store), self.redis_key))


def _split(system_or_event: Any, events: tuple[Any, ...]) -> tuple[str, tuple[Bitmap, ...]]:
    """bitmapist's ``BitOpAnd([system,] *events)``: a first argument that is not a
    bitmap names the system the result belongs to."""
    if isinstance(system_or_event, Bitmap):
        return getattr(system_or_event, "system", "default"), (system_or_event, *events)
    if not events:
        raise ValueError("a bit operation needs at least one event")
    _store(system_or_event)  # an unknown system is an error now, not later
    return str(system_or_event), events


class BitOperation(_Result, BitOp):
    """AND, OR or XOR of bitmapist events (computed in the events' store)."""

    def __init__(self, op_name: str, system_or_event: Any, *events: Any) -> None:
        system, operands = _split(system_or_event, events)
        BitOp.__init__(self, operands[0].store, op_name, operands)
        self._built(op_name, system, operands)


class BitOpAnd(BitOperation):
    def __init__(self, system_or_event: Any, *events: Any) -> None:
        super().__init__("AND", system_or_event, *events)


class BitOpOr(BitOperation):
    def __init__(self, system_or_event: Any, *events: Any) -> None:
        super().__init__("OR", system_or_event, *events)


class BitOpXor(BitOperation):
    def __init__(self, system_or_event: Any, *events: Any) -> None:
        super().__init__("XOR", system_or_event, *events)


class BitOpNot(_Result, Difference):
    """Every id ever marked, minus the event's (not every zero bit)."""

    def __init__(self, system_or_event: Any, *events: Any) -> None:
        system, operands = _split(system_or_event, events)
        if len(operands) != 1:
            raise ValueError("BitOpNot takes one event")
        Difference.__init__(self, UniverseBitmap(operands[0].store), operands[0])
        self._built("NOT", system, operands)


class YearEvents(BitOpOr):
    """A year: the OR of its twelve months, as in bitmapist."""

    granularity = "year"

    def __init__(self, event_name: str, year: int | None = None, system: str = "default") -> None:
        self.event_name = event_name
        self.year = _or(year, GenericPeriodEvents._now(system).year)
        months = [MonthEvents(event_name, self.year, m, system) for m in range(1, 13)]
        super().__init__(system, *months)

    from_date = _FromDate()

    @classmethod
    def _from_date(
        cls, event_name: str, dt: dt.datetime | dt.date | None = None, system: str = "default"
    ) -> YearEvents:
        when = _aware(dt, system).astimezone(_store(system).tz) if dt is not None else None
        return cls(event_name, None if when is None else when.year, system)

    def delta(self, value: int) -> YearEvents:
        return YearEvents(self.event_name, self.year + value, self.system)

    def next(self) -> YearEvents:
        return self.delta(1)

    def prev(self) -> YearEvents:
        return self.delta(-1)

    def period_start(self) -> dt.datetime:
        return GenericPeriodEvents._local(self.system, self.year, 1, 1)

    def period_end(self) -> dt.datetime:
        return GenericPeriodEvents._local(self.system, self.year + 1, 1, 1) - dt.timedelta(
            microseconds=1
        )


def __getattr__(name: str) -> Any:
    """``bitmapist.cohort`` without importing it first, as with bitmapist (the
    submodule imports this one, so it is loaded on first use)."""
    if name == "cohort":
        import importlib

        return importlib.import_module(f"{__name__}.cohort")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "GRANULARITIES",
    "SYSTEMS",
    "TRACK_HOURLY",
    "TRACK_UNIQUE",
    "BitOpAnd",
    "BitOpNot",
    "BitOpOr",
    "BitOpXor",
    "BitOperation",
    "DayEvents",
    "GenericPeriodEvents",
    "HourEvents",
    "MonthEvents",
    "UniqueEvents",
    "WeekEvents",
    "YearEvents",
    "delete_all_events",
    "delete_runtime_bitop_keys",
    "delete_temporary_bitop_keys",
    "get_event_names",
    "get_redis",
    "mark_event",
    "mark_unique",
    "setup_redis",
    "setup_store",
    "store_of",
    "unmark_event",
    "unmark_unique",
]
