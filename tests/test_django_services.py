"""The services: the ``PORPOISE`` settings reach the engine, one engine per
process (rebuilt when the settings change), the client never retries inside
redis-py, and a person's properties never raise for Redis."""

from __future__ import annotations

import logging

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from porpoise_django import services
from porpoise_django.engine import InvalidName

pytestmark = pytest.mark.django_db

DEAD = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_every_setting_reaches_the_engine(settings):
    settings.TIME_ZONE = "Europe/Paris"
    settings.PORPOISE = {
        "KEY_PREFIX": "shop",
        "CHUNK_BITS": 16,
        "GRANULARITIES": ["hour", "day"],
        "COUNTER_GRANULARITIES": ["day"],
        "ID_MODE": "map",
        "ID_MAP_SHARDS": 4,
        "RETENTION": {"hour": 48},
        "MAX_RANGE_BUCKETS": 100,
        "MAX_ID": 1000,
        "MAX_FUTURE_SECONDS": 60,
        "MAX_INCREMENT": 5,
        "MAX_PROPERTY_VALUES": 7,
    }
    assert services.engine_options() == {
        "prefix": "shop",
        "chunk_bits": 16,
        "granularities": ("hour", "day"),
        "counter_granularities": ("day",),
        "tz": "Europe/Paris",
        "id_mode": "map",
        "id_map_shards": 4,
        "retention": {"hour": 48},
        "max_range_buckets": 100,
        "max_id": 1000,
        "max_future_seconds": 60,
        "max_increment": 5,
        "max_property_values": 7,
    }
    client = redis.Redis.from_url(DEAD)
    assert services.build_analytics(client).client is client


def test_one_engine_per_process_rebuilt_when_the_settings_change(settings, redis_url):
    settings.PORPOISE = {"REDIS_URL": redis_url, "KEY_PREFIX": "one"}
    first = services.get_analytics()
    assert services.get_analytics() is first
    with override_settings(ROOT_URLCONF="tests.urls"):  # not a setting of ours
        assert services.get_analytics() is first
    settings.PORPOISE = {"REDIS_URL": redis_url, "KEY_PREFIX": "two"}
    second = services.get_analytics()
    assert second is not first and second.keys.prefix.startswith("two")
    settings.TIME_ZONE = "Asia/Kolkata"
    assert services.get_analytics() is not second
    third = services.get_analytics()
    services.reset()
    assert services.get_analytics() is not third


def test_the_client_never_retries_and_waits_as_long_as_the_setting(settings, redis_url):
    settings.PORPOISE = {"REDIS_URL": redis_url, "SOCKET_TIMEOUT": 0.25}
    client = services.get_client()
    assert isinstance(client, redis.Redis) and client.ping()
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 0.25 and kwargs["socket_connect_timeout"] == 0.25
    assert client.get_retry().get_retries() == 0
    settings.PORPOISE = {"REDIS_URL": DEAD, "SOCKET_TIMEOUT": 0.25}
    with pytest.raises(redis.exceptions.ConnectionError):
        services.get_client().ping()  # at once: no retry inside redis-py


def test_a_cache_alias_that_is_no_redis_is_a_clear_error(settings):
    settings.PORPOISE = {"CACHE_ALIAS": "nowhere"}
    with pytest.raises(ImproperlyConfigured, match=r"cannot use cache 'nowhere'.*E001/E002"):
        services.get_client()


def test_cluster_urls_are_a_list_or_text_separated_by_commas():
    assert services.cluster_urls(" redis://a:1/0, ,redis://b:2/0,") == [
        "redis://a:1/0",
        "redis://b:2/0",
    ]
    assert services.cluster_urls([" redis://a:1/0 ", "", "redis://c:3/0"]) == [
        "redis://a:1/0",
        "redis://c:3/0",
    ]
    assert services.cluster_urls(("redis://d:4/0",)) == ["redis://d:4/0"]
    node = services._node("redis://h.example/0")
    assert (node.host, node.port) == ("h.example", 6379)


def test_a_cluster_client_is_built_once_and_only_when_used(porpoise, cluster):
    # (porpoise: the nodes it learns are saved in this test's own spool folder)
    services._known_nodes.clear()
    live = f"redis://127.0.0.1:{cluster.servers[0].port}/0"
    lazy = services.LazyCluster([live], {"socket_timeout": 0.5, "socket_connect_timeout": 0.5})
    lazy.close()  # never built: nothing to close, nothing connects
    assert lazy._client is None
    built = lazy._built()
    assert lazy._built() is built and lazy.ping()
    lazy.close()
    services._known_nodes.clear()


def test_names_checked_without_a_connection(settings):
    settings.PORPOISE = {"REDIS_URL": DEAD}
    assert services.validate_event_name("song:played") == "song:played"
    assert services.validate_counter_name("revenue") == "revenue"
    with pytest.raises(InvalidName, match="invalid event name 'bad name'"):
        services.validate_event_name("bad name")
    with pytest.raises(InvalidName, match="invalid counter name 'bad name'"):
        services.validate_counter_name("bad name")


def test_properties_of_a_user_or_a_pk_and_never_an_error(porpoise, private_server, caplog):
    from django.contrib.auth import get_user_model

    pp = porpoise(REDIS_URL=private_server.url, SOCKET_TIMEOUT=0.3)
    user = get_user_model().objects.create_user("ann")
    assert services.set_properties(user, {"plan": "pro"}) is True
    assert services.set_properties(user.pk + 1, {"plan": "free"}) is True
    assert sorted(pp.where(plan="pro")) == [user.pk]
    assert sorted(pp.where(plan="free")) == [user.pk + 1]
    private_server.stop()
    with caplog.at_level(logging.WARNING, logger="porpoise_django"):
        assert services.set_properties(user, {"plan": "team"}) is False
    assert f"person properties of {user.pk!r} not written" in caplog.text
