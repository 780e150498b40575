"""Forms of the admin dashboards: every bad input is a message on the form."""

from __future__ import annotations

import difflib
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from porpoise_django import tables
from porpoise_django.engine import PERIOD_STRING_HELP, Bitmap
from porpoise_django.services import get_analytics

#: Segments compared on one cohort page (each is a table of its own).
MAX_SEGMENTS = 4


def query_field(label: str, initial: str | None = None, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label,
        initial=initial,
        required=required,
        max_length=500,
        widget=forms.TextInput(attrs={"list": "porpoise-events", "size": 28}),
        help_text="An event, or a query such as 'login & song:played'.",
    )


def breakdown_field() -> forms.ChoiceField:
    """ "Breakdown by": a property of the store (choices filled per form)."""
    return forms.ChoiceField(
        required=False,
        label="Breakdown by",
        choices=[("", "nothing")],
        help_text="A person or event property: one result per value.",
    )


def offer_properties(form: forms.Form) -> None:
    """Fill the form's "Breakdown by" choices with the store's properties."""
    split = form.fields.get("breakdown")
    if isinstance(split, forms.ChoiceField):
        names = get_analytics().property_names()
        split.choices = [("", "nothing")] + [(n, f"{n} ({k})") for n, k in names.items()]


def date_field(**options: Any) -> forms.DateField:
    """An optional date, picked in the browser's date picker (typed YYYY-MM-DD too)."""
    return forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        **options,
    )


def period_field() -> forms.CharField:
    """A period string, with presets offered (today, the last 7/30/90 days, this
    week/month/year so far) and any range typed (``2026-01-01:2026-01-31``)."""
    return forms.CharField(
        initial="30d",
        max_length=64,
        help_text=PERIOD_STRING_HELP,
        widget=forms.TextInput(attrs={"list": "porpoise-periods", "size": 24}),
    )


def limited_field(limit: tables.Limit, **options: Any) -> forms.IntegerField:
    """An integer field with the range and default the API uses too."""
    return forms.IntegerField(
        min_value=limit.low, max_value=limit.high, initial=limit.default, **options
    )


def period_range(text: str) -> Any:
    """The periods of a period string; one out of the store's times says which
    way and the limits, not a computed instant."""
    try:
        return get_analytics().period_string(text)
    except ValueError as exc:
        limits = re.search(r"times run from (\d+) to (\d+)", str(exc))
        if not limits:
            raise ValidationError(str(exc)) from None
        first, last = limits.groups()
        year = re.match(r"\s*(\d+)-", str(exc))
        early = year is not None and int(year.group(1)) < int(first)
        edge = f"before {first}" if early else f"beyond {last}"
        raise ValidationError(
            f"{text!r} reaches {edge}: times run from {first} to {last}; ask for a shorter period"
        ) from None


def known_query(text: str, known: set[str]) -> Bitmap:
    """A query over ``known`` events (see :func:`porpoise_django.tables.known_query`)."""
    try:
        return tables.known_query(get_analytics(), text, known)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class DashboardForm(forms.Form):
    """A dashboard's query form; ``together`` names fields that stay side by side."""

    together: tuple[tuple[str, ...], ...] = ()

    def groups(self) -> list[list[forms.BoundField]]:
        """The fields in display order, those of a ``together`` group in one list."""
        grouped = {name: group for group in self.together for name in group}
        out: list[list[forms.BoundField]] = []
        for field in self:
            group = grouped.get(field.name)
            if group is None:
                out.append([field])
            elif field.name == group[0]:
                out.append([self[name] for name in group])
        return out


