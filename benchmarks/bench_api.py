"""The REST API: a 30-day daily series of 20 events in one request.

    python benchmarks/bench_api.py [--requests 300]

Serves the API with Django's own development/test server (the WSGI server of
``runserver``) in a thread, loads 30 days of marks for 20 events (100,000
users), then times ``GET /api/porpoise/events/series/?names=...&period=30d``
over HTTP and counts the Redis round trips one request makes.

Then the example project under gunicorn (2 workers x 4 threads, needs the
``bench`` extra), with concurrent clients on the same series, a 30 x 30 cohort
table and the tracking endpoint in turn: requests/s, p50 and p99 of each.
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
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import configure_django, example_env, example_under_gunicorn, redis_server

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
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (gunicorn)")
    parser.add_argument(
        "--gunicorn-seconds", type=float, default=10.0, help="per endpoint; 0 skips gunicorn"
    )
    args = parser.parse_args()
    with redis_server() as url:
        configure(url)
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
        from django.core.wsgi import get_wsgi_application
        from django.urls import include, path
        from redis.connection import AbstractConnection

        from porpoise_django.apps import view_permission
        from porpoise_django.services import get_analytics

        urlpatterns[:] = [path("api/porpoise/", include("porpoise_django.api.urls"))]
        call_command("migrate", verbosity=0)
        staff = get_user_model().objects.create_user("staff", password="pw", is_staff=True)
        staff.user_permissions.add(view_permission())  # VIEW_PERMISSION: the read API's
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
    if args.gunicorn_seconds > 0:
        under_gunicorn(args)


def drive(
    port: int,
    method: str,
    target: str,
    body: str | None,
    headers: dict[str, str],
    clients: int,
    seconds: float,
) -> tuple[list[float], dict[int, int], float]:
    """``clients`` threads sending the same request for ``seconds``: latencies,
    status counts and the wall time taken."""
    import http.client

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            with lock:
                latencies.append(time.perf_counter() - started)
                statuses[response.status] = statuses.get(response.status, 0) + 1
        conn.close()

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses, time.monotonic() - began


def under_gunicorn(args: argparse.Namespace) -> None:
    """The example project under gunicorn (2 workers x 4 threads), concurrent clients
    on three endpoints in turn: p50/p99 latency and requests/s of each."""
    import json
    import subprocess

    from porpoise_django.dev.embedded import EmbeddedServer
    from porpoise_django.engine import Analytics

    names = [f"event{i}" for i in range(20)]
    with EmbeddedServer() as server, tempfile.TemporaryDirectory() as folder:
        prefix = f"apibench{os.getpid()}"
        pp = Analytics(redis.Redis.from_url(server.url), prefix=prefix, tz="Europe/Paris")
        rng = np.random.default_rng(4)
        end = pp.now().timestamp()
        for name in [*names, "signup", "active"]:
            n = args.users * 3
            pp.import_arrays(
                name, rng.integers(0, args.users, n), end - rng.integers(0, 30 * 86400, n)
            )
        env = example_env(server.url, folder, prefix, "bench-api-only")
        env["DJANGO_SUPERUSER_PASSWORD"] = "pw-for-the-benchmark"
        manage = str(Path(__file__).resolve().parent.parent / "example_project" / "manage.py")
        subprocess.run([sys.executable, manage, "migrate", "-v", "0"], env=env, check=True)
        subprocess.run(
            [sys.executable, manage, "createsuperuser", "--noinput", "--username", "staff",
             "--email", "staff@example.com"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        token = subprocess.run(
            [sys.executable, manage, "shell", "-c",
             "from porpoise_django.api.tokens import make_track_token as m;"
             "print(m(events=['bench'], counters=['bench']))"],
            env=env, check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        # A session cookie, as a staff browser has: basic auth would hash the
        # password (PBKDF2, on purpose slow) on every request.
        session = subprocess.run(
            [sys.executable, manage, "shell", "-c",
             "from django.test import Client; from django.contrib.auth import get_user_model;"
             "c = Client(); c.force_login(get_user_model().objects.get(username='staff'));"
             "print(c.cookies['sessionid'].value)"],
            env=env, check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        cohorts = "select1=signup&select2=active&granularity=day&cohorts=30&offsets=29"
        endpoints = {
            "series of 20 events, 30 days": (
                "GET", f"/api/porpoise/events/series/?names={','.join(names)}&period=30d", None
            ),
            "cohort table, 30 x 30 days": ("GET", f"/api/porpoise/cohorts/?{cohorts}", None),
            "track/, 2 rows": (
                "POST", "/api/porpoise/track/",
                json.dumps({"rows": [{"event": "bench", "id": 7}, {"counter": "bench"}]}),
            ),
        }  # fmt: skip
        rows = []
        with example_under_gunicorn(env, workers=2) as port:
            for label, (method, target, body) in endpoints.items():
                headers = {"Cookie": f"sessionid={session}"}
                if body is not None:
                    headers = {"Content-Type": "application/json", "X-Porpoise-Token": token}
                latencies, statuses, took = drive(
                    port, method, target, body, headers, args.clients, args.gunicorn_seconds
                )
                latencies.sort()
                ok = all(code < 300 for code in statuses)
                rows.append((label, latencies, len(latencies) / took, ok, statuses))
    print(
        f"\n## The example project under gunicorn (2 workers x 4 threads), {args.clients} "
        f"clients, {args.gunicorn_seconds:.0f} s per endpoint ({args.users:,} users)\n"
    )
    print("| endpoint | requests/s | p50 | p99 | statuses |")
    print("| --- | --- | --- | --- | --- |")
    for label, latencies, rate, ok, statuses in rows:
        p50 = statistics.median(latencies) * 1e3
        p99 = latencies[int(len(latencies) * 0.99)] * 1e3
        print(f"| {label} | {rate:,.0f} | {p50:.1f} ms | {p99:.1f} ms | {statuses} |")
        if not ok:
            sys.exit(f"FAILED: {label} answered {statuses}")


if __name__ == "__main__":
    main()
