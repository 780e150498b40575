"""Hostile readers and operators, second pass (issue 25): who may read, CORS for
the app's own views only, no 500, CSV cells that are never formulas, commands
that fail clearly with bounded memory.

Each test failed on the code before the fix."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from porpoise_django.api.tokens import make_track_token

pytestmark = pytest.mark.django_db
API = "/api/porpoise"


@pytest.fixture
def pp(porpoise):
    return porpoise(ACTIVE_EVENT=None, TRACK_THROTTLE_RATE=None)


@pytest.fixture
def bare_staff():
    """Staff with no permission at all."""
    return get_user_model().objects.create_user("bare", password="pw", is_staff=True)


@pytest.fixture
def analyst():
    from tests.conftest import grant_analytics

    user = get_user_model().objects.create_user("analyst", password="pw", is_staff=True)
    grant_analytics(user)
    return user


# 12. Permissions ------------------------------------------------------------------------
def test_staff_without_the_permission_read_nothing(pp, bare_staff, analyst):
    pp.mark("active", 1)
    api = APIClient()
    api.force_authenticate(bare_staff)
    assert api.get(f"{API}/events/").status_code == 403
    assert api.get(f"{API}/events/active/ids/").status_code == 403
    answer = api.post(f"{API}/decisions/landing/record/", {"option": "a"}, format="json")
    assert answer.status_code == 403
    browser = Client()
    browser.force_login(bare_staff)
    for page in ("", "charts/", "cohorts/", "funnels/", "lifecycle/", "decisions/"):
        assert browser.get(f"/admin/porpoise/{page}").status_code == 403, page
    # ... and the permission (or a superuser) opens them
    api.force_authenticate(analyst)
    assert api.get(f"{API}/events/").status_code == 200
    browser.force_login(analyst)
    assert browser.get("/admin/porpoise/").status_code == 200
    boss = get_user_model().objects.create_superuser("boss", password="pw")
    api.force_authenticate(boss)
    assert api.get(f"{API}/events/active/ids/").status_code == 200


def test_the_api_root_is_behind_the_api_permission(pp, analyst):
    assert APIClient().get(f"{API}/").status_code in (401, 403)
    api = APIClient()
    api.force_authenticate(analyst)
    assert api.get(f"{API}/").status_code == 200


# 3. CORS for the app's own views only ------------------------------------------------------
@pytest.mark.urls("tests.host_urls")
def test_cors_is_never_granted_to_a_host_route_of_the_same_name(porpoise, client):
    shop = "https://shop.example.com"
    porpoise(TRACK_ALLOWED_ORIGINS=[shop])
    answer = client.get("/host-api/tracks/", headers={"Origin": shop})
    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer
    preflight = client.options(
        "/api/porpoise/track/",
        headers={"Origin": shop, "Access-Control-Request-Method": "DELETE"},
    )
    assert "Access-Control-Allow-Origin" not in preflight


# 7. No 500 ---------------------------------------------------------------------------------
def test_a_deeply_nested_body_is_a_400(pp):
    token = make_track_token(events=["page:view"])
    body = '{"rows": [' + "[" * 100_000 + "]" * 100_000 + "]}"
    answer = Client().post(
        f"{API}/track/", body, content_type="application/json", HTTP_X_PORPOISE_TOKEN=token
    )
    assert answer.status_code == 400, answer.content[:200]
    nested = '{"rows": [{"event": "page:view", "id": ' + "[" * 5000 + "]" * 5000 + "}]}"
    answer = Client().post(
        f"{API}/track/", nested, content_type="application/json", HTTP_X_PORPOISE_TOKEN=token
    )
    assert answer.status_code == 400, answer.content[:200]


@pytest.mark.parametrize("start", ["0001-01-01", "1969-12-31", "9999-12-31"])
@pytest.mark.parametrize("fmt", ["", "csv"])
def test_the_cohorts_page_answers_a_form_error_for_dates_out_of_range(pp, analyst, start, fmt):
    pp.mark_many([("signup", 1), ("active", 1)])
    browser = Client()
    browser.force_login(analyst)
    query = {"select1": "signup", "select2": "active", "start": start}
    if fmt:
        query["format"] = fmt
    answer = browser.get("/admin/porpoise/cohorts/", query)
    assert answer.status_code in (200, 400), answer.status_code
    assert b'class="errorlist' in answer.content or answer.status_code == 400


def test_options_on_the_docs_is_not_a_500(pp, analyst):
    api = APIClient()
    api.force_authenticate(analyst)
    assert api.options(f"{API}/docs/").status_code == 200


# 6. CSV cells are never formulas -------------------------------------------------------------
HOSTILE = ['=HYPERLINK("http://x")', "+1+2", "-3", "@SUM(1)", "\tx", "\rx", "'=kept"]


def test_export_neutralises_formulas_and_import_reads_them_back(porpoise, tmp_path):
    pp = porpoise(ACTIVE_EVENT=None, ID_MODE="map")
    ids = [ident for ident in HOSTILE if "\r" not in ident]  # a bare CR ends a CSV line
    pp.mark_many([("page:view", ident) for ident in ids] + [("@event", "plain")])
    out = tmp_path / "out.csv"
    call_command("porpoise_export", "--output", str(out), stderr=io.StringIO())
    import csv

    with out.open(newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells
    fresh = porpoise(ACTIVE_EVENT=None, ID_MODE="map", KEY_PREFIX=pp.keys.prefix + "-copy")
    err = io.StringIO()
    try:
        call_command("porpoise_import", str(out), stdout=io.StringIO(), stderr=err)
    except CommandError:
        raise AssertionError(err.getvalue()) from None
    assert sorted(fresh.event("page:view").day().ids()) == sorted(ids)
    assert fresh.event("@event").day().ids() == ["plain"]
    for key in fresh.client.scan_iter(match=f"{fresh.keys.prefix}:*"):
        fresh.client.unlink(key)


def test_the_admin_csv_neutralises_formulas(pp, analyst):
    from porpoise_django.tables import csv_cell

    assert [csv_cell(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert csv_cell("2026-01-01") == "2026-01-01" and csv_cell(3) == "3"


# 10. Commands: clear errors, bounded memory --------------------------------------------------
def test_import_survives_deep_huge_and_many_bad_lines(pp, tmp_path):
    import tracemalloc

    now = pp.now().isoformat()
    path = tmp_path / "rows.jsonl"
    with path.open("wb") as out:
        out.write(b"[" * 400_000 + b"]" * 400_000 + b"\n")
        out.write(b'{"event": "' + b"x" * (20 * 2**20) + b'"}\n')
        out.write(b"not json\n" * 200_000)
        out.write(f'{{"event": "page:view", "id": 1, "time": "{now}"}}\n'.encode())
    err = io.StringIO()
    tracemalloc.start()
    call_command("porpoise_import", str(path), "--allow-bad-rows", stdout=io.StringIO(), stderr=err)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert list(pp.event("page:view").day()) == [1]
    assert "line 1: invalid JSON: nested too deeply" in err.getvalue()
    assert "line 2: line is longer than" in err.getvalue()
    assert peak < 8 * 2**20, peak


def test_export_to_a_full_disk_is_a_clear_error(pp):
    pp.mark("page:view", 1)
    with pytest.raises(CommandError, match="cannot write /dev/full"):
        call_command("porpoise_export", "--output", "/dev/full", stderr=io.StringIO())


# 11. Smaller ones ------------------------------------------------------------------------------
@pytest.mark.parametrize("zone", ["America", "x" * 10_000, "../../etc"])
def test_a_bad_zone_is_a_value_error(pp, zone):
    pp.metric("ads").count({"hits": 1})
    with pytest.raises(ValueError):
        pp.metric("ads").totals(f"today|{zone}")


def test_lifecycle_over_a_long_period_is_refused_quickly(pp, analyst):
    import time

    api = APIClient()
    api.force_authenticate(analyst)
    started = time.monotonic()
    answer = api.get(f"{API}/lifecycle/", {"event": "active", "period": "5000d"})
    assert answer.status_code == 400 and "period" in answer.json()
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/decisions/landing/report/?options=a,b%7Bc", "options"),
        ("/cohorts/?select1=signup&select2=active&start=1969-12-31", "start"),
        ("/events/active/member/?granularity=day&id=1&date=1969-12-31", "date"),
        ("/events/active/ids/?granularity=day&date=1969-12-31", "date"),
    ],
)
def test_errors_are_filed_under_the_right_parameter(pp, analyst, path, field):
    pp.mark_many([("signup", 1), ("active", 1)])
    api = APIClient()
    api.force_authenticate(analyst)
    answer = api.get(f"{API}{path}")
    assert answer.status_code == 400 and list(answer.json()) == [field], answer.json()


def test_a_member_id_out_of_range_names_max_id(pp, analyst):
    api = APIClient()
    api.force_authenticate(analyst)
    for ident in ("-1", str(2**32)):
        answer = api.get(f"{API}/events/active/member/", {"id": ident})
        assert answer.status_code == 400
        assert "4294967295" in json.dumps(answer.json()), answer.json()


# Checks of the new settings --------------------------------------------------------------
def test_e030_e031_w030(porpoise):
    from porpoise_django.checks import check_tracking_bounds

    porpoise()
    assert check_tracking_bounds() == []
    porpoise(VIEW_PERMISSION="view analytics", TRACK_MAX_NEW_CHUNKS=-1)
    assert sorted(m.id for m in check_tracking_bounds()) == [
        "porpoise_django.E030",
        "porpoise_django.E031",
    ]
    porpoise(TRACK_NEW_CHUNKS_PER_DAY="8")
    assert [m.id for m in check_tracking_bounds()] == ["porpoise_django.E031"]
    porpoise(API_PERMISSION_CLASSES=["rest_framework.permissions.IsAdminUser"])
    [warning] = check_tracking_bounds()
    assert warning.id == "porpoise_django.W030" and "HasViewPermission" in warning.hint
    porpoise(
        API_PERMISSION_CLASSES=["rest_framework.permissions.IsAdminUser"], VIEW_PERMISSION=None
    )
    assert check_tracking_bounds() == []
