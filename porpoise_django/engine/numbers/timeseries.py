"""Typed time series (kairos' model): count, gauge, histogram, unique set, and
series (every value, in order).

Example::

    ts = pp.timeseries("latency", type="histogram", intervals={
        "minute": {"step": 60, "steps": 120},                 # fixed seconds, 2 hours kept
        "day": {"step": "day", "resolution": "hour"},         # Gregorian, hourly rows
    })
    ts.insert("api", 120)
    ts.series("api", "day", steps=7, transform=["mean", "max"])

Every key of one series name carries the hash tag ``{s:<name>}`` (one slot
on a cluster). ``insert`` writes every interval in one round trip; ``get`` and
``series`` read every bucket they need in one round trip and return dense,
zero-filled, ordered results keyed by the bucket's start (epoch seconds).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from porpoise_django.engine.errors import InvalidGranularity, InvalidTime, InvalidValue
from porpoise_django.engine.names import validate_name
from porpoise_django.engine.numbers.counters import number
from porpoise_django.engine.storage.buckets import BucketRegistry
from porpoise_django.engine.time.periods import GRANULARITIES, period_of
from porpoise_django.engine.values import int_in, plain, text

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store

SERIES_TYPES = ("count", "gauge", "histogram", "set", "series")
TRANSFORMS = ("mean", "count", "min", "max", "sum", "rate")
#: Most keys a single read may touch (intervals x resolution rows).
MAX_KEYS_PER_READ = 200_000


@dataclass(frozen=True)
class Bucket:
    key: str
    start: float
    end: float


#: kairos's names of Gregorian steps.
STEP_NAMES = {
    "minutely": "minute",
    "hourly": "hour",
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "yearly": "year",
}
#: kairos's duration units: hours, days, weeks, months of 30 days, years of 365
#: days (``m`` is months there, not minutes), and seconds.
_STEP_SECONDS = {"s": 1, "h": 3600, "d": 86400, "w": 7 * 86400, "m": 30 * 86400, "y": 365 * 86400}
_DURATION = re.compile(r"(\d{1,9})([shdwmy]?)")


def parse_step(step: str) -> str | int:
    """A step as written: a granularity (``"day"``) or kairos's name of one
    (``"daily"``) is Gregorian, in the store's time zone; ``"60"``, ``"90s"``,
    ``"1h"``, ``"30d"``, ``"2w"``, ``"1m"`` (30 days), ``"1y"`` (365 days) are
    fixed seconds, as in kairos.

    >>> parse_step("daily"), parse_step("1h"), parse_step("60")
    ('day', 3600, 60)
    """
    name = STEP_NAMES.get(step, step)
    if name in GRANULARITIES:
        return name
    match = _DURATION.fullmatch(step.strip())
    if match is None or int(match[1]) < 1:
        names = ", ".join([*GRANULARITIES, *STEP_NAMES])
        raise InvalidGranularity(
            f"unknown step {step!r}; use seconds (60, '90s', '1h', '30d', '2w', '1m', '1y') "
            f"or one of {names}"
        )
    return int(match[1]) * _STEP_SECONDS[match[2] or "s"]


#: Days a week may start on (``week_start``); ISO weeks start on Monday.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def check_week_start(value: object) -> int:
    """``week_start`` as 0 (Monday) to 6 (Sunday), from a day's name or number."""
    if isinstance(value, str) and value.lower() in WEEKDAYS:
        return WEEKDAYS.index(value.lower())
    if int_in(value, 0, 6):
        return value
    raise InvalidValue(f"week_start must be a day's name ({', '.join(WEEKDAYS)}) or 0 to 6")


