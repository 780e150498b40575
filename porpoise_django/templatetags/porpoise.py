"""Template tags: ``{% load porpoise %}``.

``percent`` is the dashboards' filter; ``porpoise_tracker`` puts the browser
client on a page, with a signed token for the names it may send::

    {% load porpoise %}
    {% porpoise_tracker events="page:view signup:step" counters="clicks" %}
    <button onclick="porpoise.track('signup:step')">...</button>

>>> percent(0.1234)
'12.3%'
>>> percent(None)
'-'
"""

from __future__ import annotations

from typing import Any

from django import template
from django.templatetags.static import static
from django.urls import reverse
from django.utils.formats import get_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """A share (0 to 1) as a percentage, the way every page shows rates (with
    the active language's decimal separator: ``12,3%`` in French)."""
    if value is None:
        return "-"
    text = f"{100 * float(value):.{int(digits)}f}%"
    return text.replace(".", get_format("DECIMAL_SEPARATOR"))


@register.simple_tag(takes_context=True)
def porpoise_tracker(
    context: dict[str, Any],
    events: str = "",
    counters: str = "",
    endpoint: str | None = None,
    interval: int = 1000,
) -> SafeString:
    """A ``<script>`` loading ``porpoise.js`` with a token for ``events`` and
    ``counters`` (space- or comma-separated names). The token writes for the
    visitor only: a logged-in user's id while their session lasts, or an
    anonymous visitor's own anonymous id (kept in their session; marks need
    ``ID_MODE`` "map", counts work in both). Rows need no id.
    ``endpoint`` defaults to this site's ``track/`` URL, made absolute so that
    the tag also serves pages on other origins (``TRACK_ALLOWED_ORIGINS``)."""
    from porpoise_django.api.tokens import anonymous_track_token, user_track_token

    request = context.get("request")
    user = getattr(request, "user", None)
    names = {
        key: value.replace(",", " ").split() for key, value in (("e", events), ("c", counters))
    }
    if user is not None and user.is_authenticated:
        token = user_track_token(request, user, events=names["e"], counters=names["c"])
    else:
        token = anonymous_track_token(request, events=names["e"], counters=names["c"])
    url = endpoint or reverse("porpoise_api:track-list")
    if endpoint is None and request is not None:
        url = request.build_absolute_uri(url)
    return format_html(
        '<script src="{}" data-endpoint="{}" data-token="{}" data-interval="{}" defer></script>',
        static("porpoise_django/porpoise.js"),
        url,
        token,
        int(interval),
    )
