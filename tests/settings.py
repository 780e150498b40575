"""Django settings for the test suite.

The Redis-compatible server comes from ``REDIS_URL`` or is started here from
the pip-installed valkey-server, so ``python runtests.py`` needs nothing else.
"""

import os

from corsheaders.defaults import default_headers

from porpoise_django.dev.embedded import ensure_server

# Under pytest-xdist (runtests.py) each worker starts a server of its own rather
# than sharing the one the controlling process started: tests that flush scripts
# or count round trips must not meet another worker's SCRIPT FLUSH. A REDIS_URL
# the user gave is shared by every worker, as before.
if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("REDIS_URL") == os.environ.get(
    "PORPOISE_SUITE_SERVER"
):
    os.environ.pop("REDIS_URL", None)
_started_here = not os.environ.get("REDIS_URL")
REDIS_URL = ensure_server()
if _started_here and not os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["PORPOISE_SUITE_SERVER"] = REDIS_URL
SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
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
    "corsheaders",
    "porpoise_django",
    "tests.testapp",
]
MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "porpoise_django.middleware.PorpoiseMiddleware",
]
ROOT_URLCONF = "tests.urls"
# Cross-origin tracking (PORPOISE["TRACK_ALLOWED_ORIGINS"]): the token header may
# be asked for in a preflight; no other origin is allowed anything.
CORS_ALLOW_HEADERS = (*default_headers, "x-porpoise-token")
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    # A second database: marks follow the commit of the database they came from.
    "other": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "pptest-cache",
    }
}
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
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
SPECTACULAR_SETTINGS = {"TITLE": "porpoise-django", "VERSION": "0.1.0"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests
# Each test gets its own KEY_PREFIX (tests/conftest.py); this is the fallback.
PORPOISE = {"KEY_PREFIX": "pptest-django", "WRITE_MODE": "sync"}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"porpoise_django": {"handlers": ["console"], "level": "WARNING"}},
}
