"""Read-only viewsets over the engine (no querysets); staff only by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.utils.module_loading import import_string
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from ..conf import porpoise_settings
from ..engine import (
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
from ..engine.names import NAME_PATTERN
from ..services import get_analytics
from . import params

T = TypeVar("T")
NAME_REGEX = r"[A-Za-z0-9_.:@+\-]+"
NAME_PARAM = OpenApiParameter(
    "name", OpenApiTypes.STR, OpenApiParameter.PATH, pattern=f"^{NAME_REGEX}$"
)


def engine(field: str, call: Callable[[], T]) -> T:
    """Run an engine call; its ``ValueError`` becomes a 400 naming ``field``, or the
    argument the engine names (``PorpoiseError.field``) when it knows better."""
    try:
        return call()
    except ValueError as exc:
        named = getattr(exc, "field", None) or field
        raise ValidationError({named: [str(exc)]}) from None


def query(pp: Any, field: str, text: str) -> Any:
    """Parse a query parameter; a syntax error is a 400 naming ``field``."""
    return engine(field, lambda: parse_query(pp, text))


def require_event_granularity(pp: Any, periods: Any) -> None:
    if periods.granularity not in pp.granularities:
        tracked = ", ".join(pp.granularities)
        message = f"{periods.granularity} buckets are not tracked for events; tracked: {tracked}"
        raise ValidationError({"period": [message]})


def validated(serializer: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    data = serializer(data=request.query_params)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


def check_name(name: str, what: str = "name") -> str:
    if not NAME_PATTERN.fullmatch(name) or len(name) > 128:
        raise ValidationError({what: [f"invalid name {name[:60]!r}"]})
    return name


Series = inline_serializer(
    "Series",
    {
        "name": serializers.CharField(),
        "granularity": serializers.CharField(),
        "series": inline_serializer(
            "Point",
            {
                "period": serializers.CharField(),
                "start": serializers.DateTimeField(),
                "value": serializers.FloatField(),
            },
            many=True,
        ),
    },
)


def series_out(name: str, periods: Any, values: list[Any], granularity: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "granularity": granularity or getattr(periods, "granularity", ""),
        "series": [
            {"period": p.label, "start": p.start.isoformat(), "value": v}
            for p, v in zip(periods, values, strict=True)
        ],
    }


class PorpoiseSchema(AutoSchema):
    """Our ``list`` actions answer one object, not a list of them."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        return False


#: Where an engine error that no view caught itself is filed, by its kind.
_ERROR_FIELDS: tuple[tuple[type[ValueError], str], ...] = (
    (InvalidGranularity, "granularity"),
    (InvalidId, "id"),
    (InvalidName, "name"),
    (InvalidExpression, "q"),
    (InvalidTime, "period"),
)


class PorpoiseViewSet(viewsets.ViewSet):
    """Permissions from ``PORPOISE["API_PERMISSION_CLASSES"]`` (staff only by default)."""

    permission_setting = "API_PERMISSION_CLASSES"
    schema = PorpoiseSchema()

    def handle_exception(self, exc: Exception) -> Response:
        # A safety net: views file engine errors under their parameter
        # themselves; any they missed is still a 400, never a 500.
        if isinstance(exc, PorpoiseError):
            field = next(
                (f for kind, f in _ERROR_FIELDS if isinstance(exc, kind)), "non_field_errors"
            )
            exc = ValidationError({field: [str(exc)]})
        return super().handle_exception(exc)

    def get_permissions(self) -> list[BasePermission]:
        return [
            import_string(path)() for path in getattr(porpoise_settings, self.permission_setting)
        ]


_PAGE_FIELDS = {
    "count": serializers.IntegerField(),
    "offset": serializers.IntegerField(),
    "limit": serializers.IntegerField(),
}
Names = inline_serializer(
    "Names", {"names": serializers.ListField(child=serializers.CharField()), **_PAGE_FIELDS}
)
Recorded = inline_serializer(
    "Recorded", {"names": serializers.ListField(child=serializers.CharField())}
)


