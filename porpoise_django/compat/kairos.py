"""kairos's ``Timeseries`` over the engine's time series: ``from kairos import
Timeseries`` becomes ``from porpoise_django.compat.kairos import Timeseries``.

Example::

    t = Timeseries(client, type="histogram", read_func=float, intervals={
        "minute": {"step": 60, "steps": 120}})
    t.insert("example", 3.14159)
    t.get("example", "minute")              # OrderedDict([(1764086400, {3.14159: 1})])

kairos's answers: ``get`` gives ``{bucket start: data}``, or with a
``resolution`` the rows with data, flat (``{row start: data}``), or with
``condense=True`` one entry; ``series`` gives consecutive buckets (rows with
data when there is a resolution), ``collapse=True`` one entry for the whole
range; the transforms (``mean``, ``count``, ``min``, ``max``, ``sum``,
``rate``, a callable, a list or a dict of them) read 0 for no data, as
kairos. Types ``series`` (default), ``histogram``, ``count``, ``gauge``,
``set``; steps in seconds, ``"1h"``, ``"30d"``, ``"2w"``, ``"1m"`` (30 days),
``"1y"``, or ``"daily"``, ``"weekly"`` (weeks from Sunday), ``"monthly"``,
``"yearly"``; ``insert(..., intervals=N)`` also writes the N following (or,
negative, preceding) buckets; ``bulk_insert``, ``properties``, ``iterate``,
``list``, ``delete``, ``delete_all``. Any timestamp is stored, however far
ahead (kairos has no write window). Buckets are cut in UTC, as kairos.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import redis

from porpoise_django.engine import Analytics, TimeSeries

#: kairos's simple durations: hours, days, weeks, months of 30 days, years of 365.
SIMPLE_TIMES = {"h": 3600, "d": 86400, "w": 7 * 86400, "m": 30 * 86400, "y": 365 * 86400}
_SIMPLE = re.compile(r"(\d+)([hdwmy])")
#: kairos's calendar steps, and the engine granularities they are.
GREGORIAN = {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year"}
_ALIASES = {"day": "daily", "week": "weekly", "month": "monthly", "year": "yearly"}
_FIXED = {"minute": 60, "minutely": 60, "hour": 3600, "hourly": 3600}
#: How far ahead a write may be dated: kairos stores any timestamp.
NO_WRITE_WINDOW = 10**10
DAY = 86400
#: Resolution rows read in one round trip at most (the engine reads every row).
ROWS_PER_READ = 100_000


def resolve_step(value: Any) -> int | str:
    """A step or resolution as seconds, or as one of kairos's calendar names."""
    if isinstance(value, bool):
        raise ValueError(f"unsupported time format {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"a step must be a positive number of seconds, got {value}")
        return value
    text = str(value).strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    simple = _SIMPLE.fullmatch(text)
    if simple and int(simple[1]) > 0:
        return int(simple[1]) * SIMPLE_TIMES[simple[2]]
    text = _ALIASES.get(text, text)
    if text in GREGORIAN:
        return text
    if text in _FIXED:
        return _FIXED[text]
    raise ValueError(
        f"unsupported time format {value!r}: seconds, 1h/1d/1w/1m/1y, or daily, weekly, "
        "monthly, yearly"
    )


class RelativeTime:
    """Buckets of a fixed number of seconds (kairos's name and methods)."""

    def __init__(self, step: int = 1) -> None:
        self._step = step

    def step_size(self, t0: float | None = None, t1: float | None = None) -> int:
        """Seconds of a step, or from the bucket of ``t0`` to the end of ``t1``'s."""
        if t0 is None or t1 is None:
            return self._step
        first, past = self.to_bucket(t0), self.to_bucket(t1, steps=1)
        return self._step if first == past else self.from_bucket(past) - self.from_bucket(first)

    def to_bucket(self, timestamp: float, steps: int = 0) -> int:
        return math.floor(timestamp / self._step) + steps

    def from_bucket(self, bucket: int) -> int:
        return bucket * self._step

    def buckets(self, start: float, end: float) -> list[int]:
        return list(range(self.to_bucket(start), self.to_bucket(end) + 1))

    def normalize(self, timestamp: float, steps: int = 0) -> int:
        """The start of the bucket ``steps`` buckets from ``timestamp``'s."""
        return self.from_bucket(self.to_bucket(timestamp, steps))

    def ttl(self, steps: int | None, relative_time: float | None = None) -> int | None:
        """Seconds to keep ``steps`` buckets (counted from ``relative_time``'s bucket)."""
        if not steps:
            return None
        if not relative_time:
            return steps * self._step
        behind = self.to_bucket(time.time()) - self.to_bucket(relative_time)
        return 0 if behind > steps else (steps - behind) * self._step


class GregorianTime:
    """Calendar buckets (kairos's): ``daily`` 20260102, ``weekly`` 202600 (the
    week number counted from Sunday, as ``%U``), ``monthly`` 202601, ``yearly`` 2026."""

    FORMATS = {"daily": "%Y%m%d", "weekly": "%Y%U", "monthly": "%Y%m", "yearly": "%Y"}

    def __init__(self, step: str = "daily") -> None:
        if step not in self.FORMATS:
            raise ValueError(f"unknown calendar step {step!r}; allowed: {', '.join(self.FORMATS)}")
        self._step = step

    def _moved(self, when: dt.datetime, steps: int) -> dt.datetime:
        if self._step == "daily":
            return when + dt.timedelta(days=steps)
        if self._step == "weekly":
            return when + dt.timedelta(weeks=steps)
        if self._step == "monthly":
            index = when.year * 12 + when.month - 1 + steps
            year, month = divmod(index, 12)
            day = min(when.day, calendar.monthrange(year, month + 1)[1])
            return when.replace(year=year, month=month + 1, day=day)
        return dt.datetime(when.year + steps, 1, 1)

    def to_bucket(self, timestamp: float, steps: int = 0) -> int:
        when = dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)
        if steps:
            when = self._moved(when, steps)
        return int(when.strftime(self.FORMATS[self._step]))

    def from_bucket(self, bucket: int, native: bool = False) -> Any:
        """The bucket's start (UTC epoch seconds, or a naive datetime with ``native``);
        a week starts seven days times its number after the first of January."""
        text = str(bucket)
        if self._step == "weekly":
            start = dt.datetime(int(text[:4]), 1, 1) + dt.timedelta(weeks=int(text[4:]))
        else:
            start = dt.datetime.strptime(text, self.FORMATS[self._step])
        return start if native else calendar.timegm(start.timetuple())

    def step_size(self, t0: float, t1: float | None = None) -> int:
        first = self.to_bucket(t0)
        past = self.to_bucket(t1 or t0, steps=1)
        days = (self.from_bucket(past, native=True) - self.from_bucket(first, native=True)).days
        return int(days * DAY)

    def buckets(self, start: float, end: float) -> list[int]:
        """The buckets from ``start``'s to the one starting at or before ``end``."""
        found = [self.to_bucket(start)]
        step = 1
        while True:
            bucket = self.to_bucket(start, step)
            begins = self.from_bucket(bucket)
            if begins >= end:
                if begins == end:
                    found.append(bucket)
                return found
            found.append(bucket)
            step += 1

    def normalize(self, timestamp: float, steps: int = 0) -> int:
        return int(self.from_bucket(self.to_bucket(timestamp, steps)))

    def ttl(self, steps: int | None, relative_time: float | None = None) -> float | None:
        if not steps:
            return None
        unit = SIMPLE_TIMES[self._step[0]]
        if not relative_time:
            return steps * unit
        now = self.from_bucket(self.to_bucket(time.time()), native=True)
        then = self.from_bucket(self.to_bucket(relative_time), native=True)
        behind, kept = (now - then).days, steps * unit / DAY
        return 0 if behind > kept else (kept - behind) * DAY


