"""Cost of the app on a trivial view: requests/s with and without it, same run.

    python benchmarks/bench_middleware.py [--requests 2000]

Django's test client drives the full handler stack in-process (sessions in the
Redis cache, authentication, a logged-in user) for a trivial view that reads
``request.user`` and for one that loads nothing, without the app and with
PorpoiseMiddleware (marks ``active``), then with one ``@track`` decorator in
both write modes; alternating rounds, keeping each variant's best.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import configure_django, redis_server

BASE_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


def configure(url: str) -> None:
    configure_django(
        url,
        __name__,
        ["django.contrib.sessions", "porpoise_django"],
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        MIDDLEWARE=BASE_MIDDLEWARE,
        PORPOISE={"KEY_PREFIX": "bench-mw"},
    )


urlpatterns: list = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with redis_server() as url:
        configure(url)
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.http import HttpResponse
        from django.test import Client, override_settings
        from django.urls import path

        from porpoise_django import delivery, services
        from porpoise_django.decorators import track

        def plain(request):
            # Reads the user, as nearly every view does (templates' auth
            # context processor): the app reads it to mark "active".
            return HttpResponse("ok" if request.user.is_authenticated else "anonymous")

        def bare(request):
            return HttpResponse("ok")

        @track("bench:hit")
        def tracked(request):
            return HttpResponse("ok")

        urlpatterns[:] = [path("plain/", plain), path("bare/", bare), path("tracked/", tracked)]
        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create_user("bench", password="pw")

        variants = {
            "without the app (view reads request.user)": (BASE_MIDDLEWARE, "/plain/", None),
            "without the app, view never loads the session or user": (
                BASE_MIDDLEWARE,
                "/bare/",
                None,
            ),
            "with the app, view reads request.user": (
                [*BASE_MIDDLEWARE, "porpoise_django.middleware.PorpoiseMiddleware"],
                "/plain/",
                "background",
            ),
            "with the app, view loads nothing": (
                [*BASE_MIDDLEWARE, "porpoise_django.middleware.PorpoiseMiddleware"],
                "/bare/",
                "background",
            ),
            "with the app and @track, background writes": (
                [*BASE_MIDDLEWARE, "porpoise_django.middleware.PorpoiseMiddleware"],
                "/tracked/",
                "background",
            ),
            "with the app and @track, sync writes": (
                [*BASE_MIDDLEWARE, "porpoise_django.middleware.PorpoiseMiddleware"],
                "/tracked/",
                "sync",
            ),
        }
        best = dict.fromkeys(variants, 0.0)
        rounds: list[dict[str, float]] = []
        for _ in range(args.rounds):
            rounds.append({})
            for name, (middleware, url_path, mode) in variants.items():
                porpoise = {"KEY_PREFIX": "bench-mw", "WRITE_MODE": mode or "sync"}
                with override_settings(MIDDLEWARE=middleware, PORPOISE=porpoise):
                    client = Client()
                    client.force_login(user)
                    client.get(url_path)  # warm up
                    start = time.perf_counter()
                    for _ in range(args.requests):
                        client.get(url_path)
                    if mode == "background":
                        delivery.flush(timeout=30)
                    rate = args.requests / (time.perf_counter() - start)
                    best[name] = max(best[name], rate)
                    rounds[-1][name] = rate
        pp = services.build_analytics()
        assert list(pp.event("bench:hit").day()) == [user.pk]
        assert list(pp.event("active").day()) == [user.pk]
        user_base = "without the app (view reads request.user)"
        bare_base = "without the app, view never loads the session or user"
        # Each variant against the bare view it wraps, with the targets.
        against = {
            "with the app, view reads request.user": (user_base, ">= 95%"),
            "with the app, view loads nothing": (bare_base, ">= 60%"),
            "with the app and @track, background writes": (user_base, "(info)"),
            "with the app and @track, sync writes": (user_base, "(info)"),
        }
        print(f"\n## Middleware cost ({args.requests} requests x {args.rounds} rounds)\n")
        print(
            "Best rate of each variant; the ratio is the median over rounds of the rate "
            "against its base in the same round (this machine's speed drifts by 20% "
            "between rounds, far more than the middleware costs).\n"
        )
        print("| variant | requests/s (best) | vs the same view without the app | target |")
        print("| --- | --- | --- | --- |")
        for name, rate in best.items():
            base, target = against.get(name, (name, ""))
            ratio = statistics.median(r[name] / r[base] for r in rounds)
            print(f"| {name} | {rate:,.0f} | {ratio:.0%} | {target} |")
        pp.delete_all()


if __name__ == "__main__":
    main()
