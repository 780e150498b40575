"""Hostile and careless input over HTTP: each case is a clear 4xx or a per-row error,
costs bounded memory, and loses nothing else (the good rows of the same request
are stored, and nothing else appears in Redis)."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from porpoise_django.api.tokens import make_track_token
from porpoise_django.engine import InvalidExpression
from tests.conftest import grant_analytics

pytestmark = pytest.mark.django_db
API = "/api/porpoise"


@pytest.fixture
def pp(porpoise):
    # No "active" from the middleware: these tests count every name stored.
    return porpoise(
        TRACK_EVENTS=["page:view", "app:*"], TRACK_COUNTERS=["clicks"], ACTIVE_EVENT=None
    )


@pytest.fixture
def staff():
    user = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
    return grant_analytics(user)


@pytest.fixture
def member():
    return get_user_model().objects.create_user("member", password="pw")


def _client(user=None, token=None, **extra):
    client = APIClient(**({"HTTP_X_PORPOISE_TOKEN": token} if token else {}), **extra)
    if user is not None:
        client.force_authenticate(user)
    return client


def _keys(pp):
    return sorted(pp.client.scan_iter(match=f"{pp.keys.prefix}:*"))


GOOD = {"event": "page:view", "id": 7}

# (row, the error's key words): sent beside GOOD under a token allowing page:view
# and clicks; the bad row must be reported and GOOD stored, nothing else.
BAD_ROWS = [
    ({"event": "page:view", "id": 2**62}, "out of range: ids run from 0 to 4294967295"),
    ({"event": "page:view", "id": -1}, "id -1 is out of range"),
    ({"event": "page:view", "id": "-1"}, "id -1 is out of range"),
    ({"event": "page:view", "id": "١٢٣"}, "not an integer"),
    ({"event": "page:view", "id": "²"}, "not an integer"),
    ({"event": "page:view", "id": 10**400}, "a huge integer is out of range"),
    ({"event": "page:view", "id": 7, "time": 1e15}, "not milliseconds"),
    ({"event": "page:view", "id": 7, "time": -1e12}, "cannot be written"),
    ({"event": "page:view", "id": 7, "time": "0001-01-01T00:00:00+00:00"}, "cannot be written"),
    ({"event": "page:view", "id": 7, "time": "9999-12-31T00:00:00+00:00"}, "cannot be written"),
    ({"event": "page:view", "id": 7, "time": True}, "epoch seconds or an ISO 8601"),
    ({"counter": "clicks", "by": 1e308}, "out of range: at most 1e+12"),
    ({"counter": "clicks", "by": 10**400}, "huge integer is out of range"),
    ({"counter": "clicks", "by": "NaN"}, "increment must be"),
    ({"counter": "clicks", "idempotency_key": ""}, "non-empty string"),
    ({"event": "page:view", "counter": "clicks", "id": 1}, "not both"),
    ({"event": "evil", "id": 1}, "does not allow marks of 'evil'"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS, ids=[m for _, m in BAD_ROWS])
def test_a_bad_row_costs_nothing_else(pp, row, message):
    token = make_track_token(events=["page:view"], counters=["clicks"])
    before = _keys(pp)
    response = _client(token=token).post(f"{API}/track/", {"rows": [row, GOOD]}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == 1
    [error] = body["errors"]
    assert error["index"] == 0 and message in error["error"], error
    assert list(pp.event("page:view").day()) == [7]
    assert pp.counter_names() == []
    # The good row's keys and nothing else: no chunk, bucket or name from the bad row.
    # 3 bitmaps, the universe, 4 registries, the token's and the address's throttle
    # windows, the token's count of new chunks (its first)
    assert len(_keys(pp)) - len(before) <= 11
    assert pp.chunks() == [0]


def test_a_public_token_cannot_exhaust_memory(pp):
    token = make_track_token(events=["page:view"])
    used = pp.client.info("memory")["used_memory"]
    rows = [{"event": "page:view", "id": (i * 2**31) % 2**62} for i in range(1000)]
    body = _client(token=token).post(f"{API}/track/", {"rows": rows}, format="json").json()
    # ids above MAX_ID are refused; of the two under it, one would create a second
    # chunk beyond the token's budget (TRACK_MAX_NEW_CHUNKS, one per request)
    assert body["accepted"] == 1 and len(body["errors"]) == 999
    assert len(pp.chunks()) == 1
    assert pp.client.info("memory")["used_memory"] - used < 16 * 2**20


def test_sessions_write_only_declared_names_for_themselves(pp, member, staff):
    client = _client(member)
    rows = [
        {"event": "page:view"},  # own id
        {"event": "app:opened"},  # a declared prefix
        {"event": "purchase", "id": member.pk},  # not declared
        {"event": "page:view", "id": member.pk + 100},  # someone else
        {"counter": "clicks"},
        {"counter": "made-up"},
    ]
    body = client.post(f"{API}/track/", {"rows": rows}, format="json").json()
    assert body["accepted"] == 3
    errors = {e["index"]: e["error"] for e in body["errors"]}
    assert "not declared for tracking (TRACK_EVENTS)" in errors[2]
    assert "only for its own user" in errors[3]
    assert "TRACK_COUNTERS" in errors[5]
    assert list(pp.event("page:view").day()) == [member.pk]
    assert pp.event_names() == ["app:opened", "page:view"]
    # Staff may write any name for any id.
    body = (
        _client(staff)
        .post(f"{API}/track/", {"rows": [{"event": "purchase", "id": 1}]}, format="json")
        .json()
    )
    assert body["accepted"] == 1 and 1 in pp.event("purchase").day()


def test_name_flooding_by_a_logged_in_user_stores_nothing(pp, member):
    rows = [{"event": f"flood-{i}"} for i in range(500)]
    body = _client(member).post(f"{API}/track/", {"rows": rows}, format="json").json()
    assert body["accepted"] == 0 and len(body["errors"]) == 500
    assert pp.event_names() == []


def test_idempotency_keys_are_scoped_and_deduplicated(pp):
    one = make_track_token(counters=["clicks", "orders"])
    two = make_track_token(counters=["clicks"])
    row = {"counter": "clicks", "idempotency_key": "order-1"}
    body = _client(token=one).post(f"{API}/track/", {"rows": [row, row]}, format="json").json()
    assert body == {"accepted": 1, "duplicates": 1, "errors": []}
    # Another caller's order-1, and the same caller's order-1 on another counter.
    assert (
        _client(token=two).post(f"{API}/track/", {"rows": [row]}, format="json").json()["accepted"]
        == 1
    )
    other = {"counter": "orders", "idempotency_key": "order-1"}
    assert (
        _client(token=one)
        .post(f"{API}/track/", {"rows": [other]}, format="json")
        .json()["accepted"]
        == 1
    )
    assert pp.counter("clicks").total(pp.period("day")) == 2
    assert pp.counter("orders").total(pp.period("day")) == 1


def test_throttle_is_atomic_and_keyed_on_the_real_address(porpoise, pp):
    porpoise(TRACK_THROTTLE_RATE="5/minute", TRACK_EVENTS=["page:view"], ACTIVE_EVENT=None)
    token = make_track_token(events=["page:view"])
    codes: list[int] = []

    def hit(n: int) -> None:
        client = _client(token=token, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
        codes.append(client.post(f"{API}/track/", {"rows": [GOOD]}, format="json").status_code)

    threads = [threading.Thread(target=hit, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Rotating X-Forwarded-For buys nothing (NUM_PROXIES is 0), and concurrent
    # requests cannot slip between a read and a write.
    assert sorted(codes) == [202] * 5 + [429] * 15


def test_throttle_trusts_the_configured_number_of_proxies(porpoise):
    porpoise(TRACK_THROTTLE_RATE="2/minute", TRACK_EVENTS=["page:view"], NUM_PROXIES=1)

    def status(address: str, token: str) -> int:
        client = _client(token=token, HTTP_X_FORWARDED_FOR=f"{address}, 10.9.9.9")
        return client.post(f"{API}/track/", {"rows": [GOOD]}, format="json").status_code

    # One token per phase: the throttle counts tokens as well as addresses.
    first, second, third = (make_track_token(events=["page:view", f"p{n}"]) for n in range(3))
    assert [status("10.9.9.9", first) for _ in range(3)] == [202, 202, 429]  # hops[-1]
    # one proxy: the address it saw, the last hop, is what counts
    porpoise(TRACK_THROTTLE_RATE="2/minute", TRACK_EVENTS=["page:view"], NUM_PROXIES=2)
    assert [status("10.1.1.1", second) for _ in range(3)] == [202, 202, 429]
    assert status("10.2.2.2", third) == 202


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/events/active/series/?granularity=day&start=0001-01-01&end=0001-01-05", "start"),
        ("/events/active/series/?granularity=day&start=9999-12-25&end=9999-12-31", "start"),
        ("/events/active/member/?granularity=day&id=%C2%B2", "id"),
        ("/events/active/member/?granularity=year&id=1", "granularity"),
        ("/events/active/ids/?granularity=day&date=0001-01-01", "date"),
        ("/counters/plays/series/?granularity=day&start=0001-01-01", "start"),
        ("/counters/plays/top/?period=100000d", "period"),
        ("/cohorts/?select1=signup&select2=active&start=0001-01-01", "start"),
        ("/funnels/?steps=a,b&start=9999-12-31", "start"),
        ("/lifecycle/?event=active&period=0001-01-01:0001-02-01", "period"),
        ("/stickiness/?event=active&granularity=week&date=9999-12-31", "date"),
    ],
)
def test_dates_out_of_range_are_400_naming_the_parameter(pp, staff, path, field):
    pp.mark_many([(name, 1) for name in ("signup", "active", "a", "b")])  # known names
    response = _client(staff).get(f"{API}{path}")
    assert response.status_code == 400, (response.status_code, response.content[:300])
    body = response.json()
    assert list(body) == [field], body


def test_schema_and_docs_follow_the_api_permissions(porpoise, staff, member):
    porpoise()
    for path in ("/schema/", "/docs/"):
        assert _client().get(f"{API}{path}").status_code in (401, 403)
        assert _client(member).get(f"{API}{path}").status_code == 403
        assert _client(staff).get(f"{API}{path}").status_code == 200
    porpoise(API_DOCS_PUBLIC=True)
    assert _client().get(f"{API}/schema/").status_code == 200


def test_deep_python_expressions_are_refused_clearly(pp):
    expression = pp.event("a")
    with pytest.raises(InvalidExpression, match="deeper than 100 levels"):
        for _ in range(500):
            expression = expression | pp.event("b") if _ % 2 else ~expression


# Arbitrary rows and query strings: never a 500, never unbounded work -----------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
rows = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "event": st.sampled_from(["page:view", "x y", "", "app:1"]) | json_values,
            "counter": st.sampled_from(["clicks"]) | json_values,
            "id": json_values,
            "by": json_values,
            "time": json_values,
            "idempotency_key": json_values,
        },
    )
    | json_values,
    max_size=5,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=rows)
def test_arbitrary_rows_never_500(pp, member, body):
    token = make_track_token(events=["page:view"], counters=["clicks"])
    for client in (_client(token=token), _client(member)):
        started = time.monotonic()
        response = client.post(f"{API}/track/", {"rows": body}, format="json")
        assert response.status_code in (202, 400), response.content[:300]
        assert time.monotonic() - started < 5


GET_PATHS = [
    "/events/active/series/",
    "/events/active/member/",
    "/events/active/ids/",
    "/events/series/",
    "/expressions/count/",
    "/counters/plays/series/",
    "/counters/plays/top/",
    "/metrics/ads/totals/",
    "/metrics/ads/series/",
    "/metrics/ads/breakdown/",
    "/cohorts/",
    "/funnels/",
    "/lifecycle/",
    "/stickiness/",
    "/decisions/landing/report/",
]
params = st.dictionaries(
    st.sampled_from(
        [
            "granularity",
            "start",
            "end",
            "date",
            "period",
            "id",
            "q",
            "n",
            "limit",
            "offset",
            "select1",
            "select2",
            "steps",
            "window",
            "cohorts",
            "offsets",
            "event",
            "events",
            "metrics",
            "dimension",
            "sort",
            "options",
            "dimensions",
            "mode",
            "depth",
        ]
    ),
    st.sampled_from(
        [
            "0001-01-01",
            "9999-12-31",
            "-1",
            "1e308",
            "day",
            "year",
            "²",
            "active",
            "((((a",
            "100000d",
            "1d:1mo",
            "0",
            "99999999999999999999",
        ]
    )
    | st.text(max_size=20),
    max_size=5,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(GET_PATHS), query=params)
def test_arbitrary_query_strings_never_500(pp, staff, path, query):
    client = _client(staff)
    started = time.monotonic()
    response = client.get(f"{API}{path}", query)
    assert response.status_code in (200, 400, 404), (path, query, response.content[:300])
    assert time.monotonic() - started < 5


# Management commands: a bad line is a reported row, never a traceback -----------------
def _run(*args):
    import io

    from django.core.management import call_command

    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_reports_hostile_lines_and_keeps_the_good_ones(pp, tmp_path):
    from django.core.management import CommandError

    now = pp.now().isoformat()
    jsonl = tmp_path / "events.jsonl"
    with jsonl.open("wb") as out:
        good = f'{{"event": "page:view", "id": 1, "time": "{now}"}}\n'
        out.write(good.encode())
        out.write(b'{"event": "page:view", "id": 2, "time": 1e15}\n')
        out.write(b'{"event": "page:view", "id": 3, "time": "0001-01-01"}\n')
        out.write(b'{"event": "page:view", "id": 4, "time": true}\n')
        out.write(b'{"event": "page:view", "id": ' + b"9" * 5000 + b', "time": 0}\n')
        out.write(b'{"event": "page:view", "id": 5, "time": "\xff\xfe"}\n')
        out.write(b'{"event": "' + b"x" * (21 * 2**20) + b'"}\n')
        out.write(good.replace('"id": 1', '"id": 6').encode())
    with pytest.raises(CommandError, match="6 bad row\\(s\\) were skipped") as raised:
        _run("porpoise_import", str(jsonl))
    assert raised.value.returncode == 1
    assert sorted(pp.event("page:view").day()) == [1, 6]
    out, err = _run("porpoise_import", str(jsonl), "--allow-bad-rows")
    assert "imported 2 event(s); 6 bad row(s)" in out
    for line, words in [
        (2, "not milliseconds"),
        (3, "out of range"),
        (4, "time must be epoch seconds or an ISO 8601 string, got true"),
        (5, "invalid JSON"),
        (6, "not UTF-8"),
        (7, "longer than"),
    ]:
        assert f"line {line}:" in err and words in err.split(f"line {line}:")[1].split("\n")[0]
    csv_file = tmp_path / "events.csv"
    csv_file.write_bytes(
        b"event,id,time\n"
        + f"page:view,7,{now}\n".encode()
        + b"page:view,\xff,2026-01-01\n"
        + b'page:view,"'
        + b"1" * 200_000
        + b'",2026-01-01\n'
        + b"page:view,8,0001-01-01\n"
    )
    out, err = _run("porpoise_import", str(csv_file), "--allow-bad-rows")
    assert "imported 1 event(s); 3 bad row(s)" in out
    assert "line 3: not UTF-8" in err and "line 4:" in err and "line 5:" in err


def test_export_memory_and_purge_answer_clearly(pp, tmp_path):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="out of range"):
        _run("porpoise_export", "--from", "0001-01-01")
    with pytest.raises(CommandError, match="folder does not exist"):
        _run("porpoise_export", "--output", str(tmp_path / "missing" / "out.csv"))
    with pytest.raises(CommandError, match="out of range"):
        _run("porpoise_memory", "--date", "0001-01-01")
    with pytest.raises(CommandError, match="nothing to delete: no event nonexistent"):
        _run("porpoise_purge", "--event", "nonexistent", "--yes")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/decisions/landing/report/?options=a", "options"),
        ("/decisions/landing/report/?options=a,a", "options"),
        ("/metrics/ads/breakdown/?dimension=country&sort=bad%20name", "sort"),
        ("/metrics/ads/totals/?metrics=bad%20name", "metrics"),
        ("/cohorts/?select1=signup&select2=active&cohorts=200&offsets=200", "cohorts"),
    ],
)
def test_errors_are_filed_under_the_parameter_at_fault(pp, staff, path, field):
    response = _client(staff).get(f"{API}{path}")
    assert response.status_code == 400
    assert field in response.json(), response.json()


def test_thousands_of_names_are_paged_not_inlined(pp, staff):
    pp.mark_many([(f"flood-{i:05d}", 1) for i in range(3000)])
    client = _client(staff)
    body = client.get(f"{API}/events/").json()
    assert body["count"] == 3000 and len(body["events"]) == 1000 and body["limit"] == 1000
    page = client.get(f"{API}/events/", {"search": "flood-029", "offset": 10, "limit": 5}).json()
    assert page["count"] == 100 and page["events"] == [f"flood-029{i}" for i in range(10, 15)]
    from django.test import Client

    browser = Client()
    browser.force_login(staff)
    for path in ("/admin/porpoise/", "/admin/porpoise/charts/", "/admin/porpoise/cohorts/"):
        html = browser.get(path).content.decode()
        assert html.count('<option value="flood-') <= 2 * 200, path
