"""The REST API: a 30-day daily series of 20 events in one request.

    python benchmarks/bench_api.py [--requests 300]

Serves the API with Django's own development/test server (the WSGI server of
``runserver``) in a thread, loads 30 days of marks for 20 events (100,000
users), then times ``GET /api/porpoise/events/series/?names=...&period=30d``
over HTTP and counts the Redis round trips one request makes.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import configure_django, redis_server

urlpatterns: list = []
DB_PATH = str(Path(tempfile.gettempdir()) / f"porpoise-bench-api-{os.getpid()}.sqlite3")


def configure(url: str) -> None:
    configure_django(
        url,
        __name__,
        ["rest_framework", "drf_spectacular", "porpoise_django"],
        # A file: the threaded server gives every request a thread, and an
        # in-memory sqlite database exists only in the thread that made it.
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DB_PATH}},
        MIDDLEWARE=[],
        REST_FRAMEWORK={
            "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
            "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"],
        },
        PORPOISE={"KEY_PREFIX": "bench-api"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--users", type=int, default=100_000)
    args = parser.parse_args()
    with redis_server() as url:
        configure(url)
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
        from django.core.wsgi import get_wsgi_application
        from django.urls import include, path
        from redis.connection import AbstractConnection

        from porpoise_django.services import get_analytics

        urlpatterns[:] = [path("api/porpoise/", include("porpoise_django.api.urls"))]
        call_command("migrate", verbosity=0)
        get_user_model().objects.create_user("staff", password="pw", is_staff=True)
        pp = get_analytics()
        names = [f"event{i}" for i in range(20)]
        rng = np.random.default_rng(4)
        end = pp.now().timestamp()
        for name in names:
            n = args.users * 3
            pp.import_arrays(
                name, rng.integers(0, args.users, n), end - rng.integers(0, 30 * 86400, n)
            )

        class QuietHandler(WSGIRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

        server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler)
        server.set_app(get_wsgi_application())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        query = "names=" + ",".join(names) + "&period=30d"
        target = f"http://127.0.0.1:{port}/api/porpoise/events/series/?{query}"
        auth = "Basic " + base64.b64encode(b"staff:pw").decode()

        def fetch() -> bytes:
            request = urllib.request.Request(target, headers={"Authorization": auth})
            with urllib.request.urlopen(request) as response:
                assert response.status == 200
                return response.read()

        fetch()
        sent = [0]
        original = AbstractConnection.send_packed_command

        def counting(self, command, check_health=True):  # type: ignore[no-untyped-def]
            sent[0] += 1
            return original(self, command, check_health)

        AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
        try:
            body = fetch()
        finally:
            AbstractConnection.send_packed_command = original  # type: ignore[method-assign]
        latencies = []
        for _ in range(args.requests):
            start = time.perf_counter()
            fetch()
            latencies.append(time.perf_counter() - start)
        server.shutdown()
        latencies.sort()
        print(f"\n## API: 30-day daily series of 20 events, one request ({len(body):,} bytes)\n")
        print("| measure | value | target |")
        print("| --- | --- | --- |")
        print(f"| Redis round trips per request | {sent[0]} | 1 |")
        p50 = statistics.median(latencies) * 1e3
        print(f"| p50 latency (Django's test server, HTTP) | {p50:.1f} ms | (info) |")
        print(f"| p90 latency | {latencies[int(len(latencies) * 0.9)] * 1e3:.1f} ms | (info) |")
        print(f"| p99 latency | {latencies[int(len(latencies) * 0.99)] * 1e3:.1f} ms | (info) |")
        pp.delete_all()
    Path(DB_PATH).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
