"""``manage.py rundemo``: database, staff login, demo data, then the development server."""

from __future__ import annotations

import secrets
import signal
import socket
import sys
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from example.redis_server import publish

from porpoise_django.dev.demo import generate
from porpoise_django.services import get_analytics


class Command(BaseCommand):
    help = (
        "Set up the example (database, a staff user, demo data) and run it on the embedded Redis."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "addrport",
            nargs="?",
            help="where to serve (default: 127.0.0.1:8000, or a free port if that one is busy)",
        )
        parser.add_argument("--users", type=int, default=5000, help="demo users")
        parser.add_argument("--days", type=int, default=60, help="days of demo data")
        parser.add_argument("--no-server", action="store_true", help="set up, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_server"]:
            # Before any login is printed: a busy port is known now, not after.
            options["addrport"] = free_addrport(options["addrport"])
            self.stdout.write(f"Serving on {options['addrport']}")
        elif not options["addrport"]:
            options["addrport"] = DEFAULT
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


DEFAULT = "127.0.0.1:8000"


def free_addrport(asked: str | None) -> str:
    """``asked`` if it can be served, else an error saying so; with nothing
    asked, 127.0.0.1:8000 or, when that port is busy, a free port."""
    host, _, port = (asked or DEFAULT).rpartition(":")
    host = host or "127.0.0.1"
    if not port.isdigit():
        raise CommandError(f"{asked!r} is not an address:port or a port")
    if _can_bind(host, int(port)):
        return f"{host}:{port}"
    if asked:
        raise CommandError(
            f"port {port} on {host} is already in use: stop what serves it, or give another "
            "port (rundemo 127.0.0.1:8001), or none to take a free one"
        )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        free = probe.getsockname()[1]
    print(f"port {port} is already in use: serving on {free} instead", file=sys.stderr)
    return f"{host}:{free}"


def _can_bind(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as runserver does
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
