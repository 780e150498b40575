"""Bit-operation expressions checked against Python sets, on a real server."""

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from porpoise_django.engine import BitOp, InvalidExpression

CHUNK_BITS = 10  # small chunks so that random ids span several of them


def test_operators_against_sets(make_analytics):
    pp = make_analytics(chunk_bits=CHUNK_BITS)
    a_ids, b_ids, c_ids = {1, 2, 3, 2000}, {2, 3, 4, 5000}, {3, 9}
    pp.mark_many([("a", i) for i in a_ids] + [("b", i) for i in b_ids] + [("c", i) for i in c_ids])
    a, b, c = (pp.event(n).day() for n in "abc")
    universe = a_ids | b_ids | c_ids
    assert set(a & b) == a_ids & b_ids
    assert set(a | b) == a_ids | b_ids
    assert set(a ^ b) == a_ids ^ b_ids
    assert set(a - b) == a_ids - b_ids
    assert set(~a) == universe - a_ids
    assert set((a | b) & ~c) == (a_ids | b_ids) - c_ids
    assert len((a & b) | c) == len((a_ids & b_ids) | c_ids)
    assert 2000 in a - b and 2 not in a - b


def test_not_is_bounded_by_the_universe_not_by_bitmap_length(make_analytics):
    # bitmapist issue #14: ~x counted every zero bit up to the bitmap's length.
    pp = make_analytics()
    pp.mark_many([("active", 1), ("active", 5000), ("login", 1)])
    assert len(~pp.event("login").day()) == 1


def test_expression_templates_bind_to_any_period(pp, clock):
    yesterday = clock.now - dt.timedelta(days=1)
    pp.mark_many([("login", 1, yesterday), ("played", 1, yesterday), ("login", 2), ("played", 2)])
    template = pp.event("login") & pp.event("played")
    with pytest.raises(InvalidExpression, match="without a period"):
        len(template)
    assert list(template(pp.period("day", -1))) == [1]
    series = pp.counts(template, pp.range("day", -2))
    assert [count for _, count in series] == [0, 1, 1]


def test_results_live_in_expiring_temporary_keys(make_analytics, redis_client):
    pp = make_analytics(temp_ttl=30)
    pp.mark_many([("a", 1), ("b", 1), ("c", 2)])
    a, b, c = (pp.event(n).day() for n in "abc")
    # One operator over stored bitmaps is counted in a script that keeps nothing.
    assert len(a & b) == 1 and len(a - b) == 0 and len(a | b | c) == 2
    assert not list(redis_client.scan_iter(match=f"{pp.keys.prefix}:*:tmp:*"))
    assert len((a & b) | c) == 2
    temps = list(redis_client.scan_iter(match=f"{pp.keys.prefix}:*:tmp:*"))
    assert temps
    assert all(0 < redis_client.ttl(k) <= 30 for k in temps)


def test_nested_operators_are_flattened(pp):
    a, b, c = (pp.event(n).day() for n in "abc")
    assert (a & b & c).signature.count("and(") == 1
    assert a & b == a & b


def test_unique_events_combine_with_periods(pp):
    pp.mark_many([("active", 1), ("active", 2)])
    pp.mark_unique("premium", 2)
    assert list(pp.event("active").day() & pp.unique("premium")) == [2]


def test_bitmaps_of_two_stores_do_not_mix(make_analytics):
    a = make_analytics().event("x").day()
    b = make_analytics().event("x").day()
    with pytest.raises(InvalidExpression):
        a & b


ids = st.sets(st.integers(min_value=0, max_value=5000), max_size=40)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(a_ids=ids, b_ids=ids, c_ids=ids, op=st.sampled_from(["and", "or", "xor", "minus", "not"]))
def test_random_expressions_match_python_sets(make_analytics, a_ids, b_ids, c_ids, op):
    pp = make_analytics(chunk_bits=CHUNK_BITS)
    rows = [("a", i) for i in a_ids] + [("b", i) for i in b_ids] + [("c", i) for i in c_ids]
    pp.mark_many(rows)
    a, b, c = (pp.event(n).day() for n in "abc")
    universe = a_ids | b_ids | c_ids
    expr, expected = {
        "and": ((a & b) | c, (a_ids & b_ids) | c_ids),
        "or": ((a | b) - c, (a_ids | b_ids) - c_ids),
        "xor": (a ^ b ^ c, a_ids ^ b_ids ^ c_ids),
        "minus": (a - (b & c), a_ids - (b_ids & c_ids)),
        "not": (~(a | c), universe - (a_ids | c_ids)),
    }[op]
    assert sorted(expr) == sorted(expected)
    assert len(expr) == len(expected)
    pp.delete_all()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(a_ids=ids, b_ids=ids, c_ids=ids)
def test_counts_of_one_operator_over_many_chunks_in_one_round_trip(
    make_analytics, round_trips, a_ids, b_ids, c_ids
):
    """Stored bitmaps and one operator over them are counted by one script over
    every chunk (one per chunk on a cluster: one round trip per node), leaving
    no key behind."""
    pp = make_analytics(chunk_bits=CHUNK_BITS)
    pp.mark_many([("a", i) for i in a_ids] + [("b", i) for i in b_ids] + [("c", i) for i in c_ids])
    pp.mark_many([("other", 0)])  # a store never empty
    a, b, c = (pp.event(n).day() for n in "abc")
    universe = a_ids | b_ids | c_ids | {0}
    len(a & b)  # the chunks known, the script loaded
    with round_trips:
        counts = pp.count_bitmaps([a, a & b, a | b | c, a ^ b ^ c, a - b, ~a, b & c & a])
    assert round_trips.one()
    assert counts == [
        len(a_ids),
        len(a_ids & b_ids),
        len(a_ids | b_ids | c_ids),
        len(a_ids ^ b_ids ^ c_ids),
        len(a_ids - b_ids),
        len(universe - a_ids),
        len(a_ids & b_ids & c_ids),
    ]
    with round_trips:
        assert len(a & b) == len(a_ids & b_ids) and len(a) == len(a_ids)
    for _ in range(2):  # stored bitmaps alone: no scratch key, nothing deleted
        assert pp.count_bitmaps([a, b]) == [len(a_ids), len(b_ids)]
    assert not list(pp.client.scan_iter(match=f"{pp.keys.prefix}:*:tmp:*"))
    pp.delete_all()


def test_a_union_of_more_operands_than_one_script_unpacks(pp, clock):
    """Lua unpacks at most about 8,000 values: over 1,000 operands, one operator
    is built with BITOP first and then counted."""
    today = pp.period("day", clock.now)
    pp.mark_many([("wide", 7, clock.now), ("wide", 8, today.delta(-1).start)])
    wide = pp.event("wide")
    union = BitOp(pp, "OR", [wide.bind(today.delta(-d)) for d in range(9000)])
    assert len(union) == 2
    assert pp.count_bitmaps([union, wide.bind(today)]) == [2, 1]


def test_counts_over_more_chunks_than_one_script_takes(make_analytics):
    pp = make_analytics(chunk_bits=10)
    ids = [c * 1024 + c % 7 for c in range(1100)]  # 1,100 chunks
    pp.mark_many([("a", i) for i in ids] + [("b", i) for i in ids[::2]])
    a, b = pp.event("a").day(), pp.event("b").day()
    assert pp.count_bitmaps([a, a & b, a - b]) == [1100, 550, 550]
