"""Response serializers: they shape every answer of the API and document it.

Each view hands its serializer the engine's results (wrapped in a small dict
where the answer joins several of them); the same classes feed the OpenAPI
schema, so the documented shape and the sent one cannot drift apart.

>>> SeriesSerializer({"name": "active", "granularity": "day", "series": []}).data
{'name': 'active', 'granularity': 'day', 'series': []}
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):
    """A number as the engine gives it: a count stays an int, an amount a float."""

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(OpenApiTypes.DATETIME)
class StartField(serializers.Field):
    """When a period starts, ISO 8601 in the engine's time zone (with its offset)."""

    def to_representation(self, value: Any) -> str:
        return str(value.isoformat())


class PageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Items in all, before paging.")
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()


class NamesSerializer(PageSerializer):
    names = serializers.ListField(child=serializers.CharField())


class EventNamesSerializer(PageSerializer):
    events = serializers.ListField(child=serializers.CharField())
    unique_events = serializers.ListField(
        child=serializers.CharField(), help_text="Unique (time-less) events, at most 1000."
    )


class PointSerializer(serializers.Serializer):
    period = serializers.CharField(source="period.label")
    start = StartField(source="period.start")
    value = NumberField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # Hundreds of points per answer: DRF's walk over the declared fields
        # costs ten times this. The fields above still document the shape, and
        # a test holds both to the same output.
        period = instance["period"]
        return {
            "period": period.label,
            "start": period.start.isoformat(),
            "value": instance["value"],
        }


class SeriesSerializer(serializers.Serializer):
    name = serializers.CharField()
    granularity = serializers.CharField()
    series = PointSerializer(many=True)


class ManySeriesSerializer(serializers.Serializer):
    series = SeriesSerializer(many=True)


class MembershipSerializer(serializers.Serializer):
    name = serializers.CharField()
    period = serializers.CharField()
    id = serializers.CharField()
    member = serializers.BooleanField()


class IdsSerializer(PageSerializer):
    name = serializers.CharField()
    period = serializers.CharField()
    results = serializers.ListField(child=serializers.CharField())


class TopRowSerializer(serializers.Serializer):
    id = serializers.CharField()
    value = NumberField()


class TopSerializer(serializers.Serializer):
    name = serializers.CharField()
    top = TopRowSerializer(many=True)


class TotalsSerializer(serializers.Serializer):
    name = serializers.CharField()
    totals = serializers.DictField(child=NumberField(allow_null=True))


class MetricPointSerializer(serializers.Serializer):
    period = serializers.CharField(source="period.label")
    start = StartField(source="period.start")
    values = serializers.DictField(child=NumberField(allow_null=True))


class MetricSeriesSerializer(serializers.Serializer):
    name = serializers.CharField()
    series = MetricPointSerializer(many=True)


class BreakdownSerializer(serializers.Serializer):
    name = serializers.CharField()
    rows = serializers.ListField(child=serializers.DictField())


class CohortRowSerializer(serializers.Serializer):
    cohort = serializers.CharField()
    size = serializers.IntegerField()
    counts = serializers.ListField(child=serializers.IntegerField(allow_null=True))
    percents = serializers.ListField(child=serializers.FloatField(allow_null=True))
    unfinished = serializers.ListField(child=serializers.BooleanField())


class CohortsSerializer(serializers.Serializer):
    """A :class:`~porpoise_django.engine.CohortTable`."""

    granularity = serializers.CharField()
    mode = serializers.CharField()
    cohort_type = serializers.CharField()
    rows = serializers.SerializerMethodField()
    average = serializers.ListField(child=serializers.FloatField(allow_null=True))

    @extend_schema_field(CohortRowSerializer(many=True))
    def get_rows(self, table: Any) -> Any:
        rows = zip(
            table.labels,
            table.sizes,
            table.counts,
            table.percents(),
            table.unfinished,
            strict=True,
        )
        fields = ("cohort", "size", "counts", "percents", "unfinished")
        cells = [dict(zip(fields, row, strict=True)) for row in rows]
        return CohortRowSerializer(cells, many=True).data


