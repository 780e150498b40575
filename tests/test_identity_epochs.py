"""Data loss and deploys the in-process caches must notice (issue 24, defects 5, 8,
12 and the ActiveOnce half of 10), on a server of each test's own."""

import datetime as dt
import sys
import threading

import pytest
import redis
from django.contrib.auth import get_user_model

from porpoise_django.engine import Analytics, IdMapMismatch
from porpoise_django.tracking.active import ACTIVE, ActiveOnce

pytestmark = pytest.mark.django_db


@pytest.fixture
def direct(private_server):
    client = redis.Redis.from_url(private_server.url)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def fresh_once():
    ACTIVE.forget()
    yield
    ACTIVE.forget()


def _visit_all(client, users, times=1):
    for user in users:
        client.force_login(user)
        for _ in range(times):
            assert client.get("/plain/").status_code == 200


@pytest.mark.parametrize("loss", ["flushdb", "purge elsewhere"])
def test_dau_comes_back_after_the_data_is_lost(client, porpoise, private_server, direct, loss):
    pp = porpoise(REDIS_URL=private_server.url, ACTIVE_CHECK_SECONDS=0)
    users = [get_user_model().objects.create_user(f"u{i}", password="pw") for i in range(5)]
    _visit_all(client, users)
    assert len(pp.event("active").day()) == 5
    if loss == "flushdb":
        direct.flushdb()
    else:  # porpoise_purge in another process: its own engine on the same data
        Analytics(direct, prefix=pp.keys.prefix).delete_all()
    _visit_all(client, users, times=2)
    assert len(pp.event("active").day()) == 5


def test_the_once_set_is_rechecked_only_every_few_seconds(porpoise, private_server, direct):
    pp = porpoise(REDIS_URL=private_server.url)
    once = ActiveOnce(check_seconds=60)
    now = pp.clock().timestamp()
    assert once.first(pp, "active", 1, now) is True
    direct.flushdb()
    assert once.first(pp, "active", 1, now + 1) is False  # not checked again yet
    assert once.first(pp, "active", 1, now + 61) is True  # checked: a new epoch


def test_an_outage_keeps_the_set_and_never_raises(porpoise, private_server):
    pp = porpoise(REDIS_URL=private_server.url)
    once = ActiveOnce(check_seconds=0)
    now = pp.clock().timestamp()
    assert once.first(pp, "active", 1, now) is True
    private_server.stop()
    assert once.first(pp, "active", 1, now + 1) is False
    assert once.first(pp, "active", 2, now + 2) is True


def test_mapped_ids_after_an_empty_restart_keep_their_owners(private_server, direct):
    old = Analytics(direct, prefix="pptest-epoch", id_mode="map")
    old.mark("visit", "alice")  # this worker now caches alice's index
    old.mark("visit", "bob")
    direct.flushall()  # the server came back empty: generation 0 before and after
    new = Analytics(direct, prefix="pptest-epoch", id_mode="map")
    new.mark_many([("signup", f"new{i}") for i in range(5)])  # takes indexes 0..4
    old.mark("purchase", "alice")
    old.mark("purchase", "bob")
    assert sorted(new.event("purchase").day().ids()) == ["alice", "bob"]
    assert sorted(old.event("signup").day().ids()) == [f"new{i}" for i in range(5)]


@pytest.mark.parametrize("shards", [1, 4])
def test_empty_restart_is_seen_even_when_every_id_is_cached(private_server, direct, shards):
    old = Analytics(direct, prefix="pptest-epoch", id_mode="map", id_map_shards=shards)
    ids = [f"old{i}" for i in range(20)]
    old.mark_many([("visit", i) for i in ids])
    private_server.stop()  # persisted, but the dump goes: it comes back empty
    private_server.start()
    direct.flushall()
    new = Analytics(direct, prefix="pptest-epoch", id_mode="map", id_map_shards=shards)
    new.mark_many([("signup", f"new{i}") for i in range(20)])
    old.mark_many([("visit", i) for i in ids])  # all cached in this worker
    assert sorted(new.event("visit").day().ids()) == sorted(ids)
    assert len(new.event("signup").day() & new.event("visit").day()) == 0


