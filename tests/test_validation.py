"""Bad input raises a clear ValueError naming what is allowed, and writes nothing."""

import datetime as dt

import pytest

from porpoise_django.engine import (
    Analytics,
    InvalidGranularity,
    InvalidId,
    InvalidName,
    InvalidTime,
)


def _keys(redis_client, pp):
    return list(redis_client.scan_iter(match=f"{pp.keys.prefix}:*"))


@pytest.mark.parametrize(
    "name", ["", "a" * 129, "has space", "tag{c1}", "new\nline", "é", None, 12]
)
def test_malformed_event_names(pp, redis_client, name):
    with pytest.raises(InvalidName, match="letters, digits"):
        pp.mark(name, 1)
    assert _keys(redis_client, pp) == []


@pytest.mark.parametrize(
    ("bad_id", "message"),
    [
        (-1, "id -1 is out of range: ids run from 0 to 4294967295"),
        (2**32, "out of range: ids run from 0 to 4294967295 \\(MAX_ID\\); use id_mode='map'"),
        (2**63, "out of range"),
        (10**400, "a huge integer is out of range"),
        (1.5, "not an integer"),
        ("12", "not an integer"),
        (None, "not an integer"),
        (True, "not an integer"),
    ],
)
def test_ids_out_of_range_or_not_integers_in_int_mode(pp, redis_client, bad_id, message):
    with pytest.raises(InvalidId, match=message):
        pp.mark("active", bad_id)
    assert _keys(redis_client, pp) == []


def test_largest_id_is_accepted(pp, make_analytics):
    pp.mark("active", 2**32 - 1)
    assert 2**32 - 1 in pp.event("active").day()
    wide = make_analytics(max_id=2**63 - 1)
    wide.mark("active", 2**63 - 1)
    assert 2**63 - 1 in wide.event("active").day()
    with pytest.raises(ValueError, match="max_id must be an int from 1 to 2\\*\\*63 - 1"):
        make_analytics(max_id=2**63)


def test_one_bad_row_in_a_batch_writes_nothing(pp, redis_client):
    rows = [("active", 1), ("active", 2), ("bad name", 3)]
    with pytest.raises(InvalidName, match="row 2"):
        pp.mark_many(rows)
    with pytest.raises(InvalidId, match="row 1"):
        pp.mark_many([("active", 1), ("active", -5)])
    with pytest.raises(ValueError, match=r"row 0: expected \(event, id\)"):
        pp.mark_many([("active",)])
    assert _keys(redis_client, pp) == []


def test_unknown_or_untracked_granularities(pp, make_analytics):
    with pytest.raises(InvalidGranularity, match="allowed: hour, day, week, month, year"):
        pp.mark("active", 1, granularities=("minute",))
    with pytest.raises(InvalidGranularity, match="allowed"):
        make_analytics(granularities=("daily",))
    with pytest.raises(InvalidGranularity, match="allowed: minute"):
        pp.range("decade", -1)


def test_naive_datetimes_are_refused(pp, redis_client, clock):
    with pytest.raises(InvalidTime, match="naive datetime"):
        pp.mark("active", 1, dt.datetime(2026, 1, 1, 12))
    with pytest.raises(InvalidTime, match="naive"):
        pp.event("active").day(dt.datetime(2026, 1, 1))

    class NoOffset(dt.tzinfo):  # a tzinfo that says nothing: naive too
        def utcoffset(self, when):
            return None

    when = clock.now
    rows = [("active", 1, when), ("active", 2, when.replace(tzinfo=NoOffset()))]
    with pytest.raises(InvalidTime, match="row 1: naive datetime"):
        pp.mark_many(rows)
    future = when + dt.timedelta(days=3)  # beyond max_future_seconds
    with pytest.raises(InvalidTime, match=r"row 1: .*max_future_seconds"):
        pp.mark_many([("active", 1, when), ("active", 2, future)])
    with pytest.raises(InvalidTime, match=r"row 0: .*(out of range|cannot be written)"):
        pp.mark_many([("active", 1, dt.datetime(1960, 1, 1, tzinfo=dt.UTC))])
    assert _keys(redis_client, pp) == []


def test_dates_are_local_midnights(pp):
    pp.mark("active", 1, dt.date(2026, 1, 1))
    assert 1 in pp.event("active").day(dt.date(2026, 1, 1))


def test_inverted_range(pp):
    with pytest.raises(InvalidTime, match="inverted"):
        pp.range("day", dt.date(2026, 2, 1), dt.date(2026, 1, 1))


def test_huge_range_hits_the_cap(make_analytics):
    pp = make_analytics(max_range_buckets=366)
    with pytest.raises(InvalidTime, match="cap of 366"):
        pp.range("day", dt.date(2000, 1, 1), dt.date(2026, 1, 1))


def test_bad_configuration(redis_client):
    with pytest.raises(ValueError, match="allowed: int, map"):
        Analytics(redis_client, id_mode="uuid")
    with pytest.raises(InvalidName, match="prefix"):
        Analytics(redis_client, prefix="a{b}")
    with pytest.raises(ValueError, match="chunk_bits"):
        Analytics(redis_client, chunk_bits=40)
    with pytest.raises(ValueError, match="retention"):
        Analytics(redis_client, retention={"day": -1})
    with pytest.raises(InvalidTime, match="time zone"):
        Analytics(redis_client, tz="Nowhere/City")


def test_map_mode_id_rules(make_analytics):
    pp = make_analytics(id_mode="map")
    with pytest.raises(InvalidId, match="1 to 256 characters"):
        pp.mark("active", "")
    with pytest.raises(InvalidId, match="string, an integer or a UUID"):
        pp.mark("active", 1.5)
