"""bitmapist's API over the porpoise engine: ``import bitmapist`` becomes
``from porpoise_django.compat import bitmapist``.

>>> from porpoise_django.compat import bitmapist           # doctest: +SKIP
>>> bitmapist.setup_redis("default", "localhost", 6379)      # doctest: +SKIP
>>> bitmapist.mark_event("active", 123)                      # doctest: +SKIP
>>> 123 in bitmapist.DayEvents("active")                     # doctest: +SKIP
True

What carries over: ``mark_event`` / ``unmark_event`` (month, week, day, and
hour with ``TRACK_HOURLY``), ``mark_unique`` / ``unmark_unique``,
``YearEvents`` to ``HourEvents`` with ``from_date``, ``prev``, ``next``,
``delta``, ``period_start``, ``period_end``, ``len``, ``in``, iteration,
``has_events_marked``, ``get_count``, ``delete``; ``UniqueEvents``;
``BitOpAnd/Or/Xor/Not`` and the operators; ``get_event_names``,
``delete_all_events``, ``delete_temporary_bitop_keys``,
``delete_runtime_bitop_keys``; ``cohort.get_dates_data``.

Where porpoise differs on purpose (see "Coming from bitmapist" in docs/peers.md):
naive datetimes are read as UTC, as bitmapist writes them; ``~x`` (and
``BitOpNot``) is "every id ever marked, minus x" (bitmapist issue #14), not
every zero bit; ``YearEvents`` is the OR of the year's months, as in
bitmapist; expression results expire by themselves, ``delete()`` drops them
at once; data lives in porpoise's key layout (``porpoise_import
--from-bitmapist`` moves an existing keyspace).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import reduce
from typing import Any

import redis

from porpoise_django.engine import Analytics, Bitmap, EventBitmap, UniqueBitmap

#: Mark hourly buckets too (bitmapist's default: off, to save memory).
TRACK_HOURLY = False
#: Mark the unique (time-less) event too.
TRACK_UNIQUE = False
#: Granularities the stores made here keep (hours only when marked).
GRANULARITIES = ("hour", "day", "week", "month")

SYSTEMS: dict[str, Analytics] = {}


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


def _store(system: str) -> Analytics:
    if system not in SYSTEMS:
        if system != "default":
            raise ValueError(f"unknown system {system!r}; call setup_redis({system!r}, ...) first")
        setup_redis("default", "localhost", 6379)
    return SYSTEMS[system]


def _aware(when: dt.datetime | None, system: str = "default") -> dt.datetime:
    """bitmapist's times are naive UTC (``datetime.utcnow()``); None is the
    store's now, in UTC."""
    if when is None:
        return _store(system).clock().astimezone(dt.UTC)
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


# -- events ----------------------------------------------------------------------------------
class _FromDate:
    """``Events.from_date(name, when)``, and also ``Events(name).from_date(when)`` as
    bitmapist's README writes it."""

    def __get__(self, obj: Any, cls: Any) -> Any:
        if obj is None:

            def for_class(event_name: str, when: Any = None, system: str = "default") -> Any:
                return cls._at(event_name, _aware(when, system), system)

            return for_class

        def for_instance(when: Any = None) -> Any:
            return cls._at(obj.name, _aware(when, obj.system), obj.system)

        return for_instance


class _PeriodEvents(EventBitmap):
    granularity = "day"
    from_date = _FromDate()

    def __init__(self, event_name: str, when: dt.datetime, system: str) -> None:
        store = _store(system)
        super().__init__(store, store.policy.name(event_name), store.period(self.granularity, when))
        self.system = system

    @classmethod
    def _at(cls, event_name: str, when: dt.datetime, system: str) -> Any:
        raise NotImplementedError

    def get_count(self) -> int:
        return len(self)

    def get_uuids(self) -> Iterable[Any]:
        return iter(self)


class MonthEvents(_PeriodEvents):
    granularity = "month"

    def __init__(
        self,
        event_name: str,
        year: int | None = None,
        month: int | None = None,
        system: str = "default",
    ) -> None:
        now = _aware(None, system)
        super().__init__(event_name, _utc(year or now.year, month or now.month, 1), system)

    @classmethod
    def _at(cls, event_name: str, when: dt.datetime, system: str) -> MonthEvents:
        return cls(event_name, when.year, when.month, system)


