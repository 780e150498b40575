"""How writes reach Redis: built and validated at once (:mod:`.building`), sent
in one round trip or spooled durably when Redis refuses (:mod:`.recording`,
:mod:`.buffer`, :mod:`.spool`), replayed by a timer thread and at exit
(:mod:`.replay`); the background writer (:mod:`.writer`) batches requests.

>>> from porpoise_django import delivery
>>> delivery.record([delivery.mark("signup", 42)])    # a user's pk
True
>>> delivery.flush()    # wait for the background writer (scripts, tests)
True
>>> 42 in pp.event("signup").day()
True
"""

from porpoise_django.delivery import outage, replay
from porpoise_django.delivery.building import count, mark
from porpoise_django.delivery.handoff import Writer, use_writer
from porpoise_django.delivery.outage import REDIS_ERRORS, log_outage
from porpoise_django.delivery.pending import PendingWrite
from porpoise_django.delivery.recording import dispatch, flush, record
from porpoise_django.delivery.replay import (
    flush_buffer,
    get_buffer,
    shutdown,
    spool_dir,
    start_replayer,
)

__all__ = [
    "REDIS_ERRORS",
    "PendingWrite",
    "Writer",
    "count",
    "dispatch",
    "flush",
    "flush_buffer",
    "get_buffer",
    "log_outage",
    "mark",
    "record",
    "reset",
    "shutdown",
    "spool_dir",
    "start_replayer",
    "use_writer",
]


def reset() -> None:
    """Forget the spool, the outage pause and the log limiter (tests)."""
    outage.reset()
    replay.reset()
