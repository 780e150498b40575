"""``people/`` and ``people/{id}/activity/``: who is behind a number, and what one id did.

The answers are personal data: they need the read API's permissions
(``API_PERMISSION_CLASSES``) *and* a signed-in user (a tracking token, even
where a project lets tokens read, is refused), and they are never kept by a
browser or a proxy (``Cache-Control: no-store, private``).
"""

from __future__ import annotations

from typing import Any

from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from porpoise_django.api.tokens import TrackToken
from porpoise_django.api.views import PorpoiseView, engine, query
from porpoise_django.engine import (
    EVENT_GRANULARITIES,
    MAX_PEOPLE_LIMIT,
    PERIOD_STRING_HELP,
    Analytics,
    Bitmap,
    PeriodRange,
)
from porpoise_django.services import get_analytics

#: The most buckets a people query may span (the expression is OR-ed over them).
MAX_PEOPLE_BUCKETS = 400


class SignedInUser(BasePermission):
    """A signed-in user, never a tracking token: ids are personal data."""

    message = "the people behind the numbers are for signed-in staff, not tracking tokens"

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(getattr(request, "auth", None), TrackToken):
            return False
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_authenticated)


class PeopleParams(serializers.Serializer):
    q = serializers.CharField(
        max_length=500, help_text="Query over event names, e.g. 'login & song:played'."
    )
    period = serializers.CharField(
        default="1d",
        max_length=64,
        help_text=f"Period string over days or longer: {PERIOD_STRING_HELP}. Over "
        "several buckets, the ids the query holds in any of them (default 1d: today).",
    )
    offset = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PEOPLE_LIMIT, default=100)


class ActivityParams(serializers.Serializer):
    period = serializers.CharField(
        default="30d", max_length=64, help_text=f"Period string: {PERIOD_STRING_HELP}."
    )


class PeopleSerializer(serializers.Serializer):
    q = serializers.CharField()
    period = serializers.CharField(help_text="First and last bucket of the period.")
    count = serializers.IntegerField(help_text="Ids in all, before paging.")
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    next_offset = serializers.IntegerField(allow_null=True, help_text="None after the last page.")
    results = serializers.ListField(child=serializers.CharField(), help_text="Ids, in bit order.")


class EventMarksSerializer(serializers.Serializer):
    name = serializers.CharField()
    marks = serializers.ListField(child=serializers.BooleanField(), help_text="One per period.")


class ActivitySerializer(serializers.Serializer):
    id = serializers.CharField()
    granularity = serializers.CharField()
    periods = serializers.ListField(child=serializers.CharField())
    events = EventMarksSerializer(many=True, help_text="Events the id did at least once.")
    unique_events = serializers.ListField(
        child=serializers.CharField(), help_text="Unique events and segments it holds now."
    )
    properties = serializers.DictField(
        child=serializers.CharField(),
        help_text="Its person properties now: name -> value (only those it holds a value of).",
    )


def event_periods(pp: Analytics, text: str, field: str = "period") -> PeriodRange:
    """A period string over a tracked event granularity: else a 400 on ``field``."""
    periods = engine(field, lambda: pp.period_string(text))
    if periods.granularity not in EVENT_GRANULARITIES:
        said = gettext("events are kept per %(granularities)s") % {
            "granularities": ", ".join(EVENT_GRANULARITIES)
        }
        raise ValidationError({field: [said]})
    engine(field, lambda: pp.check_tracked(periods.granularity))
    return periods


def over(template: Bitmap, periods: PeriodRange) -> Bitmap:
    """``template`` bound to each bucket of ``periods``, OR-ed."""
    bound = [template.bind(p) for p in periods]
    result = bound[0]
    for bitmap in bound[1:]:
        result = result | bitmap
    return result


def external_id(pp: Analytics, raw: str) -> Any:
    """An id from a URL: an integer in ``"int"`` id mode, else the text."""
    if pp.id_codec.mode != "int":
        return raw
    if not (raw.isascii() and raw.isdigit()):
        raise ValidationError({"id": [gettext("ids are integers in [0, 2**63)")]})
    return int(raw)


class PrivateView(PorpoiseView):
    """Read API permissions plus a signed-in user; answers never cached."""

    def get_permissions(self) -> list[BasePermission]:
        return [*super().get_permissions(), SignedInUser()]

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)  # no-store, private, max-age=0
        return response


class PeopleView(PrivateView):
    @extend_schema(
        operation_id="people_list",
        parameters=[PeopleParams],
        responses=PeopleSerializer,
        description="The ids behind a number (personal data: never cached, no tokens).",
    )
    def get(self, request: Request) -> Response:
        """A page of the ids a query holds over a period, and how many in all."""
        data = PeopleParams(data=request.query_params)
        data.is_valid(raise_exception=True)
        args = data.validated_data
        pp = get_analytics()
        template = query(pp, "q", args["q"])
        periods = event_periods(pp, args["period"])
        if len(periods) > MAX_PEOPLE_BUCKETS:
            said = gettext("at most %(most)s buckets") % {"most": MAX_PEOPLE_BUCKETS}
            raise ValidationError({"period": [said]})
        page = engine(
            "q", lambda: pp.people(over(template, periods), args["offset"], args["limit"])
        )
        answer = {
            "q": args["q"],
            "period": f"{periods.first.label}..{periods.last.label}",
            "count": page.total,
            "offset": page.offset,
            "limit": page.limit,
            "next_offset": page.next_offset,
            "results": [str(i) for i in page.ids],
        }
        return Response(PeopleSerializer(answer).data)


class ActivityView(PrivateView):
    @extend_schema(
        operation_id="people_activity",
        parameters=[
            OpenApiParameter("id", OpenApiTypes.STR, OpenApiParameter.PATH),
            ActivityParams,
        ],
        responses=ActivitySerializer,
        description="What one id did per period (personal data: never cached, no tokens).",
    )
    def get(self, request: Request, id: str) -> Response:
        """The events one id did in each period, the unique events and the person
        property values it holds."""
        data = ActivityParams(data=request.query_params)
        data.is_valid(raise_exception=True)
        pp = get_analytics()
        periods = event_periods(pp, data.validated_data["period"])
        external = external_id(pp, id)
        done = engine("id", lambda: pp.activity(external, periods))
        answer = {
            "id": id,
            "granularity": periods.granularity,
            "periods": [p.label for p in done.periods],
            "events": [{"name": n, "marks": m} for n, m in done.marks.items()],
            "unique_events": done.uniques,
            "properties": done.properties,
        }
        return Response(ActivitySerializer(answer).data)
