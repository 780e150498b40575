"""The cluster client is built on first use, from every known node (issue 24,
defects 13 and 15): a dead seed is an outage for writes, never a 500."""

import time

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path
from redis.cluster import RedisCluster

from porpoise_django import delivery, services
from tests.conftest import Cluster

pytestmark = pytest.mark.django_db

urlpatterns = [path("ping/", lambda request: HttpResponse("pong"))]
DEAD = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture(autouse=True)
def no_learnt_nodes():
    services._known_nodes.clear()
    yield
    services._known_nodes.clear()


@override_settings(ROOT_URLCONF=__name__)
def test_a_dead_seed_never_turns_a_request_into_a_500(client, porpoise):
    user = get_user_model().objects.create_user("ann", password="pw")
    porpoise(REDIS_URL=DEAD, REDIS_CLUSTER=True, SOCKET_TIMEOUT=0.2)
    for _ in range(5):
        assert client.get("/ping/").status_code == 200  # anonymous: no engine needed
    client.force_login(user)
    assert client.get("/ping/").status_code == 200  # the active mark: spooled
    assert len(delivery.get_buffer()) >= 1


def test_the_client_is_built_from_every_node_in_the_setting(porpoise, cluster):
    live = f"redis://127.0.0.1:{cluster.servers[1].port}/0"
    pp = porpoise(REDIS_URL=f"{DEAD}, {live}", REDIS_CLUSTER=True, SOCKET_TIMEOUT=0.2)
    pp.mark("seen", 7)
    assert list(pp.event("seen").day()) == [7]
    assert isinstance(pp.client._built(), RedisCluster)
    pp.delete_all()
    pp = porpoise(REDIS_URL=[DEAD, live], REDIS_CLUSTER=True, SOCKET_TIMEOUT=0.2)
    assert pp.client.ping()


def test_nodes_learnt_from_the_cluster_outlive_a_dead_seed(porpoise, cluster):
    seed = f"redis://127.0.0.1:{cluster.servers[0].port}/0"
    pp = porpoise(REDIS_URL=seed, REDIS_CLUSTER=True, SOCKET_TIMEOUT=0.2)
    assert pp.client.ping()
    assert {port for _, port in services._known_nodes} == {s.port for s in cluster.servers}
    # A new client whose only seed is dead, in this process...
    pp = porpoise(REDIS_URL=DEAD, REDIS_CLUSTER=True, SOCKET_TIMEOUT=0.2)
    pp.mark("seen", 8)
    assert list(pp.event("seen").day()) == [8]
    pp.delete_all()


def test_a_new_worker_after_its_only_seed_died_finds_the_cluster(porpoise, cluster):
    """gunicorn HUPed after the seed died: the new workers read the nodes a former
    worker learnt, from the project's spool folder (0600)."""
    from porpoise_django.delivery import folder

    # A worker whose seed (the setting) is dead, but which learnt a node in its life.
    services._known_nodes[("127.0.0.1", cluster.servers[1].port)] = None
    pp = porpoise(REDIS_URL=DEAD, REDIS_CLUSTER=True, SOCKET_TIMEOUT=0.2)
    assert pp.client.ping()
    saved = folder.prepare() / services.NODES_FILE
    assert oct(saved.stat().st_mode & 0o777) == "0o600"
    services._known_nodes.clear()  # a new process knows only the setting...
    services.reset()
    pp = porpoise(REDIS_URL=DEAD, REDIS_CLUSTER=True, SOCKET_TIMEOUT=0.2)
    pp.mark("seen", 9)  # ... and the file
    assert list(pp.event("seen").day()) == [9]
    pp.delete_all()


def test_a_failure_to_build_is_a_connection_error():
    import redis

    lazy = services.LazyCluster([DEAD], {"socket_timeout": 0.2, "socket_connect_timeout": 0.2})
    with pytest.raises(redis.exceptions.ConnectionError, match="no Redis Cluster node"):
        lazy.ping()
    assert delivery.outage.is_outage(redis.exceptions.ConnectionError("x"))


def test_a_batch_does_not_sit_in_the_retry_loop(porpoise):
    """Slots whose node is gone: redis-py follows 16 redirections with sleeps
    (5-7 s); ours gives up after a few and the writes are spooled."""
    own = Cluster()
    try:
        url = f"redis://127.0.0.1:{own.servers[0].port}/0"
        pp = porpoise(REDIS_URL=url, REDIS_CLUSTER=True, SOCKET_TIMEOUT=0.3, RETRY_SECONDS=0)
        pipe = pp.client.pipeline()
        assert pipe.RedisClusterRequestTTL == services.CLUSTER_REQUEST_TTL
        victim = own.servers[2]
        key = next(
            f"pptest-ttl:{n}"
            for n in range(10_000)
            if pp.client.get_node_from_key(f"pptest-ttl:{n}").port == victim.port
        )
        victim.process.kill()
        victim.process.wait()
        victim.process = None
        time.sleep(2.5)  # the others mark it failed: its slots are down
        began = time.monotonic()
        with pytest.raises(Exception):  # noqa: B017  (an outage error, of any kind)
            pp.client.set(key, 1)
        assert time.monotonic() - began < 3.0
    finally:
        services.reset()
        own.close()
