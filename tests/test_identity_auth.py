"""Only ids Django authenticates are marked; the session hint never breaks or bloats
anything (issue 24, defects 4, 6, 7 and the session cache half of 10)."""

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path

from porpoise_django.tracking import identity

pytestmark = pytest.mark.django_db


def reads_user(request):
    """A view that looks at request.user (Django authenticates) and marks for it."""
    request.porpoise.mark("page:viewed")
    return HttpResponse("hello" if request.user.is_authenticated else "anonymous")


urlpatterns = [path("reads-user/", reads_user), path("plain/", lambda r: HttpResponse("ok"))]


@pytest.fixture
def user():
    return get_user_model().objects.create_user("ann", password="pw")


@pytest.fixture(autouse=True)
def fresh_caches():
    from porpoise_django.tracking.active import ACTIVE

    identity.SESSION_USERS.clear()
    ACTIVE.forget()
    yield
    identity.SESSION_USERS.clear()
    ACTIVE.forget()


@override_settings(ROOT_URLCONF=__name__)
def test_an_inactive_user_is_never_marked(client, porpoise, user):
    pp = porpoise()
    client.force_login(user)
    user.is_active = False
    user.save()
    response = client.get("/reads-user/")
    assert response.content == b"anonymous"  # Django says so
    assert client.get("/plain/").status_code == 200
    assert pp.event_names() == []


@override_settings(ROOT_URLCONF=__name__)
def test_a_session_cut_off_by_a_password_change_is_not_counted(client, porpoise, user):
    pp = porpoise()
    client.force_login(user)
    user.set_password("changed")  # elsewhere: the session's auth hash no longer matches
    user.save()
    assert client.get("/plain/").status_code == 200
    assert client.get("/reads-user/").content == b"anonymous"
    assert pp.event_names() == []


@override_settings(ROOT_URLCONF=__name__)
def test_a_session_deleted_from_the_store_is_not_counted(client, porpoise, user):
    from django.contrib.sessions.models import Session

    pp = porpoise()
    client.force_login(user)
    assert client.get("/plain/").status_code == 200  # the hint is now remembered
    assert list(pp.event("active").day()) == [user.pk]
    Session.objects.all().delete()  # signed out everywhere (or expired and cleared)
    pp = porpoise(ACTIVE_EVENT="visit")  # a mark not made yet in this bucket
    assert client.get("/plain/").status_code == 200
    assert client.get("/reads-user/").content == b"anonymous"
    assert "visit" not in pp.event_names() and "page:viewed" not in pp.event_names()


@override_settings(ROOT_URLCONF=__name__)
def test_an_active_user_is_still_marked_once(client, porpoise, user):
    pp = porpoise()
    client.force_login(user)
    for _ in range(3):
        assert client.get("/reads-user/").content == b"hello"
    assert list(pp.event("active").day()) == [user.pk]
    assert list(pp.event("page:viewed").day()) == [user.pk]


@override_settings(ROOT_URLCONF=__name__)
def test_a_non_integer_user_id_in_the_session_is_anonymous_not_a_500(client, porpoise):
    pp = porpoise()
    session = client.session
    session[SESSION_KEY] = "not-a-number"
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session.save()
    # The test client re-raises a view's or middleware's exception.
    assert client.get("/plain/").status_code == 200
    assert pp.event_names() == []


def _forged(n: int) -> str:
    return f"{n:08d}" + "x" * 4000 + ":forged:signature"


@override_settings(
    ROOT_URLCONF=__name__, SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"
)
def test_forged_signed_cookies_leave_no_cache_entry(client, porpoise):
    from django.conf import settings

    pp = porpoise()
    for n in range(300):
        client.cookies[settings.SESSION_COOKIE_NAME] = _forged(n)
        assert client.get("/plain/").status_code == 200
    assert len(identity.SESSION_USERS.known) == 0
    assert identity.SESSION_USERS.size == 0
    assert pp.event_names() == []


