"""Marks ``active`` and gives every request a collector, flushed after the response.

Add after ``AuthenticationMiddleware``::

    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "porpoise_django.middleware.PorpoiseMiddleware",
    ]

Works under WSGI and ASGI. Whatever Redis does, the response is returned: a
failed write is buffered and replayed later (see ``delivery.record``).

It costs little on a view that does little: whether ``active`` needs writing
is decided on the user id the session holds, without a database query
(:mod:`.identity`), and it is written once per user per bucket in each
process (:mod:`.active`); only then is the user authenticated as Django does
(session in its store, user active, session hash still good), and nothing is
marked for a user Django would not let in. An anonymous request never builds
the engine. Under ASGI, with background writes, nothing leaves the event
loop's thread. Nothing here raises into the response.
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
        # After the view, which may have logged the user in or out.
        self._finish(request, response, collector, self._active_marks(request))
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        collector = Collector(await identity.auser_id(request))
        request.porpoise = collector  # type: ignore[attr-defined]
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        response = await get_response(request)
        marks = await self._aactive_marks(request)
        if porpoise_settings.WRITE_MODE == "sync":
            # Writing to Redis is blocking I/O: keep it off the event loop.
            await sync_to_async(self._finish, thread_sensitive=False)(
                request, response, collector, marks
            )
        else:
            self._finish(request, response, collector, marks)  # only queues for the writer
        return response

    def _finish(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        collector: Collector,
        marks: list[tuple[str, Any]],
    ) -> None:
        for event, who in marks:
            try:
                collector.mark(event, id=who)
            except ValueError as exc:
                # An id the engine refuses (e.g. UUID pks in "int" id mode) must not
                # break the site: say so in the log, once per request.
                logger.error("porpoise: active mark skipped: %s", exc)
        collector.flush()

    def _active_marks(self, request: HttpRequest) -> list[tuple[str, Any]]:
        """The ``active`` marks this request makes (usually none: once per bucket).

        Decided on the session's hint (no user row loaded, no engine built for
        an anonymous request); only an id Django authenticates is marked."""
        try:
            hint = identity.session_user_id(request)
            return self._decide(request, hint, partial(identity.user_id, request))
        except Exception as exc:  # the analytics app never turns a response into an error
            logger.error("porpoise: active mark skipped: %s", exc)
            return []

    async def _aactive_marks(self, request: HttpRequest) -> list[tuple[str, Any]]:
        try:
            hint = await identity.asession_user_id(request)
            verified = None
            if hint is not None and self._wanted(request, hint):
                verified = await identity.auser_id(request)
            return self._decide(request, hint, lambda: verified)
        except Exception as exc:
            logger.error("porpoise: active mark skipped: %s", exc)
            return []

    def _wanted(self, request: HttpRequest, hint: Any) -> bool:
        """Whether the hinted user may need an ``active`` mark (not seen this bucket)."""
        event = porpoise_settings.ACTIVE_EVENT
        if not event or _skipped(request.path):
            return False
        pp = services.get_analytics()
        return not ACTIVE.seen(pp, event, hint, pp.clock().timestamp())

    def _decide(
        self, request: HttpRequest, hint: Any, verified: Callable[[], Any]
    ) -> list[tuple[str, Any]]:
        if _skipped(request.path):
            return []
        event = porpoise_settings.ACTIVE_EVENT
        if hint is not None:
            if not event or not self._wanted(request, hint):
                return []
            who = verified()
            pp = services.get_analytics()
            if who is not None and ACTIVE.first(pp, event, who, pp.clock().timestamp()):
                return [(event, who)]
            return []
        anonymous_event = porpoise_settings.ANONYMOUS_ACTIVE_EVENT
        session = getattr(request, "session", None)
        if anonymous_event and session is not None:
            key = session.session_key  # never create a session just to count it
            if key:
                pp = services.get_analytics()
                ident = f"session:{key}"
                if ACTIVE.first(pp, anonymous_event, ident, pp.clock().timestamp()):
                    return [(anonymous_event, ident)]
        return []
