"""Recording writes: send a batch in one round trip, or spool it durably when
Redis refuses; dispatch per ``WRITE_MODE``; wait for the background writer.

>>> from porpoise_django import delivery
>>> delivery.record([delivery.mark("signup", 42)])    # a user's pk
True
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from porpoise_django.conf import porpoise_settings
from porpoise_django.delivery import building, handoff, outage, replay
from porpoise_django.delivery.pending import PendingWrite

logger = logging.getLogger("porpoise_django")


def record(writes: Iterable[PendingWrite]) -> bool:
    """Write ``writes`` in one round trip; never raises.

    Returns True if they reached Redis, False if not: they are then spooled
    durably and replayed by a timer thread, never inside this call (a request
    must not wait on a backlog). In an outage all of them wait; if the engine
    refused them (not an outage), the replay sends them one by one and keeps
    the refused ones as dead letters.
    """
    items = list(writes)
    if not items:
        return True
    started = time.time()  # no token of these can have been set before
    if outage.paused():
        # Redis failed a moment ago: do not make this request wait on it.
        replay.get_buffer().add(items, at=started)
        replay.spooled()
        return False
    try:
        building.submit(items)
    except Exception as exc:
        replay.get_buffer().add(items, error=exc, at=started)
        if outage.is_outage(exc):
            outage.pause()
            replay.spooled()
            outage.log_outage(exc, f"{len(items)} writes spooled")
        else:
            # Redis answers, but not to these: sorted out row by row by the replay.
            replay.get_replayer().poke()
            outage.log_limited(
                "refused",
                logging.WARNING,
                "porpoise: %d writes refused (%s: %s); spooled, to be sent one by one",
                len(items),
                type(exc).__name__,
                exc,
            )
        return False
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

    >>> from porpoise_django import delivery
    >>> delivery.flush()   # in a script or test, before reading what was marked
    True
    """
    writer = handoff.background()
    return True if writer is None else writer.flush(timeout)
