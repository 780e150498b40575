"""Marks ``active`` and gives every request a collector, flushed after the response.

Add after ``AuthenticationMiddleware``::

    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "porpoise_django.middleware.PorpoiseMiddleware",
    ]

Works under WSGI and ASGI. Whatever Redis does, the response is returned: a
failed write is buffered and replayed later (see ``delivery.record``).

It costs little on a view that does little: the user's id comes from the
session, not from a database query (:mod:`.identity`); ``active`` is written
once per user per bucket in each process (:mod:`.active`); and under ASGI,
with background writes, nothing leaves the event loop's thread.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from functools import lru_cache, partial
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase

from porpoise_django import delivery, services
from porpoise_django.conf import porpoise_settings
from porpoise_django.tracking import identity
from porpoise_django.tracking.active import ACTIVE
from porpoise_django.tracking.collector import Collector

logger = logging.getLogger("porpoise_django")


@lru_cache(maxsize=32)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def _skipped(path: str) -> bool:
    pattern = _compiled(tuple(porpoise_settings.ACTIVE_SKIP_PATHS))
    return bool(pattern and pattern.search(path))


class PorpoiseMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        # A process that serves requests replays what dead ones left spooled,
        # even if it never has to spool anything itself.
        delivery.start_replayer()

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        collector = Collector(resolve=partial(identity.user_id, request))
        request.porpoise = collector  # type: ignore[attr-defined]
        response = self.get_response(request)
        # The view may have logged the user in or out: look again.
        collector.user_id = identity.user_id(request)
        self._finish(request, response, collector)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        collector = Collector(await identity.auser_id(request))
        request.porpoise = collector  # type: ignore[attr-defined]
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        response = await get_response(request)
        collector.user_id = await identity.auser_id(request)
        if porpoise_settings.WRITE_MODE == "sync":
            # Writing to Redis is blocking I/O: keep it off the event loop.
            await sync_to_async(self._finish, thread_sensitive=False)(request, response, collector)
        else:
            self._finish(request, response, collector)  # only queues for the writer thread
        return response

    def _finish(
        self, request: HttpRequest, response: HttpResponseBase, collector: Collector
    ) -> None:
        try:
            self._auto_marks(request, collector)
        except ValueError as exc:
            # An id the engine refuses (e.g. UUID pks in "int" id mode) must not
            # break the site: say so in the log, once per request.
            logger.error("porpoise: active mark skipped: %s", exc)
        collector.flush()

    def _auto_marks(self, request: HttpRequest, collector: Collector) -> None:
        if _skipped(request.path):
            return
        event = porpoise_settings.ACTIVE_EVENT
        user_id = collector.user_id
        pp = services.get_analytics()
        if event and user_id is not None:
            if ACTIVE.first(pp, event, user_id, pp.clock().timestamp()):
                collector.mark(event)
            return
        anonymous_event = porpoise_settings.ANONYMOUS_ACTIVE_EVENT
        session = getattr(request, "session", None)
        if anonymous_event and user_id is None and session is not None:
            key = session.session_key  # never create a session just to count it
            if key and ACTIVE.first(pp, anonymous_event, key, pp.clock().timestamp()):
                collector.mark(anonymous_event, id=f"session:{key}")
