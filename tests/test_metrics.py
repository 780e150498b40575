"""Metrics with dimensions, ratios, breakdowns and period strings."""

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from porpoise_django.engine import InvalidGranularity, InvalidTime, InvalidValue, cover
from porpoise_django.engine.numbers.metrics import dimension_paths
from tests.conftest import stored_keys

UTC = dt.UTC


def test_dimension_paths_roll_up_to_parents():
    assert dimension_paths({"country": "US", "device": {"os": "mac"}, "sales": 123}) == [
        "",
        "country",
        "country/US",
        "device",
        "device/os",
        "device/os/mac",
        "sales",
        "sales/123",
    ]
    assert dimension_paths(None) == [""]


def test_counts_roll_up_and_hits_are_implicit(pp, round_trips):
    ads = pp.metric("ads")
    ads.count({"revenue": 500, "visitors": 1}, {"country": "US", "device": {"os": "mac"}})
    ads.count({"revenue": 100, "visitors": 1}, {"country": "FR"})
    with round_trips:
        ads.count({"visitors": 1}, {"country": "US"})
    assert round_trips.one()
    assert ads.totals("today", ["revenue", "visitors", "hits"]) == {
        "revenue": 600,
        "visitors": 3,
        "hits": 3,
    }
    assert ads.totals("today", ["revenue", "hits"], dimension="country/US") == {
        "revenue": 500,
        "hits": 2,
    }
    assert ads.totals("today", "hits", dimension="device/os") == {"hits": 1}
    assert ads.totals("today", "hits", dimension="country") == {"hits": 3}
    assert pp.metric_names() == ["ads"]


def test_ratio_metrics_and_their_documented_none(pp):
    ads = pp.metric("ads")
    ads.count({"revenue": 30, "visitors": 2})
    ads.count({"revenue": 10, "visitors": 0}, {"country": "DE"})
    totals = ads.totals("today", ["revenue/visitors", "revenue/hits", "revenue/unknown"])
    assert totals == {"revenue/visitors": 20.0, "revenue/hits": 20.0, "revenue/unknown": None}
    assert ads.totals("today", ["revenue/visitors"], "country/DE") == {"revenue/visitors": None}


def test_series_are_zero_filled_plot_points(pp, clock):
    ads = pp.metric("ads")
    ads.count({"revenue": 5}, when=clock.now - dt.timedelta(days=2))
    ads.count({"revenue": 7})
    points = ads.series("7d", ["revenue", "revenue/hits"])
    assert len(points) == 7
    assert [p["revenue"] for _, p in points] == [0, 0, 0, 0, 5, 0, 7]
    assert points[0][1]["revenue/hits"] is None
    assert [period.label for period, _ in points][-1] == "2026-11-18"


def test_breakdown_sort_limit_depth(pp):
    ads = pp.metric("ads")
    for country, revenue, visitors in [
        ("US", 500, 10),
        ("FR", 300, 2),
        ("DE", 40, 1),
        ("JP", 0, 0),
    ]:
        ads.count({"revenue": revenue, "visitors": visitors}, {"country": country})
    rows = ads.breakdown(
        "country", "today", ["revenue", "visitors"], sort="revenue/visitors", limit=3
    )
    assert [r["dimension"] for r in rows] == ["country/FR", "country/US", "country/DE"]
    assert rows[0]["revenue/visitors"] == 150
    everything = ads.breakdown("country", "today", "revenue")
    assert [r["dimension"] for r in everything] == [
        "country/US",
        "country/FR",
        "country/DE",
        "country/JP",
    ]
    ads.count({"revenue": 1}, {"device": {"os": "mac"}})
    assert [r["dimension"] for r in ads.breakdown("device", "today", depth=2)] == [
        "device/os",
        "device/os/mac",
    ]
    assert ads.breakdown("nothing", "today") == []


def test_significant_keeps_over_ten_percent_and_an_other_remainder(pp):
    ads = pp.metric("ads")
    for country, revenue in [("US", 600), ("FR", 250), ("DE", 60), ("IT", 50), ("ES", 40)]:
        ads.count({"revenue": revenue}, {"country": country})
    assert ads.significant("country", "revenue", "today") == [
        ("country/US", 600),
        ("country/FR", 250),
        ("other", 150),
    ]
    assert ads.significant("country", "revenue", "today", threshold=0.5) == [
        ("country/US", 600),
        ("other", 400),
    ]
    assert pp.metric("empty").significant("country", "revenue") == []


