"""System checks: each id fires on its problem, with a hint, and not otherwise."""

import pytest
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.core.checks import run_checks

from porpoise_django.middleware import PorpoiseMiddleware

MIDDLEWARE = "porpoise_django.middleware.PorpoiseMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"


def _ids(messages):
    return sorted({m.id for m in messages if m.id and m.id.startswith("porpoise_django")})


def _run():
    messages = run_checks()
    for message in messages:
        if message.id and message.id.startswith("porpoise_django"):
            assert message.hint, message
    return _ids(messages)


def test_clean_configuration_has_no_messages(settings):
    assert _run() == []


def test_e001_missing_cache_alias(settings):
    settings.PORPOISE = {"CACHE_ALIAS": "analytics"}
    assert _run() == ["porpoise_django.E001"]
    settings.PORPOISE = {"CACHE_ALIAS": "analytics", "REDIS_URL": "redis://127.0.0.1:1/0"}
    assert _run() == []


def test_e002_cache_is_not_django_redis(settings):
    settings.CACHES = {
        **settings.CACHES,
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    settings.PORPOISE = {"CACHE_ALIAS": "local"}
    assert _run() == ["porpoise_django.E002"]


@pytest.mark.parametrize(
    "bad",
    [
        {"GRANULARITIES": ["daily"]},
        {"COUNTER_GRANULARITIES": ["fortnight"]},
        {"ID_MODE": "uuid"},
        {"KEY_PREFIX": "has{brace}"},
        {"TIME_ZONE": "Mars/Base"},
        {"RETENTION": {"day": -5}},
        {"CHUNK_BITS": 99},
        {"ID_MAP_SHARDS": 0},
    ],
)
def test_e003_invalid_values(settings, bad):
    settings.PORPOISE = bad
    assert _run() == ["porpoise_django.E003"]


def test_e003_message_names_the_allowed_values(settings):
    settings.PORPOISE = {"GRANULARITIES": ["daily"]}
    [message] = [m for m in run_checks() if m.id == "porpoise_django.E003"]
    assert "allowed: hour, day, week, month, year" in message.msg


@pytest.mark.parametrize(
    "spec",
    [
        {"nope.Model": {"created": "x"}},
        {"testapp.Order": {"created": "x", "colour": "red"}},
        {"testapp.Order": {"created": "x", "user": "buyer"}},
        {"testapp.Order": "order:created"},
    ],
)
def test_e004_model_events(settings, spec):
    settings.PORPOISE = {"MODEL_EVENTS": spec}
    assert _run() == ["porpoise_django.E004"]


def test_e004_model_event_names_are_checked(settings):
    settings.PORPOISE = {"MODEL_EVENTS": {"testapp.Order": {"created": "order created!"}}}
    [message] = [m for m in run_checks() if m.id == "porpoise_django.E004"]
    assert "created" in message.msg and "invalid" in message.msg.lower()


def test_e005_settings_not_a_dict(settings):
    settings.PORPOISE = ["KEY_PREFIX", "pp"]
    assert _run() == ["porpoise_django.E005"]


def test_e006_unknown_write_mode(settings):
    settings.PORPOISE = {"WRITE_MODE": "later"}
    assert _run() == ["porpoise_django.E006"]


def test_e007_anonymous_marks_need_map_ids(settings):
    settings.PORPOISE = {"ANONYMOUS_ACTIVE_EVENT": "anon"}
    assert _run() == ["porpoise_django.E007"]
    settings.PORPOISE = {"ANONYMOUS_ACTIVE_EVENT": "anon", "ID_MODE": "map"}
    assert _run() == []


@pytest.mark.parametrize(
    "setting",
    ["ACTIVE_EVENT", "ANONYMOUS_ACTIVE_EVENT", "LOGIN_EVENT", "LOGOUT_EVENT", "SIGNUP_EVENT"],
)
def test_e008_event_name_settings_are_checked(settings, setting):
    settings.PORPOISE = {setting: "logged in!", "ID_MODE": "map"}
    messages = [m for m in run_checks() if m.id == "porpoise_django.E008"]
    assert len(messages) == 1 and setting in messages[0].msg
    assert _run() == ["porpoise_django.E008"]
    settings.PORPOISE = {setting: None}
    assert _run() == []


@pytest.mark.parametrize(
    "bad",
    [
        {"API_PERMISSION_CLASSES": ["rest_framework.permissions.NoSuchClass"]},
        {"TRACK_PERMISSION_CLASSES": ["nowhere.Permission"]},
        {"DECISION_RECORD_PERMISSION_CLASSES": ["nowhere.Permission"]},
        {"MARK_RESPONSE_PREDICATE": "tests.nowhere.predicate"},
        {"TRACK_ANY_ID_PERMISSION": "nowhere.Permission"},
    ],
)
def test_e009_dotted_paths_must_import(settings, bad):
    settings.PORPOISE = bad
    assert _run() == ["porpoise_django.E009"]
    [message] = [m for m in run_checks() if m.id == "porpoise_django.E009"]
    assert next(iter(bad)) in message.msg


def test_dotted_paths_are_imported_once_and_reloaded_on_change(settings):
    from rest_framework.permissions import AllowAny, IsAdminUser

    from porpoise_django.api.views import HasViewPermission
    from porpoise_django.conf import porpoise_settings

    classes = porpoise_settings.API_PERMISSION_CLASSES
    assert classes == [IsAdminUser, HasViewPermission]
    settings.PORPOISE = {"API_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"]}
    classes = porpoise_settings.API_PERMISSION_CLASSES
    assert classes == [AllowAny]


