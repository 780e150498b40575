"""What counts as Redis being unavailable, the pause after a failure, and the
rate-limited log line an outage writes.

>>> from porpoise_django.delivery import outage
>>> outage.paused()          # True for RETRY_SECONDS after a failed write
False
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any

import redis
from django.core.signals import setting_changed
from django.dispatch import receiver

from porpoise_django.conf import WATCHED_SETTINGS, porpoise_settings

logger = logging.getLogger("porpoise_django")

#: Errors after which writes are buffered: unreachable, timed out, or refused
#: (OOM, READONLY, LOADING, cluster slots down...).
REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.RedisError,
    # Not a RedisError: raised when a cluster cannot route a command at all.
    redis.exceptions.RedisClusterException,
    OSError,
)

#: Errors that mean Redis cannot take writes now, whatever they are: it is
#: unreachable, slow, loading, read-only, full, busy, or a cluster is down or
#: moving slots. Writes wait in the spool and are sent again. Any other error
#: (``WRONGTYPE``, a value the engine refuses) is about the writes themselves:
#: those go to the dead letters, one by one, and the others go on.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # also LOADING, auth, max clients
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.NoPermissionError,  # an ACL of the deploy, not of a row
    redis.exceptions.ClusterError,  # CLUSTERDOWN, MASTERDOWN, "TTL exhausted"
    redis.exceptions.TryAgainError,
    redis.exceptions.AskError,  # and MOVED: slots migrating
    redis.exceptions.InvalidResponse,
    redis.exceptions.RedisClusterException,
    OSError,
)
#: Error replies, by their code, that are outages too.
OUTAGE_CODES = frozenset(
    {"BUSY", "LOADING", "MISCONF", "NOREPLICAS", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN"}
)


class EngineUnavailable(Exception):
    """The engine (its Redis client) could not be built: an outage, not a refusal."""


def is_outage(exc: BaseException) -> bool:
    """True if ``exc`` says Redis cannot take writes now (see :data:`OUTAGE_ERRORS`)."""
    if isinstance(exc, (*OUTAGE_ERRORS, EngineUnavailable)):
        return True
    if isinstance(exc, redis.exceptions.ResponseError):
        code = getattr(exc, "status_code", None) or str(exc).split(" ", 1)[0]
        return code in OUTAGE_CODES
    return False


#: Seconds between two log lines about the same kind of outage.
LOG_INTERVAL = 10.0
_logged_at: dict[str, float] = {}
_log_suppressed: dict[str, int] = defaultdict(int)
_retry_after = 0.0


def paused() -> bool:
    """True while Redis failed a moment ago (a request must not wait on it)."""
    return time.monotonic() < _retry_after


def pause() -> None:
    """Redis just failed: do not try it again for ``RETRY_SECONDS``."""
    global _retry_after
    _retry_after = time.monotonic() + porpoise_settings.RETRY_SECONDS


def resume() -> None:
    """Redis answered: writes go straight to it again."""
    global _retry_after
    _retry_after = 0.0


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


def log_limited(key: str, level: int, message: str, *args: object, exc_info: bool = False) -> None:
    """Log ``message`` at most once per :data:`LOG_INTERVAL` per ``key``, with
    the number of lines left out since."""
    now = time.monotonic()
    if now - _logged_at.get(key, -LOG_INTERVAL - 1) < LOG_INTERVAL:
        _log_suppressed[key] += 1
        return
    _logged_at[key] = now
    quiet = _log_suppressed.pop(key, 0)
    suffix = f" ({quiet} more since the last line)" if quiet else ""
    logger.log(level, message + "%s", *args, suffix, exc_info=exc_info)


def reset() -> None:
    """Forget the pause and the log limiter (settings changed; tests)."""
    resume()
    _logged_at.clear()
    _log_suppressed.clear()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED_SETTINGS:
        reset()
