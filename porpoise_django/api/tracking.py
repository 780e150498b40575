"""``POST track/``: record marks and counts over HTTP, from any language (hailwhale's
``/count``, done safely): authenticated or signed-token requests, throttled, per-row
errors with the row's index, idempotent counts with an ``idempotency_key``.

Body::

    {"rows": [
        {"event": "song:played", "id": 42, "time": "2026-11-22T10:00:00+01:00"},
        {"counter": "page:view", "id": "/pricing", "by": 1, "idempotency_key": "c1f..."}
    ]}

Answer: ``{"accepted": 2, "errors": [{"index": 3, "error": "..."}]}``; good
rows are kept when others are bad. Marks are idempotent by nature.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

from django.http import HttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from porpoise_django import delivery, services
from porpoise_django.api.serializers import TrackedSerializer
from porpoise_django.api.tokens import SignedTokenAuthentication, TrackToken
from porpoise_django.api.views import PorpoiseView
from porpoise_django.conf import porpoise_settings
from porpoise_django.delivery.pending import PendingWrite

# A 1x1 transparent GIF for tracking pixels.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


def client_address(request: Request) -> str:
    """The caller's address: the socket's, or with ``NUM_PROXIES`` trusted proxies
    the address the outermost of them saw (``X-Forwarded-For`` is otherwise the
    client's to choose, and a rotating header would buy a fresh budget)."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = porpoise_settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        hops = [hop.strip() for hop in str(forwarded).split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return remote


class TrackThrottle(BaseThrottle):
    """Per user (or per client address), at ``PORPOISE["TRACK_THROTTLE_RATE"]``.

    Counted atomically in Redis (``INCR`` of a fixed-window key with an
    expiry, one round trip), so concurrent requests cannot slip past a
    read-then-write. When Redis fails, requests are allowed (fail open) and
    the failure is logged: tracking never answers 500 because Redis is down.
    """

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        rate = porpoise_settings.TRACK_THROTTLE_RATE
        if not rate:
            return True
        limit, window = SimpleRateThrottle.parse_rate(None, rate)  # type: ignore[arg-type]
        if limit is None or window is None:
            return True
        user = getattr(request, "user", None)
        ident = (
            f"u{user.pk}"
            if user is not None and user.is_authenticated
            else (f"a{client_address(request)}")
        )
        now = time.time()
        slot = int(now // window)
        pp = services.get_analytics()
        key = f"{pp.keys.prefix}:throttle:{hashlib.sha1(ident.encode()).hexdigest()}:{slot}"

        def build(pipe: Any) -> None:
            pipe.incr(key)
            pipe.expire(key, int(window) + 1)

        try:
            used = int(pp.run(build, scripts=())[0])
        except delivery.REDIS_ERRORS as exc:
            delivery.log_outage(exc, "throttle allowed the request")
            return True
        if used > limit:
            self.wait_seconds = (slot + 1) * window - now
            return False
        return True

    def wait(self) -> float | None:
        return self.wait_seconds


class RowSerializer(serializers.Serializer):
    event = serializers.CharField(required=False, max_length=128)
    counter = serializers.CharField(required=False, max_length=128)
    id = serializers.JSONField(required=False)
    by = serializers.FloatField(required=False, default=1)
    time = serializers.JSONField(required=False, help_text="Epoch seconds or ISO 8601 with offset.")
    idempotency_key = serializers.CharField(required=False, max_length=128)


class TrackSerializer(serializers.Serializer):
    rows = serializers.ListField(child=serializers.DictField(), allow_empty=False)


def _time(value: Any) -> Any:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"time {value[:40]!r} is not ISO 8601")
        if parsed.tzinfo is None:
            raise ValueError("time has no UTC offset")
        return parsed
    raise ValueError("time must be epoch seconds or an ISO 8601 string")


_INTEGER = re.compile(r"-?[0-9]{1,40}")  # ASCII digits only: "١٢٣".isdigit() is true


def declared(kind: str, name: str) -> bool:
    """Whether ``name`` is in TRACK_EVENTS / TRACK_COUNTERS (``"prefix*"`` matches a prefix)."""
    names = porpoise_settings.TRACK_COUNTERS if kind == "count" else porpoise_settings.TRACK_EVENTS
    return any(
        name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern
        for pattern in names
    )


class Caller:
    """Who writes: a token's rights, or a session user's (own id, declared names)."""

    def __init__(self, request: Request) -> None:
        self.token = request.auth if isinstance(request.auth, TrackToken) else None
        user = request.user if request.user and request.user.is_authenticated else None
        self.user_id = user.pk if user is not None else None
        self.trusted = bool(user is not None and user.is_staff)
        permission = porpoise_settings.TRACK_ANY_ID_PERMISSION
        if user is not None and not self.trusted and permission:
            checker = permission()
            self.trusted = bool(checker.has_permission(request, None))

    @property
    def scope(self) -> str:
        """What idempotency keys are scoped to: the user, or the token's rights."""
        if self.token is not None and self.user_id is None:
            rights = (sorted(self.token.events), sorted(self.token.counters), self.token.id)
            return "t" + hashlib.sha1(repr(rights).encode()).hexdigest()
        return f"u{self.user_id}"

    def check(self, kind: str, name: Any, ident: Any) -> Any:
        """The id to write, or ``ValueError`` when this caller may not write the row."""
        token = self.token
        if token is not None and self.user_id is None:
            if not isinstance(name, str) or not token.allows(kind, name):
                raise ValueError(f"the token does not allow {kind}s of {str(name)[:60]!r}")
            if token.id is not None:
                if ident is not None and str(ident) != token.id:
                    raise ValueError("the token does not allow this id")
                return token.id
            return ident
        if self.trusted:
            return self.user_id if ident is None else ident
        if not isinstance(name, str) or not (
            declared(kind, name) or (token is not None and token.allows(kind, name))
        ):
            setting = "TRACK_COUNTERS" if kind == "count" else "TRACK_EVENTS"
            raise ValueError(f"{str(name)[:60]!r} is not declared for tracking ({setting})")
        if ident is not None and str(ident) != str(self.user_id):
            raise ValueError(
                "a session may write only for its own user (TRACK_ANY_ID_PERMISSION allows more)"
            )
        return self.user_id


def _row(raw: Any, caller: Caller) -> PendingWrite:
    if not isinstance(raw, dict):
        raise ValueError("a row is an object with event or counter")
    unknown = set(raw) - {"event", "counter", "id", "by", "time", "idempotency_key"}
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))[:200]}")
    if "counter" in raw and "event" in raw:
        raise ValueError("a row has 'event' (a mark) or 'counter' (a count), not both")
    kind = "count" if "counter" in raw else "mark" if "event" in raw else None
    if kind is None:
        raise ValueError("a row needs 'event' (a mark) or 'counter' (a count)")
    name = raw["counter"] if kind == "count" else raw["event"]
    ident = caller.check(kind, name, raw.get("id"))
    when = _time(raw.get("time"))
    if kind == "mark":
        if ident is None:
            raise ValueError("a mark needs an id")
        if (
            services.get_analytics().id_codec.mode == "int"
            and isinstance(ident, str)
            and _INTEGER.fullmatch(ident)
        ):
            ident = int(ident)
        return delivery.mark(name, ident, when)
    return delivery.count(name, ident, raw.get("by", 1), when)


