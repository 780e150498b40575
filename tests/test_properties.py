"""Person and event properties: set, overwrite, where, breakdown of every analysis,
against brute-force models on one server and on the cluster, in UTC and DST zones."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from porpoise_django.engine import (
    OTHER,
    InvalidExpression,
    InvalidName,
    InvalidValue,
    cohort_table,
    funnel,
    lifecycle,
    parse_query,
    stickiness,
)

CHUNK = 1 << 10  # small chunks: ids cross chunk boundaries


def test_person_properties_move_an_id_out_of_its_previous_value(make_analytics):
    pp = make_analytics(chunk_bits=10)
    pp.set_properties(7, {"plan": "free", "country": "FR"})
    pp.set_properties(CHUNK + 3, {"plan": "pro"})
    pp.set_properties(7, {"plan": "pro"})  # moves, country kept
    assert sorted(pp.where(plan="pro")) == [7, CHUNK + 3]
    assert list(pp.where(plan="free")) == []
    assert list(pp.where(plan="pro", country="FR")) == [7]
    pp.set_properties(7, {"plan": None})  # cleared
    assert list(pp.where(plan="pro")) == [CHUNK + 3]
    assert pp.property_names() == {"country": "person", "plan": "person"}
    assert pp.property_values("plan") == ["free", "pro"]


def test_set_properties_is_one_round_trip_once_values_are_known(make_analytics, round_trips):
    pp = make_analytics()
    pp.set_properties(1, {"plan": "pro", "country": "US", "source": "ads"})
    with round_trips:
        pp.set_properties(2, {"plan": "pro", "country": "US", "source": "ads"})
    assert round_trips.one()


def test_where_combines_with_events_and_the_query_language(make_analytics):
    pp = make_analytics()
    for user, plan in [(1, "pro"), (2, "free"), (3, "pro"), (4, "free")]:
        pp.set_properties(user, {"plan": plan})
    pp.mark_many([("active", 1), ("active", 2), ("active", 3), ("login", 3)])
    day = pp.period("day")
    active = pp.event("active").day()
    assert sorted(active & pp.where(plan="pro")) == [1, 3]
    assert sorted(active - pp.where(plan="pro")) == [2]
    for text in ('active & plan="pro"', "active & plan = pro", "active & plan=pro"):
        assert sorted(parse_query(pp, text).bind(day)) == [1, 3], text
    assert list(parse_query(pp, "login & ~(plan=free)").bind(day)) == [3]
    with pytest.raises(InvalidExpression, match="value is missing"):
        parse_query(pp, "active & plan =")


def test_event_properties_are_per_bucket_and_break_an_event_down(make_analytics, clock):
    pp = make_analytics()
    monday = dt.datetime(2026, 11, 16, 12, tzinfo=dt.UTC)
    pp.mark("purchase", 1, monday, properties={"source": "ads"})
    pp.mark("purchase", 2, monday, properties={"source": "mail"})
    pp.mark("purchase", 1, monday + dt.timedelta(days=1), properties={"source": "mail"})
    pp.mark_many([("purchase", 3, monday, {"source": "ads"}), ("purchase", 4, monday)])
    first = pp.event("purchase").day(monday)
    assert sorted(first) == [1, 2, 3, 4]
    assert first.breakdown("source") == {"ads": 2, "mail": 1}
    week = pp.event("purchase").week(monday)
    assert week.breakdown("source") == {"mail": 2, "ads": 2}
    # the restricted events are part of purchase, not events of their own
    assert pp.event_names() == ["purchase"]
    assert sorted(parse_query(pp, "purchase=source=ads").bind(week.period)) == [1, 3]


def test_breakdown_of_an_expression_restricts_the_carrier_only(make_analytics):
    pp = make_analytics()
    pp.mark_many([("active", i) for i in range(1, 6)])
    pp.mark_many(
        [("purchase", 1, None, {"source": "ads"}), ("purchase", 2, None, {"source": "seo"})]
    )
    pp.mark("refund", 2)
    day = pp.period("day")
    bought = pp.event("active").bind(day) & pp.event("purchase").bind(day)
    assert bought.breakdown("source") == {"ads": 1, "seo": 1}
    kept = pp.event("purchase").bind(day) - pp.event("refund").bind(day)
    assert kept.breakdown("source") == {"ads": 1, "seo": 0}
    with pytest.raises(InvalidExpression, match="carries"):
        pp.event("active").bind(day).breakdown("source")


def test_a_name_is_a_person_or_an_event_property_never_both(make_analytics):
    pp = make_analytics()
    pp.set_properties(1, {"plan": "pro"})
    with pytest.raises(InvalidValue, match="person property"):
        pp.mark("purchase", 1, properties={"plan": "pro"})
    pp.mark("purchase", 1, properties={"source": "ads"})
    with pytest.raises(InvalidValue, match="event property"):
        pp.set_properties(1, {"source": "ads"})
    with pytest.raises(InvalidExpression, match="event property"):
        pp.where(source="ads")
    # a second process learns the kinds from Redis
    other = make_analytics()
    with pytest.raises(InvalidValue, match="person property"):
        other.mark("purchase", 2, properties={"plan": "free"})


def test_bad_names_values_and_unknown_properties(make_analytics):
    pp = make_analytics()
    pp.mark("active", 1)
    with pytest.raises(InvalidName):
        pp.set_properties(1, {"pl an": "pro"})
    with pytest.raises(InvalidValue, match="value of property"):
        pp.set_properties(1, {"plan": "p=ro"})
    with pytest.raises(InvalidValue, match="reserved"):
        pp.set_properties(1, {"plan": OTHER})
    with pytest.raises(InvalidValue, match="properties must be a dict"):
        pp.set_properties(1, ["plan"])
    with pytest.raises(InvalidValue, match="at most"):
        pp.set_properties(1, {f"p{i}": "x" for i in range(21)})
    with pytest.raises(InvalidValue, match="unknown property 'plan'; known: none yet"):
        pp.event("active").day().breakdown("plan")
    with pytest.raises(InvalidValue, match="top must be"):
        pp.set_properties(1, {"plan": "pro"})
        pp.event("active").day().breakdown("plan", top=0)
    # a bad row names its number and writes nothing
    with pytest.raises(InvalidValue, match="row 1"):
        pp.mark_many([("buy", 1, None, {"src": "a"}), ("buy", 2, None, {"src": "b c"})])
    assert pp.event("buy").day().count() == 0


def test_values_beyond_the_bound_count_as_other(make_analytics):
    pp = make_analytics(max_property_values=3)
    for user in range(6):
        pp.set_properties(user, {"city": f"c{user}"})
        pp.mark("active", user)
    assert pp.property_values("city") == ["c0", "c1", "c2", OTHER]
    day = pp.event("active").day()
    assert day.breakdown("city") == {"c0": 1, "c1": 1, "c2": 1, OTHER: 3}
    assert day.breakdown("city", top=1) == {"c0": 1, OTHER: 5}


def test_breakdown_is_one_round_trip(make_analytics, round_trips):
    pp = make_analytics()
    for user in range(40):
        pp.set_properties(user, {"plan": f"p{user % 10}"})
        pp.mark("active", user)
    day = pp.event("active").day()
    day.breakdown("plan")  # the values are read once, then cached a moment
    with round_trips:
        counts = day.breakdown("plan")
    assert round_trips.one()
    assert counts == {f"p{k}": 4 for k in range(10)}


def test_analyses_split_by_person_and_event_properties(make_analytics, clock):
    pp = make_analytics()
    start = clock.now - dt.timedelta(days=3)
    plans = {1: "pro", 2: "pro", 3: "free", 4: "free"}
    for user, plan in plans.items():
        pp.set_properties(user, {"plan": plan})
        pp.mark("signup", user, start, properties={"source": "ads" if user % 2 else "seo"})
    pp.mark_many([("active", 1, start + dt.timedelta(days=1)), ("active", 3)])
    tables = cohort_table(pp, "signup", "active", cohorts=4, offsets=3, breakdown="plan")
    assert set(tables) == {"free", "pro"}
    assert [t.sizes for t in (tables["pro"], tables["free"])] == [[2, 0, 0, 0], [2, 0, 0, 0]]
    assert tables["pro"].counts[0][:2] == [0, 1] and tables["free"].counts[0][3] == 1
    by_source = cohort_table(pp, "signup", "active", cohorts=4, offsets=3, breakdown="source")
    assert by_source["ads"].sizes[0] == 2 and by_source["ads"].counts[0][1] == 1
    flows = funnel(pp, ["signup", "active"], window=7, start=-5, breakdown="plan")
    assert flows["pro"].counts == [2, 1] and flows["free"].counts == [2, 1]
    assert flows["pro"].steps == ["signup", "active"]
    assert funnel(pp, ["signup", "active"], window=7, start=-5, breakdown="source")[
        "seo"
    ].counts == [2, 0]
    lives = lifecycle(pp, "active", pp.range("day", -3), breakdown="plan")
    assert lives["free"].new == [0, 0, 0, 1] and lives["pro"].new == [0, 1, 0, 0]
    sticky = stickiness(pp, "active", pp.period("week", start), breakdown="plan")
    assert set(sticky) == {"free", "pro"}


def test_delete_all_removes_properties(make_analytics, redis_client, key_prefix):
    pp = make_analytics()
    pp.set_properties(1, {"plan": "pro"})
    pp.mark("buy", 1, properties={"source": "ads"})
    pp.delete_all()
    leftover = [k for k in redis_client.scan_iter(f"{key_prefix}:*") if b"gen" not in k]
    assert leftover == []
    assert pp.property_names() == {}
    pp.set_properties(2, {"plan": "pro"})  # usable again, caches dropped
    assert list(pp.where(plan="pro")) == [2]


# -- model-based: random writes against a brute-force model --------------------------------
ZONES = [
    ("UTC", dt.datetime(2026, 12, 31, 23, 30)),  # ISO week 53, near midnight
    ("Europe/Paris", dt.datetime(2026, 10, 25, 1, 30)),  # the repeated hour
    ("Australia/Lord_Howe", dt.datetime(2026, 4, 5, 1, 45)),  # a half-hour DST change
]
ids = st.integers(0, 3 * CHUNK)
person_op = st.tuples(st.just("set"), ids, st.sampled_from(["pro", "free", "team", None]))
event_op = st.tuples(
    st.just("mark"), ids, st.integers(0, 30), st.sampled_from(["ads", "seo", "mail", None])
)


@pytest.mark.parametrize(("zone", "start"), ZONES)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(st.one_of(person_op, event_op), max_size=40))
def test_breakdowns_match_a_brute_force_model(make_analytics, clock, zone, start, ops):
    tz = ZoneInfo(zone)
    clock.now = start.replace(tzinfo=tz) + dt.timedelta(hours=6)
    pp = make_analytics(chunk_bits=10, tz=zone, max_property_values=2)
    plans: dict[int, str] = {}
    marks: dict[str, dict[int, set[str | None]]] = {}  # day key -> id -> sources
    first_plans: list[str] = []
    first_sources: list[str] = []
    periods = {}
    for op in ops:
        if op[0] == "set":
            _, user, plan = op
            pp.set_properties(user, {"plan": plan})
            if plan is not None and plan not in first_plans:
                first_plans.append(plan)
            if plan is None:
                plans.pop(user, None)
            else:
                plans[user] = plan
        else:
            _, user, minutes, source = op
            when = start.replace(tzinfo=tz) + dt.timedelta(minutes=10 * minutes)
            pp.mark("buy", user, when, properties={"source": source} if source else None)
            if source is not None and source not in first_sources:
                first_sources.append(source)
            day = pp.period("day", when).key
            periods[day] = pp.period("day", when)
            marks.setdefault(day, {}).setdefault(user, set()).add(source)
    kept = first_plans[:2]

    def stored_plan(plan: str) -> str:
        return plan if plan in kept else OTHER

    def stored_source(source: str) -> str:
        return source if source in first_sources[:2] else OTHER

    for day_key, buyers in marks.items():
        bitmap = pp.event("buy").bind(periods[day_key])
        assert sorted(bitmap) == sorted(buyers)
        if plans:
            expected: dict[str, int] = {}
            for user in buyers:
                if user in plans:
                    value = stored_plan(plans[user])
                    expected[value] = expected.get(value, 0) + 1
            got = {v: n for v, n in bitmap.breakdown("plan").items() if n}
            assert got == expected
        sources = {s for got in buyers.values() for s in got if s}
        if sources:
            by_source = {v: n for v, n in bitmap.breakdown("source").items() if n}
            expected_sources = {}
            for user, got in buyers.items():
                for value in {stored_source(s) for s in got if s}:
                    expected_sources.setdefault(value, set()).add(user)
            assert by_source == {v: len(u) for v, u in expected_sources.items()}
    for plan in kept:
        assert sorted(pp.where(plan=plan)) == sorted(u for u, p in plans.items() if p == plan)
    pp.delete_all()


def test_a_series_per_value_in_one_round_trip(make_analytics, clock, round_trips):
    pp = make_analytics()
    for user in range(6):
        pp.set_properties(user, {"plan": "pro" if user < 2 else "free"})
        pp.mark("active", user, clock.now - dt.timedelta(days=user % 3))
    days = pp.range("day", -2)
    pp.event("active").counts(days, breakdown="plan")  # values and chunks read once
    with round_trips:
        series = pp.event("active").counts(days, breakdown="plan")
    assert round_trips.one()
    assert {v: [n for _, n in s] for v, s in series.items()} == {
        "free": [2, 1, 1],
        "pro": [0, 1, 1],
    }


def test_importing_person_properties_moves_ids_like_set_properties(make_analytics):
    pp = make_analytics(chunk_bits=10)
    pp.set_properties(5, {"plan": "free"})
    users = [5, 6, CHUNK + 1, 2 * CHUNK + 9]
    assert pp.import_properties("plan", users, ["pro", "team", "pro", "free"]) == 4
    assert sorted(pp.where(plan="pro")) == [5, CHUNK + 1]
    assert sorted(pp.where(plan="free")) == [2 * CHUNK + 9]
    pp.import_properties("plan", [5], ["team"])
    assert sorted(pp.where(plan="team")) == [5, 6] and 5 not in pp.where(plan="pro")
    with pytest.raises(InvalidValue, match="differ in length"):
        pp.import_properties("plan", [1, 2], ["pro"])


def test_importing_event_properties_in_bulk(make_analytics, clock):
    pp = make_analytics()
    ids = [1, 2, 3, 4]
    stamps = [clock.now.timestamp() - 60] * 4
    pp.import_arrays("signup", ids, stamps)
    assert pp.import_event_property("signup", "source", ids, stamps, ["ads", "seo", "ads", 7]) == 4
    assert pp.event("signup").day().breakdown("source") == {"ads": 2, "7": 1, "seo": 1}
    assert pp.event_names() == ["signup"]
    with pytest.raises(InvalidValue, match="differ in length"):
        pp.import_event_property("signup", "source", ids, stamps, ["ads"])


DAYS_AROUND = [
    ("Europe/Paris", dt.datetime(2026, 10, 27, 12)),  # the autumn change two days ago
    ("America/Santiago", dt.datetime(2026, 9, 8, 12)),  # a day that starts at 01:00
]
activity = st.dictionaries(
    st.integers(0, 11),  # user
    st.tuples(st.sets(st.integers(-5, 0), max_size=4), st.sets(st.integers(-5, 0), max_size=4)),
    max_size=10,
)
plans_of = st.dictionaries(st.integers(0, 11), st.sampled_from(["a", "b"]))


def store_with(make_analytics, clock, zone, noon, days, plans, granularities):
    """A store holding ``days`` (user -> days of visit and of buy, as offsets from
    a local noon) and the users' ``plans``."""
    clock.now = noon.replace(tzinfo=ZoneInfo(zone))
    pp = make_analytics(tz=zone, granularities=granularities)
    rows = []
    for user, (visits, buys) in days.items():
        rows += [("visit", user, clock.now + dt.timedelta(days=d)) for d in visits]
        rows += [("buy", user, clock.now + dt.timedelta(days=d)) for d in buys]
    if rows:
        pp.mark_many(rows)
    for user, plan in plans.items():
        pp.set_properties(user, {"plan": plan})
    return pp


