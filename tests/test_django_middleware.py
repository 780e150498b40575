"""Middleware, collector and decorators with Django's test client and a real server."""

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return get_user_model().objects.create_user("ann", password="pw")


def test_active_is_marked_for_authenticated_users_only(client, porpoise, user):
    pp = porpoise()
    assert client.get("/plain/").status_code == 200
    assert len(pp.event("active").day()) == 0
    client.force_login(user)
    assert client.get("/plain/").status_code == 200
    assert list(pp.event("active").day()) == [user.pk]
    assert user.pk in pp.event("active").month()


def test_skip_paths_and_configurable_event_name(client, porpoise, user):
    pp = porpoise(ACTIVE_EVENT="visit")
    client.force_login(user)
    client.get("/static/thing.css")
    assert len(pp.event("visit").day()) == 0
    client.get("/plain/")
    assert list(pp.event("visit").day()) == [user.pk]
    pp = porpoise(ACTIVE_EVENT=None)
    client.get("/plain/")
    assert pp.event_names() == ["visit"]


def test_anonymous_users_by_session_in_map_mode(client, porpoise):
    pp = porpoise(ID_MODE="map", ANONYMOUS_ACTIVE_EVENT="active:anonymous")
    client.get("/plain/")  # no session yet: nothing, and no session is created
    assert len(pp.event("active:anonymous").day()) == 0
    session = client.session
    session["x"] = 1
    session.save()
    client.get("/plain/")
    assert list(pp.event("active:anonymous").day()) == [f"session:{session.session_key}"]


def test_collector_writes_everything_in_one_round_trip(client, porpoise, user, round_trips):
    from porpoise_django.tracking.active import ACTIVE

    pp = porpoise()
    client.force_login(user)
    pp.chunks()
    # The "active once" set reads the store's epoch once per ACTIVE_CHECK_SECONDS.
    ACTIVE.first(pp, "warm-up", 0, pp.clock().timestamp())
    with round_trips:
        assert client.get("/collect/").status_code == 200
    # session + user lookups are sqlite; Redis sees exactly one round trip.
    assert round_trips.count == 1
    assert sorted(pp.event("song:played").day()) == [user.pk, 999]
    assert user.pk in pp.event("active").day()
    assert pp.counter("page:view").get(pp.period("day")) == {"/collect/": 1}


def test_track_decorator_on_function_views(client, porpoise, user):
    pp = porpoise()
    client.get("/played/5/")  # anonymous: no id, no mark
    client.force_login(user)
    client.get("/played/5/")
    client.get("/liked/77/")
    client.get("/failing/")
    assert list(pp.event("song:played").day()) == [user.pk]
    assert list(pp.event("song:liked").day()) == [77]
    assert "failed" not in pp.event_names()  # 404: not marked


def test_track_decorator_on_class_based_views(client, porpoise, user):
    pp = porpoise()
    client.force_login(user)
    assert client.get("/checkout/").json() == {"ok": True}
    assert client.get("/report/").status_code == 200
    assert list(pp.event("checkout").day()) == [user.pk]
    assert list(pp.event("report:viewed").day()) == [user.pk]


def test_count_decorator_counts_anonymous_totals_and_users(client, porpoise, user):
    pp = porpoise()
    client.get("/counted/")
    client.force_login(user)
    client.get("/counted/")
    day = pp.period("day")
    assert pp.counter("page:view").total(day) == 2
    assert pp.counter("page:view").get(day) == {str(user.pk): 1}


def test_decorators_work_without_the_middleware(client, porpoise, user, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "porpoise" not in m]
    pp = porpoise()
    client.force_login(user)
    client.get("/played/1/")
    assert list(pp.event("song:played").day()) == [user.pk]
    assert "active" not in pp.event_names()


def test_custom_response_predicate(client, porpoise, user):
    pp = porpoise(MARK_RESPONSE_PREDICATE="tests.test_django_middleware.always")
    client.force_login(user)
    client.get("/failing/")
    assert list(pp.event("failed").day()) == [user.pk]


def always(response):
    return True


def test_a_bad_id_from_a_decorator_is_logged_not_raised(client, porpoise, caplog):
    pp = porpoise()
    with caplog.at_level("ERROR", logger="porpoise_django"):
        response = client.get("/bad-id/")
    assert response.status_code == 200
    assert "mark skipped in /bad-id/" in caplog.text
    assert "is not an integer" in caplog.text
    assert pp.event_names() == []


def test_track_rejects_a_bad_event_name_at_import_time():
    from porpoise_django.decorators import track

    with pytest.raises(ValueError, match="letters, digits"):
        track("bad name")


@pytest.mark.django_db(transaction=True)
def test_async_view_and_middleware(async_client, porpoise, user):
    pp = porpoise()

    async def scenario():
        await async_client.aforce_login(user)
        return await async_client.get("/async/")

    response = async_to_sync(scenario)()
    assert response.status_code == 200
    assert list(pp.event("async:seen").day()) == [user.pk]
    assert user.pk in pp.event("active").day()
    assert pp.counter("async:hits").total(pp.period("day")) == 1


