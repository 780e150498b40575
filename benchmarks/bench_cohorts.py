"""The cohort page against bitmapist's cohort table, same data, same server, same run.

    python benchmarks/bench_cohorts.py [--users 1000000]

The data set of bench_events.py (signups over 30 days, ~28% daily actives);
a 30 x 30 daily table: bitmapist's ``cohort.get_dates_data`` (one BITOP and
BITCOUNT per cell, each a round trip) against porpoise-django's cohort page
(the admin view, rendered) and its engine call alone (one pipeline).

``--workload any`` (or ``sparse``, ``rare``) tables an event over all users
instead, active -> active: 20% (0.5%, 0.05%) of the users a day, from a pool
of 40% (1%, 0.1%) with a per-user daily probability. The cells are checked
equal to bitmapist's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_of, configure_django, peer_buckets, redis_server, run_peer
from bench_events import ANY_EVENT_WORKLOADS, make_any_event, make_data

UTC = dt.UTC
urlpatterns: list = []


def configure(url: str) -> None:
    configure_django(
        url,
        __name__,
        [
            "django.contrib.admin",
            "django.contrib.sessions",
            "django.contrib.messages",
            "porpoise_django",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
            }
        ],
        PORPOISE={"KEY_PREFIX": "bench-co"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    workloads = ["signup", *(name for name, _ in ANY_EVENT_WORKLOADS)]
    parser.add_argument("--workload", choices=workloads, default="signup")
    args = parser.parse_args()
    end = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(
        days=1
    )
    with redis_server() as url:
        configure(url)
        from django.contrib import admin
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.test import RequestFactory
        from django.urls import path

        from porpoise_django.admin import views as admin_views
        from porpoise_django.engine import cohort_table
        from porpoise_django.services import get_analytics

        urlpatterns[:] = [path("admin/", admin.site.urls)]
        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create_superuser("staff", password="pw")
        pp = get_analytics()
        if args.workload == "signup":
            select1, select2 = "signup", "active"
            signup_ts, active_ids, active_ts = make_data(args.users, args.days, end)
            pp.import_arrays("signup", np.arange(args.users), signup_ts)
            pp.import_arrays("active", active_ids, active_ts)
        else:
            select1 = select2 = args.workload
            pool = dict(ANY_EVENT_WORKLOADS)[args.workload]
            pp.import_arrays(select1, *make_any_event(args.users, args.days, end, pool))
        first = (end - dt.timedelta(days=args.days)).date()
        # bitmapist gets the whole bitmaps (our chunks laid end to end).
        days = list(pp.range("day", first, end.date() - dt.timedelta(days=1)))
        buckets = peer_buckets(pp, sorted({select1, select2}), {"day": days})
        run_peer("copy_chunks", url=url, buckets=buckets, chunk_bytes=pp.keys.chunk_size // 8)

        peer = run_peer(
            "cohort",
            url=url,
            select1=select1,
            select2=select2,
            rows=30,
            columns=30,
            start_date=first.isoformat(),
            repeat=2,
        )

        def engine_table() -> object:
            return cohort_table(pp, select1, select2, cohorts=30, offsets=30, start=first)

        table = engine_table()
        assert table.sizes == peer["sizes"], (table.sizes[:3], peer["sizes"][:3])
        for ours_row, peer_row in zip(table.counts, peer["cells"], strict=True):
            assert [c or 0 for c in ours_row] == [c or 0 for c in peer_row]
        engine = best_of(3, engine_table)
        request = RequestFactory().get(
            "/admin/porpoise/cohorts/",
            {
                "select1": select1,
                "select2": select2,
                "granularity": "day",
                "cohorts": 30,
                "offsets": 30,
                "start": first.isoformat(),
                "mode": "on",
                "cohort_type": "recurring",
                "display": "percent",
            },
        )
        request.user = user

        def page() -> None:
            response = admin_views.cohorts(admin.site, request)
            assert response.status_code == 200 and b"porpoise-cohort-table" in response.content

        started = time.perf_counter()
        page()
        first_page = time.perf_counter() - started
        rendered = best_of(3, page)
        workload = "signup -> active" if args.workload == "signup" else f"{select1} -> {select2}"
        print(f"\n## Cohorts: 30 x 30 days, {args.users:,} users, {workload} (bench_cohorts.py)\n")
        print("| measure | porpoise-django | bitmapist get_dates_data | ratio | target |")
        print("| --- | --- | --- | --- | --- |")
        theirs = f"{peer['seconds'] * 1e3:,.0f} ms"
        for label, ours, target in (
            ("the cohort page (admin view, rendered)", rendered, ">= 15x"),
            ("the table alone (engine, one round trip)", engine, "(info)"),
        ):
            ratio = peer["seconds"] / ours
            print(f"| {label} | {ours * 1e3:,.0f} ms | {theirs} | {ratio:,.1f}x | {target} |")
        print(f"| first page view (cold caches) | {first_page * 1e3:,.0f} ms | | | (info) |")
        pp.delete_all()
        pp.client.flushdb()


if __name__ == "__main__":
    main()
