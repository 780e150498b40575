"""The REST API with DRF's test client against the real server."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from porpoise_django.api.tokens import make_track_token
from tests.conftest import grant_analytics

pytestmark = pytest.mark.django_db
API = "/api/porpoise"


@pytest.fixture
def staff():
    user = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    return grant_analytics(user)


@pytest.fixture
def api(staff):
    client = APIClient()
    client.force_authenticate(staff)
    return client


@pytest.fixture
def data(porpoise):
    pp = porpoise()
    now = pp.now()
    pp.mark_many([("login", i) for i in range(5)] + [("song:played", i) for i in range(3, 8)])
    pp.mark_many([("login", i, now - dt.timedelta(days=1)) for i in range(2)])
    pp.mark_many([("signup", i, now - dt.timedelta(days=1)) for i in range(4)])
    pp.mark_many([("active", i) for i in range(3)])
    pp.count_many([("plays", f"song-{i}", i, None) for i in range(1, 6)])
    pp.metric("ads").count({"revenue": 10, "visitors": 2}, {"country": "US"})
    pp.metric("ads").count({"revenue": 5, "visitors": 1}, {"country": "FR"})
    return pp


def test_anonymous_and_non_staff_are_refused(client, data):
    assert APIClient().get(f"{API}/events/").status_code in (401, 403)
    user = get_user_model().objects.create_user("joe", password="pw")
    c = APIClient()
    c.force_authenticate(user)
    assert c.get(f"{API}/events/").status_code == 403
    assert c.get(f"{API}/cohorts/?select1=signup&select2=login").status_code == 403


def test_permission_classes_are_configurable(porpoise, data):
    porpoise(API_PERMISSION_CLASSES=["rest_framework.permissions.AllowAny"])
    assert APIClient().get(f"{API}/events/").status_code == 200


def test_events_list_series_member_ids(api, data):
    assert api.get(f"{API}/events/").json()["events"] == [
        "active",
        "login",
        "signup",
        "song:played",
    ]
    series = api.get(f"{API}/events/login/series/?period=7d").json()
    assert [p["value"] for p in series["series"]][-2:] == [2, 5]
    assert series["granularity"] == "day"
    unknown = api.get(
        f"{API}/events/never-seen/series/?granularity=week&start=2026-01-01&end=2026-01-31"
    )
    assert unknown.status_code == 200 and {p["value"] for p in unknown.json()["series"]} == {0}
    assert api.get(f"{API}/events/login/member/?id=4").json()["member"] is True
    assert api.get(f"{API}/events/login/member/?id=9").json()["member"] is False
    page = api.get(f"{API}/events/song:played/ids/?offset=1&limit=2").json()
    assert page["count"] == 5 and page["results"] == ["4", "5"]


def test_expressions(api, data):
    body = api.get(f"{API}/expressions/", {"q": "login & song:played", "period": "7d"}).json()
    assert body["series"][-1]["value"] == 2


def test_counters_and_metrics(api, data):
    assert api.get(f"{API}/counters/").json() == {
        "names": ["plays"],
        "count": 1,
        "offset": 0,
        "limit": 1000,
    }
    top = api.get(f"{API}/counters/plays/top/?period=24h&n=2").json()
    assert top["top"] == [{"id": "song-5", "value": 5}, {"id": "song-4", "value": 4}]
    totals = api.get(
        f"{API}/metrics/ads/totals/",
        {"period": "today", "metrics": "revenue,revenue/visitors,revenue/nothing"},
    ).json()
    assert totals["totals"] == {"revenue": 15, "revenue/visitors": 5.0, "revenue/nothing": None}
    rows = api.get(
        f"{API}/metrics/ads/breakdown/",
        {"dimension": "country", "metrics": "revenue", "period": "7d"},
    ).json()["rows"]
    assert [r["dimension"] for r in rows] == ["country/US", "country/FR"]
    points = api.get(f"{API}/metrics/ads/series/", {"period": "7d", "metrics": "revenue"}).json()[
        "series"
    ]
    assert len(points) == 7 and points[-1]["values"]["revenue"] == 15


def test_cohorts_and_funnels(api, data):
    body = api.get(
        f"{API}/cohorts/", {"select1": "signup", "select2": "login", "cohorts": 2, "offsets": 1}
    ).json()
    assert body["rows"][0]["size"] == 4
    assert body["rows"][0]["counts"] == [2, 4]
    assert body["rows"][1]["counts"] == [0, None]
    funnel = api.get(
        f"{API}/funnels/",
        {
            "steps": "signup,login,song:played",
            "window": 2,
            "start": (dt.date.today() - dt.timedelta(days=2)).isoformat(),
        },
    ).json()
    assert [s["count"] for s in funnel["steps"]] == [4, 4, 1]
    # Conversion over time: the entry days' own funnels; no times unless asked.
    assert len(funnel["entries"]) == 3 and funnel["times"] is None
    assert funnel["entries"][0]["period"] == (dt.date.today() - dt.timedelta(days=2)).isoformat()
    assert all(len(e["counts"]) == 3 for e in funnel["entries"])
    timed = api.get(
        f"{API}/funnels/", {"steps": "signup,login", "window": 2, "start": "-2", "times": "true"}
    )
    assert timed.status_code == 400  # dates are dates
    timed = api.get(f"{API}/funnels/", {"steps": "signup,login", "window": 2, "times": "true"})
    times = timed.json()["times"]
    assert [t["step"] for t in times] == ["signup", "login"]
    assert all(len(t["within"]) == 3 for t in times)
    assert times[1]["within"][-1] == timed.json()["steps"][1]["count"]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/events/login/series/?granularity=fortnight", "granularity"),
        ("/events/login/series/?granularity=minute", "granularity"),
        ("/events/login/series/?start=2026-13-01", "start"),
        ("/events/login/series/?start=2026-02-01&end=2026-01-01", "start"),
        ("/events/login/series/?start=1900-01-01&end=2026-01-01", "start"),
        ("/events/login/series/?period=forever", "period"),
        ("/events/login/member/?id=-3", "id"),
        ("/events/login/member/?id=99999999999999999999999", "id"),
        ("/events/login/ids/?limit=0", "limit"),
        ("/expressions/?q=login%20%26", "q"),
        ("/expressions/?q=" + "(" * 30 + "a" + ")" * 30, "q"),
        ("/expressions/?q=" + "a" * 600, "q"),
        ("/counters/plays/top/?n=0", "n"),
        ("/metrics/ads/totals/?metrics=bad%20name", "metrics"),
        ("/metrics/ads/totals/?dimension=a%7Bb", "dimension"),
        ("/metrics/ads/breakdown/?dimension=country&limit=0", "limit"),
        ("/cohorts/?select1=signup", "select2"),
        ("/cohorts/?select1=signup&select2=login&granularity=hour", "granularity"),
        ("/cohorts/?select1=sign%7Bup&select2=login", "select1"),
        ("/cohorts/?select1=signup&select2=login&cohorts=1000", "cohorts"),
        ("/funnels/?steps=a", "steps"),
        ("/funnels/?steps=a,b&window=-1", "window"),
        ("/funnels/?steps=signup,login&window=61&times=true", "window"),
        ("/funnels/?steps=a,b&times=maybe", "times"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(api, data, url, field):
    response = api.get(API + url)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()


def test_tracking_with_a_session_keeps_good_rows(data, staff):
    client = APIClient()
    client.force_authenticate(staff)
    rows = [
        {"event": "api:hit"},  # the authenticated user's id
        {"event": "api:hit", "id": 77, "time": data.now().isoformat()},
        {"event": "bad name", "id": 1},
        {"counter": "api:count", "by": 2.5},
        {"counter": "api:count", "id": "x", "by": "lots"},
        {"nothing": 1},
        {"event": "api:hit", "id": 5, "time": "2026-01-01T10:00:00"},
    ]
    response = client.post(f"{API}/track/", {"rows": rows}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 3
    assert [e["index"] for e in body["errors"]] == [2, 4, 5, 6]
    assert sorted(data.event("api:hit").day()) == sorted([staff.pk, 77])
    assert data.counter("api:count").total(data.period("day")) == 2.5


def test_tracking_counts_are_idempotent_with_a_key(api, data):
    row = {"counter": "orders", "by": 1, "idempotency_key": "order-1"}
    for _ in range(3):
        assert api.post(f"{API}/track/", {"rows": [row]}, format="json").status_code == 202
    assert data.counter("orders").total(data.period("day")) == 1
    again = api.post(f"{API}/track/", {"rows": [row]}, format="json").json()
    assert again["duplicates"] == 1 and again["accepted"] == 0


def test_tracking_needs_authentication_or_a_token(data):
    assert APIClient().post(
        f"{API}/track/", {"rows": [{"event": "x", "id": 1}]}, format="json"
    ).status_code in (401, 403)
    bad = APIClient().post(
        f"{API}/track/?token=forged", {"rows": [{"event": "x", "id": 1}]}, format="json"
    )
    assert bad.status_code in (401, 403)


def test_signed_tokens_name_what_they_allow(data):
    token = make_track_token(events=["page:view"], counters=["clicks"])
    client = APIClient(HTTP_X_PORPOISE_TOKEN=token)
    body = client.post(
        f"{API}/track/",
        {
            "rows": [
                {"event": "page:view", "id": 3},
                {"event": "admin:delete", "id": 3},
                {"counter": "clicks"},
            ]
        },
        format="json",
    ).json()
    assert body["accepted"] == 2
    assert body["errors"] == [
        {"index": 1, "error": "the token does not allow marks of 'admin:delete'"}
    ]
    pixel = APIClient().get(
        f"{API}/track/pixel.gif", {"token": token, "event": "page:view", "id": 9}
    )
    assert pixel.content.startswith(b"GIF89a")
    assert pixel.status_code == 200 and pixel["Content-Type"] == "image/gif"
    assert sorted(data.event("page:view").day()) == [3, 9]
    fixed = make_track_token(events=["page:view"], id=12)
    other = APIClient().get(
        f"{API}/track/pixel.gif", {"token": fixed, "event": "page:view", "id": 13}
    )
    assert other["X-Porpoise-Error"] == "the token does not allow this id"


def test_tracking_is_throttled(porpoise, data, staff):
    from django.core.cache import cache

    cache.delete_pattern("throttle_porpoise_track_*")  # earlier tests' requests
    porpoise(TRACK_THROTTLE_RATE="3/minute")
    client = APIClient()
    client.force_authenticate(staff)
    codes = [
        client.post(f"{API}/track/", {"rows": [{"event": "x"}]}, format="json").status_code
        for _ in range(5)
    ]
    assert codes == [202, 202, 202, 429, 429]


def test_too_many_rows(api, data):
    rows = [{"event": "x", "id": i} for i in range(1001)]
    response = api.post(f"{API}/track/", {"rows": rows}, format="json")
    assert response.status_code == 400 and "rows" in response.json()


def test_schema_is_served_and_valid(api):
    from drf_spectacular.validation import validate_schema

    response = api.get(f"{API}/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert "/cohorts/" in schema["paths"]
    assert schema["servers"] == [{"url": "/api/porpoise"}]


def test_many_series_in_one_request_and_one_round_trip(api, data, porpoise, round_trips):
    pp = porpoise(ACTIVE_EVENT=None)  # the middleware would mark the staff user active
    names = ",".join(["login", "song:played", "never"] + [f"e{i}" for i in range(17)])
    pp.chunks()
    with round_trips:
        response = api.get(f"{API}/events/series/", {"names": names, "period": "30d"})
    assert response.status_code == 200
    body = response.json()["series"]
    assert len(body) == 20 and all(len(s["series"]) == 30 for s in body)
    assert body[0]["series"][-1]["value"] == 5
    # The session and user come from sqlite; Redis is asked once.
    assert round_trips.count == 1
    assert api.get(f"{API}/events/series/", {"names": "a{b"}).status_code == 400


def test_lifecycle_stickiness_and_decisions(api, data):
    body = api.get(f"{API}/lifecycle/", {"event": "login", "period": "7d"}).json()
    assert body["rows"][-1] == {
        "period": body["rows"][-1]["period"],
        "new": 3,
        "returning": 2,
        "resurrecting": 0,
        "dormant": 0,
    }
    sticky = api.get(f"{API}/stickiness/", {"event": "login"}).json()
    assert sticky["days"] == 7 and sticky["at_least"][0] == 5
    assert (
        api.post(
            f"{API}/decisions/cta/record/",
            {"option": "red", "dimensions": {"country": "US"}},
            format="json",
        ).status_code
        == 202
    )
    report = api.get(
        f"{API}/decisions/cta/report/", {"options": "red,blue", "dimensions": "country=US"}
    ).json()
    assert [o["option"] for o in report["options"]] == ["red", "blue"] and report["options"][0][
        "trials"
    ] == 1
    assert api.get(f"{API}/decisions/cta/report/", {"options": "red"}).status_code == 400
    assert (
        api.get(f"{API}/stickiness/", {"event": "login", "granularity": "day"}).status_code == 400
    )
    assert (
        api.post(f"{API}/decisions/cta/record/", {"option": "a/b"}, format="json").status_code
        == 400
    )


def test_decisions_by_a_formula_over_metrics(api, data):
    """hailwhale's decide?by_metric=: record metrics, judge by a ratio of them."""
    url = f"{API}/decisions/shop/record/"
    for option, revenue in (("a", 500), ("b", 50)):
        body = {"option": option, "metrics": {"revenue": revenue, "visitors": 100}}
        assert api.post(url, body, format="json").status_code == 202
    report = api.get(
        f"{API}/decisions/shop/report/", {"options": "a,b", "by": "revenue/visitors"}
    ).json()
    assert report["decide"] == "a"
    assert [(o["option"], o["rate"], o["trials"]) for o in report["options"]] == [
        ("a", 5.0, 100),
        ("b", 0.5, 100),
    ]
    cost = {"options": "a,b", "by": "revenue/visitors", "goal": "min"}
    assert api.get(f"{API}/decisions/shop/report/", cost).json()["decide"] == "b"
    bad = api.get(f"{API}/decisions/shop/report/", {"options": "a,b", "by": "x/{y}"})
    assert bad.status_code == 400 and "invalid metric name" in str(bad.json()["by"])
    bad = api.get(f"{API}/decisions/shop/report/", {"options": "a,b", "goal": "min"})
    assert bad.status_code == 400 and "needs a formula" in str(bad.json()["goal"])
    both = {"option": "a", "success": 1, "metrics": {"x": 1}}
    assert api.post(url, both, format="json").status_code == 400
    not_a_number = {"option": "a", "metrics": {"x": "lots"}}
    assert api.post(url, not_a_number, format="json").status_code == 400


