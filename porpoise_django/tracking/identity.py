"""Who a request is for, as cheaply as can be known.

``request.user`` is lazy: the first look loads the user's row from the
database. The middleware and decorators need only the id, which the session
already holds (``SESSION_KEY``, written by ``login()`` and cleared by
``logout()``), so they read it there, unless something set ``request.user``
to a user of its own (DRF's token or basic authentication does).

Reading the session is itself a round trip to its store, so each process
also remembers, for ``SESSION_TTL`` seconds, which user a session key
belongs to (at most ``SESSION_LIMIT`` keys). That is safe because a key
never changes hands: ``login()`` gives the session a new key and
``logout()`` flushes it. A session ended elsewhere (deleted from the store)
may still count as its user in this process for those seconds; the id only
ever serves analytics, never access.

The session's id is trusted as Django's own session machinery is: a session
cut off by a password change still counts as its user until Django next
checks it, which is when a view loads ``request.user``.

>>> user_id(request)                  # doctest: +SKIP
42
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.contrib.auth import SESSION_KEY, get_user_model
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

SESSION_TTL = 300.0
SESSION_LIMIT = 100_000


class _SessionUsers:
    """Session key -> (user id, expiry), bounded, oldest dropped first."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[Any, float]] = {}
        self.lock = threading.Lock()

    def get(self, key: str, now: float) -> tuple[bool, Any]:
        found = self.known.get(key)
        if found is None or found[1] <= now:
            return False, None
        return True, found[0]

    def put(self, key: str, user: Any, now: float) -> None:
        with self.lock:
            self.known.pop(key, None)
            self.known[key] = (user, now + SESSION_TTL)
            while len(self.known) > SESSION_LIMIT:
                del self.known[next(iter(self.known))]

    def clear(self) -> None:
        with self.lock:
            self.known.clear()


SESSION_USERS = _SessionUsers()


def _loaded_user(request: HttpRequest) -> tuple[bool, Any]:
    """``(True, user)`` when ``request.user`` was set to a user (by DRF's
    authentication, ``login()`` or code), else ``(False, None)``: the lazy user of
    ``AuthenticationMiddleware`` comes from the session, which says the same
    without a query."""
    user = request.__dict__.get("user")
    if user is None or isinstance(user, SimpleLazyObject):
        return False, None
    return True, user


def _pk(value: Any) -> Any:
    return None if value is None else get_user_model()._meta.pk.to_python(value)


def _of(user: Any) -> Any:
    return user.pk if getattr(user, "is_authenticated", False) else None


def _remembered(session: Any) -> tuple[bool, Any]:
    """The user of a session not read yet in this request, if this process knows it."""
    key = session.session_key
    if session.accessed or not key:
        return False, None
    return SESSION_USERS.get(key, time.monotonic())


def _learn(session: Any, user: Any) -> Any:
    if session.session_key:
        SESSION_USERS.put(session.session_key, user, time.monotonic())
    return user


def _without_reading(request: HttpRequest) -> tuple[bool, Any, Any]:
    """``(True, user id, None)`` when known without reading the session, else
    ``(False, None, session)``: the session must be read."""
    loaded, user = _loaded_user(request)
    if loaded:
        return True, _of(user), None
    session = getattr(request, "session", None)
    if session is None:
        return True, None, None
    known, user = _remembered(session)
    return known, user, None if known else session


def user_id(request: HttpRequest) -> Any:
    """The logged-in user's pk, or None; loads no user row."""
    known, user, session = _without_reading(request)
    return user if known else _learn(session, _pk(session.get(SESSION_KEY)))


async def auser_id(request: HttpRequest) -> Any:
    """:func:`user_id` for async code: the session is read with its async API."""
    known, user, session = _without_reading(request)
    return user if known else _learn(session, _pk(await session.aget(SESSION_KEY)))