def test_period_strings(make_analytics, clock):
    clock.now = dt.datetime(2026, 11, 18, 15, 30, tzinfo=UTC)  # a Wednesday
    pp = make_analytics()

    def describe(text):
        r = pp.period_string(text)
        return r.granularity, r.first.label, r.last.label, len(r)

    assert describe("today") == ("hour", "2026-11-18 00:00", "2026-11-18 15:00", 16)
    assert describe("yesterday") == ("hour", "2026-11-17 00:00", "2026-11-17 23:00", 24)
    assert describe("24h") == ("hour", "2026-11-17 16:00", "2026-11-18 15:00", 24)
    assert describe("7d") == ("day", "2026-11-12", "2026-11-18", 7)
    assert describe("wtd") == ("day", "2026-11-16", "2026-11-18", 3)
    assert describe("mtd") == ("day", "2026-11-01", "2026-11-18", 18)
    assert describe("ytd") == ("month", "2026-01", "2026-11", 11)
    assert describe("6mo") == ("month", "2026-06", "2026-11", 6)
    assert describe("1d:1mo") == ("day", "2026-10-19", "2026-11-18", 31)
    assert describe("1h:2d") == ("hour", "2026-11-16 16:00", "2026-11-18 15:00", 48)
    assert describe("2026-01-01:2026-01-31") == ("day", "2026-01-01", "2026-01-31", 31)


@pytest.mark.parametrize(
    "bad", ["", "fortnight", "0d", "2d:1mo", "2026-02-01:2026-01-01", "99999d", None]
)
def test_bad_period_strings(pp, bad):
    with pytest.raises(InvalidTime):
        pp.period_string(bad)


def test_cover_uses_the_fewest_stored_buckets(make_analytics, clock):
    clock.now = dt.datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
    pp = make_analytics()
    tracked = ("hour", "day", "week", "month")
    yesterday = pp.period_string("yesterday")
    assert [p.label for p in cover(yesterday, tracked, clock.now)] == ["2026-11-17"]
    assert [p.label for p in cover(pp.period_string("mtd"), tracked, clock.now)] == ["2026-11"]
    last_24 = cover(pp.period_string("24h"), tracked, clock.now)
    assert [p.granularity for p in last_24] == ["hour"] * 8 + ["day"]
    assert cover(pp.period_string("24h"), ("day",), clock.now) is None


def test_untracked_granularity_is_a_clear_error(make_analytics):
    pp = make_analytics(counter_granularities=("day",))
    pp.metric("m").count({"x": 1})
    with pytest.raises(InvalidGranularity, match="tracked: day"):
        pp.metric("m").series("today")
    assert pp.metric("m").totals("7d", "x") == {"x": 1}


@pytest.mark.parametrize(
    ("metrics", "dimensions", "message"),
    [
        ({"revenue": "lots"}, None, "increment must be an int or a float"),
        ({"bad name": 1}, None, "invalid metric name"),
        ({"a/b": 1}, None, "invalid metric name"),
        ({"x": float("inf")}, None, "increment must be finite"),
        ({"x": 1e13}, None, "out of range: at most 1e\\+12"),
        (None, {"country": " US"}, "invalid dimension value"),  # spaces inside only
        (None, {"country": "a/b"}, "invalid dimension value"),
        (None, {"tag{x}": "y"}, "invalid dimension value"),
        (None, {"country": 1.5}, "strings or ints"),
        (None, 42, "must be a dict such as"),
    ],
)
def test_bad_counts_write_nothing(pp, redis_client, metrics, dimensions, message):
    with pytest.raises(InvalidValue, match=message):
        pp.metric("ads").count_many([({"ok": 1}, None, None), (metrics, dimensions, None)])
    assert stored_keys(redis_client, pp.keys.prefix) == []


def test_bad_queries(pp):
    ads = pp.metric("ads")
    with pytest.raises(InvalidValue, match="invalid metric name"):
        ads.totals("today", ["re venue"])
    with pytest.raises(InvalidValue, match="depth"):
        ads.children("country", depth=0)
    with pytest.raises(InvalidValue, match="limit"):
        ads.breakdown("country", limit=0)
    with pytest.raises(InvalidTime, match="unknown period"):
        ads.totals("last tuesday")


def test_delete_metric(pp, redis_client, clock):
    ads = pp.metric("ads")
    ads.count({"x": 1}, {"country": "US"}, when=clock.now - dt.timedelta(days=40))
    ads.count({"x": 1}, {"country": "US"})
    pp.metric("other").count({"x": 1})
    ads.delete()
    assert pp.metric_names() == ["other"]
    assert list(redis_client.scan_iter(match=f"{pp.keys.prefix}:{{m:ads}}*")) == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    calls=st.lists(
        st.tuples(st.sampled_from(["US", "FR", "DE"]), st.integers(0, 50), st.integers(0, 30)),
        max_size=30,
    )
)
def test_totals_and_breakdowns_match_brute_force(make_analytics, clock, calls):
    pp = make_analytics()
    ads = pp.metric("ads")
    ads.count_many(
        [
            ({"revenue": rev}, {"country": c}, clock.now - dt.timedelta(hours=h))
            for c, rev, h in calls
        ]
    )
    recent = [(c, rev) for c, rev, h in calls if h <= 23]
    assert ads.totals("24h", ["revenue", "hits"]) == {
        "revenue": sum(r for _, r in recent),
        "hits": len(recent),
    }
    rows = {r["dimension"]: r["revenue"] for r in ads.breakdown("country", "24h", "revenue")}
    for country in {c for c, _, _ in calls}:
        assert rows[f"country/{country}"] == sum(r for c, r in recent if c == country)
    pp.delete_all()


