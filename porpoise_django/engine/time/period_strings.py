"""Period strings (hailwhale's): ``today``, ``24h``, ``mtd``, ``1d:1mo``, ``2026-01-01:2026-01-31``.

Each names a granularity for plotting and a range of buckets of it, in the
configured time zone:

=================  ===========  =========================================
string             granularity  range
=================  ===========  =========================================
``today``          hour         the hours of today, up to now
``yesterday``      hour         the 24 (23, 25) hours of yesterday
``24h``, ``48h``   hour         the last N hours, the current one included
``7d``, ``30d``    day          the last N days, today included
``4w``             week         the last N ISO weeks
``6mo``, ``1y``    month        the last N months (``1y``: 12)
``wtd``            day          this ISO week's days up to today
``mtd``            day          this month's days up to today
``ytd``            month        this year's months up to this one
``1d:1mo``         day          step ``1h``/``1d``/``1w``/``1mo`` over a span
``A:B``            day          dates ``A`` to ``B`` (``YYYY-MM-DD``), inclusive
=================  ===========  =========================================

Where the reader can re-cut buckets (metrics), a string may end in
``|ZONE``: an IANA name (``mtd|America/New_York``) or a UTC offset
(``today|-0500``, ``7d|+05:30``, hailwhale's ``today|-500``), and its days
are then that zone's, covered by the stored hours (or minutes).
"""

from __future__ import annotations

import datetime as dt
import re

from porpoise_django.engine.errors import InvalidTime
from porpoise_django.engine.time.periods import PeriodRange, get_timezone, period_of, period_range

_UNITS = {"h": "hour", "d": "day", "w": "week", "mo": "month", "m": "month", "y": "year"}
_SPAN = re.compile(r"(\d{1,12})(h|d|w|mo|m|y)")
PERIOD_STRING_HELP = (
    "today, yesterday, Nh, Nd, Nw, Nmo, Ny, wtd, mtd, ytd, STEP:SPAN (e.g. 1d:1mo), "
    "or YYYY-MM-DD:YYYY-MM-DD"
)


def _months_back(now: dt.datetime, months: int) -> dt.datetime:
    index = now.year * 12 + now.month - 1 - months
    year, month = index // 12, index % 12 + 1
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    last_day = (next_month - dt.timedelta(days=1)).day
    return now.replace(year=year, month=month, day=min(now.day, last_day))