class KnownEventsForm(DashboardForm):
    """Reads the registry of event names once per form."""

    #: The granularities the form knows, offered where the store tracks them.
    granularities: tuple[tuple[str, str], ...] = (
        ("day", "days"),
        ("week", "weeks"),
        ("month", "months"),
        ("year", "years"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._known: set[str] | None = None
        # Only the granularities the store tracks are offered.
        field = self.fields["granularity"]
        assert isinstance(field, forms.ChoiceField)
        tracked = get_analytics().granularities
        offered = [(g, label) for g, label in self.granularities if g in tracked]
        field.choices = offered
        if field.initial not in tracked and offered:
            field.initial = offered[0][0]
        offer_properties(self)

    def clean_granularity(self) -> str:
        value: str = self.cleaned_data["granularity"]
        tracked = get_analytics().granularities
        if value not in tracked:
            raise ValidationError(f"{value} is not tracked; tracked: {', '.join(tracked)}")
        return value

    def query(self, field: str) -> Bitmap:
        return self.parse(self.cleaned_data[field])

    def parse(self, text: str) -> Bitmap:
        """A query over known events (the registry is read once per form)."""
        if self._known is None:
            self._known = tables.known_names(get_analytics())
        return known_query(text, self._known)


class CohortForm(KnownEventsForm):
    # "and" narrows the field before it: the two stay together when rows wrap.
    together = (("select1", "select1b"), ("select2", "select2b"))
    select1 = query_field("Did", "signup")
    select1b = query_field("and", required=False)
    select2 = query_field("Then came back to", "active")
    select2b = query_field("and", required=False)
    granularity = forms.ChoiceField(choices=KnownEventsForm.granularities, initial="day")
    cohorts = limited_field(tables.COHORTS, label="Cohorts")
    offsets = limited_field(
        tables.OFFSETS,
        label="Periods after",
        help_text="Columns 0 (the cohort's own period) to this many periods after it.",
    )
    start = date_field(label="First cohort", help_text="Default: so the table ends now.")
    mode = forms.ChoiceField(
        choices=[("on", "on"), ("on_or_after", "on or after")], initial="on", label="Came back"
    )
    cohort_type = forms.ChoiceField(
        choices=[("recurring", "recurring"), ("first_time", "first time")],
        initial="recurring",
        label="Cohorts of",
    )
    display = forms.ChoiceField(
        choices=[("percent", "percent"), ("count", "counts")], initial="percent"
    )
    breakdown = breakdown_field()
    segments = forms.CharField(
        required=False,
        max_length=1000,
        label="Compare segments",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 28}),
        help_text="One query per line, e.g. unique(premium) and ~unique(premium): each "
        "segment's retention is drawn as a curve.",
    )

    def clean_segments(self) -> list[tuple[str, Bitmap]]:
        lines = [line.strip() for line in self.cleaned_data["segments"].splitlines()]
        lines = [line for line in lines if line]
        if len(lines) > MAX_SEGMENTS:
            raise ValidationError(f"compare at most {MAX_SEGMENTS} segments")
        return [(line, self.parse(line)) for line in lines]

    def clean_select1(self) -> Bitmap:
        return self.query("select1")

    def clean_select2(self) -> Bitmap:
        return self.query("select2")

    def clean_select1b(self) -> Bitmap | None:
        return self.query("select1b") if self.cleaned_data.get("select1b") else None

    def clean_select2b(self) -> Bitmap | None:
        return self.query("select2b") if self.cleaned_data.get("select2b") else None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        cohorts, offsets = data.get("cohorts"), data.get("offsets")
        if cohorts and offsets is not None:
            try:
                tables.check_cells(cohorts, offsets)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
        return data


class FunnelForm(KnownEventsForm):
    steps = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 40}),
        help_text="2 to 10 steps, one event or query per line, in order.",
    )
    granularities = KnownEventsForm.granularities[:3]
    granularity = forms.ChoiceField(choices=granularities, initial="day")
    window = limited_field(tables.FUNNEL_WINDOW, help_text="Periods after entering.")
    start = date_field(help_text="First entry period (default: 6 periods ago: 7 end now).")
    end = date_field(help_text="Last entry period (default: now).")
    breakdown = breakdown_field()

    def clean_steps(self) -> list[tuple[str, Bitmap]]:
        lines = [line.strip() for line in self.cleaned_data["steps"].splitlines() if line.strip()]
        if not tables.FUNNEL_STEPS.low <= len(lines) <= tables.FUNNEL_STEPS.high:
            raise ValidationError(
                f"give {tables.FUNNEL_STEPS.low} to {tables.FUNNEL_STEPS.high} steps, one per line"
            )
        known = tables.known_names(get_analytics())
        return [(line, known_query(line, known)) for line in lines]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise ValidationError("the last entry period is before the first")
        return data