def test_recording_decisions_has_its_own_permission(porpoise, data):
    """Opening the read API does not open a write: decisions/record follows
    DECISION_RECORD_PERMISSION_CLASSES (staff only by default)."""
    porpoise(API_PERMISSION_CLASSES=["rest_framework.permissions.AllowAny"])
    anonymous = APIClient()
    assert anonymous.get(f"{API}/decisions/cta/report/", {"options": "a,b"}).status_code == 200
    body = {"option": "a", "success": 1}
    assert anonymous.post(f"{API}/decisions/cta/record/", body, format="json").status_code in (
        401,
        403,
    )
    porpoise(
        API_PERMISSION_CLASSES=["rest_framework.permissions.AllowAny"],
        DECISION_RECORD_PERMISSION_CLASSES=["rest_framework.permissions.AllowAny"],
    )
    assert anonymous.post(f"{API}/decisions/cta/record/", body, format="json").status_code == 202


def test_schema_operation_ids_are_unique_and_answers_match_it(api, data):
    schema = api.get(f"{API}/schema/?format=json").json()
    ids = [
        operation["operationId"]
        for methods in schema["paths"].values()
        for operation in methods.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    assert len(ids) == len(set(ids)), sorted(ids)
    assert "events_series_many" in ids and "events_series_retrieve" in ids
    # One-action views answer one object, which is what the schema says.
    [path] = [p for p in schema["paths"] if p.endswith("/cohorts/")]
    cohorts = schema["paths"][path]["get"]["responses"]["200"]
    assert "$ref" in cohorts["content"]["application/json"]["schema"]


def test_tables_follow_the_admin_pages_rules(api, data):
    """Cohorts and funnels answer as the admin pages do: the same defaults and
    limits, and an unknown event is an error naming the close matches."""
    unknown = api.get(f"{API}/cohorts/", {"select1": "signup", "select2": "activ"})
    assert unknown.status_code == 400
    assert "did you mean active" in unknown.json()["select2"][0]
    funnel = api.get(f"{API}/funnels/", {"steps": "signup,loggin"})
    assert funnel.status_code == 400 and "unknown event 'loggin'" in funnel.json()["steps"][0]
    huge = api.get(
        f"{API}/cohorts/",
        {"select1": "signup", "select2": "active", "cohorts": 100, "offsets": 100},
    )
    assert huge.status_code == 400 and "too large a table" in huge.json()["cohorts"][0]
    table = api.get(f"{API}/cohorts/", {"select1": "signup", "select2": "active"}).json()
    assert len(table["rows"]) == 12 and len(table["rows"][0]["counts"]) == 13

    from porpoise_django.admin.forms import CohortForm, FunnelForm
    from porpoise_django.api.params import CohortParams, FunnelParams

    for form, params, names in (
        (CohortForm(), CohortParams(), ("cohorts", "offsets")),
        (FunnelForm(), FunnelParams(), ("window",)),
    ):
        for name in names:
            field, param = form.fields[name], params.fields[name]
            assert (field.min_value, field.max_value, field.initial) == (
                param.min_value,
                param.max_value,
                param.default,
            ), name


def test_the_fast_point_shape_is_the_declared_one(porpoise):
    """PointSerializer writes its dict directly (hot path); DRF's field walk over
    the declared fields gives the same."""
    from rest_framework import serializers as drf

    from porpoise_django.api.serializers import PointSerializer

    pp = porpoise()
    point = {"period": pp.period("day"), "value": 3}
    fast = PointSerializer(point).data
    slow = drf.Serializer.to_representation(PointSerializer(), point)
    assert (
        dict(fast)
        == dict(slow)
        == {
            "period": point["period"].label,
            "start": point["period"].start.isoformat(),
            "value": 3,
        }
    )
