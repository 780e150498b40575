"""hailwhale's period strings as the engine's, and its plot labels."""

from __future__ import annotations

import datetime as dt
import re

from porpoise_django.engine import Analytics, PeriodRange, period_range, split_zone

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
#: hailwhale's default period: the last thirty days by day (``1d:1mo``).
DEFAULT_PERIOD = "thirty"
#: The periods hailwhale's ``totals`` answers for when none is given, by its names.
DEFAULT_PERIODS = ("1d:1y", "1d:1mo", "1d:1w", "1h:1d", "1m:1h")


def _us_date(month: str, day: str, year: str) -> str:
    return dt.date(int(year), int(month), int(day)).isoformat()


def translate_period(store: Analytics, period: str | None) -> str | PeriodRange:
    """hailwhale's period string as an engine period string, or as a range.

    >>> translate_period(pp, "thirty|-500")
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


def span_seconds(store: Analytics, period: str | None) -> float:
    """How long one bucket of ``period`` is, in seconds (for cache lifetimes)."""
    span = translate_period(store, period)
    rng = store.metric("_").resolve_range(span)
    first = rng.first
    return (first.period_end() - first.start).total_seconds()
