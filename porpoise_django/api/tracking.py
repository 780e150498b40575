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

import dataclasses
import hashlib
import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.exceptions import (
    AuthenticationFailed,
    ParseError,
    PermissionDenied,
    Throttled,
    ValidationError,
)
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from porpoise_django import delivery, services
from porpoise_django.api import throttling
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


def sources(request: Request) -> list[str]:
    """What the throttle counts a request against: its token and its address, its
    user, or (neither) its address."""
    address = f"a{client_address(request)}"
    if isinstance(request.auth, TrackToken):
        return [f"t{request.auth.fingerprint}", address]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return [f"u{user.pk}"]
    return [address]


class TrackThrottle(BaseThrottle):
    """Per token and address, per user, or per address, each at
    ``PORPOISE["TRACK_THROTTLE_RATE"]`` (see :mod:`.throttling`; while Redis is
    down each process counts in memory)."""

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        self.wait_seconds = throttling.spend(sources(request))
        return self.wait_seconds is None

    def wait(self) -> float | None:
        return self.wait_seconds


def own_origin(request: Request) -> str:
    return f"{request.scheme}://{request.get_host()}"


def cross_site_refusal(request: Request) -> str | None:
    """Why a write from this page's origin is refused, or None: the ``Origin``
    (else the ``Referer``'s origin) must be this site's or one of
    ``TRACK_ALLOWED_ORIGINS``. Callers that name neither (servers, e-mail
    clients loading a pixel) are not browsers on another site."""
    origin = request.headers.get("origin")
    if not origin:
        referer = request.headers.get("referer")
        if not referer:
            return None
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "null"
    if origin == own_origin(request) or origin in porpoise_settings.TRACK_ALLOWED_ORIGINS:
        return None
    return f"pages on {origin[:100]} may not track here (TRACK_ALLOWED_ORIGINS)"


class RowSerializer(serializers.Serializer):
    event = serializers.CharField(required=False, max_length=128)
    counter = serializers.CharField(required=False, max_length=128)
    id = serializers.JSONField(required=False)
    by = serializers.FloatField(required=False, default=1)
    time = serializers.JSONField(required=False, help_text="Epoch seconds or ISO 8601 with offset.")
    idempotency_key = serializers.CharField(required=False, max_length=128)
    properties = serializers.DictField(
        required=False, help_text='Event properties of a mark, e.g. {"source": "ads"}.'
    )


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
    """Whether ``name`` is in TRACK_EVENTS / TRACK_COUNTERS / TRACK_PROPERTIES
    (``"prefix*"`` matches a prefix)."""
    names = {
        "count": porpoise_settings.TRACK_COUNTERS,
        "property": porpoise_settings.TRACK_PROPERTIES,
    }.get(kind, porpoise_settings.TRACK_EVENTS)
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

    @property
    def open_token(self) -> bool:
        """A token that writes for any id (a server-side key): its new chunks are budgeted."""
        return self.token is not None and self.user_id is None and self.token.kind == "open"

    def check_properties(self, kind: str, properties: Any) -> dict[str, Any] | None:
        """A row's event properties, if this caller may write them: staff (or
        ``TRACK_ANY_ID_PERMISSION``) any, others those of ``TRACK_PROPERTIES``."""
        if properties is None:
            return None
        if kind != "mark":
            raise ValueError("properties go with marks (event rows), not counts")
        if not isinstance(properties, dict):
            raise ValueError("properties is an object of name -> value")
        if not self.trusted or self.token is not None:
            for name in properties:
                if not declared("property", name):
                    raise ValueError(
                        f"property {str(name)[:60]!r} is not declared for tracking "
                        "(TRACK_PROPERTIES)"
                    )
        return properties

    def check(self, kind: str, name: Any, ident: Any) -> Any:
        """The id to write, or ``ValueError`` when this caller may not write the row.

        A count's id is the counter member it adds to (a page, a product), not a
        user: any caller allowed the counter may name one. A mark's id is whose
        mark it is: the token's or the session's own, unless the caller may
        write for anyone (an open token, staff, ``TRACK_ANY_ID_PERMISSION``).
        """
        token = self.token
        if token is not None and self.user_id is None:
            if not isinstance(name, str) or not token.allows(kind, name):
                raise ValueError(f"the token does not allow {kind}s of {str(name)[:60]!r}")
            if kind == "count":
                own = token.id if token.kind in ("id", "user") else None
                return own if ident is None else ident
            if token.kind == "open":
                return ident
            if token.kind == "anonymous" and (
                token.id is None or services.get_analytics().id_codec.mode != "map"
            ):
                raise ValueError(
                    "an anonymous visitor's marks need ID_MODE 'map' (their id is kept in "
                    "their session); this token allows counts only"
                )
            if ident is not None and str(ident) != token.id:
                raise ValueError("the token does not allow this id")
            return token.id
        if self.trusted:
            return self.user_id if ident is None else ident
        if not isinstance(name, str) or not (
            declared(kind, name) or (token is not None and token.allows(kind, name))
        ):
            setting = "TRACK_COUNTERS" if kind == "count" else "TRACK_EVENTS"
            raise ValueError(f"{str(name)[:60]!r} is not declared for tracking ({setting})")
        if kind == "count":
            return self.user_id if ident is None else ident
        if ident is not None and str(ident) != str(self.user_id):
            raise ValueError(
                "a session may write only for its own user (TRACK_ANY_ID_PERMISSION allows more)"
            )
        return self.user_id