def test_the_hint_cache_is_bounded_by_bytes_oldest_first():
    cache = identity._SessionUsers(limit_bytes=10 * (len(_forged(0)) + identity.ENTRY_BYTES))
    for n in range(100):
        cache.put(_forged(n), n, 0.0)
    assert len(cache.known) == 10
    assert cache.size <= cache.limit_bytes
    assert cache.size == sum(len(k) + identity.ENTRY_BYTES for k in cache.known)
    assert next(iter(cache.known.values()))[0] == 90  # the oldest went first
    assert cache.get(_forged(99), 1.0) == (True, 99)
    assert cache.get(_forged(0), 1.0) == (False, None)
    cache.put(_forged(99), 7, 2.0)  # a key put again is not counted twice
    assert cache.size == sum(len(k) + identity.ENTRY_BYTES for k in cache.known)
    cache.put("k" * (cache.limit_bytes + 1), 1, 0.0)  # larger than the bound: not kept
    assert len(cache.known) == 10


def test_eviction_does_not_walk_deleted_slots():
    """A plain dict's ``next(iter(d))`` after many deletions scans their dead slots
    (3 -> 14 us per put and rising); the OrderedDict's popitem does not."""
    import time

    cache = identity._SessionUsers(limit_bytes=2000 * (40 + identity.ENTRY_BYTES))

    def puts(start: int, n: int = 2000) -> float:
        began = time.perf_counter()
        for i in range(start, start + n):
            cache.put(f"{i:040d}", i, 0.0)
        return time.perf_counter() - began

    from collections import OrderedDict

    assert type(cache.known) is OrderedDict  # popitem(last=False) is O(1)
    puts(0)
    first = min(puts(2000 + k * 2000) for k in range(5))
    for k in range(40):
        puts(100_000 + k * 2000)
    later = min(puts(500_000 + k * 2000) for k in range(5))
    # Generous: the machine is shared; the old walk grew without bound.
    assert later < first * 6 + 0.005


# -- the functions themselves, on requests built by hand ------------------------------
class _Session(dict):
    """A session as the middleware sees it: a key, read or not yet."""

    def __init__(self, key="k" * 32, fail=None, **data):
        super().__init__(**data)
        self.session_key, self.accessed, self.fail = key, False, fail

    def get(self, name, default=None):
        if self.fail:
            raise self.fail
        self.accessed = True
        return super().get(name, default)

    async def aget(self, name, default=None):
        return self.get(name, default)


class _User:
    def __init__(self, pk, authenticated=True):
        self.pk, self.is_authenticated = pk, authenticated


def _request(session=None, user=None, auser=None):
    from django.http import HttpRequest
    from django.utils.functional import SimpleLazyObject

    request = HttpRequest()
    if session is not None:
        request.session = session
    if user is not None:
        request.user = SimpleLazyObject(user)
    if auser is not None:
        request.auser = auser
    return request


def test_a_loaded_user_that_is_not_authenticated_is_none():
    from django.http import HttpRequest

    request = HttpRequest()
    request.user = _User(5, authenticated=False)  # a guest object with a pk
    assert identity.user_id(request) is None
    assert identity.session_user_id(request) is None
    request.user = _User(6)
    assert identity.user_id(request) == 6


def test_the_lazy_user_is_what_is_authenticated():
    # The session names user 5 but carries no backend: Django's get_user() on
    # it would say anonymous; the request's own (lazy) user is the answer.
    request = _request(_Session(**{SESSION_KEY: "5"}), user=lambda: _User(5))
    assert identity.user_id(request) == 5
    request = _request(_Session(**{SESSION_KEY: "5"}))  # no user on the request
    assert identity.user_id(request) is None


def test_the_async_user_is_what_is_authenticated():
    from asgiref.sync import async_to_sync

    async def auser():
        return _User(7)

    request = _request(_Session(**{SESSION_KEY: "7"}), auser=auser)
    assert async_to_sync(identity.auser_id)(request) == 7
    request = _request(_Session(**{SESSION_KEY: "7"}))
    assert async_to_sync(identity.auser_id)(request) is None
    request = _request(_Session())  # nobody signed in: auser() is not even asked
    request.auser = None
    assert async_to_sync(identity.auser_id)(request) is None


