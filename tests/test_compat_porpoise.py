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
    assert [p.label for p in last_seven_days.periods(store)] == ["2026-W47"]
    assert [p.label for p in previous_week.periods(store)] == ["2026-W46"]
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
