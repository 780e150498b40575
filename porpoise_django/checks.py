"""System checks (``manage.py check``): one problem per id, each with a hint.

========================  ======================================================
``porpoise_django.E001``  ``CACHE_ALIAS`` is not in ``CACHES``
``porpoise_django.E002``  that cache is not a django-redis cache
``porpoise_django.E003``  a value the engine refuses (the message names the
                          allowed values)
``porpoise_django.E004``  a bad ``MODEL_EVENTS`` entry
``porpoise_django.E005``  ``PORPOISE`` is not a dict
``porpoise_django.E006``  an unknown ``WRITE_MODE``
``porpoise_django.E007``  ``ANONYMOUS_ACTIVE_EVENT`` without ``ID_MODE`` "map"
``porpoise_django.E008``  an event-name setting that is not a valid event name
``porpoise_django.E009``  a dotted-path setting that cannot be imported
``porpoise_django.E010``  the spool folder (or the one it is in) belongs to
                          another user or is writable by others
``porpoise_django.E030``  ``VIEW_PERMISSION`` is not ``"app_label.codename"``
``porpoise_django.E031``  a new-chunk budget (``TRACK_MAX_NEW_CHUNKS``,
                          ``TRACK_NEW_CHUNKS_PER_DAY``) is not an int from 0
``porpoise_django.E040``  ``PERSON_PROPERTIES`` is not a dict of property name ->
                          attribute path or dotted path of a callable
``porpoise_django.E041``  ``FORGET_ON_USER_DELETE`` is not True or False
``porpoise_django.W041``  ``FORGET_ON_USER_DELETE`` is on, but deleting a user (or
                          a user through a proxy model) would not forget them:
                          the receiver is not connected
``porpoise_django.W001``  an unknown ``PORPOISE`` key
``porpoise_django.W002``  the middleware runs before authentication
``porpoise_django.W003``  the API without Swagger UI's files (``docs/`` blank)
``porpoise_django.W004``  ``TRACK_ALLOWED_ORIGINS`` without django-cors-headers
                          set up to answer them
``porpoise_django.W030``  ``API_PERMISSION_CLASSES`` without ``HasViewPermission``
                          (the read API ignores ``VIEW_PERMISSION``)
========================  ======================================================
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

from porpoise_django.conf import DEFAULTS, IMPORT_STRINGS, porpoise_settings
from porpoise_django.engine import Analytics, IdMapMismatch, validate_name
from porpoise_django.middleware import PorpoiseMiddleware
from porpoise_django.services import engine_options

#: Settings that name an event marked by the middleware or the receivers.
EVENT_NAME_SETTINGS = (
    "ACTIVE_EVENT",
    "ANONYMOUS_ACTIVE_EVENT",
    "LOGIN_EVENT",
    "LOGOUT_EVENT",
    "SIGNUP_EVENT",
)
MODEL_EVENT_KEYS = frozenset({"created", "updated", "deleted", "user"})


def _error(number: int, msg: str, hint: str) -> Error:
    return Error(msg, hint=hint, id=f"porpoise_django.E{number:03d}")


@register()
def check_storage(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001: the cache alias is missing; E002: it is not a django-redis cache."""
    if porpoise_settings.REDIS_URL:
        return []
    alias = porpoise_settings.CACHE_ALIAS
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [
            _error(
                1,
                f"PORPOISE['CACHE_ALIAS'] is {alias!r}, which is not in CACHES.",
                "Add a django-redis cache under that alias, point CACHE_ALIAS at one, "
                "or set PORPOISE['REDIS_URL'].",
            )
        ]
    backend = caches[alias].get("BACKEND", "")
    if not backend.startswith("django_redis."):
        return [
            _error(
                2,
                f"CACHES[{alias!r}] uses {backend!r}, not django-redis: porpoise needs its "
                "Redis connection.",
                "Use 'django_redis.cache.RedisCache' for that cache, or set PORPOISE['REDIS_URL'].",
            )
        ]
    return []


