"""Redis failing in the ways production sees: errors, a replica, slowness, restarts."""

import logging
import threading
import time

import pytest
import redis

from porpoise_django import delivery
from porpoise_django.dev.embedded import EmbeddedServer
from tests.conftest import wait_until

pytestmark = pytest.mark.django_db


def test_oom_errors_are_logged_buffered_and_replayed(client, porpoise, private_server, caplog):
    pp = porpoise(REDIS_URL=private_server.url, RETRY_SECONDS=0)
    admin = redis.Redis.from_url(private_server.url)
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")
    with caplog.at_level(logging.WARNING, logger="porpoise_django"):
        for song in range(5):
            assert client.get(f"/liked/{song}/").status_code == 200
    assert "OutOfMemoryError" in caplog.text and "maxmemory" in caplog.text
    assert len(delivery.get_buffer()) == 5
    admin.config_set("maxmemory", "0")
    # No request needed: the timer replays the spool once Redis takes writes.
    wait_until(lambda: len(delivery.get_buffer()) == 0)
    assert client.get("/liked/5/").status_code == 200
    assert list(pp.event("song:liked").day()) == [0, 1, 2, 3, 4, 5]


def test_a_read_only_replica_is_an_outage_not_an_error(client, porpoise, private_server, caplog):
    replica = EmbeddedServer()
    replica.start()
    try:
        redis.Redis(port=replica.port).replicaof("127.0.0.1", private_server.port)
        pp = porpoise(REDIS_URL=replica.url, RETRY_SECONDS=0)
        with caplog.at_level(logging.WARNING, logger="porpoise_django"):
            assert client.get("/liked/7/").status_code == 200
        assert "ReadOnlyError" in caplog.text
        redis.Redis(port=replica.port).replicaof("NO", "ONE")  # promoted: writable again
        assert delivery.flush_buffer()
        assert list(pp.event("song:liked").day()) == [7]
    finally:
        replica.close()


def test_a_slow_redis_does_not_hold_requests(client, porpoise, private_server):
    pp = porpoise(REDIS_URL=private_server.url, SOCKET_TIMEOUT=0.2, RETRY_SECONDS=0)
    client.get("/liked/1/")  # connected and warm
    redis.Redis.from_url(private_server.url).client_pause(1500, all=True)
    started = time.monotonic()
    assert client.get("/liked/2/").status_code == 200
    assert time.monotonic() - started < 1.0  # the pause is 1.5 s; the timeout 0.2 s
    assert len(delivery.get_buffer()) == 1
    time.sleep(1.6)
    assert delivery.flush_buffer()
    assert list(pp.event("song:liked").day()) == [1, 2]


def test_a_restart_while_marks_are_flowing_loses_nothing(porpoise, private_server):
    from django.test import Client

    pp = porpoise(REDIS_URL=private_server.url, RETRY_SECONDS=0, SOCKET_TIMEOUT=0.5)
    statuses: list[int] = []

    def traffic() -> None:
        browser = Client()  # anonymous: no database from this thread
        for song in range(300):
            statuses.append(browser.get(f"/liked/{song}/").status_code)
            time.sleep(0.002)

    worker = threading.Thread(target=traffic)
    worker.start()
    time.sleep(0.15)
    private_server.stop()
    time.sleep(0.3)
    private_server.start()
    worker.join()
    assert delivery.flush_buffer()
    assert statuses == [200] * 300
    assert sorted(pp.event("song:liked").day()) == list(range(300))
    assert delivery.get_buffer().stats.failures >= 1  # the restart was noticed
