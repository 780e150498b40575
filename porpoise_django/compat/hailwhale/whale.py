"""hailwhale's ``Whale`` over the engine's metrics and decisions:
``from hailwhale.whale import Whale`` becomes
``from porpoise_django.compat.hailwhale import Whale``.

>>> Whale.count_now("my_counter", metrics={"hits": 1})                      # doctest: +SKIP
>>> Whale.total("my_counter", metric="hits", period="today")                # doctest: +SKIP
1
>>> Whale.plotpoints("my_counter", metrics=["revenue/hits"], period="mtd")  # doctest: +SKIP
{'my_counter': {'revenue/hits': {'11/1/26': 0, '11/2/26': 5.0, ...}}}

What carries over: ``count_now`` (dimensions as a dict, nested dicts, a path
string or a list; ``metrics=`` or ``metric=``; the implicit ``hits``),
``total``, ``totals``, ``plotpoints`` (labels ``M/D/YY``, ``depth``,
``overall``, ``points_type=list`` for ``[ms, value]`` pairs),
``count_decision`` and ``decide`` (``options`` as a dict of lists or a list,
``by_metric``/``formula``), hailwhale's period strings (nicknames such as
``thirty`` or ``day``, ``1h:1d`` with its ``m`` for minutes,
``MM/DD/YYYY-MM/DD/YYYY``, a ``|-500`` time zone offset) and its ratios of
zero hits, which read 0.

Differences on purpose (see "Coming from hailwhale" in docs/peers.md): rows are
keyed by the primary key (the overall row) and by dimension paths
(``"country/US"``), not by JSON lists; buckets are the engine's (the
finest is a minute: ``fivemin`` is five minutes by minute, not by 10
seconds; ``monthly`` is three years by month, as its name says); ``decide``
draws by Thompson sampling, tries an option with little data first, and
judges by ``revenue/visitors`` unless told (``by_metric``, or
``Whale.formula``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import redis

from porpoise_django.engine import (
    Analytics,
    Decision,
    Metric,
    PeriodRange,
    check_dimension_path,
    period_range,
    split_zone,
)

#: hailwhale's nicknames, as engine period strings (or minute spans).
NICKNAMES = {
    "monthly": "1mo:3y",
    "year": "1d:1y",
    "thirty": "1d:1mo",
    "seven": "7d",
    "day": "1h:1d",
    "hours": "today",
    "hour": "60mi",
    "fivemin": "5mi",
}
_UNIT = re.compile(r"(\d{1,9})(mo|[smhdwy])")
#: hailwhale's units in seconds (its m is a minute, mo a month).
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mo": 2678400, "y": 31536000}
_STEP_GRANULARITY = {"m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month"}
_US_RANGE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})-(\d{1,2})/(\d{1,2})/(\d{4})")
DEFAULT_PERIOD = "year"


def _name(categories: Any) -> str:
    """The metric name of a hailwhale primary key: ``"a"``, or ``["Product", "123"]``
    as ``"Product/123"``. Hash-tag braces are dropped: every metric has its own."""
    parts = [categories] if isinstance(categories, (str, int)) else list(categories or [])
    if not parts:
        raise ValueError("a primary key (categories) is needed, e.g. 'my_counter'")
    return "/".join(str(p).replace("{", "").replace("}", "") for p in parts)


def _dimensions(dimensions: Any) -> Any:
    """hailwhale's "no dimension" spellings (None, "", ["empty"], ["_"]) as None."""
    if dimensions in (None, "", [], ["empty"], ["_"], "_", "empty"):
        return None
    return dimensions


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    """hailwhale's times are naive UTC (``datetime.utcnow()``)."""
    return at.replace(tzinfo=dt.UTC) if at is not None and at.tzinfo is None else at


def _us_date(month: str, day: str, year: str) -> str:
    return dt.date(int(year), int(month), int(day)).isoformat()


def translate_period(store: Analytics, period: str | None) -> str | PeriodRange:
    """hailwhale's period string as an engine period string, or as a range.

    >>> translate_period(pp, "thirty|-500")                         # doctest: +SKIP
    '1d:1mo|-500'
    """
    text = DEFAULT_PERIOD if period in (None, "", "None") else str(period)
    value, zone = split_zone(text) if "|" in text else (text, None)
    suffix = text[len(value) :] if zone else ""
    value = NICKNAMES.get(value.strip(), value.strip())
    us = _US_RANGE.fullmatch(value)
    if us:
        try:
            return f"{_us_date(*us.groups()[:3])}:{_us_date(*us.groups()[3:])}{suffix}"
        except ValueError as exc:
            raise ValueError(f"invalid date range {text!r}: {exc}") from None
    if value.endswith("mi") and value[:-2].isdigit():
        count = int(value[:-2])
        return period_range(
            "minute", -(count - 1), tz=zone or store.tz, now=store.clock(), max_buckets=1440
        )
    steps = value.split(":")
    matches = [_UNIT.fullmatch(s) for s in steps]
    if len(steps) == 2 and all(matches):
        return _step_span(store, text, matches[0], matches[1], zone, suffix)  # type: ignore[arg-type]
    return value + suffix


