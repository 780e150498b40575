"""Query-parameter serializers: every bad parameter is a 400 naming that parameter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext
from rest_framework import serializers

from porpoise_django.api.breakdowns import SplitParams
from porpoise_django.engine import (
    EVENT_GRANULARITIES,
    GRANULARITIES,
    NAME_PATTERN,
    PERIOD_STRING_HELP,
    PeriodRange,
    check_dimension_path,
)
from porpoise_django.i18n import engine_message
from porpoise_django.services import get_analytics
from porpoise_django.tables import (
    COHORTS,
    FUNNEL_STEPS,
    FUNNEL_WINDOW,
    LIFECYCLE_PERIODS,
    OFFSETS,
    check_cells,
)


class RangeParams(serializers.Serializer):
    """A range of buckets: ``period`` (a period string) or ``granularity`` + ``start``/``end``."""

    granularity = serializers.ChoiceField(choices=GRANULARITIES, default="day")
    period = serializers.CharField(
        required=False, max_length=64, help_text=f"Period string: {PERIOD_STRING_HELP}."
    )
    start = serializers.DateField(required=False, help_text="First day (YYYY-MM-DD).")
    end = serializers.DateField(required=False, help_text="Last day (YYYY-MM-DD); default today.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        pp = get_analytics()
        try:
            if attrs.get("period"):
                attrs["range"] = pp.period_string(attrs["period"])
            else:
                start: dt.date | int = attrs.get("start") or -29
                end: dt.date | int = attrs.get("end") or 0
                attrs["range"] = pp.range(attrs["granularity"], start, end)
        except ValueError as exc:
            field = "period" if attrs.get("period") else "start"
            raise serializers.ValidationError({field: [engine_message(exc)]}) from None
        return attrs


class EventRangeParams(RangeParams):
    granularity = serializers.ChoiceField(choices=EVENT_GRANULARITIES, default="day")


class EventSeriesParams(EventRangeParams, SplitParams):
    """One event's series, optionally filtered (``where``) and split (``breakdown``)."""


class ManyEventsParams(EventRangeParams):
    names = serializers.CharField(
        max_length=3000, help_text="Comma-separated event names (1 to 50)."
    )

    def validate_names(self, value: str) -> list[str]:
        names = [n.strip() for n in value.split(",") if n.strip()]
        if not 1 <= len(names) <= 50:
            raise serializers.ValidationError(gettext("give 1 to 50 comma-separated event names"))
        for name in names:
            if not NAME_PATTERN.fullmatch(name) or len(name) > 128:
                raise serializers.ValidationError(
                    gettext("invalid event name %(name)r") % {"name": name[:60]}
                )
        return names


class PeriodParams(serializers.Serializer):
    """One bucket: ``granularity`` and ``date`` (default: the current one)."""

    granularity = serializers.ChoiceField(choices=EVENT_GRANULARITIES, default="day")
    date = serializers.DateField(required=False, help_text="A day in the bucket (YYYY-MM-DD).")


class MemberParams(PeriodParams):
    id = serializers.CharField(max_length=256, help_text="The id to look up.")


class NamesParams(serializers.Serializer):
    """A page of names: never all of them at once (a registry may hold thousands)."""

    search = serializers.CharField(required=False, max_length=128, help_text="Substring.")
    offset = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=1000)


class PageParams(PeriodParams):
    offset = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=10_000, default=1000)


class QueryParams(EventRangeParams, SplitParams):
    q = serializers.CharField(
        max_length=500, help_text="Query over event names, e.g. 'login & song:played'."
    )


class TopParams(RangeParams):
    n = serializers.IntegerField(min_value=1, max_value=1000, default=10)


class MetricParams(RangeParams):
    metrics = serializers.CharField(
        required=False,
        default="hits",
        max_length=1000,
        help_text="Comma-separated metrics or ratios, e.g. revenue,revenue/hits.",
    )
    dimension = serializers.CharField(required=False, default="", allow_blank=True, max_length=1000)

    def validate_dimension(self, value: str) -> str:
        try:
            return check_dimension_path(value)
        except ValueError as exc:
            raise serializers.ValidationError(engine_message(exc)) from None

    def validate_metrics(self, value: str) -> list[str]:
        names = [m.strip() for m in value.split(",") if m.strip()]
        if not names or len(names) > 20:
            raise serializers.ValidationError(gettext("give 1 to 20 comma-separated metrics"))
        return names


class BreakdownParams(MetricParams):
    sort = serializers.CharField(required=False, max_length=130)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    depth = serializers.IntegerField(min_value=1, max_value=8, default=1)


class CohortParams(SplitParams):
    select1 = serializers.CharField(max_length=500, help_text="Query for the cohort, e.g. signup.")
    select2 = serializers.CharField(max_length=500, help_text="Query for coming back, e.g. active.")
    select1b = serializers.CharField(required=False, max_length=500, allow_blank=True)
    select2b = serializers.CharField(required=False, max_length=500, allow_blank=True)
    granularity = serializers.ChoiceField(choices=["day", "week", "month", "year"], default="day")
    cohorts = serializers.IntegerField(
        min_value=COHORTS.low, max_value=COHORTS.high, default=COHORTS.default
    )
    offsets = serializers.IntegerField(
        min_value=OFFSETS.low, max_value=OFFSETS.high, default=OFFSETS.default
    )
    start = serializers.DateField(required=False)
    mode = serializers.ChoiceField(choices=["on", "on_or_after"], default="on")
    cohort_type = serializers.ChoiceField(choices=["recurring", "first_time"], default="recurring")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            check_cells(attrs["cohorts"], attrs["offsets"])
        except ValueError as exc:
            raise serializers.ValidationError({"cohorts": [engine_message(exc)]}) from None
        return attrs


