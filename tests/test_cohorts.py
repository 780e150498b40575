"""Cohort tables and funnels, checked against brute force on Python sets."""

import datetime as dt
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from porpoise_django.engine import InvalidGranularity, InvalidValue, cohort_table, funnel
from porpoise_django.engine.analyses import cohorts

UTC = dt.UTC


def day(clock, offset):
    return clock.now + dt.timedelta(days=offset)


def brute_force(marks, cohorts, offsets, today, mode="on", first_time=False):
    """marks: {event: {day_offset: set(ids)}} with day offsets <= 0 (today = 0)."""
    sizes, table = [], []
    for r in range(cohorts):
        d = -(cohorts - 1) + r
        cohort = set(marks["signup"].get(d, set()))
        if first_time:
            earlier = set().union(*(ids for k, ids in marks["signup"].items() if k < d))
            cohort -= earlier
        sizes.append(len(cohort))
        row = []
        for i in range(offsets + 1):
            if d + i > 0:
                row.append(None)
                continue
            if mode == "on":
                came = marks["active"].get(d + i, set())
            else:
                came = set().union(*(marks["active"].get(k, set()) for k in range(d + i, 1)))
            row.append(len(cohort & came))
        table.append(row)
    return sizes, table


def load(pp, clock, marks):
    rows = []
    for event, days in marks.items():
        for offset, ids in days.items():
            rows += [(event, i, day(clock, offset)) for i in ids]
    if rows:
        pp.mark_many(rows)


