"""Signed tracking tokens: for browsers and pixels, which cannot keep a secret.

A token is signed by the server (Django's ``SECRET_KEY``) and names what it
allows: events to mark, counters to count, optionally the one id it may use::

    token = make_track_token(events=["page:view"], counters=["page:view"], id=None)
    # <img src="/api/porpoise/track/pixel.gif?token=...&event=page:view&id=42">

The server checks the signature and age on every request; a token cannot be
widened without the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core import signing
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from porpoise_django.conf import porpoise_settings

SALT = "porpoise_django.track"
HEADER = "HTTP_X_PORPOISE_TOKEN"


@dataclass(frozen=True)
class TrackToken:
    events: frozenset[str] = field(default_factory=frozenset)
    counters: frozenset[str] = field(default_factory=frozenset)
    id: str | None = None

    def allows(self, kind: str, name: str) -> bool:
        return name in (self.counters if kind == "count" else self.events)


def make_track_token(
    *, events: Sequence[str] = (), counters: Sequence[str] = (), id: Any = None
) -> str:
    """A signed token allowing ``events`` and ``counters`` (for ``id`` only, if given)."""
    payload = {"e": sorted(events), "c": sorted(counters), "i": None if id is None else str(id)}
    return signing.dumps(payload, salt=SALT, compress=True)


def read_track_token(token: str) -> TrackToken:
    try:
        payload = signing.loads(token, salt=SALT, max_age=porpoise_settings.TRACK_TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise exceptions.AuthenticationFailed("tracking token expired") from None
    except signing.BadSignature:
        raise exceptions.AuthenticationFailed("invalid tracking token") from None
    return TrackToken(
        frozenset(payload.get("e", [])), frozenset(payload.get("c", [])), payload.get("i")
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
