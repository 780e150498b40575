"""The Django integration on a Redis Cluster (REDIS_URL + REDIS_CLUSTER)."""

import pytest
from django.contrib.auth import get_user_model
from redis.cluster import RedisCluster

pytestmark = pytest.mark.django_db


def test_requests_mark_into_a_cluster(client, porpoise, cluster):
    url = f"redis://127.0.0.1:{cluster.servers[0].port}/0"
    pp = porpoise(REDIS_URL=url, REDIS_CLUSTER=True)
    assert isinstance(pp.client._built(), RedisCluster)
    users = [get_user_model().objects.create_user(f"c{i}", password="pw") for i in range(3)]
    for user in users:
        client.force_login(user)
        assert client.get("/collect/").status_code == 200
    assert sorted(pp.event("active").day()) == sorted(u.pk for u in users)
    assert sorted(pp.event("song:played").day()) == sorted([*(u.pk for u in users), 999])
    assert pp.counter("page:view").total(pp.period("day")) == 3
    pp.delete_all()