class Bucketing:
    """Cuts time into buckets: a Gregorian granularity (time zone aware) or fixed seconds.

    Weekly buckets start on ``week_start`` (0 Monday, as ISO weeks, to 6 Sunday,
    as kairos's weeks).
    """

    def __init__(self, step: object, tz: dt.tzinfo, week_start: int = 0) -> None:
        self.tz = tz
        self.week_start = week_start
        self.granularity: str | None = None
        self.seconds = 0
        if isinstance(step, str):
            step = parse_step(step)
        if isinstance(step, str):
            self.granularity = step
        elif int_in(step, 1):
            self.seconds = step
        else:
            raise InvalidGranularity(
                f"step must be a positive int of seconds or one of {', '.join(GRANULARITIES)}, "
                f"got {step!r}"
            )

    def label(self) -> str:
        return self.granularity or f"{self.seconds}s"

    def of(self, ts: float) -> Bucket:
        if self.granularity is None:
            start = math.floor(ts / self.seconds) * self.seconds
            return Bucket(f"{start}", start, start + self.seconds)
        if self.granularity == "week" and self.week_start:
            return self._week(dt.datetime.fromtimestamp(ts, self.tz).date())
        period = period_of(self.granularity, dt.datetime.fromtimestamp(ts, dt.UTC), self.tz)
        return Bucket(period.key, period.start.timestamp(), period.period_end().timestamp())

    def _week(self, day: dt.date) -> Bucket:
        """The week starting on ``week_start`` that holds local ``day``."""
        first = day - dt.timedelta(days=(day.weekday() - self.week_start) % 7)
        start = period_of("day", first, self.tz).start.timestamp()
        end = period_of("day", first + dt.timedelta(days=7), self.tz).start.timestamp()
        return Bucket(f"{first:%Y%m%d}w{self.week_start}", start, end)

    def shift(self, bucket: Bucket, steps: int) -> Bucket:
        if self.granularity is None:
            return self.of(bucket.start + steps * self.seconds)
        if self.granularity == "week" and self.week_start:
            day = dt.datetime.fromtimestamp(bucket.start, self.tz).date()
            return self._week(day + dt.timedelta(days=7 * steps))
        period = period_of(
            self.granularity, dt.datetime.fromtimestamp(bucket.start, dt.UTC), self.tz
        )
        moved = period.delta(steps)
        return Bucket(moved.key, moved.start.timestamp(), moved.period_end().timestamp())

    def between(self, first: Bucket, last: Bucket, cap: int) -> list[Bucket]:
        buckets = [first]
        while buckets[-1].start < last.start:
            if len(buckets) >= cap:
                raise InvalidTime(f"range of more than {cap} buckets: narrow it")
            buckets.append(self.shift(buckets[-1], 1))
        return buckets


@dataclass(frozen=True)
class Interval:
    """One configured interval: bucket ``step``, optional ``resolution`` rows, ``steps`` kept."""

    name: str
    step: Bucketing
    resolution: Bucketing | None
    steps: int | None

    def expire_at(self, bucket: Bucket) -> float | None:
        if self.steps is None:
            return None
        return self.step.shift(bucket, self.steps).start


def _auto(value: str) -> Any:
    """Default read function: numbers come back as numbers."""
    try:
        as_float = float(value)
    except ValueError:
        return value
    return (
        int(as_float)
        if as_float.is_integer() and "." not in value and "e" not in value.lower()
        else as_float
    )


