"""Recording writes: send a batch in one round trip, or spool it durably when
Redis refuses; dispatch per ``WRITE_MODE``; wait for the background writer.

>>> from porpoise_django import delivery
>>> delivery.record([delivery.mark("signup", user.pk)])    # doctest: +SKIP
True
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from porpoise_django.conf import porpoise_settings
from porpoise_django.delivery import building, handoff, outage, replay
from porpoise_django.delivery.pending import PendingWrite

logger = logging.getLogger("porpoise_django")


def record(writes: Iterable[PendingWrite]) -> bool:
    """Write ``writes`` in one round trip; never raises for Redis.

    Returns True if they reached Redis, False if Redis refused them: they are
    then spooled durably and replayed by a timer thread, never inside this
    call (a request must not wait on a backlog).
    """
    items = list(writes)
    if not items:
        return True
    if outage.paused():
        # Redis failed a moment ago: do not make this request wait on it.
        replay.get_buffer().add(items)
        replay.spooled()
        return False
    try:
        building.submit(items)
    except outage.REDIS_ERRORS as exc:
        outage.pause()
        replay.get_buffer().add(items, error=exc)
        replay.spooled()
        outage.log_outage(exc, f"{len(items)} writes spooled")
        return False
    except Exception:
        # Not Redis (a bug): the writes are kept rather than lost uncounted.
        replay.get_buffer().add(items)
        logger.exception("porpoise: %d writes spooled after an error", len(items))
        raise
    if replay.has_backlog():
        replay.get_replayer().poke()  # Redis answers again: drain in the background
    return True


def dispatch(writes: list[PendingWrite]) -> None:
    """Hand writes over per ``WRITE_MODE``: to the background writer, or write now."""
    if not writes:
        return
    writer = handoff.background()
    if porpoise_settings.WRITE_MODE == "sync" or writer is None:
        record(writes)
    else:
        writer.submit(writes)


def flush(timeout: float = 5.0) -> bool:
    """Wait for the background writer to hand over everything queued so far.

    >>> delivery.flush()   # in a script or test, before reading what was marked  # doctest: +SKIP
    True
    """
    writer = handoff.background()
    return True if writer is None else writer.flush(timeout)