def _idempotency_key(raw: dict[str, Any], write: PendingWrite) -> str | None:
    if "idempotency_key" not in raw:
        return None
    if write.kind != "count":
        raise ValueError("idempotency_key goes with counts (marks are idempotent anyway)")
    key = raw["idempotency_key"]
    if not isinstance(key, (str, int)) or isinstance(key, bool) or not 1 <= len(str(key)) <= 128:
        raise ValueError("idempotency_key must be a non-empty string of at most 128 characters")
    return str(key)


class TrackingView(PorpoiseView):
    """What the tracking endpoint and the pixel share: who may call, how often,
    and how rows are accepted; see the module docstring."""

    permission_setting = "TRACK_PERMISSION_CLASSES"
    authentication_classes = [SignedTokenAuthentication, SessionAuthentication, BasicAuthentication]
    throttle_classes = [TrackThrottle]

    def _accept(self, request: Request, rows: list[Any]) -> dict[str, Any]:
        if len(rows) > porpoise_settings.TRACK_MAX_ROWS:
            raise ValidationError(
                {"rows": [f"at most {porpoise_settings.TRACK_MAX_ROWS} rows per request"]}
            )
        caller = Caller(request)
        writes: list[tuple[int, PendingWrite, str | None]] = []
        errors: list[dict[str, Any]] = []
        seen_keys: set[str] = set()
        duplicates = 0
        for index, raw in enumerate(rows):
            try:
                write = _row(raw, caller)
                key = _idempotency_key(raw, write)
            except (ValueError, TypeError, OverflowError) as exc:
                errors.append({"index": index, "error": str(exc)})
                continue
            if key is not None:
                if key in seen_keys:  # the same key twice in one request counts once
                    duplicates += 1
                    continue
                seen_keys.add(key)
            writes.append((index, write, key))
        fresh = self._first_time(caller, [w for w in writes if w[2] is not None])
        accepted = [w for _, w, key in writes if key is None or key in fresh]
        # Queued like the middleware's marks (WRITE_MODE): the answer never
        # waits on Redis, and a backlog is never replayed inside a request.
        delivery.dispatch(accepted)
        return {
            "accepted": len(accepted),
            "duplicates": duplicates + len(writes) - len(accepted),
            "errors": errors,
        }

    @staticmethod
    def _first_time(caller: Caller, keyed: list[tuple[int, PendingWrite, str | None]]) -> set[str]:
        """Idempotency keys not seen before (remembered for ``IDEMPOTENCY_TTL``), one
        round trip. Keys are scoped to the caller and the counter: one caller's
        ``order-1`` never makes another's, or another counter's, a duplicate."""
        if not keyed:
            return set()
        pp = services.get_analytics()
        keys = {}
        for _, write, key in keyed:
            assert key is not None
            scoped = f"{caller.scope}:{write.row[0]}:{key}"
            keys[key] = f"{pp.keys.prefix}:idem:{hashlib.sha1(scoped.encode()).hexdigest()}"
        ttl = porpoise_settings.IDEMPOTENCY_TTL

        def build(pipe: Any) -> None:
            for redis_key in keys.values():
                pipe.set(redis_key, 1, nx=True, ex=ttl)

        try:
            answers = pp.run(build, scripts=())
        except delivery.REDIS_ERRORS:
            return set(keys)  # Redis down: count now (buffered) rather than lose it
        return {key for key, fresh in zip(keys, answers, strict=True) if fresh}


