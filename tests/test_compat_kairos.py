"""kairos's README examples through ``porpoise_django.compat.kairos`` (Python 2's
``print`` made a call; the README's ``read_func=int`` over 3.14159 fails in
kairos too, so ``float`` reads it here)."""

from __future__ import annotations

import time

import pytest

from porpoise_django.compat.kairos import Timeseries


@pytest.fixture
def client(redis_client):
    return redis_client


def test_the_readme_example(client, key_prefix):
    t = Timeseries(
        client,
        type="histogram",
        read_func=float,
        prefix=key_prefix,
        intervals={
            "minute": {
                "step": 60,  # 60 seconds
                "steps": 120,  # last 2 hours
            }
        },
    )
    t.insert("example", 3.14159)
    t.insert("example", 2.71828)
    [(start, data)] = t.get("example", "minute").items()
    assert data == {3.14159: 1, 2.71828: 1}
    assert start % 60 == 0 and abs(start - time.time()) < 120  # this minute (or the last)
    assert t.list() == ["example"]


def test_the_types_and_gregorian_steps(client, key_prefix):
    series = Timeseries(
        client, prefix=key_prefix, intervals={"day": {"step": "daily", "resolution": "1h"}}
    )
    assert series.series_type == "series"  # kairos's default type
    series.insert("latency", 120)
    series.insert("latency", 80)
    # kairos answers the rows with data, flat: the one hour
    assert list(series.get("latency", "day").values()) == [[120, 80]]
    counts = Timeseries(client, type="count", prefix=key_prefix, intervals={"hour": {"step": "1h"}})
    counts.insert("hits")
    counts.insert("hits", 2)
    assert list(counts.series("hits", "hour", steps=1).values()) == [3]
    gauge = Timeseries(client, type="gauge", prefix=key_prefix, intervals={"hour": {"step": 3600}})
    gauge.insert("queue", 17)
    assert list(gauge.get("queue", "hour").values()) == [17]
    bare = Timeseries(client, prefix=key_prefix)  # no intervals: kairos takes it
    bare.insert("nothing", 1)
    assert bare.list() == []
    with pytest.raises(ValueError, match="unsupported time format"):
        Timeseries(client, prefix=key_prefix, intervals={"x": {"step": "fortnight"}})


# -- kairos's own behaviours (its code as well as its README) --------------------------------
#: An hour-aligned moment well ahead of now: kairos stores any timestamp.
T0 = 1_900_000_800


def make(client, key_prefix, kind="series", **options):
    return Timeseries(
        client,
        type=kind,
        prefix=key_prefix,
        read_func=options.pop("read_func", int),
        intervals=options.pop(
            "intervals",
            {"min": {"step": 60, "steps": 4}, "hr": {"step": 3600, "resolution": 60}},
        ),
        **options,
    )


def test_the_class_follows_the_type_and_urls_work(client, key_prefix):
    from porpoise_django.compat.kairos import RedisCount, RedisHistogram, RedisSeries

    assert type(make(client, key_prefix)) is RedisSeries
    assert type(make(client, key_prefix, "count")) is RedisCount
    assert type(make(client, key_prefix, "histogram")) is RedisHistogram
    port = client.connection_pool.connection_kwargs["port"]
    by_url = Timeseries(f"redis://127.0.0.1:{port}/0", type="count", prefix=key_prefix,
                        intervals={"min": {"step": 60}})  # fmt: skip
    by_url.insert("x", 2, timestamp=T0)
    assert by_url.get("x", "min", timestamp=T0) == {T0: 2}
    with pytest.raises(ImportError):
        Timeseries("mongodb://somewhere/db")


