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


def allow_tracking_origin(sender: Any, request: HttpRequest, **kwargs: Any) -> bool:
    """``check_request_enabled`` receiver: True for a tracking request whose
    ``Origin`` is allowed."""
    origin = request.headers.get("origin")
    if not origin or origin not in porpoise_settings.TRACK_ALLOWED_ORIGINS:
        return False
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return match.url_name in TRACKING_URL_NAMES


def connect() -> None:
    """Connect the receiver when django-cors-headers is installed."""
    try:
        from corsheaders.signals import check_request_enabled
    except ImportError:  # cross-origin tracking stays off; check W004 says why
        return
    check_request_enabled.connect(allow_tracking_origin, dispatch_uid="porpoise_tracking_cors")
