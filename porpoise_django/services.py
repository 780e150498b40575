"""Binds the engine to Django: connection, settings, time zone, fail-open writes.

>>> from porpoise_django import services
>>> services.get_analytics().event("active").day().count()      # doctest: +SKIP
>>> services.record([services.mark("signup", user.pk)])          # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import redis
import redis.cluster
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.backoff import NoBackoff
from redis.retry import Retry

from .buffer import DurableBuffer
from .conf import WATCHED_SETTINGS, porpoise_settings
from .engine import Analytics
from .engine.writes import Prepared
from .pending import PendingWrite

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
_buffer: DurableBuffer | None = None
_replayer: Replayer | None = None
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
        id_map_shards=s.ID_MAP_SHARDS,
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


def spool_dir() -> str:
    """``SPOOL_DIR``, or a folder of this user in the system's temporary directory
    (it survives process restarts, so a new worker finds a dead one's spool)."""
    configured = porpoise_settings.SPOOL_DIR
    if configured:
        return str(configured)
    return os.path.join(tempfile.gettempdir(), f"porpoise-django-{os.getuid()}")


def get_buffer() -> DurableBuffer:
    """Where writes Redis refused wait (a durable spool; see :mod:`.buffer`)."""
    global _buffer
    if _buffer is None or _buffer.pid != os.getpid():  # a forked worker opens its own
        with _lock:
            if _buffer is None or _buffer.pid != os.getpid():
                _buffer = DurableBuffer(
                    spool_dir(),
                    max_bytes=porpoise_settings.SPOOL_MAX_BYTES,
                    memory_size=porpoise_settings.BUFFER_SIZE,
                )
                _register_shutdown()
    return _buffer


class Replayer:
    """A daemon thread that replays spooled writes on a timer, without traffic:
    first after ``RETRY_SECONDS``, then with backoff (doubling up to a minute,
    with jitter) while Redis keeps failing. It also claims the spools of
    processes that are gone (at start, then every half minute)."""

    ORPHAN_CHECK_SECONDS = 30.0
    MAX_DELAY = 60.0

    def __init__(self) -> None:
        self.wake = threading.Event()
        self.pid = os.getpid()
        self.fresh = True  # back to the first delay (settings changed, Redis answered)
        self.idle = True  # in the long sleep between orphan checks
        self._thread = threading.Thread(target=self._run, name="porpoise-replayer", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Try again now, from the first delay."""
        self.fresh = True
        self.wake.set()

    def _run(self) -> None:
        delay = 0.0
        orphans_at = 0.0  # at once: a new process claims what dead ones left
        while True:
            base = max(float(porpoise_settings.RETRY_SECONDS), 0.05)
            if self.fresh:
                self.fresh, delay = False, base
            due_orphans = time.monotonic() >= orphans_at
            buffer = _buffer
            busy = buffer is not None and buffer.pid == self.pid and buffer.backlog
            if buffer is not None and (busy or due_orphans):
                try:
                    replayed = flush_buffer(orphans=due_orphans)
                except Exception:
                    # Not Redis (e.g. the spool closed by a settings reset): the
                    # thread must live on; the next turn starts from scratch.
                    logger.exception("porpoise: replay error")
                    replayed = False
                if replayed:
                    delay = base
                    if due_orphans:
                        orphans_at = time.monotonic() + self.ORPHAN_CHECK_SECONDS
                else:
                    delay = min(delay * 2, self.MAX_DELAY)
            pause = delay * random.uniform(0.8, 1.2) if busy else self.ORPHAN_CHECK_SECONDS
            self.idle = not busy
            self.wake.wait(pause)
            self.wake.clear()


def get_replayer() -> Replayer:
    """The process's replay thread (started on the first spooled write)."""
    global _replayer
    if _replayer is None or _replayer.pid != os.getpid():
        with _lock:
            if _replayer is None or _replayer.pid != os.getpid():
                _replayer = Replayer()
    return _replayer


def start_replayer() -> None:
    """Start the replay thread (it claims dead processes' spools at once). Never raises:
    a server must start even where the spool folder cannot be used."""
    try:
        get_buffer()
        get_replayer()
    except Exception:
        logger.exception("porpoise: the replay thread could not start")


def _spooled() -> None:
    """Writes were just spooled: make sure the replayer keeps a short timer (it is
    woken only from its long sleep, so an outage does not make it retry per write)."""
    replayer = get_replayer()
    if replayer.idle:
        replayer.idle = False
        replayer.wake.set()


_shutdown_registered = False


def _register_shutdown() -> None:
    global _shutdown_registered
    if not _shutdown_registered:
        _shutdown_registered = True
        atexit.register(shutdown)


def shutdown(timeout: float = 5.0) -> None:
    """At exit (also the gunicorn ``worker_exit`` hook): hand queued writes over,
    try one replay, then close the spool. What Redis did not take stays in the
    spool file, which the next process replays. Never raises.

    >>> # gunicorn.conf.py
    >>> from porpoise_django.hooks import worker_exit  # doctest: +SKIP
    """
    global _buffer
    try:
        if _background is not None:
            _background().flush(timeout)
    except Exception:
        logger.exception("porpoise: flushing the writer at exit failed")
    buffer = _buffer
    if buffer is None or buffer.pid != os.getpid():
        return
    try:
        if buffer.backlog:
            flush_buffer(orphans=False)
    except Exception:
        logger.exception("porpoise: replay at exit failed")
    finally:
        if len(buffer):
            logger.warning("porpoise: %d writes stay spooled at exit", len(buffer))
        buffer.close()
        # A write that still comes (another thread) opens a new spool file.
        if _buffer is buffer:
            _buffer = None


class Writer(Protocol):
    """What :func:`dispatch` needs of the background writer (see :mod:`.writer`)."""

    def submit(self, writes: Iterable[PendingWrite]) -> None: ...

    def flush(self, timeout: float = 5.0) -> bool: ...


#: Returns the process's background writer; set by ``PorpoiseConfig.ready``
#: (the writer depends on this module, so it is injected, not imported).
_background: Callable[[], Writer] | None = None


def use_writer(get_writer: Callable[[], Writer]) -> None:
    """Hand background writes to the writer ``get_writer()`` returns."""
    global _background
    _background = get_writer


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED_SETTINGS:
        reset()


def reset() -> None:
    """Forget the engine and the buffer (settings changed; tests)."""
    global _analytics, _buffer, _retry_after
    with _lock:
        _analytics = None
        if _buffer is not None and _buffer.pid == os.getpid():
            _buffer.close()
        _buffer = None
        _retry_after = 0.0
        if _replayer is not None and _replayer.pid == os.getpid():
            _replayer.poke()
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


def _submit(writes: list[PendingWrite]) -> None:
    pp = get_analytics()
    pp.submit(_prepare(pp, writes))


def record(writes: Iterable[PendingWrite]) -> bool:
    """Write ``writes`` in one round trip; never raises for Redis.

    Returns True if they reached Redis, False if Redis refused them: they are
    then spooled durably and replayed by a timer thread, never inside this
    call (a request must not wait on a backlog).
    """
    global _retry_after
    items = list(writes)
    if not items:
        return True
    if time.monotonic() < _retry_after:
        # Redis failed a moment ago: do not make this request wait on it.
        get_buffer().add(items)
        _spooled()
        return False
    try:
        _submit(items)
    except REDIS_ERRORS as exc:
        _retry_after = time.monotonic() + porpoise_settings.RETRY_SECONDS
        get_buffer().add(items, error=exc)
        _spooled()
        log_outage(exc, f"{len(items)} writes spooled")
        return False
    except Exception:
        # Not Redis (a bug): the writes are kept rather than lost uncounted.
        get_buffer().add(items)
        logger.exception("porpoise: %d writes spooled after an error", len(items))
        raise
    buffer = _buffer
    if buffer is not None and buffer.backlog:
        get_replayer().poke()  # Redis answers again: drain in the background
    return True


def dispatch(writes: list[PendingWrite]) -> None:
    """Hand writes over per ``WRITE_MODE``: to the background writer, or write now."""
    if not writes:
        return
    if porpoise_settings.WRITE_MODE == "sync" or _background is None:
        record(writes)
    else:
        _background().submit(writes)


def flush(timeout: float = 5.0) -> bool:
    """Wait for the background writer to hand over everything queued so far.

    >>> services.flush()   # in a script or test, before reading what was marked  # doctest: +SKIP
    True
    """
    return True if _background is None else _background().flush(timeout)


def flush_buffer(*, orphans: bool = True) -> bool:
    """Replay spooled writes now (and, with ``orphans``, those of dead processes);
    False if Redis still refuses them (they stay spooled). Never raises for Redis.
    """
    global _retry_after
    buffer = get_buffer()
    try:
        buffer.replay(_submit, orphans=orphans)
    except REDIS_ERRORS as exc:
        _retry_after = time.monotonic() + porpoise_settings.RETRY_SECONDS
        buffer.stats.last_error = f"{type(exc).__name__}: {exc}"
        log_outage(exc, "replay postponed")
        return False
    _retry_after = 0.0
    return True


def validate_event_name(name: str) -> str:
    """Check an event name at import time (decorators), without a connection."""
    from .engine.names import validate_name

    return validate_name(name)


def validate_counter_name(name: str) -> str:
    from .engine.names import validate_name

    return validate_name(name, what="counter name")
