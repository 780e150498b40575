"""The engine's entry point: mark events and read them back, over any redis-py client.

>>> import redis
>>> from porpoise_django.engine import Analytics
>>> pp = Analytics(redis.Redis(), tz="Europe/Paris")          # doctest: +SKIP
>>> pp.mark("active", 123)                                     # doctest: +SKIP
>>> 123 in pp.event("active").day()                            # doctest: +SKIP
True
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .behaviour import Decision
from .bitarrays import bitmap_from_offsets
from .bitmaps import Bitmap, EventBitmap, Memo, UniqueBitmap, UniverseBitmap
from .buckets import BucketRegistry, Entry, unlink_streamed
from .counters import (
    DEFAULT_COUNTER_GRANULARITIES,
    DEFAULT_MAX_INCREMENT,
    Counter,
    InvalidValue,
    check_amount,
    check_member,
)
from .errors import InvalidGranularity, InvalidId, InvalidTime
from .events import Event
from .ids import DEFAULT_MAX_ID, ID_MODES, DirectIds, ExternalId, IdMap
from .keys import KeyScheme
from .metrics import Metric, metric_names
from .names import validate_name
from .period_strings import parse_period
from .periods import (
    EVENT_GRANULARITIES,
    LATEST_READ,
    UTC,
    Period,
    PeriodRange,
    When,
    bucket_keys,
    check_granularity,
    get_timezone,
    period_of,
    period_range,
    require_aware,
)
from .scripts import COUNT_ONCE, SET_BITS, LuaScript, run_pipeline
from .timeseries import TimeSeries, delete_all_series

#: Granularities tracked when nothing else is configured (bitmapist's defaults).
DEFAULT_GRANULARITIES = ("day", "week", "month")
#: Offsets per SET_BITS call: bounds the time one Lua call holds the server.
_OFFSETS_PER_CALL = 20_000
#: Keys per pipeline when deleting or bulk importing.
_KEYS_PER_PIPELINE = 2_000

Row = tuple[str, ExternalId] | tuple[str, ExternalId, Any]


@dataclass(frozen=True)
class Prepared:
    """A validated write, ready to be queued on a pipeline by :meth:`Analytics.submit`.

    ``done`` receives the replies of the commands ``build`` queued, and may
    return a follow-up to send (registry entries the server turned out to lack).
    """

    build: Callable[[Any], None]
    done: Callable[[list[Any]], Callable[[Any], None] | None]
    rows: int


class Analytics:
    """Events (bitmaps) stored in Redis under one key prefix.

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
    :param counter_granularities: what :meth:`count` tracks (minute and up).
    :param registry_cache_seconds: how long this process skips the registry
        entries (event names, chunks, buckets) it has already written. A mark
        that creates a bitmap on the server (a purge or an empty restart
        elsewhere) sends them again at once, whatever this says.
    :param id_cache_size: in ``"map"`` id mode, how many id -> index pairs this
        process caches (a full cache starts again; no id is ever lost).
    :param max_id: in ``"int"`` id mode, the largest id accepted (default
        2**32 - 1): memory per bucket stays under ``max_id / 8`` bytes whatever
        ids a caller sends. Larger or sparse ids belong in ``"map"`` mode.
    :param max_future_seconds: how far ahead of the clock a write may be dated.
    :param max_increment: the largest absolute counter or metric increment.
    """

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
        max_id: int = DEFAULT_MAX_ID,
        max_future_seconds: int = 86_400,
        max_increment: float = DEFAULT_MAX_INCREMENT,
    ) -> None:
        self.client = client
        self.keys = KeyScheme(prefix, chunk_bits)
        self.granularities = self._check_granularities(granularities)
        self.tz = get_timezone(tz)
        if id_mode not in ID_MODES:
            raise ValueError(f"unknown id_mode {id_mode!r}; allowed: {', '.join(ID_MODES)}")
        self.id_codec: DirectIds | IdMap = (
            DirectIds(max_id) if id_mode == "int" else IdMap(client, self.keys, id_cache_size)
        )
        self.retention: dict[str, int] = {}
        self.counter_granularities = tuple(check_granularity(g) for g in counter_granularities)
        for granularity, seconds in (retention or {}).items():
            check_granularity(granularity)
            if not isinstance(seconds, int) or seconds <= 0:
                raise ValueError(f"retention for {granularity} must be a positive int of seconds")
            self.retention[granularity] = seconds
        if not isinstance(temp_ttl, int) or temp_ttl < 1:
            raise ValueError("temp_ttl must be a positive number of seconds")
        self.temp_ttl = temp_ttl
        for option, value in (
            ("max_future_seconds", max_future_seconds),
            ("max_increment", max_increment),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{option} must be a positive number, got {value!r}")
        self.max_future_seconds = max_future_seconds
        self.max_increment = max_increment
        self.max_range_buckets = max_range_buckets
        self.clock = clock or (lambda: dt.datetime.now(UTC))
        self.chunk_cache_seconds = chunk_cache_seconds
        self._chunks: set[int] = set()
        # Chunks this process wrote: read even if the registry lost them (a
        # cluster node that came back empty) until a purge is seen.
        self._own_chunks: set[int] = set()
        self._chunks_read_at = -float("inf")
        self._names_seen: set[str] = set()
        self.registry_cache_seconds = registry_cache_seconds
        self.buckets = BucketRegistry(self.keys.prefix, cache_seconds=registry_cache_seconds)
        self._registered_spans: dict[str, tuple[float, float]] = {}
        self._registered_chunks: set[int] = set()
        self._slot_periods: dict[tuple[int, tuple[str, ...]], int] = {}
        self._period_sets: list[tuple[Period, ...]] = []
        self._set_numbers: dict[tuple[Period, ...], int] = {}

    def __repr__(self) -> str:
        return f"<Analytics prefix={self.keys.prefix!r} tz={self.tz} ids={self.id_codec.mode}>"

    # -- validation helpers ------------------------------------------------------
    @staticmethod
    def _check_granularities(granularities: Iterable[str]) -> tuple[str, ...]:
        if isinstance(granularities, str):
            granularities = (granularities,)
        checked = tuple(check_granularity(g, EVENT_GRANULARITIES) for g in granularities)
        if not checked:
            raise ValueError(
                f"track at least one granularity among {', '.join(EVENT_GRANULARITIES)}"
            )
        return checked

    def check_tracked(self, granularity: str, kind: str = "events") -> str:
        """``granularity`` if this store tracks it for ``kind`` (``events`` or
        ``counters``), else :class:`InvalidGranularity` naming what is tracked:
        an untracked bucket was never written, and reading it as empty would lie.
        """
        tracked = self.granularities if kind == "events" else self.counter_granularities
        if granularity not in tracked:
            option = "granularities" if kind == "events" else "counter_granularities"
            raise InvalidGranularity(
                f"{granularity} is not tracked for {kind}; tracked: {', '.join(tracked)} "
                f"(add it to {option} to track it)"
            )
        return granularity

    def _name(self, name: object) -> str:
        if isinstance(name, str) and name in self._names_seen:
            return name
        checked = validate_name(name)
        self._names_seen.add(checked)
        return checked

    def now(self) -> dt.datetime:
        """The current time from the configured clock, in the configured time zone."""
        return self.clock().astimezone(self.tz)

    # -- periods -----------------------------------------------------------------
    def period(self, granularity: str, when: int | When = None) -> Period:
        """The bucket holding ``when``: an aware datetime, a date, or an offset (0 = current)."""
        if isinstance(when, int) and not isinstance(when, bool):
            return period_range(
                granularity,
                when,
                when,
                tz=self.tz,
                now=self.clock(),
                max_buckets=self.max_range_buckets,
            ).first
        if isinstance(when, bool):
            raise InvalidTime("when must be an offset, an aware datetime or a date, not a bool")
        return period_of(granularity, when, self.tz, self.clock())

    def range(self, granularity: str, start: int | When, end: int | When = 0) -> PeriodRange:
        """Buckets from ``start`` to ``end`` inclusive (offsets or absolute times).

        ``pp.range("day", -6)`` is the last seven days including today.
        """
        return period_range(
            granularity,
            start,
            end,
            tz=self.tz,
            now=self.clock(),
            max_buckets=self.max_range_buckets,
        )

    # -- pipelines and chunks ------------------------------------------------------
    def run(
        self, build: Callable[[Any], None], scripts: Sequence[LuaScript] = (SET_BITS, COUNT_ONCE)
    ) -> list[Any]:
        """Run one pipeline built by ``build`` (one round trip per node)."""
        return run_pipeline(self.client, build, scripts)

    def chunks(self) -> list[int]:
        """Chunks holding at least one id, sorted; cached for ``chunk_cache_seconds``.

        The registry's list is re-read, not grown: chunks purged by another
        process are forgotten within ``chunk_cache_seconds``, and a chunk first
        written by another process is seen within that time. Chunks this
        process wrote are always included (until it sees a purge). An empty
        list is never cached (a store's first marks show at once everywhere).
        """
        now = time.monotonic()
        if not self._chunks or now - self._chunks_read_at > self.chunk_cache_seconds:
            members = self.client.smembers(self.keys.chunks)
            self._chunks = {int(m) for m in members}
            self._chunks_read_at = now
        return sorted(self._chunks | self._own_chunks)

    def forget_chunks(self) -> None:
        """Drop the cached list of chunks (after a purge)."""
        self._chunks = set()
        self._own_chunks = set()
        self._chunks_read_at = -float("inf")

    def forget_registrations(self) -> None:
        """Drop what this process believes is registered (after a purge)."""
        self._registered_spans.clear()
        self._registered_chunks.clear()
        self.buckets.forget()

    def _unregistered(
        self, spans: Mapping[str, tuple[float, float]], chunks: Sequence[int]
    ) -> tuple[dict[str, tuple[float, float]], list[int]]:
        """The spans and chunks this process has not registered lately."""
        if self.buckets.expired():
            self._registered_spans.clear()
            self._registered_chunks.clear()
        fresh = {}
        for name, (low, high) in spans.items():
            known = self._registered_spans.get(name)
            if known is None or low < known[0] or high > known[1]:
                fresh[name] = (low, high)
        return fresh, [c for c in chunks if c not in self._registered_chunks]

    def _remember_registered(
        self, spans: Mapping[str, tuple[float, float]], chunks: Iterable[int]
    ) -> None:
        for name, (low, high) in spans.items():
            known = self._registered_spans.get(name, (low, high))
            self._registered_spans[name] = (min(known[0], low), max(known[1], high))
        self._registered_chunks.update(chunks)

    def read_chunks(
        self,
        bitmaps: Sequence[Bitmap],
        chunks: Sequence[int],
        read: Callable[[Any, str, int], Any],
    ) -> list[list[Any]]:
        """For each bitmap and chunk, the reply of ``read(pipe, key, chunk)``; one pipeline."""
        for bitmap in bitmaps:
            bitmap._check_bound()
        positions: list[list[int]] = []

        def build(pipe: Any) -> None:
            positions.clear()
            memo: Memo = {}
            for bitmap in bitmaps:
                row = []
                for chunk in chunks:
                    key = bitmap._compile(chunk, pipe, memo)
                    row.append(len(pipe))
                    read(pipe, key, chunk)
                positions.append(row)

        if not chunks or not bitmaps:
            return [[] for _ in bitmaps]
        results = self.run(build)
        return [[results[i] for i in row] for row in positions]

    def count_bitmaps(self, bitmaps: Sequence[Bitmap]) -> list[int]:
        """Counts of several bitmaps or expressions in one round trip."""
        rows = self.read_chunks(bitmaps, self.chunks(), lambda pipe, key, _c: pipe.bitcount(key))
        return [int(sum(row)) for row in rows]

    def contains(self, bitmap: Bitmap, external: object) -> bool:
        """Whether ``external`` is in ``bitmap``; unknown ids are simply absent."""
        bitmap._check_bound()
        try:
            [index] = self.id_codec.to_indexes([self.id_codec.check(external)], create=False)
        except InvalidId:
            if self.id_codec.mode == "int":
                raise
            return False
        if index < 0:
            return False
        chunk, offset = divmod(index, self.keys.chunk_size)
        [[bit]] = self.read_chunks(
            [bitmap], [chunk], lambda pipe, key, _c: pipe.getbit(key, offset)
        )
        return bool(bit)

    def _note_chunks(self, chunks: Iterable[int]) -> None:
        self._own_chunks.update(chunks)

    def delete_keys(self, keys: Sequence[str]) -> None:
        """Delete keys with single-key commands (cluster-safe), pipelined."""
        for start in range(0, len(keys), _KEYS_PER_PIPELINE):
            part = keys[start : start + _KEYS_PER_PIPELINE]

            def build(pipe: Any, part: Sequence[str] = part) -> None:
                for key in part:
                    pipe.unlink(key)

            self.run(build, scripts=())

    # -- marking -----------------------------------------------------------------
    def _periods_to_write(
        self, periods: Iterable[Period], now_ts: float
    ) -> list[tuple[Period, float | None]]:
        """Periods with their expiry time, dropping those already past their retention."""
        kept: list[tuple[Period, float | None]] = []
        for period in periods:
            seconds = self.retention.get(period.granularity)
            if seconds is None:
                kept.append((period, None))
                continue
            expire_at = period.period_end().timestamp() + seconds
            if expire_at > now_ts:
                kept.append((period, expire_at))
        return kept

    def _queue_registry(
        self, pipe: Any, spans: Mapping[str, tuple[float, float]], chunks: Iterable[int]
    ) -> None:
        for name, (first, last) in spans.items():
            pipe.zadd(self.keys.events_first, {name: first}, lt=True)
            pipe.zadd(self.keys.events_last, {name: last}, gt=True)
        chunk_list = sorted(set(chunks))
        if chunk_list:
            pipe.sadd(self.keys.chunks, *chunk_list)

    def mark(
        self,
        event: str,
        id: ExternalId,
        when: When = None,
        *,
        granularities: Sequence[str] | None = None,
        track_unique: bool = False,
    ) -> None:
        """Mark that ``id`` did ``event`` at ``when`` (default now), in one round trip.

        >>> pp.mark("song:played", 42)                                  # doctest: +SKIP
        >>> pp.mark("active", 42, granularities=("hour", "day"))        # doctest: +SKIP
        """
        self.mark_many([(event, id, when)], granularities=granularities, track_unique=track_unique)

    def unmark(
        self,
        event: str,
        id: ExternalId,
        when: When = None,
        *,
        granularities: Sequence[str] | None = None,
    ) -> None:
        """Clear the mark of ``id`` for ``event`` in the periods holding ``when``."""
        self.submit([self.prepare_marks([(event, id, when)], granularities=granularities, value=0)])

    def mark_unique(self, event: str, id: ExternalId) -> None:
        """Mark a time-less event (``premium``, ``signup_form:new``) for ``id``."""
        self._write_unique(event, id, 1)

    def unmark_unique(self, event: str, id: ExternalId) -> None:
        """Clear a time-less event for ``id``."""
        self._write_unique(event, id, 0)

    def _write_unique(self, event: str, id: ExternalId, value: int) -> None:
        name = self._name(event)
        [index] = self.id_codec.to_indexes([self.id_codec.check(id)], create=bool(value))
        if index < 0:
            return
        chunk, offset = divmod(index, self.keys.chunk_size)

        def build(pipe: Any) -> None:
            pipe.setbit(self.keys.unique(name, chunk), offset, value)
            if value:
                pipe.setbit(self.keys.universe(chunk), offset, 1)
                pipe.sadd(self.keys.uniques, name)
                pipe.sadd(self.keys.chunks, chunk)

        self.run(build)
        if value:
            self._note_chunks([chunk])

    def mark_many(
        self,
        rows: Iterable[Row],
        *,
        granularities: Sequence[str] | None = None,
        track_unique: bool = False,
    ) -> int:
        """Mark many ``(event, id)`` or ``(event, id, when)`` rows in one pipeline.

        Every row is validated before anything is written: one bad row raises
        and nothing is marked. Returns the number of rows.

        >>> pp.mark_many([("active", 1), ("login", 1, some_datetime)])  # doctest: +SKIP
        2
        """
        return self.submit(
            [self.prepare_marks(rows, granularities=granularities, track_unique=track_unique)]
        )

    def submit(self, prepared: Sequence[Prepared | None]) -> int:
        """Send several prepared writes (marks, counts) in one round trip.

        >>> pp.submit([pp.prepare_marks(marks), pp.prepare_counts(counts)])  # doctest: +SKIP
        """
        parts = [p for p in prepared if p is not None]
        if not parts:
            return 0

        spans: list[tuple[int, int]] = []

        def build(pipe: Any) -> None:
            spans.clear()
            for part in parts:
                start = len(pipe)
                part.build(pipe)
                spans.append((start, len(pipe)))

        results = self.run(build)
        follow_ups: list[Callable[[Any], None]] = [
            follow
            for part, (start, end) in zip(parts, spans, strict=True)
            if (follow := part.done(results[start:end])) is not None
        ]
        if follow_ups:
            # Rare: the first write after a purge or an empty restart elsewhere.
            def send(pipe: Any) -> None:
                for follow in follow_ups:
                    follow(pipe)

            self.run(send, scripts=())
        return sum(part.rows for part in parts)

    def check_mark(self, event: object, id: object, when: object = None) -> tuple[str, Any, float]:
        """Validate one mark without writing it: ``(name, id, epoch seconds)``.

        The time is fixed now, so a mark written later (after an outage) still
        lands in the buckets of the moment it happened.
        """
        return (self._name(event), self.id_codec.check(id), self.stamp(when))

    def check_event_granularities(self, granularities: Iterable[str] | None) -> tuple[str, ...]:
        """Granularities a write may use: the tracked ones (None), or some of them.

        Raises with the allowed values; a granularity outside ``granularities``
        is refused, since readers would take it for untracked.
        """
        if granularities is None:
            return self.granularities
        return tuple(self.check_tracked(g) for g in self._check_granularities(granularities))

    def check_count(
        self, counter: object, id: object, by: object, when: object = None, now: float | None = None
    ) -> tuple[str, str | None, float, float]:
        """Validate one counter increment: ``(name, id or None, by, epoch seconds)``."""
        return (
            validate_name(counter, what="counter name"),
            check_member(id),
            check_amount(by, self.max_increment),
            self.stamp(when, now=now),
        )

    def stamp(self, when: object, *, writing: bool = True, now: float | None = None) -> float:
        """Epoch seconds of a time: ``None`` is now, a date its local midnight.

        A time to write must lie in the write window: from 1970-01-01 UTC to
        now plus ``max_future_seconds`` (a clock a little ahead is fine; 1e15,
        milliseconds by mistake, is not). Reads accept 1970 to 9998. Batches
        pass ``now`` (epoch seconds) so the clock is read once per batch.
        """
        if when is None:
            return self.clock().timestamp() if now is None else now
        try:
            if isinstance(when, (int, float)) and not isinstance(when, bool):
                if not math.isfinite(when):
                    raise InvalidTime("a timestamp must be finite")
                ts = float(when)
            elif isinstance(when, dt.datetime):
                # timestamp() of an aware datetime does not depend on its zone.
                ts = require_aware(when).timestamp()
            elif isinstance(when, dt.date):
                ts = period_of("day", when, self.tz).start.timestamp()
            else:
                raise InvalidTime(
                    "expected an aware datetime, a date, epoch seconds or None, "
                    f"got {type(when).__name__}"
                )
        except OverflowError:
            raise InvalidTime(f"time {when!r} is out of range") from None
        self.check_window(ts, writing=writing, now=now)
        return ts

    def check_window(self, ts: float, *, writing: bool = True, now: float | None = None) -> None:
        """Raise :class:`InvalidTime` unless epoch seconds ``ts`` may be written (or read)."""
        if writing:
            latest = (self.clock().timestamp() if now is None else now) + self.max_future_seconds
        else:
            latest = LATEST_READ
        if not 0 <= ts <= latest:
            what = "written" if writing else "read"
            limit = (
                f"now + {self.max_future_seconds} s (max_future_seconds)"
                if writing
                else "9998-12-31"
            )
            raise InvalidTime(
                f"time {ts:.15g} cannot be {what}: times run from 1970-01-01 (epoch 0) to "
                f"{limit}, in seconds (not milliseconds)"
            )

    def _period_set(self, slot: int, grans: tuple[str, ...]) -> int:
        """Number of the tuple of periods holding 15-minute ``slot`` (cached across calls).

        Every real UTC offset is a multiple of 15 minutes, so all instants of a
        slot share their hour, day, week, month and year.
        """
        cache_key = (slot, grans)
        number = self._slot_periods.get(cache_key)
        if number is None:
            moment = dt.datetime.fromtimestamp(slot * 900, UTC)
            periods = tuple(period_of(g, moment, self.tz) for g in grans)
            # The 96 slots of a day share one number (unless hours are tracked),
            # so a batch has one group per event, chunk and distinct buckets.
            number = self._set_numbers.get(periods)
            if number is None:
                self._period_sets.append(periods)
                number = self._set_numbers[periods] = len(self._period_sets) - 1
            self._slot_periods[cache_key] = number
        return number

    def prepare_marks(
        self,
        rows: Iterable[Row],
        *,
        granularities: Sequence[str] | None = None,
        track_unique: bool = False,
        value: int = 1,
    ) -> Prepared | None:
        """Validate and group marks (``value=0``: unmarks) for :meth:`submit`.

        Raises on the first bad row, before anything is sent. In id-map mode
        new ids are mapped here, which is one round trip to Redis.
        """
        grans = self.check_event_granularities(granularities)
        names: list[str] = []
        externals: list[ExternalId] = []
        stamps: list[float] = []
        now_ts = self.clock().timestamp()
        for number, row in enumerate(rows):
            try:
                if len(row) == 2:
                    event, external = row
                    when = None
                else:
                    event, external, when = row
            except (TypeError, ValueError):
                raise ValueError(
                    f"row {number}: expected (event, id) or (event, id, when)"
                ) from None
            try:
                names.append(self._name(event))
                externals.append(self.id_codec.check(external))
                stamps.append(now_ts if when is None else self.stamp(when, now=now_ts))
            except ValueError as exc:
                raise type(exc)(f"row {number}: {exc}") from None
        if not names:
            return None
        indexes = self.id_codec.to_indexes(externals, create=bool(value))
        if len(self._period_sets) > 100_000:  # bound the cache (years of 15-minute slots)
            self._slot_periods.clear()
            self._period_sets.clear()
            self._set_numbers.clear()

        size = self.keys.chunk_size
        groups: dict[tuple[str, int, int], list[int]] = defaultdict(list)
        spans: dict[str, tuple[float, float]] = {}
        for name, index, stamp in zip(names, indexes, stamps, strict=True):
            if index < 0:  # unmark of an id the map never saw: nothing to clear
                continue
            chunk, offset = divmod(index, size)
            groups[(name, chunk, self._period_set(int(stamp // 900), grans))].append(offset)
            if value:
                # Registered by 15-minute slot: a busy event costs one registry
                # write per slot and process, not one per mark.
                first, last = stamp - stamp % 900, stamp - stamp % 900 + 899
                low, high = spans.get(name, (first, last))
                spans[name] = (min(low, first), max(high, last))

        keys = self.keys
        period_sets = self._period_sets
        writable = {
            number: self._periods_to_write(period_sets[number], now_ts)
            for number in {number for _, _, number in groups}
        }
        all_chunks = sorted({chunk for _, chunk, _ in groups})
        all_buckets: list[Entry] = [
            (self.buckets.key("e", name), period.member, expire_at)
            for name, number in {(name, number) for name, _, number in groups}
            for period, expire_at in writable[number]
        ]
        # Registry entries this process has not written lately go with the
        # batch; the rest are skipped (the hot path is one Lua call).
        new_spans, chunks = self._unregistered(spans, all_chunks)
        buckets = self.buckets.unregistered(all_buckets)
        sent = {(key, member) for key, member, _ in buckets}
        # Per SET_BITS call: its position in this part's replies, the mask of
        # its bitmaps whose registration was skipped as already made, and the
        # bit of its chunk's universe if the chunk's was (a chunk this process
        # registered cannot be new unless it was purged or lost).
        calls: list[tuple[int, int, int]] = []

        def build(pipe: Any) -> None:
            calls.clear()
            first = len(pipe)
            for (name, chunk, number), offsets in groups.items():
                periods = writable[number]
                targets = [keys.event(name, period, chunk) for period, _ in periods]
                registry = self.buckets.key("e", name)
                known_chunk = chunk not in chunks
                trusted = [known_chunk and (registry, p.member) not in sent for p, _ in periods]
                universe = 0
                if value:
                    targets.append(keys.universe(chunk))
                    trusted.append(known_chunk)
                    universe = (1 << (len(targets) - 1)) if known_chunk else 0
                if track_unique:
                    targets.append(keys.unique(name, chunk))
                    trusted.append(False)
                mask = sum(1 << k for k, flag in enumerate(trusted) if flag)
                for start in range(0, len(offsets), _OFFSETS_PER_CALL):
                    calls.append((len(pipe) - first, mask, universe))
                    SET_BITS.queue(
                        pipe, targets, [value, *offsets[start : start + _OFFSETS_PER_CALL]]
                    )
                for period, expire_at in periods:
                    if expire_at is not None:
                        pipe.expireat(keys.event(name, period, chunk), int(expire_at))
            if value:
                self._queue_registry(pipe, new_spans, chunks)
                BucketRegistry.queue(pipe, buckets, now_ts)
                if track_unique:
                    pipe.sadd(keys.uniques, *sorted(spans))

        def register_all(pipe: Any) -> None:
            self._queue_registry(pipe, spans, all_chunks)
            BucketRegistry.queue(pipe, all_buckets, now_ts)

        def done(replies: list[Any]) -> Callable[[Any], None] | None:
            if not value:
                return None
            self._note_chunks(all_chunks)
            created = [int(replies[at] or 0) for at, _, _ in calls]
            if any(c & mask for c, (_, mask, _) in zip(created, calls, strict=True)):
                # A bitmap this process thought registered was new to the
                # server: a deletion or a purge elsewhere, or Redis came back
                # empty. (A bucket new to one chunk of a registered event is
                # too, now and then: a spare round trip, never a wrong count.)
                self.forget_registrations()
                if any(c & u for c, (_, _, u) in zip(created, calls, strict=True)):
                    self.forget_chunks()  # the chunk itself was new: purged or lost
                    self._note_chunks(all_chunks)
                self._remember_registered(spans, all_chunks)
                self.buckets.remember(all_buckets)
                return register_all
            self._remember_registered(new_spans, chunks)
            self.buckets.remember(buckets)
            return None

        return Prepared(build, done, len(names))

    # -- counters ------------------------------------------------------------------
    def count(
        self,
        counter: str,
        id: object = None,
        by: float = 1,
        when: When = None,
        *,
        granularities: Sequence[str] | None = None,
    ) -> None:
        """Add ``by`` to ``counter`` (for ``id`` if given) at ``when``, in one round trip.

        >>> pp.count("signups")                          # doctest: +SKIP
        >>> pp.count("song:played", id=song.id)          # doctest: +SKIP
        """
        self.count_many([(counter, id, by, when)], granularities=granularities)

    def count_many(
        self,
        rows: Iterable[tuple[str, object, float, When]],
        *,
        granularities: Sequence[str] | None = None,
    ) -> int:
        """Apply many ``(counter, id or None, by, when)`` increments in one pipeline.

        Every row is validated first; one bad row raises and nothing is written.
        """
        return self.submit([self.prepare_counts(rows, granularities=granularities)])

    def prepare_counts(
        self,
        rows: Iterable[tuple[str, object, float, When]],
        *,
        granularities: Sequence[str] | None = None,
        tokens: Sequence[str] | None = None,
        token_ttl: int = 86_400,
    ) -> Prepared | None:
        """Validate counter increments for :meth:`submit`; raises on the first bad row.

        With ``tokens`` (one per row), each row is applied at most once: a
        marker ``SET NX`` in the counter's slot guards its increments (a Lua
        call per row), so a batch sent again after a partial failure does not
        count twice. Without, increments of one key are added up first.
        """
        grans = (
            self.counter_granularities
            if granularities is None
            else tuple(self.check_tracked(check_granularity(g), "counters") for g in granularities)
        )
        now_ts = self.clock().timestamp()
        checked: list[tuple[str, str | None, float, float]] = []
        for number, row in enumerate(rows):
            try:
                name, member, amount, when = row
            except (TypeError, ValueError):
                raise ValueError(f"row {number}: expected (counter, id, by, when)") from None
            try:
                checked.append(self.check_count(name, member, amount, when, now=now_ts))
            except ValueError as exc:
                raise type(exc)(f"row {number}: {exc}") from None
        if not checked:
            return None
        keys = self.keys
        spans: dict[str, tuple[float, float]] = {}
        # Increments of one key in a batch are added up first: one command each.
        totals: dict[str, float] = defaultdict(float)
        members: dict[tuple[str, str], float] = defaultdict(float)
        expiry: dict[str, float] = {}
        sub_quarter = "minute" in grans
        guarded: list[tuple[list[str], list[str], str, float, str]] = []
        registry: list[Entry] = []
        for number, (name, member, amount, stamp) in enumerate(checked):
            if sub_quarter:
                moment = dt.datetime.fromtimestamp(stamp, UTC)
                periods: Sequence[Period] = [period_of(g, moment, self.tz) for g in grans]
            else:
                periods = self._period_sets[self._period_set(int(stamp // 900), grans)]
            writable = self._periods_to_write(periods, now_ts)
            registry += [(self.buckets.key("k", name), p.member, e) for p, e in writable]
            if tokens is not None:
                guarded.append(
                    (
                        [keys.counter_total(name, p) for p, _ in writable],
                        [keys.counter(name, p) for p, _ in writable] if member is not None else [],
                        member or "",
                        amount,
                        f"{keys.prefix}:{{k:{name}}}:once:{tokens[number]}",
                    )
                )
            for period, expire_at in writable:
                total = keys.counter_total(name, period)
                if tokens is None:
                    totals[total] += amount
                    if member is not None:
                        members[(keys.counter(name, period), member)] += amount
                if expire_at is not None:
                    expiry[total] = expire_at
                    if member is not None:
                        expiry[keys.counter(name, period)] = expire_at
            first, last = spans.get(name, (stamp, stamp))
            spans[name] = (min(first, stamp), max(last, stamp))

        def build(pipe: Any) -> None:
            BucketRegistry.queue(pipe, registry, now_ts)
            for total_keys, zset_keys, member_text, amount, marker in guarded:
                COUNT_ONCE.queue(
                    pipe,
                    [marker, *total_keys, *zset_keys],
                    [token_ttl, amount, member_text, len(total_keys)],
                )
            for key, amount in totals.items():
                pipe.incrbyfloat(key, amount)
            for (key, member), amount in members.items():
                pipe.zincrby(key, amount, member)
            for key, expire_at in expiry.items():
                pipe.expireat(key, int(expire_at))
            for name, (first, last) in spans.items():
                pipe.zadd(keys.counters_first, {name: first}, lt=True)
                pipe.zadd(keys.counters_last, {name: last}, gt=True)

        return Prepared(build, lambda replies: None, len(checked))

    def counter(self, name: str) -> Counter:
        """A handle on counter ``name``: ``.get(period)``, ``.top(range, n)``, ``.totals()``."""
        return Counter(self, validate_name(name, what="counter name"))

    def timeseries(
        self,
        *,
        type: str = "count",
        intervals: Mapping[str, Mapping[str, Any]],
        on_expired: str = "skip",
        read_func: Callable[[str], Any] | None = None,
    ) -> TimeSeries:
        """Typed series (count, gauge, histogram, set) over configured intervals.

        >>> ts = pp.timeseries(type="gauge", intervals={"hour": {"step": "hour"}})  # doctest: +SKIP
        >>> ts.insert("queue:length", 17)                                          # doctest: +SKIP
        """
        return TimeSeries(
            self, type=type, intervals=intervals, on_expired=on_expired, read_func=read_func
        )

    def metric(self, name: str) -> Metric:
        """Metrics with dimensions under ``name`` (hailwhale's model); see :mod:`.metrics`."""
        return Metric(self, name)

    def metric_names(self) -> list[str]:
        """Names of every metric under this prefix."""
        return metric_names(self)

    def memory_report(
        self, names: Sequence[str] | None = None, when: When = None
    ) -> list[dict[str, Any]]:
        """Bytes per user of each event's bitmaps for the periods holding ``when``.

        One round trip: ``MEMORY USAGE`` and ``BITCOUNT`` of every chunk's key
        for each tracked granularity. Rows: event, granularity, period, users,
        bytes, bytes_per_user.
        """
        periods = [self.period(g, when) for g in self.granularities]  # validates ``when``
        events = list(names) if names is not None else self.event_names()
        chunks = self.chunks()
        plan = [
            (name, period, self.keys.event(self._name(name), period, chunk))
            for name in events
            for period in periods
            for chunk in chunks
        ]

        def build(pipe: Any) -> None:
            for _, _, key in plan:
                pipe.memory_usage(key)
                pipe.bitcount(key)

        replies = self.run(build, scripts=()) if plan else []
        totals: dict[tuple[str, Period], list[int]] = {}
        for i, (name, period, _) in enumerate(plan):
            used, users = replies[2 * i] or 0, replies[2 * i + 1] or 0
            entry = totals.setdefault((name, period), [0, 0])
            entry[0] += int(used)
            entry[1] += int(users)
        return [
            {
                "event": name,
                "granularity": period.granularity,
                "period": period.label,
                "users": users,
                "bytes": used,
                "bytes_per_user": used / users if users else None,
            }
            for (name, period), (used, users) in totals.items()
        ]

    def decision(self, name: str, *, period: str = "90d", min_trials: int = 30) -> Decision:
        """A choice between options learnt from outcomes; see :mod:`.behaviour`."""
        return Decision(self, name, period=period, min_trials=min_trials)

    def period_string(self, text: str) -> PeriodRange:
        """``today``, ``24h``, ``mtd``, ``1d:1mo``, ``2026-01-01:2026-01-31``... as a range."""
        return parse_period(text, tz=self.tz, now=self.clock(), max_buckets=self.max_range_buckets)

    def counter_names(self) -> list[str]:
        """Names of every counter under this prefix (from the registry)."""
        return sorted(_text(m) for m in self.client.zrange(self.keys.counters_first, 0, -1))

    def delete_counter(self, name: str) -> int:
        """Delete every bucket of counter ``name``; returns the number of keys deleted."""
        name = validate_name(name, what="counter name")
        base = f"{self.keys.prefix}:{{k:{name}}}"
        return self.delete_registered(
            "k",
            name,
            lambda member: (f"{base}:c:{member}", f"{base}:t:{member}"),
            (self.keys.counters_first, self.keys.counters_last),
        )

    def import_arrays(
        self,
        event: str,
        ids: Sequence[ExternalId] | np.ndarray,
        timestamps: Sequence[float] | np.ndarray,
        *,
        granularities: Sequence[str] | None = None,
    ) -> int:
        """Bulk import: ``ids[i]`` did ``event`` at ``timestamps[i]`` (epoch seconds or datetime64).

        Bitmaps are built client-side with numpy and OR-ed into the stored ones
        (``SET`` a temporary key, ``BITOP OR``), so the cost per event is a few
        numpy operations, not a Redis command. Returns the number of events.
        """
        name = self._name(event)
        grans = self.check_event_granularities(granularities)
        stamps = np.asarray(timestamps)
        if stamps.dtype.kind == "M":
            stamps = stamps.astype("datetime64[s]").astype(np.int64)
        elif stamps.dtype.kind not in "iuf":
            raise InvalidTime("timestamps must be epoch seconds or a datetime64 array")
        if isinstance(self.id_codec, DirectIds):
            indexes = self.id_codec.check_array(np.asarray(ids))
        else:
            checked = [self.id_codec.check(e) for e in ids]
            indexes = np.asarray(self.id_codec.to_indexes(checked, create=True), dtype=np.int64)
        if len(indexes) != len(stamps):
            raise ValueError(f"{len(indexes)} ids but {len(stamps)} timestamps")
        if len(indexes) == 0:
            return 0
        if not np.isfinite(stamps).all():
            raise InvalidTime("timestamps must be finite")
        self.check_window(float(stamps.min()))
        self.check_window(float(stamps.max()))
        stamps = stamps.astype(np.int64, copy=False)
        now_ts = self.now().timestamp()

        bits = self.keys.chunk_bits
        chunk_of = indexes >> bits
        offsets = indexes & (self.keys.chunk_size - 1)
        chunk_ids, chunk_index = np.unique(chunk_of, return_inverse=True)
        writes: list[tuple[str, np.ndarray, float | None]] = []
        registry: list[Entry] = []
        for granularity in grans:
            periods, period_index = bucket_keys(granularity, stamps, self.tz)
            expiry = dict(self._periods_to_write(periods, now_ts))
            registry += [(self.buckets.key("e", name), p.member, e) for p, e in expiry.items()]
            group = period_index * len(chunk_ids) + chunk_index
            for number, group_offsets in self._split_groups(group, offsets):
                period = periods[number // len(chunk_ids)]
                if period not in expiry:
                    continue
                chunk = int(chunk_ids[number % len(chunk_ids)])
                writes.append((self.keys.event(name, period, chunk), group_offsets, expiry[period]))
        for number, group_offsets in self._split_groups(chunk_index, offsets):
            writes.append((self.keys.universe(int(chunk_ids[number])), group_offsets, None))

        token = f"{time.time_ns():x}"
        for start in range(0, len(writes), 64):
            batch = writes[start : start + 64]

            def build(
                pipe: Any,
                batch: list[tuple[str, np.ndarray, float | None]] = batch,
                start: int = start,
            ) -> None:
                for number, (key, group_offsets, expire_at) in enumerate(batch):
                    # The temporary key shares the chunk's hash tag (single slot).
                    tag = key.split("}", 1)[0] + "}"
                    temp = f"{tag}:tmp:import:{token}:{start + number}"
                    pipe.set(temp, bitmap_from_offsets(group_offsets), ex=self.temp_ttl)
                    pipe.execute_command("BITOP", "OR", key, key, temp)
                    pipe.unlink(temp)
                    if expire_at is not None:
                        pipe.expireat(key, int(expire_at))

            self.run(build, scripts=())
        spans = {name: (float(stamps.min()), float(stamps.max()))}

        def register(pipe: Any) -> None:
            self._queue_registry(pipe, spans, chunk_ids.tolist())
            BucketRegistry.queue(pipe, registry, now_ts)

        self.run(register, scripts=())
        self._note_chunks(int(c) for c in chunk_ids)
        return len(indexes)

    @staticmethod
    def _split_groups(group: np.ndarray, offsets: np.ndarray) -> Iterable[tuple[int, np.ndarray]]:
        """Yield (group number, offsets of that group) without a full sort when possible."""
        order = np.argsort(group, kind="stable")
        sorted_groups = group[order]
        sorted_offsets = offsets[order]
        bounds = np.flatnonzero(np.diff(sorted_groups)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [len(sorted_groups)]))
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            yield int(sorted_groups[s]), sorted_offsets[s:e]

    def bulk_import(
        self,
        rows: Iterable[Row],
        *,
        granularities: Sequence[str] | None = None,
        batch_size: int = 1_000_000,
    ) -> int:
        """Import ``(event, id, when)`` rows in large batches (see :meth:`import_arrays`).

        ``when`` is an aware datetime, a date or epoch seconds. Every row of a
        batch is validated before the batch is written.
        """
        total = 0
        batch: dict[str, tuple[list[ExternalId], list[float]]] = defaultdict(lambda: ([], []))
        pending = 0

        def flush() -> int:
            written = 0
            for event, (ids, stamps) in batch.items():
                written += self.import_arrays(
                    event, ids, np.asarray(stamps, dtype=np.float64), granularities=granularities
                )
            batch.clear()
            return written

        for number, row in enumerate(rows):
            try:
                event, external, when = row  # type: ignore[misc]
                name = self._name(event)
                checked = self.id_codec.check(external)
                stamp = self.stamp(when)
            except ValueError as exc:
                raise type(exc)(f"row {number}: {exc}") from None
            ids, stamps = batch[name]
            ids.append(checked)
            stamps.append(stamp)
            pending += 1
            if pending >= batch_size:
                total += flush()
                pending = 0
        return total + flush()

    # -- reading -----------------------------------------------------------------
    def event(self, name: str) -> Event:
        """A handle on event ``name``: ``.day()``, ``.week(-1)``, ``.counts(range)``...

        Unbound, it is also an expression template: ``(pp.event("a") & pp.event("b"))``
        can be bound to any period later.
        """
        return Event(self, self._name(name))

    def unique(self, name: str) -> UniqueBitmap:
        """The ids holding the unique (time-less) event ``name``."""
        return UniqueBitmap(self, self._name(name))

    def universe(self) -> UniverseBitmap:
        """Every id ever marked, with any event."""
        return UniverseBitmap(self)

    def counts(self, expression: Bitmap, periods: Iterable[Period]) -> list[tuple[Period, int]]:
        """Count of ``expression`` bound to each period, in one round trip."""
        period_list = list(periods)
        bound = [expression.bind(p) for p in period_list]
        return list(zip(period_list, self.count_bitmaps(bound), strict=True))

    def event_names(self) -> list[str]:
        """Names of every event marked under this prefix (from the registry, not KEYS)."""
        return sorted(_text(m) for m in self.client.zrange(self.keys.events_first, 0, -1))

    def unique_names(self) -> list[str]:
        """Names of every unique event."""
        return sorted(_text(m) for m in self.client.smembers(self.keys.uniques))

    def event_span(self, name: str) -> tuple[dt.datetime, dt.datetime] | None:
        """Times of the earliest and latest mark of ``name``, or None if never marked
        (the latest is never later than now, even for marks dated ahead)."""
        name = self._name(name)

        def build(pipe: Any) -> None:
            pipe.zscore(self.keys.events_first, name)
            pipe.zscore(self.keys.events_last, name)

        first, last = self.run(build, scripts=())
        if first is None or last is None:
            return None
        last = min(last, self.clock().timestamp())
        return (
            dt.datetime.fromtimestamp(first, self.tz),
            dt.datetime.fromtimestamp(max(first, last), self.tz),
        )

    # -- deleting ----------------------------------------------------------------
    def delete_event(self, name: str) -> int:
        """Delete every bitmap of event ``name`` and its registry entry; returns the
        number of keys deleted."""
        name = self._name(name)
        chunks = self.chunks()
        deleted = self.delete_registered(
            "e",
            name,
            lambda member: (self.keys.event_bucket(name, member, c) for c in chunks),
            (self.keys.events_first, self.keys.events_last),
        )
        return deleted

    def delete_registered(
        self,
        kind: str,
        name: str,
        keys_of: Callable[[str], Iterable[str]],
        span_keys: tuple[str, str] | None = None,
    ) -> int:
        """Delete the keys of every bucket in the registry of ``name`` (``keys_of``
        turns a bucket member into its keys), then the registry and ``name``'s
        entries in ``span_keys``. Time and memory follow the buckets that exist,
        streamed in bounded pages. Returns the number of keys that existed."""
        registry = self.buckets.key(kind, name)

        def keys() -> Iterator[str]:
            for page in BucketRegistry.members(self.client, registry):
                for member in page:
                    yield from keys_of(member)

        deleted = unlink_streamed(self.client, keys(), self.run)

        def unregister(pipe: Any) -> None:
            pipe.unlink(registry)
            if span_keys is not None:
                pipe.zrem(span_keys[0], name)
                pipe.zrem(span_keys[1], name)

        self.run(unregister, scripts=())
        return deleted

    def delete_unique(self, name: str) -> None:
        """Delete a unique event and its registry entry."""
        self.unique(name).delete()
        self.client.srem(self.keys.uniques, self._name(name))

    def delete_all(self) -> None:
        """Delete every key of this prefix: events, uniques, universe, counters,
        metrics, series, expression results, registries and the id map.

        Two keys stay: the purge generation, bumped so that every process drops
        the id pairs it cached (see :class:`.ids.IdMap`), and in ``"map"`` id
        mode the id map's sequence, so that no index is ever given to a second
        id. Writes of other processes carry their registry entries, so what
        they write after the purge is found by readers and by the next purge.
        """
        # Bumped first too: id lookups made while the purge runs see it.
        self.client.incr(self.keys.generation)
        for name in self.event_names():
            self.delete_event(name)
        for name in self.unique_names():
            self.delete_unique(name)
        for name in self.counter_names():
            self.delete_counter(name)
        for name in self.metric_names():
            self.metric(name).delete()
        delete_all_series(self)
        chunks = self.chunks()
        self.delete_keys(
            [self.keys.universe(c) for c in chunks]
            + [
                self.keys.chunks,
                self.keys.events_first,
                self.keys.events_last,
                self.keys.uniques,
                self.keys.counters_first,
                self.keys.counters_last,
                self.keys.idmap_forward,
                self.keys.idmap_reverse,
            ]
        )
        # Expression results expire by themselves; a purge does not wait. This
        # is the one SCAN of the engine: no registry is worth keeping for keys
        # that live minutes.
        temps = self.client.scan_iter(match=f"{self.keys.prefix}:*:tmp:*", count=1000)
        unlink_streamed(self.client, temps, self.run)
        self.client.incr(self.keys.generation)
        self.forget_chunks()
        self.forget_registrations()
        if isinstance(self.id_codec, IdMap):
            self.id_codec.forget()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


__all__ = ["Analytics", "EventBitmap", "InvalidValue"]