def _step_span(
    store: Analytics,
    text: str,
    step: re.Match[str],
    span: re.Match[str],
    zone: dt.tzinfo | None,
    suffix: str,
) -> str | PeriodRange:
    """``1h:1d``: one bucket a step, over a span (hailwhale's ``m`` is a minute)."""
    count, unit = int(step.group(1)), step.group(2)
    granularity = _STEP_GRANULARITY.get(unit)
    if count != 1 or granularity is None:
        raise ValueError(
            f"period {text!r}: the step must be 1m, 1h, 1d, 1w or 1mo (the finest bucket is a "
            "minute, and a bucket is one unit)"
        )
    if granularity != "minute" and span.group(2) != "m":
        return f"1{unit}:{span.group(1)}{span.group(2)}{suffix}"
    buckets = int(span.group(1)) * _SECONDS[span.group(2)] // _SECONDS[unit]
    return period_range(
        granularity,
        -(max(buckets, 1) - 1),
        tz=zone or store.tz,
        now=store.clock(),
        max_buckets=store.max_range_buckets,
    )


def label(start: dt.datetime, granularity: str) -> str:
    """hailwhale's plot label: ``1/3/11`` (month/day/two-digit year), with the
    time for hours and minutes (``1/3/11 13:00``)."""
    day = f"{start.month}/{start.day}/{start.year % 100:02d}"
    if granularity not in ("hour", "minute"):
        return day
    # The hour repeated when clocks go back is another bucket: another label.
    return f"{day} {start:%H:%M}" + (" (2nd)" if start.fold else "")


