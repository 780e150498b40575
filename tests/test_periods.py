"""Buckets and ranges: ISO weeks, DST, offsets, bad input."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from porpoise_django.engine import InvalidGranularity, InvalidTime, period_of, period_range
from porpoise_django.engine.time.periods import get_timezone

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def test_keys_and_labels_of_each_granularity():
    when = dt.datetime(2026, 11, 22, 13, 45, tzinfo=UTC)
    got = {
        g: (period_of(g, when, UTC).key, period_of(g, when, UTC).label)
        for g in ("minute", "hour", "day", "week", "month", "year")
    }
    assert got == {
        "minute": ("202611221345", "2026-11-22 13:45"),
        "hour": ("2026112213", "2026-11-22 13:00"),
        "day": ("20261122", "2026-11-22"),
        "week": ("2026W47", "2026-W47"),
        "month": ("202611", "2026-11"),
        "year": ("2026", "2026"),
    }


def test_iso_week_straddling_new_year_is_labelled_by_its_iso_year():
    # 2027-01-01 is a Friday: it belongs to ISO week 2026-W53.
    p = period_of("week", dt.date(2027, 1, 1), UTC)
    assert p.label == "2026-W53"
    assert p.start.date() == dt.date(2026, 12, 28)
    assert p.next().label == "2027-W01"


def test_buckets_follow_the_configured_time_zone():
    # 23:30 UTC on the 22nd is already the 23rd in Paris.
    when = dt.datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert period_of("day", when, UTC).key == "20261122"
    assert period_of("day", when, PARIS).key == "20261123"


def test_dst_day_lengths_and_repeated_hour():
    spring = period_of("day", dt.date(2026, 3, 8), NEW_YORK)
    autumn = period_of("day", dt.date(2026, 11, 1), NEW_YORK)
    assert spring.period_end().timestamp() - spring.period_start().timestamp() == 23 * 3600
    assert (autumn.period_end().timestamp() - autumn.period_start().timestamp()) == 25 * 3600
    # Walk the hours of the autumn day: 25 distinct buckets, the repeated 01:00 marked.
    hours = period_range(
        "hour", autumn.start, autumn.period_end() - dt.timedelta(minutes=1), tz=NEW_YORK
    )
    keys = [p.key for p in hours]
    assert len(keys) == 25 == len(set(keys))
    assert "2026110101" in keys and "2026110101b" in keys
    # Spring: 02:00 does not exist, 23 buckets.
    hours = period_range(
        "hour", spring.start, spring.period_end() - dt.timedelta(minutes=1), tz=NEW_YORK
    )
    assert len(hours) == 23 and "2026030802" not in [p.key for p in hours]


def test_navigation():
    p = period_of("month", dt.date(2026, 1, 15), UTC)
    assert p.delta(-1).label == "2025-12"
    assert p.delta(13).label == "2027-02"
    assert p.prev().next() == p
    d = period_of("day", dt.date(2026, 2, 28), UTC)
    assert d.next().label == "2026-03-01"
    assert d.contains(dt.datetime(2026, 2, 28, 23, 59, tzinfo=UTC))
    assert not d.contains(dt.datetime(2026, 3, 1, tzinfo=UTC))


def test_ranges_with_offsets_and_absolute_bounds():
    now = dt.datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
    last_week = period_range("day", -6, tz=UTC, now=now)
    assert next(p.label for p in last_week) == "2026-11-12"
    assert len(last_week) == 7 and last_week.last.label == "2026-11-18"
    before = period_range("week", -2, -1, tz=UTC, now=now)
    assert [p.label for p in before] == ["2026-W45", "2026-W46"]
    absolute = period_range("day", dt.date(2010, 1, 1), dt.date(2010, 1, 7), tz=UTC)
    assert len(absolute) == 7
    assert len(period_range("minute", -59, tz=UTC, now=now)) == 60


def test_inverted_and_oversized_ranges_are_refused():
    with pytest.raises(InvalidTime, match="inverted range"):
        period_range("day", 0, -3, tz=UTC)
    with pytest.raises(InvalidTime, match="cap of 100"):
        period_range("day", -150, tz=UTC, max_buckets=100)
    with pytest.raises(InvalidTime, match="too far"):
        period_range("day", -(10**12), tz=UTC)


def test_unknown_granularity_names_the_allowed_ones():
    with pytest.raises(InvalidGranularity, match="allowed: minute, hour, day, week, month, year"):
        period_of("fortnight", None, UTC)


def test_naive_datetimes_and_bad_types_are_refused():
    with pytest.raises(InvalidTime, match="naive datetime"):
        period_of("day", dt.datetime(2026, 1, 1), UTC)
    with pytest.raises(InvalidTime, match="expected an aware datetime or a date"):
        period_of("day", "2026-01-01", UTC)  # type: ignore[arg-type]
    with pytest.raises(InvalidTime, match="unknown time zone"):
        get_timezone("Mars/Olympus")