class BeaconJSONParser(JSONParser):
    """``navigator.sendBeacon`` sends a string as ``text/plain``, the one body type
    that needs no CORS preflight: read it as the JSON it holds."""

    media_type = "text/plain"


class TrackView(TrackingView):
    parser_classes = [JSONParser, BeaconJSONParser]

    @extend_schema(request=TrackSerializer, responses={202: TrackedSerializer})
    def post(self, request: Request) -> Response:
        """Record up to ``TRACK_MAX_ROWS`` marks and counts; bad rows are reported by index."""
        body = TrackSerializer(data=request.data)
        if not body.is_valid():
            raise ValidationError(body.errors)
        result = self._accept(request, body.validated_data["rows"])
        return Response(TrackedSerializer(result).data, status=status.HTTP_202_ACCEPTED)


class PixelView(TrackingView):
    @extend_schema(
        operation_id="track_pixel",
        parameters=[
            OpenApiParameter("token", str, required=True),
            OpenApiParameter("event", str, required=False),
            OpenApiParameter("counter", str, required=False),
            OpenApiParameter("id", str, required=False),
        ],
        responses={(200, "image/gif"): bytes},
    )
    def get(self, request: Request) -> HttpResponse:
        """A tracking pixel: ``<img src=".../track/pixel.gif?token=...&event=page:view&id=7">``."""
        if not isinstance(request.auth, TrackToken):
            raise PermissionDenied("pixels need a tracking token")
        row = {
            k: request.query_params[k]
            for k in ("event", "counter", "id")
            if k in request.query_params
        }
        result = self._accept(request, [row])
        response = HttpResponse(PIXEL, content_type="image/gif")
        response["Cache-Control"] = "no-store"
        if result["errors"]:
            response["X-Porpoise-Error"] = result["errors"][0]["error"][:200]
        return response