def test_background_mode_writes_after_the_response(client, porpoise, user):
    from porpoise_django import delivery

    pp = porpoise(WRITE_MODE="background")
    client.force_login(user)
    for song in range(20):
        assert client.get(f"/played/{song}/").status_code == 200
    assert delivery.flush(timeout=10)
    assert list(pp.event("song:played").day()) == [user.pk]
    assert user.pk in pp.event("active").day()


def test_background_writer_under_concurrent_requests(porpoise):
    import threading

    from django.test import Client

    from porpoise_django import delivery

    pp = porpoise(WRITE_MODE="background")
    statuses = []

    def hammer(first):
        c = Client()  # anonymous: no database access from the threads (sqlite)
        for song in range(first, first + 25):
            statuses.append(c.get(f"/liked/{song}/").status_code)

    threads = [threading.Thread(target=hammer, args=(i * 25,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert delivery.flush(timeout=10)
    assert statuses == [200] * 200
    assert sorted(pp.event("song:liked").day()) == list(range(200))


def test_the_user_row_is_loaded_only_for_the_mark_itself(client, porpoise, user):
    """Whether ``active`` is due is decided on the session's id: the user is
    authenticated (its row loaded, as Django does) for the one request per
    bucket that marks, and later requests of the bucket cost no user query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    pp = porpoise()
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/plain/").status_code == 200
    assert "auth_user" in " ".join(q["sql"] for q in queries.captured_queries)
    assert list(pp.event("active").day()) == [user.pk]
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/plain/").status_code == 200
    # The session is remembered too: no query at all.
    assert "auth_user" not in " ".join(q["sql"] for q in queries.captured_queries)


def test_a_login_or_logout_in_the_view_is_seen(client, porpoise, user):
    from django.contrib.auth import login, logout
    from django.http import HttpResponse
    from django.test import override_settings
    from django.urls import path

    def sign_in(request):
        login(request, user)
        return HttpResponse("in")

    def sign_out(request):
        logout(request)
        return HttpResponse("out")

    urls = type("urls", (), {"urlpatterns": [path("in/", sign_in), path("out/", sign_out)]})
    pp = porpoise()
    with override_settings(ROOT_URLCONF=urls):
        client.get("/in/")
        assert list(pp.event("active").day()) == [user.pk]
        pp2 = porpoise(ACTIVE_EVENT="after")
        client.get("/out/")
        assert len(pp2.event("after").day()) == 0


def test_active_is_written_once_per_user_per_bucket(client, porpoise, user, monkeypatch):
    import datetime as dt

    from porpoise_django.tracking.collector import Collector

    marks = []
    original = Collector.mark
    monkeypatch.setattr(
        Collector,
        "mark",
        lambda self, event, *a, **k: marks.append(event) or original(self, event, *a, **k),
    )
    pp = porpoise(GRANULARITIES=["hour", "day", "week"])
    now = dt.datetime(2026, 11, 25, 10, 5, tzinfo=dt.UTC)
    pp.clock = lambda: now
    client.force_login(user)
    for _ in range(5):
        client.get("/plain/")
    assert marks.count("active") == 1
    now = dt.datetime(2026, 11, 25, 11, 0, tzinfo=dt.UTC)  # the next hour: a new bucket
    client.get("/plain/")
    client.get("/plain/")
    assert marks.count("active") == 2
    hours = [pp.period("hour", dt.datetime(2026, 11, 25, h, tzinfo=dt.UTC)) for h in (10, 11)]
    assert [user.pk in pp.event("active").bind(h) for h in hours] == [True, True]


def test_the_once_set_stays_bounded():
    from porpoise_django.tracking.active import ActiveOnce

    class Store:
        granularities = ("day",)

        @staticmethod
        def period(granularity, moment):
            import datetime as dt

            class P:
                @staticmethod
                def period_end():
                    return moment + dt.timedelta(hours=1)

            return P

    once = ActiveOnce(limit=3)
    store = Store()
    assert [once.first(store, "active", i, 0.0) for i in range(4)] == [True] * 4
    assert len(once._state.seen) <= 3
    assert once.first(store, "active", 3, 1.0) is False
    once.forget()
    assert once.first(store, "active", 3, 1.0) is True


@pytest.mark.django_db(transaction=True)
def test_no_thread_hop_on_the_async_path_with_background_writes(
    async_client, porpoise, user, monkeypatch
):
    import threading

    from porpoise_django import delivery
    from porpoise_django.middleware import PorpoiseMiddleware

    threads = {}
    original = PorpoiseMiddleware._finish

    def finish(self, *args):
        threads["finish"] = threading.get_ident()
        return original(self, *args)

    monkeypatch.setattr(PorpoiseMiddleware, "_finish", finish)
    pp = porpoise(WRITE_MODE="background")

    async def scenario():
        await async_client.aforce_login(user)
        threads["loop"] = threading.get_ident()
        return await async_client.get("/async/")

    assert async_to_sync(scenario)().status_code == 200
    assert threads["finish"] == threads["loop"]
    assert delivery.flush(timeout=10)
    assert user.pk in pp.event("active").day()
