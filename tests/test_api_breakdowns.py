"""``?breakdown=`` and ``?where=`` on the API: the same answer per value, filters
by person properties, bad input a 400 naming the parameter."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.conftest import grant_analytics

pytestmark = pytest.mark.django_db
API = "/api/porpoise"


@pytest.fixture
def api():
    user = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    client = APIClient()
    client.force_authenticate(grant_analytics(user))
    return client


@pytest.fixture
def pp(porpoise):
    pp = porpoise()
    now = pp.now()
    for user in range(1, 7):
        pp.set_properties(user, {"plan": "pro" if user <= 2 else "free"})
        source = "ads" if user % 2 else "seo"
        pp.mark("signup", user, now - dt.timedelta(days=1), properties={"source": source})
    pp.mark_many([("active", u) for u in (1, 3, 4)])
    return pp


def values(answer):
    return {row["value"]: row for row in answer["breakdown"]["values"]}


def test_series_split_and_filtered(api, pp):
    answer = api.get(f"{API}/events/signup/series/?start=2026-11-17&breakdown=plan").json()
    assert [p["value"] for p in answer["series"]][-2:] == [6, 0]
    split = values(answer)
    assert [p["value"] for p in split["pro"]["series"]][-2] == 2
    assert [p["value"] for p in split["free"]["series"]][-2] == 4
    only_pro = api.get(f"{API}/events/signup/series/?start=2026-11-17&where=plan:pro").json()
    assert [p["value"] for p in only_pro["series"]][-2] == 2
    by_source = api.get(f"{API}/events/signup/series/?start=2026-11-17&breakdown=source").json()
    assert {v: r["series"][-2]["value"] for v, r in values(by_source).items()} == {
        "ads": 3,
        "seo": 3,
    }


def test_expressions_cohorts_funnels_lifecycle_stickiness_split(api, pp):
    expr = api.get(f"{API}/expressions/", {"q": "active & plan=free", "breakdown": "plan"})
    assert expr.status_code == 200, expr.json()
    assert values(expr.json())["free"]["series"][-1]["value"] == 2
    cohorts = api.get(
        f"{API}/cohorts/",
        {"select1": "signup", "select2": "active", "cohorts": 3, "offsets": 2, "breakdown": "plan"},
    ).json()
    assert values(cohorts)["pro"]["rows"][-2]["size"] == 2
    assert values(cohorts)["free"]["rows"][-2]["counts"][1] == 2
    funnels = api.get(
        f"{API}/funnels/", {"steps": "signup,active", "breakdown": "source", "where": "plan:free"}
    ).json()
    assert funnels["steps"][0]["count"] == 4
    assert {v: [s["count"] for s in r["steps"]] for v, r in values(funnels).items()} == {
        "ads": [2, 1],
        "seo": [2, 1],
    }
    life = api.get(f"{API}/lifecycle/", {"event": "active", "breakdown": "plan"}).json()
    assert values(life)["free"]["rows"][-1]["new"] == 2
    sticky = api.get(f"{API}/stickiness/", {"event": "active", "breakdown": "plan"}).json()
    assert set(values(sticky)) == {"free", "pro"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("breakdown=nope", "breakdown"),
        ("breakdown=pl%20an", "breakdown"),
        ("where=plan", "where"),
        ("where=plan:p%20ro", "where"),
        ("where=source:ads", "where"),  # an event property is no person filter
        ("breakdown=plan&where=" + "&where=".join(f"p{i}:x" for i in range(11)), "where"),
    ],
)
def test_bad_breakdowns_are_400_naming_the_parameter(api, pp, query, field):
    answer = api.get(f"{API}/events/signup/series/?{query}")
    assert answer.status_code == 400
    assert field in answer.json(), answer.json()


def test_track_rows_carry_event_properties(api, porpoise):
    pp = porpoise(WRITE_MODE="sync")
    rows = [
        {"event": "purchase", "id": 1, "properties": {"source": "ads"}},
        {"event": "purchase", "id": 2, "properties": {"source": "seo"}},
        {"counter": "clicks", "properties": {"source": "ads"}},  # counts carry none
        {"event": "purchase", "id": 3, "properties": {"source": "bad value"}},
        {"event": "purchase", "id": 4, "properties": ["source"]},
    ]
    body = api.post(f"{API}/track/", {"rows": rows}, format="json").json()
    assert body["accepted"] == 2
    assert [e["index"] for e in body["errors"]] == [2, 3, 4]
    assert pp.event("purchase").day().breakdown("source") == {"ads": 1, "seo": 1}


def test_tokens_send_only_declared_properties(porpoise):
    from porpoise_django.api.tokens import make_track_token

    pp = porpoise(WRITE_MODE="sync", TRACK_PROPERTIES=["utm_*"])
    token = make_track_token(events=["signup"])
    client = APIClient()
    rows = [
        {"event": "signup", "id": 1, "properties": {"utm_source": "ads"}},
        {"event": "signup", "id": 2, "properties": {"plan": "pro"}},
    ]
    body = client.post(f"{API}/track/?token={token}", {"rows": rows}, format="json").json()
    assert body["accepted"] == 1
    assert "TRACK_PROPERTIES" in body["errors"][0]["error"]
    assert pp.event("signup").day().breakdown("utm_source") == {"ads": 1}