marks_strategy = st.fixed_dictionaries(
    {
        "signup": st.dictionaries(
            st.integers(-9, 0), st.sets(st.integers(0, 40), max_size=12), max_size=6
        ),
        "active": st.dictionaries(
            st.integers(-9, 0), st.sets(st.integers(0, 40), max_size=20), max_size=8
        ),
    }
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(marks=marks_strategy, mode=st.sampled_from(["on", "on_or_after"]), first_time=st.booleans())
def test_cohort_table_matches_brute_force(make_analytics, clock, marks, mode, first_time):
    pp = make_analytics()
    load(pp, clock, marks)
    table = cohort_table(
        pp,
        "signup",
        "active",
        cohorts=6,
        offsets=5,
        mode=mode,
        cohort_type="first_time" if first_time else "recurring",
    )
    sizes, counts = brute_force(marks, 6, 5, 0, mode, first_time)
    assert table.sizes == sizes
    assert table.counts == counts
    pp.delete_all()


def test_cohort_table_in_one_round_trip_with_labels_average_and_csv(
    make_analytics, clock, round_trips
):
    clock.now = dt.datetime(2026, 11, 18, 12, tzinfo=UTC)
    pp = make_analytics(granularities=("day", "week"))
    pp.mark_many([("signup", i, day(clock, -14)) for i in range(10)])
    pp.mark_many([("active", i, day(clock, -7)) for i in range(5)])
    pp.mark_many([("active", i, day(clock, 0)) for i in range(2)])
    pp.chunks()
    with round_trips:
        table = cohort_table(pp, "signup", "active", granularity="week", cohorts=3, offsets=2)
    assert round_trips.one()
    assert table.labels == ["2026-W45", "2026-W46", "2026-W47"]
    assert table.sizes == [10, 0, 0]
    assert table.counts[0] == [0, 5, 2]
    assert table.counts[2] == [0, None, None]
    assert table.unfinished[0] == [False, False, True]
    assert table.percents()[0] == [0.0, 50.0, 20.0]
    assert table.percents()[1] == [None, None, None]  # an empty cohort: blank, not 0%
    # The running week is left out of the average.
    assert table.average() == [0.0, 50.0, None]
    assert table.average(finished_only=False)[2] == 20.0
    lines = table.to_csv().splitlines()
    assert lines[0] == "cohort,size,week 0,week 1,week 2"
    assert lines[1] == "2026-W45,10,0.00,50.00,20.00"
    assert table.to_csv(as_percent=False).splitlines()[1] == "2026-W45,10,0,5,2"


#: The plans of the server's cell counting, forced (cohorts.TRIM, GATHER, TRANSFER):
#: whole bitmaps AND-ed, rows cut to their bytes that hold ids, rows' ids tested
#: by the caller in the fetched targets, and the costs as shipped.
PLANS = {
    "whole": (10**9, 10**9, 10**9),
    "cut": (0, 10**9, 10**9),
    "ids": (3, 0, 0),
    "costed": (cohorts.TRIM, cohorts.GATHER, cohorts.TRANSFER),
}

#: Ids over five chunks of 1,024 (chunk_bits=10): on the cluster, over its nodes.
spread_ids = st.sets(st.integers(0, 5 * 1024), max_size=30)
spread_strategy = st.fixed_dictionaries(
    {
        "signup": st.dictionaries(st.integers(-9, 0), spread_ids, max_size=6),
        "active": st.dictionaries(st.integers(-9, 0), spread_ids, max_size=8),
    }
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    marks=spread_strategy,
    mode=st.sampled_from(["on", "on_or_after"]),
    first_time=st.booleans(),
    plan=st.sampled_from(sorted(PLANS)),
    per_call=st.sampled_from([1000, 7, 1]),
)
def test_every_plan_of_the_cells_matches_brute_force(
    make_analytics, clock, monkeypatch, marks, mode, first_time, plan, per_call
):
    """Every plan, and a table split over several script calls per chunk."""
    monkeypatch.setattr(cohorts, "CELLS_PER_CALL", per_call)
    monkeypatch.setattr(cohorts, "TRIM", PLANS[plan][0])
    monkeypatch.setattr(cohorts, "GATHER", PLANS[plan][1])
    monkeypatch.setattr(cohorts, "TRANSFER", PLANS[plan][2])
    pp = make_analytics(chunk_bits=10)
    load(pp, clock, marks)
    cohort_type = "first_time" if first_time else "recurring"
    table = cohort_table(
        pp, "signup", "active", cohorts=6, offsets=5, mode=mode, cohort_type=cohort_type
    )
    assert (table.sizes, table.counts) == brute_force(marks, 6, 5, 0, mode, first_time)
    pp.delete_all()


@pytest.mark.parametrize("plan", sorted(PLANS))
def test_each_plan_on_signup_bands_dense_and_sparse_events(
    make_analytics, clock, monkeypatch, round_trips, plan
):
    """The workloads of the benchmarks in small: signups in narrow id bands, an
    event over all users and a rare one, over eight chunks; every plan agrees
    with the sets, in one round trip per node."""
    for name, value in zip(("TRIM", "GATHER", "TRANSFER"), PLANS[plan], strict=True):
        monkeypatch.setattr(cohorts, name, value)
    monkeypatch.setattr(cohorts, "CELLS_PER_CALL", 10)  # several calls, one round trip
    pp = make_analytics(chunk_bits=10)
    users, rng = 8 * 1024, random.Random(7)
    marks: dict[str, dict[int, set[int]]] = {"signup": {}, "active": {}, "rare": {}}
    for d in range(-5, 1):
        band = range((d + 5) * users // 6, (d + 6) * users // 6)
        marks["signup"][d] = set(band)
        marks["active"][d] = {i for i in range(users) if rng.random() < 0.3}
        marks["rare"][d] = {i for i in range(users) if rng.random() < 0.002}
    load(pp, clock, marks)
    pp.chunks()
    for first, second in (("signup", "active"), ("active", "active"), ("rare", "rare")):
        with round_trips:
            table = cohort_table(pp, first, second, cohorts=6, offsets=5)
        assert round_trips.one()
        picked = {"signup": marks[first], "active": marks[second]}
        assert (table.sizes, table.counts) == brute_force(picked, 6, 5, 0)


def test_cells_survive_a_script_flush(pp, clock, redis_client):
    pp.mark_many([("signup", i, day(clock, -1)) for i in range(6)])
    pp.mark_many([("active", i) for i in range(0, 6, 2)])
    redis_client.script_flush()  # NOSCRIPT: the script is loaded and sent again
    table = cohort_table(pp, "signup", "active", cohorts=2, offsets=1)
    assert table.sizes == [6, 0] and table.counts[0] == [0, 3]
    assert not [k for k in redis_client.scan_iter(match=f"{pp.keys.prefix}:*cohort-cells*")]


def test_select1b_and_select2b_narrow_the_sets(pp, clock):
    pp.mark_many([("signup", i, day(clock, -1)) for i in range(6)])
    pp.mark_many([("country:US", i, day(clock, -1)) for i in range(3)])
    pp.mark_many([("active", i) for i in range(6)])
    pp.mark_many([("premium", i) for i in (0, 4)])
    table = cohort_table(
        pp, "signup", "active", select1b="country:US", select2b="premium", cohorts=2, offsets=1
    )
    assert table.sizes == [3, 0]
    assert table.counts[0] == [0, 1]


def test_expressions_as_selections(pp, clock):
    pp.mark_many([("a", 1), ("a", 2), ("b", 2), ("active", 2)])
    expr = pp.event("a") - pp.event("b")
    table = cohort_table(pp, expr, "active", cohorts=1, offsets=0)
    assert table.sizes == [1] and table.counts == [[0]]


def test_bad_cohort_arguments(pp):
    with pytest.raises(InvalidGranularity, match="tracked: day, week, month"):
        cohort_table(pp, "a", "b", granularity="hour")
    with pytest.raises(InvalidValue, match="allowed: on, on_or_after"):
        cohort_table(pp, "a", "b", mode="after")
    with pytest.raises(InvalidValue, match="allowed: recurring, first_time"):
        cohort_table(pp, "a", "b", cohort_type="new")
    with pytest.raises(InvalidValue, match="cohorts must be"):
        cohort_table(pp, "a", "b", cohorts=0)
    with pytest.raises(InvalidValue, match="cells"):
        cohort_table(pp, "a", "b", cohorts=1000, offsets=1000)
    with pytest.raises(ValueError, match="invalid event name"):
        cohort_table(pp, "bad name", "b")


def test_funnel_steps_in_a_window(pp, clock):
    pp.mark_many([("visit", i, day(clock, -3)) for i in range(10)])
    pp.mark_many([("signup", i, day(clock, -2)) for i in range(6)])
    pp.mark_many([("signup", 9, day(clock, -10))])  # long before: not in the funnel
    pp.mark_many([("purchase", i, day(clock, 0)) for i in range(0, 6, 2)])
    result = funnel(pp, ["visit", "signup", "purchase"], window=3, start=-3, end=0)
    assert result.counts == [10, 6, 3]
    assert result.conversion() == [None, 60.0, 50.0]
    assert result.overall() == 30.0
    narrow = funnel(pp, ["visit", "signup", "purchase"], window=1, start=-3, end=-3)
    assert narrow.counts == [10, 6, 0]


def test_funnel_conversion_over_time_and_time_to_convert(pp, clock):
    # Entered 3 days ago: 0-3 sign up the same day, 4-5 two days later; 0 and 4
    # buy the day after signing up. Entered yesterday: 10-11, 10 signs up today.
    pp.mark_many([("visit", i, day(clock, -3)) for i in range(8)])
    pp.mark_many([("signup", i, day(clock, -3)) for i in range(4)])
    pp.mark_many([("signup", i, day(clock, -1)) for i in (4, 5)])
    pp.mark_many([("purchase", 0, day(clock, -2)), ("purchase", 4, day(clock, 0))])
    pp.mark_many([("visit", i, day(clock, -1)) for i in (10, 11)])
    pp.mark_many([("signup", 10, day(clock, 0))])
    result = funnel(pp, ["visit", "signup", "purchase"], window=3, start=-3, times=True)
    assert result.counts == [10, 7, 2]
    assert [(p.label, counts) for p, counts in result.entries] == [
        (pp.period("day", day(clock, -3)).label, [8, 6, 2]),
        (pp.period("day", day(clock, -2)).label, [0, 0, 0]),
        (pp.period("day", day(clock, -1)).label, [2, 1, 0]),
        (pp.period("day", day(clock, 0)).label, [0, 0, 0]),
    ]
    # within[k][d]: reached step k within d days of entering.
    assert result.within == [[10, 10, 10, 10], [4, 5, 7, 7], [0, 1, 1, 2]]
    # 4 of the 7 who signed up did on their entry day; 1 of the 2 buyers within a day.
    assert result.median_periods() == [0, 0, 1]
    # Without times=True there are no times to ask for.
    with pytest.raises(InvalidValue, match="times=True"):
        funnel(pp, ["visit", "signup"]).median_periods()


def test_time_to_convert_is_bounded(pp):
    with pytest.raises(InvalidValue, match="at most 60 periods") as info:
        funnel(pp, ["a", "b"], window=61, times=True)
    assert info.value.field == "window"
    with pytest.raises(InvalidValue, match="too large: narrow"):
        funnel(pp, [f"s{i}" for i in range(10)], window=60, start=-30, times=True)
    assert funnel(pp, ["a", "b"], window=61).counts == [0, 0]  # counts alone: fine


def test_bad_funnels(pp):
    with pytest.raises(InvalidValue, match="2 to 10 steps"):
        funnel(pp, ["a"])
    with pytest.raises(InvalidValue, match="2 to 10 steps"):
        funnel(pp, [f"s{i}" for i in range(11)])
    with pytest.raises(InvalidValue, match="window"):
        funnel(pp, ["a", "b"], window=-1)
