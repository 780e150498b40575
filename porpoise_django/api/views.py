"""The API's read views over the engine (no querysets); staff only by default.

Views with one action are ``APIView``s; the names of a kind and the actions
on one name are a ``ViewSet`` per kind (events, counters, metrics,
decisions). Every answer is shaped by a serializer of :mod:`.serializers`.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from porpoise_django import tables
from porpoise_django.api import breakdowns as splits
from porpoise_django.api import params
from porpoise_django.api import serializers as out
from porpoise_django.api.errors import engine
from porpoise_django.conf import porpoise_settings
from porpoise_django.engine import (
    NAME_PATTERN,
    InvalidExpression,
    InvalidGranularity,
    InvalidId,
    InvalidName,
    InvalidTime,
    PorpoiseError,
    cohort_table,
    funnel,
    lifecycle,
    parse_query,
    stickiness,
)
from porpoise_django.i18n import engine_message
from porpoise_django.services import get_analytics

T = TypeVar("T")
#: An id in "int" mode: ASCII digits, and a sign so that -1 is told the range.
INTEGER = re.compile(r"-?[0-9]{1,40}")
NAME_REGEX = r"[A-Za-z0-9_.:@+\-]+"
NAME_PARAM = OpenApiParameter(
    "name", OpenApiTypes.STR, OpenApiParameter.PATH, pattern=f"^{NAME_REGEX}$"
)


def query(pp: Any, field: str, text: str) -> Any:
    """Parse a query parameter; a syntax error is a 400 naming ``field``."""
    return engine(field, lambda: parse_query(pp, text))


def known_query(pp: Any, field: str, text: str, known: set[str]) -> Any:
    """A query over events that were marked (as the admin pages require): a typo is
    a 400 naming ``field`` and the close matches, never a table of zeros."""
    return engine(field, lambda: tables.known_query(pp, text, known))


def require_event_granularity(pp: Any, periods: Any) -> None:
    """A 400 on ``period`` unless events are tracked at the range's granularity."""
    engine("period", lambda: pp.check_tracked(periods.granularity))


