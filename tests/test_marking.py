"""Marking, reading and deleting events on a real server."""

import datetime as dt
import uuid

import numpy as np
import pytest

from porpoise_django.engine import Analytics
from porpoise_django.engine.errors import InvalidGranularity
from porpoise_django.engine.storage.writes import submit
from tests.conftest import stored_keys

UTC = dt.UTC


def test_mark_tracks_every_configured_granularity_in_one_round_trip(pp, round_trips):
    when = dt.datetime(2026, 11, 18, 10, tzinfo=UTC)
    pp.mark("warm-up", 1)  # a fresh server has to load the Lua script once
    with round_trips:
        pp.mark("active", 123, when)
    assert round_trips.one(), round_trips.count
    with round_trips:
        pp.mark_many([("active", i, when - dt.timedelta(days=i)) for i in range(100)])
    assert round_trips.one(), round_trips.count
    active = pp.event("active")
    assert 123 in active.day(when)
    assert 123 in active.week(when)
    assert 123 in active.month(when)
    assert 124 not in active.day(when)
    # year is not tracked by default: reading it is an error, not an empty set
    with pytest.raises(InvalidGranularity, match="year is not tracked for events; tracked: day"):
        active.year(when)


def test_mark_granularities_per_call_and_unique(make_analytics):
    pp = make_analytics(granularities=("hour", "day", "year"))
    when = dt.datetime(2026, 11, 18, 10, tzinfo=UTC)
    pp.mark("song:played", 1, when, granularities=("hour", "year"), track_unique=True)
    ev = pp.event("song:played")
    assert 1 in ev.hour(when) and 1 in ev.year(when)
    assert 1 not in ev.day(when)
    assert 1 in pp.unique("song:played")
    assert pp.unique_names() == ["song:played"]


def test_unmark_and_unique_unmark(pp):
    pp.mark("active", 5)
    pp.unmark("active", 5)
    assert 5 not in pp.event("active").day()
    pp.mark_unique("premium", 9)
    assert 9 in pp.unique("premium")
    pp.unmark_unique("premium", 9)
    assert 9 not in pp.unique("premium")


def test_counts_iteration_and_navigation(pp, clock):
    ids = [0, 7, 8, 1000, 2**20 - 1, 2**20, 5 * 2**20 + 3]  # several chunks
    pp.mark_many([("active", i) for i in ids])
    today = pp.event("active").day()
    assert len(today) == len(ids)
    assert list(today) == ids
    assert isinstance(today.indexes(), np.ndarray)
    assert today.prev().count() == 0
    assert today.prev().next() == today
    assert today.delta(-7).period.label == "2026-11-11"
    assert today.period_start() == dt.datetime(2026, 11, 18, tzinfo=UTC)
    assert today.period_end() == dt.datetime(2026, 11, 19, tzinfo=UTC)


def test_series_over_a_range_in_one_round_trip(pp, clock, round_trips):
    for day in range(5):
        when = clock.now - dt.timedelta(days=day)
        pp.mark_many([("active", i, when) for i in range(day + 1)])
    pp.chunks()  # warm the chunk cache
    # and the server's script cache: a server that never ran the counting
    # script answers NOSCRIPT once (load it, send again: three round trips).
    pp.event("active").counts(pp.range("day", -4))
    with round_trips:
        series = pp.event("active").counts(pp.range("day", -4))
    assert [c for _, c in series] == [5, 4, 3, 2, 1]
    assert round_trips.one(), round_trips.count
    assert len(pp.event("active").union(pp.range("day", -4))) == 5
    assert [len(b) for b in pp.event("active").over(pp.range("day", -1))] == [2, 1]


def test_event_names_from_registry_and_delete_event(make_analytics, clock):
    pp = make_analytics(granularities=("hour", "day", "week", "month", "year"))
    pp.mark("b", 1)
    pp.mark(
        "a",
        2,
        clock.now - dt.timedelta(days=40),
        granularities=("hour", "day", "week", "month", "year"),
    )
    pp.mark("a", 3)
    assert pp.event_names() == ["a", "b"]
    span = pp.event_span("a")
    assert span is not None and span[0] < span[1]
    pp.delete_event("a")
    assert pp.event_names() == ["b"]
    keys = list(pp.client.scan_iter(match=f"{pp.keys.prefix}:*:e:a:*"))
    assert keys == []
    assert 1 in pp.event("b").day()


