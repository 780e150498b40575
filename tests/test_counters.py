"""Counters per id, totals and top-N on a real server."""

import datetime as dt
import math
from collections import Counter as PyCounter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from porpoise_django.engine import InvalidGranularity, InvalidName, InvalidValue
from tests.conftest import stored_keys


def test_counts_per_id_and_totals(pp, clock):
    pp.count("song:played", id=42)
    pp.count("song:played", id=42)
    pp.count("song:played", id="7", by=2.5)
    pp.count("signups")
    counter = pp.counter("song:played")
    hour = pp.period("hour")
    assert counter.get(hour) == {"42": 2, "7": 2.5}
    assert counter.total(hour) == 4.5
    assert pp.counter("signups").total(pp.period("day")) == 1
    assert pp.counter("signups").get(pp.period("day")) == {}
    assert pp.counter_names() == ["signups", "song:played"]


def test_negative_increments_and_zero_filled_totals(pp, clock):
    pp.count("stock", by=10)
    pp.count("stock", by=-3, when=clock.now - dt.timedelta(days=2))
    totals = pp.counter("stock").totals(pp.range("day", -3))
    assert [v for _, v in totals] == [0, -3, 0, 10]


def test_top_n_over_a_range_in_one_round_trip(pp, clock, round_trips):
    plays = PyCounter()
    for hour in range(24):
        when = clock.now - dt.timedelta(hours=hour)
        rows = []
        for song in range(30):
            n = (song * 7 + hour) % 5
            plays[str(song)] += n
            rows += [("song:played", song, 1, when)] * n
        pp.count_many(rows)
    with round_trips:
        top = pp.counter("song:played").top(pp.range("hour", -23), 10)
    assert round_trips.one()
    assert [c for _, c in top] == sorted(plays.values(), reverse=True)[:10]
    assert all(plays[song] == c for song, c in top)


def test_counters_respect_granularities_and_retention(make_analytics, clock):
    clock.now = dt.datetime.now(dt.UTC)
    pp = make_analytics(counter_granularities=("minute", "day"), retention={"minute": 600})
    pp.count("hits")
    key = pp.keys.counter_total("hits", pp.period("minute"))
    assert 0 < pp.client.ttl(key) <= 660
    assert pp.counter("hits").total(pp.period("day")) == 1
    with pytest.raises(InvalidGranularity, match="hour is not tracked for counters"):
        pp.counter("hits").total(pp.period("hour"))  # never written: not a zero


def test_delete_counter(pp, clock):
    pp.count("a", id=1)
    pp.count("a", id=1, when=clock.now - dt.timedelta(days=40))
    pp.count("b")
    pp.delete_counter("a")
    assert pp.counter_names() == ["b"]
    assert list(pp.client.scan_iter(match=f"{pp.keys.prefix}:{{k:a}}*")) == []


@pytest.mark.parametrize(
    ("row", "error", "message"),
    [
        (("bad name", None, 1, None), InvalidName, "counter name"),
        (("ok", None, "1", None), InvalidValue, "int or a float"),
        (("ok", None, True, None), InvalidValue, "int or a float"),
        (("ok", None, math.inf, None), InvalidValue, "finite"),
        (("ok", 1.5, 1, None), InvalidValue, "string, an integer or a UUID"),
        (("ok", "", 1, None), InvalidValue, "1 to 256"),
        (("ok", None, 1, dt.datetime(2026, 1, 1)), ValueError, "naive"),
    ],
)
def test_bad_increments_write_nothing(pp, redis_client, row, error, message):
    with pytest.raises(error, match=message):
        pp.count_many([("ok", None, 1, None), row])
    assert stored_keys(redis_client, pp.keys.prefix) == []


def test_bad_counter_arguments(pp):
    with pytest.raises(InvalidGranularity, match="allowed"):
        pp.count("x", granularities=("fortnight",))
    with pytest.raises(InvalidValue, match="n must be"):
        pp.counter("x").top(pp.period("day"), 0)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 9), st.integers(-5, 20), st.integers(0, 47)), max_size=60
    ),
    n=st.integers(1, 12),
)
def test_top_matches_brute_force(make_analytics, clock, rows, n):
    pp = make_analytics()
    expected = PyCounter()
    batch = []
    for member, amount, hours_ago in rows:
        batch.append(("c", member, amount, clock.now - dt.timedelta(hours=hours_ago)))
        if hours_ago <= 23:
            expected[str(member)] += amount
    pp.count_many(batch)
    top = pp.counter("c").top(pp.range("hour", -23), n)
    got_values = [v for _, v in top]
    present = {
        m: v for m, v in expected.items() if any(r[0] == int(m) and r[2] <= 23 for r in rows)
    }
    assert got_values == sorted(present.values(), reverse=True)[:n]
    assert all(present[m] == v for m, v in top)
    pp.delete_all()


def test_increments_are_not_repeated_when_scripts_must_be_reloaded(pp, redis_client):
    # A pipeline holding a script call and increments meets NOSCRIPT (fresh or
    # restarted server): only the script call may be sent again.
    redis_client.script_flush()
    marks = pp.prepare_marks([("active", 1), ("active", 2)])
    counts = pp.prepare_counts([("hits", None, 1, None)])
    pp.submit([counts, marks])
    assert pp.counter("hits").total(pp.period("day")) == 1
    assert list(pp.event("active").day()) == [1, 2]
