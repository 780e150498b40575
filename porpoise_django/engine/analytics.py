"""The engine's entry point: mark events and read them back, over any redis-py client.

:class:`Analytics` is a facade: it validates its options into a
:class:`~.policy.Policy`, builds one collaborator per job (registry, mark and
count writers, bulk importer, reader, deleter) and hands out handles (events,
counters, metrics, series, decisions). Each public method is a delegation.

>>> import redis
>>> from porpoise_django.engine import Analytics
>>> pp = Analytics(client, tz="Europe/Paris")          # client = redis.Redis()
>>> pp.mark("active", 123)
>>> 123 in pp.event("active").day()
True
>>> pp.delete_all()
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from porpoise_django.engine.analyses.decisions import Decision
from porpoise_django.engine.analyses.people import Browsing
from porpoise_django.engine.errors import InvalidValue
from porpoise_django.engine.events.bitmaps import EventBitmap, UniqueBitmap, UniverseBitmap
from porpoise_django.engine.events.bulk import BulkImporter, Importing
from porpoise_django.engine.events.event import Event
from porpoise_django.engine.events.marks import MarkWriter
from porpoise_django.engine.events.properties import (
    DEFAULT_MAX_PROPERTY_VALUES,
    PropertyMarking,
    PropertyRegistry,
    is_restricted,
)
from porpoise_django.engine.events.reading import BitmapReader, Reading
from porpoise_django.engine.events.segments import Segmenting
from porpoise_django.engine.names import validate_name
from porpoise_django.engine.numbers.counters import Counter
from porpoise_django.engine.numbers.counting import Counting, CountWriter
from porpoise_django.engine.numbers.metrics import Metric, metric_names
from porpoise_django.engine.numbers.timeseries import TimeSeries, delete_all_series
from porpoise_django.engine.storage.deletion import Deleter, Deleting
from porpoise_django.engine.storage.forgetting import Forgetting, bump_generation
from porpoise_django.engine.storage.ids import (
    DEFAULT_MAX_ID,
    ID_MODES,
    DirectIds,
    IdMap,
    store_epoch,
)
from porpoise_django.engine.storage.keys import KeyScheme
from porpoise_django.engine.storage.memory import memory_report
from porpoise_django.engine.storage.policy import (
    DEFAULT_COUNTER_GRANULARITIES,
    DEFAULT_GRANULARITIES,
    DEFAULT_MAX_INCREMENT,
    Policy,
)
from porpoise_django.engine.storage.registry import Registry
from porpoise_django.engine.storage.scripts import (
    COUNT_ONCE,
    SET_BITS,
    LuaScript,
    run_pipeline,
)
from porpoise_django.engine.storage.writes import Prepared, submit
from porpoise_django.engine.time.periods import Period, PeriodRange, When
from porpoise_django.engine.time.slots import SlotPeriods

T = TypeVar("T")


class _Option(Generic[T]):
    """An option held by a collaborator (``policy`` or ``registry``), read and
    set through the facade: ``pp.clock = frozen`` changes what every part sees."""

    def __init__(self, holder: str) -> None:
        self.holder = holder

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> T:
        return getattr(getattr(obj, self.holder), self.name)

    def __set__(self, obj: Any, value: T) -> None:
        setattr(getattr(obj, self.holder), self.name, value)


class Analytics(
    PropertyMarking, Counting, Importing, Reading, Deleting, Segmenting, Browsing, Forgetting
):
    """Events (bitmaps), counters, metrics and series stored in Redis under one prefix.

    :param client: a ``redis.Redis`` or ``redis.cluster.RedisCluster``.
    :param prefix: first part of every key (letters, digits, ``_ . : -``).
    :param chunk_bits: ids per bitmap chunk is ``2**chunk_bits`` (20: 128 KiB chunks).
    :param granularities: what :meth:`mark` tracks unless told otherwise.
    :param tz: IANA time zone name or tzinfo in which buckets are cut.
    :param id_mode: ``"int"`` (ids are bit offsets) or ``"map"`` (any string id).
    :param retention: seconds to keep each granularity after its period ends,
        e.g. ``{"hour": 7 * 86400}``; absent means forever.
    :param temp_ttl: seconds that expression results are kept.
    :param max_range_buckets: the largest range a query may span.
    :param clock: returns the current aware datetime (tests freeze time with it).
    :param chunk_cache_seconds: how long the list of chunks is cached in-process.
    :param registry_cache_seconds: how long this process skips the registry
        entries it has already written; a mark that creates a bitmap on the
        server (a purge or an empty restart elsewhere) sends them again at once.
    :param counter_granularities: what :meth:`count` tracks (minute and up).
    :param id_cache_size: in ``"map"`` id mode, how many id -> index pairs this
        process caches (a full cache starts again; no id is ever lost).
    :param id_map_shards: in ``"map"`` id mode, how many slots the id map is
        spread over (1: one slot, ``{idmap}``); choose it once, before ids are mapped.
    :param max_id: in ``"int"`` id mode, the largest id accepted (default
        2**32 - 1): memory per bucket stays under ``max_id / 8`` bytes.
    :param max_future_seconds: how far ahead of the clock a write may be dated.
    :param max_increment: the largest absolute counter or metric increment.
    :param max_property_values: values kept per property; more count as ``"$other"``.
    """

    granularities: _Option[tuple[str, ...]] = _Option("policy")
    counter_granularities: _Option[tuple[str, ...]] = _Option("policy")
    tz: _Option[dt.tzinfo] = _Option("policy")
    clock: _Option[Callable[[], dt.datetime]] = _Option("policy")
    retention: _Option[dict[str, int]] = _Option("policy")
    temp_ttl: _Option[int] = _Option("policy")
    max_range_buckets: _Option[int] = _Option("policy")
    max_future_seconds: _Option[float] = _Option("policy")
    max_increment: _Option[float] = _Option("policy")
    chunk_cache_seconds: _Option[float] = _Option("registry")
    registry_cache_seconds: _Option[float] = _Option("registry")

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "pp",
        chunk_bits: int = 20,
        granularities: Sequence[str] = DEFAULT_GRANULARITIES,
        tz: str | dt.tzinfo = "UTC",
        id_mode: str = "int",
        retention: Mapping[str, int] | None = None,
        temp_ttl: int = 300,
        max_range_buckets: int = 10_000,
        clock: Callable[[], dt.datetime] | None = None,
        chunk_cache_seconds: float = 2.0,
        registry_cache_seconds: float = 60.0,
        counter_granularities: Sequence[str] = DEFAULT_COUNTER_GRANULARITIES,
        id_cache_size: int = 200_000,
        id_map_shards: int = 1,
        max_id: int = DEFAULT_MAX_ID,
        max_future_seconds: int = 86_400,
        max_increment: float = DEFAULT_MAX_INCREMENT,
        max_property_values: int = DEFAULT_MAX_PROPERTY_VALUES,
    ) -> None:
        self.client = client
        self.keys = KeyScheme(prefix, chunk_bits, id_map_shards)
        self.policy = Policy(
            granularities=granularities,
            counter_granularities=counter_granularities,
            tz=tz,
            retention=retention,
            temp_ttl=temp_ttl,
            max_range_buckets=max_range_buckets,
            clock=clock,
            max_future_seconds=max_future_seconds,
            max_increment=max_increment,
        )
        if id_mode not in ID_MODES:
            raise ValueError(f"unknown id_mode {id_mode!r}; allowed: {', '.join(ID_MODES)}")
        self.id_codec: DirectIds | IdMap = (
            DirectIds(max_id) if id_mode == "int" else IdMap(client, self.keys, id_cache_size)
        )
        self.registry = Registry(
            client,
            self.keys,
            chunk_cache_seconds=chunk_cache_seconds,
            registry_cache_seconds=registry_cache_seconds,
        )
        self.buckets = self.registry.buckets
        slots = SlotPeriods(self.policy.tz)
        parts = (client, self.keys, self.policy, self.registry, self.id_codec)
        self.marks = MarkWriter(*parts, slots)
        self.counting = CountWriter(self.keys, self.policy, self.buckets, slots)
        self.importer = BulkImporter(*parts)
        self.reader = BitmapReader(client, self.keys, self.registry, self.id_codec)
        self.deleter = Deleter(client, self.keys, self.policy, self.registry)
        self.properties = PropertyRegistry(self, self.registry.note_chunks, max_property_values)

    def __repr__(self) -> str:
        return f"<Analytics prefix={self.keys.prefix!r} tz={self.tz} ids={self.id_codec.mode}>"

    # -- rules and time (see policy.Policy) ----------------------------------------------
    def check_tracked(self, granularity: str, kind: str = "events") -> str:
        return self.policy.check_tracked(granularity, kind)

    def check_event_granularities(self, granularities: Iterable[str] | None) -> tuple[str, ...]:
        return self.policy.event_granularities(granularities)

    def stamp(self, when: object, *, writing: bool = True, now: float | None = None) -> float:
        return self.policy.stamp(when, writing=writing, now=now)

    def check_window(self, ts: float, *, writing: bool = True, now: float | None = None) -> None:
        self.policy.check_window(ts, writing=writing, now=now)

    def now(self) -> dt.datetime:
        return self.policy.now()

    def period(self, granularity: str, when: int | When = None) -> Period:
        return self.policy.period(granularity, when)

    def range(self, granularity: str, start: int | When, end: int | When = 0) -> PeriodRange:
        return self.policy.range(granularity, start, end)

    def period_string(self, text: str) -> PeriodRange:
        return self.policy.period_string(text)

    # -- pipelines, chunks and registry (see registry.Registry) ----------------------------
    def run(
        self,
        build: Callable[[Any], None],
        scripts: Sequence[LuaScript] = (SET_BITS, COUNT_ONCE),
    ) -> list[Any]:
        """Run one pipeline built by ``build`` (one round trip per node)."""
        return run_pipeline(self.client, build, scripts)

    def chunks(self) -> list[int]:
        return self.registry.chunks()

    def forget_chunks(self) -> None:
        self.registry.forget_chunks()

    def forget_registrations(self) -> None:
        self.registry.forget()

    def event_names(self) -> list[str]:
        # Events restricted to a property value (purchase=source=ads) are parts of theirs.
        return [n for n in self.registry.event_names() if not is_restricted(n)]

    def unique_names(self) -> list[str]:
        return self.registry.unique_names()

    def counter_names(self) -> list[str]:
        return self.registry.counter_names()

    def metric_names(self) -> list[str]:
        return metric_names(self)

    def event_span(self, name: str) -> tuple[dt.datetime, dt.datetime] | None:
        return self.registry.event_span(self.policy.name(name), self.clock().timestamp(), self.tz)

    def submit(self, prepared: Sequence[Prepared | None]) -> int:
        """Send several prepared writes (marks, counts) in one round trip."""
        return submit(self.client, prepared)

    def memory_report(
        self, names: Sequence[str] | None = None, when: When = None
    ) -> list[dict[str, Any]]:
        return memory_report(self.client, self.policy, self.registry, names, when)

    # -- handles -----------------------------------------------------------------------------
    def event(self, name: str) -> Event:
        """A handle on event ``name``: ``.day()``, ``.week(-1)``, ``.counts(range)``..."""
        return Event(self, self.policy.name(name))

    def unique(self, name: str) -> UniqueBitmap:
        return UniqueBitmap(self, self.policy.name(name))

    def universe(self) -> UniverseBitmap:
        return UniverseBitmap(self)

    def counter(self, name: str) -> Counter:
        return Counter(self, validate_name(name, what="counter name"))

    def metric(self, name: str, *, empty_ratio: float | None = None) -> Metric:
        return Metric(self, name, empty_ratio=empty_ratio)

    def decision(self, name: str, *, period: str = "90d", min_trials: int = 30) -> Decision:
        return Decision(self, name, period=period, min_trials=min_trials)

    def timeseries(
        self,
        *,
        type: str = "count",
        intervals: Mapping[str, Mapping[str, Any]],
        on_expired: str = "skip",
        read_func: Callable[[str], Any] | None = None,
        write_func: Callable[[Any], Any] | None = None,
    ) -> TimeSeries:
        return TimeSeries(
            self,
            type=type,
            intervals=intervals,
            on_expired=on_expired,
            read_func=read_func,
            write_func=write_func,
        )

    def epoch(self) -> str:
        """The store's epoch: it changes with every purge (:meth:`delete_all`) and
        when the data was lost (FLUSHDB, a Redis that restarted empty), so a
        process holding state about stored data (which ids were marked this
        hour) knows to start over. One round trip."""
        shards = self.keys.idmap_shards if isinstance(self.id_codec, IdMap) else ""
        return store_epoch(self.client, self.keys, shards)

    def delete_all(self) -> None:
        """Delete every key of this prefix but two: the purge generation, bumped
        at the start and the end so every process drops its cached id pairs,
        and in ``"map"`` id mode the id sequence, so no index is reused."""
        bump_generation(self.client, self.keys)
        self.properties.delete_all()
        for name in self.metric_names():
            self.metric(name).delete()
        delete_all_series(self)
        self.deleter.delete_stored()
        bump_generation(self.client, self.keys)
        self.forget_chunks()
        self.forget_registrations()
        if isinstance(self.id_codec, IdMap):
            self.id_codec.forget()


__all__ = ["DEFAULT_GRANULARITIES", "Analytics", "EventBitmap", "InvalidValue", "Prepared"]
