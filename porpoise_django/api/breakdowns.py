"""``?breakdown=`` and ``?where=`` on the API's series and analyses.

``breakdown=plan`` adds a ``breakdown`` member to the answer: the same answer
once per value of that property (``{"name": "plan", "values": [{"value":
"pro", ...}, ...]}``); the answer itself stays the whole. ``where=plan:pro``
(repeatable, all must hold) keeps only the ids whose person properties have
those values now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext
from rest_framework import serializers

from porpoise_django.api import serializers as out
from porpoise_django.api.errors import engine
from porpoise_django.engine import NAME_PATTERN

#: Filters one request may give (each one AND).
MAX_WHERE = 10


def _name(value: str, what: str) -> str:
    if not NAME_PATTERN.fullmatch(value) or len(value) > 128:
        said = (
            gettext("invalid property %(name)r: letters, digits and _ . : / @ + -")
            if what == "property"
            else gettext("invalid value %(name)r: letters, digits and _ . : / @ + -")
        )
        raise serializers.ValidationError(said % {"name": value[:60]})
    return value


class SplitParams(serializers.Serializer):
    """``breakdown`` and ``where``, shared by the endpoints that take them."""

    breakdown = serializers.CharField(
        required=False,
        max_length=128,
        help_text="A person or event property: the answer once per value, under 'breakdown'.",
    )
    where = serializers.ListField(
        child=serializers.CharField(max_length=260),
        required=False,
        max_length=MAX_WHERE,
        help_text="name:value (repeatable, all must hold): only ids whose person "
        "properties have these values now.",
    )

    def validate_breakdown(self, value: str) -> str:
        return _name(value, "property")

    def validate_where(self, value: list[str]) -> dict[str, str]:
        filters: dict[str, str] = {}
        for item in value:
            prop, sep, wanted = item.partition(":")
            if not sep:
                raise serializers.ValidationError(
                    gettext("%(item)r is not name:value") % {"item": item[:60]}
                )
            filters[_name(prop, "property")] = _name(wanted, "value")
        return filters


def filtered(pp: Any, template: Any, where: dict[str, str] | None) -> Any:
    """``template`` restricted to ``where`` (unchanged without filters)."""
    if not where:
        return template
    return template & engine("where", lambda: pp.where(**where))


def where_bitmap(pp: Any, where: dict[str, str] | None) -> Any:
    """The ``where`` filters as one bitmap, or None."""
    return engine("where", lambda: pp.where(**where)) if where else None


def split(pp: Any, template: Any, name: str) -> dict[str, Any]:
    """``template`` restricted to each value of property ``name``."""
    return engine("breakdown", lambda: pp.split_by(template, name))


def breakdown_answer(name: str, answers: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The ``breakdown`` member: one answer per value."""
    return {"name": name, "values": [{"value": v, **a} for v, a in answers.items()]}


# -- the schema of the answers with a breakdown ------------------------------------------
def _with_breakdown(base: type[serializers.Serializer], label: str) -> type:
    value = type(f"{label}ValueSerializer", (base,), {"value": serializers.CharField()})
    split_of = type(
        f"{label}BreakdownSerializer",
        (serializers.Serializer,),
        {"name": serializers.CharField(), "values": value(many=True)},
    )
    return type(
        f"{label}AnswerSerializer",
        (base,),
        {
            "breakdown": split_of(required=False, help_text="With ?breakdown=: one per value."),
            "__doc__": base.__doc__,
        },
    )


SeriesAnswer = _with_breakdown(out.SeriesSerializer, "Series")
CohortsAnswer = _with_breakdown(out.CohortsSerializer, "Cohorts")
FunnelAnswer = _with_breakdown(out.FunnelSerializer, "Funnel")
LifecycleAnswer = _with_breakdown(out.LifecycleSerializer, "Lifecycle")
StickinessAnswer = _with_breakdown(out.StickinessSerializer, "Stickiness")
