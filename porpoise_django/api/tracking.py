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
from typing import Any

from django.http import HttpResponse
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from .. import services
from ..buffer import PendingWrite
from ..conf import porpoise_settings
from .tokens import SignedTokenAuthentication, TrackToken
from .views import PorpoiseViewSet

# A 1x1 transparent GIF for tracking pixels.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


class TrackThrottle(SimpleRateThrottle):
    """Per user (or per client address for tokens), at ``PORPOISE["TRACK_THROTTLE_RATE"]``."""

    scope = "porpoise_track"

    def get_rate(self) -> str | None:
        return porpoise_settings.TRACK_THROTTLE_RATE

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = (
            request.user.pk
            if request.user and request.user.is_authenticated
            else self.get_ident(request)
        )
        return self.cache_format % {"scope": self.scope, "ident": ident}


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


def _row(raw: Any, token: TrackToken | None, user_id: Any) -> PendingWrite:
    if not isinstance(raw, dict):
        raise ValueError("a row is an object with event or counter")
    unknown = set(raw) - {"event", "counter", "id", "by", "time", "idempotency_key"}
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    kind = "count" if "counter" in raw else "mark" if "event" in raw else None
    if kind is None:
        raise ValueError("a row needs 'event' (a mark) or 'counter' (a count)")
    name = raw["counter"] if kind == "count" else raw["event"]
    if token is not None:
        if not isinstance(name, str) or not token.allows(kind, name):
            raise ValueError(f"the token does not allow {kind}s of {name!r}")
        if token.id is not None and raw.get("id") is not None and str(raw["id"]) != token.id:
            raise ValueError("the token does not allow this id")
    ident = raw.get("id", token.id if token is not None and token.id is not None else user_id)
    if kind == "mark":
        if ident is None:
            raise ValueError("a mark needs an id")
        if (
            services.get_analytics().id_codec.mode == "int"
            and isinstance(ident, str)
            and ident.isascii()  # "١٢٣".isdigit() is true too
            and ident.isdigit()
        ):
            ident = int(ident)
        return services.mark(name, ident, _time(raw.get("time")))
    by = raw.get("by", 1)
    return services.count(name, ident, by, _time(raw.get("time")))


class TrackViewSet(PorpoiseViewSet):
    """Record marks and counts; see the module docstring."""

    permission_setting = "TRACK_PERMISSION_CLASSES"
    authentication_classes = [SignedTokenAuthentication, SessionAuthentication, BasicAuthentication]
    throttle_classes = [TrackThrottle]

    def get_permissions(self) -> list[BasePermission]:
        return [import_string(path)() for path in porpoise_settings.TRACK_PERMISSION_CLASSES]

    def _accept(self, request: Request, rows: list[Any]) -> dict[str, Any]:
        if len(rows) > porpoise_settings.TRACK_MAX_ROWS:
            raise ValidationError(
                {"rows": [f"at most {porpoise_settings.TRACK_MAX_ROWS} rows per request"]}
            )
        token = request.auth if isinstance(request.auth, TrackToken) else None
        user_id = request.user.pk if request.user and request.user.is_authenticated else None
        writes: list[tuple[int, PendingWrite, str | None]] = []
        errors: list[dict[str, Any]] = []
        for index, raw in enumerate(rows):
            try:
                write = _row(raw, token, user_id)
            except (ValueError, TypeError) as exc:
                errors.append({"index": index, "error": str(exc)})
                continue
            key = raw.get("idempotency_key") if write.kind == "count" else None
            writes.append((index, write, str(key) if key is not None else None))
        fresh = self._first_time(request, [w for w in writes if w[2] is not None])
        accepted = [w for _, w, key in writes if key is None or key in fresh]
        services.record(accepted)
        return {
            "accepted": len(accepted),
            "duplicates": len(writes) - len(accepted),
            "errors": errors,
        }

    @staticmethod
    def _first_time(
        request: Request, keyed: list[tuple[int, PendingWrite, str | None]]
    ) -> set[str]:
        """Idempotency keys not seen before (remembered for ``IDEMPOTENCY_TTL``), one round trip."""
        if not keyed:
            return set()
        pp = services.get_analytics()
        owner = request.user.pk if request.user and request.user.is_authenticated else "token"
        keys = {
            key: f"{pp.keys.prefix}:idem:{hashlib.sha1(f'{owner}:{key}'.encode()).hexdigest()}"
            for _, _, key in keyed
            if key
        }
        ttl = porpoise_settings.IDEMPOTENCY_TTL

        def build(pipe: Any) -> None:
            for redis_key in keys.values():
                pipe.set(redis_key, 1, nx=True, ex=ttl)

        try:
            answers = pp.run(build, scripts=())
        except services.REDIS_ERRORS:
            return set(keys)  # Redis down: count now (buffered) rather than lose it
        return {key for key, fresh in zip(keys, answers, strict=True) if fresh}

    @extend_schema(
        request=TrackSerializer,
        responses={
            202: inline_serializer(
                "Tracked",
                {
                    "accepted": serializers.IntegerField(),
                    "duplicates": serializers.IntegerField(),
                    "errors": inline_serializer(
                        "TrackError",
                        {"index": serializers.IntegerField(), "error": serializers.CharField()},
                        many=True,
                    ),
                },
            )
        },
    )
    def create(self, request: Request) -> Response:
        body = TrackSerializer(data=request.data)
        if not body.is_valid():
            raise ValidationError(body.errors)
        return Response(
            self._accept(request, body.validated_data["rows"]), status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("token", str, required=True),
            OpenApiParameter("event", str, required=False),
            OpenApiParameter("counter", str, required=False),
            OpenApiParameter("id", str, required=False),
        ],
        responses={(200, "image/gif"): bytes},
    )
    def pixel(self, request: Request) -> HttpResponse:
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