def test_delete_period_and_delete_all(pp, redis_client):
    pp.mark("active", 1)
    pp.mark_unique("premium", 1)
    pp.event("active").day().delete()
    assert not pp.event("active").day().has_events_marked()
    assert 1 in pp.event("active").month()
    pp.delete_all()
    assert stored_keys(redis_client, pp.keys.prefix) == []


def test_retention_expires_keys_relative_to_their_period(make_analytics, clock, redis_client):
    # Redis expires by its own clock: the test clock must be the real time here.
    clock.now = dt.datetime.now(UTC)
    pp = make_analytics(granularities=("hour", "day"), retention={"hour": 3600})
    pp.mark("active", 1)
    hour = pp.period("hour")
    key = pp.keys.event("active", hour, 0)
    expire_at = redis_client.expiretime(key)
    assert expire_at == int(hour.period_end().timestamp()) + 3600
    assert redis_client.ttl(pp.keys.event("active", pp.period("day"), 0)) == -1
    # A mark older than the retention is not written at that granularity.
    pp.mark("old", 1, clock.now - dt.timedelta(days=2))
    assert not pp.event("old").hour(clock.now - dt.timedelta(days=2)).has_events_marked()
    assert pp.event("old").day(clock.now - dt.timedelta(days=2)).has_events_marked()


def test_time_zone_buckets(make_analytics):
    pp = make_analytics(tz="Asia/Tokyo")
    pp.mark("active", 1, dt.datetime(2026, 11, 18, 16, tzinfo=UTC))  # 01:00 on the 19th in Tokyo
    assert 1 in pp.event("active").day(dt.date(2026, 11, 19))
    assert 1 not in pp.event("active").day(dt.date(2026, 11, 18))


def test_map_mode_accepts_strings_and_uuids_and_stays_dense(make_analytics, redis_client):
    pp = make_analytics(id_mode="map")
    user = uuid.UUID("12345678-1234-5678-1234-567812345678")
    pp.mark_many([("active", "alice"), ("active", user), ("active", 2**62)])
    today = pp.event("active").day()
    assert sorted(today) == sorted(["alice", str(user), str(2**62)])
    assert "alice" in today and "bob" not in today
    assert redis_client.strlen(pp.keys.event("active", pp.period("day"), 0)) == 1  # 3 dense bits
    # A second process (fresh cache) maps the same ids to the same indexes.
    other = make_analytics(id_mode="map")
    other.mark("login", "alice")
    assert len(pp.event("active").day() & pp.event("login").day()) == 1
    # Unmarking an id the map never saw is a no-op, not an error.
    pp.unmark("active", "nobody")


def test_two_analytics_see_each_others_new_chunks_after_cache_expiry(make_analytics):
    writer = make_analytics()
    reader = make_analytics(chunk_cache_seconds=0)
    writer.mark("active", 3 * 2**20)
    assert len(reader.event("active").day()) == 1


@pytest.mark.parametrize("granularity", ["hour", "day", "week", "month", "year"])
def test_each_event_granularity_can_be_tracked(make_analytics, granularity):
    pp: Analytics = make_analytics(granularities=(granularity,))
    pp.mark("e", 1)
    assert 1 in pp.event("e").at(granularity)


def test_marks_survive_a_script_flush(pp, redis_client):
    pp.mark_many([("active", 1), ("active", 2)])
    redis_client.script_flush()
    pp.mark_many([("active", 3), ("active", 4)])  # NOSCRIPT: loaded and sent again
    assert list(pp.event("active").day()) == [1, 2, 3, 4]


