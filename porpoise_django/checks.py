"""System checks (``manage.py check``): ids ``porpoise_django.E00x`` / ``W00x``."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from .conf import DEFAULTS, porpoise_settings

MIDDLEWARE_PATH = "porpoise_django.middleware.PorpoiseMiddleware"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"


@register()
def check_storage(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001: the cache alias is missing; E002: it is not a django-redis cache."""
    if porpoise_settings.REDIS_URL:
        return []
    alias = porpoise_settings.CACHE_ALIAS
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [
            Error(
                f"PORPOISE['CACHE_ALIAS'] is {alias!r}, which is not in CACHES.",
                hint="Add a django-redis cache under that alias, point CACHE_ALIAS at one, "
                "or set PORPOISE['REDIS_URL'].",
                id="porpoise_django.E001",
            )
        ]
    backend = caches[alias].get("BACKEND", "")
    if not backend.startswith("django_redis."):
        return [
            Error(
                f"CACHES[{alias!r}] uses {backend!r}, not django-redis: porpoise needs its "
                "Redis connection.",
                hint="Use 'django_redis.cache.RedisCache' for that cache, or set "
                "PORPOISE['REDIS_URL'].",
                id="porpoise_django.E002",
            )
        ]
    return []


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W001: unknown keys; E003: values the engine refuses; E004: bad MODEL_EVENTS."""
    messages: list[CheckMessage] = []
    user = getattr(settings, "PORPOISE", {})
    if not isinstance(user, dict):
        return [
            Error(
                "PORPOISE must be a dict.",
                hint="PORPOISE = {'KEY_PREFIX': 'pp', ...}",
                id="porpoise_django.E003",
            )
        ]
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        messages.append(
            Warning(
                f"Unknown PORPOISE settings: {', '.join(unknown)}.",
                hint=f"Known settings: {', '.join(sorted(DEFAULTS))}.",
                id="porpoise_django.W001",
            )
        )
    messages += _check_engine_values()
    messages += _check_model_events(porpoise_settings.MODEL_EVENTS)
    if porpoise_settings.WRITE_MODE not in ("background", "sync"):
        messages.append(
            Error(
                f"PORPOISE['WRITE_MODE'] is {porpoise_settings.WRITE_MODE!r}.",
                hint="Use 'background' (default) or 'sync'.",
                id="porpoise_django.E003",
            )
        )
    if porpoise_settings.ANONYMOUS_ACTIVE_EVENT and porpoise_settings.ID_MODE != "map":
        messages.append(
            Error(
                "PORPOISE['ANONYMOUS_ACTIVE_EVENT'] marks session keys, which need ID_MODE 'map'.",
                hint="Set PORPOISE['ID_MODE'] = 'map', or ANONYMOUS_ACTIVE_EVENT = None.",
                id="porpoise_django.E003",
            )
        )
    return messages


def _check_engine_values() -> list[CheckMessage]:
    """Build an engine (no connection is made) to let it validate the values."""
    from .engine import Analytics
    from .services import engine_options

    try:
        Analytics(None, **engine_options())
    except (ValueError, TypeError) as exc:
        return [
            Error(
                f"Invalid PORPOISE setting: {exc}",
                hint="See the PORPOISE settings table in the porpoise-django README.",
                id="porpoise_django.E003",
            )
        ]
    return []


def _check_model_events(spec: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if not isinstance(spec, dict):
        spec = {"?": spec}
    for label, options in spec.items():
        problem = None
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            problem = f"{label!r} is not an installed model ('app_label.ModelName')"
        else:
            if not isinstance(options, dict) or not set(options) <= {
                "created",
                "updated",
                "deleted",
                "user",
            }:
                problem = f"{label!r} must map to a dict with keys created, updated, deleted, user"
            elif options.get("user"):
                field_names = {f.name for f in model._meta.get_fields()}
                if options["user"] not in field_names and not hasattr(model, options["user"]):
                    problem = f"{label!r}: 'user' names no field or attribute {options['user']!r}"
        if problem:
            messages.append(
                Error(
                    f"PORPOISE['MODEL_EVENTS']: {problem}.",
                    hint="Example: {'shop.Order': "
                    "{'created': 'order:created', 'user': 'customer'}}",
                    id="porpoise_django.E004",
                )
            )
    return messages


@register()
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W002: the middleware runs before authentication, so it never sees the user."""
    middleware = list(getattr(settings, "MIDDLEWARE", []) or [])
    if MIDDLEWARE_PATH not in middleware:
        return []
    if AUTH_MIDDLEWARE_PATH in middleware and middleware.index(MIDDLEWARE_PATH) > middleware.index(
        AUTH_MIDDLEWARE_PATH
    ):
        return []
    return [
        Warning(
            f"{MIDDLEWARE_PATH} comes before {AUTH_MIDDLEWARE_PATH} (or that is missing): "
            "no user will be marked active.",
            hint=f"Put {MIDDLEWARE_PATH} after {AUTH_MIDDLEWARE_PATH} in MIDDLEWARE.",
            id="porpoise_django.W002",
        )
    ]
