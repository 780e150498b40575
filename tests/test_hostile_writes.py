"""Hostile writers, second pass (issue 25): a write costs what it holds, tokens
bind who may write, and the throttle limits every source it can name.

Each test failed on the code before the fix; all run over HTTP against the
real server."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from porpoise_django.api.tokens import make_track_token, read_track_token

pytestmark = pytest.mark.django_db
API = "/api/porpoise"
TRACK = f"{API}/track/"
SPARSE = [{"event": "page:view", "id": c * 2**20 + 2**20 - 1} for c in range(1000)]


def _used(pp):
    return pp.client.info("memory")["used_memory"]


def _tag_token(user=None, session=None):
    """The token ``{% porpoise_tracker %}`` gives a page (and the request it rendered)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/")
    request.user = user or AnonymousUser()
    request.session = session or import_module(settings.SESSION_ENGINE).SessionStore()
    html = Template(
        '{% load porpoise %}{% porpoise_tracker events="page:view signup:step" counters="clicks" %}'
    ).render(Context({"request": request}))
    return html.split('data-token="')[1].split('"')[0], request


def _post(rows, token=None, client=None, **headers):
    client = client or Client()
    extra = {"HTTP_X_PORPOISE_TOKEN": token} if token else {}
    extra.update(headers)
    return client.post(TRACK, json.dumps({"rows": rows}), content_type="application/json", **extra)


@pytest.fixture
def pp(porpoise):
    return porpoise(ACTIVE_EVENT=None, TRACK_THROTTLE_RATE=None)


@pytest.fixture
def member():
    return get_user_model().objects.create_user("member", password="pw")


# 1. A write costs what it holds -------------------------------------------------------
def test_the_page_token_of_an_anonymous_visitor_allocates_nothing_per_id(pp):
    token, _ = _tag_token()
    used = _used(pp)
    body = _post(SPARSE, token).json()
    # int ids: an anonymous visitor has no id of its own, so its marks are refused
    assert body["accepted"] == 0, body["errors"][:2]
    assert "ID_MODE" in body["errors"][0]["error"]
    assert _used(pp) - used < 2**20
    assert pp.chunks() == []


def test_an_open_token_creates_at_most_the_budget_of_new_chunks(porpoise):
    pp = porpoise(ACTIVE_EVENT=None, TRACK_THROTTLE_RATE=None, TRACK_NEW_CHUNKS_PER_DAY=3)
    token = make_track_token(events=["page:view"])  # any id: a server-side key
    used = _used(pp)
    body = _post(SPARSE, token).json()
    assert body["accepted"] == 1  # TRACK_MAX_NEW_CHUNKS: one new chunk per request
    assert "TRACK_MAX_NEW_CHUNKS" in body["errors"][0]["error"]
    for _ in range(4):
        _post(SPARSE[10:], token)
    # ... and at most TRACK_NEW_CHUNKS_PER_DAY a day per token
    assert len(pp.chunks()) == 3
    again = _post(SPARSE[500:501], token).json()
    assert again["accepted"] == 0 and "TRACK_NEW_CHUNKS_PER_DAY" in again["errors"][0]["error"]
    # ids in chunks that exist cost bits, not chunks
    assert _post([{"event": "page:view", "id": i} for i in range(0, 2**20, 1999)], token).json()[
        "accepted"
    ] == len(range(0, 2**20, 1999))
    assert len(pp.chunks()) == 3
    # 3 chunks x (day, week, month and the universe) x 128 KiB, and a little more
    assert _used(pp) - used < 3 * 4 * 2**17 + 2**20


def test_purging_an_event_purges_the_chunks_only_it_held(pp):
    pp.mark_many([("flood", c * 2**20 + 5) for c in range(40)] + [("active", 3)])
    assert len(pp.chunks()) == 40
    pp.delete_event("flood")
    pp.forget_chunks()
    assert pp.chunks() == [0]
    left = list(pp.client.scan_iter(match=f"{pp.keys.prefix}:{{c[1-9]*"))
    assert left == []
    assert list(pp.event("active").day()) == [3]


@pytest.mark.cluster
def test_purging_an_event_purges_its_chunks_on_a_cluster(cluster, key_prefix):
    from porpoise_django.engine import Analytics

    pp = Analytics(cluster.client, prefix=key_prefix + "-c")
    try:
        pp.mark_many([("flood", c * 2**20 + 5) for c in range(12)] + [("active", 3)])
        pp.delete_event("flood")
        assert pp.chunks() == [0] and list(pp.event("active").day()) == [3]
    finally:
        pp.delete_all()


