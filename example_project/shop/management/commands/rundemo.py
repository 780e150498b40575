"""``manage.py rundemo``: database, staff login, demo data, then the development server."""

from __future__ import annotations

import secrets
import signal
import sys
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from example.redis_server import publish

from porpoise_django.dev.demo import generate
from porpoise_django.services import get_analytics


class Command(BaseCommand):
    help = (
        "Set up the example (database, a staff user, demo data) and run it on the embedded Redis."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--users", type=int, default=5000, help="demo users")
        parser.add_argument("--days", type=int, default=60, help="days of demo data")
        parser.add_argument("--no-server", action="store_true", help="set up, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", verbosity=0, interactive=False)
        password = secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(username="demo")
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()

        pp = get_analytics()
        pp.delete_all()
        result = generate(pp, users=options["users"], days=options["days"])
        written = ", ".join(f"{k} {v:,}" for k, v in result["written"].items())
        self.stdout.write(f"Demo data: {written}")
        self.stdout.write(f"Redis: {settings.REDIS_URL} (embedded unless REDIS_URL was set)")
        self.stdout.write(self.style.SUCCESS(f"\n  Open http://{options['addrport']}/"))
        self.stdout.write(self.style.SUCCESS(f"  Staff login: demo / {password}"))
        self.stdout.write(f"  Dashboards: http://{options['addrport']}/admin/porpoise/")
        self.stdout.write(f"  API: http://{options['addrport']}/api/porpoise/docs/\n")
        if not options["no_server"]:
            # A stop by SIGTERM (a supervisor, a test) exits like Ctrl-C: the
            # published address is forgotten, the embedded server stops.
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            publish(settings.REDIS_URL)
            self.stdout.write(
                "  While this runs, other commands use its data, e.g. in another terminal:\n"
                "    python example_project/manage.py porpoise_stats\n"
            )
            call_command("runserver", options["addrport"], use_reloader=False)