class TimeSeries:
    """A family of series of one type, sharing intervals. See the module docstring."""

    def __init__(
        self,
        store: Store,
        *,
        type: str = "count",
        intervals: Mapping[str, Mapping[str, Any]],
        on_expired: str = "skip",
        read_func: Callable[[str], Any] | None = None,
        write_func: Callable[[Any], Any] | None = None,
    ) -> None:
        if type not in SERIES_TYPES:
            raise InvalidValue(f"unknown series type {type!r}; allowed: {', '.join(SERIES_TYPES)}")
        if on_expired not in ("skip", "refuse"):
            raise InvalidValue("on_expired must be 'skip' or 'refuse'")
        if not intervals:
            raise InvalidValue("give at least one interval, e.g. {'hour': {'step': 'hour'}}")
        self._store = store
        self.type = type
        self.on_expired = on_expired
        self.read_func = read_func or _auto
        # kairos's write_func: turns a value into what is stored (gauges,
        # histograms, sets and series); read_func turns it back.
        self.write_func = write_func
        self.intervals: dict[str, Interval] = {}
        self._specs = {
            name: json.dumps(dict(spec), sort_keys=True) for name, spec in intervals.items()
        }
        for name, spec in intervals.items():
            validate_name(name, what="interval name")
            unknown = set(spec) - {"step", "steps", "resolution", "week_start"}
            if unknown or "step" not in spec:
                raise InvalidValue(
                    f"interval {name!r}: give 'step' and optionally 'steps', 'resolution' "
                    "and 'week_start'"
                )
            steps = spec.get("steps")
            if steps is not None and not int_in(steps, 1):
                raise InvalidValue(f"interval {name!r}: steps must be a positive int")
            week_start = check_week_start(spec.get("week_start", 0))
            step = Bucketing(spec["step"], store.tz, week_start)
            resolution = Bucketing(spec["resolution"], store.tz) if spec.get("resolution") else None
            self.intervals[name] = Interval(name, step, resolution, steps)

    # -- keys --------------------------------------------------------------------
    def _member(self, interval: Interval, bucket: Bucket, row: Bucket | None) -> str:
        """The key's part after the series' hash tag (also its bucket registry member)."""
        base = f"{self.type}:{interval.name}:{bucket.key}"
        return base if row is None else f"{base}:{row.key}"

    def _base(self, name: str) -> str:
        return f"{self._store.keys.prefix}:{{s:{name}}}"

    def _key(self, name: str, interval: Interval, bucket: Bucket, row: Bucket | None) -> str:
        return f"{self._base(name)}:{self._member(interval, bucket, row)}"

    def _interval(self, name: str) -> Interval:
        try:
            return self.intervals[name]
        except KeyError:
            raise InvalidGranularity(
                f"unknown interval {name!r}; configured: {', '.join(self.intervals)}"
            ) from None

    # -- writing -----------------------------------------------------------------
    def _check_value(self, value: object) -> str | float:
        if self.write_func is not None and self.type != "count":
            value = self.write_func(value)
        if self.type == "count":
            if not plain(value, int, float) or not math.isfinite(value):
                raise InvalidValue(f"a count series takes a finite int or float, got {value!r}")
            return value
        if not plain(value, int, float, str):
            raise InvalidValue(f"a {self.type} series takes numbers or strings, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidValue("values must be finite")
        text = str(value)
        if not text or len(text) > 1024:
            raise InvalidValue("values must be 1 to 1024 characters long")
        return text

    def insert(self, name: str, value: object = 1, timestamp: object = None) -> int:
        """Record ``value`` for series ``name`` at ``timestamp`` in every interval.

        One round trip; returns the number of rows (1).
        """
        return self.insert_many([(name, value, timestamp)])

    def insert_many(self, rows: Iterable[tuple[str, object, object]]) -> int:
        """Insert ``(name, value, timestamp)`` rows in one pipeline; validated first.

        A value older than an interval's retention is skipped for that interval
        (``on_expired="skip"``) or refused with :class:`InvalidTime` (``"refuse"``).
        """
        now = self._store.clock().timestamp()
        count = 0
        writes: list[tuple[str, str | float, float | None]] = []
        names: dict[str, tuple[float, float]] = {}
        registry: list[tuple[str, str, float | None]] = []
        for number_, row in enumerate(rows):
            try:
                name, value, when = row
                name = validate_name(name, what="series name")
                checked = self._check_value(value)
                ts = self._store.stamp(when)
                for member, expire_at in self._buckets(ts, now):
                    writes.append((f"{self._base(name)}:{member}", checked, expire_at))
                    registry.append(
                        (self._store.buckets.key(f"s:{self.type}", name), member, expire_at)
                    )
            except (TypeError, ValueError) as exc:
                if isinstance(exc, TypeError):
                    exc = InvalidValue("expected (name, value, timestamp)")
                raise type(exc)(f"row {number_}: {exc}") from None
            first, last = names.get(name, (ts, ts))
            names[name] = (min(first, ts), max(last, ts))
            count += 1
        keys = self._store.keys

        def build(pipe: Any) -> None:
            BucketRegistry.queue(pipe, registry, now)
            for key, value, expire_at in writes:
                if self.type == "count":
                    pipe.incrbyfloat(key, value)
                elif self.type == "gauge":
                    pipe.set(key, value)
                elif self.type == "histogram":
                    pipe.hincrby(key, value, 1)
                elif self.type == "series":
                    pipe.rpush(key, value)
                else:
                    pipe.sadd(key, value)
                if expire_at is not None:
                    pipe.expireat(key, math.ceil(expire_at))
            # The intervals are remembered so that delete_all() can find every bucket.
            pipe.hset(f"{keys.prefix}:reg:series:{self.type}:intervals", mapping=self._specs)
            for name, (first, last) in names.items():
                pipe.zadd(f"{keys.prefix}:reg:series:{self.type}:first", {name: first}, lt=True)
                pipe.zadd(f"{keys.prefix}:reg:series:{self.type}:last", {name: last}, gt=True)

        if count:
            self._store.run(build, scripts=())
        return count

    def _buckets(self, ts: float, now: float) -> list[tuple[str, float | None]]:
        """(member, expire at) of the bucket holding ``ts`` in each interval that
        still keeps it; refuses an expired one when ``on_expired="refuse"``."""
        found = []
        for interval in self.intervals.values():
            bucket = interval.step.of(ts)
            expire_at = interval.expire_at(bucket)
            if expire_at is not None and expire_at <= now:
                if self.on_expired == "refuse":
                    raise InvalidTime(
                        f"timestamp {ts} is older than the retention of interval "
                        f"{interval.name!r} ({interval.steps} steps)"
                    )
                continue
            row_bucket = interval.resolution.of(ts) if interval.resolution else None
            found.append((self._member(interval, bucket, row_bucket), expire_at))
        return found

    # -- reading -----------------------------------------------------------------
    def _empty(self) -> Any:
        return {"count": 0, "gauge": None, "histogram": {}, "set": set(), "series": []}[self.type]

    def _decode(self, raw: Any) -> Any:
        if self.type == "count":
            return number(raw)
        if self.type == "gauge":
            return None if raw is None else self.read_func(text(raw))
        if self.type == "histogram":
            return {self.read_func(text(k)): int(v) for k, v in (raw or {}).items()}
        if self.type == "series":
            return [self.read_func(text(v)) for v in (raw or [])]
        return {self.read_func(text(v)) for v in (raw or set())}

    def _merge(self, values: Sequence[Any]) -> Any:
        """Join values of several names, rows or buckets (in order)."""
        if self.type == "count":
            return number(sum(values))
        if self.type == "gauge":
            present = [v for v in values if v is not None]
            return present[-1] if present else None
        if self.type == "histogram":
            merged: dict[Any, int] = {}
            for value in values:
                for k, n in value.items():
                    merged[k] = merged.get(k, 0) + n
            return merged
        if self.type == "series":
            return [v for value in values for v in value]
        union: set[Any] = set()
        for value in values:
            union |= value
        return union

    def _queue_read(self, pipe: Any, key: str) -> None:
        if self.type in ("count", "gauge"):
            pipe.get(key)
        elif self.type == "histogram":
            pipe.hgetall(key)
        elif self.type == "series":
            pipe.lrange(key, 0, -1)
        else:
            pipe.smembers(key)

    def _names(self, name: str | Sequence[str]) -> list[str]:
        names = [name] if isinstance(name, str) else list(name)
        if not names:
            raise InvalidValue("give a series name or a list of names to join")
        return [validate_name(n, what="series name") for n in names]

    def _read(
        self, names: list[str], interval: Interval, buckets: list[Bucket]
    ) -> list[list[tuple[float, Any]]]:
        """For each bucket, its rows ``(row start, value joined over names)``."""
        plan: list[list[tuple[float, list[str]]]] = []
        total = 0
        for bucket in buckets:
            rows: list[tuple[float, list[str]]] = []
            if interval.resolution is None:
                rows.append((bucket.start, [self._key(n, interval, bucket, None) for n in names]))
            else:
                row = interval.resolution.of(bucket.start)
                while row.start < bucket.end:
                    rows.append((row.start, [self._key(n, interval, bucket, row) for n in names]))
                    row = interval.resolution.shift(row, 1)
            total += sum(len(keys) for _, keys in rows)
            if total > MAX_KEYS_PER_READ:
                raise InvalidTime(f"this read would touch over {MAX_KEYS_PER_READ} keys: narrow it")
            plan.append(rows)

        def build(pipe: Any) -> None:
            for rows in plan:
                for _, keys in rows:
                    for key in keys:
                        self._queue_read(pipe, key)

        replies = iter(self._store.run(build, scripts=()))
        out: list[list[tuple[float, Any]]] = []
        for rows in plan:
            out.append(
                [
                    (start, self._merge([self._decode(next(replies)) for _ in keys]))
                    for start, keys in rows
                ]
            )
        return out

    def _finish(
        self,
        bucket: Bucket,
        rows: list[tuple[float, Any]],
        interval: Interval,
        condensed: bool,
        transform: Any,
    ) -> Any:
        if interval.resolution is None or condensed:
            value = self._merge([v for _, v in rows])
            return self._transform(value, bucket.end - bucket.start, transform)
        seconds = (interval.resolution.seconds or 0) or None
        result = OrderedDict()
        for i, (start, value) in enumerate(rows):
            end = rows[i + 1][0] if i + 1 < len(rows) else bucket.end
            result[start] = self._transform(value, seconds or end - start, transform)
        return result

    def get(
        self,
        name: str | Sequence[str],
        interval: str,
        timestamp: object = None,
        *,
        condensed: bool = False,
        transform: Any = None,
        sparse: bool = False,
    ) -> OrderedDict[float, Any]:
        """The bucket of ``interval`` holding ``timestamp`` (default now): ``{start: data}``.

        With a resolution and not ``condensed``, ``data`` is ``{row start: value}``,
        every row of the bucket (``sparse=True``: only the rows with data, as
        kairos answers). A list of names joins their data (counts add up,
        histograms merge, sets unite, series concatenate).
        """
        spec = self._interval(interval)
        names = self._names(name)
        bucket = spec.step.of(self._store.stamp(timestamp, writing=False))
        [rows] = self._read(names, spec, [bucket])
        data = self._finish(bucket, rows, spec, condensed, transform)
        if sparse and spec.resolution is not None and not condensed and isinstance(data, Mapping):
            empty = self._empty()
            data = OrderedDict((start, value) for start, value in data.items() if value != empty)
        return OrderedDict([(bucket.start, data)])

    def series(
        self,
        name: str | Sequence[str],
        interval: str,
        start: object = None,
        end: object = None,
        *,
        steps: int | None = None,
        condensed: bool = False,
        transform: Any = None,
        collapse: bool = False,
    ) -> OrderedDict[float, Any]:
        """Consecutive buckets of ``interval``, dense and zero-filled, oldest first.

        ``start`` and ``end`` (epoch seconds or aware datetimes) pick the first
        and last bucket; with only one of them, or neither (ending now),
        ``steps`` buckets are returned (default: the interval's ``steps`` or 1).
        ``collapse=True`` merges the whole range into one entry.
        """
        spec = self._interval(interval)
        names = self._names(name)
        cap = self._store.max_range_buckets
        count = steps if steps is not None else (spec.steps or 1)
        if not int_in(count, 1):
            raise InvalidValue(f"steps must be a positive int, got {steps!r}")
        if count > cap:
            raise InvalidTime(f"{count} steps is more than the cap of {cap}")
        if start is not None and end is not None:
            first = spec.step.of(self._store.stamp(start, writing=False))
            last = spec.step.of(self._store.stamp(end, writing=False))
            if last.start < first.start:
                raise InvalidTime("inverted range: start is after end")
        elif start is not None:
            first = spec.step.of(self._store.stamp(start, writing=False))
            last = spec.step.shift(first, count - 1)
        else:
            last = spec.step.of(self._store.stamp(end, writing=False))
            first = spec.step.shift(last, -(count - 1))
        buckets = spec.step.between(first, last, cap)
        data = self._read(names, spec, buckets)
        if collapse:
            # One data point for the whole range, whatever the resolution (kairos).
            value = self._merge([v for rows in data for _, v in rows])
            seconds = buckets[-1].end - buckets[0].start
            return OrderedDict([(buckets[0].start, self._transform(value, seconds, transform))])
        return OrderedDict(
            (bucket.start, self._finish(bucket, rows, spec, condensed, transform))
            for bucket, rows in zip(buckets, data, strict=True)
        )

    # -- transforms ----------------------------------------------------------------
    def _transform(self, value: Any, seconds: float, transform: Any) -> Any:
        if transform is None:
            return value
        if isinstance(transform, Mapping):
            return {label: self._transform(value, seconds, t) for label, t in transform.items()}
        if isinstance(transform, (list, tuple)):
            return {
                (t if isinstance(t, str) else getattr(t, "__name__", repr(t))): self._transform(
                    value, seconds, t
                )
                for t in transform
            }
        if callable(transform):
            return transform(value)
        if transform not in TRANSFORMS:
            raise InvalidValue(
                f"unknown transform {transform!r}; allowed: {', '.join(TRANSFORMS)} or a callable"
            )
        return _apply(self.type, transform, value, seconds)

    def delete(self, name: str) -> None:
        """Delete every bucket of series ``name`` in every interval (as registered)."""
        name = validate_name(name, what="series name")
        prefix = self._store.keys.prefix
        base = self._base(name)
        self._store.delete_registered(
            f"s:{self.type}",
            name,
            lambda member: (f"{base}:{member}",),
            (
                f"{prefix}:reg:series:{self.type}:first",
                f"{prefix}:reg:series:{self.type}:last",
            ),
        )

    def names(self) -> list[str]:
        """Names of the series of this type (from the registry)."""
        key = f"{self._store.keys.prefix}:reg:series:{self.type}:first"
        return sorted(text(m) for m in self._store.client.zrange(key, 0, -1))


def _numbers(values: Iterable[Any]) -> list[float]:
    out = []
    for v in values:
        if not plain(v, int, float):
            raise InvalidValue(f"transform needs numeric values, got {v!r}")
        out.append(v)
    return out


def _apply(kind: str, name: str, value: Any, seconds: float) -> Any:
    """A named transform of one data point of a series of type ``kind``."""
    if kind == "histogram":
        occurrences = sum(value.values())
        if name == "count":
            return occurrences
        if name == "rate":
            return occurrences / seconds if seconds else None
        keys = _numbers(value.keys())
        total = sum(k * n for k, n in zip(keys, value.values(), strict=True))
        if name == "sum":
            return number(total)
        if name == "mean":
            return total / occurrences if occurrences else None
        if not keys:
            return None
        return min(keys) if name == "min" else max(keys)
    if kind in ("set", "series"):  # the values themselves: unique, or every one
        if name == "count":
            return len(value)
        if name == "rate":
            return len(value) / seconds if seconds else None
        members = _numbers(value)
        if name == "sum":
            return number(sum(members))
        if name == "mean":
            return sum(members) / len(members) if members else None
        if not members:
            return None
        return min(members) if name == "min" else max(members)
    # count and gauge: one number per bucket (None: a gauge never set)
    if value is None:
        return 0 if name == "count" else None
    if name == "count":
        return 1 if kind == "gauge" else value
    [v] = _numbers([value])
    if name == "rate":
        return v / seconds if seconds else None
    return v


def delete_all_series(store: Store) -> None:
    """Delete every series of every type, with the intervals they were written with."""
    prefix = store.keys.prefix
    for kind in SERIES_TYPES:
        registry = f"{prefix}:reg:series:{kind}:intervals"
        specs = store.client.hgetall(registry)
        if specs:
            intervals = {text(k): json.loads(text(v)) for k, v in specs.items()}
            series = TimeSeries(store, type=kind, intervals=intervals)
            for name in series.names():
                series.delete(name)
        store.delete_keys(
            [registry, f"{prefix}:reg:series:{kind}:first", f"{prefix}:reg:series:{kind}:last"]
        )
