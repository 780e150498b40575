"""The durable spool's lifecycle: where it lives, the replay thread that drains
it on a timer (and claims dead processes' spools), and the hand-over at exit.

>>> from porpoise_django import delivery
>>> delivery.flush_buffer()    # replay now; False if Redis still refuses
True
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from porpoise_django.conf import WATCHED_SETTINGS, porpoise_settings
from porpoise_django.delivery import building, folder, handoff, outage
from porpoise_django.delivery.buffer import DurableBuffer
from porpoise_django.delivery.spool import SpoolError

logger = logging.getLogger("porpoise_django")

_lock = threading.Lock()
_buffer: DurableBuffer | None = None
_replayer: Replayer | None = None


def spool_dir() -> str:
    """This project's spool folder (see :mod:`.folder`): in ``SPOOL_DIR`` or the
    user's cache folder, keyed by the key prefix and the Redis server (it
    survives process restarts, so a new worker finds a dead one's spool)."""
    return str(folder.project_folder())


def get_buffer() -> DurableBuffer:
    """Where writes Redis refused wait (a durable spool; see :mod:`.buffer`)."""
    global _buffer
    if _buffer is None or _buffer.pid != os.getpid():  # a forked worker opens its own
        with _lock:
            if _buffer is None or _buffer.pid != os.getpid():
                _buffer = _new_buffer()
                _register_shutdown()
    return _buffer


def _new_buffer() -> DurableBuffer:
    where = folder.project_folder()
    problem = None
    try:
        folder.prepare(where)
    except (folder.UnsafeFolder, OSError) as exc:
        problem = str(exc)
    return DurableBuffer(
        str(where),
        target=folder.target(),
        max_bytes=porpoise_settings.SPOOL_MAX_BYTES,
        dead_max_bytes=porpoise_settings.DEAD_LETTERS_MAX_BYTES,
        memory_size=porpoise_settings.BUFFER_SIZE,
        token_ttl=token_ttl(),
        problem=problem,
    )


def token_ttl() -> int:
    """Seconds a count's idempotency token lives: also how long a count may wait
    in a spool before it is no longer sent again automatically."""
    return int(porpoise_settings.IDEMPOTENCY_TTL)


def has_backlog() -> bool:
    """True if this process's spool holds writes (without opening one)."""
    buffer = _buffer
    return buffer is not None and buffer.pid == os.getpid() and bool(buffer.backlog)


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
        self.spool_failing = False  # the last replay failed on the spool file
        self._thread = threading.Thread(target=self._run, name="porpoise-replayer", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Try again now, from the first delay: Redis answers again. Not while the
        spool file itself fails (disk full): that is no news, the backoff holds."""
        if self.spool_failing:
            return
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
                    outage.log_limited(
                        "replay error", logging.ERROR, "porpoise: replay error", exc_info=True
                    )
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


def spooled() -> None:
    """Writes were just spooled: make sure the replayer keeps a short timer (it is
    woken only from its long sleep, so an outage does not make it retry per write)."""
    replayer = get_replayer()
    if replayer.idle:
        replayer.idle = False
        replayer.wake.set()


def flush_buffer(*, orphans: bool = True) -> bool:
    """Replay spooled writes now (and, with ``orphans``, those of dead processes);
    False if Redis still refuses them (they stay spooled). Never raises for Redis.
    """
    buffer = get_buffer()
    replayer = _replayer if _replayer is not None and _replayer.pid == os.getpid() else None
    try:
        buffer.replay(building.submit_replayed, orphans=orphans)
    except SpoolError as exc:
        # The spool file fails (disk full, I/O error): back off like an outage,
        # and say what SQLite said.
        buffer.stats.spool_error = str(exc)
        if replayer is not None:
            replayer.spool_failing = True
        outage.log_limited(
            "replay spool", logging.ERROR, "porpoise: replay postponed, the spool fails: %s", exc
        )
        return False
    except Exception as exc:
        if not outage.is_outage(exc):
            raise
        outage.pause()
        buffer.stats.last_error = f"{type(exc).__name__}: {exc}"
        outage.log_outage(exc, "replay postponed")
        return False
    if replayer is not None:
        replayer.spool_failing = False
    outage.resume()
    return True


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

    In ``gunicorn.conf.py``::

        from porpoise_django.hooks import worker_exit
    """
    global _buffer
    try:
        writer = handoff.background()
        if writer is not None:
            writer.flush(timeout)
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
        _report_at_exit(buffer)
        buffer.close()
        # A write that still comes (another thread) opens a new spool file.
        if _buffer is buffer:
            _buffer = None


def _report_at_exit(buffer: DurableBuffer) -> None:
    """What stays behind, counted where it is: in the spool file, or lost."""
    lost = buffer.spill()
    spooled = buffer.spooled
    if spooled:
        logger.warning(
            "porpoise: %d writes stay spooled at exit in %s",
            spooled,
            buffer.spool_stats()["path"],
        )
    if lost:
        logger.error(
            "porpoise: %d writes held in memory are lost at exit: the spool could not "
            "take them (%s)",
            lost,
            buffer.stats.spool_error or buffer.problem or "see the log",
        )


def reset() -> None:
    """Close this process's spool (settings changed; tests); the replay thread
    starts again from its first delay."""
    global _buffer
    with _lock:
        if _buffer is not None and _buffer.pid == os.getpid():
            _buffer.close()
        _buffer = None
        if _replayer is not None and _replayer.pid == os.getpid():
            _replayer.poke()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED_SETTINGS:
        reset()