class Whale:
    """hailwhale's ``Whale``: call its methods on the class, as hailwhale does.

    The store is built on first use from ``whale_driver_settings`` (redis-py
    keyword arguments, as hailwhale), or set with :meth:`use` (for example
    ``Whale.use(porpoise_django.services.get_analytics())``).
    """

    whale_driver_settings: ClassVar[dict[str, Any]] = {}
    #: What ``decide`` judges by when no ``by_metric`` is given.
    formula: ClassVar[str] = "revenue/visitors"
    _store: ClassVar[Analytics | None] = None

    @classmethod
    def use(cls, store: Analytics) -> None:
        """Count into (and read from) ``store``."""
        cls._store = store

    @classmethod
    def store(cls) -> Analytics:
        if cls._store is None:
            cls._store = Analytics(
                redis.Redis(**cls.whale_driver_settings),
                prefix="pp",
                tz="UTC",
                counter_granularities=("minute", "hour", "day", "week", "month"),
            )
        return cls._store

    @classmethod
    def _metric(cls, categories: Any) -> Metric:
        return cls.store().metric(_name(categories), empty_ratio=0)

    # -- counting -------------------------------------------------------------------------
    @classmethod
    def count_now(
        cls,
        categories: Any,
        dimensions: Any = None,
        metrics: Mapping[str, float] | None = None,
        at: dt.datetime | None = None,
        *,
        metric: Mapping[str, float] | None = None,
    ) -> None:
        """Count ``metrics`` (plus ``hits``) now, or ``at`` (naive is UTC, as hailwhale)."""
        when = _utc(at)
        cls._metric(categories).count(metrics or metric or {}, _dimensions(dimensions), when)

    # -- reading --------------------------------------------------------------------------
    @staticmethod
    def _metrics(metrics: Any, metric: Any) -> list[str]:
        chosen = metrics if metrics is not None else metric
        if chosen is None:
            return ["hits"]
        return [chosen] if isinstance(chosen, str) else list(chosen)

    @classmethod
    def _rows(cls, categories: Any, dimensions: Any, depth: int, overall: bool) -> list[str]:
        """The rows asked for: "" (overall), the dimension, and ``depth`` levels below."""
        handle = cls._metric(categories)
        path = _dimensions(dimensions)
        if path is not None and not isinstance(path, (str, list, tuple)):
            raise ValueError("to read, give one dimension: 'country' or ['country', 'US']")
        base = check_dimension_path(path)
        rows = [""] if overall or not base else []
        if base:
            rows.append(base)
        if depth:
            rows += handle.children(base, depth)
        return rows

    @classmethod
    def total(
        cls,
        categories: Any,
        metric: str = "hits",
        period: str | None = None,
        dimensions: Any = None,
    ) -> float | int:
        """One metric (or ratio) summed over ``period`` (hailwhale's default: a year)."""
        handle = cls._metric(categories)
        span = translate_period(cls.store(), period)
        value = handle.totals(span, [metric], check_dimension_path(_dimensions(dimensions)))[metric]
        return 0 if value is None else value

    @classmethod
    def totals(
        cls,
        categories: Any,
        dimensions: Any = None,
        metrics: Any = None,
        period: str | None = None,
        depth: int = 0,
        overall: bool = True,
        *,
        metric: Any = None,
    ) -> dict[str, dict[str, float | int | None]]:
        """``{row: {metric: total}}``: the overall row under the primary key's name,
        dimension rows under their paths."""
        handle = cls._metric(categories)
        names = cls._metrics(metrics, metric)
        span = translate_period(cls.store(), period)
        out = {}
        for row in cls._rows(categories, dimensions, depth, overall):
            out[row or handle.name] = handle.totals(span, names, row)
        return out

    @classmethod
    def plotpoints(
        cls,
        categories: Any,
        dimensions: Any = None,
        metrics: Any = None,
        period: str | None = None,
        depth: int = 0,
        overall: bool = True,
        points_type: type = dict,
        *,
        metric: Any = None,
    ) -> dict[str, dict[str, Any]]:
        """``{row: {metric: {label: value}}}``, every bucket of ``period``, zero-filled;
        ``points_type=list`` gives ``[[epoch ms, value], ...]`` (flot's points)."""
        handle = cls._metric(categories)
        names = cls._metrics(metrics, metric)
        span = translate_period(cls.store(), period)
        out: dict[str, dict[str, Any]] = {}
        for row in cls._rows(categories, dimensions, depth, overall):
            points = handle.series(span, names, row)
            out[row or handle.name] = {
                name: _points(points, name, points_type is list) for name in names
            }
        return out

    # -- decisions ------------------------------------------------------------------------
    @classmethod
    def _decision(cls, categories: Any, key: str | None) -> Decision:
        name = _name(categories) if key is None else f"{_name(categories)}/{key}"
        return cls.store().decision(name)

    @classmethod
    def count_decision(
        cls,
        categories: Any,
        decided: Mapping[str, Any] | None = None,
        metric: Mapping[str, float] | None = None,
        dimensions: Mapping[str, Any] | None = None,
        at: dt.datetime | None = None,
        *,
        metrics: Mapping[str, float] | None = None,
        option: Any = None,
    ) -> None:
        """Record the metrics of a decision: ``decided={"language": "EN"}`` (or
        ``option="b"``, as hailwhale's HTTP call) under ``dimensions``."""
        if decided is None and option is None:
            raise ValueError("say what was decided: decided={'language': 'EN'} or option='b'")
        choices = dict(decided or {}) if option is None else {None: option}
        when = _utc(at)
        values = dict(metric or metrics or {})
        for key, chosen in choices.items():
            cls._decision(categories, key).record(
                chosen, _dimensions(dimensions), metrics=values, when=when
            )

    @classmethod
    def decide(
        cls,
        categories: Any,
        options: Mapping[str, Sequence[Any]] | Sequence[Any],
        known_dimensions: Mapping[str, Any] | None = None,
        by_metric: str | None = None,
        *,
        dimensions: Mapping[str, Any] | None = None,
        formula: str | None = None,
        seed: int | None = None,
    ) -> Any:
        """The option to use: for ``options={"language": ["EN", "SP"]}`` a dict
        ``{"language": "EN"}``, for a list one of its items."""
        known = _dimensions(known_dimensions if known_dimensions is not None else dimensions)
        by = by_metric or formula or cls.formula
        if isinstance(options, Mapping):
            return {
                key: cls._pick(cls._decision(categories, key), list(choices), known, by, seed)
                for key, choices in options.items()
            }
        return cls._pick(cls._decision(categories, None), list(options), known, by, seed)

    @staticmethod
    def _pick(decision: Decision, choices: list[Any], known: Any, by: str, seed: int | None) -> Any:
        picked = decision.decide([str(c) for c in choices], known, by=by, seed=seed)
        return next(c for c in choices if str(c) == picked)  # the caller's own object


def _points(points: list[Any], name: str, as_list: bool) -> Any:
    if as_list:
        return [[int(p.start.timestamp() * 1000), values[name]] for p, values in points]
    return {label(p.start, p.granularity): values[name] for p, values in points}


__all__ = ["NICKNAMES", "Whale", "label", "translate_period"]