@register()
def check_settings_dict(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E005: ``PORPOISE`` is not a dict; W001: it has unknown keys."""
    user = getattr(settings, "PORPOISE", {})
    if not isinstance(user, dict):
        return [_error(5, "PORPOISE must be a dict.", "PORPOISE = {'KEY_PREFIX': 'pp', ...}")]
    unknown = sorted(set(user) - set(DEFAULTS))
    if not unknown:
        return []
    return [
        Warning(
            f"Unknown PORPOISE settings: {', '.join(unknown)}.",
            hint=f"Known settings: {', '.join(sorted(DEFAULTS))}.",
            id="porpoise_django.W001",
        )
    ]


@register()
def check_engine_values(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E003: build an engine (no connection is made) to let it validate the values."""
    try:
        Analytics(None, **engine_options())
    except (ValueError, TypeError) as exc:
        return [
            _error(
                3,
                f"Invalid PORPOISE setting: {exc}",
                "See the PORPOISE settings table in porpoise-django's docs (docs/django.md).",
            )
        ]
    return []


@register()
def check_model_events(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E004: each ``MODEL_EVENTS`` entry names a model, known keys and valid names."""
    spec = porpoise_settings.MODEL_EVENTS
    if not isinstance(spec, dict):
        spec = {"?": spec}
    return [
        _error(
            4,
            f"PORPOISE['MODEL_EVENTS']: {problem}.",
            "Example: {'shop.Order': {'created': 'order:created', 'user': 'customer'}}",
        )
        for label, options in spec.items()
        if (problem := _model_events_problem(label, options))
    ]


def _model_events_problem(label: str, options: Any) -> str | None:
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return f"{label!r} is not an installed model ('app_label.ModelName')"
    if not isinstance(options, dict) or not set(options) <= MODEL_EVENT_KEYS:
        return f"{label!r} must map to a dict with keys created, updated, deleted, user"
    for key in ("created", "updated", "deleted"):
        if options.get(key) is not None:
            try:
                validate_name(options[key])
            except ValueError as exc:
                return f"{label!r}: {key}: {exc}"
    user = options.get("user")
    if user:
        field_names = {f.name for f in model._meta.get_fields()}
        if user not in field_names and not hasattr(model, user):
            return f"{label!r}: 'user' names no field or attribute {user!r}"
    return None


@register()
def check_write_mode(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E006: ``WRITE_MODE`` is "background" or "sync"."""
    mode = porpoise_settings.WRITE_MODE
    if mode in ("background", "sync"):
        return []
    return [
        _error(6, f"PORPOISE['WRITE_MODE'] is {mode!r}.", "Use 'background' (default) or 'sync'.")
    ]


@register()
def check_anonymous_ids(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E007: anonymous users are marked by session key, a string id."""
    if not porpoise_settings.ANONYMOUS_ACTIVE_EVENT or porpoise_settings.ID_MODE == "map":
        return []
    return [
        _error(
            7,
            "PORPOISE['ANONYMOUS_ACTIVE_EVENT'] marks session keys, which need ID_MODE 'map'.",
            "Set PORPOISE['ID_MODE'] = 'map', or ANONYMOUS_ACTIVE_EVENT = None.",
        )
    ]


@register()
def check_event_names(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E008: a bad event name here would fail every request (or login) that marks it."""
    messages: list[CheckMessage] = []
    for setting in EVENT_NAME_SETTINGS:
        name = getattr(porpoise_settings, setting)
        if name is None:
            continue
        try:
            validate_name(name)
        except ValueError as exc:
            messages.append(
                _error(
                    8,
                    f"PORPOISE[{setting!r}] is not a valid event name: {exc}",
                    "Use 1 to 128 letters, digits and _ . : / @ + -, or None to switch "
                    "the mark off.",
                )
            )
    return messages


@register()
def check_imports(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E009: every dotted-path setting imports (they are imported once, on first use)."""
    messages: list[CheckMessage] = []
    for setting in sorted(IMPORT_STRINGS):
        try:
            getattr(porpoise_settings, setting)
        except ImportError as exc:
            messages.append(
                _error(
                    9,
                    str(exc),
                    "Give the dotted path of a class or function, e.g. "
                    "'rest_framework.permissions.IsAdminUser'.",
                )
            )
    return messages


@register()
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W002: the middleware (or a subclass) runs before authentication, so it never
    sees the user."""
    ours = auth = None
    for position, path in enumerate(getattr(settings, "MIDDLEWARE", None) or []):
        try:
            middleware = import_string(path)
        except ImportError:
            continue  # Django reports it when it loads the middleware
        if not isinstance(middleware, type):
            continue
        if ours is None and issubclass(middleware, PorpoiseMiddleware):
            ours = (position, path)
        if auth is None and issubclass(middleware, AuthenticationMiddleware):
            auth = position
    if ours is None or (auth is not None and auth < ours[0]):
        return []
    return [
        Warning(
            f"{ours[1]} comes before AuthenticationMiddleware (or that is missing): "
            "no user will be marked active.",
            hint=f"Put {ours[1]} after django.contrib.auth.middleware.AuthenticationMiddleware "
            "in MIDDLEWARE.",
            id="porpoise_django.W002",
        )
    ]


@register()
def check_api_docs(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W003: the API's Swagger UI (``docs/``) serves its files from
    drf-spectacular-sidecar's static folder, found only if that app is installed."""
    if not apps.is_installed("drf_spectacular") or apps.is_installed("drf_spectacular_sidecar"):
        return []
    return [
        Warning(
            "drf_spectacular_sidecar is not in INSTALLED_APPS: the API's Swagger UI "
            "(docs/) would find none of its files.",
            hint="Add 'drf_spectacular_sidecar' to INSTALLED_APPS (it is installed with "
            "porpoise-django).",
            id="porpoise_django.W003",
        )
    ]


@register()
def check_cors(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W004: origins allowed to track, but nothing answers their CORS requests:
    django-cors-headers' app and middleware, and ``X-Porpoise-Token`` among the
    headers a preflight may ask for."""
    from porpoise_django.conf import porpoise_settings

    origins = porpoise_settings.TRACK_ALLOWED_ORIGINS
    if not origins:
        return []
    problems = []
    if not apps.is_installed("corsheaders"):
        problems.append("'corsheaders' is not in INSTALLED_APPS")
    if "corsheaders.middleware.CorsMiddleware" not in settings.MIDDLEWARE:
        problems.append("corsheaders.middleware.CorsMiddleware is not in MIDDLEWARE")
    allowed = [h.lower() for h in getattr(settings, "CORS_ALLOW_HEADERS", ())]
    if "x-porpoise-token" not in allowed:
        problems.append("'x-porpoise-token' is not in CORS_ALLOW_HEADERS")
    if not problems:
        return []
    return [
        Warning(
            "PORPOISE['TRACK_ALLOWED_ORIGINS'] is set, but browsers on those origins "
            f"would be refused: {'; '.join(problems)}.",
            hint="Add 'corsheaders' to INSTALLED_APPS, "
            "'corsheaders.middleware.CorsMiddleware' near the top of MIDDLEWARE, and "
            'CORS_ALLOW_HEADERS = (*corsheaders.defaults.default_headers, "x-porpoise-token").',
            id="porpoise_django.W004",
        )
    ]


@register()
def check_spool_folder(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E010: anyone who can write to the spool folder could plant writes that this
    project would replay as its own, so the spool refuses such a folder (outage
    writes then wait in memory only)."""
    from porpoise_django.delivery import folder

    where = folder.project_folder()
    for candidate, strict in ((where.parent, False), (where, True)):
        found = folder.problem(candidate, strict=strict)
        if found is not None:
            return [
                _error(
                    10,
                    f"the spool folder cannot be used: {found}",
                    "Give the folder to the user the site runs as, with mode 0700 "
                    "(chown, chmod go-w), or set PORPOISE['SPOOL_DIR'] to a folder of its own.",
                )
            ]
    return []


@register()
def check_tracking_bounds(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E030: ``VIEW_PERMISSION`` is not ``"app_label.codename"`` (or None); E031: a
    new-chunk budget is not an int from 0; W030: ``API_PERMISSION_CLASSES`` set
    without ``HasViewPermission``, so the read API ignores ``VIEW_PERMISSION``."""
    problems: list[CheckMessage] = []
    permission = porpoise_settings.VIEW_PERMISSION
    if permission is not None and (
        not isinstance(permission, str) or permission.count(".") != 1 or " " in permission
    ):
        problems.append(
            _error(
                30,
                f"PORPOISE['VIEW_PERMISSION'] is {permission!r}, not a permission name.",
                "Name a permission as 'app_label.codename' (the default is "
                "'porpoise_django.view_analytics'), or None to let the site's staff in.",
            )
        )
    for setting in ("TRACK_MAX_NEW_CHUNKS", "TRACK_NEW_CHUNKS_PER_DAY"):
        value = getattr(porpoise_settings, setting)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(
                _error(
                    31,
                    f"PORPOISE[{setting!r}] is {value!r}, not an int from 0.",
                    "An open token may create this many new id chunks (128 KiB per "
                    "bucket each); 0 refuses ids in chunks that do not exist yet.",
                )
            )
    try:
        from porpoise_django.api.views import HasViewPermission

        classes = porpoise_settings.API_PERMISSION_CLASSES
    except ImportError:  # no DRF, or a path E009 reports
        return problems
    names = {getattr(cls, "__name__", "") for cls in classes}
    if permission and "AllowAny" not in names and HasViewPermission not in classes:
        problems.append(
            Warning(
                "PORPOISE['API_PERMISSION_CLASSES'] does not include HasViewPermission: "
                "the read API does not ask for PORPOISE['VIEW_PERMISSION'] (the dashboards do).",
                hint="Add 'porpoise_django.api.views.HasViewPermission' to "
                "API_PERMISSION_CLASSES, or set VIEW_PERMISSION to None if that is meant.",
                id="porpoise_django.W030",
            )
        )
    return problems


@register()
def check_person_properties(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E040: ``PERSON_PROPERTIES`` maps property names to where their values come from."""
    configured = porpoise_settings.PERSON_PROPERTIES
    hint = (
        'Use {"plan": "profile.plan", "country": "myapp.analytics.country_of"}: an '
        "attribute path on the user, or the dotted path of a callable taking the user."
    )
    if not isinstance(configured, dict):
        return [_error(40, f"PORPOISE['PERSON_PROPERTIES'] is {configured!r}, not a dict.", hint)]
    problems: list[CheckMessage] = []
    for name, path in configured.items():
        try:
            validate_name(name, what="property name")
        except ValueError as exc:
            problems.append(_error(40, f"PORPOISE['PERSON_PROPERTIES']: {exc}", hint))
            continue
        if not isinstance(path, str) or not path:
            problems.append(
                _error(40, f"PORPOISE['PERSON_PROPERTIES'][{name!r}] is {path!r}.", hint)
            )
    return problems


@register()
def check_id_map_shards(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E020: in "map" id mode, ``ID_MAP_SHARDS`` is the shard count the id map in
    Redis was made with (one round trip; skipped when Redis does not answer)."""
    if porpoise_settings.ID_MODE != "map":
        return []
    from porpoise_django import services

    try:
        services.get_analytics().id_codec.stored_shards()  # type: ignore[union-attr]
    except IdMapMismatch as exc:
        return [
            Error(
                str(exc),
                hint="Set PORPOISE['ID_MAP_SHARDS'] to the stored number (every process "
                "the same), or purge the data (porpoise_purge) to make a map of another size.",
                id="porpoise_django.E020",
            )
        ]
    except Exception:  # Redis unreachable or not configured: other checks say so
        return []
    return []


@register()
def check_active_check_seconds(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E021: ``ACTIVE_CHECK_SECONDS`` is a number of seconds from 0."""
    value = porpoise_settings.ACTIVE_CHECK_SECONDS
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 86400:
        return []
    return [
        Error(
            f"PORPOISE['ACTIVE_CHECK_SECONDS'] is {value!r}: it must be a number of seconds "
            "from 0 to 86399.",
            hint="How often the 'active once per bucket' set reads the store's epoch; "
            "1.0 is the default, 0 reads it on every request that would skip.",
            id="porpoise_django.E021",
        )
    ]


@register()
def check_forget_on_user_delete(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E041: ``FORGET_ON_USER_DELETE`` is a bool (the string "False" would be on);
    W041: it is on, but the user model's ``post_delete`` (or a proxy model's) does
    not reach the receiver, so deleting a user would not forget them."""
    from porpoise_django.tracking import forgetting

    value = porpoise_settings.FORGET_ON_USER_DELETE
    if not isinstance(value, bool):
        return [
            _error(
                41,
                f"PORPOISE['FORGET_ON_USER_DELETE'] is {value!r}, not True or False.",
                "True (the default) forgets a user in the analytics when the user is "
                "deleted; False leaves it to 'manage.py porpoise_forget' and the admin "
                "action. Any other value (even the string 'False') would count as on.",
            )
        ]
    if not value:
        return []
    # Without django.contrib.auth there is no user model: nothing to connect to.
    missing = [m._meta.label for m in forgetting.user_models() if not forgetting.connected(m)]
    if not missing:
        return []
    return [
        Warning(
            "PORPOISE['FORGET_ON_USER_DELETE'] is on, but deleting a user through "
            f"{', '.join(missing)} would not forget them: the post_delete receiver is not "
            "connected to it.",
            hint="Keep 'porpoise_django' (its AppConfig, whose ready() connects the "
            "receiver) in INSTALLED_APPS, do not disconnect the receiver, and define proxy "
            "models of the user model in installed apps (they are connected at start-up); "
            "or set FORGET_ON_USER_DELETE to False and forget users yourself.",
            id="porpoise_django.W041",
        )
    ]