class FunnelParams(SplitParams):
    steps = serializers.CharField(max_length=2000, help_text="Comma-separated queries, 2 to 10.")
    granularity = serializers.ChoiceField(choices=["day", "week", "month"], default="day")
    window = serializers.IntegerField(
        min_value=FUNNEL_WINDOW.low, max_value=FUNNEL_WINDOW.high, default=FUNNEL_WINDOW.default
    )
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)
    times = serializers.BooleanField(
        default=False,
        help_text="Also the time to convert: per step, how many reached it within "
        "0, 1, ... window periods of entering, and the median (window of at most 60).",
    )

    def validate_steps(self, value: str) -> list[str]:
        steps = [s.strip() for s in value.split(",") if s.strip()]
        if not FUNNEL_STEPS.low <= len(steps) <= FUNNEL_STEPS.high:
            raise serializers.ValidationError(
                gettext("give %(low)s to %(high)s comma-separated steps")
                % {"low": FUNNEL_STEPS.low, "high": FUNNEL_STEPS.high}
            )
        return steps


def periods_out(periods: PeriodRange | list[Any]) -> list[dict[str, str]]:
    return [{"period": p.label, "start": p.start.isoformat()} for p in periods]


LIFECYCLE_BUCKETS = LIFECYCLE_PERIODS


class LifecycleParams(EventRangeParams, SplitParams):
    event = serializers.CharField(max_length=128)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if len(attrs["range"]) > LIFECYCLE_BUCKETS:
            field = "period" if attrs.get("period") else "start"
            said = gettext("a lifecycle spans at most %(most)s periods") % {
                "most": LIFECYCLE_BUCKETS
            }
            raise serializers.ValidationError({field: [said]})
        return attrs


class StickinessParams(SplitParams):
    event = serializers.CharField(max_length=128)
    granularity = serializers.ChoiceField(choices=["week", "month"], default="week")
    date = serializers.DateField(required=False, help_text="A day of the week or month.")


class DecisionParams(serializers.Serializer):
    options = serializers.CharField(
        max_length=1000, help_text="Comma-separated options, 2 or more."
    )
    dimensions = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=1000,
        help_text="Known dimensions: name=value, comma-separated.",
    )
    by = serializers.CharField(
        required=False,
        max_length=130,
        help_text="Judge by a formula over recorded metrics (revenue/visitors) instead of "
        "the success rate.",
    )
    goal = serializers.ChoiceField(
        choices=["max", "min"], default="max", help_text="With by: min for a cost."
    )

    def validate_options(self, value: str) -> list[str]:
        options = [o.strip() for o in value.split(",") if o.strip()]
        if len(options) < 2 or len(set(options)) != len(options):
            raise serializers.ValidationError(gettext("give two or more distinct options"))
        for option in options:
            if "/" in option:
                raise serializers.ValidationError(
                    gettext("an option has no '/': %(option)r") % {"option": option[:60]}
                )
            try:
                check_dimension_path(option)
            except ValueError as exc:
                raise serializers.ValidationError(engine_message(exc)) from None
        return options

    def validate_dimensions(self, value: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in value.split(","))):
            if "=" not in part:
                raise serializers.ValidationError(
                    gettext("write dimensions as name=value, comma-separated")
                )
            key, dim = (x.strip() for x in part.split("=", 1))
            out[key] = dim
        return out


#: Dimensions one recorded decision may carry, and how deep a value may nest
#: (``device/os/mac``): each dimension and level is a metric path written.
DECISION_DIMENSIONS = 16
DECISION_DEPTH = 4


class DecisionRecord(serializers.Serializer):
    option = serializers.CharField(max_length=128)
    dimensions = serializers.DictField(child=serializers.CharField(max_length=128), required=False)

    def validate_dimensions(self, value: dict[str, str]) -> dict[str, str]:
        if len(value) > DECISION_DIMENSIONS:
            raise serializers.ValidationError(
                gettext("at most %(most)s dimensions") % {"most": DECISION_DIMENSIONS}
            )
        for key, dim in value.items():
            if len(key) > 128 or dim.count("/") + 1 > DECISION_DEPTH:
                raise serializers.ValidationError(
                    gettext(
                        "dimension %(name)r: names of at most 128 characters, values "
                        "at most %(depth)s levels deep"
                    )
                    % {"name": key[:60], "depth": DECISION_DEPTH}
                )
        return value

    success = serializers.FloatField(required=False, allow_null=True)
    metrics = serializers.DictField(
        child=serializers.FloatField(),
        required=False,
        help_text='Metrics to decide by a formula ({"revenue": 25}); not with success.',
    )