@pytest.mark.parametrize("marks", [15, 16, 20_001])  # plain arguments, packed, two calls
def test_a_batch_marks_exactly_its_ids_however_they_are_sent(pp, redis_client, marks):
    # Ids spread over a chunk, its first and last offsets included.
    size = pp.keys.chunk_size
    ids = sorted({0, size - 1, *range(1, size - 1, max(1, size // marks))})[:marks]
    redis_client.script_flush()  # NOSCRIPT on the first call: loaded and sent again
    pp.mark_many([("bulk", i) for i in ids])
    assert list(pp.event("bulk").day()) == ids
    assert list(pp.event("bulk").month()) == ids
    unmarks = pp.prepare_marks([("bulk", i) for i in ids[::2]], value=0)
    submit(pp.client, [unmarks])
    assert list(pp.event("bulk").day()) == ids[1::2]


def test_a_batch_registers_each_events_span_by_its_15_minute_slots(pp, clock):
    # Two events interleaved in one batch, over several slots, none at a slot's start.
    start = int(clock.now.timestamp()) // 900 * 900 - 5 * 3600
    rows = [
        ("a", 1, start + 1_000),
        ("b", 1, start + 100),
        ("a", 2, start + 7_300),
        ("b", 2, start + 3_650),
        ("a", 3, start + 4_000),
    ]
    pp.mark_many([(e, i, dt.datetime.fromtimestamp(t, dt.UTC)) for e, i, t in rows])

    def span(name: str) -> tuple[float, float]:
        found = pp.event_span(name)
        assert found is not None
        return found[0].timestamp(), found[1].timestamp()

    # From the start of the earliest mark's slot to the end of the latest's.
    assert span("a") == (start + 900, start + 7_200 + 899)
    assert span("b") == (start, start + 3_600 + 899)


def test_unmarks_of_ids_the_map_never_saw_leave_the_others_cleared(make_analytics):
    pp = make_analytics(id_mode="map")
    pp.mark_many([("e", "known-1"), ("e", "known-2")])
    unmarks = pp.prepare_marks([("e", "never-seen"), ("e", "known-2")], value=0)
    submit(pp.client, [unmarks])
    assert list(pp.event("e").day()) == ["known-1"]


def test_registry_is_repaired_after_a_purge_made_elsewhere(make_analytics):
    web = make_analytics()
    admin = make_analytics()
    web.mark("active", 1)
    admin.delete_event("active")
    web.mark("active", 2)  # the very next write registers again
    assert admin.event_names() == ["active"]
    admin.delete_all()
    web.mark("active", 3)
    assert admin.event_names() == ["active"] and list(admin.event("active").day()) == [3]
    admin.delete_event("active")  # its buckets were registered again: nothing is left
    assert list(admin.client.scan_iter(match=f"{admin.keys.prefix}:*:e:active:*")) == []


def test_readers_are_not_blind_after_redis_comes_back_empty(make_analytics, redis_client):
    web = make_analytics()
    reader = make_analytics()
    web.mark("active", 1)
    assert list(reader.event("active").day()) == [1]
    for key in redis_client.scan_iter(match=f"{web.keys.prefix}:*"):  # an empty restart
        redis_client.delete(key)
    web.mark("active", 2)  # one write batch after Redis is back
    reader.forget_chunks()  # or wait chunk_cache_seconds
    assert reader.event_names() == ["active"] and list(reader.event("active").day()) == [2]


def test_a_sharded_id_map_stays_dense_and_spreads(make_analytics, redis_client):
    """id_map_shards: each id in the shard of its hash, indexes sequence x shards +
    shard (dense overall), one lookup round trip per batch, and on a cluster
    the shards on several nodes."""
    pp = make_analytics(id_mode="map", id_map_shards=16)
    users = [f"user-{i}" for i in range(2000)]
    pp.mark_many([("active", u) for u in users])
    indexes = pp.id_codec.to_indexes(users, create=False)
    assert sorted(indexes) == sorted(set(indexes)) and min(indexes) >= 0
    # Dense overall: the largest index stays near the number of ids (shards fill
    # unevenly by a few dozen each, never by thousands).
    assert max(indexes) < 2000 + 16 * 80
    assert all(i % 16 == pp.id_codec.shard_of(u) for u, i in zip(users, indexes, strict=True))
    assert sorted(pp.event("active").day()) == sorted(users)
    # Another process maps the same ids to the same indexes, in one round trip.
    other = make_analytics(id_mode="map", id_map_shards=16)
    assert other.id_codec.to_indexes(users[:50], create=False) == indexes[:50]
    # A purge: no index is given again, and nothing of the old map is used.
    pp.delete_all()
    pp.mark("active", "user-0")
    assert pp.id_codec.to_indexes(["user-0"], create=False)[0] not in set(indexes)
    assert list(other.event("active").day()) == ["user-0"]
    if hasattr(redis_client, "get_node_from_key"):
        nodes = {redis_client.get_node_from_key(pp.keys.idmap_keys(s)[0]).port for s in range(16)}
        assert len(nodes) >= 2


def test_id_map_shards_are_validated(make_analytics):
    for bad in (0, 1025, True, "4"):
        with pytest.raises(ValueError, match="id_map_shards must be an int from 1 to 1024"):
            make_analytics(id_mode="map", id_map_shards=bad)