class ChartForm(DashboardForm):
    kind = forms.ChoiceField(
        choices=[
            ("counter", "counter"),
            ("event", "event"),
            ("unique", "unique event"),
            ("metric", "metric"),
        ],
        initial="counter",
    )
    name = forms.CharField(
        max_length=128, widget=forms.TextInput(attrs={"list": "porpoise-names", "size": 24})
    )
    period = period_field()
    metrics = forms.CharField(
        required=False,
        initial="hits",
        max_length=500,
        help_text="Metrics: comma-separated, ratios such as revenue/hits.",
    )
    dimension = forms.CharField(
        required=False, max_length=500, help_text="Metrics: a dimension path, e.g. country/US."
    )
    chart = forms.ChoiceField(choices=[("line", "line"), ("bar", "bar")], initial="line")
    compare = forms.BooleanField(required=False, label="Compare with the previous period")
    top = forms.IntegerField(required=False, min_value=1, max_value=20, label="Top N breakdown")
    breakdown = breakdown_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_properties(self)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        pp = get_analytics()
        kind, name = data.get("kind"), data.get("name")
        if kind and name:
            names = {
                "counter": pp.counter_names,
                "event": pp.event_names,
                "metric": pp.metric_names,
                "unique": pp.unique_names,
            }[kind]()
            if name not in names:
                close = difflib.get_close_matches(name, names, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                self.add_error("name", f"unknown {kind} {name!r}{hint}")
        if data.get("period"):
            try:
                data["range"] = period_range(data["period"])
            except ValidationError as exc:
                self.add_error("period", exc)
        return data


class LifecycleForm(DashboardForm):
    event = forms.CharField(
        max_length=128, widget=forms.TextInput(attrs={"list": "porpoise-events"})
    )
    period = period_field()
    sticky = forms.ChoiceField(
        choices=[("week", "this week"), ("month", "this month")],
        initial="week",
        label="Stickiness of",
    )
    breakdown = breakdown_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_properties(self)

    def clean_event(self) -> str:
        name: str = self.cleaned_data["event"]
        known = get_analytics().event_names()
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValidationError(f"unknown event {name!r}{hint}")
        return name

    def clean_period(self) -> Any:
        periods = period_range(self.cleaned_data["period"])
        if len(periods) > tables.LIFECYCLE_PERIODS:
            raise ValidationError(
                f"a lifecycle spans at most {tables.LIFECYCLE_PERIODS} periods "
                f"({self.cleaned_data['period']} is {len(periods)})"
            )
        return periods


def parse_dimensions(text: str) -> dict[str, str]:
    """``country=US, device=mac`` as a dict; raises ValidationError on other shapes."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise ValidationError(f"{part!r}: write dimensions as name=value, comma-separated")
        key, value = (x.strip() for x in part.split("=", 1))
        out[key] = value
    return out


class DecisionForm(DashboardForm):
    name = forms.CharField(
        max_length=128,
        label="Decision",
        widget=forms.TextInput(attrs={"list": "porpoise-decisions"}),
    )
    options = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Comma-separated, e.g. a,b,c; empty: every option recorded.",
    )
    dimensions = forms.CharField(
        required=False, max_length=1000, help_text="e.g. country=US, device=mac"
    )

    def clean_options(self) -> list[str]:
        options = [o.strip() for o in self.cleaned_data["options"].split(",") if o.strip()]
        if (options and len(options) < 2) or len(set(options)) != len(options):
            raise ValidationError("give two or more distinct options")
        return options

    def clean_dimensions(self) -> dict[str, str]:
        return parse_dimensions(self.cleaned_data.get("dimensions") or "")


#: Filters one "Where" may give (each one AND), as the API's ``where``.
MAX_WHERE = 10


def parse_where(text: str) -> dict[str, str]:
    """``plan=pro, country=US`` (or the API's ``plan:pro``) as ``{name: value}``."""
    filters: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        name, sep, value = item.partition("=") if "=" in item else item.partition(":")
        if not sep or not name.strip() or not value.strip():
            raise ValidationError(_("%(item)r is not property=value") % {"item": item[:60]})
        filters[name.strip()] = value.strip().strip("\"'")
    if len(filters) > MAX_WHERE:
        raise ValidationError(_("at most %(most)s filters") % {"most": MAX_WHERE})
    return filters


class OverviewForm(DashboardForm):
    """The overview's "Breakdown by" and "Where" (each event's users today and
    this week, split by a property's values, or only the ids holding some)."""

    breakdown = breakdown_field()
    top = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=20,
        initial=5,
        label=_("Top values"),
        help_text=_("Values shown per event, the most frequent first; the rest as $other."),
    )
    where = forms.CharField(
        required=False,
        max_length=500,
        label=_("Where"),
        widget=forms.TextInput(attrs={"size": 24, "placeholder": "plan=pro, country=US"}),
        help_text=_("Person properties: only the ids holding these values now."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_properties(self)

    def clean_where(self) -> Bitmap | None:
        filters = parse_where(self.cleaned_data.get("where") or "")
        if not filters:
            return None
        try:
            return get_analytics().where(**filters)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
