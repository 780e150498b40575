"""Metrics with dimensions (hailwhale's model), and cheapest bucket covers of ranges.

One call counts several metrics at once, tagged with dimensions that may be
nested; every count rolls up to each parent dimension and to the overall
total, and an implicit ``hits`` metric counts the calls::

    ads = pp.metric("ads")
    ads.count({"revenue": 500, "visitors": 1},
              dimensions={"country": "US", "device": {"os": "mac"}})
    ads.totals("today", ["revenue", "visitors", "revenue/visitors"])
    ads.breakdown("country", "mtd", ["revenue", "revenue/hits"], sort="revenue/hits", limit=5)
    ads.significant("country", "revenue", "7d")        # >10% of the total, plus "other"

Dimension paths: ``""`` is everything, ``"country"`` every call that had a
country, ``"country/US"`` those from the US, ``"device/os/mac"`` a nested one.
Keys (all of one metric share the hash tag ``{m:<name>}``)::

    pp:{m:ads}:v:d:20261122:=country/US     hash metric -> value for that day
    pp:{m:ads}:kids:=country                set of the children of a path
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from porpoise_django.engine.errors import InvalidGranularity, InvalidValue
from porpoise_django.engine.names import validate_name
from porpoise_django.engine.numbers.counters import check_amount, number
from porpoise_django.engine.storage.buckets import BucketRegistry
from porpoise_django.engine.time.period_strings import parse_period
from porpoise_django.engine.time.periods import Period, PeriodRange, cover, period_of
from porpoise_django.engine.values import int_in, plain, text

if TYPE_CHECKING:
    from porpoise_django.engine.storage.store import Store

METRIC_NAME = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
#: A dimension name or value: 1 to 128 characters, spaces inside allowed ("Mac OS X"),
#: none at either end, no control character, no "/" (the path separator), no braces
#: (hash tags).
SEGMENT = re.compile(r"[^\s/{}](?:[^/{}\x00-\x1f\x7f]{0,126}[^\s/{}])?")
HITS = "hits"
SIGNIFICANCE = 0.10


def dimension_paths(dimensions: Mapping[str, Any] | str | Sequence[Any] | None) -> list[str]:
    """Every path a call with ``dimensions`` counts under, parents included ("" first).

    ``dimensions`` is a dict (nested dicts nest), or one path: a string
    (``"services"``, ``"sales/123"``) or a list of segments (``["Product", "123"]``),
    as hailwhale takes them.

    >>> dimension_paths({"country": "US"})
    ['', 'country', 'country/US']
    >>> dimension_paths(["Product", "123"])
    ['', 'Product', 'Product/123']
    """
    paths = [""]
    if dimensions is None:
        return paths
    if isinstance(dimensions, (str, list, tuple)):
        segments = check_path(dimensions).split("/")
        return paths + ["/".join(segments[: i + 1]) for i in range(len(segments)) if segments[0]]
    if not isinstance(dimensions, Mapping):
        raise InvalidValue(
            "dimensions must be a dict such as {'country': 'US'}, a path such as "
            "'country/US', or a list of segments"
        )

    def walk(prefix: str, value: Any, depth: int) -> None:
        if depth > 8:
            raise InvalidValue("dimensions nest at most 8 levels deep")
        if isinstance(value, Mapping):
            for key, inner in value.items():
                path = _join(prefix, _segment(key))
                paths.append(path)
                walk(path, inner, depth + 1)
        elif value is not None:
            paths.append(_join(prefix, _segment(value)))

    walk("", dimensions, 0)
    return paths


def _segment(value: Any) -> str:
    if not plain(value, str, int):
        raise InvalidValue(f"dimension names and values must be strings or ints, got {value!r}")
    text = str(value)
    if not SEGMENT.fullmatch(text):
        raise InvalidValue(
            f"invalid dimension value {text[:50]!r}: 1 to 128 characters, no white space at "
            "either end, no control characters, no '/', '{' or '}'"
        )
    return text


def _join(prefix: str, segment: str) -> str:
    return f"{prefix}/{segment}" if prefix else segment


def check_path(path: object) -> str:
    """A dimension path as given to queries: ``""``, ``"country"``, ``"country/US"``,
    or a list of segments (``["country", "US"]``)."""
    if path is None or path == "" or path == [] or path == ():
        return ""
    if isinstance(path, (list, tuple)):
        if len(path) > 8:
            raise InvalidValue("dimensions nest at most 8 levels deep")
        return "/".join(_segment(part) for part in path)
    if not isinstance(path, str):
        raise InvalidValue(f"dimension must be a path string such as 'country/US', got {path!r}")
    return "/".join(_segment(part) for part in path.split("/"))


def check_metric_name(name: object) -> str:
    if not isinstance(name, str) or not METRIC_NAME.fullmatch(name):
        raise InvalidValue(f"invalid metric name {name!r}: 1 to 64 letters, digits and _ . : -")
    return name


def ratio_parts(metric: str) -> tuple[str, str] | None:
    """``("revenue", "hits")`` for ``"revenue/hits"``, None for a plain metric."""
    if "/" not in metric:
        check_metric_name(metric)
        return None
    numerator, denominator = metric.split("/", 1)
    return check_metric_name(numerator), check_metric_name(denominator)


def evaluate(
    values: Mapping[str, float], metrics: Sequence[str], empty_ratio: float | None = None
) -> dict[str, float | int | None]:
    """Pick ``metrics`` out of summed ``values``; a ratio with an unknown or zero
    denominator is ``empty_ratio`` (None unless chosen; never an exception)."""
    out: dict[str, float | int | None] = {}
    for metric in metrics:
        parts = ratio_parts(metric)
        if parts is None:
            out[metric] = number(values.get(metric, 0))
            continue
        numerator, denominator = (values.get(p) for p in parts)
        out[metric] = empty_ratio if not denominator else (numerator or 0) / denominator
    return out


class Metric:
    """Metrics of one name (hailwhale's "pk"); see the module docstring.

    ``empty_ratio`` is what a ratio with a zero or unknown denominator reads
    as: None by default (no data is not a zero), 0 as hailwhale answers.
    """

    def __init__(self, store: Store, name: str, *, empty_ratio: float | None = None) -> None:
        self._store = store
        self.name = validate_name(name, what="metric name")
        if empty_ratio is not None and (
            not plain(empty_ratio, int, float) or not math.isfinite(empty_ratio)
        ):
            raise InvalidValue(f"empty_ratio must be None or a finite number, got {empty_ratio!r}")
        self.empty_ratio = empty_ratio

    def __repr__(self) -> str:
        return f"<Metric {self.name!r}>"

    # -- keys --------------------------------------------------------------------
    def _values_key(self, period: Period, path: str) -> str:
        return f"{self._store.keys.prefix}:{{m:{self.name}}}:v:{period.code}:{period.key}:={path}"

    def _kids_key(self, path: str) -> str:
        return f"{self._store.keys.prefix}:{{m:{self.name}}}:kids:={path}"

    # -- writing -----------------------------------------------------------------
    def count(
        self,
        metrics: Mapping[str, float] | None = None,
        dimensions: Mapping[str, Any] | None = None,
        when: object = None,
    ) -> None:
        """Add ``metrics`` (plus ``hits`` += 1) under every path of ``dimensions``.

        One round trip for every granularity and every parent dimension.
        """
        self.count_many([(metrics, dimensions, when)])

    def count_many(
        self, rows: Iterable[tuple[Mapping[str, float] | None, Mapping[str, Any] | None, object]]
    ) -> int:
        """Apply many ``(metrics, dimensions, when)`` calls in one pipeline; validated first."""
        store = self._store
        grans = store.counter_granularities
        now_ts = store.clock().timestamp()
        increments: dict[str, dict[str, float]] = {}
        expiries: dict[str, float] = {}
        kids: dict[str, set[str]] = {}
        span: list[float] = []
        registry_key = store.buckets.key("m", self.name)
        registry: dict[str, float | None] = {}
        calls = 0
        for number_, row in enumerate(rows):
            values, paths, stamp = self._checked(number_, row)
            calls += 1
            span.append(stamp)
            moment = dt.datetime.fromtimestamp(stamp, dt.UTC)
            periods = store.policy.writable([period_of(g, moment, store.tz) for g in grans], now_ts)
            for period, expire_at in periods:
                registry[period.member] = expire_at
                for path in paths:
                    key = self._values_key(period, path)
                    bucket = increments.setdefault(key, {})
                    for metric, amount in values.items():
                        bucket[metric] = bucket.get(metric, 0) + amount
                    if expire_at is not None:
                        expiries[key] = expire_at
            for path in paths[1:]:
                parent = path.rsplit("/", 1)[0] if "/" in path else ""
                kids.setdefault(parent, set()).add(path)
        if not calls:
            return 0
        keys = store.keys
        buckets = [(registry_key, m, e) for m, e in registry.items()]

        def build(pipe: Any) -> None:
            BucketRegistry.queue(pipe, buckets, now_ts)
            for key, bucket in increments.items():
                for metric, amount in bucket.items():
                    pipe.hincrbyfloat(key, metric, amount)
                if key in expiries:
                    pipe.expireat(key, math.ceil(expiries[key]))
            for parent, children in kids.items():
                pipe.sadd(self._kids_key(parent), *sorted(children))
            pipe.zadd(f"{keys.prefix}:reg:metrics:first", {self.name: min(span)}, lt=True)
            pipe.zadd(f"{keys.prefix}:reg:metrics:last", {self.name: max(span)}, gt=True)

        store.run(build, scripts=())
        return calls

    def _checked(self, number: int, row: Any) -> tuple[dict[str, float], list[str], float]:
        """Row ``number`` as (increment per metric, dimension paths, epoch seconds)."""
        try:
            metrics, dimensions, when = row
            # An explicit "hits" replaces the implicit one (never added to it).
            values: dict[str, float] = {} if HITS in (metrics or {}) else {HITS: 1}
            for key, amount in (metrics or {}).items():
                check_metric_name(key)
                try:
                    check_amount(amount, self._store.max_increment)
                except InvalidValue as exc:
                    raise InvalidValue(f"metric {key!r}: {exc}") from None
                values[key] = values.get(key, 0) + amount
            return values, dimension_paths(dimensions), self._store.stamp(when)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, TypeError):
                exc = InvalidValue("expected (metrics, dimensions, when)")
            raise type(exc)(f"row {number}: {exc}") from None

    # -- reading -----------------------------------------------------------------
    def resolve_range(self, period: str | PeriodRange) -> PeriodRange:
        """A range given as a period string (``7d``, ``mtd``...) or as a range."""
        if isinstance(period, PeriodRange):
            return period
        store = self._store
        return parse_period(
            period,
            tz=store.tz,
            now=store.clock(),
            max_buckets=store.max_range_buckets,
            zones=True,
        )

    def cover_range(self, periods: PeriodRange) -> list[Period]:
        """The fewest tracked buckets that make up ``periods`` exactly (also for a
        range cut in another time zone, where the stored buckets meet its edges)."""
        store = self._store
        buckets = cover(periods, store.counter_granularities, store.clock(), store.tz)
        if buckets is None:
            if self._same_zone(periods):
                # Only an untracked granularity cannot be covered: this names them.
                store.check_tracked(periods.granularity, "metrics")
            raise InvalidGranularity(
                f"{periods.granularity} buckets of {periods.first.start.tzinfo} cannot be "
                f"covered by the tracked buckets ({', '.join(store.counter_granularities)}) "
                f"of {store.tz}: track finer ones (hour, minute)"
            )
        return buckets

    def _same_zone(self, periods: PeriodRange) -> bool:
        return periods.first.start.tzinfo == self._store.tz

    def sum_groups(self, groups: Sequence[tuple[str, Sequence[Period]]]) -> list[dict[str, float]]:
        """For each ``(path, buckets)``, the metrics summed over the buckets: one round trip."""

        def build(pipe: Any) -> None:
            for path, buckets in groups:
                for bucket in buckets:
                    pipe.hgetall(self._values_key(bucket, path))

        replies = iter(self._store.run(build, scripts=()))
        out = []
        for _, buckets in groups:
            summed: dict[str, float] = {}
            for _ in buckets:
                for metric, value in (next(replies) or {}).items():
                    name = text(metric)
                    summed[name] = summed.get(name, 0) + float(value)
            out.append(summed)
        return out

    def _metric_list(self, metrics: Sequence[str] | str | None) -> list[str]:
        names = [metrics] if isinstance(metrics, str) else list(metrics or [HITS])
        for metric in names:
            try:
                ratio_parts(metric)
            except InvalidValue as exc:
                raise InvalidValue(str(exc), field="metrics") from None
        return names

    def totals(
        self,
        period: str | PeriodRange = "today",
        metrics: Sequence[str] | str | None = None,
        dimension: str = "",
    ) -> dict[str, float | int | None]:
        """Each metric (or ratio) summed over ``period`` for ``dimension``, one round trip."""
        names = self._metric_list(metrics)
        path = check_path(dimension)
        [values] = self.sum_groups([(path, self.cover_range(self.resolve_range(period)))])
        return evaluate(values, names, self.empty_ratio)

    def series(
        self,
        period: str | PeriodRange = "mtd",
        metrics: Sequence[str] | str | None = None,
        dimension: str = "",
    ) -> list[tuple[Period, dict[str, float | int | None]]]:
        """Plot points: each bucket of ``period`` with its metrics, zero-filled, one round trip."""
        names = self._metric_list(metrics)
        path = check_path(dimension)
        periods = self.resolve_range(period)
        buckets = list(periods)
        if self._same_zone(periods):
            self._store.check_tracked(periods.granularity, "metrics")
            groups = [(path, [bucket]) for bucket in buckets]
        else:  # each bucket of the other zone from the stored ones that make it up
            groups = [(path, self.cover_range(PeriodRange(b, b, 1))) for b in buckets]
        sums = self.sum_groups(groups)
        return [
            (bucket, evaluate(values, names, self.empty_ratio))
            for bucket, values in zip(buckets, sums, strict=True)
        ]

    def children(self, dimension: str = "", depth: int = 1) -> list[str]:
        """Paths below ``dimension``, ``depth`` levels down (one round trip per level)."""
        if not int_in(depth, 1, 8):
            raise InvalidValue("depth must be an int from 1 to 8", field="depth")
        level = [check_path(dimension)]
        found: list[str] = []
        for _ in range(depth):

            def build(pipe: Any, level: list[str] = level) -> None:
                for path in level:
                    pipe.smembers(self._kids_key(path))

            replies = self._store.run(build, scripts=()) if level else []
            level = sorted(text(m) for reply in replies for m in reply)
            found += level
        return found

    def breakdown(
        self,
        dimension: str,
        period: str | PeriodRange = "today",
        metrics: Sequence[str] | str | None = None,
        *,
        sort: str | None = None,
        limit: int | None = None,
        depth: int = 1,
        descending: bool = True,
    ) -> list[dict[str, Any]]:
        """One row per path below ``dimension``: ``{"dimension": path, metric: value...}``.

        Sorted by ``sort`` (a metric or ratio; None values last), then cut to ``limit``.
        """
        names = self._metric_list(metrics)
        sort_key = sort or names[0]
        if sort_key not in names:
            try:
                ratio_parts(sort_key)
            except InvalidValue as exc:
                raise InvalidValue(str(exc), field="sort") from None
            names.append(sort_key)
        if limit is not None and not int_in(limit, 1):
            raise InvalidValue("limit must be a positive int", field="limit")
        paths = self.children(dimension, depth)
        buckets = self.cover_range(self.resolve_range(period))
        sums = self.sum_groups([(path, buckets) for path in paths])
        rows = [
            {"dimension": path, **evaluate(values, names, self.empty_ratio)}
            for path, values in zip(paths, sums, strict=True)
        ]
        present = [r for r in rows if r[sort_key] is not None]
        missing = [r for r in rows if r[sort_key] is None]
        present.sort(key=lambda r: float(r[sort_key] or 0), reverse=descending)
        ordered = present + missing
        return ordered[:limit] if limit else ordered

    def significant(
        self,
        dimension: str,
        metric: str = HITS,
        period: str | PeriodRange = "today",
        *,
        threshold: float = SIGNIFICANCE,
    ) -> list[tuple[str, float | int]]:
        """Children of ``dimension`` over ``threshold`` of its total for ``metric``,
        largest first, then ``("other", rest)`` if anything was left out."""
        check_metric_name(metric)
        if not 0 <= threshold < 1:
            raise InvalidValue("threshold must be in [0, 1)")
        path = check_path(dimension)
        paths = self.children(path)
        buckets = self.cover_range(self.resolve_range(period))
        sums = self.sum_groups([(path, buckets)] + [(p, buckets) for p in paths])
        total = sums[0].get(metric, 0)
        kept = [
            (p, number(values.get(metric, 0)))
            for p, values in zip(paths, sums[1:], strict=True)
            if total and values.get(metric, 0) > threshold * total
        ]
        kept.sort(key=lambda item: item[1], reverse=True)
        rest = total - sum(v for _, v in kept)
        if abs(rest) > 1e-9:
            kept.append(("other", number(rest)))
        return kept

    def delete(self) -> None:
        """Delete every bucket, dimension and registry entry of this metric."""
        store = self._store
        prefix = store.keys.prefix
        paths = ["", *self.children("", 8)]
        base = f"{prefix}:{{m:{self.name}}}:v"
        store.delete_registered(
            "m",
            self.name,
            lambda member: (f"{base}:{member}:={path}" for path in paths),
            (f"{prefix}:reg:metrics:first", f"{prefix}:reg:metrics:last"),
        )
        store.delete_keys([self._kids_key(p) for p in paths])


def metric_names(store: Store) -> list[str]:
    """Names of every metric under the store's prefix."""
    members = store.client.zrange(f"{store.keys.prefix}:reg:metrics:first", 0, -1)
    return sorted(text(m) for m in members)


__all__ = ["Metric", "cover", "dimension_paths", "evaluate", "metric_names"]
