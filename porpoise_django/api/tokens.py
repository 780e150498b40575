"""Signed tracking tokens: for browsers and pixels, which cannot keep a secret.

A token is signed by the server (Django's ``SECRET_KEY`` and a per-site salt)
and names what it allows: events to mark, counters to count, and whose marks
they are::

    token = make_track_token(events=["page:view"], counters=["page:view"], id=42)
    # <img src="/api/porpoise/track/pixel.gif?token=...&event=page:view">

The server checks the signature and age on every request; a token cannot be
widened without the key. Three kinds:

- **bound to an id** (``id=``): writes for that id only (a pixel in an e-mail);
- **bound to a signed-in user** (:func:`user_track_token`, what
  ``{% porpoise_tracker %}`` gives a logged-in visitor): writes for that user
  while Django would still authenticate their session; a logout, a password
  change or ``is_active=False`` ends it;
- **bound to an anonymous visitor** (:func:`anonymous_track_token`): writes for
  that visitor's anonymous id (kept in their session) in ``ID_MODE`` "map";
- **open** (no id): writes for any id. A server-side write key: never put one
  in a page. What it can allocate is bounded by ``TRACK_MAX_NEW_CHUNKS`` and
  ``TRACK_NEW_CHUNKS_PER_DAY``.

The salt is ``PORPOISE["TRACK_TOKEN_SALT"]``, by default derived from the key
prefix and the Redis the site writes to: another deployment sharing the
``SECRET_KEY`` (a staging site) cannot write here with its tokens.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from porpoise_django.conf import porpoise_settings

SALT = "porpoise_django.track"
HEADER = "HTTP_X_PORPOISE_TOKEN"
#: Where an anonymous visitor's id is kept in their session.
ANONYMOUS_SESSION_KEY = "_porpoise_anonymous_id"
#: The prefix of anonymous ids in the store ("map" id mode).
ANONYMOUS_PREFIX = "anon:"
#: The longest session key a token carries (signed-cookie sessions are long).
_MAX_SESSION_KEY = 4096


@dataclass(frozen=True)
class TrackToken:
    events: frozenset[str] = field(default_factory=frozenset)
    counters: frozenset[str] = field(default_factory=frozenset)
    #: The one id the token writes for (None: any id, an open token).
    id: str | None = None
    #: "id", "user", "anonymous" or "open".
    kind: str = "open"
    #: What the throttle and the chunk budget count the token as.
    fingerprint: str = ""

    def allows(self, kind: str, name: str) -> bool:
        return name in (self.counters if kind == "count" else self.events)


def site_salt() -> str:
    """The salt of this site's tokens: ``TRACK_TOKEN_SALT``, or one derived from
    the key prefix and the Redis target (the data the tokens write to)."""
    configured = porpoise_settings.TRACK_TOKEN_SALT
    if configured:
        return f"{SALT}:{configured}"
    target = porpoise_settings.REDIS_URL
    if not target:
        cache = getattr(settings, "CACHES", {}).get(porpoise_settings.CACHE_ALIAS, {})
        target = repr(cache.get("LOCATION"))
    digest = hashlib.sha256(f"{porpoise_settings.KEY_PREFIX}|{target}".encode()).hexdigest()
    return f"{SALT}:{digest[:24]}"


def _sign(payload: dict[str, Any]) -> str:
    return signing.dumps(payload, salt=site_salt(), compress=True)


def make_track_token(
    *, events: Sequence[str] = (), counters: Sequence[str] = (), id: Any = None
) -> str:
    """A signed token allowing ``events`` and ``counters`` for ``id`` only, if given;
    without ``id`` an open token (any id): keep it on servers."""
    payload = {"e": sorted(events), "c": sorted(counters), "i": None if id is None else str(id)}
    return _sign(payload)


def _pad(nonce: bytes, size: int) -> bytes:
    """A keystream from ``SECRET_KEY`` (HMAC-SHA256 in counter mode)."""
    blocks = [
        salted_hmac(f"{SALT}.session", nonce + n.to_bytes(4, "big"), algorithm="sha256").digest()
        for n in range((size + 31) // 32)
    ]
    return b"".join(blocks)[:size]


def _seal(session_key: str) -> str:
    """The session key, encrypted: a token in a page must not leak the session."""
    raw = session_key.encode()
    nonce = secrets.token_bytes(12)
    sealed = bytes(a ^ b for a, b in zip(raw, _pad(nonce, len(raw)), strict=True))
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def _unseal(text: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(text.encode())
    except (ValueError, TypeError):
        return None
    nonce, sealed = raw[:12], raw[12:]
    opened = bytes(a ^ b for a, b in zip(sealed, _pad(nonce, len(sealed)), strict=True))
    try:
        return opened.decode()
    except UnicodeDecodeError:
        return None


def _auth_hash(user: Any) -> str:
    return salted_hmac(
        f"{SALT}.user", user.get_session_auth_hash(), algorithm="sha256"
    ).hexdigest()[:32]


def user_track_token(
    request: Any, user: Any, *, events: Sequence[str] = (), counters: Sequence[str] = ()
) -> str:
    """A token writing for ``user`` while their session lasts (``request.session``)
    and their password and ``is_active`` stay as they are."""
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None)
    payload = {
        "e": sorted(events),
        "c": sorted(counters),
        "i": str(user.pk),
        "u": _auth_hash(user),
        "s": _seal(key) if key and len(key) <= _MAX_SESSION_KEY else None,
    }
    return _sign(payload)


def anonymous_id(request: Any) -> str | None:
    """The visitor's anonymous id, kept in their session (made on first use);
    None without a session."""
    session = getattr(request, "session", None)
    if session is None:
        return None
    value = session.get(ANONYMOUS_SESSION_KEY)
    if not isinstance(value, str) or not value:
        value = secrets.token_urlsafe(12)
        session[ANONYMOUS_SESSION_KEY] = value
    return ANONYMOUS_PREFIX + value


def anonymous_track_token(
    request: Any, *, events: Sequence[str] = (), counters: Sequence[str] = ()
) -> str:
    """A token writing for the visitor's anonymous id only (no id: counts only)."""
    payload = {"e": sorted(events), "c": sorted(counters), "i": anonymous_id(request), "a": 1}
    return _sign(payload)


