"""Cross-origin tracking: pages on ``PORPOISE["TRACK_ALLOWED_ORIGINS"]`` may call
``track/`` and ``track/pixel.gif`` from the browser.

django-cors-headers writes the headers; this module only tells it, through its
``check_request_enabled`` signal, which requests to answer: those to the
tracking endpoints from an allowed origin, and no other (the read API stays
same-origin whatever the origins allowed to track).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import Resolver404, resolve

from porpoise_django.conf import porpoise_settings

#: The URL names (in the API's namespace) a browser on another origin may call.
TRACKING_URL_NAMES = frozenset({"track-list", "track-pixel"})
#: What such a browser may do there (a preflight asking for more is not answered).
TRACKING_METHODS = frozenset({"GET", "HEAD", "POST"})


def allow_tracking_origin(sender: Any, request: HttpRequest, **kwargs: Any) -> bool:
    """``check_request_enabled`` receiver: True for a request from an allowed
    ``Origin`` to this app's own tracking views (matched by view, not by URL
    name: a host project's route named ``track-list`` gets nothing), for the
    methods they answer."""
    from porpoise_django.api.tracking import TrackingView

    origin = request.headers.get("origin")
    if not origin or origin not in porpoise_settings.TRACK_ALLOWED_ORIGINS:
        return False
    asked = request.headers.get("access-control-request-method", request.method)
    if str(asked).upper() not in TRACKING_METHODS:
        return False
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    view = getattr(match.func, "view_class", None) or getattr(match.func, "cls", None)
    return (
        isinstance(view, type)
        and issubclass(view, TrackingView)
        and "porpoise_api" in match.app_names
        and match.url_name in TRACKING_URL_NAMES
    )


def connect() -> None:
    """Connect the receiver when django-cors-headers is installed."""
    try:
        from corsheaders.signals import check_request_enabled
    except ImportError:  # cross-origin tracking stays off; check W004 says why
        return
    check_request_enabled.connect(allow_tracking_origin, dispatch_uid="porpoise_tracking_cors")
