"""hailwhale's README examples through ``porpoise_django.compat.hailwhale``, as
written (Python 2's ``print`` and ``keys()[:3]`` made Python 3), with the
results the README shows; then its HTTP examples as Python calls, its own
tests' shapes, and its period strings."""

from __future__ import annotations

import datetime as dt

import pytest

from porpoise_django.compat.hailwhale import Whale, label, translate_period
from porpoise_django.engine import InvalidTime, InvalidValue

UTC = dt.UTC


@pytest.fixture
def whale(make_analytics, clock):
    store = make_analytics(
        tz="UTC", counter_granularities=("minute", "hour", "day", "week", "month")
    )
    saved = Whale._store
    Whale.use(store)
    yield store
    Whale._store = saved


def test_the_readme_python_examples(whale, clock):
    clock.now = dt.datetime(2011, 1, 2, 12, tzinfo=UTC)
    # Let's log some data
    Whale.count_now("my_counter", metrics={"hits": 1})
    # How many hits today? 1. 1 hit. Gooood dooog.
    assert Whale.total("my_counter", metric="hits", period="today") == 1
    # Count something else probably (the next day, which gives the README's points)
    clock.now = dt.datetime(2011, 1, 3, 12, tzinfo=UTC)
    Whale.count_now("my_counter", metrics={"sales": 1, "revenue": 5})
    pps = Whale.plotpoints("my_counter", metrics=["hits", "sales", "revenue/hits"], period="mtd")
    first_three = dict(list(pps["my_counter"]["revenue/hits"].items())[:3])
    assert first_three == {"1/1/11": 0, "1/2/11": 0, "1/3/11": 5.0}

    # you can also nest your PKs, and include a dimension to further subdivide your stats
    Whale.count_now(
        ["Product", "123"],
        metric={"revenue": 10.0, "sales": 1},
        dimensions={"country": "US", "device": "Mac OS X"},
    )
    totals = Whale.totals(["Product", "123"], metric=["revenue", "sales"], period="1d:1mo")
    assert totals == {"Product/123": {"revenue": 10.0, "sales": 1}}
    # Now get plotpoints for graphs of all countries, by revenue/visitor
    plotpoints = Whale.plotpoints(
        ["Product", "123"], dimensions="country", metric=["revenue/visitor"], depth=1
    )
    assert set(plotpoints) == {"Product/123", "country", "country/US"}
    # No "visitor" was counted: a ratio of nothing reads 0, as in hailwhale.
    assert set(plotpoints["country/US"]["revenue/visitor"].values()) == {0}

    # What if we showed US visitor an english page?
    Whale.count_decision(
        ["Product", "123"],
        decided={"language": "EN"},
        metric={"revenue": 500, "visitors": 100},
        dimensions={"country": "US", "device": "Mac OS X"},
    )
    # Then US visitors a spanish page?
    Whale.count_decision(
        ["Product", "123"],
        decided={"language": "SP"},
        metric={"revenue": 0, "visitors": 100},
        dimensions={"country": "US", "device": "Mac OS X"},
    )
    # Hey we have a guy from US, which page should we show him?
    for seed in range(20):
        choice = Whale.decide(
            ["Product", "123"],
            options={"language": ["EN", "SP"]},
            known_dimensions={"country": "US", "device": "Mac OS X"},
            seed=seed,
        )
        assert choice == {"language": "EN"}


def test_the_readme_http_examples_as_calls(whale):
    # Sold $200 in services; bought $2000 in advertising; sold a product for $500
    Whale.count_now("test", dimensions="services", metrics={"dollars": 200})
    Whale.count_now("test", dimensions="advertising", metrics={"dollars": -2000})
    Whale.count_now("test", dimensions={"sales": 77}, metrics={"dollars": 500})
    Whale.count_now("test", dimensions={"sales": 78}, metrics={"dollars": 20})
    totals = Whale.totals("test", dimensions="sales", metrics=["dollars", "dollars/hits"], depth=1)
    assert totals["test"] == {"dollars": -1280, "dollars/hits": -320.0}
    assert totals["sales"] == {"dollars": 520, "dollars/hits": 260.0}
    assert totals["sales/77"]["dollars"] == 500
    # "any dimensions that exceed 10% of the total ... sales" (the engine's significant)
    sales = whale.metric("test").significant("sales", "dollars", "today")
    assert sales == [("sales/77", 500), ("other", 20)]

    # count_decision?pk=PageVariation&option=b&...&metric={"spent": .50} and its successes
    for option, spent, earned in (("a", 0.5, 0), ("b", 0.5, 25), ("c", 0.5, 1)):
        for _ in range(10):
            Whale.count_decision(
                "PageVariation",
                option=option,
                dimensions={"country": "US"},
                metric={"spent": spent},
            )
            Whale.count_decision(
                "PageVariation",
                option=option,
                dimensions={"country": "US"},
                metric={"earned": earned},
            )
    # decide?pk=PageVariation&options=['a','b','c']&dimensions=...&by_metric=spent/earned:
    # hailwhale takes the largest ratio; the engine can minimise a cost too.
    best = Whale.decide(
        "PageVariation", ["a", "b", "c"], {"country": "US"}, by_metric="earned/spent", seed=1
    )
    assert best == "b"
    cheapest = whale.decision("PageVariation").decide(
        ["b", "c"], {"country": "US"}, by="spent/earned", goal="min", seed=1
    )
    assert cheapest == "b"