@pytest.mark.parametrize(("zone", "noon"), DAYS_AROUND)
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(days=activity, plans=plans_of)
def test_cohort_and_funnel_breakdowns_match_brute_force(
    make_analytics, clock, zone, noon, days, plans
):
    pp = store_with(make_analytics, clock, zone, noon, days, plans, ("day",))
    if not plans:
        pp.delete_all()
        return
    tables = cohort_table(pp, "visit", "buy", cohorts=6, offsets=2, breakdown="plan")
    flows = funnel(pp, ["visit", "buy"], window=1, start=-5, breakdown="plan")
    for plan in pp.property_values("plan"):
        members = {u for u, p in plans.items() if p == plan}
        table = tables[plan]
        for r, offset in enumerate(range(-5, 1)):
            cohort = {u for u in members if offset in days.get(u, (set(), set()))[0]}
            assert table.sizes[r] == len(cohort)
            for i, cell in enumerate(table.counts[r]):
                if cell is not None:
                    assert cell == len({u for u in cohort if offset + i in days[u][1]})
        entered = {u for u in members if days.get(u, (set(), set()))[0]}
        converted = {
            u for u in entered if any(v in days[u][1] or v + 1 in days[u][1] for v in days[u][0])
        }
        assert flows[plan].counts == [len(entered), len(converted)]
    pp.delete_all()