class FunnelStepSerializer(serializers.Serializer):
    step = serializers.CharField()
    count = serializers.IntegerField()
    conversion = serializers.FloatField(allow_null=True)


class FunnelEntrySerializer(serializers.Serializer):
    period = serializers.CharField(help_text="The entry period.")
    start = serializers.DateTimeField()
    counts = serializers.ListField(
        child=serializers.IntegerField(), help_text="Per step, of those who entered then."
    )


class FunnelTimeSerializer(serializers.Serializer):
    step = serializers.CharField()
    median_periods = serializers.IntegerField(
        allow_null=True,
        help_text="Half of those who reached the step did within this many periods.",
    )
    within = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="How many reached the step within 0, 1, ... window periods of entering.",
    )


class FunnelSerializer(serializers.Serializer):
    """The steps' names (as asked) beside a :class:`~porpoise_django.engine.FunnelResult`."""

    steps = serializers.SerializerMethodField()
    overall = serializers.FloatField(allow_null=True, source="result.overall")
    entries = serializers.SerializerMethodField()
    times = serializers.SerializerMethodField()

    @extend_schema_field(FunnelEntrySerializer(many=True))
    def get_entries(self, answer: dict[str, Any]) -> Any:
        """Conversion over time: each entry period's own funnel."""
        rows = [
            {"period": p.label, "start": p.start, "counts": counts}
            for p, counts in answer["result"].entries
        ]
        return FunnelEntrySerializer(rows, many=True).data

    @extend_schema_field(FunnelTimeSerializer(many=True, allow_null=True))
    def get_times(self, answer: dict[str, Any]) -> Any:
        """With ``times=true``: the time to convert per step; null otherwise."""
        result = answer["result"]
        if result.within is None:
            return None
        rows = [
            {"step": s, "median_periods": m, "within": w}
            for s, m, w in zip(answer["steps"], result.median_periods(), result.within, strict=True)
        ]
        return FunnelTimeSerializer(rows, many=True).data

    @extend_schema_field(FunnelStepSerializer(many=True))
    def get_steps(self, answer: dict[str, Any]) -> Any:
        result = answer["result"]
        steps = zip(answer["steps"], result.counts, result.conversion(), strict=True)
        rows = [{"step": s, "count": c, "conversion": v} for s, c, v in steps]
        return FunnelStepSerializer(rows, many=True).data


class LifecycleRowSerializer(serializers.Serializer):
    period = serializers.CharField()
    new = serializers.IntegerField()
    returning = serializers.IntegerField()
    resurrecting = serializers.IntegerField()
    dormant = serializers.IntegerField()


class LifecycleSerializer(serializers.Serializer):
    event = serializers.CharField()
    rows = LifecycleRowSerializer(many=True, source="result.rows")


class StickinessSerializer(serializers.Serializer):
    event = serializers.CharField()
    period = serializers.CharField(source="period.label")
    days = serializers.IntegerField(source="result.days")
    exactly = serializers.ListField(child=serializers.IntegerField(), source="result.exactly")
    at_least = serializers.ListField(child=serializers.IntegerField(), source="result.at_least")


class OptionReportSerializer(serializers.Serializer):
    option = serializers.CharField()
    trials = serializers.IntegerField()
    successes = NumberField()
    rate = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)
    win_probability = serializers.FloatField()
    dimension = serializers.CharField()


class DecisionReportSerializer(serializers.Serializer):
    name = serializers.CharField()
    options = OptionReportSerializer(many=True)
    decide = serializers.CharField()


class RecordedSerializer(serializers.Serializer):
    names = serializers.ListField(child=serializers.CharField())


class TrackErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    error = serializers.CharField()


class TrackedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    # Declared fields are taken off the class: Serializer.errors stays intact.
    errors = TrackErrorSerializer(many=True)  # type: ignore[assignment]
