"""Translations at the Django boundary: the engine's messages in the active language.

The engine has no Django (it is usable without it), so its messages are
English. The ones people meet on the dashboards and in the API (an unknown
or oversized period, an untracked granularity, a query's syntax, an id or a
time out of range) are recognised here by their wording and said again in
the active language, the values they name kept as given; any other engine
message stays English. ``tests/test_translations.py`` raises each of them
from the engine, so a change of wording there fails a test rather than
falling back to English unnoticed.

>>> from django.utils import translation
>>> with translation.override("de"):
...     engine_message(ValueError("query is empty: give event names and operators"))
'die Abfrage ist leer: Geben Sie Ereignisnamen und Operatoren an'
>>> engine_message(ValueError("anything else"))
'anything else'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext, gettext_lazy

from porpoise_django.engine import PERIOD_STRING_HELP as ENGINE_PERIOD_HELP

_ = gettext_lazy

#: The period strings every period field accepts (the engine's own help, translated).
PERIOD_STRING_HELP = _(
    "today, yesterday, Nh, Nd, Nw, Nmo, Ny, wtd, mtd, ytd, STEP:SPAN (e.g. 1d:1mo), "
    "or YYYY-MM-DD:YYYY-MM-DD"
)

#: What the engine calls the things it names (``invalid counter name 'x'``).
WHAT = {
    "event name": _("event name"),
    "counter name": _("counter name"),
    "metric name": _("metric name"),
    "series name": _("series name"),
    "segment name": _("segment name"),
    "property name": _("property name"),
    "decision name": _("decision name"),
    "interval name": _("interval name"),
    "events": _("events"),
    "counters": _("counters"),
    "metrics": _("metrics"),
}

_NAME_RULE = r"1 to (?P<max>\d+) characters among letters, digits and _ \. : / @ \+ -"
_TIME_LIMIT = r"(?P<first>\d+) to (?P<last>\d+)"

#: (the engine's wording, as a regular expression; the same in the active language).
MESSAGES: tuple[tuple[str, Any], ...] = (
    (
        r"unknown period (?P<text>.+); use " + re.escape(ENGINE_PERIOD_HELP),
        _("unknown period %(text)s; use %(help)s"),
    ),
    (
        r"period (?P<text>.+) is larger than the cap of (?P<cap>\d+) buckets: narrow it",
        _("period %(text)s is larger than the cap of %(cap)s buckets: narrow it"),
    ),
    (
        r"range of (?P<size>\d+) (?P<granularity>\w+) buckets is larger than the cap of "
        r"(?P<cap>\d+)",
        _("range of %(size)s %(granularity)s buckets is larger than the cap of %(cap)s"),
    ),
    (
        r"period (?P<text>.+): the count must be at least 1",
        _("period %(text)s: the count must be at least 1"),
    ),
    (
        r"period (?P<text>.+): the step must be 1h, 1d, 1w or 1mo",
        _("period %(text)s: the step must be 1h, 1d, 1w or 1mo"),
    ),
    (
        r"period (?P<text>.+): a '\|zone' suffix is taken by metrics only \(their buckets can "
        r"be re-cut\); events and counters are read in the configured time zone",
        _(
            "period %(text)s: a '|zone' suffix is taken by metrics only (their buckets can be "
            "re-cut); events and counters are read in the configured time zone"
        ),
    ),
    (
        r"(?P<granularity>\w+) is not tracked for (?P<what>events|counters|metrics); tracked: "
        r"(?P<tracked>.*) \(add it to (?P<option>\w+) to track it\)",
        _(
            "%(granularity)s is not tracked for %(what)s; tracked: %(tracked)s "
            "(add it to %(option)s to track it)"
        ),
    ),
    (
        r"(?P<when>\S+) is out of range: times run from " + _TIME_LIMIT,
        _("%(when)s is out of range: times run from %(first)s to %(last)s"),
    ),
    (
        r"(?P<steps>-?\d+) (?P<granularity>\w+)s from (?P<label>\S+) is out of range: times run "
        r"from " + _TIME_LIMIT,
        _(
            "%(steps)s %(granularity)ss from %(label)s is out of range: times run from "
            "%(first)s to %(last)s"
        ),
    ),
    (
        r"time (?P<time>\S+?)(?P<instant> \(\S+\))? cannot be written: times run from "
        r"1970-01-01 \(epoch 0\) to now \+ (?P<future>\d+) s \(max_future_seconds\), in seconds "
        r"\(not milliseconds\)",
        _(
            "time %(time)s%(instant)s cannot be written: times run from 1970-01-01 (epoch 0) "
            "to now + %(future)s s (max_future_seconds), in seconds (not milliseconds)"
        ),
    ),
    (
        r"time (?P<time>\S+?)(?P<instant> \(\S+\))? cannot be read: times run from 1970-01-01 "
        r"\(epoch 0\) to 9998-12-31, in seconds \(not milliseconds\)",
        _(
            "time %(time)s%(instant)s cannot be read: times run from 1970-01-01 (epoch 0) "
            "to 9998-12-31, in seconds (not milliseconds)"
        ),
    ),
    (
        r"query is empty: give event names and operators",
        _("query is empty: give event names and operators"),
    ),
    (
        r"query ends too early: an event name or '\(' is missing",
        _("query ends too early: an event name or '(' is missing"),
    ),
    (
        r"unexpected (?P<token>.+) at position (?P<position>\d+)",
        _("unexpected %(token)s at position %(position)s"),
    ),
    (
        r"missing '\)' for the '\(' at position (?P<position>\d+)",
        _("missing ')' for the '(' at position %(position)s"),
    ),
    (
        r"(?P<function>unique|segment)\(\) takes one name: missing '\)' for position "
        r"(?P<position>\d+)",
        _("%(function)s() takes one name: missing ')' for position %(position)s"),
    ),
    (
        r"a value is missing after '=' at position (?P<position>\d+)",
        _("a value is missing after '=' at position %(position)s"),
    ),
    (
        r"invalid event name (?P<name>.+) at position (?P<position>\d+): " + _NAME_RULE,
        _(
            "invalid event name %(name)s at position %(position)s: 1 to %(max)s characters "
            "among letters, digits and _ . : / @ + -"
        ),
    ),
    (
        r"invalid (?P<what>[a-z ]+?) (?P<name>'.*'|\".*\"): use " + _NAME_RULE,
        _(
            "invalid %(what)s %(name)s: use 1 to %(max)s characters among letters, digits and "
            "_ . : / @ + -"
        ),
    ),
    (r"query has more than (?P<n>\d+) tokens", _("query has more than %(n)s tokens")),
    (r"query names more than (?P<n>\d+) events", _("query names more than %(n)s events")),
    (r"query nests deeper than (?P<n>\d+) levels", _("query nests deeper than %(n)s levels")),
    (r"query is longer than (?P<n>\d+) characters", _("query is longer than %(n)s characters")),
    (
        r"unknown property (?P<name>.+); known: none yet",
        _("unknown property %(name)s; known: none yet"),
    ),
    (
        r"unknown property (?P<name>.+); known: (?P<known>.+)",
        _("unknown property %(name)s; known: %(known)s"),
    ),
    (
        r"id (?P<id>.+) is not an integer: in 'int' id mode ids are integers from 0 to "
        r"(?P<max>\d+); use id_mode='map' for strings or UUIDs",
        _(
            "id %(id)s is not an integer: in 'int' id mode ids are integers from 0 to "
            "%(max)s; use id_mode='map' for strings or UUIDs"
        ),
    ),
    (
        r"id (?P<id>.+) is out of range: ids run from 0 to (?P<max>\d+) \(MAX_ID\); use "
        r"id_mode='map' for larger or sparse ids",
        _(
            "id %(id)s is out of range: ids run from 0 to %(max)s (MAX_ID); use "
            "id_mode='map' for larger or sparse ids"
        ),
    ),
    (
        r"activity over (?P<cells>\d+) event buckets; at most (?P<max>\d+): ask for a shorter "
        r"range or a coarser granularity",
        _(
            "activity over %(cells)s event buckets; at most %(max)s: ask for a shorter range "
            "or a coarser granularity"
        ),
    ),
    (
        r"funnel of (?P<entries>\d+) entry periods x (?P<window>\d+) is too large",
        _("funnel of %(entries)s entry periods x %(window)s is too large"),
    ),
    (
        r"stickiness counts days: track 'day' \(GRANULARITIES\)",
        _("stickiness counts days: track 'day' (GRANULARITIES)"),
    ),
)
_COMPILED = tuple((re.compile(pattern), said) for pattern, said in MESSAGES)


def engine_message(exc: BaseException | str) -> str:
    """``exc``'s message in the active language when it is one of :data:`MESSAGES`,
    else as it is (a message the glue wrote itself is translated already)."""
    text = str(exc)
    for pattern, said in _COMPILED:
        match = pattern.fullmatch(text)
        if match:
            return str(said) % _values(match.groupdict(default=""))
    return text


def _values(found: Mapping[str, str]) -> dict[str, str]:
    """The values a message names; the words among them that the engine chose
    (what kind of name, the period forms) said in the active language."""
    values = dict(found)
    values["help"] = str(PERIOD_STRING_HELP)
    if "what" in values:
        values["what"] = str(WHAT.get(values["what"], values["what"]))
    return values


def did_you_mean(close: list[str]) -> str:
    """``"; did you mean a, b?"`` in the active language, or ``""`` without names."""
    return gettext("; did you mean %(names)s?") % {"names": ", ".join(close)} if close else ""
