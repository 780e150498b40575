"""Typed time series (kairos' model) on a real server."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from porpoise_django.engine import InvalidGranularity, InvalidTime, InvalidValue
from tests.conftest import stored_keys

UTC = dt.UTC


def ts_at(clock, **delta):
    return (clock.now - dt.timedelta(**delta)).timestamp()


def test_count_series_dense_and_zero_filled(pp, clock, round_trips):
    series = pp.timeseries(type="count", intervals={"hour": {"step": "hour"}, "5m": {"step": 300}})
    series.insert("hits", 2, ts_at(clock, hours=2))
    series.insert("hits", 1.5)
    with round_trips:
        series.insert("hits", -1)
    assert round_trips.one()
    with round_trips:
        hours = series.series("hits", "hour", steps=4)
    assert round_trips.one()
    assert list(hours.values()) == [0, 2, 0, 0.5]
    starts = list(hours)
    assert starts == sorted(starts) and starts[-1] == pp.period("hour").start.timestamp()
    assert list(series.get("hits", "5m").values()) == [0.5]
    assert series.names() == ["hits"]


def test_gauge_keeps_the_last_value(pp, clock):
    series = pp.timeseries(type="gauge", intervals={"day": {"step": "day"}})
    series.insert("queue", 5)
    series.insert("queue", 3)
    series.insert("status", "green")
    assert list(series.get("queue", "day").values()) == [3]
    assert list(series.get("status", "day").values()) == ["green"]
    assert list(series.series("queue", "day", steps=2).values()) == [None, 3]


def test_histogram_transforms(pp, clock):
    series = pp.timeseries(type="histogram", intervals={"hour": {"step": "hour"}})
    for value in (100, 100, 200, 400):
        series.insert("latency", value)
    [data] = series.get("latency", "hour").values()
    assert data == {100: 2, 200: 1, 400: 1}
    [stats] = series.get(
        "latency", "hour", transform=["mean", "count", "min", "max", "sum", "rate"]
    ).values()
    assert stats == {"mean": 200, "count": 4, "min": 100, "max": 400, "sum": 800, "rate": 4 / 3600}
    [custom] = series.get("latency", "hour", transform={"p_big": lambda h: h.get(400, 0)}).values()
    assert custom == {"p_big": 1}
    with pytest.raises(InvalidValue, match="allowed: mean, count, min, max, sum, rate"):
        series.get("latency", "hour", transform="median")


def test_unique_sets_join_and_collapse(pp, clock):
    series = pp.timeseries(type="set", intervals={"day": {"step": "day"}})
    series.insert("visitors:a", "ann", ts_at(clock, days=1))
    series.insert("visitors:a", "bob")
    series.insert("visitors:b", "bob")
    series.insert("visitors:b", "cat")
    joined = series.series(["visitors:a", "visitors:b"], "day", steps=2)
    assert list(joined.values()) == [{"ann"}, {"bob", "cat"}]
    collapsed = series.series(
        ["visitors:a", "visitors:b"], "day", steps=2, collapse=True, transform="count"
    )
    assert list(collapsed.values()) == [3]


def test_resolution_rows_and_condense(pp, clock):
    series = pp.timeseries(type="count", intervals={"day": {"step": "day", "resolution": "hour"}})
    series.insert("hits", 1, clock.now.replace(hour=1))
    series.insert("hits", 2, clock.now.replace(hour=3))
    [rows] = series.get("hits", "day").values()
    assert len(rows) == 24 and sum(rows.values()) == 3
    assert rows[clock.now.replace(hour=3, minute=0).timestamp()] == 2
    assert list(series.get("hits", "day", condensed=True).values()) == [3]
    [rates] = series.get("hits", "day", transform="rate").values()
    assert rates[clock.now.replace(hour=1, minute=0).timestamp()] == 1 / 3600


def test_retention_skips_or_refuses_old_writes(pp, clock, redis_client):
    clock.now = dt.datetime.now(UTC)
    skip = pp.timeseries(
        type="count", intervals={"min": {"step": 60, "steps": 10}, "day": {"step": "day"}}
    )
    skip.insert("x", 1, ts_at(clock, hours=1))  # too old for "min": skipped there only
    assert sum(skip.series("x", "min", steps=10).values()) == 0
    assert list(skip.get("x", "day", ts_at(clock, hours=1)).values()) == [1]
    skip.insert("x", 1)
    key = next(k for k in redis_client.scan_iter(match=f"{pp.keys.prefix}:{{s:x}}:count:min:*"))
    assert 0 < redis_client.ttl(key) <= 11 * 60
    refuse = pp.timeseries(
        type="count", intervals={"min": {"step": 60, "steps": 10}}, on_expired="refuse"
    )
    with pytest.raises(InvalidTime, match="older than the retention"):
        refuse.insert("x", 1, ts_at(clock, hours=1))


def test_gregorian_buckets_follow_the_time_zone(make_analytics, clock):
    pp = make_analytics(tz="America/New_York")
    series = pp.timeseries(type="count", intervals={"day": {"step": "day"}})
    series.insert("x", 1, dt.datetime(2026, 11, 18, 3, tzinfo=UTC))  # 22:00 on the 17th in NY
    [(start, value)] = series.get("x", "day", dt.datetime(2026, 11, 17, 12, tzinfo=UTC)).items()
    assert value == 1
    assert dt.datetime.fromtimestamp(start, ZoneInfo("America/New_York")).hour == 0


def test_series_bounds_and_caps(make_analytics, clock):
    pp = make_analytics(max_range_buckets=100)
    series = pp.timeseries(type="count", intervals={"hour": {"step": "hour"}})
    series.insert("x", 1)
    got = series.series("x", "hour", start=ts_at(clock, hours=2), end=clock.now)
    assert list(got.values()) == [0, 0, 1]
    assert len(series.series("x", "hour", start=ts_at(clock, hours=5), steps=3)) == 3
    with pytest.raises(InvalidTime, match="inverted"):
        series.series("x", "hour", start=clock.now, end=ts_at(clock, hours=5))
    with pytest.raises(InvalidTime, match="cap of 100"):
        series.series("x", "hour", steps=1000)
    with pytest.raises(InvalidTime, match="more than 100 buckets"):
        series.series("x", "hour", start=ts_at(clock, days=30), end=clock.now)


def test_delete_series(pp, clock, redis_client):
    series = pp.timeseries(
        type="histogram",
        intervals={"hour": {"step": "hour"}, "day": {"step": "day", "resolution": "hour"}},
    )
    series.insert("a", 1, ts_at(clock, days=3))
    series.insert("a", 2)
    series.insert("b", 2)
    series.delete("a")
    assert series.names() == ["b"]
    assert list(redis_client.scan_iter(match=f"{pp.keys.prefix}:{{s:a}}:*")) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"type": "average", "intervals": {"h": {"step": "hour"}}},
            InvalidValue,
            "allowed: count, gauge, histogram, set",
        ),
        ({"intervals": {"h": {"step": "fortnight"}}}, InvalidGranularity, "unknown step"),
        ({"intervals": {"h": {"step": -5}}}, InvalidGranularity, "positive int"),
        ({"intervals": {"h": {"step": "hour", "steps": 0}}}, InvalidValue, "steps must be"),
        ({"intervals": {"h": {"every": "hour"}}}, InvalidValue, "give 'step'"),
        ({"intervals": {}}, InvalidValue, "at least one interval"),
        (
            {"intervals": {"h": {"step": "hour"}}, "on_expired": "ignore"},
            InvalidValue,
            "on_expired",
        ),
    ],
)
def test_bad_configuration(pp, kwargs, error, message):
    with pytest.raises(error, match=message):
        pp.timeseries(**kwargs)


def test_bad_writes_and_reads(pp, redis_client):
    counts = pp.timeseries(type="count", intervals={"h": {"step": "hour"}})
    with pytest.raises(InvalidValue, match="finite int or float"):
        counts.insert("x", "three")
    with pytest.raises(InvalidValue, match="row 1"):
        counts.insert_many([("x", 1, None), ("x", float("nan"), None)])
    with pytest.raises(InvalidTime, match="naive"):
        counts.insert("x", 1, dt.datetime(2026, 1, 1))
    with pytest.raises(InvalidGranularity, match="configured: h"):
        counts.get("x", "day")
    with pytest.raises(ValueError, match="series name"):
        counts.insert("bad name", 1)
    assert stored_keys(redis_client, pp.keys.prefix) == []


def test_delete_all_removes_every_series(pp, redis_client):
    counts = pp.timeseries(
        type="count", intervals={"h": {"step": "hour"}, "d": {"step": "day", "resolution": "hour"}}
    )
    sets = pp.timeseries(type="set", intervals={"m": {"step": 60}})
    counts.insert("a", 1)
    sets.insert("b", "x")
    pp.delete_all()
    assert stored_keys(redis_client, pp.keys.prefix) == []


def test_kairos_step_strings(pp, clock):
    """kairos writes steps as names ('daily') or durations ('1h', '30d', '60'):
    the names are Gregorian buckets, the durations fixed seconds."""
    series = pp.timeseries(
        type="count",
        intervals={
            "daily": {"step": "daily"},
            "hourly": {"step": "1h"},
            "minute": {"step": "60"},
        },
    )
    series.insert("hits", 2, ts_at(clock, hours=1))
    series.insert("hits", 1)
    days = series.series("hits", "daily", steps=1)
    assert list(days) == [pp.period("day").start.timestamp()]  # a calendar day
    hours = series.series("hits", "hourly", steps=2)
    assert list(hours.values()) == [2, 1]
    assert all(start % 3600 == 0 for start in hours)  # fixed seconds, epoch-aligned
    assert sum(series.series("hits", "minute", steps=120).values()) == 3
    from porpoise_django.engine.numbers.timeseries import parse_step

    assert parse_step("1m") == 30 * 86400 and parse_step("1y") == 365 * 86400  # kairos's units
    for bad in ("1mo", "often", "0", "-5", "5min"):
        with pytest.raises(InvalidGranularity, match="unknown step"):
            pp.timeseries(type="count", intervals={"x": {"step": bad}})


def test_weeks_may_start_on_sunday_as_kairos_weeks_do(make_analytics, clock):
    ny = ZoneInfo("America/New_York")
    pp = make_analytics(tz="America/New_York")
    series = pp.timeseries(
        type="count", intervals={"weekly": {"step": "weekly", "week_start": "sunday"}}
    )
    saturday = dt.datetime(2026, 11, 14, 10, tzinfo=ny).timestamp()
    sunday = dt.datetime(2026, 11, 15, 10, tzinfo=ny).timestamp()  # same ISO week as saturday
    series.insert("hits", 1, saturday)
    series.insert("hits", 2, sunday)
    weeks = series.series("hits", "weekly", start=saturday, end=sunday)
    assert list(weeks.values()) == [1, 2]
    assert [dt.datetime.fromtimestamp(s, ny) for s in weeks] == [
        dt.datetime(2026, 11, 8, tzinfo=ny),
        dt.datetime(2026, 11, 15, tzinfo=ny),
    ]
    # The week holding the autumn change lasts 7 days and one hour, midnight to midnight.
    [(start, _)] = series.series(
        "hits", "weekly", start=dt.datetime(2026, 11, 3, tzinfo=ny).timestamp(), steps=1
    ).items()
    assert dt.datetime.fromtimestamp(start, ny) == dt.datetime(2026, 11, 1, tzinfo=ny)
    for bad in ("someday", 7, -1, True):
        with pytest.raises(InvalidValue, match="week_start"):
            pp.timeseries(type="count", intervals={"w": {"step": "week", "week_start": bad}})


def test_series_type_keeps_every_value_in_order(pp, clock):
    """kairos's ``series`` type: a list of the values written to each bucket."""
    series = pp.timeseries(type="series", intervals={"day": {"step": "day"}})
    series.insert("latency", 120, ts_at(clock, hours=2))
    series.insert("latency", 80, ts_at(clock, hours=1))
    series.insert("latency", 120)
    [(start, values)] = series.get("latency", "day").items()
    assert start == pp.period("day").start.timestamp()
    assert values == [120, 80, 120]  # duplicates kept, in order (a set would say {80, 120})
    [point] = series.series("latency", "day", steps=1, transform=["count", "mean", "max"]).values()
    assert point == {"count": 3, "mean": pytest.approx(320 / 3), "max": 120}
    [(_, empty)] = series.series("latency", "day", steps=1, start=ts_at(clock, days=3)).items()
    assert empty == []