def _row(raw: Any, caller: Caller) -> PendingWrite:
    if not isinstance(raw, dict):
        raise ValueError("a row is an object with event or counter")
    unknown = set(raw) - {"event", "counter", "id", "by", "time", "idempotency_key", "properties"}
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
    properties = caller.check_properties(kind, raw.get("properties"))
    if kind == "mark":
        if ident is None:
            raise ValueError("a mark needs an id")
        if (
            services.get_analytics().id_codec.mode == "int"
            and isinstance(ident, str)
            and _INTEGER.fullmatch(ident)
        ):
            ident = int(ident)
        return delivery.mark(name, ident, when, properties=properties, public=True)
    # public: in an outage, these rows never push out the server's own writes.
    return delivery.count(name, ident, raw.get("by", 1), when, public=True)


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
    """What the tracking endpoint and the pixel share: who may call, from which
    pages, how often, and how rows are accepted; see the module docstring."""

    permission_setting = "TRACK_PERMISSION_CLASSES"
    authentication_classes = [SignedTokenAuthentication, SessionAuthentication, BasicAuthentication]
    throttle_classes = [TrackThrottle]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        refusal = cross_site_refusal(request)
        if refusal is not None:
            raise PermissionDenied(refusal)
        super().initial(request, *args, **kwargs)

    def perform_authentication(self, request: Request) -> None:
        """Failed logins spend the address's budget, and a spent budget is refused
        before a password is checked (guessing costs the server nothing)."""
        failures = f"f{client_address(request)}"
        if "HTTP_AUTHORIZATION" in request.META:
            wait = throttling.spent(failures)
            if wait is not None:
                raise Throttled(wait)
        try:
            super().perform_authentication(request)
        except AuthenticationFailed:
            throttling.spend([failures])
            raise

    def _accept(self, request: Request, rows: list[Any]) -> dict[str, Any]:
        if len(rows) > porpoise_settings.TRACK_MAX_ROWS:
            raise ValidationError(
                {"rows": [f"at most {porpoise_settings.TRACK_MAX_ROWS} rows per request"]}
            )
        caller = Caller(request)
        writes: list[tuple[int, PendingWrite, str | None]] = []
        errors: list[dict[str, Any]] = []
        seen_keys: set[tuple[str, str]] = set()
        duplicates = 0
        for index, raw in enumerate(rows):
            try:
                write = _row(raw, caller)
                key = _idempotency_key(raw, write)
            except (ValueError, TypeError, OverflowError) as exc:
                errors.append({"index": index, "error": str(exc)})
                continue
            if key is not None:
                # The same key twice in one request counts once (per counter).
                if (write.row[0], key) in seen_keys:
                    duplicates += 1
                    continue
                seen_keys.add((write.row[0], key))
            writes.append((index, write, key))
        if caller.open_token:
            writes = self._within_chunk_budget(caller, writes, errors)
        fresh = self._first_time(caller, [w for w in writes if w[2] is not None])
        accepted = _batch_tokens(
            [w for _, w, key in writes if key is None or (w.row[0], key) in fresh]
        )
        # Queued like the middleware's marks (WRITE_MODE): the answer never
        # waits on Redis, and a backlog is never replayed inside a request.
        delivery.dispatch(accepted)
        errors.sort(key=lambda error: error["index"])
        return {
            "accepted": len(accepted),
            "duplicates": duplicates + len(writes) - len(accepted),
            "errors": errors,
        }

    @staticmethod
    def _within_chunk_budget(
        caller: Caller,
        writes: list[tuple[int, PendingWrite, str | None]],
        errors: list[dict[str, Any]],
    ) -> list[tuple[int, PendingWrite, str | None]]:
        """The writes of an open token whose ids fall in chunks that exist, or in
        the few new ones it may create (``TRACK_MAX_NEW_CHUNKS`` per request,
        ``TRACK_NEW_CHUNKS_PER_DAY`` per token); the others become row errors."""
        pp = services.get_analytics()
        marks = [w for _, w, _ in writes if w.kind == "mark"]
        daily = True
        try:
            new = pp.new_chunks(w.row[1] for w in marks)
        except delivery.REDIS_ERRORS:
            # Redis down: which chunks exist is unknown; the per-request bound
            # still holds (the rows wait in the spool, public rows in their share).
            new = sorted({int(w.row[1]) // pp.keys.chunk_size for w in marks})
            daily = False
        if not new:
            return writes
        per_request = int(porpoise_settings.TRACK_MAX_NEW_CHUNKS)
        assert caller.token is not None
        ident = f"t{caller.token.fingerprint}"
        wanted = min(per_request, len(new))
        granted = set(new[: throttling.new_chunk_budget(ident, wanted) if daily else wanted])
        refused = set(new) - granted
        kept = []
        for index, write, key in writes:
            if write.kind == "mark" and int(write.row[1]) // pp.keys.chunk_size in refused:
                setting = (
                    "TRACK_MAX_NEW_CHUNKS"
                    if len(granted) >= min(per_request, len(new))
                    else "TRACK_NEW_CHUNKS_PER_DAY"
                )
                errors.append(
                    {
                        "index": index,
                        "error": f"id {write.row[1]} would allocate a new id chunk beyond this "
                        f"token's budget ({setting})",
                    }
                )
            else:
                kept.append((index, write, key))
        return kept

    @staticmethod
    def _first_time(
        caller: Caller, keyed: list[tuple[int, PendingWrite, str | None]]
    ) -> set[tuple[str, str]]:
        """(counter, idempotency key) pairs not seen before, one round trip.

        Keys are scoped to the caller and the counter: one caller's ``order-1``
        never makes another's, or another counter's, a duplicate. They are kept
        as 16-byte members of one set per caller and ``IDEMPOTENCY_TTL`` window
        (remembered for one to two windows), not as a key each.
        """
        if not keyed:
            return set()
        pp = services.get_analytics()
        ttl = int(porpoise_settings.IDEMPOTENCY_TTL)
        window = int(time.time() // ttl)
        scope = hashlib.sha1(caller.scope.encode()).hexdigest()[:24]
        current = f"{pp.keys.prefix}:idem:{scope}:{window}"
        previous = f"{pp.keys.prefix}:idem:{scope}:{window - 1}"
        members = {}
        for _, write, key in keyed:
            assert key is not None
            pair = (str(write.row[0]), key)
            members[pair] = hashlib.sha256(repr(pair).encode()).digest()[:16]

        def build(pipe: Any) -> None:
            for member in members.values():
                pipe.sadd(current, member)
                pipe.sismember(previous, member)
            pipe.expire(current, 2 * ttl)

        try:
            answers = pp.run(build, scripts=())
        except delivery.REDIS_ERRORS:
            return set(members)  # Redis down: count now (buffered) rather than lose it
        return {
            pair
            for n, pair in enumerate(members)
            if int(answers[2 * n]) == 1 and not int(answers[2 * n + 1])
        }


def _batch_tokens(writes: list[PendingWrite]) -> list[PendingWrite]:
    """The counts of one request share one at-most-once marker in Redis (a bit
    each, ``<batch>#<n>``), not a key per row."""
    batch = uuid.uuid4().hex
    out = []
    number = 0
    for write in writes:
        if write.kind == "count":
            write = dataclasses.replace(write, token=f"{batch}#{number}")
            number += 1
        out.append(write)
    return out


#: How deep a JSON body may nest (a row is an object of plain values).
MAX_JSON_DEPTH = 16


def _too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


class TrackJSONParser(JSONParser):
    """JSON nested deeper than :data:`MAX_JSON_DEPTH` is a 400, never a
    ``RecursionError``."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH}") from None
        if _too_deep(data):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH}")
        return data


class BeaconJSONParser(TrackJSONParser):
    """``navigator.sendBeacon`` sends a string as ``text/plain``, the one body type
    that needs no CORS preflight: read it as the JSON it holds."""

    media_type = "text/plain"


class TrackView(TrackingView):
    parser_classes = [TrackJSONParser, BeaconJSONParser]

    @extend_schema(request=TrackSerializer, responses={202: TrackedSerializer})
    def post(self, request: Request) -> Response:
        """Record up to ``TRACK_MAX_ROWS`` marks and counts; bad rows are reported by index."""
        body = TrackSerializer(data=request.data)
        if not body.is_valid():
            raise ValidationError(body.errors)
        result = self._accept(request, body.validated_data["rows"])
        return Response(TrackedSerializer(result).data, status=status.HTTP_202_ACCEPTED)


class PixelView(TrackingView):
    @staticmethod
    def _gif() -> HttpResponse:
        response = HttpResponse(PIXEL, content_type="image/gif")
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(exclude=True)
    def head(self, request: Request) -> HttpResponse:
        """The pixel's headers; records nothing (link checkers and prefetchers send HEAD)."""
        return self._gif()

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
        response = self._gif()
        if result["errors"]:
            response["X-Porpoise-Error"] = result["errors"][0]["error"][:200]
        return response
