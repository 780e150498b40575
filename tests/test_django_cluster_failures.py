"""A cluster node dies and comes back: its slots are an outage, the others keep working."""

import time

import pytest
import redis

from porpoise_django import delivery
from tests.conftest import Cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_cluster():
    started = Cluster()
    yield started
    started.close()


def _chunk_on(pp, node_port, avoid=()):
    for chunk in range(1, 500):
        if chunk in avoid:
            continue
        node = pp.client.get_node_from_key(pp.keys.universe(chunk))
        if node.port == node_port:
            return chunk
    raise AssertionError("no chunk maps to that node")


def test_killing_a_node_buffers_its_writes_and_the_rest_goes_on(
    client, porpoise, own_cluster, caplog
):
    url = f"redis://127.0.0.1:{own_cluster.servers[0].port}/0"
    pp = porpoise(
        REDIS_URL=url, REDIS_CLUSTER=True, CHUNK_BITS=10, RETRY_SECONDS=0, SOCKET_TIMEOUT=0.5
    )
    victim = own_cluster.servers[2]
    survivor = own_cluster.servers[1]
    dead_chunk = _chunk_on(pp, victim.port)
    live_chunk = _chunk_on(pp, survivor.port)
    registry_node = pp.client.get_node_from_key(pp.keys.events_first).port
    generation_node = pp.client.get_node_from_key(pp.keys.generation).port
    live_id, dead_id = live_chunk * 1024 + 5, dead_chunk * 1024 + 5
    assert client.get(f"/liked/{live_id - 1}/").status_code == 200  # before the failure

    victim.process.kill()
    victim.process.wait()
    victim.process = None
    time.sleep(2.5)  # the other nodes notice (cluster-node-timeout 2 s)
    assert client.get(f"/liked/{live_id}/").status_code == 200
    assert client.get(f"/liked/{dead_id}/").status_code == 200
    direct = redis.Redis(port=survivor.port)
    if victim.port not in (registry_node, generation_node):
        # The live slot's mark is in Redis already, whatever happened elsewhere.
        assert direct.getbit(pp.keys.event("song:liked", pp.period("day"), live_chunk), 5) == 1
    assert len(delivery.get_buffer()) >= 1

    victim.start()
    deadline = time.monotonic() + 30
    while not delivery.flush_buffer():  # never raises: failures stay buffered
        if time.monotonic() > deadline:
            raise AssertionError("the buffer was not replayed after the node came back")
        time.sleep(0.5)
    assert sorted(pp.event("song:liked").day()) == sorted([live_id - 1, live_id, dead_id])
