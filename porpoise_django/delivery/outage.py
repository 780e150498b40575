"""What counts as Redis being unavailable, the pause after a failure, and the
rate-limited log line an outage writes.

>>> from porpoise_django.delivery import outage
>>> outage.paused()          # True for RETRY_SECONDS after a failed write  # doctest: +SKIP
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


def reset() -> None:
    """Forget the pause and the log limiter (settings changed; tests)."""
    resume()
    _logged_at.clear()
    _log_suppressed.clear()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED_SETTINGS:
        reset()