def test_hailwhale_dimensions_paths_lists_and_spaces(pp):
    """hailwhale's shapes: a bare path string, a list of segments, values with
    spaces inside (never at an end, never a control character or '/')."""
    ads = pp.metric("ads")
    ads.count({"dollars": 200}, "services")
    ads.count({"dollars": 500}, ["sales", "123"])
    ads.count({"revenue": 10}, {"country": "US", "device": "Mac OS X"})
    assert ads.totals("today", "dollars", dimension="services")["dollars"] == 200
    assert ads.totals("today", "dollars", dimension=["sales", "123"])["dollars"] == 500
    assert ads.totals("today", "dollars", dimension="sales")["dollars"] == 500  # rolled up
    assert ads.totals("today", "revenue", dimension="device/Mac OS X")["revenue"] == 10
    assert ads.children("device") == ["device/Mac OS X"]
    for bad in (" Mac", "Mac ", "Mac\tOS", "a/b", "", "{tag}"):
        with pytest.raises(InvalidValue, match="dimension value"):
            ads.count({"hits": 1}, {"device": bad})
    with pytest.raises(InvalidValue, match="at most 8 levels"):
        ads.count({"hits": 1}, [str(i) for i in range(9)])
    with pytest.raises(InvalidValue, match="a dict such as"):
        ads.count({"hits": 1}, 42)


def test_period_in_another_zone_is_covered_by_stored_hours(make_analytics, clock):
    """`|zone`: days of New York read from a UTC store, across the night clocks
    went back (2026-11-01 lasts 25 hours there), checked against brute force."""
    from zoneinfo import ZoneInfo

    clock.now = dt.datetime(2026, 11, 3, 12, 30, tzinfo=UTC)
    pp = make_analytics(tz="UTC")
    ads = pp.metric("ads")
    start = dt.datetime(2026, 10, 30, 0, tzinfo=UTC)
    moments = [start + dt.timedelta(hours=h) for h in range(24 * 4 + 12)]
    ads.count_many([({"revenue": i}, None, m) for i, m in enumerate(moments)])
    new_york = ZoneInfo("America/New_York")
    per_day: dict[dt.date, int] = {}
    for i, moment in enumerate(moments):
        day = moment.astimezone(new_york).date()
        per_day[day] = per_day.get(day, 0) + i
    series = ads.series("2026-10-31:2026-11-02|America/New_York", "revenue")
    assert [(p.label, v["revenue"]) for p, v in series] == [
        (d.isoformat(), per_day[d]) for d in sorted(per_day) if d >= dt.date(2026, 10, 31)
    ][:3]
    nov_first = ads.totals("2026-11-01:2026-11-01|America/New_York", ["revenue", "hits"])
    assert nov_first == {"revenue": per_day[dt.date(2026, 11, 1)], "hits": 25}
    # hailwhale's offsets: -500 is five hours west.
    yesterday = ads.totals("yesterday|-500", "hits")
    assert yesterday == {"hits": 24}
    assert ads.totals("today|-0500", "hits") == ads.totals("today|-05:00", "hits")


def test_zone_suffix_errors(make_analytics, clock):
    pp = make_analytics(tz="UTC")
    ads = pp.metric("ads")
    ads.count({"x": 1})
    with pytest.raises(InvalidGranularity, match="track finer ones"):
        ads.totals("today|+05:30", "x")  # half hours: no stored bucket starts there
    with pytest.raises(InvalidTime, match="unknown time zone"):
        ads.totals("today|Mars/Olympus", "x")
    with pytest.raises(InvalidTime, match="out of range"):
        ads.totals("today|+2500", "x")
    with pytest.raises(InvalidTime, match="metrics only"):
        pp.period_string("today|-0500")  # events and counters: the configured zone
    minutes = make_analytics(tz="UTC", counter_granularities=("minute", "hour", "day"))
    minutes.metric("ads").count({"x": 2})  # the same keys: 1 + 2 in today's hours
    assert minutes.metric("ads").totals("today|+05:30", "x") == {"x": 3}


def test_empty_ratio_option(pp):
    pp.metric("ads").count({"revenue": 5})
    assert pp.metric("ads").totals("today", "revenue/visitors") == {"revenue/visitors": None}
    zero = pp.metric("ads", empty_ratio=0)
    assert zero.totals("today", "revenue/visitors") == {"revenue/visitors": 0}
    assert zero.series("today", "revenue/visitors")[0][1] == {"revenue/visitors": 0}
    with pytest.raises(InvalidValue, match="empty_ratio"):
        pp.metric("ads", empty_ratio=float("nan"))