def _session_user(key: str) -> Any:
    """The user Django would authenticate for the session ``key``, or None; reads the
    session and the user without changing either (no flush, no new key)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend

    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    try:
        user_id, backend_path = session[SESSION_KEY], session[BACKEND_SESSION_KEY]
    except KeyError:
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = load_backend(backend_path).get_user(user_id)
    if user is None or not hasattr(user, "get_session_auth_hash"):
        return user
    stored = str(session.get(HASH_SESSION_KEY, ""))
    hashes = [user.get_session_auth_hash()]
    fallbacks = getattr(user, "get_session_auth_fallback_hash", None)
    if fallbacks is not None:
        hashes.extend(fallbacks())
    return user if any(constant_time_compare(stored, h) for h in hashes) else None


def _still_signed_in(payload: dict[str, Any]) -> bool:
    """Whether Django would still authenticate the token's user: the session it was
    made in still holds them (when it had one), the password is unchanged and the
    user may log in."""
    sealed = payload.get("s")
    if sealed:
        key = _unseal(str(sealed))
        user = None if key is None else _session_user(key)
        return bool(user is not None and str(user.pk) == payload.get("i"))
    from django.contrib.auth import get_user_model

    model = get_user_model()
    try:
        user = model._default_manager.get(pk=str(payload.get("i")))
    except (model.DoesNotExist, ValueError, TypeError):
        return False
    if not getattr(user, "is_active", True):
        return False
    return constant_time_compare(str(payload.get("u", "")), _auth_hash(user))


def read_track_token(token: str) -> TrackToken:
    try:
        payload = signing.loads(
            token, salt=site_salt(), max_age=porpoise_settings.TRACK_TOKEN_MAX_AGE
        )
    except signing.SignatureExpired:
        raise exceptions.AuthenticationFailed("tracking token expired") from None
    except signing.BadSignature:
        raise exceptions.AuthenticationFailed("invalid tracking token") from None
    if not isinstance(payload, dict):
        raise exceptions.AuthenticationFailed("invalid tracking token")
    ident = payload.get("i")
    if "u" in payload:
        if not _still_signed_in(payload):
            raise exceptions.AuthenticationFailed("the session of this tracking token ended")
        kind = "user"
    elif payload.get("a"):
        kind = "anonymous"
    else:
        kind = "open" if ident is None else "id"
    return TrackToken(
        frozenset(payload.get("e", [])),
        frozenset(payload.get("c", [])),
        None if ident is None else str(ident),
        kind,
        hashlib.sha256(token.encode()).hexdigest()[:32],
    )


class SignedTokenAuthentication(authentication.BaseAuthentication):
    """``X-Porpoise-Token`` header or ``token`` query parameter; ``request.auth`` is the token."""

    def authenticate(self, request: Request) -> tuple[Any, TrackToken] | None:
        token = request.META.get(HEADER) or request.query_params.get("token")
        if not token:
            return None
        return AnonymousUser(), read_track_token(token)

    def authenticate_header(self, request: Request) -> str:
        return "X-Porpoise-Token"


class IsAuthenticatedOrSignedToken(permissions.BasePermission):
    message = "log in, or send a tracking token (X-Porpoise-Token header or token parameter)"

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, TrackToken):
            return True
        return bool(request.user and request.user.is_authenticated)


class SignedTokenScheme(OpenApiAuthenticationExtension):
    """Documents the tracking token in the OpenAPI schema."""

    target_class = "porpoise_django.api.tokens.SignedTokenAuthentication"
    name = "trackingToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-Porpoise-Token"}