def _real_minus(now: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """``now`` minus ``delta`` of real time (arithmetic on an aware datetime of one
    zone is wall-clock arithmetic, which is off by an hour across a DST change)."""
    return (now.astimezone(dt.UTC) - delta).astimezone(now.tzinfo)


def _hours_back(now: dt.datetime, hours: int) -> dt.datetime:
    return _real_minus(now, dt.timedelta(hours=hours))


def _days_back(now: dt.datetime, days: int) -> dt.date:
    return now.date() - dt.timedelta(days=days)


def _span_start(now: dt.datetime, count: int, unit: str) -> dt.datetime | dt.date:
    """Start of the last ``count`` units up to ``now`` (the current one included).

    Hours are real hours ("24h" is 24 buckets on a 23- or 25-hour day); days,
    weeks, months and years are calendar ones.
    """
    if unit == "h":
        return _hours_back(now, count - 1)
    if unit == "d":
        return _days_back(now, count - 1)
    if unit == "w":
        return _days_back(now, 7 * (count - 1))
    return _months_back(now, (count * 12 if unit == "y" else count) - 1)


def _span_back(now: dt.datetime, count: int, unit: str) -> dt.datetime:
    """``now`` minus a span of ``count`` units (real hours; calendar months for ``mo``, ``y``)."""
    if unit in ("h", "d", "w"):
        return _hours_back(now, count * {"h": 1, "d": 24, "w": 168}[unit])
    return _months_back(now, count * 12 if unit == "y" else count)


_SECOND = dt.timedelta(seconds=1)


def _check_cap(text: str, count: int, max_buckets: int) -> None:
    # Checked before any date arithmetic, which would overflow on huge counts.
    if count > max_buckets:
        raise InvalidTime(
            f"period {text!r} is larger than the cap of {max_buckets} buckets: narrow it"
        )


_OFFSET = re.compile(r"([+-]?)(\d{1,2}):?(\d{2})?")


def zone_of(text: str) -> dt.tzinfo:
    """The zone of a ``|ZONE`` suffix: an IANA name, or an offset ``-0500``,
    ``+05:30``, ``-5``, or hailwhale's ``-500`` (hours and minutes, HMM)."""
    value = text.strip()
    match = _OFFSET.fullmatch(value)
    if match is None:
        return get_timezone(value)
    sign, hours, minutes = match.groups()
    offset = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
    if offset >= dt.timedelta(hours=24) or int(minutes or 0) >= 60:
        raise InvalidTime(f"time zone offset {text!r} is out of range: -2359 to +2359")
    return dt.timezone(-offset if sign == "-" else offset)


def split_zone(text: str) -> tuple[str, dt.tzinfo | None]:
    """``("mtd", zone)`` for ``"mtd|-0500"``; ``(text, None)`` without a suffix."""
    if "|" not in text:
        return text, None
    value, zone = text.split("|", 1)
    return value, zone_of(zone)


def parse_period(
    text: object,
    *,
    tz: dt.tzinfo,
    now: dt.datetime,
    max_buckets: int,
    zones: bool = False,
) -> PeriodRange:
    """The :class:`PeriodRange` a period string names; ``InvalidTime`` lists the forms.

    With ``zones=True`` a ``|ZONE`` suffix picks the zone whose days, weeks
    and months the range is cut in (the reader covers them with stored buckets).
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidTime(f"period must be a string: {PERIOD_STRING_HELP}")
    value = text.strip().lower()
    if "|" in value:
        if not zones:
            raise InvalidTime(
                f"period {text!r}: a '|zone' suffix is taken by metrics only (their buckets "
                "can be re-cut); events and counters are read in the configured time zone"
            )
        value, zone = split_zone(text.strip())
        value, tz = value.strip().lower(), zone or tz
    return _parse(text, value, tz=tz, now=now, max_buckets=max_buckets)


def _parse(
    text: str, value: str, *, tz: dt.tzinfo, now: dt.datetime, max_buckets: int
) -> PeriodRange:
    """The range of the lower-cased string ``value`` (``text`` as given, for errors)."""
    local = now.astimezone(tz)

    def rng(
        granularity: str, start: dt.date, end: dt.datetime | dt.date | None = None
    ) -> PeriodRange:
        return period_range(
            granularity,
            start,
            local if end is None else end,
            tz=tz,
            now=now,
            max_buckets=max_buckets,
        )

    if value == "today":
        return rng("hour", period_of("day", local, tz).start)
    if value == "yesterday":
        day = period_of("day", local, tz).prev()
        return rng("hour", day.start, _real_minus(day.period_end(), _SECOND))
    if value == "wtd":
        return rng("day", period_of("week", local, tz).start)
    if value == "mtd":
        return rng("day", period_of("month", local, tz).start)
    if value == "ytd":
        return rng("month", period_of("year", local, tz).start)
    match = _SPAN.fullmatch(value)
    if match:
        count, unit = int(match.group(1)), match.group(2)
        if count < 1:
            raise InvalidTime(f"period {text!r}: the count must be at least 1")
        _check_cap(text, count * (12 if unit == "y" else 1), max_buckets)
        granularity = {"y": "month", "m": "month"}.get(unit, _UNITS[unit])
        return rng(granularity, _span_start(local, count, unit))
    if ":" in value:
        left, right = value.split(":", 1)
        step, span = _SPAN.fullmatch(left), _SPAN.fullmatch(right)
        if step and span:
            if int(step.group(1)) != 1:
                raise InvalidTime(f"period {text!r}: the step must be 1h, 1d, 1w or 1mo")
            granularity = _UNITS[step.group(2)]
            _check_cap(text, int(span.group(1)), max_buckets)
            # The buckets after the one holding (now - span): a span's worth of them.
            back = _span_back(local, int(span.group(1)), span.group(2))
            return rng(granularity, period_of(granularity, back, tz).next().start)
        try:
            first, last = dt.date.fromisoformat(left), dt.date.fromisoformat(right)
        except ValueError:
            pass
        else:
            return rng("day", first, last)
    raise InvalidTime(f"unknown period {text!r}; use {PERIOD_STRING_HELP}")