def test_get_with_a_resolution_is_flat_rows_with_data(client, key_prefix):
    t = make(client, key_prefix)
    for second in (5, 65, 70, 200):
        t.insert("lat", second, timestamp=T0 + second)
    assert t.get("lat", "min", timestamp=T0 + 70) == {T0 + 60: [65, 70]}
    assert t.get("lat", "hr", timestamp=T0) == {T0: [5], T0 + 60: [65, 70], T0 + 180: [200]}
    assert t.get("lat", "hr", timestamp=T0, condense=True) == {T0: [5, 65, 70, 200]}
    assert t.get("lat", "hr", timestamp=T0, condensed=True, transform="max") == {T0: 200}
    assert t.get("lat", "min", timestamp=T0 + 70, transform=["count", "mean"]) == {
        T0 + 60: {"count": 2, "mean": 67.5}
    }
    # no data: kairos's transforms read 0, not None
    assert t.get("lat", "min", timestamp=T0 + 600, transform=["min", "max", "mean"]) == {
        T0 + 600: {"min": 0, "max": 0, "mean": 0}
    }
    assert t.get("lat", "min", timestamp=T0, transform="rate") == {T0: 1 / 60}


def test_series_lists_rows_with_data_and_collapses(client, key_prefix):
    t = make(client, key_prefix)
    for second in (10, 130, 3700):
        t.insert("q", second, timestamp=T0 + second)
    minutes = t.series("q", "min", end=T0 + 130)
    assert list(minutes) == [T0 - 60, T0, T0 + 60, T0 + 120]  # the interval's 4 steps
    assert minutes[T0] == [10] and minutes[T0 + 60] == []
    hours = t.series("q", "hr", start=T0, steps=2)
    assert hours == {T0: {T0: [10], T0 + 120: [130]}, T0 + 3600: {T0 + 3660: [3700]}}
    assert t.series("q", "hr", start=T0, steps=2, collapse=True) == {T0: [10, 130, 3700]}
    assert t.series("q", "hr", start=T0, steps=2, condense=True, transform="sum") == {
        T0: 140, T0 + 3600: 3700,
    }  # fmt: skip
    assert t.series(["q", "q"], "min", start=T0, steps=1) == {T0: [10, 10]}  # joined


def test_insert_into_following_or_preceding_intervals(client, key_prefix):
    t = make(client, key_prefix, "count", intervals={"min": {"step": 60}})
    t.insert("n", 5, timestamp=T0 + 30, intervals=2)
    assert t.series("n", "min", start=T0, steps=4) == {
        T0: 5, T0 + 60: 5, T0 + 120: 5, T0 + 180: 0,
    }  # fmt: skip
    t.insert("n", 1, timestamp=T0, intervals=-1)
    assert t.get("n", "min", timestamp=T0 - 60) == {T0 - 60: 1}
    t.insert("n", [2, 3], timestamp=T0 + 180)  # a list: each value
    assert t.get("n", "min", timestamp=T0 + 180) == {T0 + 180: 5}
    t.bulk_insert({T0 + 240: {"n": [1, 1], "m": [4]}, None: {"m": [1]}})
    assert t.get("n", "min", timestamp=T0 + 240) == {T0 + 240: 2}
    assert t.get("m", "min")[next(iter(t.get("m", "min")))] == 1  # None: now
    assert t.list() == ["m", "n"]


def test_properties_iterate_and_delete_all(client, key_prefix):
    t = make(client, key_prefix)
    for second, value in ((0, 1), (60, 2), (240, 3)):
        t.insert("p", value, timestamp=T0 + second)
    assert t.properties("p") == {
        "min": {"first": T0, "last": T0 + 240},
        "hr": {"first": T0, "last": T0},
    }
    assert list(t.iterate("p", "min")) == [
        (T0, [1]), (T0 + 60, [2]), (T0 + 120, []), (T0 + 180, []), (T0 + 240, [3]),
    ]  # fmt: skip
    assert list(t.iterate("p", "hr")) == [(T0, [1]), (T0 + 60, [2]), (T0 + 240, [3])]
    assert t.properties("nothing") == {}
    t.delete_all()
    assert t.list() == [] and t.get("p", "min", timestamp=T0) == {T0: []}


