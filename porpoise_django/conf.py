"""The ``PORPOISE`` settings dict, merged over defaults and read when used.

Like DRF's ``api_settings``: attribute access reads ``settings.PORPOISE`` (or
the default), values are cached until Django's ``setting_changed`` signal says
``PORPOISE`` or ``TIME_ZONE`` changed (``override_settings`` in tests).

>>> from django.conf import settings
>>> from porpoise_django.conf import DEFAULTS, porpoise_settings
>>> DEFAULTS["KEY_PREFIX"]
'pp'
>>> porpoise_settings.KEY_PREFIX == (settings.PORPOISE.get("KEY_PREFIX") or "pp")
True
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    # Storage: the django-redis cache whose connection is shared, or a URL.
    "CACHE_ALIAS": "default",
    "REDIS_URL": None,
    # True: REDIS_URL names a node of a Redis Cluster (redis.cluster.RedisCluster);
    # it may then name several, as a list or comma-separated ("redis://a:7000,
    # redis://b:7000"): the client is built on first use from every one of them
    # and from the nodes the cluster made known; if none answers, writes spool.
    "REDIS_CLUSTER": False,
    # Seconds a client made from REDIS_URL waits on Redis (connect and reply);
    # failures are buffered, so a slow Redis never holds a request long.
    # (For the cache alias, set django-redis' SOCKET_TIMEOUT in CACHES.)
    "SOCKET_TIMEOUT": 1.0,
    "KEY_PREFIX": "pp",
    "CHUNK_BITS": 20,
    "ID_MODE": "int",
    # "map" mode: slots the id map is spread over (1: one slot). Set it once,
    # before ids are mapped; 16 or more on a Redis Cluster of many nodes.
    "ID_MAP_SHARDS": 1,
    # None: Django's TIME_ZONE.
    "TIME_ZONE": None,
    "GRANULARITIES": ["day", "week", "month"],
    "COUNTER_GRANULARITIES": ["hour", "day", "week", "month"],
    # Seconds to keep each granularity after its period ends, e.g. {"hour": 604800}.
    "RETENTION": {},
    "MAX_RANGE_BUCKETS": 5000,
    # Bounds on what anyone may write: the largest id in "int" mode (larger or
    # sparse ids belong in ID_MODE "map"), how far ahead of now a time may be,
    # the largest absolute counter or metric increment.
    "MAX_ID": 2**32 - 1,
    "MAX_FUTURE_SECONDS": 86400,
    "MAX_INCREMENT": 1e12,
    # Middleware: the event marked for authenticated users (None: off), paths
    # skipped (regular expressions), and anonymous users by session key under
    # their own event (needs ID_MODE "map").
    "ACTIVE_EVENT": "active",
    "ACTIVE_SKIP_PATHS": [r"^/static/", r"^/media/", r"^/favicon\.ico$"],
    "ANONYMOUS_ACTIVE_EVENT": None,
    # Seconds between two reads of the store's epoch by the "active once per
    # bucket" set: after a purge, a FLUSHDB or an empty restart the set starts
    # over within this time (0: read it on every request that would skip).
    "ACTIVE_CHECK_SECONDS": 1.0,
    # Built-in signal receivers; None switches one off.
    "LOGIN_EVENT": "login",
    "LOGOUT_EVENT": "logout",
    "SIGNUP_EVENT": "signup",
    # Declarative marks on model changes:
    # {"shop.Order": {"created": "order:created", "user": "customer"}}
    "MODEL_EVENTS": {},
    # Deleting a user (the user model's post_delete) forgets user.pk in the
    # analytics: every bitmap, unique event, segment, per-id counter entry.
    "FORGET_ON_USER_DELETE": True,
    # Person properties synced from the user model on save (and by
    # porpoise_sync_properties): {"plan": "profile.plan", "country": "myapp.x.country_of"}.
    "PERSON_PROPERTIES": {},
    # Values kept per property; more are counted together as "$other".
    "MAX_PROPERTY_VALUES": 50,
    # Decorators mark when this predicate (dotted path, or None for 2xx) is true.
    "MARK_RESPONSE_PREDICATE": None,
    # REST API (porpoise_django.api): who may read, and the tracking endpoint.
    "API_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAdminUser",
        "porpoise_django.api.views.HasViewPermission",
    ],
    # The Django permission the dashboards and the read API require (besides
    # what the admin site asks: staff); superusers have it. None: staff is enough.
    "VIEW_PERMISSION": "porpoise_django.view_analytics",
    # What each name means, shown beside it on the dashboards' overview:
    # {"signup": "account created", "revenue": "EUR, from the checkout"}.
    "DESCRIPTIONS": {},
    # Who may record decision outcomes (POST decisions/record/): a write, so
    # it has its own setting; staff with VIEW_PERMISSION by default.
    "DECISION_RECORD_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAdminUser",
        "porpoise_django.api.views.HasViewPermission",
    ],
    # True: the OpenAPI schema and Swagger UI are public (they follow
    # API_PERMISSION_CLASSES otherwise).
    "API_DOCS_PUBLIC": False,
    "TRACK_PERMISSION_CLASSES": ["porpoise_django.api.tokens.IsAuthenticatedOrSignedToken"],
    "TRACK_THROTTLE_RATE": "600/minute",
    # Names the tracking endpoint accepts from callers who are not staff (a
    # signed token's own names are allowed too): nobody outside can create
    # names without limit. Patterns with "*" at the end match prefixes.
    "TRACK_EVENTS": [],
    "TRACK_COUNTERS": [],
    # Event properties non-staff callers (tokens, sessions) may send with marks.
    "TRACK_PROPERTIES": [],
    # Who may write for ids other than their own through a session: staff, or
    # users passing this permission class (dotted path), e.g. a DRF class.
    "TRACK_ANY_ID_PERMISSION": None,
    # Proxies in front of Django that append to X-Forwarded-For; 0 (default)
    # trusts only the socket's address, so a client cannot pick its own.
    "NUM_PROXIES": 0,
    "TRACK_MAX_ROWS": 1000,
    # Origins ("https://shop.example.com") whose pages may call track/ and
    # track/pixel.gif from the browser (CORS, through django-cors-headers).
    "TRACK_ALLOWED_ORIGINS": [],
    "TRACK_TOKEN_MAX_AGE": 30 * 86400,
    # The salt of tracking tokens (None: derived from KEY_PREFIX and the Redis
    # target): another deployment sharing SECRET_KEY cannot write here.
    "TRACK_TOKEN_SALT": None,
    # An open token (no id: any id) may allocate at most this many new id
    # chunks (128 KiB per bucket each) per request, and per token per day.
    "TRACK_MAX_NEW_CHUNKS": 1,
    "TRACK_NEW_CHUNKS_PER_DAY": 8,
    # Seconds a count's idempotency token lives; also how long a spooled count
    # may wait before it is no longer sent again automatically (it becomes a
    # dead letter marked "expired"). Raise it if outages may last longer.
    "IDEMPOTENCY_TTL": 86400,
    # "background": a writer thread sends the marks of all requests (a response
    # never waits on Redis); "sync": each request writes before it returns.
    "WRITE_MODE": "background",
    # Outage handling: writes Redis refused go to a durable spool on local disk
    # (one SQLite file per process, in a folder of this project under SPOOL_DIR;
    # None: the user's cache folder, ~/.cache/porpoise-django), at most
    # SPOOL_MAX_BYTES per process (public tracking rows at most half of it);
    # rows the engine refuses are kept as dead letters, at most
    # DEAD_LETTERS_MAX_BYTES per file; BUFFER_SIZE writes are kept in memory
    # only if the spool cannot be written. RETRY_SECONDS is the first pause
    # before trying Redis again (doubling up to a minute).
    "SPOOL_DIR": None,
    "SPOOL_MAX_BYTES": 100 * 2**20,
    "DEAD_LETTERS_MAX_BYTES": 16 * 2**20,
    "BUFFER_SIZE": 100_000,
    "RETRY_SECONDS": 2.0,
}


#: Settings given as dotted paths (or lists of them), imported on first use
#: and cached like every value: a request never imports a path again.
IMPORT_STRINGS = frozenset(
    {
        "API_PERMISSION_CLASSES",
        "TRACK_PERMISSION_CLASSES",
        "DECISION_RECORD_PERMISSION_CLASSES",
        "MARK_RESPONSE_PREDICATE",
        "TRACK_ANY_ID_PERMISSION",
    }
)
#: Django settings whose change makes cached porpoise settings stale.
WATCHED_SETTINGS = frozenset({"PORPOISE", "TIME_ZONE", "CACHES"})


def perform_import(value: Any, setting: str) -> Any:
    """Import a dotted path, or each of a list of them; other values pass through."""
    if isinstance(value, str):
        try:
            return import_string(value)
        except ImportError as exc:
            raise ImportError(f"PORPOISE[{setting!r}]: could not import {value!r}: {exc}") from exc
    if isinstance(value, (list, tuple)):
        return [perform_import(item, setting) for item in value]
    return value


class PorpoiseSettings:
    """Attribute access to ``settings.PORPOISE`` merged over :data:`DEFAULTS`;
    settings named in :data:`IMPORT_STRINGS` come back imported."""

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        self.defaults = defaults or DEFAULTS
        self._cached: set[str] = set()

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, "PORPOISE", None) or {}
        return value if isinstance(value, dict) else {}

    def __getattr__(self, attr: str) -> Any:
        if attr not in self.defaults:
            raise AttributeError(f"invalid porpoise setting: {attr!r}")
        value = self.user_settings.get(attr, self.defaults[attr])
        if attr == "TIME_ZONE" and value is None:
            value = settings.TIME_ZONE or "UTC"
        if attr in IMPORT_STRINGS:
            value = perform_import(value, attr)
        setattr(self, attr, value)
        self._cached.add(attr)
        return value

    def reload(self) -> None:
        # Background threads (writer, replayer) read settings while a test or a
        # settings change reloads them: iterate over a copy, and tolerate a name
        # whose value another thread has not set yet or has just dropped.
        for attr in list(self._cached):
            self.__dict__.pop(attr, None)
        self._cached.clear()


porpoise_settings = PorpoiseSettings()


@receiver(setting_changed)
def reload_porpoise_settings(*, setting: str, **kwargs: Any) -> None:
    """Forget cached settings when Django's settings change (``override_settings``).

    Only the settings object: what is built from settings (the engine, the
    receivers) listens to ``setting_changed`` itself.
    """
    if setting in WATCHED_SETTINGS:
        porpoise_settings.reload()