@pytest.mark.parametrize(("zone", "noon"), DAYS_AROUND)
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(days=activity, plans=plans_of)
def test_lifecycle_and_stickiness_breakdowns_match_brute_force(
    make_analytics, clock, zone, noon, days, plans
):
    pp = store_with(make_analytics, clock, zone, noon, days, plans, ("day", "week"))
    if not plans:
        pp.delete_all()
        return
    lives = lifecycle(pp, "visit", pp.range("day", -4), breakdown="plan")
    week = pp.period("week")
    sticky = stickiness(pp, "visit", week, breakdown="plan")
    for plan in pp.property_values("plan"):
        members = {u for u, p in plans.items() if p == plan}
        on = {d: {u for u in members if d in days.get(u, (set(), set()))[0]} for d in range(-5, 1)}
        for k, offset in enumerate(range(-4, 1)):
            history = set().union(*(on[d] for d in range(-5, offset)))
            assert lives[plan].new[k] == len(on[offset] - history)
            assert lives[plan].returning[k] == len(on[offset] & on[offset - 1])
            assert lives[plan].dormant[k] == -len(on[offset - 1] - on[offset])
        in_week = {
            u: sum(
                1
                for d in days.get(u, (set(), set()))[0]
                if week.start <= clock.now + dt.timedelta(days=d) < week.period_end()
            )
            for u in members
        }
        assert sticky[plan].users == sum(1 for n in in_week.values() if n)
    pp.delete_all()
