"""A Redis outage never fails a request, and loses no mark."""

import io
import logging

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from porpoise_django import delivery
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db


def _users(n):
    model = get_user_model()
    return [model.objects.create_user(f"u{i}", password="pw") for i in range(n)]


def test_requests_succeed_during_an_outage_and_marks_are_replayed(
    client, porpoise, private_server, caplog
):
    pp = porpoise(REDIS_URL=private_server.url, RETRY_SECONDS=0)
    users = _users(9)
    for user in users[:3]:
        client.force_login(user)
        assert client.get("/played/1/").status_code == 200

    private_server.stop()
    with caplog.at_level(logging.WARNING, logger="porpoise_django"):
        for user in users[3:7]:
            client.force_login(user)
            assert client.get("/played/1/").status_code == 200
            assert client.get("/counted/").status_code == 200
    assert "Redis unavailable" in caplog.text
    buffered = len(delivery.get_buffer())
    # Per user: song:played, page:view, and active once (once per user per bucket).
    assert buffered == 4 * 3

    private_server.start()
    for user in users[7:]:
        client.force_login(user)
        assert client.get("/played/1/").status_code == 200

    # Replayed by the timer thread, not inside a request. Its count of replayed
    # rows moves just after the rows leave the spool: wait for both.
    buffer = delivery.get_buffer()
    wait_until(lambda: len(buffer) == 0 and buffer.stats.replayed == buffered)
    assert sorted(pp.event("song:played").day()) == sorted(u.pk for u in users)
    assert sorted(pp.event("active").day()) == sorted(u.pk for u in users)
    assert pp.counter("page:view").total(pp.period("day")) == 4
    assert delivery.get_buffer().stats.replayed == buffered


def test_after_a_failure_requests_do_not_wait_for_redis(client, porpoise, private_server):
    porpoise(REDIS_URL=private_server.url, RETRY_SECONDS=60)
    user = _users(1)[0]
    client.force_login(user)
    private_server.stop()
    client.get("/counted/")  # fails once, opens the circuit
    failures = delivery.get_buffer().stats.failures
    for _ in range(5):
        assert client.get("/counted/").status_code == 200
    assert delivery.get_buffer().stats.failures == failures  # not even tried
    # A count per request, and active once (once per user per bucket).
    assert len(delivery.get_buffer()) == 6 + 1
    private_server.start()
    assert delivery.flush_buffer() is True
    assert len(delivery.get_buffer()) == 0


def test_a_full_spool_drops_the_oldest_and_says_so(client, porpoise, private_server, caplog):
    pp = porpoise(REDIS_URL=private_server.url, RETRY_SECONDS=60, SPOOL_MAX_BYTES=1200)
    users = _users(12)
    private_server.stop()
    with caplog.at_level(logging.ERROR, logger="porpoise_django"):
        for user in users:  # one user per request: each row says when it came
            client.force_login(user)
            assert client.get("/played/1/").status_code == 200
    stats = delivery.get_buffer().spool_stats()
    written = 2 * 12  # song:played and active per user
    assert stats["bytes"] <= 1200 and 0 < stats["rows"] < written
    assert stats["dropped"] == written - stats["rows"]  # counted, never silent
    assert "over 1200 bytes: dropped" in caplog.text
    private_server.start()
    assert delivery.flush_buffer()
    # What stays is the newest writes: the last users, none of the first ones.
    played = sorted(pp.event("song:played").day())
    active = sorted(pp.event("active").day())
    newest = sorted(u.pk for u in users)
    assert played and played == newest[-len(played) :]
    assert active and active == newest[-len(active) :]
    assert users[0].pk not in played + active


def test_a_count_sent_again_after_a_partial_failure_counts_once(porpoise):
    # A pipeline that failed half-way is buffered whole and sent again: the
    # increments that had landed must not land twice.
    pp = porpoise()
    write = delivery.count("orders", id="shop-1", by=2)
    assert delivery.record([write])
    assert delivery.record([write])  # the replay of the same write
    day = pp.period("day")
    assert pp.counter("orders").total(day) == 2
    assert pp.counter("orders").get(day) == {"shop-1": 2}
    assert delivery.record([delivery.count("orders", by=1)])  # a new write counts
    assert pp.counter("orders").total(day) == 3


def test_a_count_that_fails_inside_its_script_is_not_half_applied(porpoise):
    # A Lua error after the first write would leave the marker set and the
    # count half done: every key is checked before anything is written.
    pp = porpoise(RETRY_SECONDS=60)
    day, week = pp.period("day"), pp.period("week")
    pp.client.set(pp.keys.counter_total("orders", week), "not a number")
    write = delivery.count("orders", id="shop-1", by=2)
    assert delivery.record([write]) is False  # refused, spooled
    assert delivery.flush_buffer()  # not an outage: the row is a dead letter
    assert pp.counter("orders").total(day) == 0  # nothing applied, marker unset
    assert len(delivery.get_buffer()) == 0 and delivery.get_buffer().stats.dead == 1
    pp.client.delete(pp.keys.counter_total("orders", week))
    call_command("porpoise_replay", "--dead-letters", stdout=io.StringIO())
    assert pp.counter("orders").total(day) == 2 and pp.counter("orders").total(week) == 2
    assert delivery.record([write])  # sent again: counted once
    assert pp.counter("orders").total(day) == 2
