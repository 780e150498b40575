"""The people behind a number: pages of ids, segments, one id's activity, forget.

Checked against a brute-force model (plain Python sets), on one server and on
the cluster (see conftest.CLUSTER_MODULES), with small chunks so that pages
and forgetting cross chunk boundaries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from porpoise_django.engine import (
    MAX_PEOPLE_LIMIT,
    Analytics,
    InvalidExpression,
    InvalidName,
    InvalidValue,
    cohort_cell,
    cohort_table,
    funnel,
    funnel_step,
    lifecycle,
    lifecycle_state,
    parse_query,
    stickiness,
    stickiness_days,
)

CHUNK_BITS = 10
CHUNK = 1 << CHUNK_BITS
MAX_ID = (1 << 32) - 1
HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Ids around chunk boundaries, 0 and MAX_ID.
EDGE_IDS = st.sampled_from(
    [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK - 1, 3 * CHUNK, MAX_ID - 1, MAX_ID]
)
IDS = st.sets(st.one_of(EDGE_IDS, st.integers(0, 5 * CHUNK)), max_size=60)


def fresh(make_analytics: Any, **options: Any) -> Analytics:
    """A store of its own (a hypothesis example must not see the previous one's data)."""
    options.setdefault("chunk_bits", CHUNK_BITS)
    pp: Analytics = make_analytics(**options)
    pp.delete_all()
    return pp


def all_pages(pp: Analytics, bitmap: Any, limit: int) -> list[Any]:
    ids: list[Any] = []
    offset: int | None = 0
    while offset is not None:
        page = pp.people(bitmap, offset, limit)
        ids += page.ids
        offset = page.next_offset
    return ids


# -- people() ----------------------------------------------------------------------------
@HYPOTHESIS
@given(
    a=IDS, b=IDS, offset=st.integers(0, 130), limit=st.integers(1, 70), op=st.sampled_from("&|-^")
)
def test_pages_match_the_model(
    make_analytics: Any, a: set[int], b: set[int], offset: int, limit: int, op: str
) -> None:
    pp = fresh(make_analytics)
    pp.mark_many([("a", i) for i in a] + [("b", i) for i in b])
    day = pp.period("day")
    left, right = pp.event("a").day(), pp.event("b").day()
    expression = {"&": left & right, "|": left | right, "-": left - right, "^": left ^ right}[op]
    model = sorted({"&": a & b, "|": a | b, "-": a - b, "^": a ^ b}[op])
    page = pp.people(expression, offset, limit)
    assert page.ids == model[offset : offset + limit]
    assert page.total == len(model)
    assert page.next_offset == (offset + limit if offset + limit < len(model) else None)
    # every page in turn gives every member once, in order
    assert all_pages(pp, expression, limit) == model
    assert pp.people(left, 0, MAX_PEOPLE_LIMIT).ids == sorted(a)
    assert (
        parse_query(pp, "a").bind(day).people(offset, limit).ids
        == sorted(a)[offset : offset + limit]
    )


def test_pages_cross_chunk_boundaries_exactly(pp_small: Analytics) -> None:
    pp = pp_small
    ids = [0, CHUNK - 2, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1, 7 * CHUNK, MAX_ID]
    pp.mark_many([("active", i) for i in ids])
    active = pp.event("active").day()
    for limit in range(1, len(ids) + 2):
        for offset in range(len(ids) + 2):
            assert pp.people(active, offset, limit).ids == ids[offset : offset + limit]
    assert pp.people(active, 0, 3).total == len(ids)
    assert pp.people(active, 100).ids == []


def test_people_takes_two_round_trips_whatever_the_store(
    pp_small: Analytics, round_trips: Any
) -> None:
    pp = pp_small
    pp.mark_many([("active", i) for i in range(0, 40 * CHUNK, 7)])
    active = pp.event("active").day()
    pp.chunks()
    with round_trips as rt:
        page = pp.people(active & ~pp.unique("nobody"), 3 * CHUNK // 7, 50)
    assert page.ids == list(range(0, 40 * CHUNK, 7))[3 * CHUNK // 7 :][:50]
    assert rt.count <= 2 * rt.nodes


def test_people_in_map_mode(make_analytics: Any) -> None:
    pp = fresh(make_analytics, id_mode="map")
    users = [f"user-{n}" for n in range(2500)]  # three chunks of indexes
    pp.mark_many([("active", u) for u in users])
    pp.mark_many([("paid", u) for u in users[::3]])
    kept = pp.event("active").day() - pp.event("paid").day()
    index = dict(zip(users, pp.id_codec.to_indexes(users, create=False), strict=True))
    model = sorted((u for n, u in enumerate(users) if n % 3), key=index.__getitem__)
    assert all_pages(pp, kept, 97) == model  # in the order of the dense indexes
    assert pp.people(kept, 1000, 5).total == len(model)


@pytest.mark.parametrize(
    ("offset", "limit"),
    [(-1, 10), (0, 0), (0, MAX_PEOPLE_LIMIT + 1), ("3", 10), (True, 10), (0, 2.5)],
)
def test_bad_pages_are_refused_with_a_message(pp: Analytics, offset: Any, limit: Any) -> None:
    with pytest.raises(InvalidValue, match=r"offset|limit"):
        pp.people(pp.event("active").day(), offset, limit)


def test_people_needs_a_period(pp: Analytics) -> None:
    with pytest.raises(InvalidExpression, match="without a period"):
        pp.people(pp.event("active"))


# -- segments ------------------------------------------------------------------------------
def test_a_segment_is_a_snapshot_usable_everywhere(pp_small: Analytics, clock: Any) -> None:
    pp = pp_small
    pp.mark_many([("active", i) for i in (1, 2, CHUNK + 5, MAX_ID)])
    pp.mark_unique("premium", 2)
    free = pp.event("active").day() - pp.unique("premium")
    segment = free.save_as("free-today")
    assert sorted(segment) == [1, CHUNK + 5, MAX_ID]
    pp.mark("active", 9)  # a snapshot: later marks do not join
    assert len(pp.unique("free-today")) == 3
    day = pp.period("day")
    in_query = parse_query(pp, "segment(free-today) & active").bind(day)
    assert sorted(in_query) == [1, CHUNK + 5, MAX_ID]
    assert len(parse_query(pp, "unique(free-today)").bind(day)) == 3
    [listed] = pp.segments()
    assert (listed.name, listed.size) == ("free-today", 3)
    assert listed.saved_at == clock.now
    # saving again replaces the members
    clock.now += dt.timedelta(hours=1)
    (pp.event("active").day() & pp.unique("premium")).save_as("free-today")
    assert sorted(pp.unique("free-today")) == [2]
    assert pp.segments()[0].saved_at == clock.now
    assert "free-today" in pp.unique_names()
    assert pp.delete_segment("free-today") is True
    assert pp.segments() == [] and len(pp.unique("free-today")) == 0
    assert pp.delete_segment("free-today") is False


def test_a_segment_never_overwrites_a_unique_event(pp: Analytics) -> None:
    pp.mark_unique("premium", 2)
    with pytest.raises(InvalidName, match="unique event, not a segment"):
        pp.event("active").day().save_as("premium")
    assert list(pp.unique("premium")) == [2]
    with pytest.raises(InvalidName):
        pp.event("active").day().save_as("bad name!")
    with pytest.raises(InvalidExpression):
        pp.event("active").save_as("unbound")


def test_deleting_everything_deletes_segments(pp: Analytics) -> None:
    pp.mark("active", 3)
    pp.event("active").day().save_as("s")
    pp.delete_all()
    assert pp.segments() == []


# -- activity() ----------------------------------------------------------------------------
@HYPOTHESIS
@given(
    marks=st.lists(
        st.tuples(st.sampled_from(["login", "play", "pay"]), st.integers(0, 9)), max_size=25
    ),
    who=st.sampled_from([0, 5, CHUNK + 3, MAX_ID]),
)
def test_activity_matches_the_model(
    make_analytics: Any, clock: Any, marks: list[tuple[str, int]], who: int
) -> None:
    pp = fresh(make_analytics)
    now = clock.now
    rows = [(name, who, now - dt.timedelta(days=ago)) for name, ago in marks]
    rows += [(name, who + 1 if who < MAX_ID else 0, now) for name in ("other", "login")]
    if rows:
        pp.mark_many(rows)
    got = pp.activity(who, -9, 0)
    periods = pp.range("day", -9, 0).periods()
    assert got.periods == periods
    model: dict[str, list[bool]] = {}
    for name, ago in marks:
        model.setdefault(name, [False] * 10)[9 - ago] = True
    assert got.marks == dict(sorted(model.items()))
    assert got.events_in(periods[-1]) == sorted(n for n, ago in set(marks) if ago == 0)


def test_activity_lists_uniques_and_is_one_round_trip_to_the_id(
    pp_small: Analytics, round_trips: Any
) -> None:
    pp = pp_small
    for name in ("a", "b", "c"):
        pp.mark(name, CHUNK + 1)
    pp.mark_unique("premium", CHUNK + 1)
    pp.mark_unique("beta", 4)
    pp.chunks()
    with round_trips as rt:
        got = pp.activity(CHUNK + 1, -6, granularity="day")
    assert got.uniques == ["premium"]
    assert sorted(got.marks) == ["a", "b", "c"]
    assert rt.count <= 2 * rt.nodes  # the registry, then every GETBIT on the id's node
    week = pp.activity(CHUNK + 1, pp.range("week", -1))
    assert [p.granularity for p in week.periods] == ["week", "week"]
    assert pp.activity(12345, -3).marks == {}


def test_activity_of_an_unknown_id_in_map_mode_is_empty(make_analytics: Any) -> None:
    pp = fresh(make_analytics, id_mode="map")
    pp.mark("login", "ann")
    assert pp.activity("bob", -2).marks == {}
    assert list(pp.activity("ann", -2).marks) == ["login"]
    with pytest.raises(ValueError, match="not tracked"):
        pp.activity("ann", -2, granularity="fortnight")


# -- forget() ------------------------------------------------------------------------------
def assert_forgotten(pp: Analytics, external: Any, index: int, member: str) -> None:
    """Scan every key of the prefix: the id's bit is set in no bitmap, its id is
    a member of no sorted set and a field of no hash."""
    client = pp.client
    chunk, offset = divmod(index, pp.keys.chunk_size)
    tag = pp.keys.tag(chunk).encode()
    bitmaps = 0
    for key in client.scan_iter(match=f"{pp.keys.prefix}:*", count=1000):
        kind = client.type(key)
        if kind == b"string" and tag + b":" in key:
            assert client.getbit(key, offset) == 0, key
            bitmaps += 1
        elif kind == b"zset":
            assert client.zscore(key, member) is None, key
        elif kind == b"hash" and b"idmap" in key:
            assert not client.hexists(key, member), key
            assert not client.hexists(key, str(index)), key
    assert bitmaps > 0


def mark_a_year(pp: Analytics, clock: Any, who: Any, events: int = 50) -> None:
    """``who`` did each of ``events`` events on one day of each week of a year;
    others did the same, around the id's chunk boundaries."""
    rows = []
    start = clock.now - dt.timedelta(days=364)
    for number in range(events):
        for week in range(52):
            when = start + dt.timedelta(days=7 * week + number % 7, hours=number % 24)
            rows.append((f"event-{number}", who, when))
    pp.mark_many(rows)


@pytest.mark.parametrize("id_mode", ["int", "map"])
def test_forget_clears_the_id_everywhere(make_analytics: Any, clock: Any, id_mode: str) -> None:
    pp = fresh(make_analytics, id_mode=id_mode, granularities=("hour", "day", "week", "month"))
    who: Any = CHUNK - 1 if id_mode == "int" else "ann@example.com"
    others: list[Any] = [CHUNK - 2, CHUNK, 0] if id_mode == "int" else ["bob", "cy", "di"]
    mark_a_year(pp, clock, who, events=6)
    pp.mark_many([(f"event-{n}", o) for n in range(6) for o in others])
    pp.mark_unique("premium", who)
    pp.mark_unique("premium", others[0])
    pp.count("plays", who, 3)
    pp.count("plays", others[1], 2)
    pp.set_properties(who, {"plan": "pro"})
    pp.set_properties(others[0], {"plan": "pro"})
    pp.mark("purchase", who, properties={"source": "ads"})
    (pp.event("event-0").day() | pp.unique("premium")).save_as("vip")
    # an expression result in the id's chunk, still alive
    assert who in (pp.event("event-1").day() | pp.unique("premium")) - pp.unique("nobody")
    [index] = pp.id_codec.to_indexes([pp.id_codec.check(who)], create=False)

    forgotten = pp.forget(who)

    assert forgotten.bits > 6 * 52
    assert forgotten.counter_entries >= 1
    assert forgotten.mapped is (id_mode == "map")
    assert_forgotten(pp, who, index, str(who))
    # everybody else is intact
    assert sorted(pp.unique("premium"), key=str) == [others[0]]
    assert sorted(pp.unique("vip"), key=str) == sorted([*others, others[0]][:3], key=str)
    assert pp.counter("plays").get(pp.period("day")) == {str(others[1]): 2}
    assert len(pp.where(plan="pro")) == 1
    assert who not in pp.event("event-0").day()
    assert pp.activity(who, -6).marks == {}
    # a tombstone says when: a replay drops writes for the id made before it
    assert pp.forgotten_at([who, others[1], None]) == {str(who): clock.now.timestamp()}
    # forgetting twice, or an id never seen, is harmless
    assert pp.forget(who).bits == 0
    assert pp.forget(123456 if id_mode == "int" else "nobody").bits == 0


def test_forget_in_map_mode_drops_every_process_cache(make_analytics: Any) -> None:
    first = fresh(make_analytics, id_mode="map")
    second = make_analytics(id_mode="map", chunk_bits=CHUNK_BITS)
    first.mark("login", "ann")
    assert list(second.event("login").day()) == ["ann"]  # second caches ann's index
    first.forget("ann")
    second.mark("login", "ann")  # a new person: a new index, not the forgotten one
    assert list(second.event("login").day()) == ["ann"]
    [new] = [i for i in range(5) if first.client.getbit(first.keys.universe(0), i)]
    assert new == 1
    assert first.people(first.event("login").day()).ids == ["ann"]


def test_forget_refuses_bad_ids(pp: Analytics) -> None:
    with pytest.raises(ValueError, match=r"out of range|integer"):
        pp.forget(-1)
    with pytest.raises(ValueError):
        pp.forget("ann")


@pytest.fixture
def pp_small(make_analytics: Any) -> Analytics:
    return fresh(make_analytics)


# -- the ids behind a cohort cell or a funnel step ---------------------------------------
@HYPOTHESIS
@given(
    marks=st.lists(
        st.tuples(st.sampled_from(["signup", "active"]), st.integers(0, 40), st.integers(0, 8)),
        max_size=60,
    ),
    mode=st.sampled_from(["on", "on_or_after"]),
    cohort_type=st.sampled_from(["recurring", "first_time"]),
)
def test_cohort_cells_hold_the_ids_the_table_counts(
    make_analytics: Any,
    clock: Any,
    marks: list[tuple[str, int, int]],
    mode: str,
    cohort_type: str,
) -> None:
    pp = fresh(make_analytics)
    if marks:
        pp.mark_many([(e, who, clock.now - dt.timedelta(days=ago)) for e, who, ago in marks])
    first = pp.period("day", -5)
    shape = {"mode": mode, "cohort_type": cohort_type}
    table = cohort_table(pp, "signup", "active", cohorts=5, offsets=4, start=first.start, **shape)
    for row in range(5):
        whole = cohort_cell(
            pp, "signup", "active", first=first.start, row=row, offset=None, **shape
        )
        size = pp.people(whole)
        assert size.total == table.sizes[row]
        for offset, count in enumerate(table.counts[row]):
            cell = cohort_cell(pp, "signup", "active", first=first, row=row, offset=offset, **shape)
            assert pp.people(cell).total == (count or 0)
            assert set(pp.people(cell).ids) <= set(size.ids)


def test_funnel_steps_hold_the_ids_the_funnel_counts(pp_small: Analytics, clock: Any) -> None:
    pp = pp_small
    now = clock.now
    rows = []
    for who in range(60):
        rows.append(("visit", who, now - dt.timedelta(days=who % 6)))
        if who % 2:
            rows.append(("signup", who, now - dt.timedelta(days=max(0, who % 6 - who % 3))))
        if who % 4 == 1:
            rows.append(("buy", who, now))
    pp.mark_many(rows)
    steps = ["visit", "signup", "buy"]
    result = funnel(pp, steps, window=2)
    for k, count in enumerate(result.counts):
        assert pp.people(funnel_step(pp, steps, k, window=2)).total == count
    with pytest.raises(InvalidValue, match="step"):
        funnel_step(pp, steps, 3)


@HYPOTHESIS
@given(
    marks=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 9)), max_size=50),
    expression=st.booleans(),
)
def test_lifecycle_bars_hold_the_ids_the_lifecycle_counts(
    make_analytics: Any, clock: Any, marks: list[tuple[int, int]], expression: bool
) -> None:
    pp = fresh(make_analytics)
    if marks:
        pp.mark_many([("active", who, clock.now - dt.timedelta(days=ago)) for who, ago in marks])
    pp.mark_unique("staff", 3)
    event: Any = pp.event("active") - pp.unique("staff") if expression else "active"
    periods = pp.range("day", -5)
    result = lifecycle(pp, event, periods)
    first = periods.first
    for i, period in enumerate(periods):
        for state in ("new", "returning", "resurrecting", "dormant"):
            bar = lifecycle_state(pp, event, period, state, first=first)
            assert pp.people(bar).total == abs(getattr(result, state)[i]), (state, i)
    with pytest.raises(InvalidValue, match="state"):
        lifecycle_state(pp, "active", first, "gone")