def test_w001_unknown_setting(settings):
    settings.PORPOISE = {"KEY_PREFX": "pp"}
    messages = [m for m in run_checks() if m.id == "porpoise_django.W001"]
    assert len(messages) == 1
    assert "KEY_PREFX" in messages[0].msg and "KEY_PREFIX" in messages[0].hint


def test_w002_middleware_before_authentication(settings):
    order = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    order.insert(order.index(AUTH), MIDDLEWARE)
    settings.MIDDLEWARE = order
    assert _run() == ["porpoise_django.W002"]
    settings.MIDDLEWARE = [m for m in order if m != AUTH]
    assert _run() == ["porpoise_django.W002"]


class CustomMiddleware(PorpoiseMiddleware):
    """A project's own subclass (or a re-export) is the same middleware to the check."""


class CustomAuthentication(AuthenticationMiddleware):
    pass


def test_w002_sees_subclasses(settings):
    custom = "tests.test_django_checks.CustomMiddleware"
    custom_auth = "tests.test_django_checks.CustomAuthentication"
    base = [m for m in settings.MIDDLEWARE if m not in (MIDDLEWARE, AUTH)]
    settings.MIDDLEWARE = [*base, custom, AUTH]
    assert _run() == ["porpoise_django.W002"]
    settings.MIDDLEWARE = [*base, AUTH, custom]
    assert _run() == []
    settings.MIDDLEWARE = [*base, custom_auth, custom]
    assert _run() == []
    settings.MIDDLEWARE = [*base, custom, custom_auth]
    assert _run() == ["porpoise_django.W002"]


def test_settings_are_reloaded_when_they_change(settings):
    from porpoise_django.conf import porpoise_settings

    assert porpoise_settings.KEY_PREFIX == "pptest-django"
    settings.PORPOISE = {"KEY_PREFIX": "other"}
    assert porpoise_settings.KEY_PREFIX == "other"
    settings.TIME_ZONE = "Europe/Paris"
    assert porpoise_settings.TIME_ZONE == "Europe/Paris"
    with pytest.raises(AttributeError, match="invalid porpoise setting"):
        porpoise_settings.NOT_A_SETTING  # noqa: B018


def test_w003_swagger_ui_files_need_the_sidecar_app(settings):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "drf_spectacular_sidecar"]
    assert _run() == ["porpoise_django.W003"]


@pytest.mark.parametrize("bad", ["False", "no", 0, 1, None, []])
def test_e041_forget_on_user_delete_is_a_bool(settings, bad):
    settings.PORPOISE = {"FORGET_ON_USER_DELETE": bad}
    messages = [m for m in run_checks() if m.id == "porpoise_django.E041"]
    assert _ids(messages) == ["porpoise_django.E041"]
    assert repr(bad) in messages[0].msg and "True or False" in messages[0].msg
    assert "porpoise_forget" in messages[0].hint
    settings.PORPOISE = {"FORGET_ON_USER_DELETE": False}
    assert _run() == []


def test_w041_forgetting_on_delete_needs_its_receiver(settings):
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete

    from porpoise_django.tracking import forgetting
    from tests.testapp.models import StaffUser

    assert forgetting.user_models() == [get_user_model(), StaffUser]  # proxies too
    post_delete.disconnect(sender=StaffUser, dispatch_uid=forgetting.DISPATCH_UID)
    try:
        messages = [m for m in run_checks() if m.id == "porpoise_django.W041"]
        assert len(messages) == 1 and "testapp.StaffUser" in messages[0].msg
        assert "auth.User" not in messages[0].msg and messages[0].hint
        settings.PORPOISE = {"FORGET_ON_USER_DELETE": False}  # off: nothing to connect
        assert _run() == []
    finally:
        forgetting.connect()
    settings.PORPOISE = {}
    assert _run() == []
