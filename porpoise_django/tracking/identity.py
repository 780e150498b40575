"""Who a request is for: only ever an id that Django itself authenticates.

Two answers, for two uses:

* :func:`session_user_id` is a *hint*: the user id the session holds (or the pk
  of a user already set on the request), without loading the user row, and
  remembered per session key for ``SESSION_TTL`` seconds. It only ever decides
  that a mark may be *skipped* (``active`` was already marked this bucket);
  nothing is written under a hint.
* :func:`user_id` is the id to *mark*: the pk of ``request.user`` as Django's
  authentication resolves it (the session still in its store, the user active
  for the backend, the session auth hash still good after a password change),
  or None. It loads the user row only when the hint says someone is signed in
  and the view has not loaded the user already (Django caches it on the request).

Neither ever raises: a session whose stored id the user model refuses (a text id
under an integer pk) is anonymous here, whatever the view makes of it.

The hint cache is bounded by bytes (``SESSION_CACHE_BYTES``; the key of a
``signed_cookies`` session is the whole cookie) and only holds sessions that
name a user: a forged or expired cookie never gets an entry.

Example::

    user_id(request)                  # 42
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from django.contrib.auth import SESSION_KEY, aget_user, get_user, get_user_model
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject, empty

logger = logging.getLogger("porpoise_django")

SESSION_TTL = 300.0
#: Bytes the hint cache may hold: about 16,000 database session keys, or 1,000
#: signed cookies of 4 KiB.
SESSION_CACHE_BYTES = 4 * 1024 * 1024
#: What an entry costs beyond its key's characters (dict slot, tuple, float).
ENTRY_BYTES = 200


class _SessionUsers:
    """Session key -> (user id, expiry), bounded by bytes, oldest dropped first."""

    def __init__(self, limit_bytes: int = SESSION_CACHE_BYTES) -> None:
        self.known: OrderedDict[str, tuple[Any, float]] = OrderedDict()
        self.limit_bytes = limit_bytes
        self.size = 0
        self.lock = threading.Lock()

    def get(self, key: str, now: float) -> tuple[bool, Any]:
        found = self.known.get(key)
        if found is None or found[1] <= now:
            return False, None
        return True, found[0]

    def put(self, key: str, user: Any, now: float) -> None:
        cost = len(key) + ENTRY_BYTES
        if cost > self.limit_bytes:
            return
        with self.lock:
            if self.known.pop(key, None) is not None:
                self.size -= cost
            self.known[key] = (user, now + SESSION_TTL)
            self.size += cost
            while self.size > self.limit_bytes:
                # O(1): an OrderedDict pops its oldest entry without walking
                # the slots of deleted ones, as next(iter(dict)) does.
                oldest, _ = self.known.popitem(last=False)
                self.size -= len(oldest) + ENTRY_BYTES

    def clear(self) -> None:
        with self.lock:
            self.known.clear()
            self.size = 0


SESSION_USERS = _SessionUsers()


def _loaded_user(request: HttpRequest) -> tuple[bool, Any]:
    """``(True, user)`` when the request's user is already known without a query:
    set by code (DRF's authentication, ``login()``, ``logout()``), or the lazy user
    of ``AuthenticationMiddleware`` once something evaluated it."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        wrapped = user.__dict__.get("_wrapped", empty)
        if wrapped is not empty:
            return True, wrapped
        for cached in ("_cached_user", "_acached_user"):
            if cached in request.__dict__:
                return True, request.__dict__[cached]
        return False, None
    if user is None:
        return False, None
    return True, user


def _pk(value: Any) -> Any:
    """The stored session id as the user model's pk, or None if the model refuses it."""
    if value is None:
        return None
    try:
        return get_user_model()._meta.pk.to_python(value)
    except Exception:  # ValidationError (or worse) for an id the pk cannot hold
        return None


def _of(user: Any) -> Any:
    return user.pk if getattr(user, "is_authenticated", False) else None


def _remembered(session: Any) -> tuple[bool, Any]:
    """The user of a session not read yet in this request, if this process knows it."""
    key = session.session_key
    if session.accessed or not key:
        return False, None
    return SESSION_USERS.get(key, time.monotonic())


def _learn(session: Any, user: Any) -> Any:
    # Only a session that names a user is remembered: the backend validated it
    # (a forged signed cookie loads empty), and anonymous sessions are re-read.
    if user is not None and session.session_key:
        SESSION_USERS.put(session.session_key, user, time.monotonic())
    return user


def _hint_without_reading(request: HttpRequest) -> tuple[bool, Any, Any]:
    """``(True, hint, None)`` when known without reading the session, else
    ``(False, None, session)``: the session must be read."""
    loaded, user = _loaded_user(request)
    if loaded:
        return True, _of(user), None
    session = getattr(request, "session", None)
    if session is None:
        return True, None, None
    known, user = _remembered(session)
    return known, user, None if known else session


def session_user_id(request: HttpRequest) -> Any:
    """The user id the request seems to be for (a hint: never marked as such)."""
    try:
        known, user, session = _hint_without_reading(request)
        return user if known else _learn(session, _pk(session.get(SESSION_KEY)))
    except Exception as exc:  # a broken session store must not break the site
        logger.warning("porpoise: session not readable for analytics: %s", exc)
        return None


async def asession_user_id(request: HttpRequest) -> Any:
    """:func:`session_user_id` for async code: the session is read with its async API."""
    try:
        known, user, session = _hint_without_reading(request)
        return user if known else _learn(session, _pk(await session.aget(SESSION_KEY)))
    except Exception as exc:
        logger.warning("porpoise: session not readable for analytics: %s", exc)
        return None


def user_id(request: HttpRequest) -> Any:
    """The pk of the user Django authenticates for ``request``, or None."""
    loaded, user = _loaded_user(request)
    if loaded:
        return _of(user)
    if session_user_id(request) is None:
        return None  # nobody signed in: Django would say anonymous, no row to load
    try:
        user = request.user if hasattr(request, "user") else get_user(request)
        return _of(user)
    except Exception as exc:  # e.g. a stored id the pk refuses: Django raises too
        logger.warning("porpoise: user not authenticated for analytics: %s", exc)
        return None


async def auser_id(request: HttpRequest) -> Any:
    """:func:`user_id` for async code (``request.auser()``)."""
    loaded, user = _loaded_user(request)
    if loaded:
        return _of(user)
    if await asession_user_id(request) is None:
        return None
    try:
        auser = getattr(request, "auser", None)
        user = await auser() if auser is not None else await aget_user(request)
        return _of(user)
    except Exception as exc:
        logger.warning("porpoise: user not authenticated for analytics: %s", exc)
        return None