def test_a_worker_forgets_chunks_it_wrote_once_they_are_purged(make_analytics, clock):
    import time

    writer = make_analytics(chunk_cache_seconds=0)
    other = make_analytics(chunk_cache_seconds=0)
    writer.mark_many([("flood", c * 2**20) for c in range(5)])
    assert len(writer.chunks()) == 5
    other.delete_all()
    writer.registry.own_chunk_seconds = 0.05
    time.sleep(0.1)
    assert writer.chunks() == []


# 2. Tokens decide who may write -----------------------------------------------------
def test_anonymous_visitors_write_only_for_their_own_anonymous_id(porpoise):
    pp = porpoise(ACTIVE_EVENT=None, TRACK_THROTTLE_RATE=None, ID_MODE="map")
    token, request = _tag_token()
    body = _post([{"event": "signup:step", "id": 42}, {"event": "signup:step"}], token).json()
    assert body["accepted"] == 1
    assert body["errors"] == [{"index": 0, "error": "the token does not allow this id"}]
    [ident] = pp.event("signup:step").day().ids()
    assert ident.startswith("anon:") and ident == read_track_token(token).id
    # the same visitor (session) keeps the same id on the next page; another gets its own
    again, _ = _tag_token(session=request.session)
    assert read_track_token(again).id == ident
    assert read_track_token(_tag_token()[0]).id != ident


def test_the_docs_example_works_for_logged_in_and_anonymous_visitors(porpoise, member):
    pp = porpoise(ACTIVE_EVENT=None, TRACK_THROTTLE_RATE=None, ID_MODE="map")
    _, token = _logged_in_token(member, events="page:view signup:step", counters="clicks")
    rows = [{"event": "signup:step"}, {"counter": "clicks", "by": 1, "id": "pricing"}]
    body = _post(rows, token).json()
    assert body == {"accepted": 2, "duplicates": 0, "errors": []}, body
    anonymous, _ = _tag_token()
    body = _post(rows, anonymous).json()
    assert body == {"accepted": 2, "duplicates": 0, "errors": []}, body
    assert len(pp.event("signup:step").day()) == 2
    assert pp.counter("clicks").top(pp.range("day", 0), 5) == [("pricing", 2)]


def _logged_in_token(member, events="page:view", counters=""):
    client = Client()
    client.force_login(member)
    from importlib import import_module

    from django.conf import settings

    request = RequestFactory().get("/")
    request.user = member
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(
        client.cookies[settings.SESSION_COOKIE_NAME].value
    )
    html = Template(
        "{% load porpoise %}{% porpoise_tracker events=events counters=counters %}"
    ).render(Context({"request": request, "events": events, "counters": counters}))
    return client, html.split('data-token="')[1].split('"')[0]


@pytest.mark.parametrize("how", ["logout", "inactive", "password"])
def test_a_users_token_dies_with_the_session(pp, member, how):
    client, token = _logged_in_token(member)
    assert _post([{"event": "page:view"}], token).json()["accepted"] == 1
    if how == "logout":
        client.logout()
    elif how == "inactive":
        member.is_active = False
        member.save()
    else:
        member.set_password("new-pw")
        member.save()
    answer = _post([{"event": "page:view"}], token)
    assert answer.status_code in (401, 403), answer.content


def test_a_token_of_another_deployment_is_refused(porpoise, settings):
    porpoise(ACTIVE_EVENT=None, TRACK_THROTTLE_RATE=None, KEY_PREFIX="pptest-elsewhere")
    foreign = make_track_token(events=["page:view"])
    porpoise(ACTIVE_EVENT=None, TRACK_THROTTLE_RATE=None)
    answer = _post([{"event": "page:view", "id": 1}], foreign)
    assert answer.status_code == 401


def test_the_throttle_counts_per_token_whatever_the_address(porpoise):
    porpoise(ACTIVE_EVENT=None, TRACK_THROTTLE_RATE="5/minute", NUM_PROXIES=1)
    token = make_track_token(events=["page:view"])
    codes = [
        _post(
            [{"event": "page:view", "id": 1}], token, HTTP_X_FORWARDED_FOR=f"10.0.0.{n % 3}"
        ).status_code
        for n in range(12)
    ]
    assert codes.count(202) == 5