def test_another_shard_count_is_refused(private_server, direct):
    one = Analytics(direct, prefix="pptest-shards", id_mode="map", id_map_shards=1)
    one.mark_many([("purchase", name) for name in ("alice", "bob", "carol")])
    four = Analytics(direct, prefix="pptest-shards", id_mode="map", id_map_shards=4)
    with pytest.raises(IdMapMismatch, match="id_map_shards=1, this process has 4"):
        four.mark("purchase", "mallory")
    with pytest.raises(IdMapMismatch):
        four.event("purchase").day().ids()
    assert four.id_codec.stored_shards is not None
    with pytest.raises(IdMapMismatch):
        four.id_codec.stored_shards()
    assert sorted(one.event("purchase").day().ids()) == ["alice", "bob", "carol"]
    one.delete_all()  # after a purge a map of another size may be made
    four.mark("purchase", "dave")
    assert list(four.event("purchase").day().ids()) == ["dave"]


def test_check_e020_names_a_shard_mismatch(porpoise, private_server, direct):
    from porpoise_django.checks import check_id_map_shards

    pp = porpoise(REDIS_URL=private_server.url, ID_MODE="map")
    pp.mark("purchase", "alice")
    assert check_id_map_shards() == []
    porpoise(REDIS_URL=private_server.url, ID_MODE="map", ID_MAP_SHARDS=4)
    messages = check_id_map_shards()
    assert [m.id for m in messages] == ["porpoise_django.E020"]
    assert "id_map_shards=1" in messages[0].msg
    porpoise(REDIS_URL="redis://127.0.0.1:1/0", ID_MODE="map", SOCKET_TIMEOUT=0.2)
    assert check_id_map_shards() == []  # Redis down: nothing to say


def test_a_new_bucket_never_pairs_its_end_with_the_old_set(porpoise):
    """Pause the thread that starts the new bucket at every line it runs; at each
    pause another thread asks about a user of yesterday's set: it must never
    hear "already marked" (that user's first visit of the day would be lost)."""
    pp = porpoise(GRANULARITIES=["day"])
    once = ActiveOnce(check_seconds=3600)
    yesterday = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC).timestamp()
    today = yesterday + 86400
    pp.epoch()
    for k in range(500):
        assert once.first(pp, "active", k, yesterday)
    wrong: list[int] = []
    asked = iter(range(500))
    module = sys.modules[ActiveOnce.__module__].__file__

    def probe() -> None:
        done = threading.Event()
        user = next(asked)  # each probe asks about its own user: none marked today

        def ask() -> None:
            if not once.first(pp, "active", user, today) and not done.is_set():
                wrong.append(user)

        helper = threading.Thread(target=ask, daemon=True)
        helper.start()
        helper.join(0.02)
        done.set()

    def tracer(frame, event, arg):
        # Only while it holds the lock: it, not a helper, starts the new bucket.
        if frame.f_code.co_filename == module and event == "line" and once._lock.locked():
            probe()
        return tracer

    sys.settrace(tracer)
    try:
        once.first(pp, "active", "v", today)
    finally:
        sys.settrace(None)
    assert wrong == []


@pytest.mark.parametrize("value", ["1", -1, True, None, 1e9])
def test_check_e021_refuses_a_bad_check_interval(porpoise, value):
    from porpoise_django.checks import check_active_check_seconds

    porpoise(ACTIVE_CHECK_SECONDS=value)
    assert [m.id for m in check_active_check_seconds()] == ["porpoise_django.E021"]
    porpoise(ACTIVE_CHECK_SECONDS=0)
    assert check_active_check_seconds() == []
