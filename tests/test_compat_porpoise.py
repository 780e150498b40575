"""Porpoise's README examples through ``porpoise_django.compat.porpoise``, with
porpoise's own range semantics (the end excluded, "-24" hours before the
current one). Python 2's ``print users`` and ``iteritems`` become Python 3."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from types import SimpleNamespace

import pytest

from porpoise_django.compat.porpoise import (
    Analytics,
    dayrange,
    hourrange,
    weekrange,
)

NOW = dt.datetime(2026, 11, 25, 15, 30, tzinfo=dt.UTC)


@pytest.fixture
def porpoise(make_analytics):
    store = make_analytics(
        tz="UTC",
        clock=lambda: NOW,
        granularities=("hour", "day", "week", "month"),
        counter_granularities=("hour", "day", "week", "month"),
    )
    return Analytics(store=store)


def test_the_readme_examples(porpoise):
    song = SimpleNamespace(id=42)
    an_hour_ago = NOW - dt.timedelta(hours=1)
    # Recording (the README records "now"; an hour ago here, inside hourrange(-24))
    porpoise.event("active", 1, an_hour_ago)
    porpoise.event("active", 2, an_hour_ago)
    porpoise.event("login", 1, an_hour_ago)
    porpoise.event("song:played", 1, an_hour_ago)
    porpoise.count("signups", "all", when=an_hour_ago)
    porpoise.count("song:played", song.id, when=an_hour_ago)

    last_24_hours = hourrange(-24)
    last_four_days = dayrange(-4)
    last_seven_days = weekrange(-1)
    previous_week = weekrange(-2, -1)
    first_seven_days_of_2010 = dayrange(datetime(2010, 1, 1), datetime(2010, 1, 8))

    events = porpoise.events
    loggedin_and_played = events("login") & events("song:played")
    hours = loggedin_and_played(last_24_hours)
    assert len(hours) == 24  # the 24 hours before the current one
    assert [list(users) for users in hours][-1] == [1]  # the last hour: user 1
    assert sum(len(users) for users in hours) == 1

    counters = porpoise.counters
    songs_played = counters("song:played")
    tops = []
    for songs in songs_played(last_24_hours):
        top10 = sorted(songs.items(), key=lambda s: -s[1])[:5]
        tops += top10
    assert tops == [("42", 1)]

    store = porpoise.store
    assert len(last_four_days.periods(store)) == 4
    assert last_four_days.periods(store)[-1].label == "2026-11-24"  # today excluded
    # porpoise's weeks are seven day buckets: the seven days before today
    assert [p.label for p in last_seven_days.periods(store)][::6] == ["2026-11-18", "2026-11-24"]
    assert len(previous_week.periods(store)) == 7
    assert previous_week.periods(store)[0].label == "2026-11-11"
    days = first_seven_days_of_2010.periods(store)
    assert [p.label for p in days] == [f"2010-01-0{d}" for d in range(1, 8)]  # end excluded


def test_the_other_operators(porpoise):
    for uid in (1, 2, 3):
        porpoise.event("a", uid, NOW - dt.timedelta(days=1))
    porpoise.event("b", 2, NOW - dt.timedelta(days=1))
    events = porpoise.events
    [day] = (events("a") - events("b"))(dayrange(-1))
    assert list(day) == [1, 3]
    [day] = (events("a") ^ events("b"))(dayrange(-1))
    assert list(day) == [1, 3]
    [day] = (~events("b"))(dayrange(-1))
    assert list(day) == [1, 3]
    [day] = (events("a") | events("b"))(dayrange(-1))
    assert list(day) == [1, 2, 3]


# -- porpoise's own behaviours: ranges, moments, sets, time=, tx=, counters by id ----------


def test_ranges_iterate_as_porpoise_moments():
    from porpoise_django.compat.porpoise import minuterange, monthrange

    days = list(dayrange(datetime(2024, 2, 27), datetime(2024, 3, 2)))
    assert [str(m) for m in days] == ["20240227", "20240228", "20240229", "20240301"]
    assert days[0].dt == datetime(2024, 2, 27) and repr(days[0]) == "<moment 20240227>"
    hours = [str(m) for m in hourrange(datetime(2024, 5, 1, 22), datetime(2024, 5, 2, 1))]
    assert hours == ["2024050122", "2024050123", "2024050200"]
    assert [str(m) for m in minuterange(datetime(2024, 5, 1, 9, 58), datetime(2024, 5, 1, 10))] == [
        "202405010958",
        "202405010959",
    ]
    assert [str(m) for m in monthrange(datetime(2023, 11, 5), datetime(2024, 2, 1))] == [
        "202311",
        "202312",
        "202401",
    ]
    # A range can be walked again: same moments.
    span = hourrange(-3)
    assert len(list(span)) == 3 and [m.dt for m in span] == [m.dt for m in span]


def test_a_week_is_seven_day_buckets():
    week = list(weekrange(datetime(2024, 12, 30), datetime(2025, 1, 2)))
    assert [str(m) for m in week] == [f"2024123{d}" for d in (0, 1)] + [
        f"2025010{d}" for d in range(1, 6)
    ]
    assert len(list(weekrange(-1))) == 7
    assert len(list(weekrange(-2))) == 14


def test_results_are_sets_and_print_like_them(porpoise):
    yesterday = NOW - dt.timedelta(days=1)
    for uid in (8, 3, 30):
        porpoise.event("open", uid, time=yesterday)
    [ids] = porpoise.events("open")(dayrange(-1))
    assert ids == {3, 8, 30} and {3, 8, 30} == ids and ids != {3, 8}
    assert 8 in ids and 9 not in ids and len(ids) == 3
    assert repr(ids) == "{3, 8, 30}"
    [empty] = porpoise.events("never")(dayrange(-1))
    assert empty == set() and repr(empty) == "set()"
    assert ids & {3, 4} == {3}  # set operations of Python's sets


def test_time_as_a_unix_timestamp_and_tx_executed(porpoise, make_analytics):
    at = NOW - dt.timedelta(hours=2)
    tx = porpoise.store.client.pipeline()
    tx.set("pptest:porpoise:side", "1")
    porpoise.event("seen", 12, time=at.timestamp(), tx=tx)
    assert porpoise.store.client.get("pptest:porpoise:side") == b"1"  # porpoise runs the tx
    porpoise.client.delete("pptest:porpoise:side")
    [hour] = porpoise.events("seen")(hourrange(at, at + dt.timedelta(hours=1)))
    assert hour == {12}


def test_counters_by_id_and_count_keyword(porpoise):
    hour_ago = NOW - dt.timedelta(hours=1)
    porpoise.count("played", 5, count=3, time=hour_ago)
    porpoise.count("played", 6, time=hour_ago)
    assert list(porpoise.counters("played")(hourrange(-2))) == [{}, {"5": 3, "6": 1}]
    assert list(porpoise.counters("played", 5)(hourrange(-2))) == [None, 3]


def test_resolutions_choose_the_buckets_kept(make_analytics):
    from porpoise_django.compat.porpoise import Analytics as Porpoise
    from porpoise_django.compat.porpoise import granularities_of

    assert granularities_of("dmH") == (("day", "month", "hour"), ("day", "month", "hour"))
    assert granularities_of("M") == (("day",), ("minute",))
    with pytest.raises(ValueError, match="H \\(hour\\)"):
        granularities_of("dx")
    store = make_analytics(tz="UTC")
    made = Porpoise(store.client, resolutions="d", prefix=store.keys.prefix + "r")
    assert made.store.granularities == ("day",)


def test_bitset_reads_a_redis_string():
    from porpoise_django.compat.porpoise import bitset

    assert bitset(b"\x81\x01") == {0, 7, 15}
    assert bitset("\x40") == {1}
    assert bitset(None) == set()