def test_a_broken_session_store_is_logged_and_anonymous(caplog):
    from asgiref.sync import async_to_sync

    with caplog.at_level("WARNING", logger="porpoise_django"):
        request = _request(_Session(fail=RuntimeError("store down")))
        assert identity.session_user_id(request) is None
        assert identity.user_id(request) is None
        assert async_to_sync(identity.asession_user_id)(request) is None
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("porpoise: session not readable for analytics: store down") == 3


def test_an_authentication_that_raises_is_logged_and_anonymous(caplog):
    from asgiref.sync import async_to_sync

    def boom():
        raise RuntimeError("backend down")

    async def aboom():
        boom()

    with caplog.at_level("WARNING", logger="porpoise_django"):
        request = _request(_Session(**{SESSION_KEY: "3"}), user=boom, auser=aboom)
        assert identity.user_id(request) is None
        assert async_to_sync(identity.auser_id)(request) is None
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("porpoise: user not authenticated for analytics: backend down") == 2


def test_only_sessions_naming_a_user_are_remembered():
    session = _Session(**{SESSION_KEY: "4"})
    assert identity.session_user_id(_request(session)) == 4
    assert identity.SESSION_USERS.get(session.session_key, 0.0) == (True, 4)
    fresh = _Session(key="a" * 32)
    assert identity.session_user_id(_request(fresh)) is None
    assert identity.SESSION_USERS.get(fresh.session_key, 0.0) == (False, None)
    # Remembered: a later request whose session nobody read is not read at all.
    again = _Session(**{SESSION_KEY: "999"})
    assert identity.session_user_id(_request(again)) == 4 and not again.accessed
    import time

    later = time.monotonic() + identity.SESSION_TTL + 1  # forgotten after SESSION_TTL
    assert identity.SESSION_USERS.get(session.session_key, later) == (False, None)


def test_a_user_the_view_loaded_is_used_without_the_session():
    request = _request(_Session(), user=lambda: _User(8))
    assert request.user.pk == 8  # the view looked: the lazy object holds the user
    assert identity.session_user_id(request) == 8
    assert identity.user_id(request) == 8
    request = _request(_Session(), user=lambda: _User(0))
    request._cached_user = _User(9)  # AuthenticationMiddleware's own cache
    assert identity.user_id(request) == 9
    request = _request(_Session(), user=lambda: _User(0))
    request._acached_user = _User(10)  # ... and its async one
    assert identity.user_id(request) == 10


def test_hint_edges_leave_no_warning(caplog):
    from django.http import HttpRequest

    with caplog.at_level("WARNING", logger="porpoise_django"):
        assert identity.session_user_id(HttpRequest()) is None  # no session at all
        assert identity.user_id(HttpRequest()) is None
    assert caplog.records == []
    request = HttpRequest()
    request.user = type("Guest", (), {"pk": 3})()  # no is_authenticated at all
    assert identity.user_id(request) is None


def test_a_session_read_in_this_request_is_not_answered_from_the_cache():
    import time

    identity.SESSION_USERS.put("s" * 32, 4, time.monotonic())
    session = _Session(key="s" * 32, **{SESSION_KEY: "5"})
    session.accessed = True  # the view read it (and may have changed it)
    assert identity.session_user_id(_request(session)) == 5


def test_the_cache_edges():
    cache = identity._SessionUsers(limit_bytes=10 + identity.ENTRY_BYTES)
    cache.put("k" * 10, 1, 0.0)  # exactly the bound: kept
    assert cache.get("k" * 10, 0.0) == (True, 1)
    assert cache.get("k" * 10, identity.SESSION_TTL) == (False, None)  # expired at TTL


def test_without_request_user_django_authenticates_from_the_session(client, user):
    from asgiref.sync import async_to_sync
    from django.contrib.sessions.backends.db import SessionStore
    from django.http import HttpRequest

    client.force_login(user)
    request = HttpRequest()  # no AuthenticationMiddleware: no request.user, no auser
    request.session = SessionStore(client.session.session_key)
    assert identity.user_id(request) == user.pk
    identity.SESSION_USERS.clear()
    request.session = SessionStore(client.session.session_key)
    assert async_to_sync(identity.auser_id)(request) == user.pk
