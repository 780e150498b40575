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
    first_three = dict(list(pps["_"]["revenue/hits"].items())[:3])  # "_": the overall row
    assert first_three == {"1/1/11": 0, "1/2/11": 0, "1/3/11": 5.0}

    # you can also nest your PKs, and include a dimension to further subdivide your stats
    Whale.count_now(
        ["Product", "123"],
        metric={"revenue": 10.0, "sales": 1},
        dimensions={"country": "US", "device": "Mac OS X"},
    )
    totals = Whale.totals(["Product", "123"], metric=["revenue", "sales"], period="1d:1mo")
    assert totals == {"_": {"revenue": 10.0, "sales": 1}}
    # Now get plotpoints for graphs of all countries, by revenue/visitor
    plotpoints = Whale.plotpoints(
        ["Product", "123"], dimensions="country", metric=["revenue/visitor"], depth=1
    )
    assert set(plotpoints) == {"country", '["country", "US"]'}  # hailwhale's row keys
    # No "visitor" was counted: a ratio of nothing reads 0, as in hailwhale.
    assert set(plotpoints['["country", "US"]']["revenue/visitor"].values()) == {0}

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
    totals = Whale.totals(
        "test", "sales", ["dollars", "dollars/hits"], depth=1, overall=True, period="today"
    )
    assert totals["_"] == {"dollars": -1280, "dollars/hits": -320.0}
    assert totals["sales"] == {"dollars": 520, "dollars/hits": 260.0}
    assert totals['["sales", "77"]']["dollars"] == 500
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
    assert '["t", "a"]' in one and '["t", "c"]' in one and '["t", "c", "child"]' not in one
    two = Whale.plotpoints("test_depth", "t", points_type=list, depth=2, period="day")
    assert two['["t", "c", "child"]']["hits"][-1][1] == 1
    assert list(Whale.totals("test_depth", "t", period="day")) == ["t"]


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
    assert describe(None) == ("day", 31)  # hailwhale's default: thirty (1d:1mo) by day
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
    assert Whale.total("tz", "n", period="today") == 2
    assert Whale.total("tz", "n", period="today|-500") == 1  # 3:00 UTC was yesterday in UTC-5
    assert Whale.total("tz", "n", "_", "yesterday|-500") == 1  # (pk, metric, dimension, period)
    points = Whale.plotpoints("tz", metrics="n", period="today|-500")
    assert next(iter(points["_"]["n"])) == "11/18/26 00:00"


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


# -- hailwhale's code (not only its README): keys, dimensions, ranks, reasons, Hail, HTTP ------
def test_row_keys_are_hailwhales():
    from porpoise_django.compat.hailwhale import maybe_dumps, try_loads

    assert maybe_dumps(["shop", "eu"]) == '["shop", "eu"]'
    assert maybe_dumps(["shop"]) == "shop" == maybe_dumps('["shop"]')
    assert maybe_dumps(["shop", 7]) == '["shop", "7"]'
    assert try_loads('["eu"]') == "eu" and try_loads("['a', 'b']") == ["a", "b"]
    assert try_loads("plain") == "plain"
    assert try_loads('{"spent": .50, "n": [-.5]}') == {"spent": 0.5, "n": [-0.5]}  # README's .50


def test_a_list_key_counts_under_each_prefix(whale):
    Whale.count_now(["Store", "9", "checkout"], None, {"cents": 250})
    Whale.count_now(["Store", "9"], None, {"cents": 50})
    assert Whale.total("Store", "cents", period="today") == 300
    assert Whale.total(["Store", "9"], "cents", period="today") == 300
    assert Whale.total(["Store", "9", "checkout"], "cents", period="today") == 250
    Whale.count_decided_now("Store", "banner", "blue", {"region": "north"}, {"cents": 5})
    assert Whale.total(["Store", "banner", "blue"], "cents", "region", "today") == 5


