"""Binds the engine to Django: the Redis client, the process's engine, and the
``PORPOISE`` settings turned into engine options (with the project's time zone).

>>> from porpoise_django import services
>>> services.get_analytics().event("active").day().count()
0

Writing through the fail-open path (spool, replay) is :mod:`porpoise_django.delivery`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

import redis
import redis.cluster
import redis.connection
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.backoff import NoBackoff
from redis.retry import Retry

from porpoise_django.conf import WATCHED_SETTINGS, porpoise_settings
from porpoise_django.engine import Analytics, validate_name

logger = logging.getLogger("porpoise_django")
_lock = threading.Lock()
_analytics: Analytics | None = None


#: Redirections (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) a cluster command may follow
#: before it fails (redis-py's default is 16, with sleeps: 5-7 s in a slot
#: migration); a failed batch is spooled and replayed, so it need not wait.
CLUSTER_REQUEST_TTL = 3
#: Cluster nodes this process learnt (host, port), tried when a client is built;
#: also saved in the spool folder for the next processes (a worker started
#: after its only seed died still finds the cluster).
_known_nodes: dict[tuple[str, int], None] = {}
NODES_FILE = "cluster-nodes.json"


def cluster_urls(setting: Any) -> list[str]:
    """``REDIS_URL`` as a list of node URLs (a list, or text separated by commas)."""
    items = setting.split(",") if isinstance(setting, str) else list(setting)
    return [item.strip() for item in items if item and item.strip()]


class LazyCluster:
    """A ``RedisCluster`` built on first use, from every node known then.

    ``RedisCluster`` connects in its constructor: built at startup it turned
    every request into a 500 while its one seed node was down. This proxy builds
    it when a command is first sent, trying each URL of ``REDIS_URL`` and each
    node a former client learnt; if none answers it raises
    ``redis.ConnectionError``, which the delivery treats as an outage (writes
    spool), and the next use tries again.
    """

    def __init__(self, urls: list[str], options: dict[str, Any]) -> None:
        self._urls, self._options = urls, options
        self._client: Any = None
        self._lock = threading.Lock()

    def _built(self) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = _build_cluster(self._urls, self._options)
                client = self._client
        return client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._built(), name)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class _Cluster(redis.cluster.RedisCluster):
    RedisClusterRequestTTL = CLUSTER_REQUEST_TTL

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        pipe.RedisClusterRequestTTL = CLUSTER_REQUEST_TTL  # redirections re-sent one by one
        return pipe


def _saved_nodes() -> list[tuple[str, int]]:
    """Nodes a former process of this project learnt, kept in its spool folder
    (0700, refused if others could write: nobody can plant a node there)."""
    try:
        from porpoise_django.delivery import folder

        data = json.loads((folder.prepare() / NODES_FILE).read_text())
        return [(str(host), int(port)) for host, port in data[:64]]
    except Exception:  # none saved yet, or unreadable: the setting's nodes only
        return []


def _save_nodes(nodes: list[tuple[str, int]]) -> None:
    try:
        from porpoise_django.delivery import folder

        path = folder.prepare() / NODES_FILE
        partial = path.with_name(f"{NODES_FILE}.{os.getpid()}")
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(nodes, f)
        os.replace(partial, path)
    except Exception:  # a read-only disk costs only the memory of the nodes
        pass


def _build_cluster(urls: list[str], options: dict[str, Any]) -> Any:
    """A client from the setting's nodes, else from the nodes learnt before (here or
    by a former process): learnt nodes may be another cluster's (the tests')."""
    setting = [_node(url) for url in urls[1:]]
    try:
        client = _connect(urls[0], setting, options)
    except redis.exceptions.ConnectionError:
        known = list(dict.fromkeys([*_known_nodes, *_saved_nodes()]))
        if not known:
            raise
        seeds = [redis.cluster.ClusterNode(host, port) for host, port in known]
        client = _connect(urls[0], setting + seeds, options)
    before = sorted(_known_nodes)
    for node in client.get_nodes():
        _known_nodes[(node.host, int(node.port))] = None
    if sorted(_known_nodes) != before:
        _save_nodes(sorted(_known_nodes))
    return client


def _node(url: str) -> Any:
    parsed = redis.connection.parse_url(url)
    return redis.cluster.ClusterNode(parsed.get("host"), parsed.get("port", 6379))


def _connect(url: str, seeds: list[Any], options: dict[str, Any]) -> Any:
    try:
        return _Cluster(url=url, startup_nodes=seeds, **options)
    except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException, OSError) as exc:
        raise redis.exceptions.ConnectionError(
            f"porpoise: no Redis Cluster node of {url} answered: {exc}"
        ) from exc


def get_client() -> Any:
    """The redis-py client: ``PORPOISE["REDIS_URL"]``, else the django-redis cache's connection."""
    url = porpoise_settings.REDIS_URL
    if url:
        timeout = porpoise_settings.SOCKET_TIMEOUT
        # No retries inside redis-py: a failed write goes to the replay buffer,
        # and retrying here would only make the request wait longer.
        options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        if porpoise_settings.REDIS_CLUSTER:
            return LazyCluster(cluster_urls(url), {**options, "retry": Retry(NoBackoff(), 0)})
        return redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)
    alias = porpoise_settings.CACHE_ALIAS
    try:
        from django_redis import get_redis_connection

        return get_redis_connection(alias)
    except Exception as exc:  # django-redis raises several types for a bad alias
        raise ImproperlyConfigured(
            f"porpoise: cannot use cache {alias!r} as a Redis connection ({exc}); "
            "see the porpoise_django.E001/E002 checks"
        ) from exc


