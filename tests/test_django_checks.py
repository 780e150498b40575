"""System checks: each id fires on its problem, with a hint, and not otherwise."""

import pytest
from django.core.checks import run_checks

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
        {"ANONYMOUS_ACTIVE_EVENT": "anon"},
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


def test_settings_are_reloaded_when_they_change(settings):
    from porpoise_django.conf import porpoise_settings

    assert porpoise_settings.KEY_PREFIX == "pptest-django"
    settings.PORPOISE = {"KEY_PREFIX": "other"}
    assert porpoise_settings.KEY_PREFIX == "other"
    settings.TIME_ZONE = "Europe/Paris"
    assert porpoise_settings.TIME_ZONE == "Europe/Paris"
    with pytest.raises(AttributeError, match="invalid porpoise setting"):
        porpoise_settings.NOT_A_SETTING  # noqa: B018
