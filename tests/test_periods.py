"""Buckets and ranges: ISO weeks, DST, offsets, bad input."""

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- zones whose offsets change off the hour (issue 24, defect 9) ---------------------
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def _walk(granularity: str, first: dt.datetime, last: dt.datetime, tz: dt.tzinfo) -> list:
    periods = [period_of(granularity, first, tz)]
    while periods[-1].period_end() <= last:
        periods.append(periods[-1].next())
    return periods


def test_lord_howe_half_hour_fall_back_has_a_30_minute_second_hour():
    # 2026-04-05 02:00 (+11:00) goes back to 01:30 (+10:30): 01:30-02:00 comes twice.
    start = dt.datetime(2026, 4, 4, 13, tzinfo=UTC)
    hours = _walk("hour", start, start + dt.timedelta(hours=4, minutes=30), LORD_HOWE)
    assert [p.key for p in hours] == [
        "2026040500", "2026040501", "2026040501b", "2026040502", "2026040503", "2026040504",
    ]  # fmt: skip
    lengths = [p.period_end().timestamp() - p.start.timestamp() for p in hours]
    assert lengths == [3600, 3600, 1800, 3600, 3600, 3600]
    second = period_of("hour", dt.datetime(2026, 4, 4, 15, 10, tzinfo=UTC), LORD_HOWE)
    assert second.key == "2026040501b" and second.label == "2026-04-05 01:00 (2nd)"
    assert second.next() > second and second.next().key == "2026040502"
    assert second.prev().key == "2026040501"
    assert hours[0].delta(3) == hours[3] and hours[3].delta(-3) == hours[0]
    span = period_range("hour", hours[0].start, hours[-1].start, tz=LORD_HOWE, now=start)
    assert [p.key for p in span] == [p.key for p in hours]


def test_lord_howe_half_hour_spring_gap_has_a_30_minute_hour():
    # 2026-10-04 02:00 (+10:30) jumps to 02:30 (+11:00).
    start = dt.datetime(2026, 10, 3, 14, tzinfo=UTC)
    hours = _walk("hour", start, start + dt.timedelta(hours=2, minutes=30), LORD_HOWE)
    assert [p.key for p in hours] == ["2026100400", "2026100401", "2026100402", "2026100403"]
    lengths = [p.period_end().timestamp() - p.start.timestamp() for p in hours]
    assert lengths == [3600, 3600, 1800, 3600]


ODD_ZONES = [
    ("Australia/Lord_Howe", 2026),  # +10:30 / +11:00
    ("Pacific/Chatham", 2026),  # +12:45 / +13:45, changes at 02:45
    ("America/St_Johns", 2008),  # -03:30, changed at 00:01 until 2011
    ("Asia/Kathmandu", 1985),  # +05:30 -> +05:45 on 1986-01-01
    ("Africa/Monrovia", 1972),  # -00:44:30 -> 00:00
    ("Antarctica/Troll", 2026),  # +00:00 / +02:00
    ("Africa/Casablanca", 2026),  # Ramadan changes
    ("Pacific/Apia", 2011),  # skipped 2011-12-30
]


def _changes(tz: dt.tzinfo, year: int) -> list[float]:
    moment = dt.datetime(year, 1, 1, tzinfo=UTC)
    previous, found = moment.astimezone(tz).utcoffset(), []
    while moment.year == year:
        moment += dt.timedelta(minutes=30)
        offset = moment.astimezone(tz).utcoffset()
        if offset != previous:
            found.append(moment.timestamp())
            previous = offset
    return found


@pytest.mark.parametrize(("zone", "year"), ODD_ZONES)
def test_buckets_tile_real_time_around_every_offset_change(zone, year):
    """Around each change: buckets follow one another without gap or overlap,
    each is one wall-clock hour (or minute) at one offset, every instant falls
    in its own bucket, keys are distinct, and jumps agree with walking."""
    tz = ZoneInfo(zone)
    changes = _changes(tz, year)
    assert changes, zone
    for change in changes:
        for granularity, unit, around in (("hour", 3600, 4 * 3600), ("minute", 60, 1800)):
            first = dt.datetime.fromtimestamp(change - around, UTC)
            last = dt.datetime.fromtimestamp(change + around, UTC)
            periods = _walk(granularity, first, last, tz)
            assert len({p.key for p in periods}) == len(periods)
            for k, period in enumerate(periods):
                begin, end = period.start.timestamp(), period.period_end().timestamp()
                assert 0 < end - begin <= unit
                walls = set()
                for instant in range(int(begin), int(end), max(1, unit // 6)):
                    local = dt.datetime.fromtimestamp(instant, tz)
                    assert period_of(granularity, local, tz) == period
                    walls.add((local.replace(minute=0 if unit == 3600 else local.minute,
                                             second=0, fold=0), local.utcoffset()))  # fmt: skip
                assert len(walls) == 1
                assert periods[0].delta(k) == period and period.delta(-k) == periods[0]
            span = period_range(
                granularity, periods[0].start, periods[-1].start, tz=tz, now=last,
                max_buckets=100_000,
            )  # fmt: skip
            assert span.size == len(periods)


def test_bulk_bucketing_splits_slots_that_a_bucket_boundary_cuts():
    from porpoise_django.engine.time.periods import bucket_keys

    monrovia = ZoneInfo("Africa/Monrovia")  # -00:44:30: hours start at :44:30 UTC
    start = int(dt.datetime(1971, 5, 1, tzinfo=UTC).timestamp())
    stamps = np.arange(start, start + 5 * 3600, 37)
    for granularity in ("hour", "day"):
        periods, index = bucket_keys(granularity, stamps, monrovia)
        expected = [period_of(granularity, dt.datetime.fromtimestamp(int(s), UTC), monrovia)
                    for s in stamps]  # fmt: skip
        assert [periods[i] for i in index] == expected


@settings(max_examples=30, deadline=None)
@given(
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu"]),
    granularity=st.sampled_from(["minute", "hour", "day", "week", "month"]),
    first=st.integers(int(dt.datetime(2026, 3, 1, tzinfo=UTC).timestamp()), 1_800_000_000),
    seconds=st.lists(st.integers(0, 70 * 86400), min_size=1, max_size=200),
)
def test_bulk_bucketing_agrees_with_period_of_across_transitions(zone, granularity, first, seconds):
    """Slots wholly inside a period reuse it without a conversion; every
    timestamp still lands where period_of puts it (DST changes included)."""
    from porpoise_django.engine.time.periods import bucket_keys

    tz = ZoneInfo(zone)
    stamps = np.asarray([first + s for s in seconds], dtype=np.int64)
    periods, index = bucket_keys(granularity, stamps, tz)
    expected = [period_of(granularity, dt.datetime.fromtimestamp(int(s), UTC), tz) for s in stamps]
    assert [periods[i] for i in index] == expected