def names_page(names: list[str], request: Request, key: str = "names") -> dict[str, Any]:
    """``names`` filtered by ``search`` and cut to ``offset``/``limit``, with the count."""
    args = validated(params.NamesParams, request)
    if args.get("search"):
        needle = args["search"].lower()
        names = [n for n in names if needle in n.lower()]
    start = args["offset"]
    return {
        key: names[start : start + args["limit"]],
        "count": len(names),
        "offset": start,
        "limit": args["limit"],
    }


class EventViewSet(PorpoiseViewSet):
    """Events: names, series of counts, membership, ids of a period."""

    lookup_field = "name"
    lookup_value_regex = NAME_REGEX

    @extend_schema(
        parameters=[params.NamesParams],
        responses=inline_serializer(
            "EventNames",
            {
                "events": serializers.ListField(child=serializers.CharField()),
                "unique_events": serializers.ListField(child=serializers.CharField()),
                **_PAGE_FIELDS,
            },
        ),
    )
    def list(self, request: Request) -> Response:
        """A page of event names (``search``, ``offset``, ``limit``), and the unique events."""
        pp = get_analytics()
        page = names_page(pp.event_names(), request, "events")
        return Response({**page, "unique_events": pp.unique_names()[:1000]})

    @extend_schema(
        parameters=[params.ManyEventsParams],
        responses=inline_serializer("ManySeries", {"series": Series.__class__(many=True)}),
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
        return Response(
            {
                "series": [
                    series_out(
                        name, buckets, counts[i * width : (i + 1) * width], periods.granularity
                    )
                    for i, name in enumerate(args["names"])
                ]
            }
        )

    @extend_schema(parameters=[NAME_PARAM, params.EventRangeParams], responses=Series)
    @action(detail=True, methods=["get"])
    def series(self, request: Request, name: str) -> Response:
        """Count per bucket (an unknown event gives zeros, not an error)."""
        check_name(name)
        args = validated(params.EventRangeParams, request)
        pp = get_analytics()
        periods = args["range"]
        require_event_granularity(pp, periods)
        counts = pp.event(name).counts(periods)
        return Response(series_out(name, periods, [c for _, c in counts]))

    @extend_schema(
        parameters=[NAME_PARAM, params.MemberParams],
        responses=inline_serializer(
            "Membership",
            {
                "name": serializers.CharField(),
                "period": serializers.CharField(),
                "id": serializers.CharField(),
                "member": serializers.BooleanField(),
            },
        ),
    )
    @action(detail=True, methods=["get"])
    def member(self, request: Request, name: str) -> Response:
        check_name(name)
        args = validated(params.MemberParams, request)
        pp = get_analytics()
        bitmap = engine(
            "granularity", lambda: pp.event(name).at(args["granularity"], args.get("date"))
        )
        raw = args["id"]
        external: Any = raw
        if pp.id_codec.mode == "int":
            # isdigit() alone takes "²" and "١٢٣" for digits.
            if not (raw.isascii() and raw.isdigit()):
                raise ValidationError({"id": ["ids are integers in [0, 2**63)"]})
            external = int(raw)
        member = engine("id", lambda: external in bitmap)
        return Response(
            {
                "name": name,
                "period": bitmap.period.label if bitmap.period else "",
                "id": raw,
                "member": member,
            }
        )

    @extend_schema(
        parameters=[NAME_PARAM, params.PageParams],
        responses=inline_serializer(
            "Ids",
            {
                "name": serializers.CharField(),
                "period": serializers.CharField(),
                "count": serializers.IntegerField(),
                "offset": serializers.IntegerField(),
                "limit": serializers.IntegerField(),
                "results": serializers.ListField(child=serializers.CharField()),
            },
        ),
    )
    @action(detail=True, methods=["get"])
    def ids(self, request: Request, name: str) -> Response:
        """Ids of one period, paginated with ``offset`` and ``limit``."""
        check_name(name)
        args = validated(params.PageParams, request)
        pp = get_analytics()
        bitmap = pp.event(name).at(args["granularity"], args.get("date"))
        ids = list(bitmap)
        page = ids[args["offset"] : args["offset"] + args["limit"]]
        return Response(
            {
                "name": name,
                "period": bitmap.period.label if bitmap.period else "",
                "count": len(ids),
                "offset": args["offset"],
                "limit": args["limit"],
                "results": [str(i) for i in page],
            }
        )


class ExpressionViewSet(PorpoiseViewSet):
    """Series of a query over event names, e.g. ``login & song:played``."""

    @extend_schema(parameters=[params.QueryParams], responses=Series)
    def list(self, request: Request) -> Response:
        args = validated(params.QueryParams, request)
        pp = get_analytics()
        template = query(pp, "q", args["q"])
        periods = args["range"]
        require_event_granularity(pp, periods)
        counts = pp.counts(template, periods)
        return Response(series_out(args["q"], periods, [c for _, c in counts]))


class CounterViewSet(PorpoiseViewSet):
    """Counters: names, totals per bucket, top ids."""

    lookup_field = "name"
    lookup_value_regex = NAME_REGEX

    @extend_schema(parameters=[params.NamesParams], responses=Names)
    def list(self, request: Request) -> Response:
        return Response(names_page(get_analytics().counter_names(), request))

    @extend_schema(parameters=[NAME_PARAM, params.RangeParams], responses=Series)
    @action(detail=True, methods=["get"])
    def series(self, request: Request, name: str) -> Response:
        check_name(name)
        args = validated(params.RangeParams, request)
        periods = args["range"]
        totals = get_analytics().counter(name).totals(periods)
        return Response(series_out(name, periods, [v for _, v in totals]))

    @extend_schema(
        parameters=[NAME_PARAM, params.TopParams],
        responses=inline_serializer(
            "Top",
            {
                "name": serializers.CharField(),
                "top": inline_serializer(
                    "TopRow",
                    {"id": serializers.CharField(), "value": serializers.FloatField()},
                    many=True,
                ),
            },
        ),
    )
    @action(detail=True, methods=["get"])
    def top(self, request: Request, name: str) -> Response:
        check_name(name)
        args = validated(params.TopParams, request)
        rows = get_analytics().counter(name).top(args["range"], args["n"])
        return Response({"name": name, "top": [{"id": k, "value": v} for k, v in rows]})


class MetricViewSet(PorpoiseViewSet):
    """Metrics with dimensions: totals, plot points, breakdowns, significant values."""

    lookup_field = "name"
    lookup_value_regex = NAME_REGEX

    @extend_schema(parameters=[params.NamesParams], responses=Names)
    def list(self, request: Request) -> Response:
        return Response(names_page(get_analytics().metric_names(), request))

    @extend_schema(
        parameters=[NAME_PARAM, params.MetricParams],
        responses=inline_serializer(
            "Totals",
            {
                "name": serializers.CharField(),
                "totals": serializers.DictField(child=serializers.FloatField(allow_null=True)),
            },
        ),
    )
    @action(detail=True, methods=["get"])
    def totals(self, request: Request, name: str) -> Response:
        check_name(name)
        args = validated(params.MetricParams, request)
        metric = get_analytics().metric(name)
        totals = engine(
            "metrics", lambda: metric.totals(args["range"], args["metrics"], args["dimension"])
        )
        return Response({"name": name, "totals": totals})

    @extend_schema(
        parameters=[NAME_PARAM, params.MetricParams],
        responses=inline_serializer(
            "MetricSeries",
            {
                "name": serializers.CharField(),
                "series": inline_serializer(
                    "MetricPoint",
                    {
                        "period": serializers.CharField(),
                        "start": serializers.DateTimeField(),
                        "values": serializers.DictField(
                            child=serializers.FloatField(allow_null=True)
                        ),
                    },
                    many=True,
                ),
            },
        ),
    )
    @action(detail=True, methods=["get"])
    def series(self, request: Request, name: str) -> Response:
        check_name(name)
        args = validated(params.MetricParams, request)
        metric = get_analytics().metric(name)
        points = engine(
            "metrics", lambda: metric.series(args["range"], args["metrics"], args["dimension"])
        )
        return Response(
            {
                "name": name,
                "series": [
                    {"period": p.label, "start": p.start.isoformat(), "values": v}
                    for p, v in points
                ],
            }
        )

    @extend_schema(
        parameters=[NAME_PARAM, params.BreakdownParams],
        responses=inline_serializer(
            "Breakdown",
            {
                "name": serializers.CharField(),
                "rows": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    @action(detail=True, methods=["get"])
    def breakdown(self, request: Request, name: str) -> Response:
        check_name(name)
        args = validated(params.BreakdownParams, request)
        metric = get_analytics().metric(name)
        dimension = args["dimension"]
        rows = engine(
            "dimension",
            lambda: metric.breakdown(
                dimension,
                args["range"],
                args["metrics"],
                sort=args.get("sort"),
                limit=args.get("limit"),
                depth=args["depth"],
            ),
        )
        return Response({"name": name, "rows": rows})


class CohortViewSet(PorpoiseViewSet):
    """The cohort retention table of the admin page, as JSON."""

    @extend_schema(
        parameters=[params.CohortParams],
        responses=inline_serializer(
            "Cohorts",
            {
                "granularity": serializers.CharField(),
                "mode": serializers.CharField(),
                "cohort_type": serializers.CharField(),
                "rows": inline_serializer(
                    "CohortRow",
                    {
                        "cohort": serializers.CharField(),
                        "size": serializers.IntegerField(),
                        "counts": serializers.ListField(
                            child=serializers.IntegerField(allow_null=True)
                        ),
                        "percents": serializers.ListField(
                            child=serializers.FloatField(allow_null=True)
                        ),
                        "unfinished": serializers.ListField(child=serializers.BooleanField()),
                    },
                    many=True,
                ),
                "average": serializers.ListField(child=serializers.FloatField(allow_null=True)),
            },
        ),
    )
    def list(self, request: Request) -> Response:
        args = validated(params.CohortParams, request)
        pp = get_analytics()
        selections = {
            key: query(pp, key, args[key])
            for key in ("select1", "select2", "select1b", "select2b")
            if args.get(key)
        }
        table = engine(
            "granularity",
            lambda: cohort_table(
                pp,
                selections["select1"],
                selections["select2"],
                select1b=selections.get("select1b"),
                select2b=selections.get("select2b"),
                granularity=args["granularity"],
                cohorts=args["cohorts"],
                offsets=args["offsets"],
                start=args.get("start"),
                mode=args["mode"],
                cohort_type=args["cohort_type"],
            ),
        )
        return Response(
            {
                "granularity": table.granularity,
                "mode": table.mode,
                "cohort_type": table.cohort_type,
                "rows": [
                    {
                        "cohort": label,
                        "size": size,
                        "counts": counts,
                        "percents": percents,
                        "unfinished": running,
                    }
                    for label, size, counts, percents, running in zip(
                        table.labels,
                        table.sizes,
                        table.counts,
                        table.percents(),
                        table.unfinished,
                        strict=True,
                    )
                ],
                "average": table.average(),
            }
        )


class FunnelViewSet(PorpoiseViewSet):
    """Ordered steps within a conversion window counted in periods."""

    @extend_schema(
        parameters=[params.FunnelParams],
        responses=inline_serializer(
            "Funnel",
            {
                "steps": inline_serializer(
                    "FunnelStep",
                    {
                        "step": serializers.CharField(),
                        "count": serializers.IntegerField(),
                        "conversion": serializers.FloatField(allow_null=True),
                    },
                    many=True,
                ),
                "overall": serializers.FloatField(allow_null=True),
            },
        ),
    )
    def list(self, request: Request) -> Response:
        args = validated(params.FunnelParams, request)
        pp = get_analytics()
        steps = [query(pp, "steps", step) for step in args["steps"]]
        start = args.get("start") or -6
        end = args.get("end") or 0
        result = engine(
            "start",
            lambda: funnel(
                pp,
                steps,
                granularity=args["granularity"],
                window=args["window"],
                start=start,
                end=end,
            ),
        )
        return Response(
            {
                "steps": [
                    {"step": name, "count": count, "conversion": conversion}
                    for name, count, conversion in zip(
                        args["steps"], result.counts, result.conversion(), strict=True
                    )
                ],
                "overall": result.overall(),
            }
        )


class LifecycleViewSet(PorpoiseViewSet):
    """New, returning, resurrecting and dormant (negative) users per period."""

    @extend_schema(
        parameters=[params.LifecycleParams],
        responses=inline_serializer(
            "Lifecycle",
            {
                "event": serializers.CharField(),
                "rows": inline_serializer(
                    "LifecycleRow",
                    {
                        "period": serializers.CharField(),
                        "new": serializers.IntegerField(),
                        "returning": serializers.IntegerField(),
                        "resurrecting": serializers.IntegerField(),
                        "dormant": serializers.IntegerField(),
                    },
                    many=True,
                ),
            },
        ),
    )
    def list(self, request: Request) -> Response:
        args = validated(params.LifecycleParams, request)
        check_name(args["event"], "event")
        result = engine("period", lambda: lifecycle(get_analytics(), args["event"], args["range"]))
        return Response({"event": args["event"], "rows": result.rows()})


class StickinessViewSet(PorpoiseViewSet):
    """Users active on exactly / at least n days of a week or month."""

    @extend_schema(
        parameters=[params.StickinessParams],
        responses=inline_serializer(
            "Stickiness",
            {
                "event": serializers.CharField(),
                "period": serializers.CharField(),
                "days": serializers.IntegerField(),
                "exactly": serializers.ListField(child=serializers.IntegerField()),
                "at_least": serializers.ListField(child=serializers.IntegerField()),
            },
        ),
    )
    def list(self, request: Request) -> Response:
        args = validated(params.StickinessParams, request)
        check_name(args["event"], "event")
        pp = get_analytics()
        period = pp.period(args["granularity"], args.get("date"))
        result = engine("granularity", lambda: stickiness(pp, args["event"], period))
        return Response(
            {
                "event": args["event"],
                "period": period.label,
                "days": result.days,
                "exactly": result.exactly,
                "at_least": result.at_least,
            }
        )


Report = inline_serializer(
    "DecisionReport",
    {
        "name": serializers.CharField(),
        "options": inline_serializer(
            "OptionReport",
            {
                "option": serializers.CharField(),
                "trials": serializers.IntegerField(),
                "successes": serializers.FloatField(),
                "rate": serializers.FloatField(allow_null=True),
                "low": serializers.FloatField(allow_null=True),
                "high": serializers.FloatField(allow_null=True),
                "win_probability": serializers.FloatField(),
                "dimension": serializers.CharField(),
            },
            many=True,
        ),
        "decide": serializers.CharField(),
    },
)


class DecisionViewSet(PorpoiseViewSet):
    """Decisions: report options' rates and pick one; record shows and outcomes."""

    lookup_field = "name"
    lookup_value_regex = NAME_REGEX

    @extend_schema(parameters=[NAME_PARAM, params.DecisionParams], responses=Report)
    @action(detail=True, methods=["get"])
    def report(self, request: Request, name: str) -> Response:
        check_name(name)
        args = validated(params.DecisionParams, request)
        decision = get_analytics().decision(name)
        rows = engine("dimensions", lambda: decision.report(args["options"], args["dimensions"]))
        pick = engine("dimensions", lambda: decision.decide(args["options"], args["dimensions"]))
        return Response({"name": name, "options": [vars(r) for r in rows], "decide": pick})

    @extend_schema(
        parameters=[NAME_PARAM], request=params.DecisionRecord, responses={202: Recorded}
    )
    @action(detail=True, methods=["post"])
    def record(self, request: Request, name: str) -> Response:
        check_name(name)
        body = params.DecisionRecord(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        decision = get_analytics().decision(name)
        engine(
            "option",
            lambda: decision.record(
                data["option"], data.get("dimensions"), success=data.get("success")
            ),
        )
        return Response({"names": [name]}, status=202)
