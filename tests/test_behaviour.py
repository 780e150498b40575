"""Lifecycle, stickiness and decisions against brute force on random data."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from porpoise_django.engine import InvalidGranularity, InvalidValue, lifecycle, stickiness
from porpoise_django.engine.analyses.decisions import wilson

UTC = dt.UTC
activity = st.dictionaries(
    st.integers(-12, 0), st.sets(st.integers(0, 30), max_size=15), max_size=10
)


#: Local noons on days that break things: Paris' 25-hour day, Santiago's day
#: that starts at 01:00, and a week 53 (UTC).
ZONED_NOONS = [
    ("Europe/Paris", dt.datetime(2026, 10, 25, 12)),
    ("America/Santiago", dt.datetime(2026, 9, 6, 12)),
    ("UTC", dt.datetime(2026, 12, 31, 12)),
]


@pytest.mark.parametrize(("zone", "noon"), ZONED_NOONS)
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(days=activity)
def test_lifecycle_matches_brute_force(make_analytics, clock, zone, noon, days):
    clock.now = noon.replace(tzinfo=ZoneInfo(zone))
    pp = make_analytics(tz=zone)
    # Whole days of real time from a local noon stay on the same local hour
    # give or take one, so offset d is the local day d days away.
    rows = [("e", i, clock.now + dt.timedelta(days=d)) for d, ids in days.items() for i in ids]
    if rows:
        pp.mark_many(rows)
    result = lifecycle(pp, "e", pp.range("day", -5))
    for k, offset in enumerate(range(-5, 1)):
        now = days.get(offset, set())
        before = days.get(offset - 1, set())
        history = set().union(*(ids for d, ids in days.items() if d < offset))
        assert result.new[k] == len(now - history)
        assert result.returning[k] == len(now & before)
        assert result.resurrecting[k] == len((now & history) - before)
        assert result.dormant[k] == -len(before - now)
    pp.delete_all()


#: Sundays ending weeks with a DST change (Paris autumn, Santiago spring) and
#: ISO week 2026-W53.
ZONED_SUNDAYS = [
    ("UTC", dt.datetime(2026, 11, 22, 12)),
    ("Europe/Paris", dt.datetime(2026, 10, 25, 12)),
    ("America/Santiago", dt.datetime(2026, 9, 6, 12)),
    ("Europe/Paris", dt.datetime(2027, 1, 3, 12)),
]


@pytest.mark.parametrize(("zone", "sunday"), ZONED_SUNDAYS)
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    days=st.dictionaries(st.integers(0, 6), st.sets(st.integers(0, 2000), max_size=30), max_size=7)
)
def test_stickiness_matches_brute_force(make_analytics, clock, zone, sunday, days):
    clock.now = sunday.replace(tzinfo=ZoneInfo(zone))  # the week is complete
    pp = make_analytics(chunk_bits=10, tz=zone)  # several chunks
    monday = clock.now - dt.timedelta(days=6)
    rows = [("e", i, monday + dt.timedelta(days=d)) for d, ids in days.items() for i in ids]
    if rows:
        pp.mark_many(rows)
    result = stickiness(pp, "e", pp.period("week"))
    per_user: dict[int, int] = {}
    for ids in days.values():
        for i in ids:
            per_user[i] = per_user.get(i, 0) + 1
    assert result.days == 7
    assert result.exactly == [sum(1 for n in per_user.values() if n == k) for k in range(1, 8)]
    assert result.at_least == [sum(1 for n in per_user.values() if n >= k) for k in range(1, 8)]
    pp.delete_all()


def test_bad_behaviour_arguments(pp):
    with pytest.raises(InvalidGranularity, match="week, month"):
        stickiness(pp, "e", pp.period("day"))
    with pytest.raises(InvalidGranularity, match="tracked"):
        lifecycle(pp, "e", pp.range("hour", -3))


def test_decisions_report_and_fall_back_to_overall(pp):
    landing = pp.decision("landing", min_trials=20)
    for option, trials, successes in (("a", 100, 10), ("b", 100, 30)):
        for _ in range(trials):
            landing.record(option, {"country": "FR"})
        for _ in range(successes):
            landing.record(option, {"country": "FR"}, success=1)
    # In the US only a few trials exist: the overall rates are used there.
    for _ in range(3):
        landing.record("a", {"country": "US"})
    report = {r.option: r for r in landing.report(["a", "b"], {"country": "US"}, seed=1)}
    assert report["a"].trials == 103 and report["a"].dimension == ""
    assert report["b"].rate == pytest.approx(0.3)
    assert report["b"].win_probability > 0.99
    assert report["b"].low < 0.3 < report["b"].high
    fr = {r.option: r for r in landing.report(["a", "b"], {"country": "FR"}, seed=1)}
    assert fr["a"].dimension == "country/FR" and fr["a"].trials == 100
    picks = [landing.decide(["a", "b"], {"country": "FR"}, seed=s) for s in range(200)]
    assert picks.count("b") > 180


def test_decide_never_starves_an_option(pp):
    bandit = pp.decision("copy")
    for _ in range(50):
        bandit.record("old")
        bandit.record("old", success=1)
    assert bandit.decide(["old", "new"], seed=3) == "new"  # new has < 5 trials
    with pytest.raises(InvalidValue, match="distinct"):
        bandit.decide(["x", "x"])
    with pytest.raises(InvalidValue, match="string or an int"):
        bandit.record(1.5)
    with pytest.raises(InvalidValue, match="invalid dimension value"):
        bandit.record("a", {"country": "U/S"})


def test_wilson_interval():
    low, high = wilson(30, 100)
    assert 0.21 < low < 0.22 and 0.39 < high < 0.41
    assert wilson(0, 0) is None


def test_lifecycle_is_two_round_trips_whatever_the_range(pp, clock, round_trips):
    pp.mark_many([("e", i, clock.now - dt.timedelta(days=d)) for d in range(20) for i in range(d)])
    pp.chunks()
    with round_trips:
        lifecycle(pp, "e", pp.range("day", -13))
    # the event's first mark, then every count (per node on a cluster)
    assert 2 <= round_trips.count <= 2 * round_trips.nodes


def test_decide_by_a_formula_over_metrics(pp):
    """hailwhale's by_metric: a is the best by dollars per visitor, except in the UK."""
    shop = pp.decision("slogan", min_trials=100)  # visitors
    for option, dollars, visitors, country in (
        ("a", 5000, 1000, None),
        ("b", 0, 400, None),
        ("b", 500, 50, "uk"),
        ("c", 0, 750, None),
    ):
        dims = {"country": country} if country else None
        for _ in range(10):
            shop.record(option, dims, metrics={"dollars": dollars, "visitors": visitors})
    options = ["a", "b", "c"]
    picks = [shop.decide(options, by="dollars/visitors", seed=s) for s in range(50)]
    assert picks.count("a") == 50
    uk = [shop.decide(options, {"country": "uk"}, by="dollars/visitors", seed=s) for s in range(50)]
    assert uk.count("b") == 50  # 10 per visitor in the UK beats 5
    report = {r.option: r for r in shop.report(options, by="dollars/visitors", seed=1)}
    assert report["a"].rate == pytest.approx(5.0) and report["a"].trials == 10_000
    assert report["a"].low < 5.0 < report["a"].high and report["a"].win_probability > 0.99
    assert report["c"].rate == 0
    # A cost: the fewest dollars per visitor wins with goal="min".
    assert shop.decide(options, by="dollars/visitors", goal="min", seed=2) == "c"
    # One metric is read per recorded call.
    assert shop.decide(["a", "c"], by="dollars", seed=3) == "a"


def test_decide_by_formula_bad_input(pp):
    shop = pp.decision("slogan")
    with pytest.raises(InvalidValue, match="goal must be one of max, min"):
        shop.decide(["a", "b"], by="x/y", goal="best")
    with pytest.raises(InvalidValue, match="needs a formula"):
        shop.decide(["a", "b"], goal="min")
    with pytest.raises(InvalidValue, match="invalid metric name"):
        shop.decide(["a", "b"], by="x/y z")
    with pytest.raises(InvalidValue, match="a list"):
        shop.decide("ab")
    with pytest.raises(InvalidValue, match="not both"):
        shop.record("a", success=1, metrics={"x": 1})
    with pytest.raises(InvalidValue, match="metric 'x'"):
        shop.record("a", metrics={"x": "lots"})
