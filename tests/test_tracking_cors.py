"""Tracking from a page on another origin: CORS answered for the tracking
endpoints only (django-cors-headers, PORPOISE["TRACK_ALLOWED_ORIGINS"]), the
text/plain body of navigator.sendBeacon, the browser client and its template
tag; then a real Chromium on a second local origin sends events that are read
back."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from django.core.management import call_command
from django.template import Context, Template
from django.test import RequestFactory

from porpoise_django.api.tokens import make_track_token, read_track_token
from porpoise_django.checks import check_cors
from porpoise_django.dev.embedded import free_port
from tests.browser import browser_test
from tests.conftest import wait_until

TRACK = "/api/porpoise/track/"
SHOP = "https://shop.example.com"


@pytest.fixture
def cross_origin(porpoise):
    return porpoise(TRACK_ALLOWED_ORIGINS=[SHOP])


def test_a_preflight_from_an_allowed_origin_is_answered(client, cross_origin):
    answer = client.options(
        TRACK,
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-porpoise-token",
        },
    )
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == SHOP
    assert "x-porpoise-token" in answer["Access-Control-Allow-Headers"]


def test_other_origins_and_other_endpoints_get_no_cors(client, cross_origin):
    ask = {"Access-Control-Request-Method": "POST"}
    other = client.options(TRACK, headers={"Origin": "https://evil.example", **ask})
    assert "Access-Control-Allow-Origin" not in other
    reads = client.options("/api/porpoise/events/", headers={"Origin": SHOP, **ask})
    assert "Access-Control-Allow-Origin" not in reads  # the read API stays same-origin


def test_a_beacons_text_plain_body_is_accepted(client, cross_origin):
    token = make_track_token(events=["page:left"])
    answer = client.post(
        f"{TRACK}?token={token}",
        data='{"rows": [{"event": "page:left", "id": 8}]}',
        content_type="text/plain;charset=UTF-8",
        headers={"Origin": SHOP},
    )
    assert answer.status_code == 202, answer.content
    assert answer["Access-Control-Allow-Origin"] == SHOP
    assert 8 in cross_origin.event("page:left").day()
    broken = client.post(f"{TRACK}?token={token}", data="{not json", content_type="text/plain")
    assert broken.status_code == 400


@pytest.mark.django_db
def test_the_template_tag_binds_the_token_to_the_user(porpoise, django_user_model):
    user = django_user_model.objects.create_user("ann", password="pw-for-tests")
    request = RequestFactory().get("/")
    request.user = user
    html = Template(
        '{% load porpoise %}{% porpoise_tracker events="page:view, signup:step" %}'
    ).render(Context({"request": request}))
    assert 'src="/static/porpoise_django/porpoise.js"' in html
    assert 'data-endpoint="http://testserver/api/porpoise/track/"' in html
    token = html.split('data-token="')[1].split('"')[0]
    rights = read_track_token(token)
    assert rights.events == {"page:view", "signup:step"} and rights.id == str(user.pk)


def test_w004_says_what_is_missing(settings, porpoise):
    porpoise(TRACK_ALLOWED_ORIGINS=[SHOP])
    assert check_cors() == []
    settings.CORS_ALLOW_HEADERS = ("content-type",)
    [warning] = check_cors()
    assert warning.id == "porpoise_django.W004" and "x-porpoise-token" in warning.msg
    assert "CORS_ALLOW_HEADERS" in warning.hint
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "corsheaders" not in m]
    assert "CorsMiddleware" in check_cors()[0].msg
    call_command("check")  # a warning, not an error


# -- a real page on a second origin ---------------------------------------------------------
PAGE = """<!doctype html><title>shop</title>
<script src="{server}/static/porpoise_django/porpoise.js"
        data-endpoint="{server}/api/porpoise/track/" data-token="{token}"
        data-interval="60000"></script>
"""


@pytest.fixture
def second_origin(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static web server on 127.0.0.1 (the live server is on localhost): another origin."""
    port = free_port()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", tmp_path
    server.shutdown()
    server.server_close()


@browser_test
@pytest.mark.parametrize("allowed", [True, False], ids=["allowed", "not-allowed"])
def test_a_page_on_another_origin_tracks(
    live_server, porpoise, browser_page, second_origin, allowed
):
    origin, folder = second_origin
    pp = porpoise(TRACK_ALLOWED_ORIGINS=[origin] if allowed else [])
    token = make_track_token(events=["page:view", "page:left"])
    (folder / "shop.html").write_text(PAGE.format(server=live_server.url, token=token))
    page = browser_page
    page.goto(f"{origin}/shop.html")
    page.wait_for_function("window.porpoise !== undefined")
    answers = page.evaluate("porpoise.track('page:view', 7); porpoise.flush()")
    if not allowed:
        assert "error" in answers[0]  # the browser refused the preflight's answer
        assert len(pp.event("page:view").day()) == 0
        return
    assert answers == [{"accepted": 1, "duplicates": 0, "errors": []}]
    assert list(pp.event("page:view").day()) == [7]
    # Queued when the page is left: the beacon outlives it.
    page.evaluate("porpoise.track('page:left', 8)")
    page.goto("about:blank")
    wait_until(lambda: 8 in pp.event("page:left").day())


@browser_test
def test_refused_rows_reach_the_browser_console(live_server, porpoise, browser_page, second_origin):
    """The docs' ``porpoise.track('signup:step', 42)`` from an anonymous visitor's page
    is refused (not their id), and the page's console says so (issue 25, case 2)."""
    origin, folder = second_origin
    porpoise(TRACK_ALLOWED_ORIGINS=[origin], ID_MODE="map")
    from importlib import import_module

    from django.conf import settings

    from porpoise_django.api.tokens import anonymous_track_token

    visitor = RequestFactory().get("/")
    visitor.session = import_module(settings.SESSION_ENGINE).SessionStore()
    token = anonymous_track_token(visitor, events=["signup:step"])
    (folder / "shop.html").write_text(PAGE.format(server=live_server.url, token=token))
    page = browser_page
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(f"{origin}/shop.html")
    page.wait_for_function("window.porpoise !== undefined")
    answers = page.evaluate(
        "porpoise.track('signup:step', 42); porpoise.track('signup:step'); porpoise.flush()"
    )
    assert answers[0]["accepted"] == 1
    wait_until(lambda: any("the token does not allow this id" in m for m in messages))
