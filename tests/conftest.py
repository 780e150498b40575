"""Fixtures over a real Redis-compatible server (embedded valkey-server or $REDIS_URL)."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from porpoise_django.embedded import EmbeddedServer, ensure_server
from porpoise_django.engine import Analytics

#: Every key the suite writes starts with this; anything else on the server is
#: somebody's data, and the suite refuses to touch that server.
TEST_KEY_PREFIX = "pptest"
_counter = itertools.count()


def _foreign_keys(client: redis.Redis) -> list[bytes]:
    found = []
    for key in client.scan_iter(count=1000):
        if not key.startswith(TEST_KEY_PREFIX.encode()):
            found.append(key)
            if len(found) >= 5:
                break
    return found


@pytest.fixture(scope="session")
def redis_url() -> str:
    return ensure_server()


@pytest.fixture(scope="session")
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    foreign = _foreign_keys(client)
    if foreign:
        pytest.exit(
            f"refusing to run: the server at {redis_url} holds keys that are not the "
            f"suite's (e.g. {foreign[:3]!r}); point REDIS_URL at an empty server",
            returncode=3,
        )
    yield client
    client.close()


def _purge(client: Any, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for key in keys:
        client.unlink(key)


@pytest.fixture
def key_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    prefix = f"{TEST_KEY_PREFIX}-{os.getpid()}-{next(_counter)}"
    yield prefix
    _purge(redis_client, prefix)


class Clock:
    """A settable clock for Analytics(clock=...)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 11, 18, 15, 30, tzinfo=dt.UTC))


@pytest.fixture
def make_analytics(
    redis_client: redis.Redis, key_prefix: str, clock: Clock
) -> Callable[..., Analytics]:
    """Build an Analytics on the test server under this test's prefix."""

    def make(**options: Any) -> Analytics:
        options.setdefault("prefix", key_prefix)
        options.setdefault("clock", clock)
        return Analytics(redis_client, **options)

    return make


class RoundTrips:
    """Counts what the client sends to the server: one packed send is one round trip."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> RoundTrips:
        self.count = 0
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> RoundTrips:
    """``with round_trips as rt: ...; rt.count`` counts round trips made inside the block."""
    from redis.connection import AbstractConnection

    counter = RoundTrips()
    original = AbstractConnection.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        counter.count += 1
        original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return counter


@pytest.fixture
def pp(make_analytics: Callable[..., Analytics]) -> Analytics:
    return make_analytics()


@pytest.fixture
def porpoise(settings: Any, key_prefix: str) -> Iterator[Callable[..., Analytics]]:
    """Configure PORPOISE for this test (own key prefix); returns a function that
    updates the settings and gives back the services' Analytics."""
    from porpoise_django import services

    def configure(**options: Any) -> Analytics:
        settings.PORPOISE = {"KEY_PREFIX": key_prefix, "WRITE_MODE": "sync", **options}
        return services.get_analytics()

    configure()
    yield configure
    services.reset()


@pytest.fixture
def private_server() -> Iterator[EmbeddedServer]:
    """A server of this test alone, which it may stop and start again; data
    survive a restart (saved on shutdown), as with a Redis that persists."""
    server = EmbeddedServer(persist=True)
    server.start()
    yield server
    server.close()