def test_subdimensions(whale):
    Whale.count_now("shop", {"device": {"os": "linux"}, "plan": "pro"})
    Whale.count_now("shop", {"plan": "free"})
    assert sorted(Whale.get_subdimensions("shop")) == ["device", "plan"]
    assert sorted(Whale.get_subdimensions("shop", "plan")) == [["plan", "free"], ["plan", "pro"]]
    assert Whale.all_subdimensions("shop", "device") == [
        "device", ["device", "os"], ["device", "os", "linux"],
    ]  # fmt: skip
    every = Whale.all_subdimensions("shop")
    assert every[0] == "_" and ["plan", "pro"] in every and len(every) == 7


def test_plotpoints_limit_and_sort(whale):
    for plan, n in (("free", 6), ("pro", 2), ("team", 4)):
        for _ in range(n):
            Whale.count_now("seats", {"plan": plan}, {"paid": 1 if plan != "free" else 0})
    # As hailwhale: the asked row is ranked too (and always kept).
    top = Whale.plotpoints("seats", "plan", depth=1, limit=3, period="today")
    assert set(top) == {"plan", '["plan", "free"]', '["plan", "team"]'}
    paid = Whale.plotpoints("seats", "plan", ["paid", "hits"], depth=1, limit=2, sort="-paid")
    assert set(paid) == {"plan", '["plan", "team"]'}
    low = Whale.plotpoints("seats", "plan", depth=1, limit=1, sort="hits", period="today")
    assert set(low) == {"plan", '["plan", "pro"]'}


def test_totals_for_hailwhales_periods(whale):
    Whale.count_now("visits", "home", {"seconds": 30})
    every = Whale.totals("visits", "home", ["seconds", "seconds/hits"])
    assert list(every) == ["1d:1y", "1d:1mo", "1d:1w", "1h:1d", "1m:1h"]
    assert every["1m:1h"] == {"home": {"seconds": 30, "seconds/hits": 30.0}}
    assert Whale.totals("visits", "home", "seconds", "1h:1d") == {
        "1h:1d": {"home": {"seconds": 30}}
    }
    assert Whale.total("visits", "seconds", "home", "hour", index=-1) == 30  # the last minute


def test_ranking_dimensions(whale):
    for city, amount in (("oslo", 70), ("bergen", 25), ("tromso", 5)):
        Whale.count_now("sales", {"city": {city: "shop"}}, {"kr": amount, "orders": 10})
    Whale.count_now("sales", {"city": "bergen"}, {"kr": 2, "orders": 40})
    scalar = Whale.rank_subdimensions_scalar("sales", "city", "kr")
    assert scalar['["city", "oslo", "shop"]']["important"] is True  # 70 of 102
    assert scalar['["city", "tromso", "shop"]']["important"] is False  # under a tenth
    # a parent whose children make up its total is not important itself
    assert scalar['["city", "oslo"]']["score"] == 70
    assert scalar['["city", "oslo"]']["important"] is False
    assert scalar['["city", "bergen"]']["score"] == 27
    one = Whale.rank_subdimensions_scalar("sales", "city", "kr", recursive=False)
    assert set(one) == {'["city", "bergen"]', '["city", "oslo"]', '["city", "tromso"]'}
    ratio = Whale.rank_subdimensions_ratio("sales", "kr", "orders", "city", recursive=False)
    whole = 102 / 70
    assert ratio['["city", "oslo"]']["score"] == 7.0
    assert ratio['["city", "oslo"]']["difference"] == pytest.approx((7 - whole) / whole)
    assert ratio['["city", "bergen"]']["important"] is True  # 27/50: far below the whole
    assert Whale.rank("sales", "kr/orders", "city", recursive=False) == ratio


def test_a_parent_made_of_its_children_is_pruned(whale):
    Whale.count_now("ads", ["net", "a"], {"clicks": 40})
    Whale.count_now("ads", ["net", "b"], {"clicks": 40})
    Whale.count_now("ads", "other", {"clicks": 20})
    ranked = Whale.rank_subdimensions_scalar("ads", "_", "clicks")
    assert ranked['["net", "a"]']["important"] and ranked['["net", "b"]']["important"]
    assert ranked["net"]["important"] is False  # 80, all of it in a and b
    assert ranked["other"]["important"] is True