@HYPOTHESIS
@given(
    marks=st.lists(
        st.tuples(st.one_of(EDGE_IDS, st.integers(0, 40)), st.integers(0, 30)), max_size=80
    ),
    expression=st.booleans(),
    granularity=st.sampled_from(["week", "month"]),
)
def test_stickiness_bars_hold_the_ids_stickiness_counts(
    make_analytics: Any,
    clock: Any,
    marks: list[tuple[int, int]],
    expression: bool,
    granularity: str,
) -> None:
    pp = fresh(make_analytics)
    when = [(who, clock.now - dt.timedelta(days=ago)) for who, ago in marks]
    if when:
        pp.mark_many([("active", who, at) for who, at in when])
    pp.mark_unique("staff", 3)
    event: Any = pp.event("active") - pp.unique("staff") if expression else "active"
    period = pp.period(granularity, -1)
    result = stickiness(pp, event, period)
    model: dict[int, set[Any]] = {}  # brute force: each id's days in the period
    for who, at in when:
        if period.period_start() <= at < period.period_end() and not (expression and who == 3):
            model.setdefault(who, set()).add(pp.period("day", at).key)
    for days in range(1, result.days + 1):
        exactly = pp.people(stickiness_days(pp, event, period, days), limit=1000)
        assert exactly.total == result.exactly[days - 1]
        assert exactly.ids == sorted(w for w, d in model.items() if len(d) == days)
        at_least = stickiness_days(pp, event, period, days, at_least=True)
        assert pp.people(at_least).total == result.at_least[days - 1]
    with pytest.raises(InvalidValue, match="days"):
        stickiness_days(pp, "active", period, result.days + 1)
    with pytest.raises(ValueError, match="week or month"):
        stickiness_days(pp, "active", pp.period("day"), 1)


def test_activity_gives_the_current_person_properties(
    pp_small: Analytics, round_trips: Any
) -> None:
    pp = pp_small
    who = CHUNK + 1
    pp.mark("login", who)
    pp.set_properties(who, {"plan": "free", "country": "FR"})
    pp.set_properties(who, {"plan": "pro"})  # moves the id out of "free"
    pp.set_properties(4, {"plan": "team", "size": "large"})
    pp.mark("purchase", who, properties={"source": "ads"})  # an event property
    pp.activity(who, -6)  # loads the script on the server, once
    with round_trips as rt:
        got = pp.activity(who, -6)
    assert got.properties == {"country": "FR", "plan": "pro"}
    assert rt.count <= 2 * rt.nodes  # still the registry, then the id's node
    assert got.marks["purchase=source=ads"][-1]  # the value an event carried
    pp.set_properties(who, {"country": None})
    assert pp.activity(who, -6).properties == {"plan": "pro"}
    assert pp.activity(4, -6).properties == {"plan": "team", "size": "large"}
    assert pp.activity(99, -6).properties == {}