class WeekEvents(_PeriodEvents):
    granularity = "week"

    def __init__(
        self,
        event_name: str,
        year: int | None = None,
        week: int | None = None,
        system: str = "default",
    ) -> None:
        iso = _aware(None, system).isocalendar()
        monday = dt.date.fromisocalendar(year or iso[0], week or iso[1], 1)
        super().__init__(event_name, _utc(monday.year, monday.month, monday.day), system)

    @classmethod
    def _at(cls, event_name: str, when: dt.datetime, system: str) -> WeekEvents:
        iso = when.isocalendar()
        return cls(event_name, iso[0], iso[1], system)


class DayEvents(_PeriodEvents):
    granularity = "day"

    def __init__(
        self,
        event_name: str,
        year: int | None = None,
        month: int | None = None,
        day: int | None = None,
        system: str = "default",
    ) -> None:
        now = _aware(None, system)
        super().__init__(
            event_name, _utc(year or now.year, month or now.month, day or now.day), system
        )

    @classmethod
    def _at(cls, event_name: str, when: dt.datetime, system: str) -> DayEvents:
        return cls(event_name, when.year, when.month, when.day, system)


class HourEvents(_PeriodEvents):
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
        now = _aware(None, system)
        when = _utc(year or now.year, month or now.month, day or now.day)
        super().__init__(event_name, when.replace(hour=now.hour if hour is None else hour), system)

    @classmethod
    def _at(cls, event_name: str, when: dt.datetime, system: str) -> HourEvents:
        return cls(event_name, when.year, when.month, when.day, when.hour, system)


def YearEvents(event_name: str, year: int | None = None, system: str = "default") -> Bitmap:
    """The OR of the year's months, as in bitmapist."""
    year = year or _aware(None, system).year
    return BitOpOr(*(MonthEvents(event_name, year, m, system) for m in range(1, 13)))


def UniqueEvents(event_name: str, system: str = "default") -> UniqueBitmap:
    store = _store(system)
    return store.unique(event_name)


def _utc(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=dt.UTC)


# -- bit operations ---------------------------------------------------------------------------
def BitOpAnd(*events: Bitmap) -> Bitmap:
    return reduce(lambda a, b: a & b, events)


def BitOpOr(*events: Bitmap) -> Bitmap:
    return reduce(lambda a, b: a | b, events)


def BitOpXor(*events: Bitmap) -> Bitmap:
    return reduce(lambda a, b: a ^ b, events)


def BitOpNot(event: Bitmap) -> Bitmap:
    """Every id ever marked, minus ``event``'s (not every zero bit)."""
    return ~event


class _Cohort:
    """``bitmapist.cohort``: the data of the cohort table, in bitmapist's row layout."""

    TIME_GROUPS = {"days": "day", "weeks": "week", "months": "month", "years": "year"}

    def get_dates_data(
        self,
        select1: str,
        select2: str,
        select1b: str | None = None,
        select2b: str | None = None,
        time_group: str = "days",
        system: str = "default",
        as_precent: bool | int = False,
        num_results: int = 25,
        num_of_rows: int = 12,
        start_date: dt.datetime | None = None,
        select3: str | None = None,
    ) -> list[list[Any]]:
        """Rows ``[period start, cohort size, cell 0, cell 1, ...]`` oldest first: a
        cell counts (or, with ``as_precent``, gives the percent of) the cohort
        that did ``select2`` that many periods later; None for periods to come."""
        from porpoise_django.engine import cohort_table

        if time_group not in self.TIME_GROUPS:
            raise ValueError(
                f"unknown time_group {time_group!r}; allowed: {', '.join(self.TIME_GROUPS)}"
            )
        store = _store(system)
        table = cohort_table(
            store,
            select1,
            select2,
            select1b=select1b,
            select2b=select2b or select3,
            granularity=self.TIME_GROUPS[time_group],
            cohorts=num_of_rows,
            offsets=num_results - 1,
            start=_aware(start_date, system) if start_date is not None else None,
        )
        cells: list[list[Any]] = list(table.percents() if as_precent else table.counts)
        return [
            [period.start.replace(tzinfo=None), size, *row]
            for period, size, row in zip(table.periods, table.sizes, cells, strict=True)
        ]


cohort = _Cohort()