def test_decisions_from_reasons(whale):
    for option, (cash, people) in {"red": (900, 300), "green": (30, 300), "grey": (8, 2)}.items():
        Whale.count_decided_now("page", "colour", option, None, {"cash": cash, "people": people})
    good, bad, test = Whale.weighted_reasons(
        "page", "colour", ["red", "green", "grey"], "cash/people"
    )
    assert (set(good), set(bad), set(test)) == ({"red"}, {"green"}, {"grey"})
    assert good["red"]["weight"] == 1 and test["grey"]["weight"] == 1
    picks = {
        Whale.decide("page", "colour", ["red", "green", "grey"], "cash/people", seed=s)
        for s in range(30)
    }
    assert "red" in picks and picks <= {"red", "green", "grey"}
    only = Whale.decide(
        "page", "colour", ["red", "green"], "cash/people", bad_idea_threshold=0,
        test_idea_threshold=0, seed=3,
    )  # fmt: skip
    assert only == "red"
    nothing = Whale.weighted_reasons("page", "size", ["s", "m"], "cash/people")
    assert nothing[0] == {} and nothing[1] == {} and set(nothing[2]) == {"s", "m"}
    assert Whale.decide_from_reasons(*nothing) in {"s", "m"}


def test_a_known_dimension_is_a_reason(whale):
    Whale.count_decided_now("promo", "text", "short", None, {"buys": 10, "views": 1000})
    Whale.count_decided_now("promo", "text", "long", None, {"buys": 10, "views": 1000})
    Whale.count_decided_now("promo", "text", "long", {"lang": "de"}, {"buys": 300, "views": 1000})
    Whale.count_decided_now("promo", "text", "short", {"lang": "de"}, {"buys": 5, "views": 1000})
    plain = Whale.weighted_reasons("promo", "text", ["short", "long"], "buys/views")
    known = Whale.weighted_reasons("promo", "text", ["short", "long"], "buys/views", {"lang": "de"})
    assert known[0]["long"]["good"]["dimension"] == '["lang", "de"]'
    # Nothing known: the option's own lead is not significant yet.
    assert "long" not in plain[0] and "long" in plain[2]


def test_cached_answers_wait_until_asked_again(whale, clock):
    Whale.count_now("slow", "x")
    first = Whale.cached_plotpoints("slow", "x", period="1m:1h")
    Whale.count_now("slow", "x")
    assert Whale.cached_plotpoints("slow", "x", period="1m:1h") == first
    fresh = Whale.cached_plotpoints("slow", "x", period="1m:1h", unmemoize=True)
    assert sum(fresh["x"]["hits"].values()) == 2
    assert Whale.cached_totals("slow", "x", period="today")["x"]["hits"] == 2


def test_hail_queues_counts_until_dumped(whale):
    from porpoise_django.compat.hailwhale import Hail

    assert Hail.count("queued", {"via": "api"}, {"bytes": 512}) == "OK"
    assert Hail.count(["queued", "b"], "_", ["bytes"]) == "OK"
    assert Hail.pending() == 2 and Whale.total("queued", "bytes", period="today") == 0
    assert Hail.dump_now() == 2 and Hail.pending() == 0
    assert Whale.total("queued", "bytes", period="today") == 513
    assert Whale.total("queued", "bytes", "via", "today") == 512
    with pytest.raises(InvalidValue):
        Hail.count("queued", {"via": "a/b"}, {"bytes": 1})  # refused now, not at the flush
    with pytest.raises(InvalidValue):
        Hail.count("queued", None, {"bad name!": 1})
    assert Hail.pending() == 0


urlpatterns = []