def validated(serializer: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    data = serializer(data=request.query_params)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


def check_name(name: str, what: str = "name") -> str:
    if not NAME_PATTERN.fullmatch(name) or len(name) > 128:
        raise ValidationError({what: [gettext("invalid name %(name)r") % {"name": name[:60]}]})
    return name


def series_of(name: str, periods: Any, values: list[Any], granularity: str = "") -> Any:
    """A series of ``values`` per period, for :class:`~.serializers.SeriesSerializer`."""
    return {
        "name": name,
        "granularity": granularity or getattr(periods, "granularity", ""),
        "series": [{"period": p, "value": v} for p, v in zip(periods, values, strict=True)],
    }


def split_series(
    pp: Any, name: str, template: Any, periods: Any, breakdown: str | None
) -> dict[str, Any]:
    """The series of ``template`` and, with ``breakdown``, one per value: every
    count in one round trip."""
    parts = splits.split(pp, template, breakdown) if breakdown else {}
    buckets = list(periods)
    bitmaps = [template, *parts.values()]
    counts = pp.count_bitmaps([b.bind(p) for b in bitmaps for p in buckets])
    width = len(buckets)

    def answer(k: int, label: str) -> Any:
        values = counts[k * width : (k + 1) * width]
        return out.SeriesSerializer(series_of(label, periods, values)).data

    data = dict(answer(0, name))
    if breakdown:
        answers = {value: answer(k, name) for k, value in enumerate(parts, start=1)}
        data["breakdown"] = splits.breakdown_answer(breakdown, answers)
    return data


#: Where an engine error that no view caught itself is filed, by its kind.
_ERROR_FIELDS: tuple[tuple[type[ValueError], str], ...] = (
    (InvalidGranularity, "granularity"),
    (InvalidId, "id"),
    (InvalidName, "name"),
    (InvalidExpression, "q"),
    (InvalidTime, "period"),
)


class HasViewPermission(BasePermission):
    """The user has ``PORPOISE["VIEW_PERMISSION"]`` (superusers do): what the read
    API, decision recording and the dashboards require besides staff."""

    message = _(
        "this needs the permission PORPOISE['VIEW_PERMISSION'] names "
        "(default porpoise_django.view_analytics); ask an administrator"
    )

    def has_permission(self, request: Request, view: Any) -> bool:
        from porpoise_django.permissions import may_view

        return may_view(getattr(request, "user", None))


class PorpoiseAPIMixin:
    """Permissions from the setting named by ``permission_setting``, and engine
    errors as 400s."""

    permission_setting = "API_PERMISSION_CLASSES"

    def handle_exception(self, exc: Exception) -> Response:
        # A safety net: views file engine errors under their parameter
        # themselves; any they missed is still a 400, never a 500.
        if isinstance(exc, PorpoiseError):
            field = next(
                (f for kind, f in _ERROR_FIELDS if isinstance(exc, kind)), "non_field_errors"
            )
            exc = ValidationError({field: [engine_message(exc)]})
        return super().handle_exception(exc)  # type: ignore[misc]

    def get_permissions(self) -> list[BasePermission]:
        return [cls() for cls in getattr(porpoise_settings, self.permission_setting)]


class PorpoiseView(PorpoiseAPIMixin, APIView):
    """Base of the one-action views."""


class PorpoiseViewSet(PorpoiseAPIMixin, viewsets.ViewSet):
    """Base of the per-name actions of one kind."""


def names_page(names: list[str], request: Request) -> dict[str, Any]:
    """``names`` filtered by ``search`` and cut to ``offset``/``limit``, with the count."""
    args = validated(params.NamesParams, request)
    if args.get("search"):
        needle = args["search"].lower()
        names = [n for n in names if needle in n.lower()]
    start = args["offset"]
    return {
        "names": names[start : start + args["limit"]],
        "count": len(names),
        "offset": start,
        "limit": args["limit"],
    }


class EventNamesView(PorpoiseView):
    @extend_schema(
        operation_id="events_list",
        parameters=[params.NamesParams],
        responses=out.EventNamesSerializer,
    )
    def get(self, request: Request) -> Response:
        """A page of event names (``search``, ``offset``, ``limit``), and the unique events."""
        pp = get_analytics()
        page = names_page(pp.event_names(), request)
        page["events"] = page.pop("names")
        page["unique_events"] = pp.unique_names()[:1000]
        return Response(out.EventNamesSerializer(page).data)


class EventViewSet(PorpoiseViewSet):
    """Events: series of counts, membership, ids of a period."""

    lookup_field = "name"
    lookup_value_regex = NAME_REGEX

    @extend_schema(
        operation_id="events_series_many",
        parameters=[params.ManyEventsParams],
        responses=out.ManySeriesSerializer,
    )
    @action(detail=False, methods=["get"], url_path="series")
    def series_many(self, request: Request) -> Response:
        """Series of several events (``names=a,b,c``) in one request and one round trip."""
        args = validated(params.ManyEventsParams, request)
        pp = get_analytics()
        periods = args["range"]
        require_event_granularity(pp, periods)
        buckets = periods.periods()  # computed once, shared by every event
        bitmaps = [pp.event(name).bind(p) for name in args["names"] for p in buckets]
        counts = pp.count_bitmaps(bitmaps)
        width = len(buckets)
        series = [
            series_of(name, buckets, counts[i * width : (i + 1) * width], periods.granularity)
            for i, name in enumerate(args["names"])
        ]
        return Response(out.ManySeriesSerializer({"series": series}).data)

    @extend_schema(parameters=[NAME_PARAM, params.EventSeriesParams], responses=splits.SeriesAnswer)
    @action(detail=True, methods=["get"])
    def series(self, request: Request, name: str) -> Response:
        """Count per bucket (an unknown event gives zeros, not an error); ``where``
        filters by person properties, ``breakdown`` adds a series per value."""
        check_name(name)
        args = validated(params.EventSeriesParams, request)
        pp = get_analytics()
        periods = args["range"]
        require_event_granularity(pp, periods)
        template = splits.filtered(pp, pp.event(name), args.get("where"))
        return Response(split_series(pp, name, template, periods, args.get("breakdown")))

    @extend_schema(parameters=[NAME_PARAM, params.MemberParams], responses=out.MembershipSerializer)
    @action(detail=True, methods=["get"])
    def member(self, request: Request, name: str) -> Response:
        """Whether ``id`` did the event in one period."""
        check_name(name)
        args = validated(params.MemberParams, request)
        pp = get_analytics()
        bitmap = engine(
            "date" if args.get("date") else "granularity",
            lambda: pp.event(name).at(args["granularity"], args.get("date")),
        )
        raw = args["id"]
        external: Any = raw
        if pp.id_codec.mode == "int":
            # ASCII digits only: isdigit() alone takes "²" and "١٢٣" for digits.
            if not INTEGER.fullmatch(raw):
                said = gettext("ids are integers from 0 to %(most)s (MAX_ID)")
                raise ValidationError({"id": [said % {"most": porpoise_settings.MAX_ID}]})
            external = engine("id", lambda: pp.id_codec.check(int(raw)))
        member = engine("id", lambda: external in bitmap)
        period = bitmap.period.label if bitmap.period else ""
        answer = {"name": name, "period": period, "id": raw, "member": member}
        return Response(out.MembershipSerializer(answer).data)

    @extend_schema(parameters=[NAME_PARAM, params.PageParams], responses=out.IdsSerializer)
    @action(detail=True, methods=["get"])
    def ids(self, request: Request, name: str) -> Response:
        """Ids of one period, paginated with ``offset`` and ``limit``."""
        check_name(name)
        args = validated(params.PageParams, request)
        pp = get_analytics()
        bitmap = engine(
            "date" if args.get("date") else "granularity",
            lambda: pp.event(name).at(args["granularity"], args.get("date")),
        )
        # one page, never every id of the period (people() reads the chunks it needs)
        page = pp.people(bitmap, args["offset"], args["limit"])
        answer = {
            "name": name,
            "period": bitmap.period.label if bitmap.period else "",
            "count": page.total,
            "offset": args["offset"],
            "limit": args["limit"],
            "results": [str(i) for i in page.ids],
        }
        return Response(out.IdsSerializer(answer).data)


class ExpressionView(PorpoiseView):
    @extend_schema(
        operation_id="expressions_list",
        parameters=[params.QueryParams],
        responses=splits.SeriesAnswer,
    )
    def get(self, request: Request) -> Response:
        """Series of a query over event names, e.g. ``login & song:played``."""
        args = validated(params.QueryParams, request)
        pp = get_analytics()
        template = splits.filtered(pp, query(pp, "q", args["q"]), args.get("where"))
        periods = args["range"]
        require_event_granularity(pp, periods)
        return Response(split_series(pp, args["q"], template, periods, args.get("breakdown")))


class CounterNamesView(PorpoiseView):
    @extend_schema(
        operation_id="counters_list", parameters=[params.NamesParams], responses=out.NamesSerializer
    )
    def get(self, request: Request) -> Response:
        """A page of counter names."""
        page = names_page(get_analytics().counter_names(), request)
        return Response(out.NamesSerializer(page).data)


class CounterViewSet(PorpoiseViewSet):
    """Counters: totals per bucket, top ids."""

    lookup_field = "name"
    lookup_value_regex = NAME_REGEX

    @extend_schema(parameters=[NAME_PARAM, params.RangeParams], responses=out.SeriesSerializer)
    @action(detail=True, methods=["get"])
    def series(self, request: Request, name: str) -> Response:
        """The counter's total per bucket."""
        check_name(name)
        args = validated(params.RangeParams, request)
        periods = args["range"]
        totals = get_analytics().counter(name).totals(periods)
        return Response(out.SeriesSerializer(series_of(name, periods, [v for _, v in totals])).data)

    @extend_schema(parameters=[NAME_PARAM, params.TopParams], responses=out.TopSerializer)
    @action(detail=True, methods=["get"])
    def top(self, request: Request, name: str) -> Response:
        """The ``n`` ids with the largest counts over the range."""
        check_name(name)
        args = validated(params.TopParams, request)
        rows = get_analytics().counter(name).top(args["range"], args["n"])
        answer = {"name": name, "top": [{"id": k, "value": v} for k, v in rows]}
        return Response(out.TopSerializer(answer).data)


class MetricNamesView(PorpoiseView):
    @extend_schema(
        operation_id="metrics_list", parameters=[params.NamesParams], responses=out.NamesSerializer
    )
    def get(self, request: Request) -> Response:
        """A page of metric names."""
        page = names_page(get_analytics().metric_names(), request)
        return Response(out.NamesSerializer(page).data)


class MetricViewSet(PorpoiseViewSet):
    """Metrics with dimensions: totals, plot points, breakdowns."""

    lookup_field = "name"
    lookup_value_regex = NAME_REGEX

    @extend_schema(parameters=[NAME_PARAM, params.MetricParams], responses=out.TotalsSerializer)
    @action(detail=True, methods=["get"])
    def totals(self, request: Request, name: str) -> Response:
        """Each metric summed over the range (ratios such as ``revenue/hits`` too)."""
        check_name(name)
        args = validated(params.MetricParams, request)
        metric = get_analytics().metric(name)
        totals = engine(
            "metrics", lambda: metric.totals(args["range"], args["metrics"], args["dimension"])
        )
        return Response(out.TotalsSerializer({"name": name, "totals": totals}).data)

    @extend_schema(
        parameters=[NAME_PARAM, params.MetricParams], responses=out.MetricSeriesSerializer
    )
    @action(detail=True, methods=["get"])
    def series(self, request: Request, name: str) -> Response:
        """The metrics per bucket."""
        check_name(name)
        args = validated(params.MetricParams, request)
        metric = get_analytics().metric(name)
        points = engine(
            "metrics", lambda: metric.series(args["range"], args["metrics"], args["dimension"])
        )
        answer = {"name": name, "series": [{"period": p, "values": v} for p, v in points]}
        return Response(out.MetricSeriesSerializer(answer).data)

    @extend_schema(
        parameters=[NAME_PARAM, params.BreakdownParams], responses=out.BreakdownSerializer
    )
    @action(detail=True, methods=["get"])
    def breakdown(self, request: Request, name: str) -> Response:
        """The values under a dimension, sorted and cut."""
        check_name(name)
        args = validated(params.BreakdownParams, request)
        metric = get_analytics().metric(name)
        rows = engine(
            "dimension",
            lambda: metric.breakdown(
                args["dimension"],
                args["range"],
                args["metrics"],
                sort=args.get("sort"),
                limit=args.get("limit"),
                depth=args["depth"],
            ),
        )
        return Response(out.BreakdownSerializer({"name": name, "rows": rows}).data)


class CohortView(PorpoiseView):
    @extend_schema(
        operation_id="cohorts_list",
        parameters=[params.CohortParams],
        responses=splits.CohortsAnswer,
    )
    def get(self, request: Request) -> Response:
        """The cohort retention table of the admin page, as JSON."""
        args = validated(params.CohortParams, request)
        pp = get_analytics()
        known = tables.known_names(pp)
        selections = {
            key: known_query(pp, key, args[key], known)
            for key in ("select1", "select2", "select1b", "select2b")
            if args.get(key)
        }
        where = splits.where_bitmap(pp, args.get("where"))
        segment = selections.get("select1b")
        if where is not None:
            segment = where if segment is None else segment & where
        options = dict(
            select1b=segment,
            select2b=selections.get("select2b"),
            granularity=args["granularity"],
            cohorts=args["cohorts"],
            offsets=args["offsets"],
            start=args.get("start"),
            mode=args["mode"],
            cohort_type=args["cohort_type"],
        )
        field = "start" if args.get("start") else "granularity"
        one, two = selections["select1"], selections["select2"]
        table = engine(field, lambda: cohort_table(pp, one, two, **options))
        data = dict(out.CohortsSerializer(table).data)
        if args.get("breakdown"):
            name = args["breakdown"]
            split = engine(
                "breakdown", lambda: cohort_table(pp, one, two, breakdown=name, **options)
            )
            answers = {v: out.CohortsSerializer(t).data for v, t in split.items()}
            data["breakdown"] = splits.breakdown_answer(name, answers)
        return Response(data)


class FunnelView(PorpoiseView):
    @extend_schema(
        operation_id="funnels_list",
        parameters=[params.FunnelParams],
        responses=splits.FunnelAnswer,
    )
    def get(self, request: Request) -> Response:
        """Ordered steps within a conversion window counted in periods."""
        args = validated(params.FunnelParams, request)
        pp = get_analytics()
        known = tables.known_names(pp)
        steps = [known_query(pp, "steps", step, known) for step in args["steps"]]
        steps[0] = splits.filtered(pp, steps[0], args.get("where"))
        options = dict(
            granularity=args["granularity"],
            window=args["window"],
            start=args.get("start") or -6,
            end=args.get("end") or 0,
        )
        result = engine("start", lambda: funnel(pp, steps, times=args["times"], **options))
        data = dict(out.FunnelSerializer({"steps": args["steps"], "result": result}).data)
        if args.get("breakdown"):
            name = args["breakdown"]
            split = engine("breakdown", lambda: funnel(pp, steps, breakdown=name, **options))
            answers = {
                v: out.FunnelSerializer({"steps": args["steps"], "result": r}).data
                for v, r in split.items()
            }
            data["breakdown"] = splits.breakdown_answer(name, answers)
        return Response(data)


class LifecycleView(PorpoiseView):
    @extend_schema(
        operation_id="lifecycle_list",
        parameters=[params.LifecycleParams],
        responses=splits.LifecycleAnswer,
    )
    def get(self, request: Request) -> Response:
        """New, returning, resurrecting and dormant (negative) users per period."""
        args = validated(params.LifecycleParams, request)
        event = check_name(args["event"], "event")
        pp = get_analytics()
        template = splits.filtered(pp, pp.event(event), args.get("where"))
        result = engine("period", lambda: lifecycle(pp, template, args["range"]))
        data = dict(out.LifecycleSerializer({"event": event, "result": result}).data)
        if args.get("breakdown"):
            name = args["breakdown"]
            split = engine(
                "breakdown", lambda: lifecycle(pp, template, args["range"], breakdown=name)
            )
            answers = {
                v: out.LifecycleSerializer({"event": event, "result": r}).data
                for v, r in split.items()
            }
            data["breakdown"] = splits.breakdown_answer(name, answers)
        return Response(data)


class StickinessView(PorpoiseView):
    @extend_schema(
        operation_id="stickiness_list",
        parameters=[params.StickinessParams],
        responses=splits.StickinessAnswer,
    )
    def get(self, request: Request) -> Response:
        """Users active on exactly / at least n days of a week or month."""
        args = validated(params.StickinessParams, request)
        check_name(args["event"], "event")
        pp = get_analytics()
        period = engine(
            "date" if args.get("date") else "granularity",
            lambda: pp.period(args["granularity"], args.get("date")),
        )
        template = splits.filtered(pp, pp.event(args["event"]), args.get("where"))
        result = engine("granularity", lambda: stickiness(pp, template, period))
        answer = {"event": args["event"], "period": period, "result": result}
        data = dict(out.StickinessSerializer(answer).data)
        if args.get("breakdown"):
            name = args["breakdown"]
            split = engine("breakdown", lambda: stickiness(pp, template, period, breakdown=name))
            answers = {
                v: out.StickinessSerializer({**answer, "result": r}).data for v, r in split.items()
            }
            data["breakdown"] = splits.breakdown_answer(name, answers)
        return Response(data)


class DecisionViewSet(PorpoiseViewSet):
    """Decisions: report options' rates and pick one; record shows and outcomes.

    Recording is a write: it follows ``DECISION_RECORD_PERMISSION_CLASSES``.
    """

    lookup_field = "name"
    lookup_value_regex = NAME_REGEX

    def get_permissions(self) -> list[BasePermission]:
        if self.action == "record":
            return [cls() for cls in porpoise_settings.DECISION_RECORD_PERMISSION_CLASSES]
        return super().get_permissions()

    @extend_schema(
        parameters=[NAME_PARAM, params.DecisionParams], responses=out.DecisionReportSerializer
    )
    @action(detail=True, methods=["get"])
    def report(self, request: Request, name: str) -> Response:
        """Each option's trials, rate, interval and chance to be best; and the pick."""
        check_name(name)
        args = validated(params.DecisionParams, request)
        decision = get_analytics().decision(name)
        options, known = args["options"], args["dimensions"]
        judge = {"by": args.get("by"), "goal": args["goal"]}
        rows = engine("dimensions", lambda: decision.report(options, known, **judge))
        pick = engine("dimensions", lambda: decision.decide(options, known, **judge))
        answer = {"name": name, "options": rows, "decide": pick}
        return Response(out.DecisionReportSerializer(answer).data)

    @extend_schema(
        parameters=[NAME_PARAM],
        request=params.DecisionRecord,
        responses={202: out.RecordedSerializer},
    )
    @action(detail=True, methods=["post"])
    def record(self, request: Request, name: str) -> Response:
        """Record that an option was shown (and whether it worked), or its metrics."""
        check_name(name)
        body = params.DecisionRecord(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        decision = get_analytics().decision(name)
        engine(
            "option",
            lambda: decision.record(
                data["option"],
                data.get("dimensions"),
                success=data.get("success"),
                metrics=data.get("metrics"),
            ),
        )
        return Response(out.RecordedSerializer({"names": [name]}).data, status=202)