def test_gauges_and_histograms(client, key_prefix):
    gauge = make(client, key_prefix, "gauge", read_func=lambda v: int(v or 0))
    gauge.insert("level", 7, timestamp=T0 + 1)
    gauge.insert("level", 4, timestamp=T0 + 2)
    assert gauge.get("level", "min", timestamp=T0) == {T0: 4}
    assert gauge.get("level", "min", timestamp=T0, transform="count") == {T0: 4}  # the value
    assert gauge.get("level", "min", timestamp=T0 + 600) == {T0 + 600: 0}  # read_func("")
    assert gauge.get(["level", "level"], "min", timestamp=T0 + 600) == {T0 + 600: None}
    hist = make(client, key_prefix, "histogram")
    for value in (3, 3, 5):
        hist.insert("h", value, timestamp=T0)
    assert hist.get("h", "min", timestamp=T0) == {T0: {3: 2, 5: 1}}
    assert hist.get("h", "min", timestamp=T0, transform=["sum", "mean", "rate"]) == {
        T0: {"sum": 11, "mean": 11 / 3, "rate": {3: 2 / 60, 5: 1 / 60}}
    }


def test_kairos_time_calculators():
    from porpoise_django.compat.kairos import GregorianTime, RelativeTime

    five = RelativeTime(300)
    assert five.to_bucket(901) == 3 and five.normalize(901, 2) == 1500
    assert five.step_size(0, 299) == 300 and five.step_size(0, 300) == 600
    assert five.buckets(0, 650) == [0, 1, 2] and five.ttl(None) is None
    assert five.ttl(4, relative_time=time.time() - 600) == 600
    monthly = GregorianTime("monthly")
    jan31 = 1_706_659_200  # 2024-01-31 00:00 UTC
    assert monthly.to_bucket(jan31) == 202401 and monthly.to_bucket(jan31, 1) == 202402
    assert monthly.step_size(jan31) == 31 * 86400
    assert GregorianTime("weekly").to_bucket(jan31) == 202404  # %U: weeks from Sunday
    assert GregorianTime("daily").buckets(jan31, jan31 + 86400) == [20240131, 20240201]
    with pytest.raises(ValueError, match="calendar step"):
        GregorianTime("fortnightly")


def test_weeks_end_at_the_new_year_as_kairos(client, key_prefix):
    import calendar
    import datetime as dt

    def at(*day):
        return calendar.timegm(dt.datetime(*day).timetuple())

    t = make(
        client,
        key_prefix,
        intervals={"wk": {"step": "weekly"}, "fine": {"step": "weekly", "resolution": 3600}},
    )
    for day in range(26, 32):  # Sunday 26 December 2038 to Friday 31 December
        t.insert("d", day, timestamp=at(2038, 12, day, 9))
    t.insert("d", 1, timestamp=at(2039, 1, 1, 9))  # Saturday: week 0 of 2039
    last = t.get("d", "wk", timestamp=at(2038, 12, 28))
    assert last == {at(2038, 12, 31): [26, 27, 28, 29, 30, 31]}  # kairos labels it 1 Jan + 52 weeks
    assert t.get("d", "wk", timestamp=at(2039, 1, 1)) == {at(2039, 1, 1): [1]}
    # As kairos: a week after 26 December is week 1 of 2039, so its short week 0
    # (1 January alone) is stepped over by series().
    weeks = t.series("d", "wk", start=at(2038, 12, 26), steps=2)
    assert list(weeks.values()) == [[26, 27, 28, 29, 30, 31], []]
    assert t.series("d", "wk", start=at(2039, 1, 1), steps=1) == {at(2039, 1, 1): [1]}
    fine = t.get("d", "fine", timestamp=at(2038, 12, 27))
    assert list(fine) == [at(2038, 12, day, 9) for day in range(26, 32)]  # the hours with data
    assert t.get("d", "fine", timestamp=at(2038, 12, 27), condense=True, transform="count") == {
        at(2038, 12, 31): 6
    }