@pytest.fixture
def service(whale, settings):
    from django.test import Client
    from django.urls import include, path

    urlpatterns[:] = [path("hw/", include("porpoise_django.compat.hailwhale.urls"))]
    settings.ROOT_URLCONF = __name__
    yield Client()
    urlpatterns.clear()


def test_the_http_service(service):
    def get(url):
        response = service.get("/hw/" + url)
        return response.status_code, (
            response.json() if response["Content-Type"] == "application/json" else response.text
        )

    metrics = '{"grams": 40}'
    assert get(f'count_now?pk="bakery"&dimensions=["bread"]&metrics={metrics}') == (200, "OK")
    assert get(f'count?pk="bakery"&dimensions=["bread"]&metrics={metrics}') == (200, "OK")
    status, totals = get('totals?pk="bakery"&dimensions=["bread"]&metrics=["grams"]')
    assert status == 200 and totals["1m:1h"] == {"bread": {"grams": 40}}
    assert get("flush_hail") == (200, "OK")
    _, totals = get('totals?pk="bakery"&dimensions="bread"&metrics={"grams": 1}&period="today"')
    assert totals == {"bread": {"grams": 80}}
    status, points = get('plotpoints?pk="bakery"&dimensions="_"&metrics=["grams"]&depth=1')
    assert status == 200 and points["bread"]["grams"][-1][1] == 80
    assert isinstance(points["bread"]["grams"][-1][0], int)  # flot time
    for option, paid in (("a", 1), ("b", 9)):
        url = f'count_decision?pk="menu"&option="{option}"&metric={{"paid": {paid}, "seen": 10}}'
        assert get(url) == (200, "OK")
    status, choice = get("decide?pk=\"menu\"&options=['a', 'b']&by_metric=paid/seen")
    assert status == 200 and choice in ("a", "b")
    assert get('reset?pk="bakery"') == (200, "OK")
    _, totals = get('totals?pk="bakery"&dimensions="bread"&metrics=["grams"]&period="today"')
    assert totals == {"bread": {"grams": 0}}
    response = service.get("/hw/count_now", {"pk": '"bakery"', "dimensions": '{"x": "a/b"}'})
    assert response.status_code == 400 and "invalid dimension value" in response.text
    assert response["Access-Control-Allow-Origin"] == "*"
    assert service.get("/hw/decide?pk=menu").status_code == 400
    assert service.post("/hw/count").status_code == 405


def test_the_readme_http_examples_through_the_urlconf(service):
    # Sold $200 in services; bought $2000 in advertising; sold product 77 for $500
    for url in (
        '/hw/count?pk=test&dimensions=services&metrics={"dollars": 200}',
        '/hw/count?pk=test&dimensions=advertising&metrics={"dollars": -2000}',
        '/hw/count?pk=test&dimensions={"sales": 77}&metric={"dollars": 500}',
    ):
        assert service.get(url).content == b"OK"
    assert service.get("/hw/flush_hail").content == b"OK"
    totals = service.get(
        '/hw/totals?pk=test&dimensions=sales&metrics=["dollars", "dollars/hits"]&period=today'
    ).json()
    assert totals == {"sales": {"dollars": 500, "dollars/hits": 500.0}}
    overall = service.get('/hw/totals?pk=test&metrics=["dollars"]&period=today').json()
    assert overall == {"_": {"dollars": -1300}}
    # Log our decisions, and our successes (the README writes .50)
    for metric in ('{"spent": .50}', '{"earned": 25}'):
        where = 'dimensions={"country": "US"}'
        url = f"/hw/count_decision?pk=PageVariation&option=b&{where}&metric={metric}"
        assert service.get(url).content == b"OK"
    chosen = service.get(
        "/hw/decide?pk=PageVariation&options=['a', 'b', 'c']&dimensions={\"country\": \"US\"}"
        "&by_metric=spent/earned"
    )
    assert chosen.status_code == 200 and chosen.text in ("a", "b", "c")  # as text, as hailwhale