def test_hailwhale_test_shapes(whale):
    """hailwhale's own tests: positional dimensions, list points, depth, ratios."""
    for _ in range(5):
        Whale.count_now("test_plotpoints", "t", {"hits": 1, "values": 5})
    points = Whale.plotpoints("test_plotpoints", "t", ["hits", "values"], points_type=list)
    assert points["t"]["hits"][-1][1] == 5 and points["t"]["values"][-1][1] == 25
    assert isinstance(points["t"]["hits"][-1][0], int)  # epoch milliseconds (flot)
    Whale.count_now("test_depth", {"t": "a"})
    Whale.count_now("test_depth", {"t": {"c": "child"}})
    one = Whale.plotpoints("test_depth", "t", points_type=list, depth=1, period="day")
    assert "t/a" in one and "t/c" in one and "t/c/child" not in one
    two = Whale.plotpoints("test_depth", "t", points_type=list, depth=2, period="day")
    assert two["t/c/child"]["hits"][-1][1] == 1
    no_overall = Whale.totals("test_depth", "t", overall=False)
    assert list(no_overall) == ["t"]


def test_period_strings(whale, clock):
    clock.now = dt.datetime(2026, 11, 18, 15, 30, tzinfo=UTC)

    def describe(text):
        span = translate_period(whale, text)
        span = whale.metric("m").resolve_range(span)
        return span.granularity, len(span)

    assert translate_period(whale, "thirty|-500") == "1d:1mo|-500"
    assert translate_period(whale, "01/02/2026-01/31/2026") == "2026-01-02:2026-01-31"
    assert describe("01/02/2026-01/31/2026|-0500") == ("day", 30)
    assert describe("day") == ("hour", 24)
    assert describe("hour") == ("minute", 60)
    assert describe("fivemin") == ("minute", 5)
    assert describe("1m:1h") == ("minute", 60)  # hailwhale's m is a minute
    assert describe("1h:90m") == ("hour", 1)
    assert describe("monthly") == ("month", 36)
    assert describe("mtd") == ("day", 18)
    assert describe(None) == ("day", 365)  # hailwhale's default: a year by day
    with pytest.raises(ValueError, match="the step must be"):
        translate_period(whale, "6h:1w")
    with pytest.raises(ValueError, match="invalid date range"):
        translate_period(whale, "02/30/2026-03/01/2026")
    with pytest.raises(InvalidTime):
        Whale.total("m", period="fortnight")


def test_a_day_in_the_callers_zone(whale, clock):
    clock.now = dt.datetime(2026, 11, 18, 15, 30, tzinfo=UTC)
    Whale.count_now("tz", metrics={"n": 1}, at=dt.datetime(2026, 11, 18, 3))  # naive: UTC
    Whale.count_now("tz", metrics={"n": 1}, at=dt.datetime(2026, 11, 18, 6))
    assert Whale.total("tz", "n", "today") == 2
    assert Whale.total("tz", "n", "today|-500") == 1  # 3:00 UTC was yesterday in UTC-5
    assert Whale.total("tz", "n", "yesterday|-500") == 1
    points = Whale.plotpoints("tz", metrics="n", period="today|-500")
    assert next(iter(points["tz"]["n"])) == "11/18/26 00:00"


def test_labels():
    assert label(dt.datetime(2011, 1, 3), "day") == "1/3/11"
    assert label(dt.datetime(2011, 1, 3, 13), "hour") == "1/3/11 13:00"
    assert label(dt.datetime(2026, 11, 1, 1, fold=1), "hour") == "11/1/26 01:00 (2nd)"


def test_bad_input(whale):
    with pytest.raises(ValueError, match="primary key"):
        Whale.count_now([], metrics={"x": 1})
    with pytest.raises(InvalidValue, match="invalid dimension value"):
        Whale.count_now("m", {"country": "U/S"}, {"x": 1})
    with pytest.raises(ValueError, match="what was decided"):
        Whale.count_decision("m", metric={"x": 1})
    with pytest.raises(ValueError, match="one dimension"):
        Whale.totals("m", dimensions={"country": "US"})
    with pytest.raises(InvalidValue, match="distinct"):
        Whale.decide("m", ["a", "a"])
    assert whale.client.keys(f"{whale.keys.prefix}:*m:*") == []  # nothing written
