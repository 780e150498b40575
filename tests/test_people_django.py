"""People over HTTP and in Django: the API's people/ and activity/, forgetting users
on deletion and with ``porpoise_forget``."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from porpoise_django.api.tokens import make_track_token
from tests.conftest import grant_analytics

pytestmark = pytest.mark.django_db
API = "/api/porpoise"


@pytest.fixture
def staff() -> Any:
    user = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    return grant_analytics(user)


@pytest.fixture
def api(staff: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff)
    return client


@pytest.fixture
def data(porpoise: Any) -> Any:
    pp = porpoise()
    now = pp.now()
    pp.mark_many([("login", i) for i in range(0, 300, 3)] + [("play", i) for i in range(0, 300, 2)])
    pp.mark_many([("login", 1000, now - dt.timedelta(days=2)), ("play", 1000, now)])
    return pp


# -- API -----------------------------------------------------------------------------------
def test_people_pages_a_query(api: APIClient, data: Any) -> None:
    model = [str(i) for i in range(0, 300, 6)]
    first = api.get(f"{API}/people/", {"q": "login & play", "limit": 20})
    assert first.status_code == 200, first.json()
    body = first.json()
    assert body["count"] == len(model) and body["results"] == model[:20]
    assert body["next_offset"] == 20
    last = api.get(f"{API}/people/", {"q": "login & play", "offset": 40, "limit": 20}).json()
    assert last["results"] == model[40:] and last["next_offset"] is None
    week = api.get(f"{API}/people/", {"q": "login - play", "period": "7d", "limit": 1000}).json()
    assert "1000" in week["results"]  # login two days ago: in the 7-day period
    cache = first["Cache-Control"]
    assert "no-store" in cache and "private" in cache


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "login &"}, "q"),
        ({"q": "login", "limit": 0}, "limit"),
        ({"q": "login", "limit": 10_001}, "limit"),
        ({"q": "login", "offset": -1}, "offset"),
        ({"q": "login", "period": "forever"}, "period"),
        ({"q": "login", "period": "24h"}, "period"),  # hours are not tracked
        ({}, "q"),
    ],
)
def test_bad_people_queries_are_400s(api: APIClient, data: Any, params: Any, field: str) -> None:
    response = api.get(f"{API}/people/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_activity_of_one_id(api: APIClient, data: Any) -> None:
    body = api.get(f"{API}/people/1000/activity/", {"period": "7d"}).json()
    assert body["granularity"] == "day" and len(body["periods"]) == 7
    marks = {e["name"]: e["marks"] for e in body["events"]}
    assert marks["play"][-1] is True and marks["login"][-3] is True
    assert sum(marks["login"]) == 1
    assert body["properties"] == {}
    data.set_properties(1000, {"plan": "pro", "country": "FR"})
    again = api.get(f"{API}/people/1000/activity/", {"period": "7d"}).json()
    assert again["properties"] == {"country": "FR", "plan": "pro"}
    assert api.get(f"{API}/people/abc/activity/").status_code == 400
    response = api.get(f"{API}/people/3/activity/")
    assert "no-store" in response["Cache-Control"]


def test_people_are_not_for_tokens_or_strangers(
    porpoise: Any, data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rest_framework.authentication import SessionAuthentication

    from porpoise_django.api import people, views
    from porpoise_django.api.tokens import SignedTokenAuthentication

    token = make_track_token(events=["login"])
    porpoise(API_PERMISSION_CLASSES=["porpoise_django.api.tokens.IsAuthenticatedOrSignedToken"])
    # A project whose read API takes tracking tokens too.
    for view in (views.EventNamesView, people.PeopleView, people.ActivityView):
        monkeypatch.setattr(
            view, "authentication_classes", [SignedTokenAuthentication, SessionAuthentication]
        )
    with_token = APIClient(HTTP_X_PORPOISE_TOKEN=token)
    seen = with_token.get(f"{API}/events/")
    assert seen.status_code == 200, seen.json()  # this project lets tokens read
    assert with_token.get(f"{API}/people/", {"q": "login"}).status_code == 403
    assert with_token.get(f"{API}/people/3/activity/").status_code == 403
    porpoise(API_PERMISSION_CLASSES=["rest_framework.permissions.AllowAny"])
    assert APIClient().get(f"{API}/people/", {"q": "login"}).status_code in (401, 403)
    joe = get_user_model().objects.create_user("joe", password="pw")
    porpoise()
    client = APIClient()
    client.force_authenticate(joe)
    assert client.get(f"{API}/people/", {"q": "login"}).status_code == 403


def test_people_are_in_the_schema(api: APIClient, data: Any) -> None:
    schema = api.get(f"{API}/schema/", {"format": "json"}).json()
    assert "/people/" in str(schema["paths"].keys())
    assert any("activity" in path for path in schema["paths"])


# -- forgetting ----------------------------------------------------------------------------
def test_deleting_a_user_forgets_them(
    porpoise: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pp = porpoise()
    ann = get_user_model().objects.create_user("ann", password="pw")
    bob = get_user_model().objects.create_user("bob", password="pw")
    pp.mark_many([("login", ann.pk), ("login", bob.pk), ("play", ann.pk)])
    pp.mark_unique("premium", ann.pk)
    pk = ann.pk
    with django_capture_on_commit_callbacks(execute=True):
        ann.delete()
    assert list(pp.event("login").day()) == [bob.pk]
    assert pk not in pp.unique("premium") and pk not in pp.universe()


def test_deleting_a_user_through_a_proxy_model_forgets_them(
    porpoise: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.testapp.models import StaffUser

    pp = porpoise()
    ann = get_user_model().objects.create_user("ann", password="pw")
    pp.mark("login", ann.pk)
    with django_capture_on_commit_callbacks(execute=True):
        StaffUser.objects.filter(pk=ann.pk).delete()  # post_delete's sender: StaffUser
    assert list(pp.event("login").day()) == []


def test_forgetting_on_delete_can_be_switched_off(
    porpoise: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pp = porpoise(FORGET_ON_USER_DELETE=False)
    ann = get_user_model().objects.create_user("ann", password="pw")
    pp.mark("login", ann.pk)
    pk = ann.pk
    with django_capture_on_commit_callbacks(execute=True):
        ann.delete()
    assert list(pp.event("login").day()) == [pk]


def test_the_forget_command(porpoise: Any) -> None:
    pp = porpoise()
    pp.mark_many([("login", 4), ("login", 5), ("play", 4)])
    pp.count("plays", 4, 2)
    out = StringIO()
    call_command("porpoise_forget", "4", stdout=out)
    assert "forgot 4:" in out.getvalue() and "4 counter entries" in out.getvalue()
    assert list(pp.event("login").day()) == [5]
    with pytest.raises(CommandError, match="not an integer"):
        call_command("porpoise_forget", "ann")
    with pytest.raises(CommandError, match="out of range"):
        call_command("porpoise_forget", str(2**40))


def test_the_forget_command_in_map_mode(porpoise: Any) -> None:
    pp = porpoise(ID_MODE="map")
    pp.mark_many([("login", "ann@example.com"), ("login", "bob")])
    call_command("porpoise_forget", "ann@example.com", stdout=StringIO())
    assert list(pp.event("login").day()) == ["bob"]


def test_writes_spooled_before_a_forget_are_not_replayed(
    porpoise: Any, private_server: Any
) -> None:
    from porpoise_django import delivery

    pp = porpoise(REDIS_URL=private_server.url, RETRY_SECONDS=60)
    pp.mark("login", 5)  # the engine is built while the server runs
    private_server.stop()
    spooled = [
        delivery.mark("play", 5),
        delivery.mark("play", 6),
        delivery.count("plays", 5, 2),
        delivery.count("plays", 6, 3),
        delivery.count("plays", None, 1),
    ]
    assert delivery.record(spooled) is False  # Redis is down: spooled
    private_server.start()
    pp.forget(5)  # the user is deleted once Redis answers, before the replay
    assert delivery.flush_buffer() is True
    assert len(delivery.get_buffer()) == 0
    assert list(pp.event("play").day()) == [6]
    day = pp.period("day")
    assert pp.counter("plays").get(day) == {"6": 3}
    assert pp.counter("plays").total(day) == 4  # the id-less count is replayed
    # a write made after the forget is new activity, and is kept
    pp.clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    later = [delivery.mark("play", 5, pp.now())]
    private_server.stop()
    assert delivery.record(later) is False
    private_server.start()
    assert delivery.flush_buffer() is True
    assert sorted(pp.event("play").day()) == [5, 6]
