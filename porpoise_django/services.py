"""Binds the engine to Django: connection, settings, time zone, fail-open writes.

>>> from porpoise_django import services
>>> services.get_analytics().event("active").day().count()      # doctest: +SKIP
>>> services.record([services.mark("signup", user.pk)])          # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import redis
import redis.cluster
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

from .buffer import PendingWrite, ReplayBuffer
from .conf import porpoise_settings
from .engine import Analytics
from .engine.analytics import Prepared

logger = logging.getLogger("porpoise_django")

#: Errors after which writes are buffered: unreachable, timed out, or refused
#: (OOM, READONLY, LOADING, cluster slots down...).
REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.RedisError,
    # Not a RedisError: raised when a cluster cannot route a command at all.
    redis.exceptions.RedisClusterException,
    OSError,
)

#: Seconds between two log lines about the same kind of outage.
LOG_INTERVAL = 10.0
_logged_at: dict[str, float] = {}
_log_suppressed: dict[str, int] = defaultdict(int)

_lock = threading.Lock()
_analytics: Analytics | None = None
_buffer: ReplayBuffer | None = None
_retry_after = 0.0


def get_client() -> Any:
    """The redis-py client: ``PORPOISE["REDIS_URL"]``, else the django-redis cache's connection."""
    url = porpoise_settings.REDIS_URL
    if url:
        timeout = porpoise_settings.SOCKET_TIMEOUT
        # No retries inside redis-py: a failed write goes to the replay buffer,
        # and retrying here would only make the request wait longer.
        options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        if porpoise_settings.REDIS_CLUSTER:
            return redis.cluster.RedisCluster.from_url(url, **options)
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
        retention=dict(s.RETENTION),
        max_range_buckets=s.MAX_RANGE_BUCKETS,
        max_id=s.MAX_ID,
        max_future_seconds=s.MAX_FUTURE_SECONDS,
        max_increment=s.MAX_INCREMENT,
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


def get_buffer() -> ReplayBuffer:
    global _buffer
    if _buffer is None:
        with _lock:
            if _buffer is None:
                _buffer = ReplayBuffer(porpoise_settings.BUFFER_SIZE)
    return _buffer


def reset() -> None:
    """Forget the engine and the buffer (settings changed; tests)."""
    global _analytics, _buffer, _retry_after
    with _lock:
        _analytics = None
        _buffer = None
        _retry_after = 0.0
        _logged_at.clear()
        _log_suppressed.clear()


# -- building writes ---------------------------------------------------------------
def mark(
    event: str,
    id: Any,
    when: Any = None,
    *,
    granularities: Sequence[str] | None = None,
    track_unique: bool = False,
) -> PendingWrite:
    """A validated mark, its time fixed now; raises ``ValueError`` on bad input."""
    pp = get_analytics()
    stamp = pp.check_mark(event, id, when)
    grans = None if granularities is None else tuple(granularities)
    if grans is not None:
        pp.check_event_granularities(grans)
    return PendingWrite("mark", stamp, grans, track_unique)


def count(
    counter: str,
    id: Any = None,
    by: float = 1,
    when: Any = None,
    *,
    granularities: Sequence[str] | None = None,
) -> PendingWrite:
    """A validated counter increment, its time fixed now."""
    pp = get_analytics()
    row = pp.check_count(counter, id, by, when)
    grans = None if granularities is None else tuple(granularities)
    return PendingWrite("count", row, grans, token=uuid.uuid4().hex)


def _prepare(pp: Analytics, writes: Sequence[PendingWrite]) -> list[Prepared | None]:
    groups: dict[tuple[str, tuple[str, ...] | None, bool], list[PendingWrite]] = defaultdict(list)
    for write in writes:
        groups[(write.kind, write.granularities, write.track_unique)].append(write)
    prepared: list[Prepared | None] = []
    for (kind, grans, unique), group in groups.items():
        rows = [write.row for write in group]
        if kind == "count":
            prepared.append(
                pp.prepare_counts(
                    rows,
                    granularities=grans,
                    tokens=[write.token or uuid.uuid4().hex for write in group],
                    token_ttl=porpoise_settings.IDEMPOTENCY_TTL,
                )
            )
        else:
            prepared.append(
                pp.prepare_marks(
                    rows,
                    granularities=grans,
                    track_unique=unique,
                    value=0 if kind == "unmark" else 1,
                )
            )
    return prepared


def log_outage(exc: BaseException, outcome: str) -> None:
    """Log a Redis failure at most once per :data:`LOG_INTERVAL` per ``outcome``, with
    the number of failures not logged since (an outage must not flood the logs)."""
    now = time.monotonic()
    if now - _logged_at.get(outcome, -LOG_INTERVAL - 1) < LOG_INTERVAL:
        _log_suppressed[outcome] += 1
        return
    _logged_at[outcome] = now
    quiet = _log_suppressed.pop(outcome, 0)
    logger.warning(
        "porpoise: Redis unavailable (%s: %s); %s%s",
        type(exc).__name__,
        exc,
        outcome,
        f" ({quiet} more since the last line)" if quiet else "",
    )


def record(writes: Iterable[PendingWrite]) -> bool:
    """Write ``writes`` (and any buffered ones) in one round trip; never raises for Redis.

    Returns True if they reached Redis, False if they were buffered because
    Redis is unreachable or failing; they are replayed by a later call.
    """
    global _retry_after
    items = list(writes)
    buffer = get_buffer()
    if time.monotonic() < _retry_after:
        # Redis failed a moment ago: do not make this request wait on it.
        buffer.add(items)
        return False
    pending = buffer.take()
    batch = pending + items
    if not batch:
        return True
    pp = get_analytics()
    try:
        pp.submit(_prepare(pp, batch))
    except REDIS_ERRORS as exc:
        _retry_after = time.monotonic() + porpoise_settings.RETRY_SECONDS
        buffer.restore(pending)
        buffer.add(items, error=exc)
        log_outage(exc, f"{len(buffer)} writes buffered")
        return False
    except Exception:
        # Not Redis (a bug, or a row that no longer validates): the taken
        # writes go back to the buffer rather than vanish uncounted.
        buffer.restore(pending)
        buffer.add(items)
        logger.exception("porpoise: %d writes kept in the buffer after an error", len(batch))
        raise
    if pending:
        buffer.replayed(len(pending))
        logger.info("porpoise: replayed %d buffered writes", len(pending))
    return True


def dispatch(writes: list[PendingWrite]) -> None:
    """Hand writes over per ``WRITE_MODE``: to the background writer, or write now."""
    if not writes:
        return
    if porpoise_settings.WRITE_MODE == "sync":
        record(writes)
    else:
        from .writer import get_writer

        get_writer().submit(writes)


def flush(timeout: float = 5.0) -> bool:
    """Wait for the background writer to hand over everything queued so far.

    >>> services.flush()   # in a script or test, before reading what was marked  # doctest: +SKIP
    True
    """
    from .writer import get_writer

    return get_writer().flush(timeout)


def flush_buffer() -> bool:
    """Try to replay buffered writes now (e.g. from a health check or at exit)."""
    global _retry_after
    _retry_after = 0.0
    return record([])


def validate_event_name(name: str) -> str:
    """Check an event name at import time (decorators), without a connection."""
    from .engine.names import validate_name

    return validate_name(name)


def validate_counter_name(name: str) -> str:
    from .engine.names import validate_name

    return validate_name(name, what="counter name")
