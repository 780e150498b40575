"""Moving a bitmapist keyspace (written as bitmapist writes it) into the store:
every bucket lands where bitmapist meant it, verified, resumable."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import redis
from django.core.management import call_command

from porpoise_django.compat.bitmapist_data import migrate, target_of

DAY = dt.date(2026, 11, 25)
ACTIVE = [0, 7, 123, 3_000_000]  # the last one in chunk 2 (chunks of 2**20 ids)


@pytest.fixture
def source(private_server):
    """A Redis holding bitmapist's keys, as bitmapist names and fills them."""
    client = redis.Redis.from_url(private_server.url)
    pipe = client.pipeline()
    for key, ids in {
        "trackist_active_2026-11-25": ACTIVE,
        "trackist_active_2026-11-24": [7, 8],
        "trackist_active_W2026-48": [*ACTIVE, 8],
        "trackist_active_2026-11": [*ACTIVE, 8, 9],
        "trackist_active_2026-11-25-13": [7],  # hours: not tracked by the target here
        "trackist_my_event_2026-1-5": [5],  # underscores in the name, months unpadded
        "trackist_active_W2027-53": [42],  # 1-3 Jan 2027: ISO week 53 of 2026
        "trackist_premium_u": [7, 123],
        "trackist_bitop_and_active_2026-11": [1],  # a bitmapist expression result
    }.items():
        for uid in ids:
            pipe.setbit(key, uid, 1)
    pipe.set("unrelated", "x")
    pipe.execute()
    yield client
    client.close()


@pytest.fixture
def store(make_analytics):
    return make_analytics(tz="UTC", clock=lambda: dt.datetime(2027, 2, 1, tzinfo=dt.UTC))


def test_every_bucket_lands_where_bitmapist_meant_it(source, store):
    report = migrate(source, store)
    active = store.event("active")
    assert list(active.day(DAY)) == ACTIVE
    assert list(active.day(DAY - dt.timedelta(days=1))) == [7, 8]
    assert list(active.week(DAY)) == sorted([*ACTIVE, 8])
    assert list(active.month(DAY)) == sorted([*ACTIVE, 8, 9])
    assert list(store.event("my_event").day(dt.date(2026, 1, 5))) == [5]
    assert list(active.week(dt.date(2026, 12, 31))) == [42]  # ISO 2026-W53
    assert list(store.unique("premium")) == [7, 123]
    assert report.keys == 7 and report.buckets == 7
    assert report.events == 4 + 2 + 5 + 6 + 1 + 1 + 2
    assert report.skipped == {"hour not tracked": 1, "bit operation result": 1}
    # Registered as marks would be: names, spans, chunks, deletable by name.
    assert store.event_names() == ["active", "my_event"] and store.unique_names() == ["premium"]
    assert store.chunks() == [0, 2]
    assert 3_000_000 in ~store.unique("premium")  # the universe holds the migrated ids
    assert store.delete_event("my_event") == 1


def test_a_second_run_resumes_and_adds_nothing(source, store):
    first = migrate(source, store)
    again = migrate(source, store)
    assert again.resumed == first.keys and again.events == 0
    assert list(store.event("active").day(DAY)) == ACTIVE


def test_the_store_must_cut_utc_periods_and_use_int_ids(source, make_analytics):
    with pytest.raises(ValueError, match="UTC periods"):
        migrate(source, make_analytics(tz="Europe/Paris"))
    with pytest.raises(ValueError, match="id_mode 'int'"):
        migrate(source, make_analytics(tz="UTC", id_mode="map"))


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("trackist_active_2026-13-01", "not a date"),
        ("trackist_active_W2026-60", "not a date"),
        ("trackist_", "not a bitmapist event key"),
        ("trackist_bad name!_2026-1", "event name porpoise refuses"),
    ],
)
def test_keys_that_are_skipped_say_why(store, key, why):
    assert target_of(key, store) == why


@pytest.mark.django_db
def test_the_import_command(source, porpoise, private_server):
    porpoise(TIME_ZONE="UTC")
    out, err = io.StringIO(), io.StringIO()
    call_command("porpoise_import", "--from-bitmapist", private_server.url, stdout=out, stderr=err)
    text = out.getvalue()
    assert "moved 7 key(s) into 7 bucket(s)" in text
    assert "skipped 1 key(s): bit operation result" in text
    assert "every bucket verified" in text
    with pytest.raises(Exception, match="cannot reach"):
        call_command("porpoise_import", "--from-bitmapist", "redis://127.0.0.1:1/0")


def test_from_one_server_into_a_cluster_and_back(source, cluster, key_prefix, make_analytics):
    """The store may be a Redis Cluster, and so may the bitmapist server (its keys
    have no hash tag, so they spread over every node)."""
    from porpoise_django.engine import Analytics

    def clock():
        return dt.datetime(2027, 2, 1, tzinfo=dt.UTC)

    on_cluster = Analytics(cluster.client, prefix=key_prefix, tz="UTC", clock=clock)
    report = migrate(source, on_cluster)
    assert report.keys == 7 and list(on_cluster.event("active").day(DAY)) == ACTIVE
    assert list(on_cluster.unique("premium")) == [7, 123]
    try:
        for raw in source.scan_iter(match="trackist_*"):
            cluster.client.set(raw, source.get(raw))
        back = make_analytics(tz="UTC", clock=clock, prefix=f"{key_prefix}b")
        again = migrate(cluster.client, back)
        assert again.keys == 7 and again.events == report.events
        assert list(back.event("active").week(DAY)) == sorted([*ACTIVE, 8])
    finally:
        for raw in list(cluster.client.scan_iter(match="trackist_*")):
            cluster.client.delete(raw)
        on_cluster.delete_all()


# issue 25, case 5: bad keys are reported and skipped, memory bounded by a chunk ----------
def test_bad_keys_are_skipped_and_the_good_ones_moved(private_server, store):
    client = redis.Redis.from_url(private_server.url)
    client.setbit("trackist_active_2026-11-25", 7, 1)
    client.setbit(b"trackist_\xff\xfe_2026-11-25", 1, 1)  # not UTF-8
    for suffix in ("1969-12-31", "0001-01-01", "9999-12-31", "W0001-1", "W9999-52"):
        client.setbit(f"trackist_active_{suffix}", 1, 1)
    client.hset("trackist_active_2026-11-24", "x", "1")  # not a bitmap
    report = migrate(client, store)
    client.close()
    assert list(store.event("active").day(DAY)) == [7]
    assert report.keys == 1, report
    assert report.skipped == {
        "key name not UTF-8": 1,
        "date out of range": 5,
        "not a string (hash)": 1,
    }, report.skipped


def test_a_huge_source_bitmap_is_moved_a_chunk_at_a_time(private_server, store):
    import tracemalloc

    client = redis.Redis.from_url(private_server.url)
    client.setbit("trackist_active_2026-11-25", 2**31 - 1, 1)  # a 256 MiB bitmap
    client.setbit("trackist_active_2026-11-25", 5, 1)
    tracemalloc.start()
    report = migrate(client, store)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    client.close()
    assert report.events == 2
    assert list(store.event("active").day(DAY)) == [5, 2**31 - 1]
    assert peak < 32 * 2**20, peak