def _chunked(
    series: TimeSeries, name: Any, interval: str, starts: list[Any], rows_each: float
) -> OrderedDict[float, Any]:
    """The buckets starting at ``starts`` (consecutive), read a few at a time so
    that no read touches more than ``ROWS_PER_READ`` resolution rows."""
    per_read = max(1, int(ROWS_PER_READ // max(rows_each, 1)))
    out: OrderedDict[float, Any] = OrderedDict()
    for i in range(0, len(starts), per_read):
        group = starts[i : i + per_read]
        out.update(series.series(name, interval, group[0], group[-1]))
    return out


def _week_days(calc: Any, bucket: int) -> list[int]:
    """The UTC midnights of the days in kairos's week ``bucket`` (1 to 7 of them)."""
    near = calc.from_bucket(bucket)
    return [near + k * DAY for k in range(-6, 7) if calc.to_bucket(near + k * DAY) == bucket]


def _calculator(step: int | str) -> RelativeTime | GregorianTime:
    return GregorianTime(step) if isinstance(step, str) else RelativeTime(step)


def _client(client: Any) -> Any:
    """A redis-py client, or one made from a ``redis://`` URL (kairos's ImportError
    for another scheme, as it has no backend for it)."""
    if isinstance(client, str):
        if not client.startswith(("redis://", "rediss://", "unix://")):
            raise ImportError(f"unsupported or unknown client type for {client!r}")
        if client.rstrip("/") in ("redis:", "rediss:"):
            return redis.Redis()
        return redis.Redis.from_url(client)
    if client is None:
        raise ImportError("a redis-py client or a redis:// URL is needed")
    return client


class Timeseries:
    """``kairos.Timeseries(client, type=..., intervals=..., prefix=...)``: made as
    the class of its type (``RedisSeries``, ``RedisHistogram``, ``RedisCount``,
    ``RedisGauge``, ``RedisSet``), as kairos's factory does."""

    series_type = "series"

    def __new__(cls, client: Any = None, type: str | None = None, **kwargs: Any) -> Any:
        if cls is Timeseries:
            chosen = type or "series"
            if chosen not in _CLASSES:
                raise ValueError(f"unknown type {chosen!r}; allowed: {', '.join(_CLASSES)}")
            cls = _CLASSES[chosen]
        return object.__new__(cls)

    def __init__(
        self,
        client: Any = None,
        type: str | None = None,
        intervals: Mapping[str, Mapping[str, Any]] | None = None,
        prefix: str | None = None,
        read_func: Callable[[str], Any] | None = None,
        write_func: Callable[[Any], Any] | None = None,
        store: Analytics | None = None,
        **options: Any,
    ) -> None:
        self.store = store or Analytics(
            _client(client),
            prefix=(prefix or "pp").rstrip(":"),
            tz="UTC",
            max_future_seconds=NO_WRITE_WINDOW,
        )
        self._read_func = read_func
        self._intervals: dict[str, dict[str, Any]] = {}
        self._series: dict[str, TimeSeries] = {}
        self._specs: dict[str, dict[str, Any]] = {}
        self._all: TimeSeries | None = None
        for name, spec in (intervals or {}).items():
            self._configure(name, spec, read_func, write_func)

    def _configure(
        self, name: str, spec: Mapping[str, Any], read_func: Any, write_func: Any
    ) -> None:
        step = resolve_step(spec.get("step", 1))
        resolution = resolve_step(spec["resolution"]) if spec.get("resolution") else None
        if resolution == step:
            resolution = None
        # kairos's weeks (%Y%U) end at the new year: kept by day, read as its weeks.
        by_day = step == "weekly"
        engine_spec: dict[str, Any] = {"step": "day" if by_day else GREGORIAN.get(str(step), step)}
        if resolution is not None:
            engine_spec["resolution"] = GREGORIAN.get(str(resolution), resolution)
        if spec.get("steps"):
            engine_spec["steps"] = spec["steps"] * (7 if by_day else 1)
        self._intervals[name] = {
            **spec,
            "i_calc": _calculator(step),
            "r_calc": _calculator(resolution if resolution is not None else step),
            "coarse": resolution is None,
            "by_day": by_day,
        }
        self._series[name] = self.store.timeseries(
            type=self.series_type,
            intervals={name: engine_spec},
            read_func=read_func,
            write_func=write_func,
        )
        self._specs[name] = engine_spec
        # Every interval in one engine series too: an insert is one round trip.
        self._all = self.store.timeseries(
            type=self.series_type, intervals=self._specs, write_func=write_func
        )

    def _config(self, interval: str) -> dict[str, Any]:
        if interval not in self._intervals:
            raise KeyError(
                f"unknown interval {interval!r}; configured: {', '.join(self._intervals)}"
            )
        return self._intervals[interval]

    # -- writing -------------------------------------------------------------------------
    def insert(
        self,
        name: str,
        value: Any = 1,
        timestamp: float | None = None,
        intervals: int = 0,
        pipeline: Any = None,
        **options: Any,
    ) -> None:
        """Record ``value`` (a list: each of its values) at ``timestamp`` (now), and
        in the ``intervals`` following buckets (preceding, when negative).

        A ``pipeline`` is taken for kairos's signature; the write goes at once."""
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        self.bulk_insert({timestamp: {name: values}}, intervals=intervals)

    def bulk_insert(self, inserts: Mapping[Any, Mapping[str, Any]], intervals: int = 0) -> None:
        """``{timestamp (None: now): {name: [values]}}`` in one round trip per interval."""
        now = time.time()
        if not intervals:
            if self._all is not None:
                self._all.insert_many(
                    (name, v, now if stamp is None else float(stamp))
                    for stamp, by_name in inserts.items()
                    for name, values in by_name.items()
                    for v in (values if isinstance(values, (list, tuple)) else [values])
                )
            return
        offsets = range(1, intervals + 1) if intervals > 0 else range(-1, intervals - 1, -1)
        for interval, series in self._series.items():
            calc = self._intervals[interval]["i_calc"]
            rows = []
            for stamp, by_name in inserts.items():
                when = now if stamp is None else float(stamp)
                for name, values in by_name.items():
                    listed = values if isinstance(values, (list, tuple)) else [values]
                    moments = [when, *(calc.normalize(when, k) for k in offsets)]
                    rows += [(name, v, moment) for moment in moments for v in listed]
            if rows:
                series.insert_many(rows)

    # -- reading -------------------------------------------------------------------------
    def _empty(self) -> Any:
        return {"series": [], "histogram": {}, "count": 0, "gauge": None, "set": set()}[
            self.series_type
        ]

    def _value(self, data: Any, joined: bool = False) -> Any:
        """A bucket's data as kairos reads it (an empty gauge of one name: ``read_func("")``)."""
        return data

    def _rows(self, data: Any) -> OrderedDict[float, Any]:
        empty = self._empty()
        return OrderedDict((int(k), v) for k, v in data.items() if v != empty)

    def get(
        self,
        name: Any,
        interval: str,
        timestamp: float | None = None,
        condense: bool = False,
        transform: Any = None,
        *,
        condensed: bool | None = None,
        **options: Any,
    ) -> OrderedDict[float, Any]:
        """The bucket of ``interval`` holding ``timestamp`` (now): ``{start: data}``;
        with a resolution its rows with data, ``{row start: data}``, unless condensed."""
        config = self._config(interval)
        when = time.time() if timestamp is None else float(timestamp)
        squeeze = condense if condensed is None else condensed
        if config["by_day"]:
            [data] = self._weeks(
                name, interval, config, [config["i_calc"].to_bucket(when)]
            ).values()
        else:
            [data] = self._series[interval].get(name, interval, when, sparse=True).values()
        start = config["i_calc"].normalize(when)
        if config["coarse"]:
            out = OrderedDict([(start, self._value(data, not isinstance(name, str)))])
            size = config["i_calc"].step_size(when)
        elif squeeze:
            out = OrderedDict([(start, self._condense(list(data.values())))])
            size = config["i_calc"].step_size(when)
        else:
            out = self._rows(data)
            size = config["r_calc"].step_size(when)
        if transform is not None:
            for key in out:
                out[key] = self._transform(out[key], transform, size)
        return out

    def _range(
        self, config: dict[str, Any], start: Any, end: Any, steps: int | None
    ) -> tuple[float, float]:
        calc = config["i_calc"]
        count = steps or config.get("steps") or 1
        if end is None:
            if start is None:
                last = calc.to_bucket(time.time())
                first = calc.to_bucket(time.time(), -count + 1)
            else:
                first = calc.to_bucket(float(start))
                last = calc.to_bucket(float(start), count - 1)
        else:
            last = calc.to_bucket(float(end))
            first = (
                calc.to_bucket(float(end), -count + 1)
                if start is None
                else calc.to_bucket(float(start))
            )
        begin, finish = calc.from_bucket(first), calc.from_bucket(last)
        return begin, max(begin, finish)

    def series(
        self,
        name: Any,
        interval: str,
        start: float | None = None,
        end: float | None = None,
        steps: int | None = None,
        condense: bool = False,
        transform: Any = None,
        collapse: bool = False,
        *,
        condensed: bool | None = None,
        **options: Any,
    ) -> OrderedDict[float, Any]:
        """Consecutive buckets of ``interval`` ending at ``end`` (now), or from
        ``start``: ``steps`` of them (the interval's ``steps``, or 1)."""
        config = self._config(interval)
        squeeze = bool(condense if condensed is None else condensed) or collapse
        begin, finish = self._range(config, start, end, steps)
        data = self._read_range(name, interval, config, begin, finish)
        calc = config["i_calc"]
        labels = [calc.from_bucket(b) for b in calc.buckets(begin, finish)]
        if len(labels) != len(data):
            labels = [int(k) for k in data]
        out: OrderedDict[float, Any] = OrderedDict()
        for label, value in zip(labels, data.values(), strict=True):
            if config["coarse"]:
                out[label] = self._value(value, not isinstance(name, str))
            elif squeeze:
                out[label] = self._condense(list(value.values()))
            else:
                out[label] = self._rows(value)
        if collapse:
            merged = self._condense(list(out.values()))
            first = next(iter(out))
            size = calc.step_size(first, list(out)[-1])
            return OrderedDict([(first, self._transform(merged, transform, size))])
        if transform is not None:
            for key, value in out.items():
                if config["coarse"] or squeeze:
                    out[key] = self._transform(value, transform, calc.step_size(key))
                else:
                    rows = config["r_calc"]
                    out[key] = OrderedDict(
                        (r, self._transform(v, transform, rows.step_size(r)))
                        for r, v in value.items()
                    )
        return out

    def _read_range(
        self, name: Any, interval: str, config: dict[str, Any], begin: float, finish: float
    ) -> OrderedDict[float, Any]:
        """The engine's buckets from ``begin`` to ``finish``, a few at a time when
        they hold more resolution rows than one read may touch."""
        series = self._series[interval]
        if config["by_day"]:
            return self._weeks(name, interval, config, config["i_calc"].buckets(begin, finish))
        calc = config["i_calc"]
        if config["coarse"]:
            return series.series(name, interval, begin, finish)
        per_bucket = calc.step_size(begin) / config["r_calc"].step_size(begin)
        starts = [calc.from_bucket(b) for b in calc.buckets(begin, finish)]
        return _chunked(series, name, interval, starts, per_bucket)

    def _weeks(
        self, name: Any, interval: str, config: dict[str, Any], buckets: Sequence[int]
    ) -> OrderedDict[float, Any]:
        """kairos's weeks ``buckets`` from the days they hold: ``{week start: data}``
        (rows merged, or the days' data condensed when there is no resolution)."""
        calc = config["i_calc"]
        first, last = _week_days(calc, buckets[0])[0], _week_days(calc, buckets[-1])[-1]
        series = self._series[interval]
        if config["coarse"]:
            days = series.series(name, interval, first, last)
        else:
            per_day = DAY / config["r_calc"].step_size(first)
            days = _chunked(series, name, interval, list(range(first, last + 1, DAY)), per_day)
        grouped: dict[int, list[Any]] = {b: [] for b in buckets}
        for start, value in days.items():
            grouped.get(calc.to_bucket(start), []).append(value)
        out: OrderedDict[float, Any] = OrderedDict()
        for bucket, values in grouped.items():
            if config["coarse"]:
                out[calc.from_bucket(bucket)] = self._condense(values)
            else:
                merged: OrderedDict[float, Any] = OrderedDict()
                for value in values:
                    merged.update(value)
                out[calc.from_bucket(bucket)] = merged
        return out

    def iterate(self, name: str, interval: str, **options: Any) -> Iterator[tuple[float, Any]]:
        """Every bucket from the first to the last with data, as ``(start, data)``;
        with a resolution, every row with data."""
        found = self.properties(name).get(interval)
        if not found:
            return
        config = self._config(interval)
        count = len(config["i_calc"].buckets(found["first"], found["last"]))
        data = self.series(name, interval, start=found["first"], steps=count)
        for start, value in data.items():
            if config["coarse"]:
                yield start, value
            else:
                yield from value.items()

    def properties(self, name: str) -> dict[str, dict[str, float]]:
        """Per interval, the start of the first and the last bucket written."""
        client = self.store.client
        base = f"{self.store.keys.prefix}:reg:series:{self.series_type}"
        first, last = client.zscore(f"{base}:first", name), client.zscore(f"{base}:last", name)
        if first is None or last is None:
            return {}
        return {
            interval: {
                "first": config["i_calc"].normalize(first),
                "last": config["i_calc"].normalize(last),
            }
            for interval, config in self._intervals.items()
        }

    def list(self) -> list[str]:
        """Names written to series of this type."""
        found: set[str] = set()
        for series in self._series.values():
            found.update(series.names())
        return sorted(found)

    def delete(self, name: str) -> None:
        for series in self._series.values():
            series.delete(name)

    def delete_all(self) -> None:
        """Delete every series of this type under the prefix."""
        for name in self.list():
            self.delete(name)

    # -- kairos's per-type arithmetic ----------------------------------------------------
    def _condense(self, values: Sequence[Any]) -> Any:
        raise NotImplementedError

    def _reduce(self, data: Any, transform: str, size: float) -> Any:
        raise NotImplementedError

    def _transform(self, data: Any, transform: Any, size: float) -> Any:
        if transform is None:
            return data
        if isinstance(transform, Mapping):
            return {label: self._transform(data, t, size) for label, t in transform.items()}
        if isinstance(transform, (list, tuple, set)):
            return {t: self._transform(data, t, size) for t in transform}
        if callable(transform):
            return transform(data, size)
        if transform not in ("mean", "count", "min", "max", "sum", "rate"):
            raise ValueError(f"unknown transform {transform!r}: mean, count, min, max, sum, rate")
        return self._reduce(data, transform, size)


class RedisSeries(Timeseries):
    """Every value of a bucket, in order."""

    series_type = "series"

    def _condense(self, values: Sequence[Any]) -> Any:
        return [v for value in values for v in value]

    def _reduce(self, data: Any, transform: str, size: float) -> Any:
        values = list(data)
        if transform == "count":
            return len(values)
        if transform == "rate":
            return len(values) / float(size)
        if transform == "sum":
            return sum(values)
        if transform == "mean":
            return float(sum(values)) / len(values) if values else 0
        return (min if transform == "min" else max)(values or [0])


class RedisSet(RedisSeries):
    """The distinct values of a bucket."""

    series_type = "set"

    def _condense(self, values: Sequence[Any]) -> Any:
        return set().union(*values) if values else set()


class RedisHistogram(Timeseries):
    """How many times each value was seen in a bucket."""

    series_type = "histogram"

    def _condense(self, values: Sequence[Any]) -> Any:
        merged: dict[Any, int] = {}
        for value in values:
            for key, n in value.items():
                merged[key] = merged.get(key, 0) + n
        return merged

    def _reduce(self, data: Any, transform: str, size: float) -> Any:
        if transform == "rate":
            return {k: n / float(size) for k, n in data.items()}
        occurrences = sum(data.values())
        if transform == "count":
            return occurrences
        total = sum(k * n for k, n in data.items())
        if transform == "sum":
            return total
        if transform == "mean":
            return float(total) / occurrences if occurrences else 0
        return (min if transform == "min" else max)(list(data) or [0])


class RedisCount(Timeseries):
    """A number added to in each bucket."""

    series_type = "count"

    def _empty(self) -> Any:
        return 0

    def _condense(self, values: Sequence[Any]) -> Any:
        return sum(values)

    def _reduce(self, data: Any, transform: str, size: float) -> Any:
        return data / float(size) if transform == "rate" else data


class RedisGauge(Timeseries):
    """The last value set in each bucket (the named transforms leave it as it is)."""

    series_type = "gauge"

    def _condense(self, values: Sequence[Any]) -> Any:
        present = [v for v in values if v is not None]
        return present[-1] if present else None

    def _value(self, data: Any, joined: bool = False) -> Any:
        if data is None and not joined and self._read_func is not None:
            try:
                return self._read_func("")
            except (TypeError, ValueError):
                return None
        return data

    def _reduce(self, data: Any, transform: str, size: float) -> Any:
        return data


_CLASSES: dict[str, type[Timeseries]] = {
    "series": RedisSeries,
    "histogram": RedisHistogram,
    "count": RedisCount,
    "gauge": RedisGauge,
    "set": RedisSet,
}

__all__ = [
    "GregorianTime",
    "OrderedDict",  # kairos.timeseries's star-import gives it too
    "RedisCount",
    "RedisGauge",
    "RedisHistogram",
    "RedisSeries",
    "RedisSet",
    "RelativeTime",
    "Timeseries",
]
