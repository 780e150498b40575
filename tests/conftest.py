"""Fixtures over a real Redis-compatible server (embedded valkey-server or $REDIS_URL)."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import redis.cluster

from porpoise_django.dev.embedded import EmbeddedServer, ensure_server
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


#: Engine test modules: each of their tests runs on one server and on a cluster.
CLUSTER_MODULES = {
    "test_marking",
    "test_expressions",
    "test_validation",
    "test_bulk_import",
    "test_counters",
    "test_timeseries",
    "test_metrics",
    "test_cohorts",
    "test_query",
    "test_behaviour",
    "test_people",
    "test_properties",
    "test_id_map_layout",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module in CLUSTER_MODULES and "redis_client" in metafunc.fixturenames:
        on_cluster = pytest.param("cluster", marks=pytest.mark.cluster)
        metafunc.parametrize("redis_client", ["single", on_cluster], indirect=True)


class Cluster:
    """A 3-master Redis Cluster of embedded valkey-servers on loopback."""

    def __init__(self, masters: int = 3) -> None:
        import subprocess
        import tempfile
        import time

        from porpoise_django.dev.embedded import free_port, server_binary

        self.servers = []
        for _ in range(masters):
            folder = tempfile.mkdtemp(prefix="pptest-cluster-")
            server = EmbeddedServer(
                extra=(
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", os.path.join(folder, "nodes.conf"),
                    "--cluster-node-timeout", "2000",
                    # Slots of a dead node fail; the others keep answering.
                    "--cluster-require-full-coverage", "no",
                    # The default bus port (port + 10000) may not exist or be taken.
                    "--cluster-port", str(free_port()),
                )
            )  # fmt: skip
            server.start()
            self.servers.append(server)
        addresses = [f"127.0.0.1:{s.port}" for s in self.servers]
        subprocess.run(
            [server_binary("valkey-cli"), "--cluster", "create", *addresses,
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        # Every node must know the whole slot map before the client reads it;
        # a client that read it too early gets MOVED and retries one by one.
        deadline = time.monotonic() + 30
        for server in self.servers:
            node = redis.Redis(port=server.port)
            while (
                b"cluster_state:ok" not in node.execute_command("CLUSTER", "INFO")
                or len(node.execute_command("CLUSTER", "SLOTS")) < masters
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError("the test cluster did not become ready")
                time.sleep(0.05)
            node.close()
        self.client = redis.cluster.RedisCluster(host="127.0.0.1", port=self.servers[0].port)

    def close(self) -> None:
        self.client.close()
        for server in self.servers:
            server.close()


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    started = Cluster()
    yield started
    started.close()


@pytest.fixture
def redis_client(request: pytest.FixtureRequest, single_client: redis.Redis) -> Any:
    """The server the engine tests use: one server, or (parametrized) the cluster."""
    if getattr(request, "param", "single") == "cluster":
        return request.getfixturevalue("cluster").client
    return single_client


@pytest.fixture(scope="session")
def single_client(redis_url: str) -> Iterator[redis.Redis]:
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


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll ``condition`` until it holds (background threads at work), or fail."""
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds} s")
        time.sleep(0.02)


def stored_keys(client: Any, prefix: str) -> list[bytes]:
    """Keys under ``prefix`` but the purge generation, which a purge keeps on purpose."""
    generation = f"{prefix}:{{idmap}}:gen".encode()
    return [k for k in client.scan_iter(match=f"{prefix}:*") if k != generation]


def _purge(client: Any, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for key in keys:
        client.unlink(key)


@pytest.fixture
def key_prefix(redis_client: Any) -> Iterator[str]:
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
    """Counts what the client sends to the server: one packed send is one round trip.

    On a cluster a pipeline goes to each node holding its keys, in parallel:
    ``one()`` then allows one send per node.
    """

    def __init__(self, nodes: int = 1) -> None:
        self.count = 0
        self.nodes = nodes

    def one(self) -> bool:
        return 1 <= self.count <= self.nodes

    def __enter__(self) -> RoundTrips:
        self.count = 0
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> RoundTrips:
    """``with round_trips as rt: ...; rt.count`` counts round trips made inside the block."""
    from redis.connection import AbstractConnection

    callspec = getattr(request.node, "callspec", None)
    on_cluster = callspec is not None and callspec.params.get("redis_client") == "cluster"
    counter = RoundTrips(nodes=3 if on_cluster else 1)
    original = AbstractConnection.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        head = command if isinstance(command, bytes) else b"".join(command[:2])
        # A new connection's handshake (CLIENT SETINFO, HELLO...) is not work.
        if not any(word in head[:60] for word in (b"CLIENT", b"HELLO", b"READONLY")):
            counter.count += 1
        original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return counter


@pytest.fixture
def pp(make_analytics: Callable[..., Analytics]) -> Analytics:
    return make_analytics()


@pytest.fixture
def porpoise(
    settings: Any, key_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Analytics]]:
    """Configure PORPOISE for this test (own key prefix, own spool folder); returns
    a function that updates the settings and gives back the services' Analytics."""
    from porpoise_django import delivery, services

    spool = str(tmp_path_factory.mktemp("spool"))

    def configure(**options: Any) -> Analytics:
        settings.PORPOISE = {
            "KEY_PREFIX": key_prefix,
            "WRITE_MODE": "sync",
            "SPOOL_DIR": spool,
            **options,
        }
        return services.get_analytics()

    configure()
    yield configure
    services.reset()
    delivery.reset()


@pytest.fixture
def private_server() -> Iterator[EmbeddedServer]:
    """A server of this test alone, which it may stop and start again; data
    survive a restart (saved on shutdown), as with a Redis that persists."""
    server = EmbeddedServer(persist=True)
    server.start()
    yield server
    server.close()


@pytest.fixture
def browser_page() -> Iterator[Any]:
    """A page of a fresh headless Chromium (Debian's), closed afterwards."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, FLAGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            yield page
        finally:
            browser.close()


@pytest.fixture
def staff_client_user(client: Any) -> Any:
    """A staff member with the analytics permission, signed in on ``client``."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(grant_analytics(user))
    return user


def grant_analytics(user: Any) -> Any:
    """Give ``user`` the permission the dashboards and the read API require
    (``PORPOISE["VIEW_PERMISSION"]``, default porpoise_django.view_analytics)."""
    from porpoise_django.permissions import view_permission

    user.user_permissions.add(view_permission())
    return user