def test_write_and_read_funcs_and_sparse_rows(pp, clock):
    """kairos's write_func/read_func pair, and get(sparse=True): only the rows
    with data, as kairos answers (dense by default: what a chart wants)."""
    import json

    series = pp.timeseries(
        type="gauge",
        intervals={"day": {"step": "day", "resolution": "hour"}},
        write_func=json.dumps,
        read_func=json.loads,
    )
    series.insert("status", {"ok": True, "load": 0.5}, ts_at(clock, hours=1))
    [(_, rows)] = series.get("status", "day").items()
    assert len(rows) == 24 and sum(v is not None for v in rows.values()) == 1
    [(_, sparse)] = series.get("status", "day", sparse=True).items()
    assert list(sparse.values()) == [{"ok": True, "load": 0.5}]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("count", {"count": 0, "sum": 0, "mean": 0, "max": 0}),
        ("gauge", {"count": 0, "sum": None, "mean": None, "max": None}),
        ("histogram", {"count": 0, "sum": 0, "mean": None, "max": None}),
        ("set", {"count": 0, "sum": 0, "mean": None, "max": None}),
        ("series", {"count": 0, "sum": 0, "mean": None, "max": None}),
    ],
)
def test_transforms_of_an_empty_bucket_are_as_documented(pp, kind, expected):
    series = pp.timeseries(type=kind, intervals={"day": {"step": "day"}})
    [point] = series.series("never", "day", steps=1, transform=list(expected)).values()
    assert point == expected