def engine_options() -> dict[str, Any]:
    """The :class:`Analytics` keyword arguments that the ``PORPOISE`` settings give."""
    s = porpoise_settings
    return dict(
        prefix=s.KEY_PREFIX,
        chunk_bits=s.CHUNK_BITS,
        granularities=tuple(s.GRANULARITIES),
        counter_granularities=tuple(s.COUNTER_GRANULARITIES),
        tz=s.TIME_ZONE,
        id_mode=s.ID_MODE,
        id_map_shards=s.ID_MAP_SHARDS,
        retention=dict(s.RETENTION),
        max_range_buckets=s.MAX_RANGE_BUCKETS,
        max_id=s.MAX_ID,
        max_future_seconds=s.MAX_FUTURE_SECONDS,
        max_increment=s.MAX_INCREMENT,
        max_property_values=s.MAX_PROPERTY_VALUES,
    )


def build_analytics(client: Any = None) -> Analytics:
    """A new :class:`Analytics` from the ``PORPOISE`` settings."""
    return Analytics(client if client is not None else get_client(), **engine_options())


def get_analytics() -> Analytics:
    """The process-wide :class:`Analytics` (rebuilt after the settings change)."""
    global _analytics
    if _analytics is None:
        with _lock:
            if _analytics is None:
                _analytics = build_analytics()
    return _analytics


def reset() -> None:
    """Forget the engine (settings changed; tests): the next use builds it anew."""
    global _analytics
    with _lock:
        _analytics = None


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED_SETTINGS:
        reset()


def validate_event_name(name: str) -> str:
    """Check an event name at import time (decorators), without a connection."""
    return validate_name(name)


def validate_counter_name(name: str) -> str:
    """Check a counter name at import time (decorators), without a connection."""
    return validate_name(name, what="counter name")


def set_properties(user: Any, properties: dict[str, object]) -> bool:
    """Set person properties of ``user`` (a user or its pk) now; never raises for
    Redis (False, logged: ``porpoise_sync_properties`` writes them again).

    Example::

        services.set_properties(request.user, {"plan": "pro"})    # True once written
    """
    pk = getattr(user, "pk", user)
    try:
        get_analytics().set_properties(pk, properties)
    except (redis.exceptions.RedisError, OSError) as exc:
        logger.warning("porpoise: person properties of %r not written (%s)", pk, exc)
        return False
    return True