def test_a_beacon_from_an_origin_not_allowed_writes_nothing(porpoise):
    pp = porpoise(ACTIVE_EVENT=None, TRACK_THROTTLE_RATE=None, TRACK_ALLOWED_ORIGINS=[])
    token = make_track_token(events=["page:left"])
    for headers in ({"HTTP_ORIGIN": "https://evil.example"},
                    {"HTTP_REFERER": "https://evil.example/page"}):  # fmt: skip
        answer = Client().post(
            f"{TRACK}?token={token}",
            data='{"rows": [{"event": "page:left", "id": 8}]}',
            content_type="text/plain;charset=UTF-8",
            **headers,
        )
        assert answer.status_code == 403, answer.content
    pixel = Client().get(
        f"{TRACK}pixel.gif",
        {"token": token, "event": "page:left", "id": 9},
        HTTP_REFERER="https://evil.example/",
    )
    assert pixel.status_code == 403
    # the site's own pages, and callers that name no origin (servers, e-mail), may
    same = Client().post(
        f"{TRACK}?token={token}",
        data='{"rows": [{"event": "page:left", "id": 10}]}',
        content_type="text/plain",
        HTTP_ORIGIN="http://testserver",
    )
    assert same.status_code == 202
    assert list(pp.event("page:left").day()) == [10]


def test_head_on_the_pixel_records_nothing(pp):
    token = make_track_token(events=["page:view"])
    answer = Client().head(f"{TRACK}pixel.gif", {"token": token, "event": "page:view", "id": 3})
    assert answer.status_code == 200 and answer["Content-Type"] == "image/gif"
    assert pp.event_names() == []


# 4. One idempotency marker per batch, not per row --------------------------------------
def test_a_thousand_counts_leave_a_bounded_number_of_keys(porpoise):
    pp = porpoise(ACTIVE_EVENT=None, TRACK_THROTTLE_RATE=None)
    token = make_track_token(counters=["clicks"])
    rows = [{"counter": "clicks", "id": f"p{i % 10}", "idempotency_key": f"k{i}"}
            for i in range(1000)]  # fmt: skip
    before = len(list(pp.client.scan_iter(match=f"{pp.keys.prefix}:*")))
    body = _post(rows, token).json()
    assert body["accepted"] == 1000
    keys = list(pp.client.scan_iter(match=f"{pp.keys.prefix}:*"))
    assert len(keys) - before < 40, len(keys) - before
    assert pp.counter("clicks").total(pp.period("day")) == 1000
    # The same keys again count nothing.
    assert _post(rows, token).json()["accepted"] == 0
    assert pp.counter("clicks").total(pp.period("day")) == 1000


# 8. Failed authentications are throttled ------------------------------------------------
def test_basic_auth_guessing_is_throttled(porpoise, member):
    import base64

    porpoise(ACTIVE_EVENT=None, TRACK_THROTTLE_RATE="3/minute")
    codes = []
    for n in range(6):
        guess = base64.b64encode(f"member:guess-{n}".encode()).decode()
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Basic {guess}")
        codes.append(
            client.post(TRACK, {"rows": [{"counter": "clicks"}]}, format="json").status_code
        )
    assert codes[:3] == [401, 401, 401] and set(codes[3:]) == {429}, codes


# 9. Decisions: dimensions are bounded -----------------------------------------------------
def test_decision_dimensions_are_bounded(porpoise):
    pp = porpoise(ACTIVE_EVENT=None)
    staff = get_user_model().objects.create_superuser("boss", password="pw")
    client = APIClient()
    client.force_authenticate(staff)
    keys = len(list(pp.client.scan_iter(match=f"{pp.keys.prefix}:*")))
    many = {f"d{i}": "x" for i in range(20_000)}
    answer = client.post(
        f"{API}/decisions/landing/record/", {"option": "a", "dimensions": many}, format="json"
    )
    assert answer.status_code == 400 and "dimensions" in answer.json()
    deep = {"device": "/".join(["x"] * 50)}
    answer = client.post(
        f"{API}/decisions/landing/record/", {"option": "a", "dimensions": deep}, format="json"
    )
    assert answer.status_code == 400 and "dimensions" in answer.json()
    assert len(list(pp.client.scan_iter(match=f"{pp.keys.prefix}:*"))) == keys


# 11. One idempotency key on two counters ----------------------------------------------------
def test_one_idempotency_key_on_two_counters_counts_both(pp):
    token = make_track_token(counters=["clicks", "orders"])
    rows = [{"counter": "clicks", "idempotency_key": "k1"},
            {"counter": "orders", "idempotency_key": "k1"}]  # fmt: skip
    assert _post(rows, token).json() == {"accepted": 2, "duplicates": 0, "errors": []}


# issue 24, defect 11: the throttle still limits while Redis is down ---------------------------
def test_the_throttle_limits_a_source_while_redis_is_down(porpoise):
    porpoise(
        ACTIVE_EVENT=None,
        TRACK_THROTTLE_RATE="5/minute",
        REDIS_URL="redis://127.0.0.1:1/0",
        SOCKET_TIMEOUT=0.2,
    )
    token = make_track_token(events=["page:view"])
    codes = [_post([{"event": "page:view", "id": 1}], token).status_code for _ in range(8)]
    assert codes == [202] * 5 + [429] * 3
