"""A pytest plugin (``-p tests.markdown_examples`` in pyproject's addopts) for the
Python examples of the docs and the README, which pytest-markdown-docs runs:
the names their prose takes as given, and the test server behind ``redis.Redis()``.

A plugin rather than a conftest: ``tests/conftest.py`` reaches only the items
under ``tests/``, and these live in ``docs/`` and ``README.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from porpoise_django.dev.embedded import ensure_server
from porpoise_django.engine import Analytics

#: The prefix the docs' examples write under (``Analytics(redis.Redis(), prefix="pp")``).
DOCS_PREFIX = "pp"


def pytest_markdown_docs_globals() -> dict[str, Any]:
    """Names the docs' examples take as given: a store (``pp``), the placeholders
    of the prose (``some_aware_datetime``, ``when``...) and your settings' lists."""
    import types

    import numpy as np

    now = dt.datetime.now(dt.UTC)
    client = redis.Redis.from_url(ensure_server())
    return {
        "pp": Analytics(client, prefix=DOCS_PREFIX),
        "some_aware_datetime": now - dt.timedelta(hours=2),
        "when": now - dt.timedelta(days=1),
        "ids_array": np.arange(1000),
        "epoch_seconds_array": np.full(1000, now.timestamp() - 60),
        "rows": [("signup", 5, now), ("visit", 5, now.date())],
        "song": types.SimpleNamespace(id=42),
        "INSTALLED_APPS": ["django.contrib.admin"],
        "MIDDLEWARE": ["django.contrib.auth.middleware.AuthenticationMiddleware"],
        "urlpatterns": [],
    }


@pytest.fixture(autouse=True)
def _docs_examples_use_the_test_server(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """In a Markdown example, ``redis.Redis()`` is the test server, and what the
    example wrote under ``pp:`` is deleted afterwards."""
    if getattr(request.node, "path", None) is None or request.node.path.suffix != ".md":
        yield
        return
    url = ensure_server()
    monkeypatch.setattr(redis, "Redis", lambda *a, **k: redis.StrictRedis.from_url(url))
    client = redis.StrictRedis.from_url(url)
    yield
    for key in list(client.scan_iter(match=f"{DOCS_PREFIX}:*", count=1000)):
        client.unlink(key)
    client.close()
